/* The sbatch script that runs a preset's sweep in one allocation, filled in
 * from slurm/job.sbatch.in, and its submission.
 *
 * Nothing from a preset or an option reaches the script unchecked: #SBATCH
 * values must be plain tokens (they cannot be quoted), and every word of the
 * command line is single-quoted by tb_shell_quote, so no value can inject
 * shell; a value too long for the script fails, it is never cut. */
#include "slurm/sbatch.h"

#include "core/error.h" // uses: tb_fail
#include "core/fsutil.h" // uses: tb_write_atomic
#include "core/quote.h" // uses: tb_shell_quote
#include "lab/preset.h" // uses: tb_plan, tb_plan_entry, tb_preset

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
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

/* Appends printf text; a cut line fails, it is never written. */
static int append(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int append(char *out, size_t size, const char *fmt, ...)
{
    size_t n = strlen(out);
    va_list ap;
    va_start(ap, fmt);
    int w = n < size ? vsnprintf(out + n, size - n, fmt, ap) : -1;
    va_end(ap);
    if (w < 0 || (size_t)w >= size - n) {
        out[n < size ? n : 0] = '\0';
        return tb_fail("the batch script's lines would be longer than %zu bytes; shorten the paths, the --set "
                       "values or the preset name",
                       size - 1);
    }
    return 0;
}

void tb_sbatch_safe_name(const char *name, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 1 < size; p++)
        out[n++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                           strchr("._-", *p)
                       ? *p
                       : '_';
    out[n] = '\0';
    if (n && (out[0] == '.' || out[0] == '-')) /* no hidden file, no option-like name */
        out[0] = '_';
    else if (!n)
        snprintf(out, size, "preset");
}

static char *read_template(void)
{
    const char *dir = getenv("TRAINBENCH_SLURM_TEMPLATES");
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/job.sbatch.in", dir ? dir : TB_SLURM_DIR) >= (int)sizeof path)
        return tb_fail("TRAINBENCH_SLURM_TEMPLATES is longer than %d bytes; name a shorter folder", PATH_MAX), NULL;
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

int tb_sbatch_check_job(const tb_sbatch_job *a)
{
    if ((a->partition && tb_sbatch_check_token("--partition", a->partition)) ||
        (a->time && tb_sbatch_check_token("--time", a->time)) ||
        (a->account && tb_sbatch_check_token("--account", a->account)) ||
        tb_sbatch_check_token("--runs-dir", a->runs_dir) ||
        (a->container && tb_sbatch_check_token("--container", a->container)) ||
        (a->overlay && tb_sbatch_check_token("--overlay", a->overlay)) ||
        (a->output && tb_sbatch_check_token("--output", a->output)))
        return -1;
    if (!a->trainbench[0] || a->trainbench[0] == '-')
        return tb_fail("--trainbench '%s': expected the path of trainbench on the compute nodes", a->trainbench);
    return 0;
}

int tb_sbatch_check_fit(const tb_sbatch_job *a, const tb_plan *plan)
{
    long have = (long)a->nodes * a->gpus_per_node;
    int most = 0, over = 0;
    char names[1024] = "", fit[256] = "";
    for (int i = 0; i < plan->count; i++) {
        const tb_plan_entry *e = &plan->entries[i];
        size_t n = strlen(names), m = strlen(fit);
        if (e->cfg.gpus > have) {
            over++;
            if (n + 1 < sizeof names)
                snprintf(names + n, sizeof names - n, "%s%s (%d GPUs)", n ? ", " : "", e->id, e->cfg.gpus);
            most = e->cfg.gpus > most ? e->cfg.gpus : most;
            continue;
        }
        /* the GPU counts that fit, for the --only suggestion */
        char v[16];
        snprintf(v, sizeof v, "%d", e->cfg.gpus);
        int seen = 0;
        for (const char *t = fit; *t && !seen; t += strcspn(t, ",") + (t[strcspn(t, ",")] == ',')) {
            size_t len = strcspn(t, ",");
            seen = len == strlen(v) && !strncmp(t, v, len);
        }
        if (!seen && m + 1 < sizeof fit)
            snprintf(fit + m, sizeof fit - m, "%s%s", m ? "," : "", v);
    }
    if (!over)
        return 0;
    int nodes = (most + a->gpus_per_node - 1) / a->gpus_per_node;
    return tb_fail("%d configuration%s need%s more GPUs than --nodes %d x --gpus-per-node %d = %ld: %s; %s%s%sask "
                   "for --nodes %d, or use --per-config (one job per configuration, each with its own GPU count)",
                   over, over == 1 ? "" : "s", over == 1 ? "s" : "", a->nodes, a->gpus_per_node, have, names,
                   fit[0] ? "run the others with --only gpus=" : "", fit, fit[0] ? ", " : "", nodes);
}

int tb_sbatch_build(const tb_sbatch_job *a, const tb_preset *p, char *script, size_t size)
{
    /* #SBATCH lines cannot quote: every value in them is a checked token, and
     * the preset's name appears only as its safe form (tb_sbatch_safe_name). */
    if (tb_sbatch_check_job(a))
        return -1;
    char name[sizeof p->name], id[160] = "", job[sizeof p->name + sizeof id + 8], nodes[16], tasks[16], cpus[16],
        output[1200] = "", optional[1024] = "", wrapper[1400] = "", w[1200] = "", *command = calloc(1, TB_SBATCH_MAX);
    if (!command)
        return tb_fail("out of memory building the batch script");
    tb_sbatch_safe_name(p->name, name, sizeof name);
    if (a->config_id) /* a per-configuration job: named after its configuration too */
        tb_sbatch_safe_name(a->config_id, id, sizeof id);
    snprintf(job, sizeof job, "tb-%s%s%s", name, id[0] ? "-" : "", id);
    snprintf(nodes, sizeof nodes, "%d", a->nodes);
    snprintf(tasks, sizeof tasks, "%d", a->gpus_per_node);
    snprintf(cpus, sizeof cpus, "%d", a->cpus_per_task);
    int smoke = a->scale && !strcmp(a->scale, "smoke");
    int bad = (a->output ? append(output, sizeof output, "%s", a->output)
                         : append(output, sizeof output, "%s/slurm-%%j-%s%s%s.out", a->runs_dir, name,
                                  id[0] ? "-" : "", id)) ||
              tb_sbatch_check_token("the --output path", output) || tb_sbatch_check_token("the job name", job);
    /* a smoke sweep runs on CPUs: no GPUs to ask for */
    bad = bad || (!smoke && append(optional, sizeof optional, "#SBATCH --gpus-per-node=%d\n", a->gpus_per_node));
    bad = bad || (a->partition && append(optional, sizeof optional, "#SBATCH --partition=%s\n", a->partition));
    bad = bad || (a->time && append(optional, sizeof optional, "#SBATCH --time=%s\n", a->time));
    bad = bad || (a->account && append(optional, sizeof optional, "#SBATCH --account=%s\n", a->account));
    /* where the sweep directory is, for the workbench's Jobs screen (slurm/jobs.h); runs_dir is a checked token */
    bad = bad || append(optional, sizeof optional, "#SBATCH --comment=trainbench:%s\n", a->runs_dir);
    size_t ol = strlen(optional);
    if (ol && optional[ol - 1] == '\n')
        optional[ol - 1] = '\0';
    if (!bad && a->container) /* each rank runs inside the image, as lab 5 did */
        bad = append(w, sizeof w, "singularity exec --nv%s%s%s %s", a->overlay ? " --overlay " : "",
                     a->overlay ? a->overlay : "", a->overlay ? ":ro" : "", a->container) ||
              append(wrapper, sizeof wrapper, "export TB_RANK_WRAPPER=") || tb_shell_quote(wrapper, sizeof wrapper, w);
    /* trainbench as the compute node finds it; a clear message where it does not */
    bad = bad || append(command, TB_SBATCH_MAX, "command -v ") ||
          tb_shell_quote(command, TB_SBATCH_MAX, a->trainbench) ||
          append(command, TB_SBATCH_MAX,
                 " >/dev/null || { printf 'trainbench slurm: %%s is not an executable on %%s; install trainbench "
                 "there or generate the script with --trainbench PATH\\n' ") ||
          tb_shell_quote(command, TB_SBATCH_MAX, a->trainbench) ||
          append(command, TB_SBATCH_MAX, " \"$(hostname)\" >&2; exit 127; }\n");
    bad = bad || append(command, TB_SBATCH_MAX, "exec ") || tb_shell_quote(command, TB_SBATCH_MAX, a->trainbench) ||
          append(command, TB_SBATCH_MAX, " run ") || tb_shell_quote(command, TB_SBATCH_MAX, p->path) ||
          append(command, TB_SBATCH_MAX, " --runs-dir ") || tb_shell_quote(command, TB_SBATCH_MAX, a->runs_dir) ||
          (smoke && append(command, TB_SBATCH_MAX, " --scale smoke"));
    for (int i = 0; i < a->nsets && !bad; i++)
        bad = append(command, TB_SBATCH_MAX, " --set ") || tb_shell_quote(command, TB_SBATCH_MAX, a->sets[i]);
    for (int i = 0; i < a->nonly && !bad; i++)
        bad = append(command, TB_SBATCH_MAX, " --only ") || tb_shell_quote(command, TB_SBATCH_MAX, a->only[i]);
    const char *keys[] = {"PRESET_NAME", "JOB_NAME", "NODES", "TASKS_PER_NODE", "CPUS_PER_TASK", "OUTPUT",
                          "OPTIONAL_DIRECTIVES", "RANK_WRAPPER", "COMMAND"};
    const char *values[] = {name, job, nodes, tasks, cpus, output, optional, wrapper, command};
    char *tmpl = bad ? NULL : read_template();
    int rc = tmpl ? fill(tmpl, keys, values, 9, script, size) : -1;
    free(tmpl);
    free(command);
    return rc;
}

int tb_sbatch_write(const char *path, const char *text)
{
    /* The one atomic writer: an -o naming a link, FIFO or device is refused. */
    return tb_write_atomic(path, text, strlen(text));
}

int tb_sbatch_submit(const char *script_path, char *job_id, size_t size)
{
    char cmd[2 * PATH_MAX] = "sbatch --parsable ";
    if (tb_shell_quote(cmd, sizeof cmd, script_path))
        return -1;
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

