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
    int batch_size;  /* per GPU (per process); with --batch-schedule, that of the epochs before its first entry */
    char batch_schedule[256]; /* "EPOCH:BATCH ..." from that epoch (from 1) on; "" or "none": --batch-size throughout */
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
    int epoch_lines;  /* a line per epoch on stdout (lab 2's --print-epochs) */
    int save_weights; /* weights.safetensors in the run directory at the end */
    char resume[1024];        /* a stopped run's directory to continue from its checkpoint */
    int checkpoint;           /* checkpoint.safetensors at every epoch end (and on interrupt) */
    double checkpoint_every;  /* minutes between mid-epoch checkpoints; 0: epoch ends only */
    char profile[1024];       /* Chrome trace-event file to write */
    int trace;                /* the same trace into RUN_DIR/trace.json (a preset may ask for this one) */
    int profile_layers;       /* per-layer forward/backward spans in the trace */
    int repeat;               /* run the whole training K times; timings as min/median/max */
    int average_skip;         /* first epochs left out of the time averages (the labs differ) */
    int worker_sweep;         /* lab 2's --run-code-3: this command runs the lab2-c3-workers sweep instead */
    int worker_sweep_max;     /* its workers: 0, 4, 8, ... up to this */
} tb_train_config;

void tb_train_config_defaults(tb_train_config *c);

typedef enum { TB_OPT_INT, TB_OPT_FLOAT, TB_OPT_U64, TB_OPT_STRING, TB_OPT_CHOICE, TB_OPT_FLAG } tb_option_type;

/* What `--resume` does with an option (see tb_train_resume_check). */
typedef enum {
    TB_RESUME_KEEP,   /* must equal the checkpoint's value: it shapes the weights' trajectory */
    TB_RESUME_CHANGE, /* may be given anew; otherwise the stopped run's value applies */
    TB_RESUME_FRESH,  /* this invocation's own (run-dir, resume, quiet): never read back from config.json */
} tb_resume_rule;

/* One option, written in the table with designated initialisers so that
 * adding an option is one entry; fields left out are 0/NULL. */
typedef struct {
    const char *name;    /* canonical flag name without dashes: "num-workers" */
    const char *alias;   /* the labs' spelling, or NULL: "num-of-workers" */
    int alias_negate;    /* on the command line the alias means the opposite: --print-epochs=false is --quiet */
    const char *alias_suffix; /* appended to a value given under the alias: --trace-file-name=T writes T.json */
    int (*check)(const char *value); /* strings: the syntax check beyond the type, 0 or -1 after tb_fail */
    tb_option_type type;
    size_t offset;       /* field in tb_train_config */
    size_t size;         /* string capacity */
    double min, max;     /* numbers: inclusive range */
    const char *choices; /* TB_OPT_CHOICE: "cpu|cuda" */
    int negate;          /* TB_OPT_FLAG: --no-batch-norm sets batch_norm = 0 */
    const char *metavar;
    const char *help;    /* without the default: --help adds it from tb_train_config_defaults */
    const char *default_means; /* what the default stands for, where its value alone does not say: "all cores" */
    const char *per_invocation; /* set: belongs to one invocation, not to an experiment, for this reason:
                                 * presets and sweeps refuse it, saying so */
    tb_resume_rule on_resume;
    int tui;             /* position on the workbench's Parameters screen (1 = first); 0: not shown */
    const char *header;  /* results-table column header: "Workers"; NULL: the key */
    struct {
        int rank;           /* preference when several axes are swept (1 = first); 0: no chart of its own */
        const char *metric; /* what is charted, as a table column: speedup, load_s, epoch_s, test_acc */
        const char *title;  /* "workers vs data-load time" */
        const char *unit;   /* of the metric: "s" */
    } chart;              /* the workbench's sweep chart with this option as its axis */
} tb_option;

/* The table, terminated by an entry with a NULL name. */
const tb_option *tb_train_options(void);

