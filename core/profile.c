#include "core/profile.h"

#include "core/error.h" // uses: tb_last_error, tb_fail
#include "core/fsutil.h" // uses: tb_atomic_file, tb_atomic_begin, tb_atomic_stream, tb_atomic_commit

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if TB_HAVE_CUDA
#include <nvtx3/nvToolsExt.h>
#endif

int tb_prof_on;
int tb_prof_layers;

/* Enough for hours of per-step spans, or a few epochs of per-layer ones. */
#define MAX_EVENTS_PER_THREAD (4L << 20)

typedef struct {
    char name[48];
    char cat[12];
    double ts, dur; /* microseconds */
    char *args;     /* JSON object text or NULL */
} event;

typedef struct thread_buf {
    pthread_mutex_t mu;
    int tid;
    char name[32];
    event *ev;
    long count, cap, dropped;
    struct thread_buf *next;
} thread_buf;

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static thread_buf *threads;
static int next_tid = 1;
static int prof_rank;
static char prof_label[96];
static double wall_base_us, mono_base_us;
static _Thread_local thread_buf *self;

/* The device timeline (profile.h): the owner thread's open spans hold their
 * begin marks on a stack; closed spans wait in `done` until the batch of
 * marks is resolved into the "GPU stream" track. */
enum { DEV_MAX_DEPTH = 64 };

typedef struct {
    int slot;  /* its mark, or -1 once resolved into us */
    double us; /* trace clock */
} dev_point;

typedef struct {
    char name[48];
    char cat[12];
    dev_point begin;
    int end_slot;
} dev_span;

static struct {
    tb_prof_device d;
    int on;
    thread_buf *owner, *track;
    int used;         /* marks used in this batch; slot 0 is the anchor */
    double anchor_us; /* the trace time of mark 0 */
    dev_point open[DEV_MAX_DEPTH];
    int depth, overflow; /* spans deeper than the stack are not mirrored */
    dev_span *done;
    long ndone, cap;
} dev;

static double mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

/* Wall-clock microseconds that never jump: the wall time at start plus the
 * monotonic time since, so ranks on synchronised hosts line up. */
static double now_us(void)
{
    return wall_base_us + (mono_us() - mono_base_us);
}

double tb_prof_now(void) { return now_us(); }

int tb_prof_start(int rank, const char *rank_label)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    mono_base_us = mono_us();
    wall_base_us = (double)ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
    prof_rank = rank;
    snprintf(prof_label, sizeof prof_label, "%s", rank_label ? rank_label : "trainbench");
    tb_prof_on = 1;
    return 0;
}

/* A registered buffer, for a thread or for the GPU track. */
static thread_buf *buf_new(void)
{
    thread_buf *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_lock(&registry_mu);
    t->tid = next_tid++;
    snprintf(t->name, sizeof t->name, "thread %d", t->tid);
    t->next = threads;
    threads = t;
    pthread_mutex_unlock(&registry_mu);
    return t;
}

static thread_buf *this_thread(void)
{
    if (!self)
        self = buf_new();
    return self;
}

void tb_prof_thread_name(const char *name)
{
    if (!tb_prof_on)
        return;
    thread_buf *t = this_thread();
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    snprintf(t->name, sizeof t->name, "%s", name);
    pthread_mutex_unlock(&t->mu);
}

/* Adds a span to thread t's buffer. */
static void append(thread_buf *t, const char *name, const char *cat, double ts, double dur, const char *args_json)
{
    pthread_mutex_lock(&t->mu);
    if (t->count == t->cap) {
        long cap = t->cap ? t->cap * 2 : 4096;
        event *ev = cap <= MAX_EVENTS_PER_THREAD ? realloc(t->ev, (size_t)cap * sizeof *ev) : NULL;
        if (!ev) {
            t->dropped++;
            pthread_mutex_unlock(&t->mu);
            return;
        }
        t->ev = ev;
        t->cap = cap;
    }
    event *e = &t->ev[t->count++];
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->cat, sizeof e->cat, "%s", cat);
    e->ts = ts;
    e->dur = dur;
    e->args = args_json ? strdup(args_json) : NULL;
    pthread_mutex_unlock(&t->mu);
}

