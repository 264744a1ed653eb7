#include "spec/options.h"

#include "core/error.h" // uses: tb_fail, tb_fail_prefix
#include "core/quote.h" // uses: tb_utf8_valid
#include "spec/model_spec.h" // uses: tb_model_spec, tb_model_spec_parse

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F(field) offsetof(tb_train_config, field)
#define S(field) sizeof(((tb_train_config *)0)->field)
#define RUN_DIRS "trainbench run sets the run directories; use trainbench run --runs-dir or --resume"

/* Parses a --batch-schedule into up to `max` (epoch from 1, batch) pairs:
 * entries EPOCH:BATCH separated by commas or spaces, epochs from 2 on and
 * rising.  "" and "none" are no schedule.  The count, or -1 after tb_fail. */
static int parse_batch_schedule(const char *v, int *epochs, int *batches, int max)
{
    int n = 0;
    if (!strcmp(v, "none"))
        return 0;
    for (const char *p = v; *p;) {
        if (*p == ',' || *p == ' ') {
            p++;
            continue;
        }
        char *end;
        errno = 0;
        long e = *p >= '0' && *p <= '9' ? strtol(p, &end, 10) : -1;
        long b = e >= 0 && *end == ':' && end[1] >= '0' && end[1] <= '9' ? strtol(end + 1, &end, 10) : -1;
        if (b < 0 || errno || (*end && *end != ',' && *end != ' '))
            return tb_fail("--batch-schedule %s: expected EPOCH:BATCH entries separated by commas, e.g. 3:1024,5:2048 "
                           "(from epoch 3 on 1024 images per GPU, from epoch 5 on 2048), or none",
                           v);
        if (e < 2 || e > 100000 || (n && e <= epochs[n - 1]))
            return tb_fail("--batch-schedule %s: epoch %ld: entries name epochs from 2 on (epoch 1 trains at "
                           "--batch-size), each later than the one before",
                           v, e);
        if (b < 1 || b > 65536)
            return tb_fail("--batch-schedule %s: batch %ld: expected 1 to 65536 images per GPU", v, b);
        if (n == max)
            return tb_fail("--batch-schedule %s: more than %d entries", v, max);
        epochs[n] = (int)e, batches[n] = (int)b, n++;
        p = end;
    }
    return n;
}

static int check_batch_schedule(const char *v)
{
    int e[32], b[32];
    return parse_batch_schedule(v, e, b, 32) < 0 ? -1 : 0;
}

/* One entry per option; `help` leaves the default out (--help prints it from
 * tb_train_config_defaults). */
