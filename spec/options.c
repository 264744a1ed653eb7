#include "spec/options.h"

#include "core/error.h"
#include "spec/model_spec.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F(field) offsetof(tb_train_config, field)
#define S(field) sizeof(((tb_train_config *)0)->field)

static const tb_option options[] = {
    {"model", NULL, TB_OPT_STRING, F(model), S(model), 0, 0, NULL, 0, "NAME",
     "resnet18-cifar (default), resnet18, resnet34, resnet50, ...; NAME:wN sets the base width"},
    {"dataset", NULL, TB_OPT_CHOICE, F(dataset), S(dataset), 0, 0, "cifar10|cifar100|fashion-mnist|mnist|synthetic|imagenet|packed:FILE",
     0, "NAME", "training data (default fashion-mnist); packed:FILE reads `trainbench data pack` output"},
    {"data-dir", "dataset-path", TB_OPT_STRING, F(data_dir), S(data_dir), 0, 0, NULL, 0, "DIR",
     "where the dataset files are (default: the dataset's standard place)"},
    {"device", NULL, TB_OPT_CHOICE, F(device), S(device), 0, 0, "cpu|cuda", 0, "DEV", "cpu or cuda (default cpu)"},
    {"num-workers", "num-of-workers", TB_OPT_INT, F(num_workers), 0, 0, 256, NULL, 0, "N",
     "data-loader threads; 0 loads in the training thread (default 2)"},
    {"batch-size", NULL, TB_OPT_INT, F(batch_size), 0, 1, 65536, NULL, 0, "N", "mini-batch size per GPU (default 128)"},
    {"gpus", NULL, TB_OPT_INT, F(gpus), 0, 1, 4096, NULL, 0, "N",
     "data-parallel ranks, one GPU each (CPU ranks with --device cpu); started with mpirun, or srun inside "
     "a Slurm allocation (default 1)"},
    {"rank-timeout", NULL, TB_OPT_FLOAT, F(rank_timeout), 0, 0, 1e6, NULL, 0, "S",
     "data-parallel: seconds a rank waits for the others before stopping the job (default 600)"},
    {"bucket-mb", NULL, TB_OPT_FLOAT, F(bucket_mb), 0, 0.001, 65536, NULL, 0, "MB",
     "data-parallel: gradients are all-reduced in buckets of about MB megabytes (default 25)"},
    {"overlap", NULL, TB_OPT_CHOICE, F(overlap), S(overlap), 0, 0, "on|off", 0, "on|off",
     "data-parallel: all-reduce each bucket as soon as backward has written it (on, default) or after "
     "backward (off: compute and communication times apart)"},
    {"epochs", NULL, TB_OPT_INT, F(epochs), 0, 1, 100000, NULL, 0, "N", "training epochs (default 5)"},
    {"optimizer", NULL, TB_OPT_CHOICE, F(optimizer), S(optimizer), 0, 0,
     "sgd|sgd-nesterov|adagrad|adadelta|adam|lars", 0, "NAME", "optimizer (default sgd)"},
    {"lr", NULL, TB_OPT_FLOAT, F(lr), 0, 0, 1e6, NULL, 0, "X", "learning rate (default 0.1)"},
    {"lr-scaling", NULL, TB_OPT_CHOICE, F(lr_scaling), S(lr_scaling), 0, 0, "none|linear", 0, "MODE",
     "linear: lr x (batch size x gpus) / 256 (default none)"},
    {"lars-eta", NULL, TB_OPT_FLOAT, F(lars_eta), 0, 0, 1, NULL, 0, "X", "LARS trust coefficient (default 0.001)"},
    {"momentum", NULL, TB_OPT_FLOAT, F(momentum), 0, 0, 1, NULL, 0, "X", "momentum (default 0.9)"},
    {"weight-decay", NULL, TB_OPT_FLOAT, F(weight_decay), 0, 0, 1, NULL, 0, "X", "L2 weight decay (default 5e-4)"},
    {"lr-schedule", NULL, TB_OPT_CHOICE, F(lr_schedule), S(lr_schedule), 0, 0, "constant|step|cosine", 0, "NAME",
     "learning-rate schedule after warm-up (default constant)"},
    {"warmup-epochs", NULL, TB_OPT_INT, F(warmup_epochs), 0, 0, 1000, NULL, 0, "N",
     "linear learning-rate warm-up epochs (default 0)"},
    {"step-size", NULL, TB_OPT_INT, F(step_size), 0, 1, 100000, NULL, 0, "N",
     "step schedule: epochs between decays (default 30)"},
    {"step-gamma", NULL, TB_OPT_FLOAT, F(step_gamma), 0, 0, 1, NULL, 0, "X",
     "step schedule: decay factor (default 0.1)"},
    {"no-batch-norm", NULL, TB_OPT_FLAG, F(batch_norm), 0, 0, 0, NULL, 1, NULL,
     "drop the batch-norm layers (the lab's C7)"},
    {"no-augment", NULL, TB_OPT_FLAG, F(augment), 0, 0, 0, NULL, 1, NULL,
     "no random crop and flip"},
    {"limit-train", NULL, TB_OPT_INT, F(limit_train), 0, 0, 100000000, NULL, 0, "N",
     "train on the first N images only (0: all)"},
    {"limit-test", NULL, TB_OPT_INT, F(limit_test), 0, 0, 100000000, NULL, 0, "N",
     "test on the first N images only (0: all)"},
    {"image-size", NULL, TB_OPT_INT, F(image_size), 0, 0, 4096, NULL, 0, "N",
     "JPEG datasets (imagenet, packed JPEG): input size of the crops (default 224)"},
    {"seed", NULL, TB_OPT_U64, F(seed), 0, 0, 0, NULL, 0, "N", "random seed (default 1)"},
    {"threads", NULL, TB_OPT_INT, F(threads), 0, 0, 4096, NULL, 0, "N", "compute threads; 0 uses all cores"},
    {"precision", NULL, TB_OPT_CHOICE, F(precision), S(precision), 0, 0, "fp32|tf32|bf16|fp16", 0, "P",
     "arithmetic precision (CPU: fp32)"},
    {"run-dir", NULL, TB_OPT_STRING, F(run_dir), S(run_dir), 0, 0, NULL, 0, "DIR",
     "run directory (default RUNS/<timestamp>-train)"},
    {"runs-dir", NULL, TB_OPT_STRING, F(runs_dir), S(runs_dir), 0, 0, NULL, 0, "DIR",
     "where default run directories go (default runs)"},
    {"save-weights", NULL, TB_OPT_FLAG, F(save_weights), 0, 0, 0, NULL, 0, NULL,
     "write the final weights and running statistics to RUN_DIR/weights.safetensors (PyTorch names)"},
    {"resume", NULL, TB_OPT_STRING, F(resume), S(resume), 0, 0, NULL, 0, "RUN_DIR",
     "continue the stopped run in RUN_DIR from its last checkpoint (its options apply; --epochs, --num-workers, "
     "--threads, --lr and the output options may be changed)"},
    {"no-checkpoint", NULL, TB_OPT_FLAG, F(checkpoint), 0, 0, 0, NULL, 1, NULL,
     "write no RUN_DIR/checkpoint.safetensors (default: at every epoch end and on interrupt)"},
    {"checkpoint-every", NULL, TB_OPT_FLOAT, F(checkpoint_every), 0, 0, 1e6, NULL, 0, "MIN",
     "also checkpoint mid-epoch every MIN minutes (default 0: epoch ends only)"},
    {"profile", NULL, TB_OPT_STRING, F(profile), S(profile), 0, 0, NULL, 0, "FILE",
     "write a Chrome trace-event profile (Perfetto, chrome://tracing) and per-phase times per epoch"},
    {"profile-layers", NULL, TB_OPT_FLAG, F(profile_layers), 0, 0, 0, NULL, 0, NULL,
     "with --profile: forward and backward spans per layer"},
    {"repeat", NULL, TB_OPT_INT, F(repeat), 0, 1, 1000, NULL, 0, "K",
     "train K times from the same start; timings become min/median/max over the repeats (default 1)"},
    {"quiet", NULL, TB_OPT_FLAG, F(quiet), 0, 0, 0, NULL, 0, NULL, "print only the final summary"},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, 0, NULL, NULL},
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
}

