/* The user's trainbench jobs from squeue, and scancel (slurm/jobs.h).
 * Both run as children through execvp with fixed arguments: nothing from a
 * job's fields ever reaches a shell, and a job id is checked (digits) before
 * it is passed to scancel. */
#include "slurm/jobs.h"

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/json.h" // uses: tb_json_str
#include "core/quote.h" // uses: tb_utf8_valid
#include "rundir/rundir.h" // uses: tb_json_read_file
#include "slurm/sbatch.h" // uses: tb_sbatch_safe_name

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* id|name|state|elapsed|nodes|nodelist|comment|workdir.  The free-text
 * fields a job's owner chooses (name, comment, work dir) can hold '|': a
 * line with a field count other than 8 is refused, and a trainbench job's
 * own name and comment are plain tokens (tb_sbatch_check_token). */
const char TB_SLURM_SQUEUE_FORMAT[] = "%i|%j|%T|%M|%D|%N|%k|%Z";
enum { NFIELDS = 8, MAX_OUTPUT = 4 << 20 };
static const char COMMENT_PREFIX[] = "trainbench:";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

int tb_slurm_id_ok(const char *id)
{
    /* "123" or an array task "123_4" */
    size_t n = strspn(id, "0123456789");
    if (n == 0 || n > 12)
        return 0;
    if (id[n] == '_') {
        size_t m = strspn(id + n + 1, "0123456789");
        return m > 0 && m <= 9 && id[n + 1 + m] == '\0';
    }
    return id[n] == '\0';
}

static int only(const char *s, const char *set) { return s[strspn(s, set)] == '\0'; }