static const tb_option options[] = {
    {.name = "model", .type = TB_OPT_STRING, .offset = F(model), .size = S(model), .metavar = "NAME",
     .help = "resnet18-cifar, resnet18, resnet34, resnet50, ...; NAME:wN sets the base width", .tui = 1,
     .header = "Model"},
    {.name = "dataset", .type = TB_OPT_CHOICE, .offset = F(dataset), .size = S(dataset),
     .choices = "cifar10|cifar100|fashion-mnist|mnist|synthetic|imagenet|packed:FILE", .metavar = "NAME",
     .help = "training data; packed:FILE reads `trainbench data pack` output", .tui = 2, .header = "Dataset"},
    {.name = "data-dir", .alias = "dataset-path", .type = TB_OPT_STRING, .offset = F(data_dir), .size = S(data_dir),
     .metavar = "DIR", .help = "where the dataset files are", .default_means = "the dataset's standard place",
     .on_resume = TB_RESUME_CHANGE, .tui = 3},
    {.name = "device", .type = TB_OPT_CHOICE, .offset = F(device), .size = S(device), .choices = "cpu|cuda",
     .metavar = "DEV", .help = "cpu or cuda", .tui = 4, .header = "Device"},
    {.name = "num-workers", .alias = "num-of-workers", .type = TB_OPT_INT, .offset = F(num_workers), .max = 256,
     .metavar = "N", .help = "data-loader threads; 0 loads in the training thread", .on_resume = TB_RESUME_CHANGE,
     .tui = 5, .header = "Workers", .chart = {2, "load_s", "workers vs data-load time", "s"}},
    {.name = "batch-size", .type = TB_OPT_INT, .offset = F(batch_size), .min = 1, .max = 65536, .metavar = "N",
     .help = "mini-batch size per GPU", .tui = 6, .header = "Batch size",
     .chart = {3, "epoch_s", "batch size vs epoch time", "s"}},
    {.name = "batch-schedule", .type = TB_OPT_STRING, .offset = F(batch_schedule), .size = S(batch_schedule),
     .check = check_batch_schedule, .metavar = "E:B,...",
     .help = "batch-size scheduling (HW5 Q4's fourth remedy): from epoch E on, B images per GPU, e.g. 3:1024,5:2048 "
             "(commas or spaces between entries); the learning rate stays that of --batch-size, as growing the "
             "batch stands in for decaying it",
     .default_means = "none: --batch-size throughout", .header = "Batch schedule", .tui = 24},
    {.name = "gpus", .type = TB_OPT_INT, .offset = F(gpus), .min = 1, .max = 4096, .metavar = "N",
     .help = "data-parallel ranks, one GPU each (CPU ranks with --device cpu); started with mpirun, or srun inside "
             "a Slurm allocation",
     .tui = 12, .header = "#GPUs", .chart = {1, "speedup", "GPUs vs speedup", "x"}},
    {.name = "rank-timeout", .type = TB_OPT_FLOAT, .offset = F(rank_timeout), .max = 1e6, .metavar = "S",
     .help = "data-parallel: seconds a rank waits for the others before stopping the job",
     .on_resume = TB_RESUME_CHANGE, .tui = 30},
    {.name = "bucket-mb", .type = TB_OPT_FLOAT, .offset = F(bucket_mb), .min = 0.001, .max = 65536, .metavar = "MB",
     .help = "data-parallel: gradients are all-reduced in buckets of about MB megabytes",
     .on_resume = TB_RESUME_CHANGE, .tui = 28},
    {.name = "overlap", .type = TB_OPT_CHOICE, .offset = F(overlap), .size = S(overlap), .choices = "on|off",
     .metavar = "on|off",
     .help = "data-parallel: all-reduce each bucket as soon as backward has written it (on) or after backward "
             "(off: compute and communication times apart)",
     .on_resume = TB_RESUME_CHANGE, .tui = 29},
    {.name = "epochs", .type = TB_OPT_INT, .offset = F(epochs), .min = 1, .max = 100000, .metavar = "N",
     .help = "training epochs", .on_resume = TB_RESUME_CHANGE, .tui = 10, .header = "Epochs"},
    {.name = "optimizer", .type = TB_OPT_CHOICE, .offset = F(optimizer), .size = S(optimizer),
     .choices = "sgd|sgd-nesterov|adagrad|adadelta|adam|lars", .metavar = "NAME", .help = "optimizer", .tui = 7,
     .header = "Optimizer", .chart = {4, "test_acc", "optimizer vs test accuracy", "%"}},
    {.name = "lr", .type = TB_OPT_FLOAT, .offset = F(lr), .max = 1e6, .metavar = "X", .help = "learning rate",
     .on_resume = TB_RESUME_CHANGE, .tui = 8, .header = "LR"},
    {.name = "lr-scaling", .type = TB_OPT_CHOICE, .offset = F(lr_scaling), .size = S(lr_scaling),
     .choices = "none|linear", .metavar = "MODE", .help = "linear: lr x (batch size x gpus) / 256",
     .header = "LR scaling", .tui = 22},
    {.name = "lars-eta", .type = TB_OPT_FLOAT, .offset = F(lars_eta), .max = 1, .metavar = "X",
     .help = "LARS trust coefficient", .header = "LARS eta", .tui = 23},
    {.name = "momentum", .type = TB_OPT_FLOAT, .offset = F(momentum), .max = 1, .metavar = "X", .help = "momentum",
     .tui = 13},
    {.name = "weight-decay", .type = TB_OPT_FLOAT, .offset = F(weight_decay), .max = 1, .metavar = "X",
     .help = "L2 weight decay", .tui = 14},
    {.name = "lr-schedule", .type = TB_OPT_CHOICE, .offset = F(lr_schedule), .size = S(lr_schedule),
     .choices = "constant|step|cosine", .metavar = "NAME", .help = "learning-rate schedule after warm-up", .tui = 9,
     .header = "LR schedule"},
    {.name = "warmup-epochs", .type = TB_OPT_INT, .offset = F(warmup_epochs), .max = 1000, .metavar = "N",
     .help = "linear learning-rate warm-up epochs", .header = "Warm-up epochs", .tui = 19},
    {.name = "step-size", .type = TB_OPT_INT, .offset = F(step_size), .min = 1, .max = 100000, .metavar = "N",
     .help = "step schedule: epochs between decays", .tui = 20},
    {.name = "step-gamma", .type = TB_OPT_FLOAT, .offset = F(step_gamma), .max = 1, .metavar = "X",
     .help = "step schedule: decay factor", .tui = 21},
    {.name = "no-batch-norm", .type = TB_OPT_FLAG, .offset = F(batch_norm), .negate = 1,
     .help = "drop the batch-norm layers (the lab's C7)", .header = "Batch norm", .tui = 25},
    {.name = "no-augment", .type = TB_OPT_FLAG, .offset = F(augment), .negate = 1, .help = "no random crop and flip",
     .tui = 26},
    {.name = "limit-train", .type = TB_OPT_INT, .offset = F(limit_train), .max = 100000000, .metavar = "N",
     .help = "train on the first N images only", .default_means = "all", .tui = 15},
    {.name = "limit-test", .type = TB_OPT_INT, .offset = F(limit_test), .max = 100000000, .metavar = "N",
     .help = "test on the first N images only", .default_means = "all", .tui = 16},
    {.name = "image-size", .type = TB_OPT_INT, .offset = F(image_size), .max = 4096, .metavar = "N",
     .help = "JPEG datasets (imagenet, packed JPEG): input size of the crops", .default_means = "224", .tui = 27},
    {.name = "seed", .type = TB_OPT_U64, .offset = F(seed), .metavar = "N", .help = "random seed", .tui = 17},
    {.name = "threads", .type = TB_OPT_INT, .offset = F(threads), .max = 4096, .metavar = "N",
     .help = "compute threads", .default_means = "all cores", .on_resume = TB_RESUME_CHANGE, .tui = 18},
    {.name = "precision", .type = TB_OPT_CHOICE, .offset = F(precision), .size = S(precision),
     .choices = "fp32|tf32|bf16|fp16", .metavar = "P", .help = "arithmetic precision; the CPU backend takes fp32 or bf16 (bf16 convolutions, as on the GPU)",
     .tui = 11},
    {.name = "run-dir", .type = TB_OPT_STRING, .offset = F(run_dir), .size = S(run_dir), .metavar = "DIR",
     .help = "run directory", .default_means = "RUNS/<timestamp>-train", .per_invocation = RUN_DIRS,
     .on_resume = TB_RESUME_FRESH},
    {.name = "runs-dir", .type = TB_OPT_STRING, .offset = F(runs_dir), .size = S(runs_dir), .metavar = "DIR",
     .help = "where default run directories go", .per_invocation = RUN_DIRS, .on_resume = TB_RESUME_CHANGE},
    {.name = "save-weights", .type = TB_OPT_FLAG, .offset = F(save_weights),
     .help = "write the final weights and running statistics to RUN_DIR/weights.safetensors (PyTorch names)",
     .on_resume = TB_RESUME_CHANGE, .tui = 31},
    {.name = "resume", .type = TB_OPT_STRING, .offset = F(resume), .size = S(resume), .metavar = "RUN_DIR",
     .help = "continue the stopped run in RUN_DIR from its last checkpoint", /* --help adds what may change */
     .per_invocation = RUN_DIRS, .on_resume = TB_RESUME_FRESH},
    {.name = "no-checkpoint", .type = TB_OPT_FLAG, .offset = F(checkpoint), .negate = 1,
     .help = "write no RUN_DIR/checkpoint.safetensors", .default_means = "at every epoch end and on interrupt",
     .on_resume = TB_RESUME_CHANGE, .tui = 32},
    {.name = "checkpoint-every", .type = TB_OPT_FLOAT, .offset = F(checkpoint_every), .max = 1e6, .metavar = "MIN",
     .help = "also checkpoint mid-epoch every MIN minutes", .default_means = "epoch ends only",
     .on_resume = TB_RESUME_CHANGE, .tui = 33},
    {.name = "profile", .type = TB_OPT_STRING, .offset = F(profile), .size = S(profile), .metavar = "FILE",
     .help = "write a Chrome trace-event profile (Perfetto, chrome://tracing) and per-phase times per epoch",
     .on_resume = TB_RESUME_CHANGE,
     .per_invocation = "a preset must not choose a file to write; profile one run with trainbench train --profile",
     .alias = "trace-file-name", .alias_suffix = ".json"},
    {.name = "trace", .alias = "run-profiler", .type = TB_OPT_FLAG, .offset = F(trace),
     .help = "profile as --profile does, into RUN_DIR/trace.json (a preset may ask for it: the file is always the "
             "run's own); with --profile FILE the trace goes to FILE",
     .on_resume = TB_RESUME_CHANGE, .header = "Trace", .tui = 34},
    {.name = "profile-layers", .type = TB_OPT_FLAG, .offset = F(profile_layers),
     .help = "with --profile: forward and backward spans per layer", .on_resume = TB_RESUME_CHANGE, .tui = 35},
    {.name = "repeat", .type = TB_OPT_INT, .offset = F(repeat), .min = 1, .max = 1000, .metavar = "K",
     .help = "train K times from the same start; timings become min/median/max over the repeats",
     .on_resume = TB_RESUME_CHANGE, .tui = 36},
    {.name = "average-skip", .type = TB_OPT_INT, .offset = F(average_skip), .max = 100000, .metavar = "N",
     .help = "leave the first N epochs out of the averaged times (a run of N epochs or fewer averages them all); "
             "lab 2 averages all its epochs (0)",
     .on_resume = TB_RESUME_CHANGE, .header = "Epochs left out of averages", .tui = 37}, /* presets set it */
    {.name = "worker-sweep", .alias = "run-code-3", .type = TB_OPT_FLAG, .offset = F(worker_sweep),
     .help = "run lab 2's C3 worker sweep instead of one training: trainbench run lab2-c3-workers with workers 0, 4, "
             "8, ... up to --worker-sweep-max, and this command's other options",
     .per_invocation = "it turns one command into the lab2-c3-workers sweep; a preset sweeps num_workers itself",
     .on_resume = TB_RESUME_FRESH},
    {.name = "worker-sweep-max", .alias = "max-num-of-workers-for-code-3", .type = TB_OPT_INT,
     .offset = F(worker_sweep_max), .max = 256, .metavar = "N", .help = "with --worker-sweep: the most workers",
     .per_invocation = "it belongs to --worker-sweep", .on_resume = TB_RESUME_FRESH},
    {.name = "no-epoch-lines", .alias = "print-epochs", .alias_negate = 1, .negate = 1, .type = TB_OPT_FLAG,
     .offset = F(epoch_lines), .help = "no line per epoch, only the closing averages (lab 2's C3 runs)",
     .per_invocation = "it sets how one command prints, not what the experiment is", .on_resume = TB_RESUME_FRESH},
    {.name = "quiet", .type = TB_OPT_FLAG, .offset = F(quiet),
     .help = "print only the final summary",
     .per_invocation = "it sets how one command prints, not what the experiment is", .on_resume = TB_RESUME_FRESH},
    {.name = NULL},
};

