/* The sweep runner (see sweep.h).
 *
 * Each configuration runs as a child `trainbench train` process: a crash or
 * an out-of-memory kill in one configuration cannot take the sweep down, and
 * a refused configuration (exit 2: --gpus 4 on this machine) is recorded and
 * the sweep goes on.  summary.json lists every configuration from the start
 * (pending ones too) and is rewritten atomically around each one, so after a
 * kill -9 it still says which configurations finished and which are missing. */
#include "lab/sweep.h"


#include "core/error.h" // uses: tb_fail, tb_fail_prefix, tb_last_error
#include "core/fsutil.h" // uses: tb_open_regular
#include "core/json.h" // uses: tb_json_arr, tb_json_str, tb_json_num, tb_json_get, tb_json_obj
#include "lab/export.h" // uses: tb_export_string, TB_EXPORT_MD, tb_text_write_atomic, tb_export_write
#include "lab/plan_filter.h" // uses: tb_plan_only_json, tb_plan_only_note, tb_plan_step_prefix, tb_plan_only_name
#include "lab/table.h" // uses: tb_table, tb_table_from_sweep, tb_table_free
#include "rundir/lock.h" // uses: tb_lock_alive, tb_lock, tb_lock_acquire, tb_lock_release
#include "rundir/rundir.h" // uses: TB_STATUS_COMPLETED, TB_STATUS_FAILED, TB_STATUS_REFUSED, ...

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_signal;

/* snprintf whose truncation is an error (a path too long for PATH_MAX). */
#define FMT(buf, ...) (snprintf(buf, sizeof buf, __VA_ARGS__) >= (int)sizeof buf ? tb_fail("path too long: %s", buf) : 0)

static void on_signal(int sig) { stop_signal = sig; }

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int mkdir_p(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return tb_fail("cannot create directory %s: %s; choose another --runs-dir", buf, strerror(errno));
            *p = c;
            if (!c)
                break;
        }
    }
    return 0;
}

struct json_object *tb_plan_entry_args(const tb_plan_entry *e)
{
    struct json_object *a = json_object_new_array();
    for (const tb_option *o = tb_train_options(); o->name; o++) {
        if (o->per_invocation)
            continue;
        char value[1100], arg[1200];
        tb_option_format(&e->cfg, o, value, sizeof value);
        if (!value[0])
            continue; /* an unset string (data-dir): the default applies */
        snprintf(arg, sizeof arg, "--%s=%s", o->name, value);
        json_object_array_add(a, json_object_new_string(arg));
    }
    return a;
}

int tb_plan_same_as(const tb_plan *plan, int i)
{
    struct json_object *mine = tb_plan_entry_args(&plan->entries[i]);
    int first = i;
    for (int j = 0; j < i && first == i; j++) {
        struct json_object *other = tb_plan_entry_args(&plan->entries[j]);
        if (json_object_equal(mine, other))
            first = j;
        json_object_put(other);
    }
    json_object_put(mine);
    return first;
}

static struct json_object *sets_json(const tb_sweep_options *o)
{
    struct json_object *sets = json_object_new_array();
    for (int i = 0; i < o->nsets; i++)
        json_object_array_add(sets, json_object_new_string(o->sets[i]));
    return sets;
}

