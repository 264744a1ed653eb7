#include "engine/model_io.h"

#include "core/error.h" // uses: tb_calloc, tb_fail, tb_malloc, tb_fail_prefix

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* torch.optim's names for the state buffers each rule keeps (optim.c's
 * tb_opt_state_buffers() says how many are in use). */
static const char *state_name(tb_opt_kind k, int s)
{
    switch (k) {
    case TB_OPT_SGD:
    case TB_OPT_SGD_NESTEROV:
    case TB_OPT_LARS: return "momentum_buffer";
    case TB_OPT_ADAGRAD: return "sum";
    case TB_OPT_ADADELTA: return s == 0 ? "square_avg" : "acc_delta";
    case TB_OPT_ADAM: return s == 0 ? "exp_avg" : "exp_avg_sq";
    default: return "state";
    }
}

static int state_count(const tb_optim_config *c)
{
    switch (c->kind) {
    case TB_OPT_SGD:
    case TB_OPT_SGD_NESTEROV:
    case TB_OPT_LARS: return c->momentum != 0.0f;
    case TB_OPT_ADAGRAD: return 1;
    default: return 2;
    }
}

/* One tensor to move: a name, device memory and its shape. */
typedef struct {
    char name[128];
    float *dev;
    int ndim;
    int64_t shape[4];
    size_t count;
} item;

/* The tensors `what` selects, in a fixed order; *n gets their count.  With
 * alloc_state, missing optimizer state is allocated (for loading). */
static item *select_items(tb_backend *b, tb_model *m, unsigned what, const tb_optimizer *opt, int alloc_state,
                          int *n)
{
    int np = tb_model_param_count(m), nb = tb_model_buffer_count(m);
    tb_param *ps = tb_model_params(m);
    tb_buffer *bs = tb_model_buffers(m);
    int ns = (what & TB_IO_OPT_STATE) ? state_count(&opt->cfg) : 0;
    item *it = tb_calloc((size_t)(np * (3 + ns) + nb + 1), sizeof *it, "the list of model tensors");
    if (!it)
        return NULL;
    int k = 0;
    for (int i = 0; i < np; i++) {
        tb_param *p = &ps[i];
        item base = {.ndim = p->ndim, .count = p->count};
        for (int d = 0; d < p->ndim; d++)
            base.shape[d] = p->dims[d];
        if (what & TB_IO_PARAMS) {
            it[k] = base;
            it[k].dev = p->data;
            snprintf(it[k++].name, sizeof base.name, "%s", p->name);
        }
        if (what & TB_IO_GRADS) {
            it[k] = base;
            it[k].dev = p->grad;
            snprintf(it[k++].name, sizeof base.name, "grad.%s", p->name);
        }
        for (int s = 0; s < ns; s++) {
            if (!p->state[s] && alloc_state && !(p->state[s] = b->alloc(b, p->count * sizeof(float), "optimizer state")))
                goto fail;
            if (!p->state[s]) {
                tb_fail("%s has no %s yet: the optimizer has not taken a step", p->name, state_name(opt->cfg.kind, s));
                goto fail;
            }
            it[k] = base;
            it[k].dev = p->state[s];
            snprintf(it[k++].name, sizeof base.name, "optimizer.%s.%s", p->name, state_name(opt->cfg.kind, s));
        }
    }
    for (int i = 0; (what & TB_IO_BUFFERS) && i < nb; i++) {
        it[k] = (item){.dev = bs[i].data, .ndim = 1, .shape = {(int64_t)bs[i].count}, .count = bs[i].count};
        snprintf(it[k++].name, sizeof it[0].name, "%s", bs[i].name);
    }
    *n = k;
    return it;
fail:
    free(it);
    return NULL;
}

static size_t largest(const item *it, int n)
{
    size_t l = 1;
    for (int i = 0; i < n; i++)
        l = it[i].count > l ? it[i].count : l;
    return l;
}

