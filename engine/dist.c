#include "engine/dist.h"

#include "core/error.h" // uses: tb_fail
#include "tb_config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if TB_HAVE_MPI
#include <mpi.h>
#endif

int tb_dist_launched(void)
{
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

#if TB_HAVE_MPI
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int env_int(const char *a, const char *b, int fallback)
{
    const char *v = getenv(a);
    if (!v && b)
        v = getenv(b);
    return v ? atoi(v) : fallback;
}

/* The watchdog measures waits on this process's own clock: the seconds it was
 * running, advanced by the watchdog thread one tick at a time.  A gap between
 * ticks far longer than a tick means the whole process was stopped (SIGSTOP,
 * as `scontrol suspend` sends to every rank and mpirun) or the machine slept;
 * the gap is not counted, so a job suspended for longer than --rank-timeout is
 * not killed on resume.  A rank stopped or hung alone is still caught: the
 * clocks of the ranks waiting for it keep running. */
#define WATCH_TICK_US 200000
#define WATCH_STOPPED_GAP_S 1.0 /* 5 ticks: a busy scheduler only makes the wait longer, never shorter */
static _Atomic double alive_s;     /* this process's running seconds, as the watchdog last counted them */
static _Atomic double watch_since; /* alive_s when the current collective started; < 0 when none */
static const char *_Atomic watch_what;
static tb_dist *watched;
static pthread_t watchdog_thread;
static atomic_int watchdog_stop;

static void *watchdog(void *arg)
{
    (void)arg;
    double last = now_s();
    while (!atomic_load(&watchdog_stop)) {
        usleep(WATCH_TICK_US);
        double t = now_s(), gap = t - last;
        last = t;
        if (gap < WATCH_STOPPED_GAP_S)
            atomic_store(&alive_s, atomic_load(&alive_s) + gap);
        double since = atomic_load(&watch_since);
        if (since >= 0 && atomic_load(&alive_s) - since > watched->timeout_s) {
            fprintf(stderr,
                    "trainbench: rank %d on %s: waited %.0f s in %s for the other ranks; one of them died or "
                    "hangs; stopping this rank (raise --rank-timeout if a phase legitimately takes longer)\n",
                    watched->rank, watched->host, watched->timeout_s, atomic_load(&watch_what));
            fflush(stderr);
            _exit(3);
        }
    }
    return NULL;
}

static int mpi_check(tb_dist *d, int rc, const char *call, const char *what)
{
    if (rc == MPI_SUCCESS)
        return 0;
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, text, &len);
    return tb_fail("%s (%s) failed on rank %d of %d on %s: %s", call, what, d->rank, d->size, d->host, text);
}

/* Returns the wall-clock start, for comm_s; the watchdog gets the running clock. */
static double watch_begin(const char *what)
{
    atomic_store(&watch_what, what);
    atomic_store(&watch_since, atomic_load(&alive_s));
    return now_s();
}

static void watch_end(tb_dist *d, double t0)
{
    atomic_store(&watch_since, -1.0);
    d->comm_s += now_s() - t0;
}
#endif

int tb_dist_init(tb_dist *d, double timeout_s)
{
    memset(d, 0, sizeof *d);
    d->size = d->local_size = 1;
    d->timeout_s = timeout_s;
    if (gethostname(d->host, sizeof d->host) != 0)
        snprintf(d->host, sizeof d->host, "unknown");
    d->host[sizeof d->host - 1] = '\0';
    if (!tb_dist_launched())
        return 0;
#if TB_HAVE_MPI
    int provided = 0;
    int rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS)
        return tb_fail("MPI_Init_thread failed on %s (error %d); check that the job was started by mpirun or "
                       "srun --mpi=pmix",
                       d->host, rc);
    d->mpi = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    /* Ranks on this node: from MPI itself, else the launcher's variables. */
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &d->local_rank);
        MPI_Comm_size(node, &d->local_size);
        MPI_Comm_free(&node);
    } else {
        d->local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", 0);
        d->local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE", 1);
    }
    if (timeout_s > 0) {
        watched = d;
        atomic_store(&watch_since, -1.0);
        atomic_store(&watchdog_stop, 0);
        if (pthread_create(&watchdog_thread, NULL, watchdog, NULL) != 0)
            return tb_fail("cannot start the rank watchdog thread on rank %d", d->rank);
    }
    return 0;