/* Gives up on the device timeline after an error; host spans go on. */
static void dev_fail(void)
{
    fprintf(stderr, "trainbench: profile: no more GPU spans in the trace: %s\n", tb_last_error());
    dev.on = 0;
    dev.ndone = 0;
}

static int dev_resolve(dev_point *p)
{
    double us;
    if (p->slot < 0)
        return 0;
    if (dev.d.elapsed_us(dev.d.ctx, 0, p->slot, &us))
        return -1;
    p->us = dev.anchor_us + us;
    p->slot = -1;
    return 0;
}

/* Resolves every closed span into the track and the open spans' begins
 * into times, freeing all marks. */
static int dev_flush(void)
{
    if (!dev.on || dev.used == 0)
        return 0;
    if (dev.d.wait(dev.d.ctx))
        return -1;
    for (long i = 0; i < dev.ndone; i++) {
        dev_span *sp = &dev.done[i];
        dev_point end = {sp->end_slot, 0};
        if (dev_resolve(&sp->begin) || dev_resolve(&end))
            return -1;
        char args[40];
        snprintf(args, sizeof args, "{\"of\":\"%s\"}", sp->cat);
        append(dev.track, sp->name, "gpu", sp->begin.us, end.us - sp->begin.us, args);
    }
    for (int i = 0; i < dev.depth; i++)
        if (dev_resolve(&dev.open[i]))
            return -1;
    dev.ndone = 0;
    dev.used = 0;
    return 0;
}

/* A new mark after everything launched so far; -1 after an error. */
static int dev_mark(void)
{
    if (dev.used == dev.d.capacity && dev_flush())
        return -1;
    if (dev.used == 0) {
        /* The anchor: the stream is idle, so it passes mark 0 now. */
        if (dev.d.wait(dev.d.ctx))
            return -1;
        dev.anchor_us = now_us();
        if (dev.d.mark(dev.d.ctx, 0))
            return -1;
        dev.used = 1;
    }
    int slot = dev.used++;
    return dev.d.mark(dev.d.ctx, slot) ? -1 : slot;
}

static int dev_mine(void) { return dev.on && tb_prof_on && self == dev.owner; }

static void dev_begin(void)
{
    if (dev.depth == DEV_MAX_DEPTH) {
        dev.overflow++;
        return;
    }
    int slot = dev_mark();
    if (slot < 0)
        return dev_fail();
    dev.open[dev.depth++] = (dev_point){slot, 0};
}

static void dev_end(const char *name, const char *cat)
{
    if (dev.overflow) {
        dev.overflow--;
        return;
    }
    if (dev.depth == 0)
        return;
    int slot = dev_mark();
    if (slot < 0)
        return dev_fail();
    if (dev.ndone == dev.cap) {
        long cap = dev.cap ? dev.cap * 2 : 256;
        dev_span *d = realloc(dev.done, (size_t)cap * sizeof *d);
        if (!d) {
            tb_fail("out of memory for GPU spans");
            return dev_fail();
        }
        dev.done = d, dev.cap = cap;
    }
    dev_span *sp = &dev.done[dev.ndone++];
    snprintf(sp->name, sizeof sp->name, "%s", name);
    snprintf(sp->cat, sizeof sp->cat, "%s", cat);
    sp->begin = dev.open[--dev.depth];
    sp->end_slot = slot;
    if (dev.depth == 0 && dev_flush())
        dev_fail();
}

void tb_prof_set_device(const tb_prof_device *d)
{
    dev.on = 0;
    dev.depth = dev.overflow = 0;
    dev.used = 0;
    dev.ndone = 0;
    if (!d || !tb_prof_on || d->capacity < 3)
        return;
    dev.d = *d;
    dev.owner = this_thread();
    if (!dev.track) {
        thread_buf *t = buf_new();
        if (!t)
            return;
        snprintf(t->name, sizeof t->name, "GPU stream");
        dev.track = t;
    }
    dev.on = dev.owner != NULL;
}

