/* `trainbench slurm PRESET`: the command line of the sbatch generator
 * (slurm/sbatch.h): parses and checks the flags, then prints, writes or
 * submits the script. */
#include "app/cli.h" // uses: tb_cli_slurm

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "core/fsutil.h" // uses: tb_mkdir_p
#include "lab/preset.h" // uses: tb_preset, tb_preset_resolve, tb_preset_load, tb_preset_set, tb_plan, ...
#include "slurm/sbatch.h" // uses: tb_sbatch_job, TB_SBATCH_MAX_SETS, tb_sbatch_check_job, TB_SBATCH_MAX, ...

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench slurm PRESET --nodes N --gpus-per-node G [--partition P] [--time T]\n"
               "         [--account A] [--container IMAGE.sif [--overlay FILE]] [--cpus-per-task C]\n"
               "         [--scale smoke] [--set key=value]... [--runs-dir DIR] [-o SCRIPT] [--submit]\n"
               "Writes an sbatch script that runs the preset's sweep (one task per GPU, ranks started with\n"
               "srun --mpi=pmix); prints it, writes it with -o, or submits it with --submit.\n");
}

static int parse(int argc, char **argv, tb_sbatch_job *a)
{
    memset(a, 0, sizeof *a);
    a->cpus_per_task = 4;
    a->runs_dir = "runs";
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
    if (a->nodes < 1 || a->gpus_per_node < 1)
        return tb_fail("--nodes and --gpus-per-node are required");
    if (a->scale && strcmp(a->scale, "smoke") && strcmp(a->scale, "full"))
        return tb_fail("--scale %s: expected smoke or full", a->scale);
    if (a->overlay && !a->container)
        return tb_fail("--overlay needs --container");
    /* Refused here (exit 2) before the preset is read; tb_sbatch_build checks them again. */
    if (tb_sbatch_check_job(a))
        return -1;
    ssize_t n = readlink("/proc/self/exe", a->trainbench, sizeof a->trainbench - 1);
    if (n < 0 || n >= (ssize_t)sizeof a->trainbench - 1)
        return tb_fail("cannot find the trainbench executable: %s", n < 0 ? strerror(errno) : "its path is too long");
    a->trainbench[n] = '\0';
    return 0;
}

int tb_cli_slurm(int argc, char **argv)
{
    tb_sbatch_job a;
    tb_preset *p = calloc(1, sizeof *p);
    char path[PATH_MAX], *script = calloc(1, TB_SBATCH_MAX);
    int rc = 2;
    if (!p || !script) {
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
    /* The sweep the job will run, expanded here: what `run` refuses (too many
     * configurations, a bad combination) is refused before anything is queued. */
    tb_plan plan;
    if (tb_plan_expand(p, a.scale && !strcmp(a.scale, "smoke"), &plan)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    tb_plan_free(&plan);
    rc = 1;
    if (tb_sbatch_build(&a, p, script, TB_SBATCH_MAX)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    if (!a.submit && !a.out_file) {
        fputs(script, stdout);
        rc = 0;
        goto out;
    }
    char script_path[PATH_MAX], job[64], name[sizeof p->name];
    tb_sbatch_safe_name(p->name, name, sizeof name);
    int len = a.out_file ? snprintf(script_path, sizeof script_path, "%s", a.out_file)
                         : snprintf(script_path, sizeof script_path, "%s/%s-%dx%d.sbatch", a.runs_dir, name, a.nodes,
                                    a.gpus_per_node);
    if (len < 0 || len >= (int)sizeof script_path) {
        fprintf(stderr, "trainbench slurm: the script's path is longer than %d bytes; give a shorter -o or "
                        "--runs-dir\n",
                PATH_MAX - 1);
        goto out;
    }
    if (tb_mkdir_p(a.runs_dir) || tb_sbatch_write(script_path, script)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    if (!a.submit) {
        printf("wrote %s\n", script_path);
        rc = 0;
        goto out;
    }
    if (tb_sbatch_submit(script_path, job, sizeof job)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    printf("submitted job %s (%s); results in %s: follow with `trainbench results --runs-dir %s`\n", job,
           script_path, a.runs_dir, a.runs_dir);
    rc = 0;
out:
    free(p);
    free(script);
    return rc;
}