int tb_model_io_add(tb_st_writer *w, tb_backend *b, tb_model *m, unsigned what, const tb_optimizer *opt)
{
    if ((what & TB_IO_OPT_STATE) && !opt)
        return tb_fail("saving optimizer state needs the optimizer");
    int n = 0;
    item *it = select_items(b, m, what, opt, 0, &n);
    float *host = it ? tb_malloc(largest(it, n) * sizeof(float), "a tensor download") : NULL;
    int rc = host ? 0 : -1;
    for (int i = 0; i < n && !rc; i++)
        rc = b->download(b, host, it[i].dev, it[i].count * sizeof(float)) ||
             tb_st_writer_add(w, it[i].name, TB_ST_F32, it[i].ndim, it[i].shape, host);
    if (!rc && (what & TB_IO_OPT_STATE)) {
        char step[32];
        snprintf(step, sizeof step, "%ld", opt->step);
        rc = tb_st_writer_meta(w, "optimizer.kind", tb_opt_kind_name(opt->cfg.kind)) ||
             tb_st_writer_meta(w, "optimizer.step", step);
    }
    free(host);
    free(it);
    return rc ? -1 : 0;
}

/* Suffix test for names PyTorch keeps that trainbench has no use for. */
static int ignorable(const char *name)
{
    static const char suffix[] = ".num_batches_tracked";
    size_t n = strlen(name), s = sizeof suffix - 1;
    return n > s && !strcmp(name + n - s, suffix);
}

static int load_opt_meta(const tb_st_file *f, tb_optimizer *opt)
{
    const char *kind = tb_st_meta(f, "optimizer.kind"), *step = tb_st_meta(f, "optimizer.step");
    if (!kind || !step)
        return tb_fail("%s: optimizer state without the optimizer.kind and optimizer.step metadata", f->path);
    if (tb_opt_kind_parse(kind) != (int)opt->cfg.kind)
        return tb_fail("%s: optimizer state of %s, but the optimizer is %s", f->path, kind,
                       tb_opt_kind_name(opt->cfg.kind));
    char *end;
    long s = strtol(step, &end, 10);
    if (*end || end == step || s < 0)
        return tb_fail("%s: optimizer.step \"%s\" is not a step count", f->path, step);
    opt->step = s;
    return 0;
}

int tb_model_io_load(const tb_st_file *f, tb_backend *b, tb_model *m, unsigned what, tb_optimizer *opt, int strict)
{
    if ((what & TB_IO_OPT_STATE) && (!opt || load_opt_meta(f, opt)))
        return opt ? -1 : tb_fail("loading optimizer state needs the optimizer");
    int n = 0;
    item *it = select_items(b, m, what, opt, 1, &n);
    float *host = it ? tb_malloc(largest(it, n) * sizeof(float), "a tensor upload") : NULL;
    int rc = host ? 0 : -1;
    /* Unexpected names first, so a mismatched file changes nothing. */
    for (int t = 0; strict && !rc && t < f->count; t++) {
        const char *name = f->tensors[t].name;
        int known = ignorable(name);
        for (int i = 0; i < n && !known; i++)
            known = !strcmp(name, it[i].name);
        if (!known)
            rc = tb_fail("%s: unexpected tensor \"%s\": not one of the %s%s%s%s of %s (a misspelt name, another "
                         "model, or tensors this load was not asked for)",
                         f->path, name, (what & TB_IO_PARAMS) ? "parameters " : "",
                         (what & TB_IO_BUFFERS) ? "BN buffers " : "", (what & TB_IO_GRADS) ? "gradients " : "",
                         (what & TB_IO_OPT_STATE) ? "optimizer state " : "", tb_model_get_spec(m)->name);
    }
    for (int i = 0; i < n && !rc; i++)
        rc = tb_st_read_f32(f, it[i].name, it[i].ndim, it[i].shape, host, it[i].count) ||
             b->upload(b, it[i].dev, host, it[i].count * sizeof(float));
    free(host);
    free(it);
    return rc ? -1 : 0;
}

int tb_model_save_safetensors(tb_backend *b, tb_model *m, const tb_optimizer *opt, const char *path, unsigned what)
{
    tb_st_writer *w = tb_st_writer_create();
    int rc = !w || tb_model_io_add(w, b, m, what, opt) || tb_st_writer_meta(w, "model", tb_model_get_spec(m)->name) ||
             tb_st_writer_save(w, path);
    tb_st_writer_free(w);
    return rc ? tb_fail_prefix("saving %s", path) : 0;
}

int tb_model_load_safetensors(tb_backend *b, tb_model *m, tb_optimizer *opt, const char *path, unsigned what)
{
    tb_st_file f;
    if (tb_st_open(path, &f))
        return -1;
    int rc = tb_model_io_load(&f, b, m, what, opt, 1);
    tb_st_close(&f);
    return rc;
}
