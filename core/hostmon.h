/* Host readings from /proc (issue 18): the machine's CPU time (busy, idle,
 * stolen by the hypervisor), its memory, and the CPU time of a process tree
 * (the run: a sweep and its children) with its loader worker threads apart.
 * The parsing functions are pure, for tests on fixed /proc text; the
 * sampling functions take the /proc root so tests can hand them a folder. */
#ifndef TB_CORE_HOSTMON_H
#define TB_CORE_HOSTMON_H

#include <stddef.h>

/* The "cpu" line of /proc/stat, in clock ticks since boot. */
typedef struct {
    unsigned long long busy;  /* user nice system irq softirq (guest is inside user) */
    unsigned long long idle;  /* idle iowait */
    unsigned long long steal; /* time the hypervisor gave to someone else */
    int ncpu;                 /* "cpuN" lines */
} tb_cpu_times;

/* /proc/PID/stat (or /proc/PID/task/TID/stat). */
typedef struct {
    long pid, ppid;
    char comm[32];
    unsigned long long ticks; /* utime + stime */
} tb_proc_stat;

/* 0, or -1 after tb_fail when the text is not what the kernel writes. */
int tb_hostmon_parse_stat(const char *text, tb_cpu_times *t);
/* MemTotal and MemAvailable in bytes. */
int tb_hostmon_parse_meminfo(const char *text, double *total, double *avail);
/* The command may hold blanks and ')': the fields follow the last ')'. */
int tb_hostmon_parse_pidstat(const char *text, tb_proc_stat *p);
/* The MPI or Slurm rank in a NUL-separated environment block
 * (/proc/PID/environ): OMPI_COMM_WORLD_RANK, PMIX_RANK, PMI_RANK,
 * SLURM_PROCID; -1 when none says. */
int tb_hostmon_env_rank(const char *env, size_t size);

/* Loader worker threads are named with this prefix (pthread_setname_np). */
#define TB_LOADER_THREAD_PREFIX "tb-load"

enum { TB_HOSTMON_MAX_PIDS = 64 };

typedef struct {
    double t; /* seconds, CLOCK_MONOTONIC */
    tb_cpu_times cpu;
    double mem_total, mem_avail; /* bytes */
    /* The run's process tree (empty without a root). */
    int npids;
    long pids[TB_HOSTMON_MAX_PIDS];
    unsigned long long run_ticks, loader_ticks;
    int loader_threads; /* threads named TB_LOADER_THREAD_PREFIX* found in the tree */
} tb_host_sample;

/* Reads proc ("/proc") at time t; root > 0: the run's tree is root and its
 * descendants.  -1 after tb_fail when /proc/stat or /proc/meminfo cannot be
 * read (processes that end while being read are skipped). */
int tb_hostmon_sample(const char *proc, long root, double t, tb_host_sample *s);

/* Rates between two samples, in cores' worth of CPU time (1.0 = one core
 * busy the whole time) and % of the machine. */
typedef struct {
    int ncpu;
    double cpu_pct, steal_pct;   /* busy and stolen, % of all cores */
    double busy_cores;           /* all processes */
    double run_cores, loader_cores, other_cores;
    int loader_threads;          /* 0: none found (loader_cores then says nothing) */
    double mem_used, mem_total;  /* bytes; used = total - available */
} tb_host_rates;

/* -1 (after tb_fail) when b is not later than a. */
int tb_hostmon_rates(const tb_host_sample *a, const tb_host_sample *b, long ticks_per_s, tb_host_rates *r);

/* The contention rule (docs/tui-screens.md): the machine is contended when
 * more than 5% of its CPU time is stolen, or when the other processes'
 * busy cores leave the run fewer than `asked` cores (its compute threads
 * plus its loader workers, at most the machine's cores) by half a core or
 * more.  Returns 1 and a sentence in out when contended, else 0 and "". */
int tb_hostmon_contention(const tb_host_rates *r, double asked, char *out, size_t size);

#endif
