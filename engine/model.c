/* ResNet forward and backward passes over the backend interface.
 *
 * The model is built in two phases: layout() walks the architecture and
 * fills shapes and parameter metadata without touching a device (so
 * `model info` needs no backend), then allocate() gives every tensor device
 * memory.  The network is a stem unit, blocks of units with a shortcut, and a
 * head; a unit is convolution + optional batch norm + optional ReLU. */
#include "engine/model.h"

#include "core/error.h" // uses: tb_fail, tb_malloc, tb_calloc, tb_fail_prefix
#include "core/profile.h" // uses: tb_prof_layers, tb_prof_begin, tb_prof_end
#include "core/rng.h" // uses: tb_rng, tb_rng_seed, tb_rng_normal, tb_rng_uniform
#include "engine/backend_check.h" // uses: tb_conv_out_shape

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GRAD_BUFFERS = 4 };

typedef struct {
    char name[40]; /* state_dict prefix of the convolution, e.g. "layer1.0.conv1" */
    char bn_name[40];
    tb_conv_desc d;
    int has_bn, relu;
    int w, gamma, beta;   /* parameter indices (-1 when absent) */
    int rmean, rvar;      /* buffer indices */
    tb_shape out;         /* per image */
    tb_tensor c;          /* convolution output */
    tb_tensor a;          /* unit output; shares c's memory without batch norm */
    float *saved;         /* batch-norm statistics kept for backward */
    tb_workspace ws;
} unit;

typedef struct {
    unit u[3];
    int nu;
    int has_down;
    unit down;
    const tb_tensor *in; /* the previous block's output (or the stem's) */
    tb_tensor out;       /* relu(main + shortcut); the last unit writes here */
} block;

struct tb_model {
    tb_backend *b;
    tb_model_spec spec;
    int max_batch, height, width;
    tb_param *params;
    int nparams, params_cap;
    tb_buffer *buffers;
    int nbuffers, buffers_cap;

    tb_tensor input;
    unit stem;
    int has_maxpool;
    tb_pool_desc maxpool;
    tb_tensor pooled;
    tb_workspace maxpool_ws;
    block *blocks;
    int nblocks;
    tb_pool_desc avgpool;
    tb_workspace avgpool_ws;
    tb_tensor features, dfeatures; /* N x C x 1 x 1 */
    int fc_w, fc_b;
    tb_tensor logits, dlogits;
    /* The first n rows of both, n the last forward's batch: what the loss and
     * the scorers read, so rows left from a larger earlier batch never count. */
    tb_tensor live_logits, live_dlogits;

    float *param_grads;  /* every parameter's gradient, contiguous: one all-reduce */
    size_t param_grad_count;
    size_t grad_elems; /* per buffer: the largest activation */
    float *grad[GRAD_BUFFERS];
    int grad_refs[GRAD_BUFFERS];
    tb_grad_hook grad_hook; /* told as each parameter gradient is done */
    void *grad_hook_ctx;
};

/* ---- layout: shapes and parameter metadata, no device ------------------ */

static int add_param(tb_model *m, const char *name, tb_param_role role, int ndim, const int *dims)
{
    if (m->nparams == m->params_cap) {
        int cap = m->params_cap ? m->params_cap * 2 : 64;
        tb_param *p = realloc(m->params, (size_t)cap * sizeof *p);
        if (!p)
            return tb_fail("out of memory describing model %s", m->spec.name);
        m->params = p;
        m->params_cap = cap;
    }
    tb_param *p = &m->params[m->nparams];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->role = role;
    p->ndim = ndim;
    p->count = 1;
    for (int i = 0; i < ndim; i++) {
        p->dims[i] = dims[i];
        p->count *= (size_t)dims[i];
    }
    return m->nparams++;
}

static int add_buffer(tb_model *m, const char *name, size_t count)
{
    if (m->nbuffers == m->buffers_cap) {
        int cap = m->buffers_cap ? m->buffers_cap * 2 : 64;
        tb_buffer *p = realloc(m->buffers, (size_t)cap * sizeof *p);
        if (!p)
            return tb_fail("out of memory describing model %s", m->spec.name);
        m->buffers = p;
        m->buffers_cap = cap;
    }
    tb_buffer *bf = &m->buffers[m->nbuffers];
    memset(bf, 0, sizeof *bf);
    snprintf(bf->name, sizeof bf->name, "%s", name);
    bf->count = count;
    return m->nbuffers++;
}