#else
    return tb_fail("this process was started as one rank of an MPI job, but trainbench was built without MPI "
                   "(configure with -Dmpi=enabled after installing libopenmpi-dev)");
#endif
}

void tb_dist_finalize(tb_dist *d)
{
#if TB_HAVE_MPI
    if (!d->mpi)
        return;
    if (d->timeout_s > 0) {
        atomic_store(&watchdog_stop, 1);
        pthread_join(watchdog_thread, NULL);
    }
    MPI_Finalize();
    d->mpi = 0;
#else
    (void)d;
#endif
}

int tb_dist_allreduce_sum_f32(tb_dist *d, float *buf, size_t count, const char *what)
{
#if TB_HAVE_MPI
    if (!d->mpi || d->size == 1)
        return 0;
    /* MPI counts are int: reduce in chunks below 2^30 elements. */
    for (size_t off = 0; off < count; off += (size_t)1 << 30) {
        int n = (int)(count - off < ((size_t)1 << 30) ? count - off : ((size_t)1 << 30));
        double t0 = watch_begin(what);
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + off, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        watch_end(d, t0);
        if (mpi_check(d, rc, "MPI_Allreduce", what))
            return -1;
    }
#else
    (void)d, (void)buf, (void)count, (void)what;
#endif
    return 0;
}

static int allreduce_f64(tb_dist *d, double *buf, size_t count, int max, const char *what)
{
#if TB_HAVE_MPI
    if (!d->mpi || d->size == 1)
        return 0;
    double t0 = watch_begin(what);
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_DOUBLE, max ? MPI_MAX : MPI_SUM, MPI_COMM_WORLD);
    watch_end(d, t0);
    return mpi_check(d, rc, "MPI_Allreduce", what);
#else
    (void)d, (void)buf, (void)count, (void)max, (void)what;
    return 0;
#endif
}

int tb_dist_allreduce_sum_f64(tb_dist *d, double *buf, size_t count, const char *what)
{
    return allreduce_f64(d, buf, count, 0, what);
}

int tb_dist_allreduce_max_f64(tb_dist *d, double *buf, size_t count, const char *what)
{
    return allreduce_f64(d, buf, count, 1, what);
}

int tb_dist_broadcast_f32(tb_dist *d, float *buf, size_t count, int root, const char *what)
{
    return tb_dist_broadcast_bytes(d, buf, count * sizeof *buf, root, what);
}

int tb_dist_barrier(tb_dist *d, const char *what)
{
#if TB_HAVE_MPI
    if (d->mpi && d->size > 1) {
        double t0 = watch_begin(what);
        int rc = MPI_Barrier(MPI_COMM_WORLD);
        watch_end(d, t0);
        return mpi_check(d, rc, "MPI_Barrier", what);
    }
#else
    (void)d, (void)what;
#endif
    return 0;
}

double tb_dist_watch_begin(tb_dist *d, const char *what)
{
#if TB_HAVE_MPI
    if (d->mpi && d->size > 1)
        return watch_begin(what);
#else
    (void)what;
#endif
    (void)d;
    return 0;
}

void tb_dist_watch_end(tb_dist *d, double t0)
{
#if TB_HAVE_MPI
    if (d->mpi && d->size > 1)
        watch_end(d, t0);
#else
    (void)d, (void)t0;
#endif
}

/* Pending non-blocking sums: MPI requests, grown as buckets start. */
struct tb_dist_requests {
#if TB_HAVE_MPI
    MPI_Request *req;
#endif
    int n, cap;
};