void tb_train_config_defaults(tb_train_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->model, sizeof c->model, "resnet18-cifar");
    snprintf(c->dataset, sizeof c->dataset, "fashion-mnist");
    snprintf(c->device, sizeof c->device, "cpu");
    c->num_workers = 2;
    c->batch_size = 128;
    c->gpus = 1;
    c->rank_timeout = 600;
    c->bucket_mb = 25;
    snprintf(c->overlap, sizeof c->overlap, "on");
    c->epochs = 5;
    snprintf(c->optimizer, sizeof c->optimizer, "sgd");
    c->lr = 0.1;
    snprintf(c->lr_scaling, sizeof c->lr_scaling, "none");
    c->lars_eta = 0.001;
    c->momentum = 0.9;
    c->weight_decay = 5e-4;
    snprintf(c->lr_schedule, sizeof c->lr_schedule, "constant");
    c->step_size = 30;
    c->step_gamma = 0.1;
    c->batch_norm = 1;
    c->augment = 1;
    c->seed = 1;
    snprintf(c->precision, sizeof c->precision, "fp32");
    snprintf(c->runs_dir, sizeof c->runs_dir, "runs");
    c->checkpoint = 1;
    c->repeat = 1;
    c->epoch_lines = 1;
    c->worker_sweep_max = 12; /* the lab2-c3-workers preset's 0, 4, 8, 12 */
    c->average_skip = 1; /* the first epoch carries start-up costs (allocation, algorithm search) */
}

