/* core/hostmon on fixed /proc text and on a folder laid out like /proc:
 * /proc/stat (with and without steal), /proc/meminfo, PID/stat with a
 * hostile command name, rank from an environment block, the run's process
 * tree (a child with a smaller pid than its parent, an unrelated process),
 * loader threads, rates between two samples, and the contention rule. */
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish

#include "core/error.h" // uses: tb_last_error
#include "core/hostmon.h" // uses: tb_cpu_times, tb_hostmon_parse_stat, tb_hostmon_parse_meminfo, tb_proc_stat, ...

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    /* the folders on the way */
    for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(path, 0755);
        *s = '/';
    }
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* A /proc/PID/stat line: utime and stime are fields 14 and 15. */
static void proc(const char *rel, long pid, const char *comm, long ppid, unsigned ut, unsigned st)
{
    char line[512];
    snprintf(line, sizeof line, "%ld (%s) S %ld %ld %ld 0 -1 4194560 100 0 0 0 %u %u 0 0 20 0 1 0 12345 0 0\n", pid,
             comm, ppid, pid, pid, ut, st);
    put(rel, line);
}

static void parsing(void)
{
    tb_cpu_times t;
    const char *stat = "cpu  100 5 50 800 20 3 2 40 0 0\ncpu0 50 2 25 400 10 1 1 20 0 0\n"
                       "cpu1 50 3 25 400 10 2 1 20 0 0\nintr 12345\nctxt 999\n";
    CHECK(tb_hostmon_parse_stat(stat, &t) == 0, "%s", tb_last_error());
    CHECK(t.busy == 160 && t.idle == 820 && t.steal == 40 && t.ncpu == 2, "busy %llu idle %llu steal %llu ncpu %d",
          t.busy, t.idle, t.steal, t.ncpu);
    CHECK(tb_hostmon_parse_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n", &t) == 0 && t.steal == 0 && t.busy == 6,
          "%s", "a kernel without steal");
    CHECK(tb_hostmon_parse_stat("intr 1\n", &t) == -1, "%s", "no cpu line");
    CHECK(tb_hostmon_parse_stat("cpu 1 2 3 4\n", &t) == -1, "%s", "no cpuN line");
    double total, avail;
    CHECK(tb_hostmon_parse_meminfo("MemTotal:       16000 kB\nMemFree:  1000 kB\nMemAvailable:   6000 kB\n", &total,
                                   &avail) == 0 &&
              total == 16000 * 1024.0 && avail == 6000 * 1024.0,
          "meminfo %g %g", total, avail);
    CHECK(tb_hostmon_parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nCached: 200 kB\n", &total, &avail) == 0 &&
              avail == 300 * 1024.0,
          "old kernel: available %g", avail);
    CHECK(tb_hostmon_parse_meminfo("MemFree: 100 kB\n", &total, &avail) == -1, "%s", "no MemTotal");
    tb_proc_stat p;
    /* A command with blanks and parentheses: the fields come after the last ')'. */
    CHECK(tb_hostmon_parse_pidstat("42 (a) b) (c) R 7 42 42 0 -1 0 0 0 0 0 120 30 0 0 20 0\n", &p) == 0 &&
              p.pid == 42 && p.ppid == 7 && p.ticks == 150 && !strcmp(p.comm, "a) b) (c"),
          "pid %ld ppid %ld ticks %llu comm '%s'", p.pid, p.ppid, p.ticks, p.comm);
    CHECK(tb_hostmon_parse_pidstat("42 (x) R 7\n", &p) == -1, "%s", "truncated");
    CHECK(tb_hostmon_parse_pidstat("garbage", &p) == -1, "%s", "garbage");
    const char env[] = "PATH=/bin\0OMPI_COMM_WORLD_RANK=3\0SLURM_PROCID=9\0";
    CHECK(tb_hostmon_env_rank(env, sizeof env - 1) == 3, "%s", "Open MPI's rank first");
    const char env2[] = "SLURM_PROCID=12\0X=1";
    CHECK(tb_hostmon_env_rank(env2, sizeof env2 - 1) == 12, "%s", "Slurm's rank");
    const char env3[] = "PMI_RANK=x\0OMPI_COMM_WORLD_RANK=";
    CHECK(tb_hostmon_env_rank(env3, sizeof env3 - 1) == -1, "%s", "no number, no rank");
}

