#include "app/cli.h" // uses: tb_cli_run, tb_cli_train

#include "core/error.h" // uses: tb_fail_prefix, tb_fail, tb_last_error
#include "engine/dist.h" // uses: tb_dist_launched
#include "engine/model.h" // uses: tb_model_info, tb_model_describe, tb_model_info_free
#include "rundir/rundir.h" // uses: tb_json_read_file
#include "spec/model_spec.h" // uses: tb_model_spec, tb_model_spec_parse
#include "spec/options.h" // uses: tb_train_config, tb_train_config_defaults, tb_train_config_from_json, ...
#include "tb_config.h"
#include "engine/trainer.h" // uses: tb_train_resume_check, tb_train_run

#if TB_HAVE_CUDA
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_device_count
#endif

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --resume DIR: the run's own options from DIR/config.json; the command
 * line then applies on top (the trainer refuses changes that would make it
 * another experiment). */
static int load_run_config(const char *dir, tb_train_config *c)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/config.json", dir);
    struct json_object *o = tb_json_read_file(path);
    if (!o)
        return tb_fail_prefix("--resume %s: not a run directory", dir);
    tb_train_config_defaults(c);
    int rc = tb_train_config_from_json(c, o, path);
    json_object_put(o);
    return rc;
}

/* The input size, checked before the run directory is created: JPEG crops
 * of 8 pixels or more (the loader's floor) that the model has an output
 * for.  Other datasets pad to 32 and ignore --image-size. */
static int check_input_size(const tb_train_config *c)
{
    if (c->image_size > 0 && c->image_size < 8)
        return tb_fail("--image-size %d: crops must be 8 pixels or more (leave it out for 224)", c->image_size);
    if (strcmp(c->dataset, "imagenet") != 0 && strncmp(c->dataset, "packed:", 7) != 0)
        return 0;
    int size = c->image_size ? c->image_size : 224;
    tb_model_spec spec;
    tb_model_info info;
    if (tb_model_spec_parse(c->model, 10, 3, c->batch_norm, &spec) || tb_model_describe(&spec, size, size, &info))
        return tb_fail_prefix("--model %s with --image-size %d", c->model, size);
    tb_model_info_free(&info);
    return 0;
}

/* --worker-sweep (lab 2's --run-code-3=true --max-num-of-workers-for-code-3=N):
 * the C3 question is a sweep, so it is handed to the code that runs sweeps,
 * `trainbench run lab2-c3-workers`, with the workers 0, 4, ... N and every
 * other option this command was given as a --set.  One code path for the
 * worker sweep: its plan, sweep directory, table and resume are the preset's. */
static int run_worker_sweep(int argc, char **argv, const tb_train_config *c)
{
    char workers[1100] = "num_workers=";
    for (int w = 0; w <= c->worker_sweep_max; w += 4) {
        size_t len = strlen(workers);
        snprintf(workers + len, sizeof workers - len, "%s%d", w ? "," : "", w);
    }
    char **args = calloc((size_t)argc * 2 + 8, sizeof *args);
    char *owned = calloc((size_t)argc + 1, 1200);
    const tb_option **seen = calloc((size_t)argc + 1, sizeof *seen);
    int n = 0, nseen = 0, rc = 2;
    if (!args || !owned || !seen) {
        fprintf(stderr, "trainbench train: out of memory\n");
        goto out;
    }
    args[n++] = "run", args[n++] = "lab2-c3-workers", args[n++] = "--set", args[n++] = workers;
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *arg = argv[i], *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        if (strncmp(arg, "--", 2) || len >= sizeof name)
            continue; /* a value of the option before (parsing already checked them all) */
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        const tb_option *o = tb_option_find(name);
        int dup = 0;
        for (int k = 0; o && k < nseen; k++)
            dup |= seen[k] == o;
        if (!o || dup || o->offset == offsetof(tb_train_config, worker_sweep) ||
            o->offset == offsetof(tb_train_config, worker_sweep_max) ||
            o->offset == offsetof(tb_train_config, num_workers) || o->offset == offsetof(tb_train_config, quiet) ||
            o->offset == offsetof(tb_train_config, epoch_lines))
            continue; /* the sweep sets the workers and prints a line per configuration */
        seen[nseen++] = o;
        char *v = owned + (size_t)i * 1200;
        if (o->offset == offsetof(tb_train_config, runs_dir)) {
            snprintf(v, 1200, "%s", c->runs_dir);
            args[n++] = "--runs-dir", args[n++] = v;
            continue;
        }
        if (o->per_invocation) {
            fprintf(stderr, "trainbench train: --%s with --worker-sweep (--run-code-3): the sweep runs "
                            "trainbench run lab2-c3-workers, where --%s is not available (%s)\n",
                    o->name, o->name, o->per_invocation);
            goto out;
        }
        char key[64], value[1100];
        tb_option_spell(o->name, TB_SPELL_PRESET, key, sizeof key);
        tb_option_format(c, o, value, sizeof value);
        for (char *p = value; o->offset == offsetof(tb_train_config, batch_schedule) && *p; p++)
            *p = *p == ',' ? ' ' : *p; /* --set takes a comma list only for a swept option */
        snprintf(v, 1200, "%s=%s", key, value);
        args[n++] = "--set", args[n++] = v;
    }
    if (!c->quiet)
        printf("Lab 2 C3: trainbench run lab2-c3-workers --set %s\n", workers);
    fflush(stdout);
    rc = tb_cli_run(n, args);
