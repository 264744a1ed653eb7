/* The training loop: loads data, builds the model on a backend, trains and
 * evaluates epoch by epoch, times every phase the way the labs do, and
 * writes the run directory. */
#ifndef TB_TRAINER_H
#define TB_TRAINER_H

#include "spec/options.h" // uses: tb_train_config

/* Runs a validated configuration.  Returns the process exit status:
 * 0 completed, 1 failed (data, memory, numerics; result.json says why),
 * 130 interrupted. */
int tb_train_run(const tb_train_config *c);

/* --resume: checks before anything is touched that c->resume holds a
 * readable checkpoint, of these options, with epochs left to train. */
int tb_train_resume_check(const tb_train_config *c);

#endif