/* Lays out one unit reading `in`; names are state_dict prefixes. */
static int layout_unit(tb_model *m, unit *u, tb_shape in, int out_c, int kernel, int stride, int relu,
                       const char *conv_name, const char *bn_name)
{
    char name[64];
    memset(u, 0, sizeof *u);
    snprintf(u->name, sizeof u->name, "%s", conv_name);
    snprintf(u->bn_name, sizeof u->bn_name, "%s", bn_name);
    u->d = (tb_conv_desc){in.c, out_c, kernel, stride, kernel / 2};
    u->relu = relu;
    u->has_bn = m->spec.batch_norm;
    u->out = tb_conv_out_shape(&u->d, in);
    u->out.n = 1;
    if (u->out.h < 1 || u->out.w < 1)
        return tb_fail("model %s: input %dx%d is too small (layer %s would have no output); use a larger input",
                       m->spec.name, m->height, m->width, conv_name);
    snprintf(name, sizeof name, "%s.weight", conv_name);
    u->w = add_param(m, name, TB_PARAM_CONV, 4, (int[]){out_c, in.c, kernel, kernel});
    u->gamma = u->beta = u->rmean = u->rvar = -1;
    if (u->has_bn) {
        snprintf(name, sizeof name, "%s.weight", bn_name);
        u->gamma = add_param(m, name, TB_PARAM_BN_WEIGHT, 1, (int[]){out_c});
        snprintf(name, sizeof name, "%s.bias", bn_name);
        u->beta = add_param(m, name, TB_PARAM_BN_BIAS, 1, (int[]){out_c});
        snprintf(name, sizeof name, "%s.running_mean", bn_name);
        u->rmean = add_buffer(m, name, (size_t)out_c);
        snprintf(name, sizeof name, "%s.running_var", bn_name);
        u->rvar = add_buffer(m, name, (size_t)out_c);
    }
    return (u->w < 0 || (u->has_bn && (u->gamma < 0 || u->beta < 0 || u->rmean < 0 || u->rvar < 0))) ? -1 : 0;
}

static int layout_block(tb_model *m, block *bl, tb_shape in, int planes, int stride, const char *prefix)
{
    char cn[40], bn[40];
    int bottleneck = m->spec.block == TB_BLOCK_BOTTLENECK;
    int out_c = bottleneck ? planes * 4 : planes;
    /* BasicBlock: 3x3/s, 3x3.  Bottleneck (v1.5): 1x1, 3x3/s, 1x1 x4. */
    const int kernels[3] = {bottleneck ? 1 : 3, 3, 1};
    const int strides[3] = {bottleneck ? 1 : stride, bottleneck ? stride : 1, 1};
    const int channels[3] = {planes, bottleneck ? planes : out_c, out_c};
    bl->nu = bottleneck ? 3 : 2;
    tb_shape s = in;
    for (int k = 0; k < bl->nu; k++) {
        snprintf(cn, sizeof cn, "%s.conv%d", prefix, k + 1);
        snprintf(bn, sizeof bn, "%s.bn%d", prefix, k + 1);
        if (layout_unit(m, &bl->u[k], s, channels[k], kernels[k], strides[k], k < bl->nu - 1, cn, bn))
            return -1;
        s = bl->u[k].out;
    }
    bl->has_down = stride != 1 || in.c != out_c;
    if (bl->has_down) {
        snprintf(cn, sizeof cn, "%s.downsample.0", prefix);
        snprintf(bn, sizeof bn, "%s.downsample.1", prefix);
        if (layout_unit(m, &bl->down, in, out_c, 1, stride, 0, cn, bn))
            return -1;
        bl->down.d.pad = 0;
    }
    bl->out.shape = s;
    return 0;
}

