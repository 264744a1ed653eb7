/* The profiler's device timeline (profile.c, tb_prof_set_device): GPU spans
 * mirror the trainer thread's spans with the device's own times.  No GPU
 * here, so a simulated stream stands in for CUDA's: the host "launches"
 * work that the stream runs in order after whatever it is still running,
 * a mark is passed when the work before it is done, and waiting sleeps
 * until the stream is idle.  Checked: the GPU track and its spans'
 * names, categories, durations (the launched work) and nesting; batches of
 * marks smaller than a step (spans open across a resolution); that the
 * device runs behind the host; other threads' spans stay host-only; and a
 * failing device stops GPU spans without losing host ones. */
#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/profile.h" // uses: tb_prof_device, tb_prof_take_events, tb_prof_begin, tb_prof_end, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <json-c/json.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the simulated stream, on CLOCK_MONOTONIC microseconds ---- */

enum { SIM_MARKS = 64 };

typedef struct {
    double busy_until; /* when the stream finishes what was launched */
    double at[SIM_MARKS];
    int marks, waits, fail_after; /* fail_after > 0: the n-th mark fails */
} sim;

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static void launch(sim *s, double us)
{
    double now = mono();
    s->busy_until = (s->busy_until > now ? s->busy_until : now) + us;
}

static int sim_mark(void *ctx, int slot)
{
    sim *s = ctx;
    if (s->fail_after && ++s->marks >= s->fail_after)
        return tb_fail("simulated cudaEventRecord failure");
    if (!s->fail_after)
        s->marks++;
    double now = mono();
    s->at[slot] = s->busy_until > now ? s->busy_until : now;
    return 0;
}

static int sim_wait(void *ctx)
{
    sim *s = ctx;
    s->waits++;
    double left = s->busy_until - mono();
    if (left > 0)
        usleep((useconds_t)left + 1);
    return 0;
}

static int sim_elapsed(void *ctx, int from, int to, double *us)
{
    sim *s = ctx;
    *us = s->at[to] - s->at[from];
    return 0;
}

static tb_prof_device device_of(sim *s, int capacity)
{
    return (tb_prof_device){.ctx = s, .capacity = capacity, .mark = sim_mark, .wait = sim_wait,
                            .elapsed_us = sim_elapsed};
}

/* ---- the trace ---- */

typedef struct {
    const char *name, *cat, *of;
    double ts, dur;
    int tid;
} span;

typedef struct {
    json_object *root;
    span *s;
    int n, gpu_tid, trainer_tid;
} trace;

static void trace_take(trace *t)
{
    memset(t, 0, sizeof *t);
    t->gpu_tid = t->trainer_tid = -1;
    size_t len = 0;
    char *events = tb_prof_take_events(&len);
    CHECK(events != NULL, "tb_prof_take_events: %s", tb_last_error());
    if (!events)
        return;
    char *text = malloc(len + 3);
    snprintf(text, len + 3, "[%s]", events);
    free(events);
    t->root = json_tokener_parse(text);
    free(text);
    CHECK(t->root && json_object_is_type(t->root, json_type_array), "the events parse as JSON");
    if (!t->root)
        return;
    size_t count = json_object_array_length(t->root);
    t->s = calloc(count, sizeof *t->s);
    for (size_t i = 0; i < count; i++) {
        json_object *e = json_object_array_get_idx(t->root, i), *v, *args, *of;
        const char *ph = json_object_object_get_ex(e, "ph", &v) ? json_object_get_string(v) : "";
        const char *name = json_object_object_get_ex(e, "name", &v) ? json_object_get_string(v) : "";
        int tid = json_object_object_get_ex(e, "tid", &v) ? json_object_get_int(v) : -1;
        if (strcmp(ph, "M") == 0 && strcmp(name, "thread_name") == 0 && json_object_object_get_ex(e, "args", &args) &&
            json_object_object_get_ex(args, "name", &v)) {
            if (strcmp(json_object_get_string(v), "GPU stream") == 0)
                t->gpu_tid = tid;
            if (strcmp(json_object_get_string(v), "trainer") == 0)
                t->trainer_tid = tid;
        }
        if (strcmp(ph, "X") != 0)
            continue;
        span *s = &t->s[t->n++];
        s->name = name;
        s->tid = tid;
        s->cat = json_object_object_get_ex(e, "cat", &v) ? json_object_get_string(v) : "";
        s->ts = json_object_object_get_ex(e, "ts", &v) ? json_object_get_double(v) : -1;
        s->dur = json_object_object_get_ex(e, "dur", &v) ? json_object_get_double(v) : -1;
        s->of = json_object_object_get_ex(e, "args", &args) && json_object_object_get_ex(args, "of", &of)
                    ? json_object_get_string(of)
                    : NULL;
    }
}