/* Spellings.  Flags write "no-batch-norm", presets "no_batch_norm";
 * config.json, plan.json and table columns write the key "batch_norm"
 * ('_' for '-', negated flags positively).  Every conversion goes through
 * tb_option_spell. */
typedef enum { TB_SPELL_FLAG, TB_SPELL_PRESET, TB_SPELL_KEY } tb_spelling;
/* `name` in any spelling, written as `how` asks: TB_SPELL_KEY gives the
 * option's canonical key (aliases too), other spellings and names not in the
 * table only have '-' or '_' converted.  `out` may be `name`.  Returns out. */
const char *tb_option_spell(const char *name, tb_spelling how, char *out, size_t size);
/* Finds an option by name or alias; '-' and '_' are interchangeable
 * (presets write num_workers).  NULL when unknown. */
const tb_option *tb_option_find(const char *name);
/* Finds an option by its config.json key ("batch_norm" is --no-batch-norm);
 * NULL when unknown. */
const tb_option *tb_option_find_key(const char *key);
/* The results-table header of the option with config.json key `key`, or NULL. */
const char *tb_option_header(const char *key);
/* Sets an option as spelt on the command line (`name` without dashes): under
 * its alias, alias_negate and alias_suffix apply.  Presets refuse the options
 * that have them (they are per-invocation). */
int tb_option_set_spelt(tb_train_config *c, const tb_option *o, const char *name, const char *value);
/* Whether a resumed run may differ from its checkpoint in this option. */
int tb_option_resume_ok(const tb_option *o);
/* The flags a resumed run may change, for messages: "--data-dir, --num-workers, ...". */
const char *tb_option_resume_flags(char *out, size_t size);

/* Closest of `n` candidates to `name` by edit distance (at most 3), or NULL:
 * the "did you mean" of every parser (options, presets). */
const char *tb_suggest(const char *name, const char *const *candidates, int n);

/* The closest known name to a misspelling (edit distance), or NULL. */
const char *tb_option_suggest(const char *name);

/* Parses and range-checks `value` into the config.  Flags take
 * true/false/1/0/yes/no/on/off.  On failure: a message naming the option,
 * the value and what is accepted. */
int tb_option_set(tb_train_config *c, const tb_option *o, const char *value);
/* Formats the option's current value ("0.1", "true", "resnet18-cifar"). */
void tb_option_format(const tb_train_config *c, const tb_option *o, char *out, size_t out_size);

/* config.json, both halves (spec/options_json.c).  Every option under its
 * key, in table order: numbers as JSON numbers, flags as booleans stored
 * positively ("batch_norm": false), strings as strings. */
struct json_object;
struct json_object *tb_train_config_to_json(const tb_train_config *c);
/* Sets c's options from such an object, on top of what c holds: empty
 * strings (unset) and TB_RESUME_FRESH options are left alone.  Fails,
 * naming `what`, on an unknown key or a bad value. */
int tb_train_config_from_json(tb_train_config *c, struct json_object *o, const char *what);

/* Parses `trainbench train` arguments (argv[0] is "train").  Returns 0, or -1
 * after tb_fail for a bad flag or value, or 1 when help was printed. */
int tb_train_parse_args(int argc, char **argv, tb_train_config *c);
/* Cross-option checks after parsing (model name exists, etc.). */
int tb_train_config_validate(const tb_train_config *c);
void tb_train_print_help(void);
/* The base learning rate after --lr-scaling: linear gives
 * lr x batch_size x gpus / 256 (Goyal et al. 2017), none gives lr. */
double tb_train_effective_lr(const tb_train_config *c);
/* --batch-schedule: the per-GPU batch of epoch `epoch` (from 0), and the
 * largest batch of any epoch up to --epochs (what buffers must hold). */
int tb_train_batch_at(const tb_train_config *c, int epoch);
int tb_train_batch_max(const tb_train_config *c);

#endif