static int layout(tb_model *m)
{
    const tb_model_spec *sp = &m->spec;
    tb_shape s = {1, sp->in_channels, m->height, m->width};
    m->input.shape = s;
    int imagenet = sp->stem == TB_STEM_IMAGENET;
    if (layout_unit(m, &m->stem, s, sp->width, imagenet ? 7 : 3, imagenet ? 2 : 1, 1, "conv1", "bn1"))
        return -1;
    s = m->stem.out;
    m->has_maxpool = imagenet;
    if (imagenet) {
        m->maxpool = (tb_pool_desc){TB_POOL_MAX, 3, 2, 1};
        s.h = (s.h + 2 - 3) / 2 + 1;
        s.w = (s.w + 2 - 3) / 2 + 1;
        m->pooled.shape = s;
    }
    m->nblocks = sp->blocks[0] + sp->blocks[1] + sp->blocks[2] + sp->blocks[3];
    m->blocks = calloc((size_t)m->nblocks, sizeof *m->blocks);
    if (!m->blocks)
        return tb_fail("out of memory describing model %s", sp->name);
    int k = 0;
    for (int stage = 0; stage < 4; stage++) {
        for (int i = 0; i < sp->blocks[stage]; i++, k++) {
            char prefix[24];
            snprintf(prefix, sizeof prefix, "layer%d.%d", stage + 1, i);
            int stride = (stage > 0 && i == 0) ? 2 : 1;
            if (layout_block(m, &m->blocks[k], s, sp->width << stage, stride, prefix))
                return -1;
            s = m->blocks[k].out.shape;
        }
    }
    /* Global average pooling: the CIFAR model's avg_pool2d(4) at 32x32 input,
     * torchvision's adaptive pool to 1x1 at any input the model divides. */
    m->avgpool = (tb_pool_desc){TB_POOL_AVG, s.h, s.h, 0};
    if (s.h != s.w)
        return tb_fail("model %s: non-square feature map %dx%d; use a square input", sp->name, s.h, s.w);
    m->features.shape = (tb_shape){1, s.c, 1, 1};
    m->fc_w = add_param(m, "fc.weight", TB_PARAM_FC_WEIGHT, 2, (int[]){sp->classes, s.c});
    m->fc_b = add_param(m, "fc.bias", TB_PARAM_FC_BIAS, 1, (int[]){sp->classes});
    m->logits.shape = (tb_shape){1, sp->classes, 1, 1};
    return (m->fc_w < 0 || m->fc_b < 0) ? -1 : 0;
}

/* ---- model info ---------------------------------------------------------- */

static void info_add(tb_model_info *info, const char *name, const char *kind, tb_shape out, size_t params,
                     uint64_t macs)
{
    tb_layer_info *l = &info->layers[info->layer_count++];
    snprintf(l->name, sizeof l->name, "%s", name);
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    l->out = out;
    l->params = params;
    l->macs = macs;
    info->macs_per_image += macs;
}

static void info_unit(const tb_model *m, tb_model_info *info, const unit *u, int shortcut)
{
    tb_shape o = u->out;
    info_add(info, u->name, "conv", o, m->params[u->w].count,
             (uint64_t)o.c * o.h * o.w * u->d.in_c * u->d.kernel * u->d.kernel);
    if (shortcut)
        info->shortcut_convs++;
    else
        info->conv_layers++;
    if (u->has_bn) {
        info_add(info, u->bn_name, "bn", o, m->params[u->gamma].count * 2, 0);
        info->bn_layers++;
    }
    if (u->relu)
        info_add(info, "relu", "relu", o, 0, 0);
}

int tb_model_describe(const tb_model_spec *spec, int height, int width, tb_model_info *out)
{
    memset(out, 0, sizeof *out);
    tb_model m = {0};
    m.spec = *spec;
    m.height = height;
    m.width = width;
    if (layout(&m)) {
        free(m.params);
        free(m.buffers);
        free(m.blocks);
        return -1;
    }
    out->layers = calloc((size_t)(8 + m.nblocks * 12), sizeof *out->layers);
    if (!out->layers) {
        free(m.params);
        free(m.buffers);
        free(m.blocks);
        return tb_fail("out of memory describing model %s", spec->name);
    }
    info_unit(&m, out, &m.stem, 0);
    if (m.has_maxpool)
        info_add(out, "maxpool", "maxpool", m.pooled.shape, 0, 0);
    for (int i = 0; i < m.nblocks; i++) {
        const block *bl = &m.blocks[i];
        for (int k = 0; k < bl->nu; k++)
            info_unit(&m, out, &bl->u[k], 0);
        if (bl->has_down)
            info_unit(&m, out, &bl->down, 1);
        info_add(out, "add+relu", "add", bl->out.shape, 0, 0);
    }
    info_add(out, "avgpool", "avgpool", m.features.shape, 0, 0);
    info_add(out, "fc", "fc", m.logits.shape, m.params[m.fc_w].count + m.params[m.fc_b].count,
             (uint64_t)m.params[m.fc_w].count);
    out->fc_layers = 1;
    out->fc_inputs = m.features.shape.c;
    for (int i = 0; i < m.nparams; i++)
        out->params += m.params[i].count;
    out->gradients = out->params;
    for (int i = 0; i < m.nbuffers; i++)
        out->buffers += m.buffers[i].count;
    free(m.params);
    free(m.buffers);
    free(m.blocks);
    return 0;
}

