/* `trainbench slurm PRESET`: an sbatch script from slurm/job.sbatch.in that
 * runs a preset's sweep in one allocation, printed or submitted.
 *
 * Nothing from a preset or an option reaches the script unchecked: #SBATCH
 * values must be plain tokens (they cannot be quoted), and every word of the
 * command line is single-quoted, so no value can inject shell. */
#include "cli.h"

#include "error.h"
#include "fsutil.h"
#include "preset.h"
#include "rundir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TB_SLURM_DIR
#define TB_SLURM_DIR "slurm"
#endif

enum { MAX_SETS = 32, SCRIPT_MAX = 16384 };

typedef struct {
    const char *preset, *partition, *time, *account, *container, *overlay, *runs_dir, *output, *scale, *out_file;
    const char *sets[MAX_SETS];
    int nsets, nodes, gpus_per_node, cpus_per_task, submit;
    char trainbench[PATH_MAX];
} slurm_args;

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench slurm PRESET --nodes N --gpus-per-node G [--partition P] [--time T]\n"
               "         [--account A] [--container IMAGE.sif [--overlay FILE]] [--cpus-per-task C]\n"
               "         [--scale smoke] [--set key=value]... [--runs-dir DIR] [-o SCRIPT] [--submit]\n"
               "Writes an sbatch script that runs the preset's sweep (one task per GPU, ranks started with\n"
               "srun --mpi=pmix); prints it, writes it with -o, or submits it with --submit.\n");
}

/* #SBATCH values cannot be quoted: allow plain tokens only. */
static int plain(const char *flag, const char *v)
{
    if (!v || !*v)
        return tb_fail("%s needs a value", flag);
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._:/@+-%,=", *p)))
            return tb_fail("%s '%s': only letters, digits and ._:/@+-%%,= are allowed in an #SBATCH value", flag,
                           v);
    return 0;
}

/* Appends `s` single-quoted for the shell. */
static void quote(char *out, size_t size, const char *s)
{
    size_t n = strlen(out);
    if (n + 1 < size)
        out[n++] = '\'';
    for (; *s && n + 5 < size; s++) {
        if (*s == '\'') {
            memcpy(out + n, "'\\''", 4);
            n += 4;
        } else {
            out[n++] = *s;
        }
    }
    if (n + 1 < size)
        out[n++] = '\'';
    out[n] = '\0';
}

static void append(char *out, size_t size, const char *s)
{
    size_t n = strlen(out);
    snprintf(out + n, size - n, "%s", s);
}

static int parse(int argc, char **argv, slurm_args *a)
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
            if (!v || a->nsets == MAX_SETS)
                return tb_fail("--set needs key=value (at most %d)", MAX_SETS);
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
    if ((a->partition && plain("--partition", a->partition)) || (a->time && plain("--time", a->time)) ||
        (a->account && plain("--account", a->account)) || plain("--runs-dir", a->runs_dir) ||
        (a->container && plain("--container", a->container)) || (a->overlay && plain("--overlay", a->overlay)))
        return -1;
    ssize_t n = readlink("/proc/self/exe", a->trainbench, sizeof a->trainbench - 1);
    if (n < 0)
        return tb_fail("cannot find the trainbench executable: %s", strerror(errno));
    a->trainbench[n] = '\0';
    return 0;
}

static char *read_template(void)
{
    const char *dir = getenv("TRAINBENCH_SLURM_TEMPLATES");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/job.sbatch.in", dir ? dir : TB_SLURM_DIR);
    FILE *f = fopen(path, "r");
    if (!f)
        return tb_fail("cannot read the batch template %s: %s; set TRAINBENCH_SLURM_TEMPLATES to the slurm/ folder",
                       path, strerror(errno)),
               NULL;
    char *buf = calloc(1, SCRIPT_MAX);
    size_t got = buf ? fread(buf, 1, SCRIPT_MAX - 1, f) : 0;
    fclose(f);
    if (!buf || got == 0 || got == SCRIPT_MAX - 1) {
        free(buf);
        return tb_fail("batch template %s is empty or too large", path), NULL;
    }
    return buf;
}

/* Replaces every @KEY@ of the template. */
static int fill(const char *tmpl, const char *const *keys, const char *const *values, int n, char *out, size_t size)
{
    out[0] = '\0';
    for (const char *p = tmpl; *p;) {
        const char *at = strchr(p, '@');
        int matched = 0;
        if (at) {
            for (int k = 0; k < n && !matched; k++) {
                size_t len = strlen(keys[k]);
                if (!strncmp(at + 1, keys[k], len) && at[1 + len] == '@') {
                    size_t m = strlen(out);
                    snprintf(out + m, size - m, "%.*s%s", (int)(at - p), p, values[k]);
                    p = at + len + 2;
                    matched = 1;
                }
            }
        }
        if (!matched) {
            size_t m = strlen(out), take = at ? (size_t)(at - p) + 1 : strlen(p);
            snprintf(out + m, size - m, "%.*s", (int)take, p);
            p += take;
        }
        if (strlen(out) + 1 >= size)
            return tb_fail("the batch script is too long");
    }
    return 0;
}