static void trace_free(trace *t)
{
    json_object_put(t->root);
    free(t->s);
}

/* The k-th span named `name` on thread `tid` (in recording order). */
static const span *find(const trace *t, int tid, const char *name, int k)
{
    for (int i = 0; i < t->n; i++)
        if (t->s[i].tid == tid && strcmp(t->s[i].name, name) == 0 && k-- == 0)
            return &t->s[i];
    return NULL;
}

static int count_on(const trace *t, int tid)
{
    int n = 0;
    for (int i = 0; i < t->n; i++)
        n += t->s[i].tid == tid;
    return n;
}

/* ---- a training-shaped run: an epoch of steps, each forward + backward ---- */

enum { STEPS = 3 };
static const double FWD_US = 3000, BWD_US = 7000;

static void run_epoch(sim *s)
{
    double te = tb_prof_begin("epoch 1");
    for (int i = 0; i < STEPS; i++) {
        double ts = tb_prof_begin("step");
        double tf = tb_prof_begin("forward");
        launch(s, FWD_US);
        tb_prof_end("forward", "phase", tf);
        double tb = tb_prof_begin("backward");
        launch(s, BWD_US);
        tb_prof_end("backward", "phase", tb);
        tb_prof_end("step", "step", ts);
    }
    tb_prof_end("epoch 1", "epoch", te);
}

/* Durations: the launched work, up to `slack` microseconds more (when a
 * resolution falls inside a span, its wait's oversleep leaves the stream
 * idle inside the span); nesting within `nest` (each batch of marks maps
 * onto the host clock at its anchor, to a few microseconds). */
static void check_gpu_spans(const trace *t, double slack, double nest, const char *what)
{
    CHECK(t->gpu_tid >= 0, "%s: a \"GPU stream\" track", what);
    CHECK(count_on(t, t->gpu_tid) == 1 + 3 * STEPS, "%s: %d GPU spans, want %d", what, count_on(t, t->gpu_tid),
          1 + 3 * STEPS);
    const span *epoch = find(t, t->gpu_tid, "epoch 1", 0);
    CHECK(epoch && strcmp(epoch->cat, "gpu") == 0 && epoch->of && strcmp(epoch->of, "epoch") == 0,
          "%s: the epoch's GPU span, category gpu, of an epoch", what);
    for (int i = 0; epoch && i < STEPS; i++) {
        const span *st = find(t, t->gpu_tid, "step", i), *f = find(t, t->gpu_tid, "forward", i),
                   *b = find(t, t->gpu_tid, "backward", i);
        CHECK(st && f && b, "%s: step %d has its GPU spans", what, i);
        if (!st || !f || !b)
            continue;
        CHECK(f->of && strcmp(f->of, "phase") == 0 && st->of && strcmp(st->of, "step") == 0,
              "%s: step %d: each GPU span says what it mirrors", what, i);
        CHECK(f->dur >= FWD_US - nest && f->dur <= FWD_US + slack,
              "%s: step %d forward ran %.1f us on the device, launched %.0f", what, i, f->dur, FWD_US);
        CHECK(b->dur >= BWD_US - nest && b->dur <= BWD_US + slack,
              "%s: step %d backward ran %.1f us on the device, launched %.0f", what, i, b->dur, BWD_US);
        CHECK(st->dur >= FWD_US + BWD_US - nest && st->dur <= FWD_US + BWD_US + 2 * slack,
              "%s: step %d ran %.1f us on the device", what, i, st->dur);
        /* Nesting on the device timeline, as on the host's. */
        CHECK(f->ts >= st->ts - nest && f->ts + f->dur <= b->ts + nest && b->ts + b->dur <= st->ts + st->dur + nest,
              "%s: step %d: forward then backward inside the step", what, i);
        CHECK(st->ts >= epoch->ts - nest && st->ts + st->dur <= epoch->ts + epoch->dur + nest,
              "%s: step %d inside the epoch", what, i);
        const span *next = find(t, t->gpu_tid, "step", i + 1);
        CHECK(!next || next->ts >= st->ts + st->dur - nest, "%s: step %d ends before step %d starts", what, i, i + 1);
    }
}