const tb_option *tb_train_options(void) { return options; }

const char *tb_option_spell(const char *name, tb_spelling how, char *out, size_t size)
{
    if (!size)
        return out;
    const char *from = name;
    const tb_option *o = how == TB_SPELL_KEY ? tb_option_find(name) : NULL;
    if (o) /* the canonical name; a negated flag's key is its field, stored positively */
        from = o->negate ? o->name + 3 : o->name;
    char want = how == TB_SPELL_FLAG ? '-' : '_', other = how == TB_SPELL_FLAG ? '_' : '-';
    size_t i = 0;
    for (; from[i] && i + 1 < size; i++)
        out[i] = from[i] == other ? want : from[i];
    out[i] = '\0';
    return out;
}

const tb_option *tb_option_find(const char *name)
{
    /* Flags are named with '-'; compare in that spelling.  A name too long
     * for the buffer is no option (rather than a truncated match). */
    char flag[64] = "";
    if (strlen(name) >= sizeof flag)
        return NULL;
    for (size_t i = 0; name[i]; i++)
        flag[i] = name[i] == '_' ? '-' : name[i];
    for (const tb_option *o = options; o->name; o++)
        if (!strcmp(o->name, flag) || (o->alias && !strcmp(o->alias, flag)))
            return o;
    return NULL;
}