void tb_model_info_free(tb_model_info *info)
{
    free(info->layers);
    info->layers = NULL;
}

/* ---- allocation and initialisation ------------------------------------- */

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Activations stay in the backend's native layout from layer to layer;
 * what the host or the classifier reads (input, pooled features, logits)
 * is plain. */
static int alloc_tensor_in(tb_model *m, tb_tensor *t, tb_shape per_image, tb_layout layout, const char *what)
{
    t->shape = per_image;
    t->shape.n = m->max_batch;
    t->layout = layout;
    t->data = m->b->alloc(m->b, tb_shape_count(t->shape) * sizeof(float), what);
    m->grad_elems = max_size(m->grad_elems, tb_shape_count(t->shape));
    return t->data ? 0 : -1;
}

static int alloc_tensor(tb_model *m, tb_tensor *t, tb_shape per_image, const char *what)
{
    return alloc_tensor_in(m, t, per_image, m->b->native_layout, what);
}

/* `out` is where the unit's output lives when the caller provides it (the
 * last unit of a block writes straight into the block output). */
static int alloc_unit(tb_model *m, unit *u, const tb_tensor *out)
{
    tb_backend *b = m->b;
    if (!u->has_bn && out) {
        u->c = *out;
    } else if (alloc_tensor(m, &u->c, u->out, u->name)) {
        return -1;
    }
    if (out)
        u->a = *out;
    else if (!u->has_bn)
        u->a = u->c;
    else if (alloc_tensor(m, &u->a, u->out, u->bn_name))
        return -1;
    if (u->has_bn) {
        u->saved = b->alloc(b, 2 * (size_t)u->out.c * sizeof(float), u->bn_name);
        if (!u->saved)
            return -1;
    }
    return 0;
}

static void init_param(const tb_model *m, const tb_param *p, int index, uint64_t seed, float *host)
{
    tb_rng r;
    tb_rng_seed(&r, seed, (uint64_t)index, 0x5eed, 0);
    switch (p->role) {
    case TB_PARAM_CONV: {
        int fan_in = p->dims[1] * p->dims[2] * p->dims[3];
        int fan_out = p->dims[0] * p->dims[2] * p->dims[3];
        if (m->spec.torchvision_init) { /* kaiming_normal_(mode="fan_out", nonlinearity="relu") */
            double std = sqrt(2.0 / fan_out);
            for (size_t i = 0; i < p->count; i++)
                host[i] = (float)(std * tb_rng_normal(&r));
            return;
        }
        /* nn.Conv2d default: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
        double bound = 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < p->count; i++)
            host[i] = (float)((2.0 * tb_rng_uniform(&r) - 1.0) * bound);
        return;
    }
    case TB_PARAM_FC_WEIGHT:
    case TB_PARAM_FC_BIAS: { /* nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)) for both */
        int fan_in = m->params[m->fc_w].dims[1];
        double bound = 1.0 / sqrt((double)fan_in);
        for (size_t i = 0; i < p->count; i++)
            host[i] = (float)((2.0 * tb_rng_uniform(&r) - 1.0) * bound);
        return;
    }
    case TB_PARAM_BN_WEIGHT:
        for (size_t i = 0; i < p->count; i++)
            host[i] = 1.0f;
        return;
    case TB_PARAM_BN_BIAS:
        memset(host, 0, p->count * sizeof *host);
        return;
    }
}

