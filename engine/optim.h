/* Optimizers and learning-rate schedules on top of the backend's opt_step.
 *
 * The update rules are PyTorch's (torch.optim.SGD, Adagrad, Adadelta, Adam;
 * weight decay as L2 added to the gradient).  LARS (You et al., 2017) scales
 * each weight tensor's step by a trust ratio; biases and batch-norm parameters
 * are skipped (ratio 1, no weight decay), as large-batch recipes do. */
#ifndef TB_OPTIM_H
#define TB_OPTIM_H

#include "engine/backend.h" // uses: tb_opt_kind, tb_backend
#include "engine/model.h" // uses: tb_param

typedef enum { TB_LR_CONSTANT, TB_LR_STEP, TB_LR_COSINE } tb_lr_schedule;

typedef struct {
    tb_opt_kind kind;
    float lr;           /* base learning rate (after any linear scaling the caller applied) */
    float momentum;     /* sgd, sgd-nesterov, lars */
    float weight_decay;
    float lars_eta;     /* lars trust coefficient, 0.001 */
    tb_lr_schedule schedule;
    int step_size;      /* step: epochs between decays */
    float step_gamma;   /* step: decay factor, 0.1 */
    int warmup_epochs;  /* linear warm-up from lr/warmup... to lr over these epochs (per step) */
    int epochs;         /* total epochs, for cosine */
} tb_optim_config;

/* Fills the labs' defaults, used for every optimizer alike: kind sgd, lr 0.1,
 * momentum 0.9, weight decay 5e-4, LARS eta 0.001, constant schedule (step:
 * every 30 epochs by 0.1), no warm-up, epochs 0 (set it for cosine).  The
 * fixed per-rule constants are PyTorch's: Adagrad eps 1e-10, lr_decay 0;
 * Adadelta rho 0.9, eps 1e-6; Adam betas 0.9/0.999, eps 1e-8. */
void tb_optim_config_defaults(tb_optim_config *c);

/* "sgd" -> TB_OPT_SGD etc.; -1 when unknown. */
int tb_opt_kind_parse(const char *name);
const char *tb_opt_kind_name(tb_opt_kind k);
/* "constant|step|cosine" -> schedule; -1 when unknown. */
int tb_lr_schedule_parse(const char *name);
const char *tb_lr_schedule_name(tb_lr_schedule s);

/* Learning rate for a step: epoch counts from 0, step_in_epoch from 0.
 * Warm-up ramps linearly per step from lr / (warmup steps) up to lr over the
 * first warmup_epochs; the schedule then applies to the remaining epochs. */
float tb_lr_at(const tb_optim_config *c, int epoch, int step_in_epoch, int steps_per_epoch);

typedef struct {
    tb_optim_config cfg;
    long step; /* steps taken so far */
} tb_optimizer;

void tb_optimizer_init(tb_optimizer *o, const tb_optim_config *cfg);
/* Applies one step to every parameter with learning rate lr, allocating the
 * optimizer state on the backend on first use.  Increments o->step. */
int tb_optimizer_step(tb_optimizer *o, tb_backend *b, tb_param *params, int count, float lr);
/* Releases the optimizer state held in params. */
void tb_optimizer_free_state(tb_backend *b, tb_param *params, int count);

#endif
