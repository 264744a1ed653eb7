/* `trainbench slurm PRESET`: the command line of the sbatch generator
 * (slurm/sbatch.h): parses and checks the flags, then prints, writes or
 * submits the script. */
#include "app/cli.h" // uses: tb_cli_slurm

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/fsutil.h" // uses: tb_mkdir_p
#include "lab/plan_filter.h" // uses: tb_plan_only
#include "lab/preset.h" // uses: tb_plan_entry, tb_preset, tb_plan, TB_PRESET_MAX_AXES, tb_preset_resolve, ...
#include "slurm/sbatch.h" // uses: tb_sbatch_job, TB_SBATCH_MAX_SETS, tb_sbatch_check_job, tb_sbatch_check_fit, ...
#include "spec/options.h" // uses: tb_option, tb_option_find_key, TB_OPT_FLAG

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench slurm PRESET --nodes N --gpus-per-node G [--partition P] [--time T]\n"
               "         [--account A] [--container IMAGE.sif [--overlay FILE]] [--cpus-per-task C]\n"
               "         [--scale smoke] [--set key=value]... [--only key=value]... [--per-config]\n"
               "         [--output PATTERN] [--trainbench PATH] [--runs-dir DIR] [-o SCRIPT] [--submit]\n"
               "Writes an sbatch script that runs the preset's sweep (one task per GPU; every configuration,\n"
               "the 1-GPU one too, runs as a job step with srun, in the container when given); prints it,\n"
               "writes it with -o, or submits it with --submit.\n\n"
               "  --only KEY=VALUE   only the configurations with that value (--only gpus=8,16: either)\n"
               "  --per-config       one script per configuration, each asking for its own GPU count\n"
               "                     (--nodes is then optional: the most a job may ask for); written to\n"
               "                     -o DIR or --runs-dir as PRESET-CONFIG.sbatch, or submitted\n"
               "  --cpus-per-task C  default: the configuration's num_workers (data-loading threads per rank)\n"
               "  --output PATTERN   the job's log (#SBATCH --output; %%j job id, %%x job name);\n"
               "                     default RUNS/slurm-%%j-PRESET.out\n"
               "  --trainbench PATH  trainbench on the compute nodes (default: `trainbench` from their PATH)\n"
               "A configuration needing more GPUs than N x G is refused (exit 2): use --only, more nodes, or\n"
               "--per-config.\n");
}

static int parse(int argc, char **argv, tb_sbatch_job *a)
{
    memset(a, 0, sizeof *a);
    a->runs_dir = "runs";
    snprintf(a->trainbench, sizeof a->trainbench, "trainbench");
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        int *num = !strcmp(f, "--nodes")           ? &a->nodes
                   : !strcmp(f, "--gpus-per-node") ? &a->gpus_per_node
                   : !strcmp(f, "--cpus-per-task") ? &a->cpus_per_task
                                                   : NULL;
        const char **str = !strcmp(f, "--partition")   ? &a->partition
                           : !strcmp(f, "--time")      ? &a->time
                           : !strcmp(f, "--account")   ? &a->account
                           : !strcmp(f, "--container") ? &a->container
                           : !strcmp(f, "--overlay")   ? &a->overlay
                           : !strcmp(f, "--runs-dir")  ? &a->runs_dir
                           : !strcmp(f, "--scale")     ? &a->scale
                           : !strcmp(f, "--output")    ? &a->output
                           : !strcmp(f, "-o")          ? &a->out_file
                                                       : NULL;
        if (num) {
            long x = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || x < 1 || x > 100000)
                return tb_fail("%s %s: expected a positive integer", f, v ? v : "(missing)");
            *num = (int)x;
            i++;
        } else if (str) {
            if (!v)
                return tb_fail("%s needs a value", f);
            *str = v;
            i++;
        } else if (!strcmp(f, "--set")) {
            if (!v || a->nsets == TB_SBATCH_MAX_SETS)
                return tb_fail("--set needs key=value (at most %d)", TB_SBATCH_MAX_SETS);
            a->sets[a->nsets++] = v;
            i++;
        } else if (!strcmp(f, "--only")) {
            if (!v || !*v || a->nonly == TB_SBATCH_MAX_SETS)
                return tb_fail("--only needs key=value (at most %d)", TB_SBATCH_MAX_SETS);
            a->only[a->nonly++] = v;
            i++;
        } else if (!strcmp(f, "--trainbench")) {
            if (!v || !*v)
                return tb_fail("--trainbench needs the path of trainbench on the compute nodes");
            if (snprintf(a->trainbench, sizeof a->trainbench, "%s", v) >= (int)sizeof a->trainbench)
                return tb_fail("--trainbench: longer than %d bytes", PATH_MAX - 1);
            i++;
        } else if (!strcmp(f, "--per-config")) {
            a->per_config = 1;
        } else if (!strcmp(f, "--submit")) {
            a->submit = 1;
        } else if (f[0] == '-' || a->preset) {
            return tb_fail("unexpected argument '%s'", f);
        } else {
            a->preset = f;
        }
    }
    if (!a->preset)
        return tb_fail("missing PRESET (a name from presets/ or a path)");
    if (a->gpus_per_node < 1 || (a->nodes < 1 && !a->per_config))
        return tb_fail("--nodes and --gpus-per-node are required (--per-config needs only --gpus-per-node)");
    if (a->scale && strcmp(a->scale, "smoke") && strcmp(a->scale, "full"))
        return tb_fail("--scale %s: expected smoke or full", a->scale);
    if (a->overlay && !a->container)
        return tb_fail("--overlay needs --container");
    /* Refused here (exit 2) before the preset is read; tb_sbatch_build checks them again. */
    if (tb_sbatch_check_job(a))
        return -1;
    return 0;
}