const tb_option *tb_option_find_key(const char *key)
{
    char want[64], have[64];
    if (strlen(key) >= sizeof want)
        return NULL;
    tb_option_spell(key, TB_SPELL_PRESET, want, sizeof want); /* '-' and '_' alike, no "no_" dropped */
    for (const tb_option *o = options; o->name; o++)
        if (!strcmp(tb_option_spell(o->name, TB_SPELL_KEY, have, sizeof have), want))
            return o;
    return NULL;
}

const char *tb_option_header(const char *key)
{
    const tb_option *o = tb_option_find_key(key);
    return o ? o->header : NULL;
}

int tb_option_resume_ok(const tb_option *o) { return o->on_resume != TB_RESUME_KEEP; }

const char *tb_option_resume_flags(char *out, size_t size)
{
    size_t n = 0;
    if (size)
        out[0] = '\0';
    for (const tb_option *o = options; o->name && n < size; o++)
        if (o->on_resume == TB_RESUME_CHANGE) { /* the FRESH ones are this invocation's anyway */
            int w = snprintf(out + n, size - n, "%s--%s", n ? ", " : "", o->name);
            n += w > 0 ? (size_t)w : 0;
        }
    return out;
}

static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[la][lb];
}

const char *tb_suggest(const char *name, const char *const *candidates, int n)
{
    const char *best = NULL;
    int best_d = 4;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(name, candidates[i]);
        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}