static int allocate(tb_model *m, uint64_t seed)
{
    tb_backend *b = m->b;
    size_t largest = 0;
    for (int i = 0; i < m->nparams; i++)
        largest = max_size(largest, m->params[i].count);
    for (int i = 0; i < m->nbuffers; i++)
        largest = max_size(largest, m->buffers[i].count);
    /* Gradients live in one block, in parameter order, so data-parallel
     * training reduces them with one call (or a few buckets). */
    for (int i = 0; i < m->nparams; i++)
        m->param_grad_count += m->params[i].count;
    m->param_grads = b->alloc(b, m->param_grad_count * sizeof(float), "parameter gradients");
    float *host = m->param_grads ? tb_malloc(largest * sizeof(float), "parameter initialisation") : NULL;
    if (!host)
        return -1;
    int rc = 0;
    size_t offset = 0;
    for (int i = 0; i < m->nparams && !rc; i++) {
        tb_param *p = &m->params[i];
        p->data = b->alloc(b, p->count * sizeof(float), p->name);
        p->grad = m->param_grads + offset;
        offset += p->count;
        if (!p->data) {
            rc = -1;
            break;
        }
        init_param(m, p, i, seed, host);
        rc = b->upload(b, p->data, host, p->count * sizeof(float));
    }
    for (int i = 0; i < m->nbuffers && !rc; i++) {
        tb_buffer *bf = &m->buffers[i];
        int is_var = strstr(bf->name, "running_var") != NULL;
        for (size_t k = 0; k < bf->count; k++)
            host[k] = is_var ? 1.0f : 0.0f;
        bf->data = b->alloc(b, bf->count * sizeof(float), bf->name);
        rc = bf->data ? b->upload(b, bf->data, host, bf->count * sizeof(float)) : -1;
    }
    free(host);
    if (rc)
        return -1;

    if (alloc_tensor_in(m, &m->input, m->input.shape, TB_LAYOUT_PLAIN, "input batch") ||
        alloc_unit(m, &m->stem, NULL))
        return -1;
    const tb_tensor *prev = &m->stem.a;
    if (m->has_maxpool) {
        if (alloc_tensor(m, &m->pooled, m->pooled.shape, "max-pool output"))
            return -1;
        prev = &m->pooled;
    }
    for (int i = 0; i < m->nblocks; i++) {
        block *bl = &m->blocks[i];
        bl->in = prev;
        if (alloc_tensor(m, &bl->out, bl->out.shape, "block output"))
            return -1;
        for (int k = 0; k < bl->nu; k++)
            if (alloc_unit(m, &bl->u[k], k == bl->nu - 1 ? &bl->out : NULL))
                return -1;
        if (bl->has_down && alloc_unit(m, &bl->down, NULL))
            return -1;
        prev = &bl->out;
    }
    if (alloc_tensor_in(m, &m->features, m->features.shape, TB_LAYOUT_PLAIN, "pooled features") ||
        alloc_tensor_in(m, &m->dfeatures, m->features.shape, TB_LAYOUT_PLAIN, "pooled feature gradient") ||
        alloc_tensor_in(m, &m->logits, m->logits.shape, TB_LAYOUT_PLAIN, "logits") ||
        alloc_tensor_in(m, &m->dlogits, m->logits.shape, TB_LAYOUT_PLAIN, "logit gradient"))
        return -1;
    m->live_logits = m->logits; /* until the first forward: the whole max_batch */
    m->live_dlogits = m->dlogits;
    for (int i = 0; i < GRAD_BUFFERS; i++) {
        m->grad[i] = b->alloc(b, m->grad_elems * sizeof(float), "activation gradients");
        if (!m->grad[i])
            return -1;
    }
    return 0;
}

tb_model *tb_model_create(tb_backend *b, const tb_model_spec *spec, int max_batch, int height, int width,
                          uint64_t seed)
{
    tb_model *m = tb_calloc(1, sizeof *m, "model");
    if (!m)
        return NULL;
    m->b = b;
    m->spec = *spec;
    m->max_batch = max_batch;
    m->height = height;
    m->width = width;
    if (layout(m) || allocate(m, seed)) {
        tb_fail_prefix("building %s for batch %d at %dx%d", spec->name, max_batch, height, width);
        tb_model_destroy(m);
        return NULL;
    }
    return m;
}

static void release(tb_backend *b, void *p)
{
    if (p)
        b->release(b, p);
}

static void free_unit(tb_backend *b, unit *u, const tb_tensor *shared_out)
{
    if (!shared_out || u->c.data != shared_out->data)
        release(b, u->c.data);
    if (u->a.data != u->c.data && (!shared_out || u->a.data != shared_out->data))
        release(b, u->a.data);
    release(b, u->saved);
    tb_workspace_free(b, &u->ws);
}

void tb_model_destroy(tb_model *m)
{
    if (!m)
        return;
    tb_backend *b = m->b;
    for (int i = 0; i < m->nparams; i++) {
        release(b, m->params[i].data);
        release(b, m->params[i].state[0]);
        release(b, m->params[i].state[1]);
    }
    release(b, m->param_grads);
    for (int i = 0; i < m->nbuffers; i++)
        release(b, m->buffers[i].data);
    release(b, m->input.data);
    free_unit(b, &m->stem, NULL);
    release(b, m->pooled.data);
    tb_workspace_free(b, &m->maxpool_ws);
    for (int i = 0; m->blocks && i < m->nblocks; i++) {
        block *bl = &m->blocks[i];
        for (int k = 0; k < bl->nu; k++)
            free_unit(b, &bl->u[k], &bl->out);
        if (bl->has_down)
            free_unit(b, &bl->down, NULL);
        release(b, bl->out.data);
    }
    tb_workspace_free(b, &m->avgpool_ws);
    release(b, m->features.data);
    release(b, m->dfeatures.data);
    release(b, m->logits.data);
    release(b, m->dlogits.data);
    for (int i = 0; i < GRAD_BUFFERS; i++)
        release(b, m->grad[i]);
    free(m->params);
    free(m->buffers);
    free(m->blocks);
    free(m);
}

