/* Run directory: config.json, events.jsonl, result.json (see rundir.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "rundir/rundir.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix, tb_calloc
#include "core/fsutil.h" // uses: tb_atomic_remove_stale, tb_atomic_file, tb_atomic_begin, tb_atomic_write, ...
#include "rundir/lock.h" // uses: tb_lock, tb_lock_info, tb_lock_probe, TB_LOCK_HELD, TB_LOCK_FREE, ...

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JSON_FILE_FLAGS (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)
#define EVENT_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

struct tb_rundir {
    char path[PATH_MAX];
    int events_fd;
    struct timespec t0;    /* CLOCK_MONOTONIC at creation: "elapsed" survives clock jumps */
    pthread_mutex_t lock;  /* serialises event lines: stamps stay ordered in the file */
    tb_lock *dirlock;      /* DIR/.lock, held while the run writes the directory */
};

static double ts_seconds(const struct timespec *t) { return (double)t->tv_sec + (double)t->tv_nsec * 1e-9; }

/* Joins dir and name into out; fails (naming both) when it does not fit. */
static int join_path(char *out, size_t size, const char *dir, const char *name)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return tb_fail("path %s/%s is too long (limit %zu bytes); choose a shorter --run-dir", dir, name, size - 1);
    return 0;
}

/* ---- directory creation ---- */

static int mkdir_one(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return 0;
    int err = errno;
    const char *hint = err == ENOTDIR                  ? "part of the path is a file, not a directory"
                       : err == EACCES || err == EPERM ? "fix the permissions of its parent"
                       : err == EROFS                  ? "the file system is read-only"
                                                       : "check the path";
    return tb_fail("cannot create run directory %s: %s; %s, or choose another --run-dir", path, strerror(err), hint);
}

/* mkdir -p: an existing non-directory component surfaces as ENOTDIR on the
 * next mkdir, or in the final stat. */
static int mkdir_parents(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir_one(buf);
        *p = '/';
        if (rc)
            return rc;
    }
    if (mkdir_one(buf))
        return -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return tb_fail("cannot use run directory %s: %s; choose another --run-dir", path, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return tb_fail("cannot use run directory %s: %s (a file of that name exists); choose another --run-dir",
                       path, strerror(ENOTDIR));
    return 0;
}

/* Refuses directories that already hold results, or that we cannot write. */
static int check_usable(const char *path)
{
    char result[PATH_MAX];
    struct stat st;
    if (join_path(result, sizeof result, path, "result.json"))
        return -1;
    if (lstat(result, &st) == 0)
        return tb_fail("run directory %s already holds result.json from an earlier run; choose another --run-dir "
                       "(or omit it for a fresh timestamped one) so those results are not overwritten",
                       path);
    if (errno != ENOENT)
        return tb_fail("cannot check %s: %s; choose another --run-dir", result, strerror(errno));
    if (access(path, W_OK | X_OK) != 0)
        return tb_fail("run directory %s is not writable: %s; fix its permissions or choose another --run-dir", path,
                       strerror(errno));
    return 0;
}

/* A new run goes into a new or empty directory, or one an earlier
 * trainbench run made (its .lock says so) that holds no results; anything
 * else is the user's, refused (*refused: exit 2) before a byte is written. */