const char *tb_option_suggest(const char *name)
{
    const char *best = NULL;
    int best_d = 4;
    for (const tb_option *o = options; o->name; o++) {
        int d = edit_distance(name, o->name);
        if (d < best_d) {
            best_d = d;
            best = o->name;
        }
    }
    return best;
}


static int parse_bool(const char *v, int *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i]))
            return *out = 1, 0;
        if (!strcasecmp(v, no[i]))
            return *out = 0, 0;
    }
    return -1;
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n))
            return 1;
        /* "packed:FILE" accepts the prefix with any non-empty FILE. */
        const char *colon = memchr(p, ':', len);
        if (colon && n > (size_t)(colon - p) + 1 && !strncmp(p, v, (size_t)(colon - p) + 1))
            return 1;
        p += len + (bar != NULL);
    }
    return 0;
}

/* Number syntax before strtol/strtod, which would also take leading spaces,
 * '+', hex (0x10), inf and nan, and wrap " -1" to 2^64-1 for an unsigned
 * field: digits, a leading '-' where the type is signed, and for floats a
 * decimal point and an exponent. */
static int number_syntax(const char *s, int is_signed, int is_float)
{
    if (is_signed && *s == '-')
        s++;
    int digits = 0;
    while (*s >= '0' && *s <= '9')
        s++, digits++;
    if (is_float && *s == '.')
        for (s++; *s >= '0' && *s <= '9'; s++)
            digits++;
    if (!digits)
        return 0;
    if (is_float && (*s == 'e' || *s == 'E')) {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return 0;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

int tb_option_set(tb_train_config *c, const tb_option *o, const char *value)
{
    char *field = (char *)c + o->offset;
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case TB_OPT_INT: {
        long v = strtol(value, &end, 10);
        if (!number_syntax(value, 1, 0) || *end || errno || v < o->min || v > o->max)
            return tb_fail("--%s %s: expected an integer from %.0f to %.0f", o->name, value, o->min, o->max);
        *(int *)field = (int)v;
        return 0;
    }
    case TB_OPT_U64: {
        unsigned long long v = strtoull(value, &end, 10);
        if (!number_syntax(value, 0, 0) || *end || errno)
            return tb_fail("--%s %s: expected a non-negative integer", o->name, value);
        *(uint64_t *)field = (uint64_t)v;
        return 0;
    }
    case TB_OPT_FLOAT: {
        double v = strtod(value, &end);
        if (!number_syntax(value, 1, 1) || *end || errno || !isfinite(v) || v < o->min || v > o->max)
            return tb_fail("--%s %s: expected a number from %g to %g", o->name, value, o->min, o->max);
        *(double *)field = v;
        return 0;
    }
    case TB_OPT_CHOICE:
        if (!in_choices(o->choices, value))
            return tb_fail("--%s %s: expected one of %s", o->name, value, o->choices);
        /* fall through */
    case TB_OPT_STRING:
        if (!*value)
            return tb_fail("--%s: expected a value", o->name);
        /* Refused, not escaped: these strings go into config.json and
         * result.json as they are (json-c writes bytes unchanged, so invalid
         * UTF-8 makes invalid JSON), and an escaped path would no longer name
         * the directory that --resume reads back. */
        if (!tb_utf8_valid(value))
            return tb_fail("--%s: the value is not valid UTF-8 text; trainbench stores it in JSON files, so rename "
                           "the file or folder to a UTF-8 name",
                           o->name);
        if (strlen(value) >= o->size)
            return tb_fail("--%s: value is too long (at most %zu characters)", o->name, o->size - 1);
        if (o->check && o->check(value))
            return -1;
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case TB_OPT_FLAG: {
        int v;
        if (parse_bool(value, &v))
            return tb_fail("--%s=%s: expected true or false", o->name, value);
        *(int *)field = o->negate ? !v : v;
        return 0;
    }
    }
    return tb_fail("--%s: internal error: unknown option type", o->name);
}

int tb_option_set_spelt(tb_train_config *c, const tb_option *o, const char *name, const char *value)
{
    char flag[64];
    tb_option_spell(name, TB_SPELL_FLAG, flag, sizeof flag);
    if (!o->alias || strcmp(flag, o->alias))
        return tb_option_set(c, o, value);
    if (o->alias_negate && o->type == TB_OPT_FLAG) {
        int v;
        if (parse_bool(value, &v))
            return tb_fail("--%s=%s: expected true or false", o->alias, value);
        return tb_option_set(c, o, v ? "false" : "true");
    }
    if (o->alias_suffix) {
        char full[1100];
        if (snprintf(full, sizeof full, "%s%s", value, o->alias_suffix) >= (int)sizeof full)
            return tb_fail("--%s: value is too long", o->alias);
        return tb_option_set(c, o, full);
    }
    return tb_option_set(c, o, value);
}

void tb_option_format(const tb_train_config *c, const tb_option *o, char *out, size_t out_size)
{
    const char *field = (const char *)c + o->offset;
    switch (o->type) {
    case TB_OPT_INT:
        snprintf(out, out_size, "%d", *(const int *)field);
        return;
    case TB_OPT_U64:
        snprintf(out, out_size, "%llu", (unsigned long long)*(const uint64_t *)field);
        return;
    case TB_OPT_FLOAT: {
        /* The shortest text that reads back as the same double: ranks, sweep
         * configurations and config.json get the user's value exactly (%g
         * made --lr 0.0123456789 train as 0.0123457), help and tables still
         * show 0.1, not 0.10000000000000001. */
        double v = *(const double *)field;
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(out, out_size, "%.*g", digits, v);
            if (strtod(out, NULL) == v)
                break;
        }
        return;
    }
    case TB_OPT_CHOICE:
    case TB_OPT_STRING:
        snprintf(out, out_size, "%s", field);
        return;
    case TB_OPT_FLAG: {
        int v = *(const int *)field;
        snprintf(out, out_size, "%s", (o->negate ? !v : v) ? "true" : "false");
        return;
    }
    }
}