/* The --only filters that pick configuration e alone: one per swept option,
 * spelled as a preset does (a negated flag by its own name). */
static int config_filters(const tb_plan_entry *e, char filters[][1200], int max, int *n)
{
    *n = 0;
    json_object_object_foreach(e->params, key, val)
    {
        const tb_option *o = tb_option_find_key(key);
        const char *v = json_object_get_string(val);
        if (*n == max)
            return tb_fail("configuration %s has more than %d swept options", e->id, max);
        int w = o && o->type == TB_OPT_FLAG && o->negate
                    ? snprintf(filters[*n], sizeof filters[0], "%s=%s", o->name, !strcmp(v, "true") ? "false" : "true")
                    : snprintf(filters[*n], sizeof filters[0], "%s=%s", key, v);
        if (w < 0 || w >= (int)sizeof filters[0])
            return tb_fail("configuration %s: the value of %s is too long for --only", e->id, key);
        (*n)++;
    }
    return 0;
}

/* --cpus-per-task, else the data-loading threads of the configurations'
 * ranks (num_workers: 16 for ImageNet, as the lab asked), at least 1. */
static int cpus_for(const tb_sbatch_job *a, const tb_plan_entry *e, int n)
{
    if (a->cpus_per_task > 0)
        return a->cpus_per_task;
    int most = 1;
    for (int i = 0; i < n; i++)
        most = e[i].cfg.num_workers > most ? e[i].cfg.num_workers : most;
    return most;
}

