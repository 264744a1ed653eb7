/* Data-parallel ranks over MPI.
 *
 * A process started by mpirun or srun (--mpi=pmix) joins MPI_COMM_WORLD;
 * anything else is a world of one, and every call below is a cheap no-op
 * there, so the trainer has one code path.  Every collective is watched: a
 * rank that waits longer than the timeout for the others (a peer died or
 * hangs) prints which rank and host it is and what it waited in, then exits,
 * so the launcher (mpirun, or srun --kill-on-bad-exit) ends the job instead
 * of it hanging until the Slurm time limit. */
#ifndef TB_DIST_H
#define TB_DIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int rank, size;             /* in the world */
    int local_rank, local_size; /* on this node */
    char host[64];
    int mpi;                    /* 1 when MPI was initialised here */
    double timeout_s;           /* collective watchdog; 0 disables */
    double comm_s;              /* time spent in collectives since the last reset */
} tb_dist;

/* True when the environment says this process is one rank of an MPI launch
 * (Open MPI's mpirun or a PMIx/PMI launcher such as srun). */
int tb_dist_launched(void);

/* Joins MPI when launched, else a world of one.  Fails (tb_fail) when MPI is
 * needed but this build has none, or MPI initialisation fails. */
int tb_dist_init(tb_dist *d, double timeout_s);
void tb_dist_finalize(tb_dist *d);

/* Sums in place across ranks (host memory). */
int tb_dist_allreduce_sum_f32(tb_dist *d, float *buf, size_t count, const char *what);
int tb_dist_allreduce_sum_f64(tb_dist *d, double *buf, size_t count, const char *what);
int tb_dist_allreduce_max_f64(tb_dist *d, double *buf, size_t count, const char *what);
int tb_dist_broadcast_f32(tb_dist *d, float *buf, size_t count, int root, const char *what);
int tb_dist_barrier(tb_dist *d, const char *what);
/* root's bytes to every rank (NCCL's unique id, a checkpoint's state). */
int tb_dist_broadcast_bytes(tb_dist *d, void *buf, size_t bytes, int root, const char *what);
/* Root's malloc'd string to every rank (*text replaced on the others). */
int tb_dist_broadcast_text(tb_dist *d, char **text, int root, const char *what);
/* Every rank's string to rank 0: (*all)[r], malloc'd, on rank 0 (the
 * others get an array of NULLs).  Free each and the array. */
int tb_dist_gather_text(tb_dist *d, const char *mine, char ***all);
/* Watches a wait on the other ranks made outside this file (NCCL's
 * communicator set-up) as the collectives here are: past the timeout the
 * rank says so and exits.  begin returns the start time for end. */
double tb_dist_watch_begin(tb_dist *d, const char *what);
void tb_dist_watch_end(tb_dist *d, double t0);

/* Non-blocking sums, to overlap communication with compute (grad_reduce.c).
 * Every rank must start them in the same order.  Time in these calls counts
 * in comm_s: the start, each progress poll and the wait, i.e. the time the
 * training thread spent on communication, not the time it was in flight. */
typedef struct tb_dist_requests tb_dist_requests;
tb_dist_requests *tb_dist_requests_create(void);
void tb_dist_requests_free(tb_dist_requests *q);
/* Starts summing buf in place (host memory) into q. */
int tb_dist_iallreduce_sum_f32(tb_dist *d, tb_dist_requests *q, float *buf, size_t count, const char *what);
/* Lets MPI move the pending sums along (MPI progresses only inside calls);
 * never blocks. */
int tb_dist_requests_progress(tb_dist *d, tb_dist_requests *q, const char *what);
/* Waits for every pending sum, under the watchdog as a blocking collective
 * is, and empties q. */
int tb_dist_requests_wait(tb_dist *d, tb_dist_requests *q, const char *what);

/* Fails on every rank whose `text` (a configuration, a build id) differs from
 * rank 0's, naming the rank and host. */
int tb_dist_check_same(tb_dist *d, const char *what, const char *text);

/* Never two ranks on one GPU.  Every rank passes its GPU's UUID (gpu; the
 * same string whatever GPUs the rank sees, so ranks that each see only their
 * own GPU as device 0 compare correctly) and a description for the record
 * (index, name, PCI bus id); the pairs are gathered to rank 0, and when two
 * ranks of one host hold the same GPU every rank fails alike with a message
 * naming both ranks, the host, the GPU and what to change.  With all not
 * NULL, rank 0 gets every rank's "host<TAB>gpu<TAB>desc" line, rank by rank
 * (free each and the array; the others get NULLs). */
int tb_dist_check_gpus(tb_dist *d, const char *gpu, const char *desc, char ***all);
/* Pure: the first two ranks (*first < *second) whose hosts and GPUs are both
 * the same, given rank i's host and GPU at index i; returns 1 when there
 * are such ranks, else 0.  Ranks with an empty or NULL gpu have none and
 * share nothing. */
int tb_dist_find_shared_gpu(const char *const *hosts, const char *const *gpus, int n, int *first, int *second);

/* Ends every rank now (after a failure on one rank that the others cannot
 * see); prints the message with rank and host first. */
void tb_dist_abort(tb_dist *d, const char *message);

#endif