double tb_prof_begin_slow(const char *name)
{
#if TB_HAVE_CUDA
    nvtxRangePushA(name);
#else
    (void)name;
#endif
    if (!tb_prof_on)
        return 0;
    double t0 = now_us();
    if (dev_mine())
        dev_begin();
    return t0;
}

void tb_prof_end_slow(const char *name, const char *cat, double t0, const char *args_json)
{
#if TB_HAVE_CUDA
    nvtxRangePop();
#endif
    if (!tb_prof_on)
        return;
    double t1 = now_us();
    thread_buf *t = this_thread();
    if (!t)
        return;
    append(t, name, cat, t0, t1 - t0, args_json);
    if (dev_mine())
        dev_end(name, cat);
}

long tb_prof_dropped(void)
{
    long n = 0;
    pthread_mutex_lock(&registry_mu);
    for (thread_buf *t = threads; t; t = t->next)
        n += t->dropped;
    pthread_mutex_unlock(&registry_mu);
    return n;
}

/* A growing string. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void add(text *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(text *x, const char *fmt, ...)
{
    if (x->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(x->s ? x->s + x->len : NULL, x->s ? x->cap - x->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            x->failed = 1;
            return;
        }
        if (x->s && x->len + (size_t)n < x->cap) {
            x->len += (size_t)n;
            return;
        }
        size_t cap = (x->cap ? x->cap * 2 : 1 << 16) + (size_t)n;
        char *s = realloc(x->s, cap);
        if (!s) {
            x->failed = 1;
            return;
        }
        x->s = s;
        x->cap = cap;
    }
}

/* Names are ours (layer and phase names), but escape anyway. */
static void add_string(text *x, const char *s)
{
    add(x, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            add(x, "\\%c", c);
        else if (c < 0x20)
            add(x, "\\u%04x", c);
        else
            add(x, "%c", c);
    }
    add(x, "\"");
}

char *tb_prof_take_events(size_t *len)
{
    if (dev.on && dev_flush())
        dev_fail();
    dev.on = 0;
    tb_prof_on = 0;
    text x = {0};
    add(&x, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":", prof_rank);
    add_string(&x, prof_label);
    add(&x, "}},{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"sort_index\":%d}}",
        prof_rank, prof_rank);
    pthread_mutex_lock(&registry_mu);
    for (thread_buf *t = threads; t; t = t->next) {
        pthread_mutex_lock(&t->mu);
        add(&x, ",{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":", prof_rank, t->tid);
        add_string(&x, t->name);
        add(&x, "}}");
        for (long i = 0; i < t->count; i++) {
            const event *e = &t->ev[i];
            add(&x, ",{\"name\":");
            add_string(&x, e->name);
            add(&x, ",\"cat\":");
            add_string(&x, e->cat);
            add(&x, ",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f", prof_rank, t->tid, e->ts,
                e->dur);
            if (e->args)
                add(&x, ",\"args\":%s", e->args);
            add(&x, "}");
            free(e->args);
        }
        t->count = 0;
        pthread_mutex_unlock(&t->mu);
    }
    pthread_mutex_unlock(&registry_mu);
    if (x.failed) {
        free(x.s);
        tb_fail("out of memory writing the profile trace");
        return NULL;
    }
    *len = x.len;
    return x.s;
}

int tb_prof_write_trace(const char *path, char *const *rank_events, int ranks, const char *metadata_json)
{
    /* The one atomic writer (core/fsutil.h): a --profile naming a link, FIFO
     * or device is refused, never replaced or written through. */
    tb_atomic_file a;
    FILE *f = tb_atomic_begin(&a, path) ? NULL : tb_atomic_stream(&a);
    if (!f)
        return -1;
    fprintf(f, "{\"displayTimeUnit\":\"ms\",\"otherData\":%s,\n\"traceEvents\":[\n",
            metadata_json ? metadata_json : "{}");
    int first = 1;
    for (int r = 0; r < ranks; r++) {
        if (!rank_events[r] || !rank_events[r][0])
            continue;
        fprintf(f, "%s%s\n", first ? "" : ",", rank_events[r]);
        first = 0;
    }
    fprintf(f, "]}\n");
    return tb_atomic_commit(&a);
}