static struct json_object *plan_json(const tb_preset *p, const tb_plan *plan, const tb_sweep_options *o)
{
    struct json_object *j = json_object_new_object();
    json_object_object_add(j, "schema", json_object_new_string("trainbench.plan/1"));
    json_object_object_add(j, "preset", json_object_new_string(p->name));
    json_object_object_add(j, "preset_path", json_object_new_string(p->path));
    json_object_object_add(j, "title", json_object_new_string(p->title));
    json_object_object_add(j, "lab", json_object_new_string(p->lab));
    json_object_object_add(j, "question", json_object_new_string(p->question));
    json_object_object_add(j, "description", json_object_new_string(p->description));
    json_object_object_add(j, "scale", json_object_new_string(o->smoke ? "smoke" : "full"));
    json_object_object_add(j, "mode", json_object_new_string(p->zip ? "zip" : "product"));
    json_object_object_add(j, "sets", sets_json(o));
    json_object_object_add(j, "only", tb_plan_only_json((const char *const *)o->only, o->nonly));
    json_object_object_add(j, "created_at", json_object_new_int64((int64_t)time(NULL)));
    struct json_object *table = tb_preset_table_json(p);
    tb_plan_only_note(table, (const char *const *)o->only, o->nonly);
    /* Smoke runs stop after at most 2 epochs: the table shows the last one. */
    if (o->smoke && p->pick_epoch > 2)
        json_object_object_add(table, "epoch", json_object_new_int(2));
    json_object_object_add(j, "table", table);
    struct json_object *cfgs = json_object_new_array();
    for (int i = 0; i < plan->count; i++) {
        const tb_plan_entry *e = &plan->entries[i];
        struct json_object *c = json_object_new_object();
        json_object_object_add(c, "index", json_object_new_int(e->index));
        json_object_object_add(c, "id", json_object_new_string(e->id));
        json_object_object_add(c, "label", json_object_new_string(e->label));
        json_object_object_add(c, "params", json_object_get(e->params));
        json_object_object_add(c, "substitutions", json_object_get(e->substitutions));
        json_object_object_add(c, "args", tb_plan_entry_args(e));
        int first = o->smoke ? tb_plan_same_as(plan, i) : i;
        if (first != i) /* not run again: the table and summary take the first one's run */
            json_object_object_add(c, "same_as", json_object_new_string(plan->entries[first].id));
        json_object_array_add(cfgs, c);
    }
    json_object_object_add(j, "configs", cfgs);
    return j;
}

/* ---- summary ---- */

typedef struct {
    const char *dir;
    struct json_object *summary;
    int tty;
    int quiet;
} sweep;

static struct json_object *cfg_summary(sweep *s, int i)
{
    return json_object_array_get_idx(tb_json_arr(s->summary, "configs"), (size_t)i);
}

/* A summary.json the sweep can carry on: an object whose "configs" holds one
 * object per configuration of the plan (a damaged or hand-edited one is not). */
static int summary_matches(struct json_object *summary, int count)
{
    struct json_object *cfgs = tb_json_arr(summary, "configs");
    if (!cfgs || json_object_array_length(cfgs) != (size_t)count)
        return 0;
    for (int i = 0; i < count; i++)
        if (!json_object_is_type(json_object_array_get_idx(cfgs, (size_t)i), json_type_object))
            return 0;
    return 1;
}

