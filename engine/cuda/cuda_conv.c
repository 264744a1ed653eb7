/* Convolutions on cuDNN: forward, backward data, backward weights.
 *
 * Algorithm choice, cached per (direction, precision, input shape with its
 * batch, filter geometry) with the descriptors for the life of the backend
 * (key and policy in cuda_policy.h).  For the training batch (the first
 * batch size the backend sees) the first call runs cuDNN's measured search
 * (cudnnFind*AlgorithmEx, which times every algorithm on the real buffers,
 * as PyTorch's cudnn.benchmark does) with a temporary workspace of up to
 * half the free device memory (at most 4 GiB) and keeps the fastest
 * algorithm that succeeded (with TF32 off, the fastest using FMA math
 * only).  Any other batch size (the last partial batch, evaluation batches
 * of another size) takes cuDNN's heuristics (cudnnGet*Algorithm_v7, no
 * timing), preferring an algorithm that fits the workspace already held.
 * The trainer calls the backend's prepare() (cuda_prepare.c) before the
 * first epoch with every convolution call the model will make, at every
 * batch size an epoch and an evaluation run, so the searches and the
 * heuristics happen there, timed apart (result.json "prepare_s"), and the
 * chosen algorithms' shared workspace is sized once; a call prepare was not
 * told about still chooses on its first use here, growing the workspace
 * when it must.  Steady-state steps allocate nothing.
 *
 * Layout and precision: fp32 and tf32 run on the interface's NCHW fp32
 * tensors directly.  bf16 converts x, w and dy to 16-bit NHWC (weights
 * KRSC) in three staging buffers, runs the tensor-core algorithms with fp32
 * accumulation, and converts the output back to fp32 NCHW; the weight
 * gradient comes back from bf16.  The conversions cost three extra passes
 * over the tensors per call; they go away when activations stay 16-bit NHWC
 * between layers (needs an interface change, see docs/architecture.md).
 *
 * The legacy descriptor API is deprecated in cuDNN 9 but present; the graph
 * API (fusing conv + BN statistics + ReLU) is the next step and will be
 * chosen per operation by measurement.  Not measured yet: no GPU here. */
#include "core/error.h" // uses: tb_fail, tb_calloc, tb_fail_prefix
#include "engine/cuda/cuda_internal.h" // uses: tb_cuda, TB_PREC_BF16, TB_PREC_FP16, tb_cuda_conv, ...
#include "engine/cuda/cuda_kernels.h" // uses: tbk_nchw_f32_to_nhwc_16, tbk_nhwc_16_to_nchw_f32
#include "engine/cuda/cuda_policy.h" // uses: tb_cuda_algo_row, tb_cuda_pick_algo, TB_CUDA_CONV_KEY, ...

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* backend.h's tb_conv_dir, which prepare's calls carry */
enum { DIR_FWD = TB_CONV_FWD, DIR_BWD_DATA = TB_CONV_BWD_DATA, DIR_BWD_WEIGHTS = TB_CONV_BWD_WEIGHTS };

static const char *const dir_names[] = {"conv_fwd", "conv_bwd_data", "conv_bwd_weights"};

static int low_precision(const tb_cuda *c) { return c->prec == TB_PREC_BF16 || c->prec == TB_PREC_FP16; }

static void entry_free(tb_cuda_conv *e)
{
    if (e->x)
        cudnnDestroyTensorDescriptor(e->x);
    if (e->y)
        cudnnDestroyTensorDescriptor(e->y);
    if (e->w)
        cudnnDestroyFilterDescriptor(e->w);
    if (e->conv)
        cudnnDestroyConvolutionDescriptor(e->conv);
    free(e);
}

void tb_cuda_conv_cache_free(tb_cuda *c)
{
    while (c->convs) {
        tb_cuda_conv *next = c->convs->next;
        entry_free(c->convs);
        c->convs = next;
    }
}

