/* The profiler's device timeline (profile.h) on CUDA: a mark is an event
 * recorded on the backend's one stream, so it is passed when the kernels
 * launched before it have run; the time between two marks is
 * cudaEventElapsedTime's (resolution about half a microsecond).  The
 * events are created on first use and kept for the backend's life. */
#include "core/error.h" // uses: tb_fail
#include "core/profile.h" // uses: tb_prof_device
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda, tb_cuda_check, tb_cuda_prof_device, tb_cuda_of, ...

#include <stdlib.h>

/* 2 marks a span; a resnet50 step with --profile-layers is 114 spans (108
 * layers, the phases and the step; counted in a CPU trace), so a batch of
 * marks covers about 18 steps between waits. */
enum { MARKS = 4096 };

static int mark(void *ctx, int slot)
{
    tb_cuda *c = ctx;
    if (slot < 0 || slot >= MARKS)
        return tb_fail("profile: GPU mark %d outside 0..%d (a bug in profile.c)", slot, MARKS - 1);
    if (!c->marks) {
        c->marks = calloc(MARKS, sizeof *c->marks);
        if (!c->marks)
            return tb_fail("out of memory for %d profiler events", MARKS);
    }
    while (c->nmarks <= slot) {
        if (tb_cuda_check(cudaEventCreate(&c->marks[c->nmarks]), "cudaEventCreate (a profiler mark)"))
            return -1;
        c->nmarks++;
    }
    return tb_cuda_check(cudaEventRecord(c->marks[slot], c->stream), "cudaEventRecord (a profiler mark)");
}

static int wait(void *ctx)
{
    tb_cuda *c = ctx;
    return tb_cuda_check(cudaStreamSynchronize(c->stream), "cudaStreamSynchronize (profiler)");
}

static int elapsed_us(void *ctx, int from, int to, double *us)
{
    tb_cuda *c = ctx;
    if (from < 0 || to < 0 || from >= c->nmarks || to >= c->nmarks)
        return tb_fail("profile: GPU marks %d and %d were never recorded (a bug in profile.c)", from, to);
    float ms = 0;
    if (tb_cuda_check(cudaEventElapsedTime(&ms, c->marks[from], c->marks[to]), "cudaEventElapsedTime (profiler)"))
        return -1;
    *us = 1e3 * (double)ms;
    return 0;
}

int tb_cuda_prof_device(tb_backend *b, struct tb_prof_device *out)
{
    *out = (tb_prof_device){.ctx = tb_cuda_of(b), .capacity = MARKS, .mark = mark, .wait = wait, .elapsed_us = elapsed_us};
    return 0;
}

void tb_cuda_prof_free(tb_cuda *c)
{
    for (int i = 0; i < c->nmarks; i++)
        (void)cudaEventDestroy(c->marks[i]);
    free(c->marks);
    c->marks = NULL;
    c->nmarks = 0;
}