/* A loader-like thread: its spans must not touch the device. */
static void *other_thread(void *arg)
{
    (void)arg;
    tb_prof_thread_name("loader 1");
    for (int i = 0; i < 5; i++)
        tb_prof_end("batch", "loader", tb_prof_begin("batch"));
    return NULL;
}

int main(void)
{
    /* All marks of the epoch resolved together at its end. */
    {
        sim s = {0};
        tb_prof_start(0, "test");
        tb_prof_thread_name("trainer");
        tb_prof_device d = device_of(&s, SIM_MARKS);
        tb_prof_set_device(&d);
        run_epoch(&s);
        int marks = s.marks;
        pthread_t th;
        pthread_create(&th, NULL, other_thread, NULL);
        pthread_join(th, NULL);
        CHECK(s.marks == marks, "another thread's spans record no device marks (%d new)", s.marks - marks);
        tb_prof_set_device(NULL);
        trace t;
        trace_take(&t);
        /* Two marks a span plus one anchor. */
        CHECK(marks == 2 * (1 + 3 * STEPS) + 1, "%d marks for %d spans", marks, 1 + 3 * STEPS);
        check_gpu_spans(&t, 200, 1, "one batch");
        /* The host launched everything at once; the device ran it after. */
        const span *host_step = find(&t, t.trainer_tid, "step", STEPS - 1),
                   *gpu_step = find(&t, t.gpu_tid, "step", STEPS - 1);
        CHECK(host_step && gpu_step && gpu_step->ts + gpu_step->dur > host_step->ts + host_step->dur + 5000,
              "the last step ends later on the device than on the host");
        CHECK(count_on(&t, t.trainer_tid) == 1 + 3 * STEPS, "the host spans are all there");
        trace_free(&t);
    }
    /* Batches of 5 marks: resolutions inside open spans. */
    {
        sim s = {0};
        tb_prof_start(0, "test");
        tb_prof_device d = device_of(&s, 5);
        tb_prof_set_device(&d);
        run_epoch(&s);
        tb_prof_set_device(NULL);
        CHECK(s.waits >= 4, "small batches: %d waits", s.waits);
        trace t;
        trace_take(&t);
        check_gpu_spans(&t, 20000, 50, "batches of 5 marks");
        trace_free(&t);
    }
    /* The device fails on its 6th mark: GPU spans stop, host spans go on. */
    {
        sim s = {.fail_after = 6};
        tb_prof_start(0, "test");
        tb_prof_device d = device_of(&s, SIM_MARKS);
        tb_prof_set_device(&d);
        run_epoch(&s);
        run_epoch(&s);
        tb_prof_set_device(NULL);
        trace t;
        trace_take(&t);
        CHECK(count_on(&t, t.trainer_tid) == 2 * (1 + 3 * STEPS), "host spans after a device failure: %d",
              count_on(&t, t.trainer_tid));
        CHECK(count_on(&t, t.gpu_tid) == 0, "no GPU spans from the failed batch: %d", count_on(&t, t.gpu_tid));
        CHECK(s.marks == 6, "no marks after the failure (%d)", s.marks);
        trace_free(&t);
    }
    /* Profiling off: begin/end record nothing, on host or device. */
    {
        sim s = {0};
        tb_prof_device d = device_of(&s, SIM_MARKS);
        tb_prof_set_device(&d);
        run_epoch(&s);
        CHECK(s.marks == 0, "profiling off: no device marks (%d)", s.marks);
    }
    return check_finish();
}