out:
    free(args);
    free(owned);
    free(seen);
    return rc;
}

int tb_cli_train(int argc, char **argv)
{
    tb_train_config c;
    tb_train_config_defaults(&c);
    int rc = tb_train_parse_args(argc, argv, &c);
    /* Ranks started by --gpus carry every option already; only the command
     * the user typed reads the run's config.json. */
    if (rc == 0 && c.resume[0] && !tb_dist_launched()) {
        char dir[sizeof c.resume];
        snprintf(dir, sizeof dir, "%s", c.resume);
        rc = load_run_config(dir, &c);
        if (rc == 0)
            rc = tb_train_parse_args(argc, argv, &c);
        if (!rc && c.run_dir[0] && strcmp(c.run_dir, dir) != 0)
            rc = tb_fail("--resume continues the run in %s itself; drop --run-dir", dir);
        snprintf(c.run_dir, sizeof c.run_dir, "%s", dir);
    }
    if (rc == 0 && c.resume[0] && !tb_dist_launched() && tb_train_resume_check(&c))
        rc = -1;
    if (rc == 0 && check_input_size(&c))
        rc = -1;
    if (rc == 0 && c.worker_sweep && (c.resume[0] || tb_dist_launched()))
        rc = tb_fail("--worker-sweep (--run-code-3) starts a sweep; continue one with trainbench run "
                     "lab2-c3-workers --resume");
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf(stderr, "trainbench train: %s\n", tb_last_error());
        return 2;
    }
    if (c.worker_sweep)
        return run_worker_sweep(argc, argv, &c);
    if (strcmp(c.device, "cuda") == 0) {
        /* Refused before anything is created: no run directory, exit 2. */
#if TB_HAVE_CUDA
        if (tb_cuda_device_count() < 1) {
            fprintf(stderr, "trainbench train: --device cuda: %s; use --device cpu\n", tb_last_error());
            return 2;
        }
        if (strcmp(c.precision, "fp16") == 0) {
            fprintf(stderr, "trainbench train: --precision fp16 needs dynamic loss scaling, which the CUDA "
                            "backend does not have yet; use --precision bf16\n");
            return 2;
        }
#else
        fprintf(stderr, "trainbench train: --device cuda: this build has no CUDA backend (configure with "
                        "-Dcuda=enabled on a machine with nvcc, cuDNN, cuBLAS and NCCL); use --device cpu\n");
        return 2;
#endif
    }
    if (c.gpus > 1 && !TB_HAVE_MPI) {
        /* Refused like --device cuda: nothing is created, exit 2. */
        fprintf(stderr, "trainbench train: --gpus %d: this build has no MPI (configure with -Dmpi=enabled after "
                        "installing libopenmpi-dev); use --gpus 1\n",
                c.gpus);
        return 2;
    }
    return tb_train_run(&c);
}