/* ---- forward ------------------------------------------------------------- */

/* The first n images of a max_batch-sized tensor. */
static tb_tensor first_n(const tb_tensor *t, int n)
{
    tb_tensor r = *t;
    r.shape.n = n;
    return r;
}

static float *P(tb_model *m, int i) { return m->params[i].data; }
static float *G(tb_model *m, int i) { return m->params[i].grad; }

/* Tells the hook that parameter i's gradient is done (i < 0: absent). */
static int grad_done(tb_model *m, int i)
{
    if (!m->grad_hook || i < 0)
        return 0;
    if (m->grad_hook(m->grad_hook_ctx, i))
        return tb_fail_prefix("after the gradient of %s", m->params[i].name);
    return 0;
}
static float *B(tb_model *m, int i) { return m->buffers[i].data; }

/* --profile-layers: a span per unit, the device synchronised so the span is
 * the unit's own time.  Off: one branch. */
static double layer_begin(const char *dir, const char *name, char *label, size_t size)
{
    if (!tb_prof_layers)
        return 0;
    snprintf(label, size, "%s %s", dir, name);
    return tb_prof_begin(label);
}

static int layer_end(tb_backend *b, const char *label, double t0, int rc)
{
    if (!tb_prof_layers)
        return rc;
    if (!rc && b->synchronize(b))
        rc = -1;
    tb_prof_end(label, "layer", t0);
    return rc;
}

static int unit_forward_body(tb_model *m, unit *u, const tb_tensor *x, int n, int training);

static int unit_forward(tb_model *m, unit *u, const tb_tensor *x, int n, int training)
{
    char label[80];
    double t0 = layer_begin("fwd", u->name, label, sizeof label);
    return layer_end(m->b, label, t0, unit_forward_body(m, u, x, n, training));
}

static int unit_forward_body(tb_model *m, unit *u, const tb_tensor *x, int n, int training)
{
    tb_backend *b = m->b;
    tb_tensor X = first_n(x, n), C = first_n(&u->c, n), A = first_n(&u->a, n);
    tb_bn_desc bn = {0.1f, 1e-5f};
    if (b->conv_fwd(b, &u->d, &X, P(m, u->w), &C))
        return tb_fail_prefix("%s forward", u->name);
    int rc = 0;
    if (u->has_bn && training)
        rc = b->bn_fwd_train(b, &bn, &C, P(m, u->gamma), P(m, u->beta), B(m, u->rmean), B(m, u->rvar), u->saved,
                             &A, u->relu, &u->ws);
    else if (u->has_bn)
        rc = b->bn_fwd_infer(b, &bn, &C, P(m, u->gamma), P(m, u->beta), B(m, u->rmean), B(m, u->rvar), &A,
                             u->relu);
    else if (u->relu)
        rc = b->relu_fwd(b, &C, &A);
    return rc ? tb_fail_prefix("%s forward", u->has_bn ? u->bn_name : u->name) : 0;
}

