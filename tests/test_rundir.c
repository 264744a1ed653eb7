/* Run directory: events, atomic JSON files, refusals and sysinfo. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "core/error.h" // uses: tb_last_error, tb_clear_error
#include "core/fsutil.h" // uses: tb_write_atomic, tb_atomic_file, tb_atomic_begin, tb_atomic_stream, tb_atomic_commit
#include "engine/sysinfo.h" // uses: tb_sysinfo_json, tb_sysinfo_cpu_model, tb_sysinfo_cpu_cores
#include "rundir/lock.h" // uses: tb_lock_info, tb_lock_probe, TB_LOCK_HELD, tb_lock_status, tb_lock, ...
#include "rundir/rundir.h" // uses: tb_rundir, tb_rundir_create, tb_rundir_path, tb_rundir_event, tb_rundir_close, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[4096];

/* "<tmpdir>/name" in a ring of buffers: valid for the next 31 calls. */
static const char *at(const char *name)
{
    static char buf[32][4200];
    static int next;
    char *p = buf[next++ % 32];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static void write_text(const char *path, const char *text, int append)
{
    FILE *f = fopen(path, append ? "a" : "w");
    CHECK(f, "cannot open %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f) {
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

static int count_lines(const char *path)
{
    int n = 0;
    for (const char *p = slurp(path); *p; p++)
        n += *p == '\n';
    return n;
}

static int has_error(const char *needle)
{
    return strstr(tb_last_error(), needle) != NULL;
}

static double now_unix(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Counts directory entries whose name contains ".tmp". */
static int tmp_files_in(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp") != NULL;
    closedir(d);
    return n;
}

/* ---- events ---- */

struct collected {
    int n;
    char types[16][32];
    double time[16], elapsed[16];
    int epoch[16];
    int stop_after;
};

static int collect(struct json_object *ev, void *ctx)
{
    struct collected *c = ctx;
    struct json_object *v;
    if (c->n < 16) {
        snprintf(c->types[c->n], sizeof c->types[0], "%s",
                 json_object_object_get_ex(ev, "event", &v) ? json_object_get_string(v) : "?");
        c->time[c->n] = json_object_object_get_ex(ev, "time", &v) ? json_object_get_double(v) : -1;
        c->elapsed[c->n] = json_object_object_get_ex(ev, "elapsed", &v) ? json_object_get_double(v) : -1;
        c->epoch[c->n] = json_object_object_get_ex(ev, "epoch", &v) ? json_object_get_int(v) : -1;
    }
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static struct json_object *epoch_fields(int epoch)
{
    struct json_object *f = json_object_new_object();
    json_object_object_add(f, "epoch", json_object_new_int(epoch));
    json_object_object_add(f, "path", json_object_new_string("a/b"));
    return f;
}

static void test_events(void)
{
    const char *dir = at("nested/deeper/run1");
    double t_before = now_unix();
    tb_rundir *r = tb_rundir_create(dir);
    CHECK(r, "create %s: %s", dir, tb_last_error());
    if (!r)
        return;
    CHECK(strcmp(tb_rundir_path(r), dir) == 0, "path %s", tb_rundir_path(r));
    CHECK(tb_rundir_event(r, "start", NULL) == 0, "%s", tb_last_error());
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK(tb_rundir_event(r, "epoch", epoch_fields(1)) == 0, "%s", tb_last_error());
    CHECK(tb_rundir_event(r, "epoch", epoch_fields(2)) == 0, "%s", tb_last_error());
    /* A non-object `fields` is refused and still consumed (ASan checks the leak). */
    CHECK(tb_rundir_event(r, "bad", json_object_new_int(3)) == -1, "non-object fields accepted");
    tb_rundir_close(r);

    const char *events = at("nested/deeper/run1/events.jsonl");
    char *text = slurp(events);
    CHECK(strncmp(text, "{\"event\":\"start\",\"time\":", 24) == 0, "first line: %.80s", text);
    CHECK(strstr(text, "\"path\":\"a/b\"") != NULL, "slashes are escaped: %.200s", text);
    const char *tp = strstr(text, "\"time\":");
    const char *dot = tp ? strchr(tp, '.') : NULL;
    CHECK(dot && isdigit((unsigned char)dot[3]) && dot[4] == ',', "time not 3 decimals: %.80s", text);
    CHECK(count_lines(events) == 3, "%d lines", count_lines(events));

    struct collected c = {0};
    int n = tb_events_read(events, collect, &c);
    CHECK(n == 3 && c.n == 3, "read %d events (%s)", n, n < 0 ? tb_last_error() : "");
    CHECK(strcmp(c.types[0], "start") == 0 && strcmp(c.types[2], "epoch") == 0, "types %s %s", c.types[0], c.types[2]);
    CHECK(c.epoch[1] == 1 && c.epoch[2] == 2, "epochs %d %d", c.epoch[1], c.epoch[2]);
    CHECK(c.elapsed[0] >= 0 && c.elapsed[0] < 1, "first elapsed %g", c.elapsed[0]);
    CHECK(c.elapsed[1] >= c.elapsed[0] + 0.015 && c.elapsed[2] >= c.elapsed[1], "elapsed %g %g %g", c.elapsed[0],
          c.elapsed[1], c.elapsed[2]);
    CHECK(c.time[0] >= t_before - 1 && c.time[2] <= now_unix() + 1, "time %f not near %f", c.time[0], t_before);

    /* A writer mid-append: the fragment is not an event (yet). */
    write_text(events, "{\"event\":\"epoch\",\"ti", 1);
    struct collected c2 = {0};
    n = tb_events_read(events, collect, &c2);
    CHECK(n == 3, "with a partial line: %d (%s)", n, n < 0 ? tb_last_error() : "");

    /* fn returning non-zero stops early. */
    struct collected c3 = {.stop_after = 2};
    n = tb_events_read(events, collect, &c3);
    CHECK(n == 2 && c3.n == 2, "early stop: %d", n);

    /* Reopening a directory without result.json appends. */
    write_text(events, "me\":1}\n", 1); /* completes the fragment above */
    r = tb_rundir_create(dir);
    CHECK(r, "reopen: %s", tb_last_error());
    if (r) {
        CHECK(tb_rundir_event(r, "resume", NULL) == 0, "%s", tb_last_error());
        tb_rundir_close(r);
    }
    struct collected c4 = {0};
    n = tb_events_read(events, collect, &c4);
    CHECK(n == 5 && strcmp(c4.types[4], "resume") == 0, "after reopen: %d (%s)", n, n < 0 ? tb_last_error() : "");
}

static void test_corrupt_events(void)
{
    const char *path = at("corrupt.jsonl");
    struct collected c = {0};
    write_text(path, "{\"event\":\"a\"}\n\n{\"event\":\"b\"}\n{\"event\": oops}\n{\"event\":\"c\"}\n", 0);
    tb_clear_error();
    int n = tb_events_read(path, collect, &c);
    CHECK(n == -1, "corrupt line accepted: %d", n);
    CHECK(has_error("corrupt.jsonl") && has_error("line 4"), "message: %s", tb_last_error());

    write_text(path, "{\"event\":\"a\"}\n[1,2]\n", 0);
    n = tb_events_read(path, collect, &c);
    CHECK(n == -1 && has_error("line 2") && has_error("object"), "array line: %d %s", n, tb_last_error());

    write_text(path, "{\"event\":\"a\"} trailing\n", 0);
    n = tb_events_read(path, collect, &c);
    CHECK(n == -1 && has_error("line 1"), "trailing text: %d %s", n, tb_last_error());

    n = tb_events_read(at("missing.jsonl"), collect, &c);
    CHECK(n == -1 && has_error("missing.jsonl") && has_error(strerror(ENOENT)), "missing: %s", tb_last_error());
}

/* ---- JSON files ---- */

static struct json_object *doc(int value)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "schema", json_object_new_string("trainbench.result/1"));
    json_object_object_add(o, "value", json_object_new_int(value));
    return o;
}

static int read_value(const char *path)
{
    struct json_object *o = tb_json_read_file(path), *v;
    int value = o && json_object_object_get_ex(o, "value", &v) ? json_object_get_int(v) : -1;
    json_object_put(o);
    return value;
}

static void test_atomic_write(void)
{
    char path[4300];
    snprintf(path, sizeof path, "%s", at("doc.json"));
    struct json_object *a = doc(1), *b = doc(2);
    CHECK(tb_json_write_atomic(path, a) == 0, "%s", tb_last_error());
    CHECK(read_value(path) == 1, "first write");
    char *text = slurp(path);
    size_t len = strlen(text);
    CHECK(len > 2 && text[len - 1] == '\n' && strstr(text, "\n  \"schema\":\"trainbench.result/1\""),
          "not pretty with a newline: %s", text);
    CHECK(tb_json_write_atomic(path, b) == 0, "%s", tb_last_error());
    CHECK(read_value(path) == 2, "second write did not replace");
    CHECK(tmp_files_in(tmpdir) == 0, "temp files left behind");

    /* The old predictable temporary name is taken by a directory: the
     * temporary name is unpredictable now, so the write goes through. */
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    mkdir(tmp, 0755);
    CHECK(tb_json_write_atomic(path, b) == 0, "write beside a blocked old temp name: %s", tb_last_error());
    CHECK(read_value(path) == 2, "previous file damaged");
    rmdir(tmp);

    /* The target is a non-empty directory: refused, the temp file is removed. */
    mkdir(at("dirtarget"), 0755);
    write_text(at("dirtarget/x"), "x", 0);
    CHECK(tb_json_write_atomic(at("dirtarget"), a) == -1, "rename over a directory succeeded");
    CHECK(has_error("dirtarget") && has_error("folder"), "message: %s", tb_last_error());
    CHECK(tmp_files_in(tmpdir) == 0, "temp file left after a failed rename");

    /* A path under a regular file, and one in a removed directory. */
    write_text(at("afile"), "x", 0);
    CHECK(tb_json_write_atomic(at("afile/x.json"), a) == -1, "write under a file succeeded");
    CHECK(has_error(strerror(ENOTDIR)) && has_error("afile/x.json"), "message: %s", tb_last_error());
    mkdir(at("gone"), 0755);
    rmdir(at("gone"));
    CHECK(tb_json_write_atomic(at("gone/result.json"), a) == -1, "write into a removed directory succeeded");
    CHECK(has_error(strerror(ENOENT)), "message: %s", tb_last_error());
    CHECK(read_value(path) == 2, "previous file damaged");

    /* tb_rundir_write_json lands in the run directory. */
    tb_rundir *r = tb_rundir_create(at("run_json"));
    CHECK(r, "%s", tb_last_error());
    if (r) {
        CHECK(tb_rundir_write_json(r, "config.json", b) == 0, "%s", tb_last_error());
        CHECK(read_value(at("run_json/config.json")) == 2, "config.json");
        CHECK(tmp_files_in(at("run_json")) == 0, "temp files in the run directory");
        tb_rundir_close(r);
    }
    json_object_put(a);
    json_object_put(b);
}

static void test_read_errors(void)
{
    const char *path = at("bad.json");
    write_text(path, "{\n  \"a\": 1,\n  \"b\": ]\n}\n", 0);
    struct json_object *o = tb_json_read_file(path);
    CHECK(!o && has_error("bad.json") && has_error("line 3"), "parse error: %s", tb_last_error());
    json_object_put(o);
    write_text(path, "{\"a\": 1", 0);
    o = tb_json_read_file(path);
    CHECK(!o && has_error("end"), "truncated: %s", tb_last_error());
    json_object_put(o);
    write_text(path, "", 0);
    o = tb_json_read_file(path);
    CHECK(!o, "empty file parsed");
    json_object_put(o);
    write_text(path, "{} {}", 0);
    o = tb_json_read_file(path);
    CHECK(!o && has_error("after"), "trailing value: %s", tb_last_error());
    json_object_put(o);
    o = tb_json_read_file(at("nope.json"));
    CHECK(!o && has_error("nope.json") && has_error(strerror(ENOENT)), "missing: %s", tb_last_error());
}

/* ---- refusals ---- */

static void test_refusals(void)
{
    const char *dir = at("finished");
    mkdir(dir, 0755);
    write_text(at("finished/result.json"), "{}\n", 0);
    tb_rundir *r = tb_rundir_create(dir);
    CHECK(!r && has_error("result.json") && has_error(dir), "existing result.json: %s", tb_last_error());
    tb_rundir_close(r);

    /* Always possible, even as root: a component that is a regular file. */
    write_text(at("afile"), "x", 0);
    r = tb_rundir_create(at("afile/run"));
    CHECK(!r && has_error(strerror(ENOTDIR)) && has_error("afile"), "under a file: %s", tb_last_error());
    tb_rundir_close(r);
    r = tb_rundir_create(at("afile"));
    CHECK(!r && has_error(strerror(ENOTDIR)), "a file as run dir: %s", tb_last_error());
    tb_rundir_close(r);

    /* Permissions only stop writes for non-root users. */
    const char *ro = at("readonly");
    mkdir(ro, 0755);
    chmod(ro, 0500);
    if (access(ro, W_OK) == 0) {
        printf("running as uid %d: permission checks skipped\n", (int)geteuid());
    } else {
        r = tb_rundir_create(ro);
        CHECK(!r && has_error(ro) && has_error(strerror(EACCES)), "read-only dir: %s", tb_last_error());
        tb_rundir_close(r);
        r = tb_rundir_create(at("readonly/sub"));
        CHECK(!r && has_error(strerror(EACCES)), "under read-only dir: %s", tb_last_error());
        tb_rundir_close(r);
    }
    chmod(ro, 0755);
}

/* ---- default path ---- */

static int is_stamped(const char *name, const char *suffix)
{
    /* YYYYmmdd-HHMMSS-suffix */
    for (int i = 0; i < 15; i++)
        if (i == 8 ? name[i] != '-' : !isdigit((unsigned char)name[i]))
            return 0;
    return name[15] == '-' && strcmp(name + 16, suffix) == 0;
}

static void test_default_path(void)
{
    char base[4300], p1[4400], p2[4400], want[4500];
    snprintf(base, sizeof base, "%s/runs", tmpdir);
    int ok = 0;
    /* Retries in case the clock ticks to the next second between the calls. */
    for (int attempt = 0; attempt < 3 && !ok; attempt++) {
        CHECK(tb_rundir_default_path(base, "resnet20", p1, sizeof p1) == 0, "%s", tb_last_error());
        size_t blen = strlen(base);
        CHECK(strncmp(p1, base, blen) == 0 && p1[blen] == '/' && is_stamped(p1 + blen + 1, "resnet20"), "format %s",
              p1);
        tb_rundir *r = tb_rundir_create(p1);
        CHECK(r, "%s", tb_last_error());
        tb_rundir_close(r);
        CHECK(tb_rundir_default_path(base, "resnet20", p2, sizeof p2) == 0, "%s", tb_last_error());
        snprintf(want, sizeof want, "%s-2", p1);
        ok = strcmp(p2, want) == 0;
    }
    CHECK(ok, "second path %s, want %s", p2, want);

    char tiny[8];
    CHECK(tb_rundir_default_path(base, "x", tiny, sizeof tiny) == -1, "truncated path accepted");
}

/* ---- sysinfo ---- */

static const char *str_key(struct json_object *o, const char *key)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static void test_sysinfo(void)
{
    struct json_object *s = tb_sysinfo_json(), *v;
    CHECK(s, "sysinfo NULL");
    if (!s)
        return;
    struct utsname u;
    uname(&u);
    const char *host = str_key(s, "hostname"), *os = str_key(s, "os"), *cpu = str_key(s, "cpu_model");
    const char *cc = str_key(s, "compiler"), *ver = str_key(s, "trainbench");
    CHECK(host && *host, "hostname");
    CHECK(os && strstr(os, u.sysname) && strstr(os, u.release), "os %s", os ? os : "(none)");
    CHECK(cpu && *cpu, "cpu_model");
    CHECK(cc && *cc, "compiler");
    CHECK(ver && isdigit((unsigned char)ver[0]), "trainbench version %s", ver ? ver : "(none)");
    CHECK(json_object_object_get_ex(s, "cpu_cores", &v) && json_object_get_int(v) >= 1, "cpu_cores");
    CHECK(json_object_object_get_ex(s, "memory_bytes", &v) && json_object_get_int64(v) > (64LL << 20),
          "memory_bytes");
    struct json_object *libs = NULL;
    CHECK(json_object_object_get_ex(s, "libraries", &libs), "libraries");
    const char *onednn = libs ? str_key(libs, "onednn") : NULL, *jc = libs ? str_key(libs, "json-c") : NULL,
               *z = libs ? str_key(libs, "zlib") : NULL;
    int major = 0, minor = 0, patch = 0;
    CHECK(onednn && sscanf(onednn, "%d.%d.%d", &major, &minor, &patch) == 3 && major >= 1, "onednn %s",
          onednn ? onednn : "(none)");
    CHECK(jc && strcmp(jc, json_c_version()) == 0, "json-c %s", jc ? jc : "(none)");
    CHECK(z && strcmp(z, zlibVersion()) == 0, "zlib %s", z ? z : "(none)");
    printf("sysinfo: %s\n", json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
    json_object_put(s);

    char small[6];
    tb_sysinfo_cpu_model(small, sizeof small);
    CHECK(strlen(small) < sizeof small, "cpu model overflow");
    CHECK(tb_sysinfo_cpu_cores() >= 1, "cores");
}

/* ---- threads ---- */

enum { THREADS = 4, PER_THREAD = 200 };

struct emitter {
    tb_rundir *r;
    int id, failures;
};

static void *emit(void *arg)
{
    struct emitter *e = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "thread", json_object_new_int(e->id));
        json_object_object_add(f, "i", json_object_new_int(i));
        json_object_object_add(f, "pad", json_object_new_string("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        e->failures += tb_rundir_event(e->r, "tick", f) != 0;
    }
    return NULL;
}

struct tally {
    int next[THREADS];
    int bad;
    double last_elapsed;
};

static int tally(struct json_object *ev, void *ctx)
{
    struct tally *t = ctx;
    struct json_object *th, *i, *el;
    if (!json_object_object_get_ex(ev, "thread", &th) || !json_object_object_get_ex(ev, "i", &i) ||
        !json_object_object_get_ex(ev, "elapsed", &el)) {
        t->bad++;
        return 0;
    }
    int id = json_object_get_int(th);
    double elapsed = json_object_get_double(el);
    /* Each thread's events in its own order; stamps ordered across the file. */
    if (id < 0 || id >= THREADS || json_object_get_int(i) != t->next[id] || elapsed < t->last_elapsed)
        t->bad++;
    else
        t->next[id]++;
    t->last_elapsed = elapsed;
    return 0;
}

static void test_threads(void)
{
    tb_rundir *r = tb_rundir_create(at("threads"));
    CHECK(r, "%s", tb_last_error());
    if (!r)
        return;
    pthread_t th[THREADS];
    struct emitter e[THREADS];
    for (int i = 0; i < THREADS; i++) {
        e[i] = (struct emitter){r, i, 0};
        pthread_create(&th[i], NULL, emit, &e[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK(e[i].failures == 0, "thread %d: %d failed events", i, e[i].failures);
    }
    tb_rundir_close(r);
    struct tally t = {0};
    int n = tb_events_read(at("threads/events.jsonl"), tally, &t);
    CHECK(n == THREADS * PER_THREAD, "%d events (%s)", n, n < 0 ? tb_last_error() : "");
    CHECK(t.bad == 0, "%d events out of order or missing fields", t.bad);
    for (int i = 0; i < THREADS; i++)
        CHECK(t.next[i] == PER_THREAD, "thread %d: %d events", i, t.next[i]);
}

/* ---- locks (issue 16, classes 1, 5, 6, 14: one process per directory, the
 * user's directories untouched, only the lock's holder ever signalled) ---- */

static void test_lock(void)
{
    const char *dir = at("locked");
    char host[256] = "", want[512];
    gethostname(host, sizeof host - 1);
    tb_rundir *r = tb_rundir_create(dir);
    CHECK(r, "create: %s", tb_last_error());
    tb_lock_info info;
    CHECK(tb_lock_probe(dir, &info) == TB_LOCK_HELD && info.pid == getpid() && !strcmp(info.host, host) &&
              info.start_time > 0 && info.exe[0] == '/' && info.ours,
          "probe while running: pid %ld host %s start %llu exe %s", info.pid, info.host, info.start_time, info.exe);
    CHECK(!strcmp(tb_lock_status(TB_STATUS_RUNNING, dir, TB_STATUS_STALE), TB_STATUS_RUNNING), "%s",
          "a held lock reads running");
    /* A second writer is refused, naming the holder; the first goes on. */
    snprintf(want, sizeof want, "in use by process %ld on %s", (long)getpid(), host);
    int refused = 0;
    tb_rundir *second = tb_rundir_open(dir, 0, &refused);
    CHECK(!second && refused && has_error(want), "second create: %s", tb_last_error());
    tb_rundir_close(second);
    second = tb_rundir_open(dir, 1, &refused);
    CHECK(!second && refused && has_error(want), "second resume: %s", tb_last_error());
    tb_rundir_close(second);
    tb_lock *l = tb_lock_acquire(dir, "run directory", &refused);
    CHECK(!l && refused && has_error(want), "second acquire: %s", tb_last_error());
    tb_lock_release(l);
    CHECK(r && tb_rundir_event(r, "still-mine", NULL) == 0, "%s", tb_last_error());
    tb_rundir_close(r);
    /* Free after close (after kill -9 too: the kernel drops the flock). */
    CHECK(tb_lock_probe(dir, &info) == TB_LOCK_FREE && info.pid == getpid(), "after close: pid %ld", info.pid);
    CHECK(!strcmp(tb_lock_status(TB_STATUS_RUNNING, dir, TB_STATUS_STALE), TB_STATUS_STALE), "%s",
          "running with a free lock reads stale");
    CHECK(!strcmp(tb_lock_status(TB_STATUS_RUNNING, at("nolock"), TB_STATUS_STALE), TB_STATUS_STALE), "%s",
          "running without a lock reads stale");
    CHECK(!strcmp(tb_lock_status(TB_STATUS_COMPLETED, dir, TB_STATUS_STALE), TB_STATUS_COMPLETED), "%s",
          "a finished status stays");
    /* An earlier run of ours (free lock, no result.json) is continued. */
    r = tb_rundir_create(dir);
    CHECK(r, "reuse of a run without results: %s", tb_last_error());
    tb_rundir_close(r);
    CHECK(strstr(slurp(at("locked/events.jsonl")), "still-mine"), "%s", "the first run's events are kept");
}

/* A directory that is not a run: refused, nothing in it written or followed. */
static void test_not_a_run(void)
{
    const char *dir = at("users");
    mkdir(dir, 0755);
    write_text(at("users/config.json"), "{\"mine\": true}\n", 0);
    write_text(at("users/weights.safetensors"), "precious", 0);
    int refused = 0;
    tb_rundir *r = tb_rundir_open(dir, 0, &refused);
    CHECK(!r && refused && has_error("not empty") && has_error("not a trainbench run"), "user dir: %s",
          tb_last_error());
    tb_rundir_close(r);
    CHECK(!strcmp(slurp(at("users/config.json")), "{\"mine\": true}\n"), "%s", "config.json untouched");
    struct stat st;
    CHECK(lstat(at("users/.lock"), &st) != 0 && lstat(at("users/events.jsonl"), &st) != 0, "%s",
          "no .lock or events.jsonl written");
    /* Only a dot file: still the user's. */
    mkdir(at("dotonly"), 0755);
    write_text(at("dotonly/.hidden"), "x", 0);
    r = tb_rundir_open(at("dotonly"), 0, &refused);
    CHECK(!r && refused, "a directory with a dot file: %s", tb_last_error());
    tb_rundir_close(r);
    /* An empty directory (mktemp -d) is fine. */
    mkdir(at("empty"), 0755);
    r = tb_rundir_open(at("empty"), 0, &refused);
    CHECK(r && !refused, "empty dir: %s", tb_last_error());
    tb_rundir_close(r);

    /* .lock and events.jsonl are never written through a link or into a FIFO. */
    write_text(at("victim"), "victim\n", 0);
    mkdir(at("linked"), 0755);
    CHECK(symlink(at("victim"), at("linked/.lock")) == 0, "%s", strerror(errno));
    r = tb_rundir_open(at("linked"), 1, &refused);
    CHECK(!r && refused && has_error("symbolic link"), "symlinked .lock: %s", tb_last_error());
    tb_rundir_close(r);
    mkdir(at("linked2"), 0755);
    CHECK(symlink(at("victim"), at("linked2/events.jsonl")) == 0, "%s", strerror(errno));
    r = tb_rundir_open(at("linked2"), 1, &refused);
    CHECK(!r && refused && has_error("symbolic link"), "symlinked events.jsonl: %s", tb_last_error());
    tb_rundir_close(r);
    mkdir(at("hard"), 0755);
    CHECK(link(at("victim"), at("hard/.lock")) == 0, "%s", strerror(errno));
    r = tb_rundir_open(at("hard"), 1, &refused);
    CHECK(!r && refused && has_error("hard links"), "hard-linked .lock: %s", tb_last_error());
    tb_rundir_close(r);
    mkdir(at("fifo"), 0755);
    CHECK(mkfifo(at("fifo/.lock"), 0644) == 0, "%s", strerror(errno));
    r = tb_rundir_open(at("fifo"), 1, &refused);
    CHECK(!r && refused && has_error("not a regular file"), "a FIFO as .lock: %s", tb_last_error());
    tb_rundir_close(r);
    CHECK(!strcmp(slurp(at("victim")), "victim\n"), "the link target changed: %s", slurp(at("victim")));
}

/* /proc/PID/stat field 22, as the lock records it. */
static unsigned long long proc_start(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    const char *text = slurp(path), *p = strrchr(text, ')');
    unsigned long long v = 0;
    for (int field = 3; p && field <= 22; field++) {
        p = strchr(p + 1, ' ');
        if (p && field == 22)
            v = strtoull(p + 1, NULL, 10);
    }
    return v;
}

/* Holds DIR/.lock, as a live sweep would, with crafted content. */
static int hold_crafted(const char *dir, long pid, const char *host, unsigned long long start, const char *exe)
{
    char path[4300], text[8192];
    snprintf(path, sizeof path, "%s/.lock", dir);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    CHECK(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0, "crafted lock %s", path);
    int n = snprintf(text, sizeof text,
                     "{\"schema\":\"trainbench.lock/1\",\"pid\":%ld,\"host\":\"%s\",\"start_time\":%llu,"
                     "\"exe\":\"%s\"}",
                     pid, host, start, exe);
    CHECK(fd >= 0 && write(fd, text, (size_t)n) == n, "%s", "write crafted lock");
    return fd;
}

static int still_alive(pid_t pid)
{
    int st;
    return waitpid(pid, &st, WNOHANG) == 0;
}

static void test_signal_guard(void)
{
    const char *dir = at("sweep");
    mkdir(dir, 0755);
    char host[256] = "", exe[4096] = "", pid1_exe[4096] = "";
    gethostname(host, sizeof host - 1);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    n = readlink("/proc/1/exe", pid1_exe, sizeof pid1_exe - 1);
    pid1_exe[n > 0 ? n : 0] = '\0';
    /* A bystander leading its own process group: every refused case must miss it. */
    pid_t by = fork();
    if (by == 0) {
        setpgid(0, 0);
        for (;;)
            pause();
    }
    CHECK(by > 0, "%s", "fork");
    setpgid(by, by);

    /* A stale summary's lock: free, naming a live process. */
    int fd = hold_crafted(dir, by, host, proc_start(by), exe);
    flock(fd, LOCK_UN);
    CHECK(tb_lock_signal(dir, SIGTERM, 1) == -1 && has_error("not running"), "free lock: %s", tb_last_error());
    close(fd);
    /* Held, naming pid 1 exactly as pid 1 is (start time and program). */
    fd = hold_crafted(dir, 1, host, proc_start(1), pid1_exe);
    CHECK(tb_lock_signal(dir, SIGTERM, 1) == -1 && has_error("pid 1"), "pid 1: %s", tb_last_error());
    close(fd);
    fd = hold_crafted(dir, 0, host, 0, exe);
    CHECK(tb_lock_signal(dir, SIGTERM, 1) == -1, "%s", "pid 0 accepted");
    close(fd);
    /* Held, naming a live pid whose start time differs: the pid was reused. */
    fd = hold_crafted(dir, by, host, proc_start(by) + 1, exe);
    CHECK(tb_lock_signal(dir, SIGTERM, 1) == -1 && has_error("reused"), "reused pid: %s", tb_last_error());
    close(fd);
    /* ... or whose program differs. */
    fd = hold_crafted(dir, by, host, proc_start(by), "/usr/bin/other");
    CHECK(tb_lock_signal(dir, SIGTERM, 1) == -1 && has_error("reused"), "other program: %s", tb_last_error());
    close(fd);
    /* ... or on another machine. */
    fd = hold_crafted(dir, by, "elsewhere.example", proc_start(by), exe);
    CHECK(tb_lock_signal(dir, SIGTERM, 1) == -1 && has_error("elsewhere.example"), "other host: %s",
          tb_last_error());
    close(fd);
    CHECK(still_alive(by), "%s", "a refused signal reached the bystander");

    /* The real holder, a process that took the lock itself, is stopped. */
    unlink(at("sweep/.lock"));
    pid_t holder = fork();
    if (holder == 0) {
        setpgid(0, 0);
        int refused;
        if (!tb_lock_acquire(dir, "sweep directory", &refused))
            _exit(3);
        for (;;)
            pause();
    }
    /* The lock is held a moment before the holder has written its pid:
     * wait for both (a signal in between is refused, as it should be). */
    tb_lock_info held = {0};
    for (int i = 0; i < 500 && !(tb_lock_probe(dir, &held) == TB_LOCK_HELD && held.pid == holder); i++)
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    int signalled = tb_lock_signal(dir, SIGTERM, 1) == 0;
    CHECK(signalled, "the holder: %s", tb_last_error());
    if (!signalled)
        kill(holder, SIGTERM); /* never wait below for a holder nobody stopped */
    int st = 0;
    CHECK(waitpid(holder, &st, 0) == holder && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "holder status %d", st);
    CHECK(still_alive(by), "%s", "the holder's signal reached the bystander");
    kill(by, SIGKILL);
    waitpid(by, &st, 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ---- hostile targets and failed writes (issue 16, classes 7 and 12) ---- */

static int is_link_to(const char *path, const char *target)
{
    char buf[4200];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return 0;
    buf[n] = '\0';
    return strcmp(buf, target) == 0;
}

static void test_atomic_hostile(void)
{
    mkdir(at("hostile"), 0755);
    const char *victim = at("hostile/victim.txt");
    write_text(victim, "precious\n", 0);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "value", json_object_new_int(7));

    /* A symbolic link planted at the old predictable temporary name
     * (config.json.tmp.<pid>) is neither followed nor removed. */
    char planted[4400];
    snprintf(planted, sizeof planted, "%s.tmp.%ld", at("hostile/config.json"), (long)getpid());
    CHECK(symlink(victim, planted) == 0, "symlink: %s", strerror(errno));
    CHECK(tb_json_write_atomic(at("hostile/config.json"), o) == 0, "write beside a planted link: %s", tb_last_error());
    CHECK(!strcmp(slurp(victim), "precious\n"), "the planted link was written through: %s", slurp(victim));
    CHECK(is_link_to(planted, victim), "the planted link was replaced");
    struct stat st;
    CHECK(lstat(at("hostile/config.json"), &st) == 0 && S_ISREG(st.st_mode), "config.json is not a regular file");
    unlink(planted);

    /* A symbolic link at the target itself is refused, not replaced or followed. */
    CHECK(symlink(victim, at("hostile/result.json")) == 0, "symlink: %s", strerror(errno));
    CHECK(tb_json_write_atomic(at("hostile/result.json"), o) == -1, "wrote over a symbolic link");
    CHECK(has_error("symbolic link") && has_error("result.json"), "message: %s", tb_last_error());
    CHECK(is_link_to(at("hostile/result.json"), victim) && !strcmp(slurp(victim), "precious\n"),
          "the link or its target changed");
    CHECK(tb_write_atomic(at("hostile/result.json"), "x", 1) == -1, "tb_write_atomic wrote over a link");

    /* A FIFO and a device are refused (without blocking), a folder too. */
    alarm(20); /* a writer or reader that blocks on the FIFO fails the test instead of hanging it */
    CHECK(mkfifo(at("hostile/fifo.json"), 0644) == 0, "mkfifo: %s", strerror(errno));
    CHECK(tb_json_write_atomic(at("hostile/fifo.json"), o) == -1 && has_error("FIFO"), "FIFO target: %s",
          tb_last_error());
    CHECK(lstat(at("hostile/fifo.json"), &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");
    /* A device node of our own (as root; elsewhere mknod is refused and this is skipped): never a real one,
     * which a writer without the check would replace. */
    const char *dev = at("hostile/null.json");
    int have_dev = mknod(dev, S_IFCHR | 0666, makedev(1, 3)) == 0;
    if (have_dev) {
        CHECK(tb_json_write_atomic(dev, o) == -1 && has_error("device"), "device target: %s", tb_last_error());
        CHECK(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode), "the device node was replaced");
    }
    mkdir(at("hostile/dir.json"), 0755);
    CHECK(tb_json_write_atomic(at("hostile/dir.json"), o) == -1 && has_error("folder"), "folder target: %s",
          tb_last_error());

    /* Readers open regular files only: a FIFO named result.json or
     * events.jsonl is refused at once instead of waiting for a writer. */
    struct json_object *r = tb_json_read_file(at("hostile/fifo.json"));
    CHECK(!r && has_error("FIFO"), "reading a FIFO: %s", tb_last_error());
    json_object_put(r);
    struct collected c = {0};
    CHECK(tb_events_read(at("hostile/fifo.json"), collect, &c) == -1 && has_error("FIFO"),
          "events from a FIFO: %s", tb_last_error());
    if (have_dev)
        CHECK(!tb_json_read_file(dev) && has_error("device"), "reading a device: %s", tb_last_error());
    /* A huge run file (sparse: it takes no disk) is refused by its size,
     * before a byte of it is read into memory. */
    int hfd = open(at("hostile/huge.json"), O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(hfd >= 0 && ftruncate(hfd, (off_t)3 << 30) == 0, "sparse file: %s", strerror(errno));
    if (hfd >= 0)
        close(hfd);
    CHECK(!tb_json_read_file(at("hostile/huge.json")) && has_error("larger than"), "reading a 3 GiB file: %s",
          tb_last_error());
    unlink(at("hostile/huge.json"));
    alarm(0);

    /* A write that fails midway (file size limit: EFBIG) leaves no temporary
     * file and the previous file as it was. */
    struct rlimit old_lim, lim;
    getrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, SIG_IGN);
    size_t big = 1 << 20;
    char *text = malloc(big + 1);
    memset(text, 'x', big);
    text[big] = '\0';
    struct json_object *huge = json_object_new_object();
    json_object_object_add(huge, "blob", json_object_new_string(text));
    lim = old_lim;
    lim.rlim_cur = 64 << 10;
    CHECK(setrlimit(RLIMIT_FSIZE, &lim) == 0, "setrlimit: %s", strerror(errno));
    CHECK(tb_json_write_atomic(at("hostile/config.json"), huge) == -1, "a write past the size limit succeeded");
    CHECK(has_error("config.json") && has_error("untouched"), "message: %s", tb_last_error());
    CHECK(tb_write_atomic(at("hostile/big.bin"), text, big) == -1, "tb_write_atomic past the size limit succeeded");
    tb_atomic_file a;
    FILE *f = tb_atomic_begin(&a, at("hostile/stream.bin")) ? NULL : tb_atomic_stream(&a);
    CHECK(f != NULL, "%s", tb_last_error());
    if (f) {
        fwrite(text, 1, big, f);
        CHECK(tb_atomic_commit(&a) == -1, "a stream past the size limit committed");
    }
    setrlimit(RLIMIT_FSIZE, &old_lim);
    signal(SIGXFSZ, SIG_DFL);
    CHECK(tmp_files_in(at("hostile")) == 0, "a failed write left %d temporary files", tmp_files_in(at("hostile")));
    CHECK(access(at("hostile/big.bin"), F_OK) != 0 && access(at("hostile/stream.bin"), F_OK) != 0,
          "a failed write created its target");
    struct json_object *back = tb_json_read_file(at("hostile/config.json"));
    struct json_object *v = NULL;
    CHECK(back && json_object_object_get_ex(back, "value", &v) && json_object_get_int(v) == 7,
          "the previous config.json was damaged");
    json_object_put(back);
    json_object_put(huge);
    free(text);

    /* A run killed mid-write (kill -9) leaves ".NAME.tmp-XXXXXX": reopening
     * the run directory removes it, and nothing else. */
    tb_rundir *rd = tb_rundir_create(at("stale"));
    CHECK(rd, "%s", tb_last_error());
    tb_rundir_close(rd);
    write_text(at("stale/.checkpoint.safetensors.tmp-Ab3xY9"), "partial", 0);
    write_text(at("stale/.result.json.tmp-000000"), "partial", 0);
    write_text(at("stale/notes.tmp"), "keep", 0);
    write_text(at("stale/.x.tmp-abc"), "keep", 0);
    rd = tb_rundir_reopen(at("stale"));
    CHECK(rd, "%s", tb_last_error());
    tb_rundir_close(rd);
    CHECK(access(at("stale/.checkpoint.safetensors.tmp-Ab3xY9"), F_OK) != 0 &&
              access(at("stale/.result.json.tmp-000000"), F_OK) != 0,
          "stale temporary files survived the reopen");
    CHECK(access(at("stale/notes.tmp"), F_OK) == 0 && access(at("stale/.x.tmp-abc"), F_OK) == 0,
          "the reopen removed files that are not temporaries");
    json_object_put(o);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tb_rundir_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_events();
    test_corrupt_events();
    test_atomic_write();
    test_read_errors();
    test_refusals();
    test_default_path();
    test_sysinfo();
    test_threads();
    test_lock();
    test_not_a_run();
    test_signal_guard();
    test_atomic_hostile();
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
