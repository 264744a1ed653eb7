/* The CPU backend's optimizer kernels (OpenMP loops over the parameters). */
#ifndef TB_CPU_OPTIM_H
#define TB_CPU_OPTIM_H

#include "engine/backend.h" // uses: tb_backend, tb_opt_hyper

int tb_cpu_opt_step(tb_backend *b, const tb_opt_hyper *h, float *param, const float *grad, float *state0,
                    float *state1, size_t count);
int tb_cpu_sum_squares(tb_backend *b, const float *x, size_t count, double *out_host);

#endif