/* " (default 128)", " (default 0: all cores)", " (default: NOTE)" for an
 * unset string or a flag, or "" when there is nothing to say. */
static void format_default(const tb_train_config *defaults, const tb_option *o, char *out, size_t size)
{
    char value[1100] = "";
    if (o->type != TB_OPT_FLAG)
        tb_option_format(defaults, o, value, sizeof value);
    const char *means = o->default_means;
    if (value[0])
        snprintf(out, size, " (default %s%s%s)", value, means ? ": " : "", means ? means : "");
    else if (means)
        snprintf(out, size, " (default: %s)", means);
    else
        out[0] = '\0';
}

void tb_train_print_help(void)
{
    tb_train_config defaults;
    tb_train_config_defaults(&defaults);
    char resume[1024];
    tb_option_resume_flags(resume, sizeof resume);
    printf("usage: trainbench train [options]\n\nTrains a ResNet and writes a run directory "
           "(config.json, events.jsonl, result.json).\n\noptions:\n");
    for (const tb_option *o = options; o->name; o++) {
        char flag[64], def[1200];
        snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        format_default(&defaults, o, def, sizeof def);
        int is_resume = o->offset == F(resume);
        char also[160] = "";
        if (o->alias)
            snprintf(also, sizeof also, " (also --%s%s%s)", o->alias, o->alias_negate ? "=false" : "",
                     o->alias_suffix ? "=NAME, which writes NAME.json" : "");
        printf("  %-24s %s%s%s%s%s%s\n", flag, o->help, is_resume ? " (its options apply; " : "",
               is_resume ? resume : "", is_resume ? " may be changed)" : "", def, also);
    }
    /* The labs' own command lines work as they were written. */
    printf("\nlab spellings (lab2.py's flags, --flag=value or --flag value):");
    for (const tb_option *o = options; o->name; o++)
        if (o->alias)
            printf(" --%s%s", o->alias, o->alias_negate ? "=false" : "");
    printf("\n");
}

