/* The NCCL gradient all-reduce (engine/cuda/cuda_nccl.c) on one GPU: a
 * communicator of one rank bootstrapped from its own id, buckets started
 * behind compute-stream work, the wait (async-error polling, timing, the
 * compute stream ordered after it).  With one rank a sum changes nothing,
 * so the gradients must come back as they were.  More ranks need more GPUs
 * and MPI: bench/overlap --device cuda.  Suite 'gpu'; exits 77 without a GPU. */
#include "core/error.h" // uses: tb_last_error
#include "engine/backend.h" // uses: tb_backend
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_device_count, tb_cuda_backend_create
#include "engine/cuda/cuda_nccl.h" // uses: TB_NCCL_ID_BYTES, tb_nccl_unique_id, tb_nccl, tb_nccl_create, ...
#include "tests/check.h" // uses: CHECK, check_finish

#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    if (tb_cuda_device_count() < 1) {
        printf("skipped: %s\n", tb_last_error());
        return 77;
    }
    tb_backend *b = tb_cuda_backend_create(0, "fp32");
    CHECK(b != NULL, "backend: %s", tb_last_error());
    if (!b)
        return check_finish();
    enum { N = 3 << 20 };
    float *host = malloc(N * sizeof *host), *back = malloc(N * sizeof *back);
    for (int i = 0; i < N; i++)
        host[i] = (float)(i % 1000) * 0.001f - 0.5f;
    float *grads = b->alloc(b, N * sizeof(float), "test gradients");
    CHECK(grads && b->upload(b, grads, host, N * sizeof(float)) == 0, "upload: %s", tb_last_error());

    unsigned char id[TB_NCCL_ID_BYTES];
    CHECK(tb_nccl_unique_id(id, "localhost") == 0, "unique id: %s", tb_last_error());
    tb_nccl *n = tb_nccl_create(b, id, 0, 1, "localhost", 30);
    CHECK(n != NULL, "communicator: %s", tb_last_error());
    if (n && grads) {
        for (int step = 0; step < 3; step++) {
            /* Three buckets from the end, as backward would write them. */
            CHECK(tb_nccl_allreduce(n, grads + 2 * (N / 3), N / 3) == 0 &&
                      tb_nccl_allreduce(n, grads + N / 3, N / 3) == 0 && tb_nccl_allreduce(n, grads, N / 3) == 0,
                  "all-reduce: %s", tb_last_error());
            double exposed = -1, span = -1;
            CHECK(tb_nccl_wait(n, &exposed, &span) == 0, "wait: %s", tb_last_error());
            CHECK(exposed >= 0 && span >= 0 && span < 10, "step %d: exposed %g s, span %g s", step, exposed, span);
            printf("step %d: 12 MB in 3 buckets, one rank: exposed wait %.6f s, span %.6f s\n", step, exposed, span);
        }
        double exposed = -1, span = -1;
        CHECK(tb_nccl_wait(n, &exposed, &span) == 0 && exposed == 0 && span == 0, "a wait with nothing pending");
        CHECK(b->synchronize(b) == 0 && b->download(b, back, grads, N * sizeof(float)) == 0, "download: %s",
              tb_last_error());
        int same = 1;
        for (int i = 0; i < N && same; i++)
            same = back[i] == host[i];
        CHECK(same, "one rank's sums are its own gradients");
    }
    tb_nccl_destroy(n);
    if (grads)
        b->release(b, grads);
    b->destroy(b);
    free(host);
    free(back);
    return check_finish();
}