static void set_str(struct json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

/* Counts, the missing list and the overall status, then summary.json and
 * summary.md, both atomically. */
static int write_summary(sweep *s, const char *status)
{
    static const char *states[] = {TB_STATUS_COMPLETED, TB_STATUS_FAILED, TB_STATUS_REFUSED, TB_STATUS_INTERRUPTED, TB_STATUS_RUNNING, TB_STATUS_PENDING};
    int counts[6] = {0};
    struct json_object *cfgs = tb_json_arr(s->summary, "configs"), *missing = json_object_new_array();
    size_t n = json_object_array_length(cfgs);
    for (size_t i = 0; i < n; i++) {
        const char *st = tb_json_str(json_object_array_get_idx(cfgs, i), "status", NULL);
        for (int k = 0; k < 6; k++)
            if (st && !strcmp(st, states[k]))
                counts[k]++;
        if (!st || strcmp(st, TB_STATUS_COMPLETED))
            json_object_array_add(missing,
                                  json_object_new_string(tb_json_str(json_object_array_get_idx(cfgs, i), "id", NULL)));
    }
    struct json_object *c = json_object_new_object();
    json_object_object_add(c, "total", json_object_new_int((int)n));
    for (int k = 0; k < 6; k++)
        json_object_object_add(c, states[k], json_object_new_int(counts[k]));
    json_object_object_add(s->summary, "counts", c);
    json_object_object_add(s->summary, "missing", missing);
    set_str(s->summary, "status", status);
    json_object_object_add(s->summary, "updated_at", json_object_new_int64((int64_t)time(NULL)));
    char path[PATH_MAX];
    if (FMT(path, "%s/summary.json", s->dir) || tb_json_write_atomic(path, s->summary))
        return -1;
    tb_table t;
    int rc = tb_table_from_sweep(s->dir, &t);
    char *md = rc ? NULL : tb_export_string(&t, 1, TB_EXPORT_MD);
    if (!rc)
        tb_table_free(&t);
    if (!md)
        return tb_fail_prefix("summary.md");
    rc = FMT(path, "%s/summary.md", s->dir) ? -1 : tb_text_write_atomic(path, md);
    free(md);
    return rc;
}

/* ---- one configuration ---- */

/* Follows the child's events.jsonl from `*offset`, printing progress. */
static void follow_events(sweep *s, const char *path, long *offset, const char *tag)
{
    int fd = tb_open_regular(path, O_RDONLY | O_NOFOLLOW); /* no FIFO to wait on, no planted link */
    FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    if (fseek(f, *offset, SEEK_SET) != 0) {
        fclose(f);
        return;
    }
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (!len || line[len - 1] != '\n')
            break; /* a writer mid-append: read it next time */
        *offset += (long)len;
        struct json_object *ev = json_tokener_parse(line);
        if (!ev)
            continue;
        const char *type = s->quiet ? NULL : tb_json_str(ev, "event", NULL);
#define NUM(k) tb_json_num(ev, k, 0)
        if (type && s->tty && !strcmp(type, "progress")) {
            int width = 24, batches = (int)NUM("batches"), batch = (int)NUM("batch");
            int done = batches ? batch * width / batches : 0;
            printf("\r\033[K%s epoch %d [%.*s%*s] %d/%d  %.0f img/s  loss %.3f", tag, (int)NUM("epoch"), done,
                   "========================", width - done, "", batch, batches, NUM("images_per_s"), NUM("loss"));
            fflush(stdout);
        } else if (type && !strcmp(type, "epoch_end")) {
            printf("%s%s   epoch %d: load %.3f s, train %.3f s, epoch %.3f s, loss %.3f, test acc %.2f%%\n",
                   s->tty ? "\r\033[K" : "", tag, (int)NUM("epoch"), NUM("load_s"), NUM("train_s"), NUM("epoch_s"),
                   NUM("train_loss"), NUM("test_acc"));
            fflush(stdout);
        }
#undef NUM
        json_object_put(ev);
    }
    fclose(f);
}

/* The last non-empty line of the child's log, without the program prefix. */
static void last_log_line(const char *path, char *out, size_t size)
{
    out[0] = '\0';
    int fd = tb_open_regular(path, O_RDONLY | O_NOFOLLOW); /* the log we made, not a planted link */
    FILE *f = fd < 0 ? NULL : fdopen(fd, "r");
    if (!f) {
        if (fd >= 0)
            close(fd);
        return;
    }
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len)
            snprintf(out, size, "%s", line);
    }
    fclose(f);
    const char *prefixes[] = {"trainbench train: ", "trainbench: "};
    for (int i = 0; i < 2; i++) {
        size_t pl = strlen(prefixes[i]);
        if (!strncmp(out, prefixes[i], pl))
            memmove(out, out + pl, strlen(out + pl) + 1);
    }
}

/* Runs configuration i; fills its summary entry.  Returns the child's
 * classification: 0 completed, 1 failed or refused, 130 interrupted. */
