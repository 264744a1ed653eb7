/* /proc readings; see hostmon.h. */
#include "core/hostmon.h"

#include "core/error.h" // uses: tb_fail, tb_malloc

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tb_hostmon_parse_stat(const char *text, tb_cpu_times *t)
{
    memset(t, 0, sizeof *t);
    unsigned long long v[10] = {0};
    /* Old kernels write fewer fields (steal since 2.6.11): the missing are 0. */
    int n = sscanf(text, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                   &v[5], &v[6], &v[7], &v[8], &v[9]);
    if (n < 4)
        return tb_fail("/proc/stat does not start with a \"cpu\" line of at least 4 numbers");
    t->busy = v[0] + v[1] + v[2] + v[5] + v[6];
    t->idle = v[3] + v[4];
    t->steal = v[7];
    for (const char *l = text; l; l = strchr(l, '\n')) {
        l += *l == '\n';
        if (!strncmp(l, "cpu", 3) && isdigit((unsigned char)l[3]))
            t->ncpu++;
    }
    if (!t->ncpu)
        return tb_fail("/proc/stat lists no cpuN line");
    return 0;
}

/* "Key:   12345 kB" anywhere in text, in bytes; -1 when absent. */
static double meminfo_field(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n')) {
        l += *l == '\n';
        unsigned long long kb;
        if (!strncmp(l, key, k) && l[k] == ':' && sscanf(l + k + 1, "%llu", &kb) == 1)
            return (double)kb * 1024.0;
    }
    return -1;
}

int tb_hostmon_parse_meminfo(const char *text, double *total, double *avail)
{
    *total = meminfo_field(text, "MemTotal");
    *avail = meminfo_field(text, "MemAvailable");
    if (*total < 0)
        return tb_fail("/proc/meminfo has no MemTotal line");
    if (*avail < 0) { /* kernels before 3.14: free plus page cache is the nearest */
        double fr = meminfo_field(text, "MemFree"), ca = meminfo_field(text, "Cached");
        *avail = (fr > 0 ? fr : 0) + (ca > 0 ? ca : 0);
    }
    return 0;
}

int tb_hostmon_parse_pidstat(const char *text, tb_proc_stat *p)
{
    memset(p, 0, sizeof *p);
    const char *open = strchr(text, '('), *close = strrchr(text, ')');
    if (!open || !close || close < open || sscanf(text, "%ld", &p->pid) != 1)
        return tb_fail("not a /proc/PID/stat line: no \"PID (comm)\"");
    size_t n = (size_t)(close - open - 1);
    n = n < sizeof p->comm - 1 ? n : sizeof p->comm - 1;
    memcpy(p->comm, open + 1, n);
    /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    char state;
    unsigned long long ut, st;
    if (sscanf(close + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &state, &p->ppid, &ut, &st) != 4)
        return tb_fail("/proc/%ld/stat: fields after the command are not what the kernel writes", p->pid);
    p->ticks = ut + st;
    return 0;
}

int tb_hostmon_env_rank(const char *env, size_t size)
{
    static const char *const keys[] = {"OMPI_COMM_WORLD_RANK=", "PMIX_RANK=", "PMI_RANK=", "SLURM_PROCID="};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        size_t kl = strlen(keys[k]);
        for (size_t i = 0; i < size;) {
            const char *e = env + i;
            size_t len = strnlen(e, size - i);
            if (len > kl && !strncmp(e, keys[k], kl)) {
                char num[16];
                size_t nl = len - kl < sizeof num - 1 ? len - kl : sizeof num - 1;
                memcpy(num, e + kl, nl);
                num[nl] = '\0';
                char *end;
                long r = strtol(num, &end, 10);
                if (end != num && !*end && r >= 0 && r < 1000000)
                    return (int)r;
            }
            i += len + 1;
        }
    }
    return -1;
}

/* A /proc file whole (their size is not known beforehand), NUL-terminated;
 * NULL with errno set. */
static char *slurp(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            free(buf);
            buf = NULL;
            errno = e;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (buf) {
        buf[n] = '\0';
        if (size)
            *size = n;
    }
    return buf;
}

static int numeric(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* The loader threads' ticks of process pid; *threads counts them. */
static unsigned long long loader_ticks(const char *proc, long pid, int *threads)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%ld/task", proc, pid);
    DIR *d = opendir(path);
    if (!d)
        return 0; /* the process ended */
    unsigned long long sum = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!numeric(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%ld/task/%.20s/stat", proc, pid, e->d_name);
        char *txt = slurp(path, NULL);
        tb_proc_stat ps;
        if (txt && !tb_hostmon_parse_pidstat(txt, &ps) &&
            !strncmp(ps.comm, TB_LOADER_THREAD_PREFIX, strlen(TB_LOADER_THREAD_PREFIX))) {
            sum += ps.ticks;
            ++*threads;
        }
        free(txt);
    }
    closedir(d);
    return sum;
}

static int by_pid(const void *x, const void *y)
{
    long a = ((const tb_proc_stat *)x)->pid, b = ((const tb_proc_stat *)y)->pid;
    return (a > b) - (a < b);
}