int tb_train_parse_args(int argc, char **argv, tb_train_config *c)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            tb_train_print_help();
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0 || !arg[2])
            return tb_fail("unexpected argument '%s'; options start with -- (see trainbench train --help)", arg);
        char name[64];
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (len >= sizeof name)
            return tb_fail("unknown option '%.60s...'; see trainbench train --help", arg);
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        const tb_option *o = tb_option_find(name);
        if (!o) {
            const char *s = tb_option_suggest(name);
            return tb_fail("unknown option '--%s'%s%s%s; see trainbench train --help", name,
                           s ? "; did you mean '--" : "", s ? s : "", s ? "'?" : "");
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value && o->type == TB_OPT_FLAG)
            value = "true";
        if (!value) {
            if (i + 1 >= argc)
                return tb_fail("--%s needs a value (%s)", o->name, o->metavar ? o->metavar : "value");
            value = argv[++i];
        }
        if (tb_option_set_spelt(c, o, name, value))
            return -1;
    }
    return tb_train_config_validate(c);
}

int tb_train_config_validate(const tb_train_config *c)
{
    tb_model_spec spec;
    if (tb_model_spec_parse(c->model, 10, 3, 1, &spec))
        return tb_fail_prefix("--model");
    if (strcmp(c->device, "cpu") == 0 && strcmp(c->precision, "fp32") != 0 && strcmp(c->precision, "bf16") != 0)
        return tb_fail("--precision %s: the CPU backend computes in fp32 or bf16; use --precision fp32, bf16, or "
                       "--device cuda",
                       c->precision);
    if (c->profile_layers && !c->profile[0] && !c->trace)
        return tb_fail("--profile-layers needs --profile FILE or --trace (the trace the layer spans go to)");
    if (c->checkpoint_every > 0 && !c->checkpoint)
        return tb_fail("--checkpoint-every %g with --no-checkpoint: drop one of them", c->checkpoint_every);
    if (c->warmup_epochs >= c->epochs && c->warmup_epochs > 0)
        return tb_fail("--warmup-epochs %d: must be fewer than --epochs %d", c->warmup_epochs, c->epochs);
    return 0;
}

int tb_train_batch_at(const tb_train_config *c, int epoch)
{
    int e[32], b[32], batch = c->batch_size;
    int n = parse_batch_schedule(c->batch_schedule, e, b, 32);
    for (int i = 0; i < n && e[i] <= epoch + 1; i++)
        batch = b[i];
    return batch;
}

int tb_train_batch_max(const tb_train_config *c)
{
    int most = c->batch_size;
    for (int e = 1; e < c->epochs; e++) {
        int b = tb_train_batch_at(c, e);
        most = b > most ? b : most;
    }
    return most;
}

double tb_train_effective_lr(const tb_train_config *c)
{
    if (strcmp(c->lr_scaling, "linear") == 0)
        return c->lr * (double)c->batch_size * c->gpus / 256.0;
    return c->lr;
}
