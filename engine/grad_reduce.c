#include "engine/grad_reduce.h"

#include "core/error.h" // uses: tb_fail, tb_calloc, tb_malloc
#include "engine/grad_buckets.h" // uses: tb_grad_bucket, tb_grad_buckets_plan
#include "tb_config.h"
#if TB_HAVE_CUDA
#include "engine/cuda/cuda_nccl.h" // uses: tb_nccl, tb_nccl_allreduce, TB_NCCL_ID_BYTES, tb_nccl_unique_id, ...
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct tb_grad_reducer {
    tb_dist *d;
    tb_backend *b;
    tb_model *m;
    int active;        /* more than one rank */
    float *grads;
    tb_grad_bucket *bucket;
    int nbuckets;
    int *bucket_of;    /* per parameter */
    int *waiting;      /* per bucket: gradients not yet written this step */
    unsigned char *done; /* per parameter: written this step */
    int next;          /* the next bucket to start: buckets start in order on every rank */
    tb_dist_requests *requests; /* CPU ranks */
#if TB_HAVE_CUDA
    tb_nccl *nccl;     /* GPU ranks */
#endif
    double first_start; /* CPU: when this step's first bucket started */
    tb_grad_reduce_stats stats;
    char what[64];      /* names the waits in messages */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int start_bucket(tb_grad_reducer *r, int k)
{
    const tb_grad_bucket *bk = &r->bucket[k];
    float *at = r->grads + bk->offset;
#if TB_HAVE_CUDA
    if (r->nccl)
        return tb_nccl_allreduce(r->nccl, at, bk->count);
#endif
    /* The CPU backend computes as it is called; synchronize is a no-op
     * guard that the bucket's gradients are in memory. */
    if (r->b->synchronize(r->b))
        return -1;
    if (k == 0)
        r->first_start = now_s();
    return tb_dist_iallreduce_sum_f32(r->d, r->requests, at, bk->count, r->what);
}

/* Starts every bucket, in order, whose gradients are all written. */
static int start_ready(tb_grad_reducer *r)
{
    while (r->next < r->nbuckets && r->waiting[r->next] == 0)
        if (start_bucket(r, r->next++))
            return -1;
    return r->requests ? tb_dist_requests_progress(r->d, r->requests, r->what) : 0;
}

static int on_grad(void *ctx, int param)
{
    tb_grad_reducer *r = ctx;
    if (r->done[param])
        return tb_fail("internal error: gradient %d reported twice in one backward pass", param);
    r->done[param] = 1;
    r->waiting[r->bucket_of[param]]--;
    return start_ready(r);
}

tb_grad_reducer *tb_grad_reducer_create(tb_dist *d, tb_backend *b, tb_model *m, double bucket_mb, int overlap)
{
    tb_grad_reducer *r = tb_calloc(1, sizeof *r, "the gradient reducer");
    if (!r)
        return NULL;
    r->d = d, r->b = b, r->m = m;
    if (d->size == 1)
        return r; /* nothing to reduce */
    r->active = 1;
    int np = tb_model_param_count(m);
    tb_param *p = tb_model_params(m);
    size_t total = 0, *counts = tb_malloc((size_t)np * sizeof *counts, "gradient bucket plan");
    if (!counts)
        goto fail;
    for (int i = 0; i < np; i++)
        total += counts[i] = p[i].count;
    int rc = tb_grad_buckets_plan(counts, np, (size_t)(bucket_mb * 1e6), &r->bucket, &r->nbuckets);
    free(counts);
    if (rc)
        goto fail;
    r->grads = tb_model_grads(m, &total);
    r->bucket_of = tb_malloc((size_t)np * sizeof *r->bucket_of, "gradient bucket plan");
    r->waiting = tb_calloc((size_t)r->nbuckets, sizeof *r->waiting, "gradient bucket plan");
    r->done = tb_calloc((size_t)np, 1, "gradient bucket plan");
    if (!r->bucket_of || !r->waiting || !r->done)
        goto fail;
    for (int k = 0; k < r->nbuckets; k++)
        for (int i = r->bucket[k].first_param; i <= r->bucket[k].last_param; i++)
            r->bucket_of[i] = k;
    snprintf(r->what, sizeof r->what, "the gradient all-reduce (%d bucket%s)", r->nbuckets,
             r->nbuckets == 1 ? "" : "s");
    r->stats.bytes = (double)total * sizeof(float);
    r->stats.buckets = r->nbuckets;
    if (b->kind == TB_DEVICE_CPU) {
        if (!(r->requests = tb_dist_requests_create()))
            goto fail;
    } else {
#if TB_HAVE_CUDA
        /* Rank 0's NCCL id reaches the others over MPI. */
        unsigned char id[TB_NCCL_ID_BYTES] = {0};
        if ((d->rank == 0 && tb_nccl_unique_id(id, d->host)) ||
            tb_dist_broadcast_bytes(d, id, sizeof id, 0, "the NCCL communicator id"))
            goto fail;
        double t0 = tb_dist_watch_begin(d, "ncclCommInitRank");
        r->nccl = tb_nccl_create(b, id, d->rank, d->size, d->host, d->timeout_s);
        tb_dist_watch_end(d, t0);
        if (!r->nccl)
            goto fail;
#else
        tb_fail("data-parallel training on this device needs NCCL, and this build has no CUDA");
        goto fail;
#endif
    }
    if (overlap)
        tb_model_set_grad_hook(m, on_grad, r);
    return r;
fail:
    tb_grad_reducer_destroy(r);
    return NULL;
}

void tb_grad_reducer_destroy(tb_grad_reducer *r)
{
    if (!r)
        return;
    if (r->active)
        tb_model_set_grad_hook(r->m, NULL, NULL);
#if TB_HAVE_CUDA
    tb_nccl_destroy(r->nccl);
#endif
    tb_dist_requests_free(r->requests);
    free(r->bucket);
    free(r->bucket_of);
    free(r->waiting);
    free(r->done);
    free(r);
}

int tb_grad_reducer_begin(tb_grad_reducer *r)
{
    if (!r->active)
        return 0;
    int np = tb_model_param_count(r->m);
    memset(r->done, 0, (size_t)np);
    for (int k = 0; k < r->nbuckets; k++)
        r->waiting[k] = r->bucket[k].last_param - r->bucket[k].first_param + 1;
    r->next = 0;
    return 0;
}

int tb_grad_reducer_finish(tb_grad_reducer *r)
{
    if (!r->active)
        return 0;
    /* Overlap off (or a gradient the hook never saw): start the rest now. */
    while (r->next < r->nbuckets)
        if (start_bucket(r, r->next++))
            return -1;
    double span = 0;
#if TB_HAVE_CUDA
    if (r->nccl) {
        double exposed = 0;
        if (tb_nccl_wait(r->nccl, &exposed, &span))
            return -1;
        r->d->comm_s += exposed;
    } else
#endif
    {
        if (tb_dist_requests_wait(r->d, r->requests, r->what))
            return -1;
        span = now_s() - r->first_start;
    }
    r->stats.allreduces++;
    r->stats.allreduce_s += span;
    return 0;
}

void tb_grad_reducer_take_stats(tb_grad_reducer *r, tb_grad_reduce_stats *out)
{
    *out = r->stats;
    r->stats.allreduces = 0;
    r->stats.allreduce_s = 0;
}