static int run_one(sweep *s, struct json_object *plan_cfg, int i, int total, const char *exe)
{
    struct json_object *cs = cfg_summary(s, i);
    const char *id = tb_json_str(plan_cfg, "id", NULL), *label = tb_json_str(plan_cfg, "label", NULL);
    char rundir[PATH_MAX], logpath[PATH_MAX], events[PATH_MAX], tag[64];
    if (FMT(rundir, "%s/%s", s->dir, id) || FMT(logpath, "%s/%s.log", s->dir, id) ||
        FMT(events, "%s/events.jsonl", rundir)) {
        set_str(cs, "status", TB_STATUS_FAILED);
        set_str(cs, "error", tb_last_error());
        return 1;
    }
    snprintf(tag, sizeof tag, "[%d/%d]", i + 1, total);

    /* The training child of a killed earlier sweep stops on its parent's
     * death but may still be saving its checkpoint: wait (up to a minute)
     * until it lets go of the run's lock. */
    for (int w = 0; w < 600 && tb_lock_alive(rundir) && !stop_signal; w++)
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);

    /* A run directory left by an interrupted or killed attempt continues
     * from its checkpoint; one that failed, or has none, is kept aside. */
    struct stat st;
    int resume = 0;
    if (lstat(rundir, &st) == 0 && tb_rundir_has_checkpoint(rundir)) {
        char rpath[PATH_MAX];
        struct json_object *old =
            !FMT(rpath, "%s/result.json", rundir) && access(rpath, R_OK) == 0 ? tb_json_read_file(rpath) : NULL;
        const char *was = tb_json_str(old, "status", NULL);
        resume = was && (!strcmp(was, TB_STATUS_INTERRUPTED) || !strcmp(was, TB_STATUS_RUNNING));
        json_object_put(old);
    }
    if (!resume && lstat(rundir, &st) == 0) {
        char aside[PATH_MAX + 32];
        for (int k = 1; k < 1000; k++) {
            if (FMT(aside, "%s.attempt-%d", rundir, k))
                return 1;
            if (lstat(aside, &st) != 0)
                break;
        }
        if (rename(rundir, aside) != 0)
            return tb_fail("cannot move the unfinished %s aside: %s", rundir, strerror(errno)), 1;
    }
    set_str(cs, "status", TB_STATUS_RUNNING);
    set_str(cs, "error", NULL);
    json_object_object_add(cs, "started_at", json_object_new_int64((int64_t)time(NULL)));
    if (write_summary(s, TB_STATUS_RUNNING))
        fprintf(stderr, "trainbench run: %s\n", tb_last_error());
    if (!s->quiet)
        printf("%s %s: %s (%s)\n", tag, id, resume ? "resuming from its checkpoint" : TB_STATUS_RUNNING, label);
    fflush(stdout);

    struct json_object *args = tb_json_get(plan_cfg, "args");
    size_t nargs = args ? json_object_array_length(args) : 0;
    /* A one-rank configuration inside a Slurm allocation runs as a job step,
     * in the container, as the ranks of the others do (lab/plan_filter.h). */
    enum { STEP_WORDS = 32 };
    char step_buf[1200], *step[STEP_WORDS];
    int nstep = 0;
    for (size_t a = 0; a < nargs && !nstep; a++)
        if (!strcmp(json_object_get_string(json_object_array_get_idx(args, a)), "--gpus=1"))
            nstep = tb_plan_step_prefix(step, STEP_WORDS, step_buf, sizeof step_buf);
    char **argv = nstep >= 0 ? calloc(nargs + 8 + STEP_WORDS, sizeof *argv) : NULL;
    if (!argv) {
        set_str(cs, "status", TB_STATUS_FAILED);
        set_str(cs, "error", nstep < 0 ? tb_last_error() : "out of memory");
        return 1;
    }
    int k = 0;
    for (int w = 0; w < nstep; w++)
        argv[k++] = step[w];
    argv[k++] = nstep ? (char *)exe : (char *)"trainbench";
    argv[k++] = (char *)"train";
    if (resume) { /* the run's own config.json holds the plan's options */
        argv[k++] = (char *)"--resume";
        argv[k++] = rundir;
    } else {
        for (size_t a = 0; a < nargs; a++)
            argv[k++] = (char *)json_object_get_string(json_object_array_get_idx(args, a));
        argv[k++] = (char *)"--run-dir";
        argv[k++] = rundir;
    }
    argv[k++] = (char *)"--quiet";
    argv[k] = NULL;

    double t0 = now_s();
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        set_str(cs, "status", TB_STATUS_FAILED);
        set_str(cs, "error", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        /* If the sweep is killed (kill -9), the child stops too, at the next
         * batch, keeping its finished epochs. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(130);
        /* A configuration's log is a plain file: a planted link or FIFO at
         * its name fails the configuration instead of being written through. */
        int fd = tb_open_regular(logpath, O_WRONLY | O_CREAT | O_APPEND);
        if (fd < 0) {
            fprintf(stderr, "trainbench run: %s\n", tb_last_error());
            _exit(1);
        }
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        /* A SIGTERM the sweep forwarded between fork and the line above ran
         * the sweep's handler in this copy of it and would be lost with the
         * exec (the configuration then trains to the end): honour it here. */
        if (stop_signal)
            _exit(130);
        if (nstep)
            execvp(argv[0], argv);
        else
            execv(exe, argv);
        fprintf(stderr, "trainbench run: cannot run %s: %s\n", nstep ? argv[0] : exe, strerror(errno));
        _exit(1);
    }
    free(argv);
    long offset = 0;
    int status = 0, forwarded = 0;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        /* Ctrl-C reaches the child through the terminal's process group; a
         * SIGTERM sent to the sweep alone is passed on, once. */
        if (stop_signal == SIGTERM && !forwarded) {
            kill(pid, SIGTERM);
            forwarded = 1;
        }
        follow_events(s, events, &offset, tag);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    follow_events(s, events, &offset, tag);
    if (s->tty)
        printf("\r\033[K");
    double wall = now_s() - t0;
    json_object_object_add(cs, "wall_s", json_object_new_double(wall));
    json_object_object_add(cs, "finished_at", json_object_new_int64((int64_t)time(NULL)));
    set_str(cs, "run_dir", id);

    int code = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    int sig = status >= 0 && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    json_object_object_add(cs, "exit_code", code >= 0 ? json_object_new_int(code) : NULL);
    char msg[1024] = "";
    char rpath[PATH_MAX];
    if (FMT(rpath, "%s/result.json", rundir))
        rpath[0] = '\0';
    struct json_object *result = access(rpath, R_OK) == 0 ? tb_json_read_file(rpath) : NULL;
    const char *rstatus = tb_json_str(result, "status", NULL);
    const char *state;
    int outcome;
    if (code == 0 && rstatus && !strcmp(rstatus, TB_STATUS_COMPLETED)) {
        state = TB_STATUS_COMPLETED;
        outcome = 0;
        struct json_object *sum = tb_json_obj(result, "summary"), *fig = json_object_new_object();
        const char *keys[] = {"avg_epoch_s", "avg_train_s", "images_per_s", "final_test_acc", "final_train_loss"};
        for (int q = 0; q < 5; q++) {
            struct json_object *v = tb_json_get(sum, keys[q]);
            if (v)
                json_object_object_add(fig, keys[q], json_object_get(v));
        }
        json_object_object_add(cs, "figures", fig);
        if (!s->quiet)
            printf("%s %s: completed in %.1f s (epoch %.3f s, %.0f img/s, test acc %.2f%%)\n", tag, id, wall,
                   tb_json_num(sum, "avg_epoch_s", 0), tb_json_num(sum, "images_per_s", 0),
                   tb_json_num(sum, "final_test_acc", 0));
    } else if (code == 130 || (sig && stop_signal)) {
        state = TB_STATUS_INTERRUPTED;
        outcome = 130;
        snprintf(msg, sizeof msg, "interrupted; finished epochs are kept in %s", id);
    } else if (code == 2) {
        state = TB_STATUS_REFUSED;
        outcome = 1;
        last_log_line(logpath, msg, sizeof msg);
    } else {
        state = TB_STATUS_FAILED;
        outcome = 1;
        if (tb_json_str(result, "error", NULL))
            snprintf(msg, sizeof msg, "%s", tb_json_str(result, "error", NULL));
        else if (sig)
            snprintf(msg, sizeof msg, "killed by signal %d (%s)", sig, strsignal(sig));
        else
            last_log_line(logpath, msg, sizeof msg);
        if (!msg[0])
            snprintf(msg, sizeof msg, "exit status %d; see %s.log", code, id);
    }
    json_object_put(result);
    set_str(cs, "status", state);
    set_str(cs, "error", msg[0] ? msg : NULL);
    if (outcome)
        printf("%s %s: %s%s%s\n", tag, id, state, msg[0] ? ": " : "", msg);
    fflush(stdout);
    return outcome;
}

