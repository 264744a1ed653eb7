#include "engine/grad_buckets.h"

#include "core/error.h" // uses: tb_fail

#include <stdlib.h>

int tb_grad_buckets_plan(const size_t *counts, int nparams, size_t cap_bytes, tb_grad_bucket **out,
                         int *nbuckets)
{
    *out = NULL;
    *nbuckets = 0;
    if (nparams < 1)
        return tb_fail("gradient buckets: the model has no parameters");
    size_t cap = cap_bytes / sizeof(float);
    if (cap < 1)
        cap = 1;
    /* Offsets of every parameter in the block, then the walk from the end. */
    size_t *offset = malloc((size_t)nparams * sizeof *offset);
    tb_grad_bucket *b = malloc((size_t)nparams * sizeof *b); /* at most one bucket per parameter */
    if (!offset || !b) {
        free(offset);
        free(b);
        return tb_fail("out of memory planning %d gradient buckets", nparams);
    }
    size_t at = 0;
    for (int i = 0; i < nparams; i++) {
        offset[i] = at;
        at += counts[i];
    }
    int n = 0;
    for (int i = nparams - 1; i >= 0; i--) {
        if (n > 0 && b[n - 1].count + counts[i] <= cap) { /* joins the open bucket, just below it */
            b[n - 1].first_param = i;
            b[n - 1].offset = offset[i];
            b[n - 1].count += counts[i];
            continue;
        }
        b[n++] = (tb_grad_bucket){offset[i], counts[i], i, i};
    }
    free(offset);
    *out = b;
    *nbuckets = n;
    return 0;
}
