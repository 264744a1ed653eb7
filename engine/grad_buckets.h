/* How the contiguous gradient block is cut into all-reduce buckets.
 *
 * Backward writes gradients from the last parameter to the first, so the
 * buckets are cut in that order: bucket 0 holds the last parameters and is
 * the first one complete.  A bucket is a run of whole parameters, contiguous
 * in the gradient block, so it is reduced in place with one call. */
#ifndef TB_GRAD_BUCKETS_H
#define TB_GRAD_BUCKETS_H

#include <stddef.h>

typedef struct {
    size_t offset;   /* first element in the gradient block */
    size_t count;    /* elements */
    int first_param; /* parameters first_param..last_param, inclusive */
    int last_param;
} tb_grad_bucket;

/* Cuts parameters 0..nparams-1 of counts[i] floats each (laid out in index
 * order) into buckets of at most cap_bytes, walking from the last parameter:
 * a bucket closes when the next parameter would take it over the cap.  A
 * parameter larger than the cap gets a bucket of its own; none is split.
 * *out is malloc'd (free it); -1 after tb_fail. */
int tb_grad_buckets_plan(const size_t *counts, int nparams, size_t cap_bytes, tb_grad_bucket **out,
                         int *nbuckets);

#endif