int tb_model_forward(tb_model *m, int n, int training)
{
    tb_backend *b = m->b;
    if (n < 1 || n > m->max_batch)
        return tb_fail("forward of %d images on a model built for batches of at most %d", n, m->max_batch);
    if (unit_forward(m, &m->stem, &m->input, n, training))
        return -1;
    if (m->has_maxpool) {
        tb_tensor X = first_n(&m->stem.a, n), Y = first_n(&m->pooled, n);
        if (b->pool_fwd(b, &m->maxpool, &X, &Y, &m->maxpool_ws))
            return tb_fail_prefix("maxpool forward");
    }
    for (int i = 0; i < m->nblocks; i++) {
        block *bl = &m->blocks[i];
        const tb_tensor *x = bl->in;
        for (int k = 0; k < bl->nu; k++) {
            if (unit_forward(m, &bl->u[k], x, n, training))
                return -1;
            x = &bl->u[k].a;
        }
        const tb_tensor *shortcut = bl->in;
        if (bl->has_down) {
            if (unit_forward(m, &bl->down, bl->in, n, training))
                return -1;
            shortcut = &bl->down.a;
        }
        tb_tensor S = first_n(shortcut, n), O = first_n(&bl->out, n);
        if (b->add(b, &O, &S, &O, 1))
            return tb_fail_prefix("block %d residual add", i);
    }
    tb_tensor X = first_n(&m->blocks[m->nblocks - 1].out, n), F = first_n(&m->features, n);
    tb_tensor L = first_n(&m->logits, n);
    m->live_logits = L;
    m->live_dlogits = first_n(&m->dlogits, n);
    if (b->pool_fwd(b, &m->avgpool, &X, &F, &m->avgpool_ws))
        return tb_fail_prefix("average pool forward");
    char label[80];
    double t0 = layer_begin("fwd", "fc", label, sizeof label);
    if (layer_end(b, label, t0, b->fc_fwd(b, &F, P(m, m->fc_w), P(m, m->fc_b), &L)))
        return tb_fail_prefix("fc forward");
    return 0;
}

/* ---- backward ------------------------------------------------------------ */

/* Activation gradients live in a few reference-counted scratch buffers,
 * each as large as the largest activation, handed out as the backward pass
 * walks the network. */
static int grad_acquire(tb_model *m)
{
    for (int i = 0; i < GRAD_BUFFERS; i++)
        if (m->grad_refs[i] == 0) {
            m->grad_refs[i] = 1;
            return i;
        }
    return tb_fail("internal error: all %d activation-gradient buffers in use", GRAD_BUFFERS);
}

static void grad_release(tb_model *m, int g) { m->grad_refs[g]--; }

static tb_tensor grad_tensor(const tb_model *m, int g, tb_shape per_image, int n)
{
    tb_tensor t = {per_image, m->grad[g], m->b->native_layout}; /* as the activations */
    t.shape.n = n;
    return t;
}

/* Backward through one unit: g_in holds the gradient of the unit output and
 * is released; with need_dx, *g_out receives the gradient of the input x. */
static int unit_backward_body(tb_model *m, unit *u, const tb_tensor *x, int n, int g_in, int need_dx, int *g_out);

static int unit_backward(tb_model *m, unit *u, const tb_tensor *x, int n, int g_in, int need_dx, int *g_out)
{
    char label[80];
    double t0 = layer_begin("bwd", u->name, label, sizeof label);
    return layer_end(m->b, label, t0, unit_backward_body(m, u, x, n, g_in, need_dx, g_out));
}

static int unit_backward_body(tb_model *m, unit *u, const tb_tensor *x, int n, int g_in, int need_dx, int *g_out)
{
    tb_backend *b = m->b;
    tb_bn_desc bn = {0.1f, 1e-5f};
    tb_tensor X = first_n(x, n), A = first_n(&u->a, n), C = first_n(&u->c, n);
    tb_tensor dA = grad_tensor(m, g_in, u->out, n);
    int g_c = g_in;
    if (u->has_bn) {
        if ((g_c = grad_acquire(m)) < 0)
            return -1;
        tb_tensor dC = grad_tensor(m, g_c, u->out, n);
        if (b->bn_bwd(b, &bn, &C, &dA, P(m, u->gamma), u->saved, &A, u->relu, &u->ws, &dC, G(m, u->gamma),
                      G(m, u->beta)))
            return tb_fail_prefix("%s backward", u->bn_name);
        grad_release(m, g_in);
        if (grad_done(m, u->beta) || grad_done(m, u->gamma))
            return -1;
    } else if (u->relu && b->relu_bwd(b, &A, &dA, &dA)) {
        return tb_fail_prefix("%s relu backward", u->name);
    }
    tb_tensor dC = grad_tensor(m, g_c, u->out, n);
    if (b->conv_bwd_weights(b, &u->d, &X, &dC, G(m, u->w)))
        return tb_fail_prefix("%s backward (weights)", u->name);
    if (grad_done(m, u->w))
        return -1;
    if (need_dx) {
        if ((*g_out = grad_acquire(m)) < 0)
            return -1;
        tb_tensor dX = grad_tensor(m, *g_out, x->shape, n);
        if (b->conv_bwd_data(b, &u->d, &dC, P(m, u->w), &dX))
            return tb_fail_prefix("%s backward (data)", u->name);
    }
    grad_release(m, g_c);
    return 0;
}