int tb_option_per_invocation(const tb_option *o)
{
    static const char *const names[] = {"run-dir", "runs-dir", "quiet", "resume"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(o->name, names[i]))
            return 1;
    return 0;
}

const tb_option *tb_train_options(void) { return options; }

/* Compares option names treating '-' and '_' alike. */
static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y)
            return 0;
    }
    return *a == *b;
}

const tb_option *tb_option_find(const char *name)
{
    for (const tb_option *o = options; o->name; o++)
        if (same_name(o->name, name) || (o->alias && same_name(o->alias, name)))
            return o;
    return NULL;
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

int tb_option_set(tb_train_config *c, const tb_option *o, const char *value)
{
    char *field = (char *)c + o->offset;
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case TB_OPT_INT: {
        long v = strtol(value, &end, 10);
        if (!*value || *end || errno || v < o->min || v > o->max)
            return tb_fail("--%s %s: expected an integer from %.0f to %.0f", o->name, value, o->min, o->max);
        *(int *)field = (int)v;
        return 0;
    }
    case TB_OPT_U64: {
        unsigned long long v = strtoull(value, &end, 10);
        if (!*value || *end || errno || value[0] == '-')
            return tb_fail("--%s %s: expected a non-negative integer", o->name, value);
        *(uint64_t *)field = (uint64_t)v;
        return 0;
    }
    case TB_OPT_FLOAT: {
        double v = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(v) || v < o->min || v > o->max)
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
        if (strlen(value) >= o->size)
            return tb_fail("--%s: value is too long (at most %zu characters)", o->name, o->size - 1);
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
    case TB_OPT_FLOAT:
        snprintf(out, out_size, "%g", *(const double *)field);
        return;
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

void tb_train_print_help(void)
{
    printf("usage: trainbench train [options]\n\nTrains a ResNet and writes a run directory "
           "(config.json, events.jsonl, result.json).\n\noptions:\n");
    for (const tb_option *o = options; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-24s %s%s%s%s\n", flag, o->help, o->alias ? " (also --" : "", o->alias ? o->alias : "",
               o->alias ? ")" : "");
    }
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
        if (tb_option_set(c, o, value))
            return -1;
    }
    return tb_train_config_validate(c);
}

int tb_train_config_validate(const tb_train_config *c)
{
    tb_model_spec spec;
    if (tb_model_spec_parse(c->model, 10, 3, 1, &spec))
        return tb_fail_prefix("--model");
    if (strcmp(c->device, "cpu") == 0 && strcmp(c->precision, "fp32") != 0)
        return tb_fail("--precision %s: the CPU backend computes in fp32; use --precision fp32 or --device cuda",
                       c->precision);
    if (c->profile_layers && !c->profile[0])
        return tb_fail("--profile-layers needs --profile FILE (the trace the layer spans go to)");
    if (c->checkpoint_every > 0 && !c->checkpoint)
        return tb_fail("--checkpoint-every %g with --no-checkpoint: drop one of them", c->checkpoint_every);
    if (c->warmup_epochs >= c->epochs && c->warmup_epochs > 0)
        return tb_fail("--warmup-epochs %d: must be fewer than --epochs %d", c->warmup_epochs, c->epochs);
    return 0;
}

double tb_train_effective_lr(const tb_train_config *c)
{
    if (strcmp(c->lr_scaling, "linear") == 0)
        return c->lr * (double)c->batch_size * c->gpus / 256.0;
    return c->lr;
}
