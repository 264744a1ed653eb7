/* What a training run reports: per-epoch metrics, their JSON form in
 * result.json and events.jsonl, and the console table. */
#ifndef TB_TRAIN_REPORT_H
#define TB_TRAIN_REPORT_H

#include <json-c/json.h>
#include <stdio.h>

enum { TB_MAX_REPORT_CLASSES = 1000 };

/* Phases of a training step, timed with the device synchronised when
 * --profile is on (the "phases" object of an epoch report). */
typedef enum {
    TB_PHASE_DATA,      /* waiting for the loader */
    TB_PHASE_H2D,       /* batch to the device */
    TB_PHASE_FORWARD,   /* forward pass and loss */
    TB_PHASE_BACKWARD,  /* backward pass */
    TB_PHASE_ALLREDUCE, /* gradient all-reduce (data-parallel) */
    TB_PHASE_OPTIMIZER, /* optimizer step */
    TB_PHASE_COUNT
} tb_phase;

/* "data", "h2d", "forward", ... */
const char *tb_phase_name(tb_phase p);

typedef struct {
    int epoch;         /* from 1, as printed */
    int warmup;        /* one of the first --average-skip epochs: reported, left out of the averages */
    double lr;         /* learning rate at the epoch's last step */
    double load_s;     /* time the loop waited for the loader */
    double train_s;    /* mini-batch compute, device synchronised */
    double epoch_s;    /* the whole training epoch (load + compute + bookkeeping) */
    double eval_s;     /* test-set evaluation */
    double comm_s;     /* data-parallel: time the step waited on communication (part of train_s); with
                        * --overlap on only what backward did not hide */
    int ranks;         /* data-parallel ranks (1: none) */
    int allreduces;    /* data-parallel: all-reduces of the whole gradient block (steps) */
    double allreduce_s; /* their time from first bucket start to last bucket end (overlapped or not) */
    double allreduce_bytes; /* gradient bytes per all-reduce */
    int buckets;       /* buckets per all-reduce */
    double train_loss; /* mean per-sample loss over the epoch */
    double train_acc;  /* percent */
    double test_loss;
    double test_acc;   /* top-1, percent */
    double test_acc5;  /* top-5, percent */
    double images_per_s; /* training images / epoch_s */
    int images;
    int classes;
    double *class_acc; /* training accuracy per class, percent (classes entries) */
    int best_class;    /* class with the highest training accuracy */
    long long rss_bytes; /* resident memory of the process (rank 0) at the epoch's end */
    /* Rank 0's GPU sampled about once a second (NVML, issue 18); gpu_sampled 0: no GPU, written as null.
     * A reading NVML could not give is NAN (null). */
    int gpu_sampled;
    double gpu_util_mean, gpu_mem_peak_bytes, gpu_power_mean_w;
    int has_phases;    /* phase_s measured (--profile) */
    double phase_s[TB_PHASE_COUNT];
} tb_epoch_report;

struct json_object *tb_epoch_report_json(const tb_epoch_report *r);
/* The reverse, for checkpoints; class_acc malloc'd.  Fails on a malformed
 * report (tb_fail). */
int tb_epoch_report_from_json(struct json_object *o, tb_epoch_report *r);

/* Averages over epochs tb_average_first(n, skip) .. n - 1 (derived.h): the
 * first `skip` left out, all of them when there are no more than `skip`. */
typedef struct {
    double load_s, train_s, epoch_s, images_per_s;
    int epochs_averaged;
} tb_run_averages;

/* Mean utilisation, peak memory and mean power over an epoch's GPU samples;
 * a NAN reading is left out, and a figure with no samples is NAN. */
typedef struct {
    int n_util, n_power, n_mem;
    double util_sum, power_sum, mem_peak;
} tb_gpu_agg;
void tb_gpu_agg_add(tb_gpu_agg *a, double util_pct, double mem_used_bytes, double power_w);
void tb_gpu_agg_result(const tb_gpu_agg *a, double *util_mean, double *mem_peak, double *power_mean);

void tb_run_averages_compute(const tb_epoch_report *r, int n, int skip, tb_run_averages *out);

void tb_report_print_header(FILE *f);
void tb_report_print_epoch(FILE *f, const tb_epoch_report *r);
void tb_report_print_summary(FILE *f, const tb_epoch_report *r, int n, int skip, int workers);
/* The lab's per-class line for an epoch report: "Top 1 accuracy is K among
 * the individual label accuracies [a b ...]" (K the best class). */
void tb_report_print_class_acc(FILE *f, const tb_epoch_report *r);

#endif
