/* The training run's state and the helpers the trainer's files share:
 * trainer.c (the loop), trainer_checkpoint.c (checkpoints and --resume),
 * trainer_device.c (GPUs per rank, their readings, convolutions prepared),
 * trainer_result.c (result.json, failures, --repeat).  Internal to the
 * engine; the public interface is trainer.h. */
#ifndef TB_TRAINER_RUN_H
#define TB_TRAINER_RUN_H

#include "datasets/dataset.h" // uses: tb_dataset
#include "datasets/loader.h" // uses: tb_loader
#include "engine/backend.h" // uses: tb_backend
#include "engine/checkpoint.h" // uses: tb_checkpoint_state
#include "engine/dist.h" // uses: tb_dist
#include "engine/grad_reduce.h" // uses: tb_grad_reducer
#include "engine/model.h" // uses: tb_model
#include "engine/optim.h" // uses: tb_optimizer
#include "rundir/rundir.h" // uses: tb_rundir
#include "rundir/train_report.h" // uses: tb_epoch_report
#include "spec/options.h" // uses: tb_train_config

#include <json-c/json.h>
#include <time.h>

/* Everything one run holds; freed by run_free. */
typedef struct {
    const tb_train_config *cfg;
    tb_rundir *dir;
    struct json_object *result;
    tb_dataset train, test;
    tb_backend *b;
    tb_model *model;
    tb_loader *train_loader, *test_loader;
    int train_batch; /* the train loader's batch per rank (--batch-schedule changes it between epochs) */
    tb_optimizer opt;
    tb_grad_reducer *reducer; /* data-parallel gradient sums */
    int32_t *labels_dev;
    float *logits_host;
    size_t gradients; /* the model's gradient count, for the lab's closing line */
    tb_epoch_report *epochs;
    int epochs_done;
    int show_progress;
    double started;
    tb_dist dist;
    int stop; /* all ranks agreed to stop at a batch boundary */
    tb_train_config local_cfg; /* cfg as this rank uses it (ranks > 0 print nothing) */
    /* The epoch in progress, as a checkpoint needs it. */
    int cur_epoch, next_batch;
    double loss_sum, elapsed_before, epoch_t0;
    int ckpt_due;                 /* all ranks agreed a timed checkpoint is due */
    int correct, images;
    int *class_hits, *class_seen;
    tb_epoch_report cur; /* times so far */
    /* Checkpoints and resume. */
    tb_checkpoint_state resume;   /* what --resume loaded (epoch, batch, sums) */
    int resuming;                 /* the first epoch run continues resume */
    int recorded;                 /* config.json, result.json and run_start written: a failure is recorded */
    int reserved;                 /* RESERVE_NAME holds space for the last result.json */
    double last_checkpoint;       /* run_now_s() of the last checkpoint */
    int ckpt_epoch, ckpt_batch;   /* where the last good checkpoint is; ckpt_epoch -1: none */
    char identity[8192];          /* the options as JSON, stored in checkpoints */
    /* --repeat */
    int repeat;
    struct json_object *repeats;  /* finished repeats' summaries */
} run;

static inline double run_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* trainer.c */
/* Rank 0's `count` floats of device memory to every rank. */
int run_broadcast_dev(run *r, float *dev, size_t count, const char *what);
/* Every rank takes rank 0's weights and running statistics. */
int run_broadcast_model(run *r);

/* trainer_device.c: the device side of a run. */
/* Each rank's GPU compared across ranks (never two on one) and recorded in result.json "gpus". */
int run_check_gpus(run *r);
/* Every convolution of the run prepared before the first epoch (result.json "prepare_s"). */
int run_prepare_convs(run *r);
/* Rank 0's GPU readings (NVML) per epoch: open once, then start, sample between batches, end, close. */
void run_gpu_open(run *r);
void run_gpu_epoch_start(void);
void run_gpu_sample(int force);
void run_gpu_epoch_end(tb_epoch_report *rep);
void run_gpu_close(void);

/* trainer_checkpoint.c */
/* Writes the checkpoint at the loop's position; every rank calls it (a
 * mid-epoch one sums the partial epoch over the ranks), rank 0 writes. */
int run_save_checkpoint(run *r, const char *why);
/* "; the last good checkpoint is ..." for failure messages. */
void run_checkpoint_hint(const run *r, char *out, size_t size);
/* Starts epoch `epoch`'s sums (fresh, or the checkpoint's when resuming
 * inside it); returns the first batch to run. */
int run_begin_epoch_sums(run *r, int epoch, int classes);
/* --resume: the checkpoint into the model, the optimizer and the run, on
 * every rank. */
int run_load_checkpoint(run *r);

/* The run's start in its directory (config.json, the run_start event,
 * result.json running); a --resume records it only once the checkpoint is
 * loaded, so that a resume failing before then changes nothing on disk. */
int run_record_start(run *r);

/* trainer_result.c */
/* Writes result.json; a final status first gives back the reserved space. */
int run_write_result(run *r, const char *status);
/* Epoch e's report (from 0) as result.json and the epoch_end event write it,
 * with the batch per GPU it trained at (--batch-schedule). */
struct json_object *run_epoch_json(const run *r, int e);
/* Sets aside disk space (best effort) so that a run that fills the disk can
 * still record how it ended; run_release_space gives it back. */
void run_reserve_space(run *r);
void run_release_space(run *r);
/* Records a failure (stderr, an error event, result.json "failed");
 * returns exit status 1. */
int run_fail(run *r, const char *phase);
/* --repeat: the finished repeat's figures, then a fresh start. */
void run_record_repeat(run *r);
int run_reset_for_repeat(run *r);

#endif