static int check_new_run(const char *path, int *refused)
{
    tb_lock_info info;
    int state = tb_lock_probe(path, &info);
    if (state < 0 || state == TB_LOCK_HELD) {
        *refused = 1;
        if (state < 0)
            return tb_fail_prefix("run directory %s", path);
        return tb_fail("run directory %s is in use by process %ld on %s; wait for it to end or stop it, or choose "
                       "another --run-dir",
                       path, info.pid, info.host[0] ? info.host : "an unknown host");
    }
    if (check_usable(path))
        return -1;
    if (state == TB_LOCK_FREE && info.ours)
        return 0;
    DIR *d = opendir(path);
    if (!d)
        return tb_fail("cannot read run directory %s: %s; fix its permissions or choose another --run-dir", path,
                       strerror(errno));
    char found[256] = "";
    for (struct dirent *e; !found[0] && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(found, sizeof found, "%s", e->d_name);
    closedir(d);
    if (!found[0])
        return 0;
    *refused = 1;
    return tb_fail("run directory %s is not empty (it holds %s) and is not a trainbench run; nothing in it was "
                   "touched: choose a new or empty --run-dir, or continue a stopped run with trainbench train --resume",
                   path, found);
}

static tb_rundir *open_rundir(const char *path, int reopen, int *refused)
{
    *refused = 0;
    if (!path || !*path) {
        tb_fail("empty run directory path; pass --run-dir DIR");
        return NULL;
    }
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len >= PATH_MAX - 32) {
        tb_fail("run directory path %s is too long; choose a shorter --run-dir", path);
        return NULL;
    }
    tb_rundir *r = tb_calloc(1, sizeof *r, "run directory");
    if (!r)
        return NULL;
    memcpy(r->path, path, len);
    r->path[len] = '\0';
    r->events_fd = -1;

    char events[PATH_MAX];
    struct stat st;
    errno = 0;
    if (reopen && (stat(r->path, &st) != 0 || !S_ISDIR(st.st_mode))) {
        tb_fail("cannot resume %s: %s; pass the directory of a stopped run", r->path,
                errno ? strerror(errno) : "not a directory");
        goto fail;
    }
    if (reopen && access(r->path, W_OK | X_OK) != 0) {
        tb_fail("run directory %s is not writable: %s; fix its permissions", r->path, strerror(errno));
        goto fail;
    }
    /* One process per run directory, locked before anything in it changes. */
    if (reopen && !(r->dirlock = tb_lock_acquire(r->path, "run directory", refused)))
        goto fail;
    /* A run killed mid-write (kill -9 during a checkpoint) left its temporary file. */
    if (reopen && tb_atomic_remove_stale(r->path) < 0)
        goto fail;
    if ((!reopen && (mkdir_parents(r->path) || check_new_run(r->path, refused) ||
                     !(r->dirlock = tb_lock_acquire(r->path, "run directory", refused)))) ||
        join_path(events, sizeof events, r->path, "events.jsonl"))
        goto fail;
    /* O_NOFOLLOW: events.jsonl as a symbolic link would append to whatever it names. */
    r->events_fd = open(events, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (r->events_fd < 0) {
        int err = errno;
        *refused = err == ELOOP;
        tb_fail("cannot open %s for appending: %s; %s", events, strerror(err),
                err == ELOOP ? "it is a symbolic link, which trainbench does not follow: remove it"
                             : "fix the permissions of the run directory or choose another --run-dir");
        goto fail;
    }
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    pthread_mutex_init(&r->lock, NULL);
    return r;
fail:
    tb_lock_release(r->dirlock);
    free(r);
    return NULL;
}

tb_rundir *tb_rundir_open(const char *path, int resume, int *refused) { return open_rundir(path, resume, refused); }

tb_rundir *tb_rundir_create(const char *path)
{
    int refused;
    return open_rundir(path, 0, &refused);
}

tb_rundir *tb_rundir_reopen(const char *path)
{
    int refused;
    return open_rundir(path, 1, &refused);
}

void tb_rundir_close(tb_rundir *r)
{
    if (!r)
        return;
    /* Events are not synced per line (too slow); make them durable once the run ends. */
    fsync(r->events_fd);
    close(r->events_fd);
    pthread_mutex_destroy(&r->lock);
    tb_lock_release(r->dirlock); /* last: readers see the run alive until its files are final */
    free(r);
}

const char *tb_rundir_path(const tb_rundir *r) { return r ? r->path : ""; }

/* ---- default path ---- */

int tb_rundir_default_path(const char *base, const char *suffix, char *out, size_t out_size)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm) || !strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm))
        return tb_fail("cannot format the current time for a run directory name; pass --run-dir DIR");
    const char *dash = suffix && *suffix ? "-" : "";
    if (!suffix)
        suffix = "";
    /* Two runs started within one second get -2, -3, ... instead of sharing a directory. */
    for (int i = 1; i < 10000; i++) {
        int n = i == 1 ? snprintf(out, out_size, "%s/%s%s%s", base, stamp, dash, suffix)
                       : snprintf(out, out_size, "%s/%s%s%s-%d", base, stamp, dash, suffix, i);
        if (n < 0 || (size_t)n >= out_size)
            return tb_fail("run directory path under %s is too long (limit %zu bytes); choose a shorter base", base,
                           out_size ? out_size - 1 : 0);
        struct stat st;
        if (lstat(out, &st) != 0) {
            if (errno == ENOENT)
                return 0;
            return tb_fail("cannot check %s: %s; pass --run-dir DIR", out, strerror(errno));
        }
    }
    return tb_fail("too many run directories named %s/%s%s%s-*; pass --run-dir DIR", base, stamp, dash, suffix);
}

/* ---- atomic JSON files ---- */

int tb_json_write_atomic(const char *path, struct json_object *obj)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length(obj, JSON_FILE_FLAGS, &len);
    if (!text)
        return tb_fail("cannot serialise JSON for %s: out of memory; any previous file is untouched", path);
    /* The one atomic writer (core/fsutil.h): unpredictable O_EXCL temporary,
     * no link followed, removed on failure. */
    tb_atomic_file a;
    return tb_atomic_begin(&a, path) || tb_atomic_write(&a, text, len) || tb_atomic_write(&a, "\n", 1) ||
                   tb_atomic_commit(&a)
               ? -1
               : 0;
}

