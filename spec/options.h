/* The options of a training run, as one table.
 *
 * The table is the single source of truth for `trainbench train` flags, and
 * for everything that sets run options by name (presets' [run] sections,
 * `--set key=value`, the TUI's parameter screen): each entry knows its
 * spellings, its type, its accepted range and its help line. */
#ifndef TB_OPTIONS_H
#define TB_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char model[48];
    char dataset[1040]; /* a name, or packed:FILE */
    char data_dir[1024];
    char device[8];
    int num_workers;
    int batch_size;  /* per GPU (per process) */
    int gpus;        /* data-parallel ranks, one GPU each (CPU ranks with --device cpu) */
    double rank_timeout; /* seconds a rank waits for the others before stopping the job */
    double bucket_mb;    /* data-parallel: gradient all-reduce bucket size */
    char overlap[4];     /* on | off: all-reduce buckets during backward, or after it */
    int epochs;
    char optimizer[16];
    double lr;
    char lr_scaling[8]; /* none | linear: lr x global batch / 256 (Goyal et al.) */
    double lars_eta;    /* LARS trust coefficient */
    double momentum;
    double weight_decay;
    char lr_schedule[16];
    int warmup_epochs;
    int step_size;
    double step_gamma;
    int batch_norm;
    int augment;
    int limit_train;
    int limit_test;
    int image_size; /* JPEG datasets (imagenet, packed): crop size; 0 = 224 */
    uint64_t seed;
    int threads;
    char precision[8];
    char run_dir[1024];
    char runs_dir[1024];
    int quiet;
    int save_weights; /* weights.safetensors in the run directory at the end */
    char resume[1024];        /* a stopped run's directory to continue from its checkpoint */
    int checkpoint;           /* checkpoint.safetensors at every epoch end (and on interrupt) */
    double checkpoint_every;  /* minutes between mid-epoch checkpoints; 0: epoch ends only */
    char profile[1024];       /* Chrome trace-event file to write */
    int profile_layers;       /* per-layer forward/backward spans in the trace */
    int repeat;               /* run the whole training K times; timings as min/median/max */
} tb_train_config;

void tb_train_config_defaults(tb_train_config *c);

typedef enum { TB_OPT_INT, TB_OPT_FLOAT, TB_OPT_U64, TB_OPT_STRING, TB_OPT_CHOICE, TB_OPT_FLAG } tb_option_type;

typedef struct {
    const char *name;    /* canonical flag name without dashes: "num-workers" */
    const char *alias;   /* the labs' spelling, or NULL: "num-of-workers" */
    tb_option_type type;
    size_t offset;       /* field in tb_train_config */
    size_t size;         /* string capacity */
    double min, max;     /* numbers: inclusive range */
    const char *choices; /* TB_OPT_CHOICE: "cpu|cuda" */
    int negate;          /* TB_OPT_FLAG: --no-batch-norm sets batch_norm = 0 */
    const char *metavar;
    const char *help;
} tb_option;

/* The table, terminated by an entry with a NULL name. */
const tb_option *tb_train_options(void);

/* Finds an option by name or alias; '-' and '_' are interchangeable
 * (presets write num_workers).  NULL when unknown. */
const tb_option *tb_option_find(const char *name);
/* Closest of `n` candidates to `name` by edit distance (at most 3), or NULL:
 * the "did you mean" of every parser (options, presets). */
const char *tb_suggest(const char *name, const char *const *candidates, int n);

/* Options that belong to one invocation, not to an experiment: presets and
 * sweeps refuse them (run-dir, runs-dir, quiet, resume). */
int tb_option_per_invocation(const tb_option *o);

/* The closest known name to a misspelling (edit distance), or NULL. */
const char *tb_option_suggest(const char *name);

/* Parses and range-checks `value` into the config.  Flags take
 * true/false/1/0/yes/no/on/off.  On failure: a message naming the option,
 * the value and what is accepted. */
int tb_option_set(tb_train_config *c, const tb_option *o, const char *value);
/* Formats the option's current value ("0.1", "true", "resnet18-cifar"). */
void tb_option_format(const tb_train_config *c, const tb_option *o, char *out, size_t out_size);

/* Parses `trainbench train` arguments (argv[0] is "train").  Returns 0, or -1
 * after tb_fail for a bad flag or value, or 1 when help was printed. */
int tb_train_parse_args(int argc, char **argv, tb_train_config *c);
/* Cross-option checks after parsing (model name exists, etc.). */
int tb_train_config_validate(const tb_train_config *c);
void tb_train_print_help(void);
/* The base learning rate after --lr-scaling: linear gives
 * lr x batch_size x gpus / 256 (Goyal et al. 2017), none gives lr. */
double tb_train_effective_lr(const tb_train_config *c);

#endif