int tb_hostmon_sample(const char *proc, long root, double t, tb_host_sample *s)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    char path[4200];
    snprintf(path, sizeof path, "%s/stat", proc);
    char *txt = slurp(path, NULL);
    if (!txt)
        return tb_fail("cannot read %s: %s", path, strerror(errno));
    int rc = tb_hostmon_parse_stat(txt, &s->cpu);
    free(txt);
    snprintf(path, sizeof path, "%s/meminfo", proc);
    if (!rc && !(txt = slurp(path, NULL)))
        return tb_fail("cannot read %s: %s", path, strerror(errno));
    if (!rc) {
        rc = tb_hostmon_parse_meminfo(txt, &s->mem_total, &s->mem_avail);
        free(txt);
    }
    if (rc || root <= 0)
        return rc;
    /* Every process's parent, then the tree under root: a parent is always
     * older than its child, but pids wrap, so repeat until nothing joins. */
    DIR *d = opendir(proc);
    if (!d)
        return tb_fail("cannot list %s: %s", proc, strerror(errno));
    size_t cap = 256, n = 0;
    tb_proc_stat *all = tb_malloc(cap * sizeof *all, "process list");
    for (struct dirent *e; all && (e = readdir(d));) {
        if (!numeric(e->d_name))
            continue;
        snprintf(path, sizeof path, "%s/%.20s/stat", proc, e->d_name);
        txt = slurp(path, NULL);
        if (txt && n == cap) {
            tb_proc_stat *na = cap < 1u << 22 ? realloc(all, 2 * cap * sizeof *all) : NULL;
            if (!na) {
                free(txt);
                free(all);
                all = NULL;
                tb_fail("out of memory listing %zu processes", n);
                break;
            }
            all = na;
            cap *= 2;
        }
        if (txt && !tb_hostmon_parse_pidstat(txt, &all[n]))
            n++;
        free(txt);
    }
    closedir(d);
    if (!all)
        return -1;
    qsort(all, n, sizeof *all, by_pid);
    char *in = calloc(n ? n : 1, 1);
    if (!in) {
        free(all);
        return tb_fail("out of memory listing %zu processes", n);
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (in[i])
                continue;
            tb_proc_stat key = {.pid = all[i].ppid};
            const tb_proc_stat *parent = bsearch(&key, all, n, sizeof *all, by_pid);
            int join = all[i].pid == root || (parent && in[parent - all]);
            if (join) {
                in[i] = changed = 1;
                s->run_ticks += all[i].ticks;
                if (s->npids < TB_HOSTMON_MAX_PIDS)
                    s->pids[s->npids++] = all[i].pid;
                s->loader_ticks += loader_ticks(proc, all[i].pid, &s->loader_threads);
            }
        }
    }
    free(in);
    free(all);
    return 0;
}

int tb_hostmon_rates(const tb_host_sample *a, const tb_host_sample *b, long ticks_per_s, tb_host_rates *r)
{
    memset(r, 0, sizeof *r);
    double dt = b->t - a->t;
    if (!(dt > 0) || ticks_per_s <= 0)
        return tb_fail("host samples %.3f s apart: no rate", dt);
    r->ncpu = b->cpu.ncpu;
    /* Counters only grow; a smaller one (a counter reset, a process tree
     * that lost a member) counts as 0, never as a negative rate. */
#define DELTA(x, y) ((y) > (x) ? (double)((y) - (x)) : 0.0)
    double busy = DELTA(a->cpu.busy, b->cpu.busy), idle = DELTA(a->cpu.idle, b->cpu.idle),
           steal = DELTA(a->cpu.steal, b->cpu.steal);
    double total = busy + idle + steal;
    r->cpu_pct = total > 0 ? 100 * busy / total : 0;
    r->steal_pct = total > 0 ? 100 * steal / total : 0;
    r->busy_cores = total > 0 ? busy / total * r->ncpu : 0;
    r->run_cores = DELTA(a->run_ticks, b->run_ticks) / ticks_per_s / dt;
    r->loader_cores = DELTA(a->loader_ticks, b->loader_ticks) / ticks_per_s / dt;
#undef DELTA
    r->run_cores = r->run_cores > r->ncpu ? r->ncpu : r->run_cores; /* sampled at slightly different times */
    r->loader_cores = r->loader_cores > r->run_cores ? r->run_cores : r->loader_cores;
    r->other_cores = r->busy_cores > r->run_cores ? r->busy_cores - r->run_cores : 0;
    r->loader_threads = b->loader_threads;
    r->mem_total = b->mem_total;
    r->mem_used = b->mem_total - b->mem_avail;
    return 0;
}

int tb_hostmon_contention(const tb_host_rates *r, double asked, char *out, size_t size)
{
    if (size)
        out[0] = '\0';
    if (r->steal_pct > 5) {
        snprintf(out, size, "contended: the hypervisor steals %.0f%% of the CPU time; epoch times will swing",
                 r->steal_pct);
        return 1;
    }
    asked = asked > r->ncpu ? r->ncpu : asked;
    double left = r->ncpu - r->other_cores;
    if (asked > 0 && left < asked - 0.5) {
        snprintf(out, size,
                 "contended: other processes use %.1f of %d cores, leaving the run %.1f of the %.0f it asked for",
                 r->other_cores, r->ncpu, left > 0 ? left : 0, asked);
        return 1;
    }
    return 0;
}