static int describe(tb_cuda *c, tb_cuda_conv *e, const tb_conv_desc *d, tb_shape xs, tb_shape ys)
{
    const int lp = low_precision(c);
    const cudnnDataType_t type = !lp ? CUDNN_DATA_FLOAT : c->prec == TB_PREC_BF16 ? CUDNN_DATA_BFLOAT16
                                                                                   : CUDNN_DATA_HALF;
    const cudnnTensorFormat_t fmt = lp ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    const cudnnMathType_t math = c->prec == TB_PREC_FP32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH;
    return tb_cudnn_check(cudnnCreateTensorDescriptor(&e->x), "cudnnCreateTensorDescriptor") ||
           tb_cudnn_check(cudnnCreateTensorDescriptor(&e->y), "cudnnCreateTensorDescriptor") ||
           tb_cudnn_check(cudnnCreateFilterDescriptor(&e->w), "cudnnCreateFilterDescriptor") ||
           tb_cudnn_check(cudnnCreateConvolutionDescriptor(&e->conv), "cudnnCreateConvolutionDescriptor") ||
           tb_cudnn_check(cudnnSetTensor4dDescriptor(e->x, fmt, type, xs.n, xs.c, xs.h, xs.w),
                          "cudnnSetTensor4dDescriptor (x)") ||
           tb_cudnn_check(cudnnSetTensor4dDescriptor(e->y, fmt, type, ys.n, ys.c, ys.h, ys.w),
                          "cudnnSetTensor4dDescriptor (y)") ||
           tb_cudnn_check(cudnnSetFilter4dDescriptor(e->w, type, fmt, d->out_c, d->in_c, d->kernel, d->kernel),
                          "cudnnSetFilter4dDescriptor") ||
           tb_cudnn_check(cudnnSetConvolution2dDescriptor(e->conv, d->pad, d->pad, d->stride, d->stride, 1, 1,
                                                          CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT),
                          "cudnnSetConvolution2dDescriptor") ||
           tb_cudnn_check(cudnnSetConvolutionMathType(e->conv, math), "cudnnSetConvolutionMathType");
}

/* A temporary workspace for the search: half the free memory, at most
 * 4 GiB, halved until an allocation succeeds (down to 0: algorithms that
 * need none still run). */
static void *search_workspace(size_t *bytes)
{
    size_t free_b = 0, total_b = 0;
    if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
        (void)cudaGetLastError();
        free_b = 0;
    }
    size_t want = free_b / 2;
    if (want > ((size_t)4 << 30))
        want = (size_t)4 << 30;
    for (; want >= ((size_t)1 << 20); want /= 2) {
        void *p = NULL;
        if (cudaMalloc(&p, want) == cudaSuccess) {
            *bytes = want;
            return p;
        }
        (void)cudaGetLastError();
    }
    *bytes = 0;
    return NULL;
}

/* Keeps row `i` of a ranked answer for e: its algorithm, math and
 * workspace (with grow, the shared one grown to fit when smaller; prepare
 * grows it once for all its entries instead). */
static int keep(tb_cuda *c, tb_cuda_conv *e, const tb_cuda_algo_row *row, int grow)
{
    e->algo = row->algo;
    e->ws_bytes = row->memory;
    e->search_ms = row->time;
    if (tb_cudnn_check(cudnnSetConvolutionMathType(e->conv, (cudnnMathType_t)row->math),
                       "cudnnSetConvolutionMathType"))
        return -1;
    return grow ? tb_cuda_grow(c, &c->ws, &c->ws_bytes, e->ws_bytes, "the convolution workspace") : 0;
}

#define ROW(p) ((tb_cuda_algo_row){(p).status == CUDNN_STATUS_SUCCESS, (int)(p).algo, (p).mathType == CUDNN_FMA_MATH, \
                                   (int)(p).mathType, (p).time, (p).memory})

/* Runs the measured search for one direction on the real buffers and
 * fills e->algo and e->ws_bytes. */