/* ---- finding a sweep to resume ---- */

/* Directory names start with the timestamp, so the greatest name of a
 * matching sweep is the newest. */
static int find_resumable(const char *runs_dir, const char *preset, const char *scale, struct json_object *only,
                          char *out, size_t size)
{
    char best[256] = "";
    DIR *d = opendir(runs_dir);
    if (!d)
        return tb_fail("--resume: cannot read %s: %s; pass --runs-dir", runs_dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX];
        if (FMT(path, "%s/%s/plan.json", runs_dir, e->d_name) || access(path, R_OK) != 0)
            continue;
        struct json_object *plan = tb_json_read_file(path);
        const char *p = tb_json_str(plan, "preset", NULL), *sc = tb_json_str(plan, "scale", NULL);
        /* The same --only too: the per-configuration jobs of one preset each resume their own. */
        struct json_object *was = tb_json_arr(plan, "only");
        int same_only = was ? json_object_equal(was, only) : !json_object_array_length(only);
        if (p && sc && !strcmp(p, preset) && !strcmp(sc, scale) && same_only && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
        json_object_put(plan);
    }
    closedir(d);
    if (!best[0])
        return tb_fail("--resume: no %s-scale sweep of preset %s under %s; run it without --resume first", scale,
                       preset, runs_dir);
    snprintf(out, size, "%s/%s", runs_dir, best);
    return 0;
}