int tb_rundir_write_json(tb_rundir *r, const char *name, struct json_object *obj)
{
    if (!r)
        return 0; /* a rank other than 0: rank 0 writes the run directory */
    char path[PATH_MAX];
    if (join_path(path, sizeof path, r->path, name))
        return -1;
    return tb_json_write_atomic(path, obj);
}

/* ---- events ---- */

/* A double that serialises with exactly three decimals. */
static struct json_object *seconds3(double s)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.3f", s);
    return json_object_new_double_s(s, buf);
}

/* The line object: event, time, elapsed first, then the caller's fields
 * (a field named like one of those three is dropped: the stamps must be ours). */
static struct json_object *event_object(const tb_rundir *r, const char *type, struct json_object *fields)
{
    struct timespec now_real, now_mono;
    clock_gettime(CLOCK_REALTIME, &now_real);
    clock_gettime(CLOCK_MONOTONIC, &now_mono);
    struct json_object *ev = json_object_new_object();
    if (!ev)
        return NULL;
    json_object_object_add(ev, "event", json_object_new_string(type));
    json_object_object_add(ev, "time", seconds3(ts_seconds(&now_real)));
    json_object_object_add(ev, "elapsed", seconds3(ts_seconds(&now_mono) - ts_seconds(&r->t0)));
    if (fields) {
        json_object_object_foreach(fields, key, val)
        {
            if (strcmp(key, "event") && strcmp(key, "time") && strcmp(key, "elapsed"))
                json_object_object_add(ev, key, json_object_get(val));
        }
    }
    return ev;
}

/* One write() of the whole line: with O_APPEND readers never see it torn.
 * If the kernel writes only part (disk full), the tail is cut off again so
 * the next line does not fuse with a fragment. */
static int append_line(tb_rundir *r, const char *line, size_t len)
{
    ssize_t n;
    do
        n = write(r->events_fd, line, len);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)len)
        return 0;
    int err = n < 0 ? errno : ENOSPC;
    if (n > 0) {
        off_t end = lseek(r->events_fd, 0, SEEK_CUR);
        if (end >= n && ftruncate(r->events_fd, end - n) != 0)
            err = errno;
    }
    return tb_fail("cannot append to %s/events.jsonl: %s; free space or choose another --run-dir", r->path,
                   strerror(err));
}

int tb_rundir_event(tb_rundir *r, const char *type, struct json_object *fields)
{
    if (!r) { /* a rank other than 0 */
        json_object_put(fields);
        return 0;
    }
    if (fields && !json_object_is_type(fields, json_type_object)) {
        json_object_put(fields);
        return tb_fail("event '%s' for %s: fields must be a JSON object (internal error)", type, r->path);
    }
    pthread_mutex_lock(&r->lock);
    int rc = -1;
    struct json_object *ev = event_object(r, type, fields);
    size_t len = 0;
    const char *text = ev ? json_object_to_json_string_length(ev, EVENT_FLAGS, &len) : NULL;
    char *line = text ? malloc(len + 1) : NULL;
    if (line) {
        memcpy(line, text, len);
        line[len] = '\n';
        rc = append_line(r, line, len + 1);
    } else {
        tb_fail("out of memory writing event '%s' to %s/events.jsonl", type, r->path);
    }
    pthread_mutex_unlock(&r->lock);
    free(line);
    json_object_put(ev);
    json_object_put(fields);
    return rc;
}

/* ---- readers ---- */

/* Grows buf so that at least one more byte plus a NUL fit. */
static int ensure_room(char **buf, size_t *cap, size_t len)
{
    if (len + 1 < *cap)
        return 0;
    char *bigger = realloc(*buf, *cap * 2);
    if (!bigger)
        return -1;
    *buf = bigger;
    *cap *= 2;
    return 0;
}

/* The largest run file read whole.  trainbench's own are kilobytes (a
 * 1000-class result.json with 100 epochs is under 2 MiB); the limit keeps a
 * damaged or hostile file from being read into memory before it is refused. */
#define TB_JSON_FILE_MAX ((size_t)64 << 20)

static int too_large(const char *path)
{
    return tb_fail("cannot read %s: larger than %zu MiB, which no file trainbench writes is; the file is damaged or "
                   "was not written by trainbench",
                   path, TB_JSON_FILE_MAX >> 20);
}

/* Reads a whole file into a NUL-terminated buffer. */
static char *read_whole(const char *path, size_t *len_out)
{
    /* Regular files only, opened without blocking: a FIFO named result.json
     * must not hang results, export or the workbench. */
    int fd = tb_open_regular(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) == 0 && (uintmax_t)st.st_size > TB_JSON_FILE_MAX) {
        too_large(path);
        close(fd);
        return NULL;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len > TB_JSON_FILE_MAX) { /* grew while being read */
            too_large(path);
            goto fail;
        }
        if (!buf || ensure_room(&buf, &cap, len)) {
            tb_fail("out of memory reading %s", path);
            goto fail;
        }
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            tb_fail("cannot read %s: %s", path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    *len_out = len;
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

static int line_of(const char *text, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset; i++)
        line += text[i] == '\n';
    return line;
}

