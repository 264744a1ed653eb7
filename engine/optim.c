#include "engine/optim.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "engine/backend_check.h" // uses: tb_opt_state_buffers

#include <math.h>
#include <stddef.h>
#include <string.h>

static const char *const kind_names[TB_OPT_COUNT] = {
    [TB_OPT_SGD] = "sgd",
    [TB_OPT_SGD_NESTEROV] = "sgd-nesterov",
    [TB_OPT_ADAGRAD] = "adagrad",
    [TB_OPT_ADADELTA] = "adadelta",
    [TB_OPT_ADAM] = "adam",
    [TB_OPT_LARS] = "lars",
};

static const char *const schedule_names[] = {
    [TB_LR_CONSTANT] = "constant",
    [TB_LR_STEP] = "step",
    [TB_LR_COSINE] = "cosine",
};
#define SCHEDULE_COUNT ((int)(sizeof schedule_names / sizeof schedule_names[0]))

void tb_optim_config_defaults(tb_optim_config *c)
{
    memset(c, 0, sizeof *c);
    c->kind = TB_OPT_SGD;
    /* The labs' recipe, used for every optimizer alike (Adam included) so
     * runs differ only in the update rule. */
    c->lr = 0.1f;
    c->momentum = 0.9f;
    c->weight_decay = 5e-4f;
    c->lars_eta = 0.001f;
    c->schedule = TB_LR_CONSTANT;
    c->step_size = 30;
    c->step_gamma = 0.1f;
    c->warmup_epochs = 0;
}

static int parse_name(const char *name, const char *const *names, int count)
{
    for (int i = 0; name && i < count; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

int tb_opt_kind_parse(const char *name) { return parse_name(name, kind_names, TB_OPT_COUNT); }

const char *tb_opt_kind_name(tb_opt_kind k)
{
    return (unsigned)k < TB_OPT_COUNT ? kind_names[k] : "unknown";
}

int tb_lr_schedule_parse(const char *name) { return parse_name(name, schedule_names, SCHEDULE_COUNT); }

const char *tb_lr_schedule_name(tb_lr_schedule s)
{
    return (unsigned)s < (unsigned)SCHEDULE_COUNT ? schedule_names[s] : "unknown";
}

float tb_lr_at(const tb_optim_config *c, int epoch, int step_in_epoch, int steps_per_epoch)
{
    const double lr = c->lr;
    const long spe = steps_per_epoch > 0 ? steps_per_epoch : 1;
    const int warmup_epochs = c->warmup_epochs > 0 ? c->warmup_epochs : 0;
    const long warmup = warmup_epochs * spe;
    const long global = (long)epoch * spe + step_in_epoch;
    if (global < warmup)
        return (float)(lr * (double)(global + 1) / (double)warmup);

    switch (c->schedule) {
    case TB_LR_STEP: {
        if (c->step_size <= 0)
            return (float)lr;
        const int decays = (epoch - warmup_epochs) / c->step_size;
        return (float)(lr * pow(c->step_gamma, decays));
    }
    case TB_LR_COSINE: {
        /* Per step over the epochs after warm-up, reaching 0 at the end;
         * steps past the end (or a run with no epochs left) stay at 0. */
        const long total = ((long)c->epochs - warmup_epochs) * spe;
        const long t = global - warmup;
        if (t >= total)
            return 0.0f;
        return (float)(0.5 * lr * (1.0 + cos(M_PI * (double)t / (double)total)));
    }
    default: return (float)lr;
    }
}

void tb_optimizer_init(tb_optimizer *o, const tb_optim_config *cfg)
{
    o->cfg = *cfg;
    o->step = 0;
}

/* Batch-norm parameters and biases are left out of LARS's scaling and weight
 * decay, as in the large-batch ResNet recipes (Goyal et al., You et al.). */
static int lars_skips(tb_param_role role)
{
    return role == TB_PARAM_BN_WEIGHT || role == TB_PARAM_BN_BIAS || role == TB_PARAM_FC_BIAS;
}

/* LARS's local learning-rate factor: eta * ||w|| / (||g|| + wd * ||w||),
 * 1 when either norm is 0 (a fresh zero-initialised tensor, a dead layer). */
static int lars_trust_ratio(tb_backend *b, const tb_param *p, float eta, float wd, float *out)
{
    double w2, g2;
    if (b->sum_squares(b, p->data, p->count, &w2) != 0 || b->sum_squares(b, p->grad, p->count, &g2) != 0)
        return -1;
    const double wn = sqrt(w2), gn = sqrt(g2);
    *out = wn > 0.0 && gn > 0.0 ? (float)((double)eta * wn / (gn + (double)wd * wn)) : 1.0f;
    return 0;
}

int tb_optimizer_step(tb_optimizer *o, tb_backend *b, tb_param *params, int count, float lr)
{
    const tb_optim_config *c = &o->cfg;
    const int nstate = tb_opt_state_buffers(c->kind, c->momentum);
    if (nstate < 0)
        return tb_fail("optimizer: unknown optimizer kind %d", (int)c->kind);

    tb_opt_hyper h = {
        .kind = c->kind,
        .lr = lr,
        .weight_decay = c->weight_decay,
        .trust_ratio = 1.0f,
        .step = o->step + 1,
    };
    switch (c->kind) {
    case TB_OPT_SGD:
    case TB_OPT_SGD_NESTEROV:
    case TB_OPT_LARS: h.momentum = c->momentum; break;
    case TB_OPT_ADAGRAD: h.eps = 1e-10f; break;
    case TB_OPT_ADADELTA:
        h.eps = 1e-6f;
        h.rho = 0.9f;
        break;
    default:
        h.eps = 1e-8f;
        h.beta1 = 0.9f;
        h.beta2 = 0.999f;
        break;
    }

    for (int i = 0; i < count; i++) {
        tb_param *p = &params[i];
        for (int s = 0; s < nstate; s++) {
            if (!p->state[s] && !(p->state[s] = b->alloc(b, p->count * sizeof(float), "optimizer state")))
                return tb_fail_prefix("%s", p->name);
        }
        tb_opt_hyper ph = h;
        if (c->kind == TB_OPT_LARS) {
            if (lars_skips(p->role))
                ph.weight_decay = 0.0f;
            else if (lars_trust_ratio(b, p, c->lars_eta, c->weight_decay, &ph.trust_ratio) != 0)
                return tb_fail_prefix("%s", p->name);
        }
        if (b->opt_step(b, &ph, p->data, p->grad, p->state[0], p->state[1], p->count) != 0)
            return tb_fail_prefix("%s", p->name);
    }
    /* Only a complete step counts; after a failure part of the parameters
     * have moved, so the caller has to stop rather than retry. */
    o->step++;
    return 0;
}

void tb_optimizer_free_state(tb_backend *b, tb_param *params, int count)
{
    for (int i = 0; i < count; i++) {
        for (int s = 0; s < 2; s++) {
            if (params[i].state[s])
                b->release(b, params[i].state[s]);
            params[i].state[s] = NULL;
        }
    }
}