static int build_script(const slurm_args *a, const tb_preset *p, char *script, size_t size)
{
    char nodes[16], tasks[16], cpus[16], output[1200], optional[1024] = "", wrapper[1400] = "", command[4096] = "";
    snprintf(nodes, sizeof nodes, "%d", a->nodes);
    snprintf(tasks, sizeof tasks, "%d", a->gpus_per_node);
    snprintf(cpus, sizeof cpus, "%d", a->cpus_per_task);
    snprintf(output, sizeof output, "%s/slurm-%%j-%s.out", a->runs_dir, p->name);
    int smoke = a->scale && !strcmp(a->scale, "smoke");
    if (!smoke) /* a smoke sweep runs on CPUs: no GPUs to ask for */
        snprintf(optional + strlen(optional), sizeof optional - strlen(optional), "#SBATCH --gpus-per-node=%d\n",
                 a->gpus_per_node);
    if (a->partition)
        snprintf(optional + strlen(optional), sizeof optional - strlen(optional), "#SBATCH --partition=%s\n",
                 a->partition);
    if (a->time)
        snprintf(optional + strlen(optional), sizeof optional - strlen(optional), "#SBATCH --time=%s\n", a->time);
    if (a->account)
        snprintf(optional + strlen(optional), sizeof optional - strlen(optional), "#SBATCH --account=%s\n",
                 a->account);
    size_t ol = strlen(optional);
    if (ol && optional[ol - 1] == '\n')
        optional[ol - 1] = '\0';
    if (a->container) { /* each rank runs inside the image, as lab 5 did */
        char w[1200];
        snprintf(w, sizeof w, "singularity exec --nv%s%s%s %s", a->overlay ? " --overlay " : "",
                 a->overlay ? a->overlay : "", a->overlay ? ":ro" : "", a->container);
        append(wrapper, sizeof wrapper, "export TB_RANK_WRAPPER=");
        quote(wrapper, sizeof wrapper, w);
    }
    append(command, sizeof command, "exec ");
    quote(command, sizeof command, a->trainbench);
    append(command, sizeof command, " run ");
    quote(command, sizeof command, p->path);
    append(command, sizeof command, " --runs-dir ");
    quote(command, sizeof command, a->runs_dir);
    if (smoke)
        append(command, sizeof command, " --scale smoke");
    for (int i = 0; i < a->nsets; i++) {
        append(command, sizeof command, " --set ");
        quote(command, sizeof command, a->sets[i]);
    }
    char job[80];
    snprintf(job, sizeof job, "tb-%s", p->name);
    if (plain("job name", job))
        snprintf(job, sizeof job, "trainbench");
    const char *keys[] = {"PRESET_NAME", "JOB_NAME", "NODES", "TASKS_PER_NODE", "CPUS_PER_TASK", "OUTPUT",
                          "OPTIONAL_DIRECTIVES", "RANK_WRAPPER", "COMMAND"};
    const char *values[] = {job + 3, job, nodes, tasks, cpus, output, optional, wrapper, command};
    char *tmpl = read_template();
    if (!tmpl)
        return -1;
    int rc = fill(tmpl, keys, values, 9, script, size);
    free(tmpl);
    return rc;
}

static int write_file(const char *path, const char *text)
{
    char tmp[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return tb_fail("cannot write %s: %s", tmp, strerror(errno));
    int ok = fputs(text, f) >= 0;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return tb_fail("cannot write %s: %s", path, strerror(errno));
    }
    return 0;
}

static int submit(const char *script_path, char *job_id, size_t size)
{
    char cmd[PATH_MAX + 64] = "sbatch --parsable ";
    quote(cmd, sizeof cmd, script_path);
    FILE *p = popen(cmd, "r");
    if (!p)
        return tb_fail("cannot run sbatch: %s", strerror(errno));
    if (!fgets(job_id, (int)size, p))
        job_id[0] = '\0';
    int status = pclose(p);
    job_id[strcspn(job_id, ";\n")] = '\0';
    if (status != 0 || !job_id[0])
        return tb_fail("sbatch refused %s (exit %d); its message is above", script_path,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

int tb_cli_slurm(int argc, char **argv)
{
    slurm_args a;
    tb_preset *p = calloc(1, sizeof *p);
    char path[PATH_MAX], *script = calloc(1, SCRIPT_MAX);
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
    rc = 1;
    if (build_script(&a, p, script, SCRIPT_MAX)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    if (!a.submit && !a.out_file) {
        fputs(script, stdout);
        rc = 0;
        goto out;
    }
    char script_path[PATH_MAX], job[64];
    if (a.out_file)
        snprintf(script_path, sizeof script_path, "%s", a.out_file);
    else
        snprintf(script_path, sizeof script_path, "%s/%s-%dx%d.sbatch", a.runs_dir, p->name, a.nodes,
                 a.gpus_per_node);
    if (tb_mkdir_p(a.runs_dir) || write_file(script_path, script)) {
        fprintf(stderr, "trainbench slurm: %s\n", tb_last_error());
        goto out;
    }
    if (!a.submit) {
        printf("wrote %s\n", script_path);
        rc = 0;
        goto out;
    }
    if (submit(script_path, job, sizeof job)) {
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