static int search(tb_cuda *c, tb_cuda_conv *e, int dir, const void *x, const void *w, const void *y, int grow)
{
    enum { MAX_ALGOS = 16 };
    tb_cuda_algo_row rows[MAX_ALGOS];
    int returned = 0;
    size_t ws_bytes = 0;
    void *ws = search_workspace(&ws_bytes);
    cudnnStatus_t st;
    const char *call;
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t p[MAX_ALGOS];
        call = "cudnnFindConvolutionForwardAlgorithmEx";
        st = cudnnFindConvolutionForwardAlgorithmEx(c->cudnn, e->x, x, e->w, w, e->conv, e->y, (void *)y, MAX_ALGOS,
                                                    &returned, p, ws, ws_bytes);
        for (int i = 0; i < returned; i++)
            rows[i] = ROW(p[i]);
    } else if (dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t p[MAX_ALGOS];
        call = "cudnnFindConvolutionBackwardDataAlgorithmEx";
        st = cudnnFindConvolutionBackwardDataAlgorithmEx(c->cudnn, e->w, w, e->y, y, e->conv, e->x, (void *)x,
                                                         MAX_ALGOS, &returned, p, ws, ws_bytes);
        for (int i = 0; i < returned; i++)
            rows[i] = ROW(p[i]);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t p[MAX_ALGOS];
        call = "cudnnFindConvolutionBackwardFilterAlgorithmEx";
        st = cudnnFindConvolutionBackwardFilterAlgorithmEx(c->cudnn, e->x, x, e->y, y, e->conv, e->w, (void *)w,
                                                           MAX_ALGOS, &returned, p, ws, ws_bytes);
        for (int i = 0; i < returned; i++)
            rows[i] = ROW(p[i]);
    }
    /* The search ran on the stream; wait before freeing its workspace. */
    cudaError_t sync = cudaStreamSynchronize(c->stream);
    if (ws)
        (void)cudaFree(ws);
    if (tb_cudnn_check(st, call) || tb_cuda_check(sync, "cudaStreamSynchronize after the algorithm search"))
        return -1;
    /* Rows come sorted by time: the first that ran (with TF32 off, using FMA
     * math only). */
    int i = tb_cuda_pick_algo(rows, returned, c->prec == TB_PREC_FP32, SIZE_MAX);
    if (i >= 0)
        return keep(c, e, &rows[i], grow);
    return tb_fail("cuDNN found no algorithm that runs (%d tried, %zu MiB of workspace available)%s", returned,
                   ws_bytes >> 20,
                   c->prec == TB_PREC_FP32 ? " with TF32 off; try --precision tf32 or bf16"
                                           : "; try --precision fp32 or a smaller --batch-size");
}

/* For a batch size other than the training batch: cuDNN's heuristics (no
 * timing, no search workspace), preferring an algorithm whose workspace fits
 * in ws_limit (the shared one already held, or what prepare's searches
 * need).  The heuristics' memory figures are estimates, so the workspace of
 * the chosen algorithm is asked for exactly. */
static int heuristic(tb_cuda *c, tb_cuda_conv *e, int dir, size_t ws_limit, int grow)
{
    enum { MAX_ALGOS = 16 };
    tb_cuda_algo_row rows[MAX_ALGOS];
    int returned = 0;
    cudnnStatus_t st;
    const char *call;
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t p[MAX_ALGOS];
        call = "cudnnGetConvolutionForwardAlgorithm_v7";
        st = cudnnGetConvolutionForwardAlgorithm_v7(c->cudnn, e->x, e->w, e->conv, e->y, MAX_ALGOS, &returned, p);
        for (int i = 0; i < returned; i++)
            rows[i] = ROW(p[i]);
    } else if (dir == DIR_BWD_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t p[MAX_ALGOS];
        call = "cudnnGetConvolutionBackwardDataAlgorithm_v7";
        st = cudnnGetConvolutionBackwardDataAlgorithm_v7(c->cudnn, e->w, e->y, e->conv, e->x, MAX_ALGOS, &returned, p);
        for (int i = 0; i < returned; i++)
            rows[i] = ROW(p[i]);
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t p[MAX_ALGOS];
        call = "cudnnGetConvolutionBackwardFilterAlgorithm_v7";
        st = cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->cudnn, e->x, e->y, e->conv, e->w, MAX_ALGOS, &returned,
                                                           p);
        for (int i = 0; i < returned; i++)
            rows[i] = ROW(p[i]);
    }
    if (tb_cudnn_check(st, call))
        return -1;
    int i = tb_cuda_pick_algo(rows, returned, c->prec == TB_PREC_FP32, ws_limit);
    if (i < 0)
        return tb_fail("cuDNN's heuristics offered no usable algorithm (%d rows)%s", returned,
                       c->prec == TB_PREC_FP32 ? " with TF32 off; try --precision tf32 or bf16"
                                               : "; try --precision fp32");
    rows[i].time = 0;
    if (tb_cudnn_check(cudnnSetConvolutionMathType(e->conv, (cudnnMathType_t)rows[i].math),
                       "cudnnSetConvolutionMathType"))
        return -1;
    size_t need = 0;
    if (dir == DIR_FWD)
        st = cudnnGetConvolutionForwardWorkspaceSize(c->cudnn, e->x, e->w, e->conv, e->y,
                                                     (cudnnConvolutionFwdAlgo_t)rows[i].algo, &need);
    else if (dir == DIR_BWD_DATA)
        st = cudnnGetConvolutionBackwardDataWorkspaceSize(c->cudnn, e->w, e->y, e->conv, e->x,
                                                          (cudnnConvolutionBwdDataAlgo_t)rows[i].algo, &need);
    else
        st = cudnnGetConvolutionBackwardFilterWorkspaceSize(c->cudnn, e->x, e->y, e->conv, e->w,
                                                            (cudnnConvolutionBwdFilterAlgo_t)rows[i].algo, &need);
    if (tb_cudnn_check(st, "cudnnGetConvolution*WorkspaceSize"))
        return -1;
    rows[i].memory = need;
    e->heuristic = 1;
    return keep(c, e, &rows[i], grow);
}