static int copy_field(char *dst, size_t size, const char *src, size_t len, const char *what)
{
    if (len >= size)
        return tb_fail("squeue line: the %s is longer than %zu bytes", what, size - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

int tb_slurm_parse_line(const char *line, tb_slurm_job *j)
{
    memset(j, 0, sizeof *j);
    if (!tb_utf8_valid(line))
        return tb_fail("squeue line: not UTF-8");
    for (const unsigned char *c = (const unsigned char *)line; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return tb_fail("squeue line: a control character (0x%02x)", *c);
    const char *f[NFIELDS + 1];
    size_t len[NFIELDS];
    int n = 0;
    const char *p = line;
    for (;;) {
        size_t l = strcspn(p, "|");
        if (n == NFIELDS)
            return tb_fail("squeue line: more than %d '|'-separated fields (a '|' inside a job's name, comment "
                           "or work dir): '%.80s'",
                           NFIELDS, line);
        f[n] = p;
        len[n++] = l;
        if (!p[l])
            break;
        p += l + 1;
    }
    if (n != NFIELDS)
        return tb_fail("squeue line: %d '|'-separated fields, expected %d: '%.80s'", n, NFIELDS, line);
    char nodes[16], comment[1200];
    if (copy_field(j->id, sizeof j->id, f[0], len[0], "job id") || !tb_slurm_id_ok(j->id))
        return tb_fail("squeue line: job id '%.*s' is not digits", (int)(len[0] > 40 ? 40 : len[0]), f[0]);
    if (copy_field(j->name, sizeof j->name, f[1], len[1], "job name"))
        return -1;
    if (strncmp(j->name, "tb-", 3) != 0)
        return 0; /* another job of the user's: its other fields are not ours to judge */
    if (copy_field(j->state, sizeof j->state, f[2], len[2], "state") || !j->state[0] ||
        !only(j->state, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_"))
        return tb_fail("squeue line of job %s: state '%.*s' is not an upper-case word", j->id,
                       (int)(len[2] > 40 ? 40 : len[2]), f[2]);
    if (copy_field(j->elapsed, sizeof j->elapsed, f[3], len[3], "elapsed time") || !j->elapsed[0] ||
        !only(j->elapsed, "0123456789:-"))
        return tb_fail("squeue line of job %s: elapsed time '%.*s' is not [d-][h:]m:s", j->id,
                       (int)(len[3] > 40 ? 40 : len[3]), f[3]);
    if (copy_field(nodes, sizeof nodes, f[4], len[4], "node count") || !nodes[0] || !only(nodes, "0123456789") ||
        len[4] > 7)
        return tb_fail("squeue line of job %s: node count '%.*s' is not a number", j->id,
                       (int)(len[4] > 40 ? 40 : len[4]), f[4]);
    j->nodes = atoi(nodes);
    if (copy_field(j->nodelist, sizeof j->nodelist, f[5], len[5], "node list"))
        return -1;
    if (!strcmp(j->nodelist, "(null)"))
        j->nodelist[0] = '\0';
    if (copy_field(comment, sizeof comment, f[6], len[6], "comment") ||
        copy_field(j->workdir, sizeof j->workdir, f[7], len[7], "work dir"))
        return -1;
    if (j->workdir[0] != '/')
        return tb_fail("squeue line of job %s: the work dir '%.80s' is not an absolute path", j->id, j->workdir);
    if (!strncmp(comment, COMMENT_PREFIX, sizeof COMMENT_PREFIX - 1)) {
        const char *dir = comment + sizeof COMMENT_PREFIX - 1;
        /* written by `trainbench slurm` as a checked token; anything else is not ours */
        if (!dir[0] || !only(dir, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/@+-%,="))
            return tb_fail("squeue line of job %s: the comment '%.80s' is not trainbench:DIR with a plain DIR",
                           j->id, comment);
        int w = dir[0] == '/' ? snprintf(j->runs_dir, sizeof j->runs_dir, "%s", dir)
                              : snprintf(j->runs_dir, sizeof j->runs_dir, "%s/%s", j->workdir, dir);
        if (w < 0 || (size_t)w >= sizeof j->runs_dir)
            return tb_fail("squeue line of job %s: the runs dir is too long", j->id);
    }
    return 1;
}

int tb_slurm_parse(const char *text, tb_slurm_job *jobs, int max, int *refused)
{
    int n = 0;
    char first[512] = "";
    *refused = 0;
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        char line[4096];
        tb_slurm_job j;
        int rc;
        if (l >= sizeof line)
            rc = tb_fail("squeue line: longer than %zu bytes", sizeof line - 1);
        else {
            memcpy(line, p, l);
            line[l] = '\0';
            if (l && line[l - 1] == '\r')
                line[l - 1] = '\0';
            rc = line[0] ? tb_slurm_parse_line(line, &j) : 0;
        }
        if (rc < 0 && !(*refused)++)
            snprintf(first, sizeof first, "%s", tb_last_error());
        if (rc == 1 && n < max)
            jobs[n++] = j;
        p += l + (p[l] == '\n');
    }
    if (*refused)
        tb_fail("%s", first); /* the first refusal's reason, for the screen */
    return n;
}

int tb_slurm_on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/bin:/bin";
    for (const char *p = path; *p;) {
        size_t l = strcspn(p, ":");
        char f[PATH_MAX];
        struct stat st;
        int w = snprintf(f, sizeof f, "%.*s/%s", (int)(l ? l : 1), l ? p : ".", prog);
        if (w > 0 && (size_t)w < sizeof f && stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0)
            return 1;
        p += l + (p[l] == ':');
    }
    return 0;
}

/* Starts argv[0] from PATH with stdout and stderr into a pipe; stdin from
 * /dev/null.  Returns the pid, the pipe's read end in *fd. */
static pid_t spawn(char *const argv[], int *fd)
{
    if (!tb_slurm_on_path(argv[0]))
        return tb_fail("Slurm not found (%s is not on PATH)", argv[0]);
    int p[2];
    if (pipe(p) != 0)
        return tb_fail("cannot run %s: pipe: %s", argv[0], strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return tb_fail("cannot run %s: fork: %s", argv[0], strerror(errno));
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, 0);
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        /* the user's SQUEUE_* settings (sort, states, format) must not change what is parsed */
        unsetenv("SQUEUE_FORMAT");
        unsetenv("SQUEUE_FORMAT2");
        unsetenv("SQUEUE_STATES");
        unsetenv("SQUEUE_ALL");
        unsetenv("SLURM_TIME_FORMAT");
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    fcntl(p[0], F_SETFD, FD_CLOEXEC);
    if (fcntl(p[0], F_SETFL, O_NONBLOCK) != 0) {
        close(p[0]);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return tb_fail("cannot run %s: fcntl: %s", argv[0], strerror(errno));
    }
    *fd = p[0];
    return pid;
}

int tb_slurm_query_start(tb_slurm_query *q)
{
    static char fmt[sizeof TB_SLURM_SQUEUE_FORMAT + 16];
    snprintf(fmt, sizeof fmt, "--format=%s", TB_SLURM_SQUEUE_FORMAT);
    char *argv[] = {"squeue", "--me", "--noheader", fmt, NULL};
    memset(q, 0, sizeof *q);
    q->fd = -1;
    pid_t pid = spawn(argv, &q->fd);
    if (pid < 0)
        return -1;
    q->pid = pid;
    q->started = now_s();
    return 0;
}

void tb_slurm_query_abort(tb_slurm_query *q)
{
    if (q->pid > 0) {
        kill(q->pid, SIGKILL);
        while (waitpid(q->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (q->fd >= 0)
        close(q->fd);
    free(q->out);
    q->out = NULL;
    q->pid = 0;
    q->fd = -1;
}

/* Reads what is there; 1 at end of file, 0 more to come, -1 too much. */
static int drain(tb_slurm_query *q)
{
    for (;;) {
        if (q->cap - q->len < 4096) {
            if (q->cap >= MAX_OUTPUT)
                return -1;
            size_t cap = q->cap ? q->cap * 2 : 16384;
            char *o = realloc(q->out, cap + 1);
            if (!o)
                return -1;
            q->out = o;
            q->cap = cap;
        }
        ssize_t r = read(q->fd, q->out + q->len, q->cap - q->len);
        if (r > 0) {
            q->len += (size_t)r;
            continue;
        }
        if (r == 0)
            return 1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : 1;
    }
}

int tb_slurm_query_poll(tb_slurm_query *q, tb_slurm_job *jobs, int max, int *njobs, int *refused)
{
    *njobs = 0;
    *refused = 0;
    if (q->pid <= 0)
        return tb_fail("squeue: no query running");
    int d = q->eof ? 1 : drain(q);
    if (d < 0) {
        tb_slurm_query_abort(q);
        return tb_fail("squeue wrote more than %d MiB; not read", MAX_OUTPUT >> 20);
    }
    q->eof = d;
    int status = 0;
    pid_t w = q->eof ? waitpid(q->pid, &status, WNOHANG) : 0;
    if (w == 0 || (w < 0 && errno == EINTR)) {
        if (now_s() - q->started > TB_SLURM_POLL_S) {
            tb_slurm_query_abort(q);
            return tb_fail("squeue did not answer in %d s (is slurmctld reachable?)", TB_SLURM_POLL_S);
        }
        return 0;
    }
    q->pid = 0;
    q->out[q->len] = '\0';
    int rc;
    if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char first[240];
        snprintf(first, sizeof first, "%.*s", (int)strcspn(q->out, "\n"), q->out);
        rc = tb_fail("squeue --me failed (%s %d)%s%s", w >= 0 && WIFEXITED(status) ? "exit" : "signal",
                     w >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : w >= 0 ? WTERMSIG(status) : -1,
                     first[0] ? ": " : "", first);
    } else {
        *njobs = tb_slurm_parse(q->out, jobs, max, refused);
        rc = 1;
    }
    close(q->fd);
    q->fd = -1;
    free(q->out);
    q->out = NULL;
    return rc;
}

int tb_slurm_jobs_list(tb_slurm_job *jobs, int max, int *refused)
{
    tb_slurm_query q;
    int n = 0;
    if (tb_slurm_query_start(&q))
        return -1;
    for (;;) {
        int rc = tb_slurm_query_poll(&q, jobs, max, &n, refused);
        if (rc < 0)
            return -1;
        if (rc == 1)
            return n;
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
}

int tb_slurm_cancel(const char *id)
{
    if (!tb_slurm_id_ok(id))
        return tb_fail("cannot cancel job '%.40s': a job id is digits (or digits_digits)", id);
    char arg[40];
    snprintf(arg, sizeof arg, "%s", id);
    char *argv[] = {"scancel", arg, NULL};
    tb_slurm_query q;
    memset(&q, 0, sizeof q);
    pid_t pid = spawn(argv, &q.fd);
    if (pid < 0)
        return -1;
    q.pid = pid;
    q.started = now_s();
    int status = 0;
    for (;;) {
        if (drain(&q) < 0 || now_s() - q.started > TB_SLURM_POLL_S) {
            tb_slurm_query_abort(&q);
            return tb_fail("scancel %s did not finish in %d s", id, TB_SLURM_POLL_S);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            tb_slurm_query_abort(&q);
            return tb_fail("scancel %s: waitpid: %s", id, strerror(errno));
        }
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, NULL);
    }
    drain(&q);
    char first[240] = "";
    if (q.out) {
        q.out[q.len] = '\0';
        snprintf(first, sizeof first, "%.*s", (int)strcspn(q.out, "\n"), q.out);
    }
    close(q.fd);
    free(q.out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return tb_fail("scancel %s failed%s%s", id, first[0] ? ": " : "", first);
    return 0;
}

int tb_slurm_job_sweep_dir(const tb_slurm_job *j, char *out, size_t size)
{
    if (!j->runs_dir[0])
        return tb_fail("job %s has no trainbench:RUNS_DIR comment (submitted by hand, or by an older trainbench)",
                       j->id);
    DIR *d = opendir(j->runs_dir);
    if (!d)
        return tb_fail("job %s: cannot read its runs dir %s here: %s (not on a shared file system?)", j->id,
                       j->runs_dir, strerror(errno));
    /* Folder names start with the timestamp: the greatest matching one is the newest. */
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof best)
            continue;
        char path[PATH_MAX];
        int w = snprintf(path, sizeof path, "%s/%s/plan.json", j->runs_dir, e->d_name);
        if (w < 0 || (size_t)w >= sizeof path || access(path, R_OK) != 0)
            continue;
        struct json_object *plan = tb_json_read_file(path);
        const char *preset = plan ? tb_json_str(plan, "preset", NULL) : NULL;
        char safe[300], job[310];
        if (preset) {
            tb_sbatch_safe_name(preset, safe, sizeof safe);
            snprintf(job, sizeof job, "tb-%s", safe);
            size_t n = strlen(job);
            /* tb-NAME, or tb-NAME-CONFIG for a per-configuration job */
            if (!strncmp(j->name, job, n) && (j->name[n] == '\0' || j->name[n] == '-') &&
                strcmp(e->d_name, best) > 0)
                snprintf(best, sizeof best, "%s", e->d_name);
        }
        json_object_put(plan);
    }
    closedir(d);
    if (!best[0])
        return tb_fail("job %s: no sweep of its preset under %s yet", j->id, j->runs_dir);
    int w = snprintf(out, size, "%s/%s", j->runs_dir, best);
    if (w < 0 || (size_t)w >= size)
        return tb_fail("job %s: the sweep directory's path is too long", j->id);
    return 0;
}