static int only_space(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

/* Parses exactly one JSON value from text[0..len).  On failure returns NULL
 * with *err_at set to the offset of the problem and *why to a description. */
static struct json_object *parse_one(json_tokener *tok, const char *text, size_t len, size_t *err_at,
                                     const char **why)
{
    json_tokener_reset(tok);
    /* len + 1 includes the NUL, which ends a bare number or literal. */
    struct json_object *obj = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (!obj) {
        *err_at = end > len ? len : end;
        *why = e == json_tokener_continue || e == json_tokener_success ? "unexpected end of input"
                                                                       : json_tokener_error_desc(e);
        return NULL;
    }
    if (end < len && !only_space(text + end, len - end)) {
        json_object_put(obj);
        *err_at = end;
        *why = "unexpected text after the JSON value";
        return NULL;
    }
    return obj;
}

struct json_object *tb_json_read_file(const char *path)
{
    size_t len = 0;
    char *text = read_whole(path, &len);
    if (!text)
        return NULL;
    if (len > INT_MAX - 1 || strlen(text) != len) {
        tb_fail("cannot parse %s: %s; the file is damaged", path,
                len > INT_MAX - 1 ? "file too large" : "contains NUL bytes");
        free(text);
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    struct json_object *obj = NULL;
    size_t at = 0;
    const char *why = "";
    if (!tok)
        tb_fail("out of memory parsing %s", path);
    else if (!(obj = parse_one(tok, text, len, &at, &why)))
        tb_fail("cannot parse %s: %s at line %d (byte %zu); the file is damaged or was not written by trainbench",
                path, why, line_of(text, at), at);
    if (tok)
        json_tokener_free(tok);
    free(text);
    return obj;
}

/* Parses one complete events.jsonl line; blank lines are tolerated. */
static int parse_event_line(json_tokener *tok, const char *path, int lineno, char *line, size_t len,
                            struct json_object **out)
{
    *out = NULL;
    line[len - 1] = '\0'; /* drop the '\n'; the NUL ends the tokener's input */
    if (only_space(line, len - 1))
        return 0;
    size_t at = 0;
    const char *why = "";
    if (strlen(line) != len - 1)
        return tb_fail("cannot parse %s line %d: contains NUL bytes; the file is damaged", path, lineno);
    struct json_object *ev = parse_one(tok, line, len - 1, &at, &why);
    if (!ev)
        return tb_fail("cannot parse %s line %d: %s at column %zu; the file is damaged", path, lineno, why, at + 1);
    if (!json_object_is_type(ev, json_type_object)) {
        json_object_put(ev);
        return tb_fail("cannot parse %s line %d: expected a JSON object; the file is damaged", path, lineno);
    }
    *out = ev;
    return 0;
}

int tb_events_read(const char *path, int (*fn)(struct json_object *ev, void *ctx), void *ctx)
{
    FILE *f = tb_fopen_regular(path); /* a FIFO or device is refused, not waited on */
    if (!f)
        return -1;
    json_tokener *tok = json_tokener_new();
    char *line = NULL;
    size_t cap = 0;
    int count = 0, lineno = 0;
    ssize_t n;
    if (!tok)
        count = tb_fail("out of memory reading %s", path);
    /* A last line without '\n' is an append still in progress: skipped. */
    while (count >= 0 && (n = getline(&line, &cap, f)) > 0 && line[n - 1] == '\n') {
        struct json_object *ev;
        lineno++;
        if (n > INT_MAX - 1) {
            count = tb_fail("cannot parse %s line %d: line too long; the file is damaged", path, lineno);
            break;
        }
        if (parse_event_line(tok, path, lineno, line, (size_t)n, &ev)) {
            count = -1;
            break;
        }
        if (!ev)
            continue;
        count++;
        int stop = fn(ev, ctx);
        json_object_put(ev);
        if (stop)
            break;
    }
    if (count >= 0 && ferror(f))
        count = tb_fail("cannot read %s: %s", path, strerror(errno));
    free(line);
    if (tok)
        json_tokener_free(tok);
    fclose(f);
    return count;
}

int tb_rundir_has_checkpoint(const char *run_dir)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/checkpoint.safetensors", run_dir);
    return n >= 0 && (size_t)n < sizeof path && access(path, R_OK) == 0;
}

int tb_rundir_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > 127 || id[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9') ||
              id[i] == '.' || id[i] == '-' || id[i] == '_'))
            return 0;
    return 1;
}
