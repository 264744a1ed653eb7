/* The sbatch script that runs a preset's sweep in one allocation, filled in
 * from slurm/job.sbatch.in, and its submission.
 *
 * Nothing from a preset or an option reaches the script unchecked: #SBATCH
 * values must be plain tokens (they cannot be quoted), and every word of the
 * command line is single-quoted, so no value can inject shell. */
#include "slurm/sbatch.h"

#include "core/error.h" // uses: tb_fail
#include "lab/preset.h" // uses: tb_preset

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


/* #SBATCH values cannot be quoted: allow plain tokens only. */
int tb_sbatch_check_token(const char *flag, const char *v)
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
    char *buf = calloc(1, TB_SBATCH_MAX);
    size_t got = buf ? fread(buf, 1, TB_SBATCH_MAX - 1, f) : 0;
    fclose(f);
    if (!buf || got == 0 || got == TB_SBATCH_MAX - 1) {
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

int tb_sbatch_build(const tb_sbatch_job *a, const tb_preset *p, char *script, size_t size)
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
    if (tb_sbatch_check_token("job name", job))
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

int tb_sbatch_write(const char *path, const char *text)
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

int tb_sbatch_submit(const char *script_path, char *job_id, size_t size)
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