static void tree(void)
{
    snprintf(root, sizeof root, "%s/tbhostmon.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    CHECK(mkdtemp(root) != NULL, "%s", "mkdtemp");
    put("stat", "cpu  1000 0 0 9000 0 0 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\ncpu2 0 0 0 0\ncpu3 0 0 0 0\n");
    put("meminfo", "MemTotal: 8000 kB\nMemAvailable: 2000 kB\n");
    proc("1/stat", 1, "init", 0, 5, 5);
    proc("100/stat", 100, "trainbench", 1, 10, 0);   /* the sweep */
    proc("120/stat", 120, "trainbench", 100, 200, 0); /* its training child */
    proc("120/task/120/stat", 120, "trainbench", 100, 150, 0);
    proc("120/task/121/stat", 121, "tb-loader-0", 100, 50, 0);
    proc("50/stat", 50, "helper (x)", 120, 40, 0); /* pid wrapped: younger than its parent */
    proc("300/stat", 300, "other", 1, 999, 0);
    put("400/stat", "not a stat line"); /* a process caught half-gone: skipped */
    tb_host_sample a, b;
    CHECK(tb_hostmon_sample(root, 100, 10.0, &a) == 0, "sample: %s", tb_last_error());
    CHECK(a.npids == 3 && a.run_ticks == 250 && a.loader_ticks == 50 && a.loader_threads == 1,
          "tree: %d pids, %llu ticks, loader %llu in %d threads", a.npids, a.run_ticks, a.loader_ticks,
          a.loader_threads);
    CHECK(a.cpu.ncpu == 4 && a.mem_total == 8000 * 1024.0, "%s", "machine");
    /* Two seconds later at 100 ticks/s: the run used 300 ticks (1.5 cores),
     * its loader 100 (0.5); the machine 1600 busy of 2000 (3.2 cores). */
    put("stat", "cpu  2600 0 0 9400 0 0 0 0 0 0\ncpu0 0 0 0 0\ncpu1 0 0 0 0\ncpu2 0 0 0 0\ncpu3 0 0 0 0\n");
    proc("120/stat", 120, "trainbench", 100, 400, 0);
    proc("120/task/121/stat", 121, "tb-loader-0", 100, 150, 0);
    proc("50/stat", 50, "helper (x)", 120, 140, 0);
    CHECK(tb_hostmon_sample(root, 100, 12.0, &b) == 0, "sample: %s", tb_last_error());
    tb_host_rates r;
    CHECK(tb_hostmon_rates(&a, &b, 100, &r) == 0, "%s", tb_last_error());
    CHECK_CLOSE(r.cpu_pct, 80, 1e-9, "cpu %");
    CHECK_CLOSE(r.busy_cores, 3.2, 1e-9, "busy cores");
    CHECK_CLOSE(r.run_cores, 1.5, 1e-9, "run cores");
    CHECK_CLOSE(r.loader_cores, 0.5, 1e-9, "loader cores");
    CHECK_CLOSE(r.other_cores, 1.7, 1e-9, "other cores");
    CHECK_CLOSE(r.mem_used, 6000 * 1024.0, 1e-9, "memory used");
    CHECK(tb_hostmon_rates(&b, &a, 100, &r) == -1, "%s", "samples out of order");
    /* Without a root: the machine only. */
    CHECK(tb_hostmon_sample(root, 0, 1.0, &a) == 0 && a.npids == 0 && a.run_ticks == 0, "%s", "no run");
    /* No /proc there: an error that names the file. */
    CHECK(tb_hostmon_sample("/nonexistent-proc", 0, 1.0, &a) == -1 && strstr(tb_last_error(), "/nonexistent-proc/stat"),
          "%s", tb_last_error());
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "%s", "cleanup");
    /* The real /proc: this process is its own tree. */
    CHECK(tb_hostmon_sample("/proc", (long)getpid(), 1.0, &a) == 0 && a.npids >= 1 && a.pids[0] == (long)getpid(),
          "/proc: %s", tb_last_error());
}

static void contention(void)
{
    char why[256];
    tb_host_rates r = {.ncpu = 8, .steal_pct = 7, .other_cores = 0};
    CHECK(tb_hostmon_contention(&r, 4, why, sizeof why) == 1 && strstr(why, "steals 7%"), "steal: %s", why);
    r.steal_pct = 5; /* at the limit: not yet */
    CHECK(tb_hostmon_contention(&r, 4, why, sizeof why) == 0 && !why[0], "%s", "5% steal");
    r.other_cores = 5.0; /* 3 left for a run that asked for 4 */
    CHECK(tb_hostmon_contention(&r, 4, why, sizeof why) == 1 && strstr(why, "leaving the run 3.0 of the 4"),
          "others: %s", why);
    r.other_cores = 3.6; /* 4.4 left: enough */
    CHECK(tb_hostmon_contention(&r, 4, why, sizeof why) == 0, "%s", "enough cores left");
    r.other_cores = 0.8; /* asked for more than the machine has: capped at 8 */
    CHECK(tb_hostmon_contention(&r, 64, why, sizeof why) == 1 && strstr(why, "of the 8 it asked"), "capped: %s", why);
    CHECK(tb_hostmon_contention(&r, 0, why, sizeof why) == 0, "%s", "no run: only steal counts");
}

int main(void)
{
    parsing();
    tree();
    contention();
    return check_finish();
}