static tb_cuda_conv *lookup(tb_cuda *c, int dir, const tb_conv_desc *d, tb_shape xs)
{
    int key[TB_CUDA_CONV_KEY];
    tb_cuda_conv_key(key, dir, (int)c->prec, xs, d);
    for (tb_cuda_conv *e = c->convs; e; e = e->next)
        if (tb_cuda_conv_key_equal(e->key, key))
            return e;
    tb_cuda_conv *e = tb_calloc(1, sizeof *e, "a convolution cache entry");
    if (!e)
        return NULL;
    memcpy(e->key, key, sizeof key);
    e->algo = -1;
    if (describe(c, e, d, xs, tb_conv_out_shape(d, xs))) {
        entry_free(e);
        return NULL;
    }
    e->next = c->convs;
    c->convs = e;
    return e;
}

int tb_cuda_conv_choose(tb_cuda *c, int dir, const tb_conv_desc *d, tb_shape xs, void *x, void *w, void *y,
                        size_t ws_limit, size_t *ws_need)
{
    tb_cuda_conv *e = lookup(c, dir, d, xs);
    if (!e)
        return -1;
    if (e->algo >= 0)
        ;
    else if (tb_cuda_conv_how(&c->search_batch, xs.n) == TB_CUDA_ALGO_SEARCH ? search(c, e, dir, x, w, y, 0)
                                                                              : heuristic(c, e, dir, ws_limit, 0))
        return -1;
    *ws_need = e->ws_bytes;
    return 0;
}

/* 16-bit staging buffer i, at least `count` elements. */
static int stage(tb_cuda *c, int i, size_t count)
{
    static const char *const what[3] = {"16-bit activations (x)", "16-bit weights", "16-bit activations (y)"};
    return tb_cuda_grow(c, &c->lp[i], &c->lp_bytes[i], count * 2, what[i]);
}

int tb_cuda_conv_reserve_stages(tb_cuda *c, size_t x, size_t w, size_t y)
{
    return low_precision(c) && (stage(c, 0, x) || stage(c, 1, w) || stage(c, 2, y)) ? -1 : 0;
}

static int to16(tb_cuda *c, const float *src, int i, tb_shape s)
{
    return stage(c, i, tb_shape_count(s)) ||
           tb_cuda_check(tbk_nchw_f32_to_nhwc_16(src, c->lp[i], s.n, s.c, s.h, s.w, c->prec == TB_PREC_BF16,
                                                 c->stream),
                         "fp32 NCHW to 16-bit NHWC kernel launch");
}

static int from16(tb_cuda *c, int i, float *dst, tb_shape s)
{
    return tb_cuda_check(tbk_nhwc_16_to_nchw_f32(c->lp[i], dst, s.n, s.c, s.h, s.w, c->prec == TB_PREC_BF16,
                                                 c->stream),
                         "16-bit NHWC to fp32 NCHW kernel launch");
}

/* One direction: x, w, y are the interface's fp32 buffers (which of them is
 * written depends on dir). */
