/* Launching the ranks of a data-parallel run (--gpus N > 1). */
#ifndef TB_LAUNCH_H
#define TB_LAUNCH_H

#include "spec/options.h" // uses: tb_train_config

/* Runs `trainbench train` with c's options as c->gpus ranks under mpirun (or
 * srun --mpi=pmix inside a Slurm allocation) and returns its exit status.
 * TB_LAUNCHER names another mpirun-compatible launcher. */
int tb_launch_ranks(const tb_train_config *c);

/* True inside a Slurm allocation, where ranks start with srun. */
int tb_launch_in_allocation(void);

#endif