static int block_backward(tb_model *m, block *bl, int n, int g_out, int need_dx, int *g_dx)
{
    tb_backend *b = m->b;
    tb_tensor O = first_n(&bl->out, n), dO = grad_tensor(m, g_out, bl->out.shape, n);
    if (b->relu_bwd(b, &O, &dO, &dO))
        return tb_fail_prefix("residual relu backward");
    /* The gradient of the sum feeds both the shortcut and the main path. */
    m->grad_refs[g_out]++;
    int g_short = g_out;
    if (bl->has_down && unit_backward(m, &bl->down, bl->in, n, g_out, need_dx, &g_short))
        return -1;
    int g = g_out;
    for (int k = bl->nu - 1; k >= 0; k--) {
        const tb_tensor *x = k ? &bl->u[k - 1].a : bl->in;
        if (unit_backward(m, &bl->u[k], x, n, g, k > 0 || need_dx, &g))
            return -1;
    }
    if (!need_dx) {
        if (!bl->has_down)
            grad_release(m, g_short);
        return 0;
    }
    tb_tensor dX = grad_tensor(m, g, bl->in->shape, n), dS = grad_tensor(m, g_short, bl->in->shape, n);
    if (b->add(b, &dX, &dS, &dX, 0))
        return tb_fail_prefix("residual gradient add");
    grad_release(m, g_short);
    *g_dx = g;
    return 0;
}

int tb_model_backward(tb_model *m, int n)
{
    tb_backend *b = m->b;
    if (n < 1 || n > m->max_batch)
        return tb_fail("backward of %d images on a model built for batches of at most %d", n, m->max_batch);
    memset(m->grad_refs, 0, sizeof m->grad_refs);
    tb_tensor F = first_n(&m->features, n), dF = first_n(&m->dfeatures, n), dL = first_n(&m->dlogits, n);
    char label[80];
    double t0 = layer_begin("bwd", "fc", label, sizeof label);
    if (layer_end(b, label, t0, b->fc_bwd(b, &F, &dL, P(m, m->fc_w), &dF, G(m, m->fc_w), G(m, m->fc_b))))
        return tb_fail_prefix("fc backward");
    if (grad_done(m, m->fc_b) || grad_done(m, m->fc_w))
        return -1;
    block *last = &m->blocks[m->nblocks - 1];
    int g = grad_acquire(m);
    if (g < 0)
        return -1;
    tb_tensor X = first_n(&last->out, n), dX = grad_tensor(m, g, last->out.shape, n);
    if (b->pool_bwd(b, &m->avgpool, &X, &dF, &m->avgpool_ws, &dX))
        return tb_fail_prefix("average pool backward");
    for (int i = m->nblocks - 1; i >= 0; i--)
        if (block_backward(m, &m->blocks[i], n, g, 1, &g))
            return -1;
    if (m->has_maxpool) {
        int g2 = grad_acquire(m);
        if (g2 < 0)
            return -1;
        tb_tensor S = first_n(&m->stem.a, n), dP = grad_tensor(m, g, m->pooled.shape, n);
        tb_tensor dS = grad_tensor(m, g2, m->stem.out, n);
        if (b->pool_bwd(b, &m->maxpool, &S, &dP, &m->maxpool_ws, &dS))
            return tb_fail_prefix("maxpool backward");
        grad_release(m, g);
        g = g2;
    }
    return unit_backward(m, &m->stem, &m->input, n, g, 0, NULL);
}

/* ---- accessors ----------------------------------------------------------- */

const tb_model_spec *tb_model_get_spec(const tb_model *m) { return &m->spec; }
int tb_model_param_count(const tb_model *m) { return m->nparams; }
tb_param *tb_model_params(tb_model *m) { return m->params; }
int tb_model_buffer_count(const tb_model *m) { return m->nbuffers; }
tb_buffer *tb_model_buffers(tb_model *m) { return m->buffers; }
tb_tensor *tb_model_input(tb_model *m) { return &m->input; }
const tb_tensor *tb_model_logits(const tb_model *m) { return &m->live_logits; }
tb_tensor *tb_model_dlogits(tb_model *m) { return &m->live_dlogits; }

void tb_model_set_grad_hook(tb_model *m, tb_grad_hook hook, void *ctx)
{
    m->grad_hook = hook;
    m->grad_hook_ctx = ctx;
}

float *tb_model_grads(tb_model *m, size_t *count)
{
    *count = m->param_grad_count;
    return m->param_grads;
}