tb_dist_requests *tb_dist_requests_create(void)
{
    tb_dist_requests *q = calloc(1, sizeof *q);
    if (!q)
        tb_fail("out of memory for communication requests");
    return q;
}

void tb_dist_requests_free(tb_dist_requests *q)
{
    if (!q)
        return;
#if TB_HAVE_MPI
    free(q->req);
#endif
    free(q);
}

int tb_dist_iallreduce_sum_f32(tb_dist *d, tb_dist_requests *q, float *buf, size_t count, const char *what)
{
#if TB_HAVE_MPI
    if (!d->mpi || d->size == 1)
        return 0;
    for (size_t off = 0; off < count; off += (size_t)1 << 30) { /* MPI counts are int */
        int n = (int)(count - off < ((size_t)1 << 30) ? count - off : ((size_t)1 << 30));
        if (q->n == q->cap) {
            int cap = q->cap ? 2 * q->cap : 64;
            MPI_Request *r = realloc(q->req, (size_t)cap * sizeof *r);
            if (!r)
                return tb_fail("out of memory for %d communication requests on rank %d", cap, d->rank);
            q->req = r;
            q->cap = cap;
        }
        double t0 = now_s();
        int rc = MPI_Iallreduce(MPI_IN_PLACE, buf + off, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &q->req[q->n]);
        d->comm_s += now_s() - t0;
        if (mpi_check(d, rc, "MPI_Iallreduce", what))
            return -1;
        q->n++;
    }
#else
    (void)d, (void)q, (void)buf, (void)count, (void)what;
#endif
    return 0;
}

int tb_dist_requests_progress(tb_dist *d, tb_dist_requests *q, const char *what)
{
#if TB_HAVE_MPI
    if (!q->n)
        return 0;
    int done = 0;
    double t0 = now_s();
    int rc = MPI_Testall(q->n, q->req, &done, MPI_STATUSES_IGNORE);
    d->comm_s += now_s() - t0;
    if (mpi_check(d, rc, "MPI_Testall", what))
        return -1;
    if (done)
        q->n = 0; /* completed requests are MPI_REQUEST_NULL now */
#else
    (void)d, (void)q, (void)what;
#endif
    return 0;
}

int tb_dist_requests_wait(tb_dist *d, tb_dist_requests *q, const char *what)
{
#if TB_HAVE_MPI
    if (!q->n)
        return 0;
    double t0 = watch_begin(what);
    int rc = MPI_Waitall(q->n, q->req, MPI_STATUSES_IGNORE);
    watch_end(d, t0);
    q->n = 0;
    return mpi_check(d, rc, "MPI_Waitall", what);
#else
    (void)d, (void)q, (void)what;
    return 0;
#endif
}