int tb_cli_slurm(int argc, char **argv)
{
    tb_sbatch_job a;
    tb_preset *p = calloc(1, sizeof *p);
    tb_plan plan = {0};
    char path[PATH_MAX], **scripts = NULL, (*filters)[1200] = calloc(TB_PRESET_MAX_AXES, sizeof *filters);
    int rc = 2, nscripts = 0;
    if (!p || !filters) {
        fprintf(stderr, "trainbench slurm: out of memory\n");
        goto out;
    }
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        rc = 0;
        goto out;
    }
    char resolved[PATH_MAX];
    if (parse(argc, argv, &a) || tb_preset_resolve(a.preset, resolved, sizeof resolved)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        usage(stderr);
        goto out;
    }
    /* The job may start in another folder: name the preset absolutely. */
    if (!realpath(resolved, path))
        snprintf(path, sizeof path, "%s", resolved);
    if (tb_preset_load(path, p)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        usage(stderr);
        goto out;
    }
    for (int i = 0; i < a.nsets; i++)
        if (tb_preset_set(p, a.sets[i])) { /* refused here, not in the job */
            fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
            goto out;
        }
    /* The sweep the job will run, expanded and cut here: what `run` refuses
     * (too many configurations, a bad combination, an --only that matches
     * nothing) is refused before anything is queued, and so is a
     * configuration the allocation cannot hold. */
    if (tb_plan_expand(p, a.scale && !strcmp(a.scale, "smoke"), &plan) ||
        tb_plan_only(p, a.only, a.nonly, &plan) || (a.nodes > 0 && tb_sbatch_check_fit(&a, &plan))) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    rc = 1;
    nscripts = a.per_config ? plan.count : 1;
    scripts = calloc((size_t)nscripts, sizeof *scripts);
    if (!scripts) {
        fprintf(stderr, "trainbench slurm: out of memory\n");
        goto out;
    }
    /* Every script is built before any is written or submitted: a refusal
     * leaves nothing half-queued. */
    for (int i = 0; i < nscripts; i++) {
        tb_sbatch_job b = a;
        if (a.per_config) {
            const tb_plan_entry *e = &plan.entries[i];
            int g = e->cfg.gpus, nf = 0;
            b.nodes = (g + a.gpus_per_node - 1) / a.gpus_per_node;
            b.gpus_per_node = g < a.gpus_per_node ? g : a.gpus_per_node;
            b.cpus_per_task = cpus_for(&a, e, 1);
            b.config_id = e->id;
            if (config_filters(e, filters, TB_PRESET_MAX_AXES, &nf))
                goto failed;
            if (a.nonly + nf > TB_SBATCH_MAX_SETS) {
                tb_fail("more than %d --only filters for configuration %s", TB_SBATCH_MAX_SETS, e->id);
                goto failed;
            }
            for (int k = 0; k < nf; k++)
                b.only[b.nonly++] = filters[k];
        } else
            b.cpus_per_task = cpus_for(&a, plan.entries, plan.count);
        if (!(scripts[i] = calloc(1, TB_SBATCH_MAX)) || tb_sbatch_build(&b, p, scripts[i], TB_SBATCH_MAX))
            goto failed;
    }
    if (!a.per_config && !a.submit && !a.out_file) {
        fputs(scripts[0], stdout);
        rc = 0;
        goto out;
    }
    char name[sizeof p->name];
    tb_sbatch_safe_name(p->name, name, sizeof name);
    /* --per-config: -o names the folder for the scripts */
    const char *dir = a.per_config && a.out_file ? a.out_file : a.runs_dir;
    if (tb_mkdir_p(a.runs_dir) || tb_mkdir_p(dir))
        goto failed;
    for (int i = 0; i < nscripts; i++) {
        char script_path[PATH_MAX], job[64], id[160];
        int len;
        if (a.per_config) {
            tb_sbatch_safe_name(plan.entries[i].id, id, sizeof id);
            len = snprintf(script_path, sizeof script_path, "%s/%s-%s.sbatch", dir, name, id);
        } else
            len = a.out_file ? snprintf(script_path, sizeof script_path, "%s", a.out_file)
                             : snprintf(script_path, sizeof script_path, "%s/%s-%dx%d.sbatch", a.runs_dir, name,
                                        a.nodes, a.gpus_per_node);
        if (len < 0 || len >= (int)sizeof script_path) {
            tb_fail("the script's path is longer than %d bytes; give a shorter -o or --runs-dir", PATH_MAX - 1);
            goto failed;
        }
        if (tb_sbatch_write(script_path, scripts[i]))
            goto failed;
        if (!a.submit) {
            printf("wrote %s\n", script_path);
            continue;
        }
        if (tb_sbatch_submit(script_path, job, sizeof job))
            goto failed;
        printf("submitted job %s (%s); results in %s: follow with `trainbench results --runs-dir %s`\n", job,
               script_path, a.runs_dir, a.runs_dir);
    }
    rc = 0;
    goto out;
failed:
    fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
out:
    for (int i = 0; scripts && i < nscripts; i++)
        free(scripts[i]);
    free(scripts);
    tb_plan_free(&plan);
    free(filters);
    free(p);
    return rc;
}