static int conv_run(tb_backend *b, int dir, const tb_conv_desc *d, tb_shape xs, tb_shape ys, float *x, float *w,
                    float *y)
{
    tb_cuda *c = tb_cuda_of(b);
    const char *op = dir_names[dir];
    if (tb_conv_validate(op, d, xs, ys))
        return -1;
    tb_cuda_conv *e = lookup(c, dir, d, xs);
    if (!e)
        return tb_fail_prefix("%s of x " TB_SHAPE_FMT " (%d->%d, %dx%d/%d pad %d)", op, TB_SHAPE_ARG(xs), d->in_c,
                              d->out_c, d->kernel, d->kernel, d->stride, d->pad);
    const int lp = low_precision(c);
    const tb_shape ws_shape = {d->out_c, d->in_c, d->kernel, d->kernel};
    void *X = x, *W = w, *Y = y;
    int rc = 0;
    if (lp) {
        X = NULL; /* set below once staged */
        if (dir != DIR_BWD_DATA)
            rc = to16(c, x, 0, xs);
        else
            rc = stage(c, 0, tb_shape_count(xs));
        if (!rc && dir != DIR_BWD_WEIGHTS)
            rc = to16(c, w, 1, ws_shape);
        else if (!rc)
            rc = stage(c, 1, tb_shape_count(ws_shape));
        if (!rc && dir != DIR_FWD)
            rc = to16(c, y, 2, ys);
        else if (!rc)
            rc = stage(c, 2, tb_shape_count(ys));
        X = c->lp[0];
        W = c->lp[1];
        Y = c->lp[2];
    }
    if (!rc && e->algo < 0)
        rc = tb_cuda_conv_how(&c->search_batch, xs.n) == TB_CUDA_ALGO_SEARCH ? search(c, e, dir, X, W, Y, 1)
                                                                             : heuristic(c, e, dir, c->ws_bytes, 1);
    const float one = 1.0f, zero = 0.0f;
    if (!rc) {
        if (dir == DIR_FWD)
            rc = tb_cudnn_check(cudnnConvolutionForward(c->cudnn, &one, e->x, X, e->w, W, e->conv,
                                                        (cudnnConvolutionFwdAlgo_t)e->algo, c->ws, e->ws_bytes, &zero,
                                                        e->y, Y),
                                "cudnnConvolutionForward");
        else if (dir == DIR_BWD_DATA)
            rc = tb_cudnn_check(cudnnConvolutionBackwardData(c->cudnn, &one, e->w, W, e->y, Y, e->conv,
                                                             (cudnnConvolutionBwdDataAlgo_t)e->algo, c->ws,
                                                             e->ws_bytes, &zero, e->x, X),
                                "cudnnConvolutionBackwardData");
        else
            rc = tb_cudnn_check(cudnnConvolutionBackwardFilter(c->cudnn, &one, e->x, X, e->y, Y, e->conv,
                                                               (cudnnConvolutionBwdFilterAlgo_t)e->algo, c->ws,
                                                               e->ws_bytes, &zero, e->w, W),
                                "cudnnConvolutionBackwardFilter");
    }
    if (!rc && lp) {
        if (dir == DIR_FWD)
            rc = from16(c, 2, y, ys);
        else if (dir == DIR_BWD_DATA)
            rc = from16(c, 0, x, xs);
        else
            rc = from16(c, 1, w, ws_shape);
    }
    if (rc)
        return tb_fail_prefix("%s of x " TB_SHAPE_FMT " (%d->%d, %dx%d/%d pad %d, algorithm %d)", op,
                              TB_SHAPE_ARG(xs), d->in_c, d->out_c, d->kernel, d->kernel, d->stride, d->pad, e->algo);
    return 0;
}

int tb_cuda_conv_fwd(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const float *w, tb_tensor *y)
{
    return conv_run(b, DIR_FWD, d, x->shape, y->shape, x->data, (float *)w, y->data);
}

int tb_cuda_conv_bwd_data(tb_backend *b, const tb_conv_desc *d, const tb_tensor *dy, const float *w, tb_tensor *dx)
{
    return conv_run(b, DIR_BWD_DATA, d, dx->shape, dy->shape, dx->data, (float *)w, dy->data);
}

int tb_cuda_conv_bwd_weights(tb_backend *b, const tb_conv_desc *d, const tb_tensor *x, const tb_tensor *dy,
                             float *dw)
{
    return conv_run(b, DIR_BWD_WEIGHTS, d, x->shape, dy->shape, x->data, dw, dy->data);
}
