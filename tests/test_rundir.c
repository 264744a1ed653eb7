/* Run directory: events, atomic JSON files, refusals and sysinfo. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "core/error.h" // uses: tb_last_error, tb_clear_error
#include "engine/sysinfo.h" // uses: tb_sysinfo_json, tb_sysinfo_cpu_model, tb_sysinfo_cpu_cores
#include "rundir/rundir.h" // uses: tb_rundir, tb_rundir_create, tb_rundir_path, tb_rundir_event, tb_rundir_close, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
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

    /* The temporary name is taken by a directory: open fails, doc.json keeps 2. */
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    mkdir(tmp, 0755);
    CHECK(tb_json_write_atomic(path, a) == -1, "write over a blocked temp name succeeded");
    CHECK(has_error(tmp) && has_error("untouched"), "message: %s", tb_last_error());
    CHECK(read_value(path) == 2, "previous file damaged");
    rmdir(tmp);

    /* rename fails (target is a non-empty directory): the temp file is removed. */
    mkdir(at("dirtarget"), 0755);
    write_text(at("dirtarget/x"), "x", 0);
    CHECK(tb_json_write_atomic(at("dirtarget"), a) == -1, "rename over a directory succeeded");
    CHECK(has_error("dirtarget") && has_error("rename"), "message: %s", tb_last_error());
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

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
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
    nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_finish();
}