/* FNV-1a, enough to tell configurations apart. */
static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int tb_dist_check_same(tb_dist *d, const char *what, const char *text)
{
    if (d->size == 1)
        return 0;
    /* Rank 0's hash (as two exact 32-bit halves) goes to every rank; each
     * compares, and a count of mismatches makes every rank fail together. */
    uint64_t h = fnv1a(text);
    double mine[2] = {(double)(h >> 32), (double)(h & 0xffffffffu)}, root[2] = {mine[0], mine[1]};
    int rc = 0;
#if TB_HAVE_MPI
    double t0 = watch_begin(what);
    rc = MPI_Bcast(root, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    watch_end(d, t0);
    if (mpi_check(d, rc, "MPI_Bcast", what))
        return -1;
#endif
    int differs = root[0] != mine[0] || root[1] != mine[1];
    double mismatches = differs;
    if (tb_dist_allreduce_sum_f64(d, &mismatches, 1, what))
        return -1;
    if (differs)
        return tb_fail("rank %d on %s has a different %s than rank 0; start every rank with the same trainbench "
                       "build and options",
                       d->rank, d->host, what);
    if (mismatches > 0)
        return tb_fail("%.0f rank(s) have a different %s than rank 0 (their messages name them); start every rank "
                       "with the same trainbench build and options",
                       mismatches, what);
    return rc;
}

int tb_dist_find_shared_gpu(const char *const *hosts, const char *const *gpus, int n, int *first, int *second)
{
    for (int j = 1; j < n; j++) {
        if (!gpus[j] || !*gpus[j])
            continue;
        for (int i = 0; i < j; i++)
            if (gpus[i] && strcmp(gpus[i], gpus[j]) == 0 && strcmp(hosts[i], hosts[j]) == 0) {
                *first = i;
                *second = j;
                return 1;
            }
    }
    return 0;
}

/* Rank 0: the verdict on the gathered "host\tgpu\tdesc" lines, "" when
 * every rank has its own GPU; malloc'd, NULL when out of memory. */
static char *shared_gpu_verdict(char **lines, int n)
{
    const char **hosts = calloc((size_t)n, sizeof *hosts), **gpus = calloc((size_t)n, sizeof *gpus);
    char **copies = calloc((size_t)n, sizeof *copies);
    char *msg = hosts && gpus && copies ? malloc(1024) : NULL;
    for (int i = 0; msg && i < n; i++) {
        copies[i] = strdup(lines[i] ? lines[i] : "");
        if (!copies[i]) {
            free(msg);
            msg = NULL;
            break;
        }
        char *tab = strchr(copies[i], '\t');
        hosts[i] = copies[i];
        gpus[i] = "";
        if (tab) {
            *tab = '\0';
            gpus[i] = tab + 1;
            char *tab2 = strchr(tab + 1, '\t');
            if (tab2)
                *tab2 = '\0';
        }
    }
    int a, b;
    if (msg && tb_dist_find_shared_gpu(hosts, gpus, n, &a, &b))
        snprintf(msg, 1024,
                 "ranks %d and %d on %s both took GPU %s: trainbench puts one rank on each GPU; give each rank its "
                 "own (Slurm --gpus-per-task=1, or at most as many ranks per node as it has GPUs with "
                 "--ntasks-per-node / -npernode, and no CUDA_VISIBLE_DEVICES that names one GPU for several ranks)",
                 a, b, hosts[a], gpus[a]);
    else if (msg)
        msg[0] = '\0';
    for (int i = 0; copies && i < n; i++)
        free(copies[i]);
    free(copies);
    free((void *)hosts);
    free((void *)gpus);
    return msg;
}

int tb_dist_check_gpus(tb_dist *d, const char *gpu, const char *desc, char ***all)
{
    if (all)
        *all = NULL;
    size_t len = strlen(d->host) + strlen(gpu) + strlen(desc) + 3;
    char *mine = malloc(len), **lines = NULL, *verdict = NULL;
    if (!mine)
        return tb_fail("out of memory gathering the ranks' GPUs");
    snprintf(mine, len, "%s\t%s\t%s", d->host, gpu, desc);
    int rc = tb_dist_gather_text(d, mine, &lines);
    free(mine);
    int oom = 0;
    if (!rc && d->rank == 0 && !(verdict = shared_gpu_verdict(lines, d->size)))
        oom = 1;
    /* Every rank learns the verdict, so all refuse together (rank 0 sends
     * one even when it failed, so the others do not wait for it). */
    if (!rc && tb_dist_broadcast_text(d, &verdict, 0, "the ranks' GPUs"))
        rc = -1;
    if (!rc && oom)
        rc = tb_fail("out of memory comparing the ranks' GPUs");
    if (!rc && verdict && *verdict)
        rc = tb_fail("%s", verdict);
    free(verdict);
    if (!rc && all) {
        *all = lines;
        return 0;
    }
    for (int i = 0; lines && i < d->size; i++)
        free(lines[i]);
    free(lines);
    return rc;
}

void tb_dist_abort(tb_dist *d, const char *message)
{
    fprintf(stderr, "trainbench: rank %d of %d on %s: %s\n", d->rank, d->size, d->host, message);
    fflush(stderr);
#if TB_HAVE_MPI
    if (d->mpi)
        MPI_Abort(MPI_COMM_WORLD, 1);
#endif
    exit(1);
}

int tb_dist_broadcast_bytes(tb_dist *d, void *buf, size_t bytes, int root, const char *what)
{
#if TB_HAVE_MPI
    if (!d->mpi || d->size == 1)
        return 0;
    for (size_t off = 0; off < bytes; off += (size_t)1 << 30) {
        int n = (int)(bytes - off < ((size_t)1 << 30) ? bytes - off : ((size_t)1 << 30));
        double t0 = watch_begin(what);
        int rc = MPI_Bcast((char *)buf + off, n, MPI_BYTE, root, MPI_COMM_WORLD);
        watch_end(d, t0);
        if (mpi_check(d, rc, "MPI_Bcast", what))
            return -1;
    }
#else
    (void)d, (void)buf, (void)bytes, (void)root, (void)what;
#endif
    return 0;
}

int tb_dist_broadcast_text(tb_dist *d, char **text, int root, const char *what)
{
    if (d->size == 1)
        return 0;
    uint64_t len = d->rank == root && *text ? strlen(*text) : 0;
    if (tb_dist_broadcast_bytes(d, &len, sizeof len, root, what))
        return -1;
    if (d->rank != root) {
        free(*text);
        *text = malloc((size_t)len + 1);
        if (!*text)
            return tb_fail("rank %d: out of memory for %s (%llu bytes)", d->rank, what, (unsigned long long)len);
        (*text)[len] = '\0';
    }
    return tb_dist_broadcast_bytes(d, *text, (size_t)len, root, what);
}

int tb_dist_gather_text(tb_dist *d, const char *mine, char ***all)
{
    *all = calloc((size_t)d->size, sizeof **all);
    if (!*all)
        return tb_fail("out of memory gathering from %d ranks", d->size);
    if (d->size == 1) {
        (*all)[0] = strdup(mine);
        return (*all)[0] ? 0 : tb_fail("out of memory");
    }
#if TB_HAVE_MPI
    /* Lengths first, then each rank's text in turn (point to point, so no
     * int overflow of a gathered displacement). */
    long long len = (long long)strlen(mine);
    long long *lens = d->rank == 0 ? calloc((size_t)d->size, sizeof *lens) : NULL;
    double t0 = watch_begin("profile sizes");
    int rc = MPI_Gather(&len, 1, MPI_LONG_LONG, lens, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
    watch_end(d, t0);
    if (mpi_check(d, rc, "MPI_Gather", "profile sizes")) {
        free(lens);
        return -1;
    }
    if (d->rank != 0) {
        t0 = watch_begin("profile events");
        rc = MPI_Send(mine, (int)(len < INT32_MAX ? len : INT32_MAX), MPI_CHAR, 0, 77, MPI_COMM_WORLD);
        watch_end(d, t0);
        return mpi_check(d, rc, "MPI_Send", "profile events");
    }
    (*all)[0] = strdup(mine);
    for (int r = 1; r < d->size && !rc; r++) {
        long long n = lens[r] < INT32_MAX ? lens[r] : INT32_MAX;
        (*all)[r] = malloc((size_t)n + 1);
        if (!(*all)[r]) {
            rc = tb_fail("out of memory for rank %d's profile", r);
            break;
        }
        t0 = watch_begin("profile events");
        rc = MPI_Recv((*all)[r], (int)n, MPI_CHAR, r, 77, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        watch_end(d, t0);
        if (mpi_check(d, rc, "MPI_Recv", "profile events"))
            rc = -1;
        (*all)[r][n] = '\0';
    }
    free(lens);
    return rc ? -1 : 0;
#else
    return tb_fail("a data-parallel run needs MPI");
#endif
}