int tb_sweep_run(const tb_preset *p, const tb_plan *plan, const tb_sweep_options *o)
{
    char dir[PATH_MAX];
    struct json_object *pj = plan_json(p, plan, o);
    struct json_object *summary = NULL;
    const char *scale = o->smoke ? "smoke" : "full";
    /* Held while the sweep runs: a second sweep in the directory is refused,
     * and readers (results, the workbench) know it is alive. */
    tb_lock *lock = NULL;
    int refused = 0;
    if (o->resume) {
        if (o->sweep_dir)
            snprintf(dir, sizeof dir, "%s", o->sweep_dir);
        else if (find_resumable(o->runs_dir, p->name, scale, tb_json_arr(pj, "only"), dir, sizeof dir))
            goto usage;
        char path[PATH_MAX];
        struct json_object *old = FMT(path, "%s/plan.json", dir) ? NULL : tb_json_read_file(path);
        if (!old) {
            tb_fail_prefix("--resume %s", dir);
            goto usage;
        }
        /* The configurations must be the same ones, option for option. */
        struct json_object *a = tb_json_arr(old, "configs"), *b = tb_json_arr(pj, "configs");
        int same = a && json_object_array_length(a) == json_object_array_length(b);
        for (size_t i = 0; same && i < json_object_array_length(b); i++)
            same = json_object_equal(tb_json_get(json_object_array_get_idx(a, i), "args"),
                                     tb_json_get(json_object_array_get_idx(b, i), "args")) &&
                   !strcmp(tb_json_str(json_object_array_get_idx(a, i), "id", ""),
                           tb_json_str(json_object_array_get_idx(b, i), "id", ""));
        if (!same) {
            json_object_put(old);
            tb_fail("--resume %s: the preset, --set, --only or --scale differ from the sweep's plan.json; resume with "
                    "the same arguments or start a new sweep",
                    dir);
            goto usage;
        }
        json_object_put(pj);
        pj = old;
        if (!(lock = tb_lock_acquire(dir, "sweep directory", &refused)))
            goto usage;
        int had = !FMT(path, "%s/summary.json", dir) && access(path, F_OK) == 0;
        summary = had ? tb_json_read_file(path) : NULL;
        if (had && (!summary || !summary_matches(summary, plan->count))) {
            /* Rebuilt below; each configuration's own result.json still says which are done. */
            fprintf(stderr, "trainbench run: %s is damaged (%s); rebuilding it\n", path,
                    summary ? "not one entry per configuration" : tb_last_error());
            json_object_put(summary);
            summary = NULL;
        }
    } else {
        if (o->sweep_dir)
            snprintf(dir, sizeof dir, "%s", o->sweep_dir);
        else {
            /* A filtered sweep's name says which configurations it holds. */
            char cut[160], name[sizeof cut + sizeof p->name + 8];
            tb_plan_only_name(plan, o->nonly, cut, sizeof cut);
            snprintf(name, sizeof name, "%s%s%s", p->name, cut[0] ? "-only-" : "", cut);
            if (tb_rundir_default_path(o->runs_dir, name, dir, sizeof dir))
                goto usage;
        }
        char path[PATH_MAX];
        if (FMT(path, "%s/plan.json", dir))
            goto usage;
        if (access(path, F_OK) == 0) {
            tb_fail("%s already holds a sweep; use --resume to continue it, or another directory", dir);
            goto usage;
        }
        if (mkdir_p(dir) || !(lock = tb_lock_acquire(dir, "sweep directory", &refused)))
            goto usage;
        if (tb_json_write_atomic(path, pj))
            goto usage;
    }
    if (!summary) {
        summary = json_object_new_object();
        set_str(summary, "schema", "trainbench.summary/1");
        set_str(summary, "preset", p->name);
        set_str(summary, "title", p->title);
        set_str(summary, "scale", scale);
        json_object_object_add(summary, "started_at", json_object_new_int64((int64_t)time(NULL)));
        /* The overrides are part of the result (plan.json has them too). */
        json_object_object_add(summary, "sets", json_object_get(tb_json_arr(pj, "sets")));
        struct json_object *cfgs = json_object_new_array();
        for (int i = 0; i < plan->count; i++) {
            struct json_object *c = json_object_new_object();
            json_object_object_add(c, "index", json_object_new_int(plan->entries[i].index));
            set_str(c, "id", plan->entries[i].id);
            set_str(c, "label", plan->entries[i].label);
            set_str(c, "status", TB_STATUS_PENDING);
            set_str(c, "same_as", tb_json_str(json_object_array_get_idx(tb_json_arr(pj, "configs"), (size_t)i),
                                              "same_as", NULL));
            json_object_array_add(cfgs, c);
        }
        json_object_object_add(summary, "configs", cfgs);
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    set_str(summary, "hostname", host);
    json_object_object_del(summary, "stopped"); /* a resumed sweep's earlier stop is history */
    json_object_object_add(summary, "pid", json_object_new_int((int)getpid()));

    sweep s = {dir, summary, isatty(STDOUT_FILENO), o->quiet};
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    printf("Sweep %s: %s, %d configuration%s at %s scale\n", dir, p->title, plan->count, plan->count == 1 ? "" : "s",
           scale);
    int failures = 0, interrupted = 0, skipped = 0;
    /* The first two configurations this invocation runs failing with the same
     * reason (a missing data folder, no GPU) stop the sweep: the rest would
     * fail alike.  first_err: the first one's reason, "" when it did not fail. */
    int ran = 0;
    char first_err[1024] = "";
    struct json_object *pcfgs = tb_json_arr(pj, "configs");
    for (int i = 0; i < plan->count; i++) {
        struct json_object *cs = cfg_summary(&s, i);
        const char *id = plan->entries[i].id;
        int first = o->smoke ? tb_plan_same_as(plan, i) : i;
        if (first != i) { /* the same run as an earlier one: its outcome, not a second run */
            struct json_object *fs = cfg_summary(&s, first);
            static const char *const keys[] = {"status", "error", "figures", "exit_code"};
            for (int k = 0; k < 4; k++) {
                struct json_object *v = tb_json_get(fs, keys[k]);
                json_object_object_add(cs, keys[k], v ? json_object_get(v) : NULL);
            }
            set_str(cs, "run_dir", plan->entries[first].id);
            set_str(cs, "same_as", plan->entries[first].id);
            if (!o->quiet)
                printf("[%d/%d] %s: the same run as %s at smoke scale, not repeated\n", i + 1, plan->count, id,
                       plan->entries[first].id);
            if (write_summary(&s, TB_STATUS_RUNNING)) /* the Live screen shows it done now, not at the end */
                fprintf(stderr, "trainbench run: %s\n", tb_last_error());
            continue;
        }
        if (o->resume) {
            char rpath[PATH_MAX];
            struct json_object *r =
                !FMT(rpath, "%s/%s/result.json", dir, id) && access(rpath, R_OK) == 0 ? tb_json_read_file(rpath) : NULL;
            int done = !strcmp(tb_json_str(r, "status", ""), TB_STATUS_COMPLETED);
            json_object_put(r);
            if (done) {
                set_str(cs, "status", TB_STATUS_COMPLETED);
                printf("[%d/%d] %s: already completed, skipped\n", i + 1, plan->count, id);
                skipped++;
                continue;
            }
        }
        if (stop_signal) { /* arrived between two configurations: the sweep is interrupted all the same */
            interrupted = 1;
            break;
        }
        if (failures && o->stop_on_failure)
            break;
        int rc = run_one(&s, json_object_array_get_idx(pcfgs, (size_t)i), i, plan->count, o->exe);
        if (rc == 130 || stop_signal) {
            interrupted = 1;
            if (rc != 130) {
                const char *st = tb_json_str(cs, "status", NULL);
                if (st && !strcmp(st, TB_STATUS_RUNNING))
                    set_str(cs, "status", TB_STATUS_INTERRUPTED);
            }
        } else if (rc)
            failures++;
        int same_way = 0;
        if (!interrupted && ++ran <= 2) {
            const char *err = rc ? tb_json_str(cs, "error", "") : "";
            same_way = ran == 2 && err[0] && !strcmp(err, first_err) && !o->keep_going && i + 1 < plan->count;
            if (ran == 1)
                snprintf(first_err, sizeof first_err, "%s", err);
        }
        if (same_way) {
            char why[1200];
            snprintf(why, sizeof why, "stopped: the first 2 configurations failed the same way: %s", first_err);
            set_str(summary, "stopped", why);
            printf("%s (--keep-going runs the rest)\n", why);
        }
        const char *state = interrupted ? TB_STATUS_INTERRUPTED : TB_STATUS_RUNNING;
        if (write_summary(&s, state))
            fprintf(stderr, "trainbench run: %s\n", tb_last_error());
        if (interrupted || same_way)
            break;
    }
    const char *final = interrupted ? TB_STATUS_INTERRUPTED : failures ? TB_STATUS_FAILED : TB_STATUS_COMPLETED;
    int pending = 0;
    struct json_object *cfgs = tb_json_arr(summary, "configs");
    for (size_t i = 0; i < json_object_array_length(cfgs); i++)
        pending += !strcmp(tb_json_str(json_object_array_get_idx(cfgs, i), "status", ""), TB_STATUS_PENDING);
    if (!interrupted && pending)
        final = failures ? TB_STATUS_FAILED : TB_STATUS_INTERRUPTED; /* stopped on failure */
    int rc = 0;
    if (write_summary(&s, final)) {
        fprintf(stderr, "trainbench run: %s\n", tb_last_error());
        rc = 1;
    }
    int done = 0;
    for (size_t i = 0; i < json_object_array_length(cfgs); i++)
        done += !strcmp(tb_json_str(json_object_array_get_idx(cfgs, i), "status", ""), TB_STATUS_COMPLETED);
    printf("Sweep %s: %s, %d of %d completed%s%s; table in %s/summary.md\n", dir, final, done, plan->count,
           skipped ? " (" : "", skipped ? "some were already done)" : "", dir);
    /* The table itself, as `trainbench export --format md` prints it. */
    tb_table t;
    if (!o->quiet) {
        if (tb_table_from_sweep(dir, &t) == 0) {
            printf("\n");
            if (tb_export_write(stdout, &t, 1, TB_EXPORT_MD))
                fprintf(stderr, "trainbench run: %s\n", tb_last_error());
        } else
            fprintf(stderr, "trainbench run: %s\n", tb_last_error());
        tb_table_free(&t);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    json_object_put(summary);
    json_object_put(pj);
    tb_lock_release(lock);
    if (interrupted)
        return 130;
    return rc || failures || done < plan->count ? 1 : 0;

usage:
    fprintf(stderr, "trainbench run: %s\n", tb_last_error());
    json_object_put(pj);
    json_object_put(summary);
    tb_lock_release(lock);
    return 2;
}
