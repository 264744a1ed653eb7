/* The derived figures of the lab tables, as plain functions so tests can
 * check each against the labs' own numbers.  Each returns NAN when an input
 * is missing (NAN) or makes no sense (zero or negative time). */
#ifndef TB_DERIVED_H
#define TB_DERIVED_H

/* Speedup against a baseline: t_base / t (strong scaling: the same data). */
double tb_speedup(double t_base, double t);

/* Weak-scaling speedup as Lab 5 defines it: with the data scaled by the GPU
 * ratio n / n_base, the time would be t x n / n_base, so the speedup is
 * t_base / (t x n / n_base).  Lab 5: 18.07 / (10.20 x 2) = 0.886. */
double tb_weak_speedup(double t_base, double n_base, double t, double n);

/* Scaling efficiency in percent: t1 / (n x tn) x 100, n the GPU count
 * relative to the baseline's.  ImageNet table: 129686 / (2 x 65752) = 98.62%. */
double tb_scaling_efficiency(double t1, double tn, double n);

/* Ring all-reduce bandwidth in bytes/s: each of `allreduces` reductions
 * moves 2 (n-1)/n x model_bytes per GPU, in comm_s seconds in all. */
double tb_allreduce_bandwidth(int n, double model_bytes, double allreduces, double comm_s);

/* The averaged epochs of a run of `epochs` epochs with --average-skip
 * `skip`: from the returned index (0-based) to the last.  The first `skip`
 * are left out; a run with no more than `skip` epochs averages all of them
 * (0), rather than nothing.  Lab 2 averages all five epochs (skip 0:
 * 18.206199 s is the mean of its five train times). */
int tb_average_first(int epochs, int skip);

/* images / seconds: THE images/s of trainbench (docs/architecture.md).  For
 * an epoch: the training images of all ranks over the epoch's wall time
 * (epoch_s: data-load waits and steps, the test pass excluded); for a run:
 * the averaged epochs' images over their epoch time; live: the epoch so
 * far.  The engine's progress events, its epoch and run reports, the
 * tables and the workbench all show this figure. */
double tb_images_per_s(double images, double seconds);

/* Seconds as h:mm:ss ("36:01:26" for 129686). */
void tb_format_hms(double seconds, char *out, unsigned size);

#endif
