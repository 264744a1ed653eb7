/* Checks before launching; see precheck.h. */
#include "tui/precheck.h"

#include "lab/preset.h" // uses: tb_plan, tb_preset, tb_preset_set, tb_plan_expand, tb_plan_free
#include "tui/state.h" // uses: tui_app, TUI_MAX_PARAMS, tui_param_sets

#include "core/error.h" // uses: tb_last_error, tb_fail
#include "core/gpumon.h" // uses: tb_gpumon, tb_gpumon_open, tb_gpumon_count, tb_gpumon_close

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int count_of(const char *s)
{
    char *end;
    long v = s && *s ? strtol(s, &end, 10) : -1;
    return s && *s && !*end && v >= 0 && v < 100000 ? (int)v : -1;
}

int tui_slurm_gpus(const char *gpus_on_node, const char *job_gpus)
{
    int n = count_of(gpus_on_node);
    if (n >= 0)
        return n;
    if (!job_gpus || !*job_gpus)
        return -1;
    n = 1; /* "0,1,3": one GPU per entry */
    for (const char *p = job_gpus; *p; p++)
        n += *p == ',';
    return n;
}

void tui_machine_probe(tui_machine *m)
{
    memset(m, 0, sizeof *m);
    tb_gpumon *g = tb_gpumon_open(NULL);
    if (g) {
        m->gpus = tb_gpumon_count(g);
        tb_gpumon_close(g);
    } else {
        m->gpus = 0;
        snprintf(m->note, sizeof m->note, "%s", tb_last_error());
    }
    m->alloc_gpus = tui_slurm_gpus(getenv("SLURM_GPUS_ON_NODE"), getenv("SLURM_JOB_GPUS"));
}

/* Appends a problem once: configurations often share it. */
static int add(char *out, size_t size, const char *line)
{
    size_t len = strlen(out), n = strlen(line);
    for (const char *p = out; (p = strstr(p, line)); p++)
        if ((p == out || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
            return 0;
    snprintf(out + len, size - len, "%s%s", len ? "\n" : "", line);
    return 1;
}

int tui_precheck(const tb_plan *plan, const tui_machine *m, char *out, size_t size)
{
    out[0] = '\0';
    int n = 0;
    char line[2400];
    struct stat st;
    for (int i = 0; plan && i < plan->count; i++) {
        const tb_train_config *c = &plan->entries[i].cfg;
        if (!strncmp(c->dataset, "packed:", 7)) {
            if (stat(c->dataset + 7, &st) || !S_ISREG(st.st_mode)) {
                snprintf(line, sizeof line, "dataset %.1040s: no such file; make it with `trainbench data pack` or "
                         "name the file that exists", c->dataset);
                n += add(out, size, line);
            }
        } else if (c->data_dir[0] && strcmp(c->dataset, "synthetic") &&
                   (stat(c->data_dir, &st) || !S_ISDIR(st.st_mode))) {
            snprintf(line, sizeof line, "data-dir %.1024s: no such folder (dataset %.64s); set data-dir to the folder "
                     "that holds it, or fetch it with `trainbench data fetch %.64s`", c->data_dir, c->dataset,
                     c->dataset);
            n += add(out, size, line);
        }
        if (!strcmp(c->device, "cuda") && m->gpus == 0) {
            snprintf(line, sizeof line, "device cuda: this machine has no NVIDIA GPU%s%.200s%s; press s for smoke "
                     "scale (CPU), set device cpu, or launch on a GPU node", m->note[0] ? " (" : "", m->note,
                     m->note[0] ? ")" : "");
            n += add(out, size, line);
        } else if (!strcmp(c->device, "cuda") && c->gpus > 1) {
            int have = m->alloc_gpus >= 0 ? m->alloc_gpus : m->gpus;
            if (have >= 0 && c->gpus > have) {
                snprintf(line, sizeof line, "gpus %d: %s has %d GPU%s; lower gpus, or ask Slurm for more "
                         "(trainbench slurm)", c->gpus, m->alloc_gpus >= 0 ? "the Slurm allocation" : "this machine",
                         have, have == 1 ? "" : "s");
                n += add(out, size, line);
            }
        }
    }
    return n;
}

int tui_launch_check(const tui_app *a, const tui_machine *m, char *out, size_t size)
{
    out[0] = '\0';
    if (!a->base)
        return tb_fail("choose a preset first");
    tb_preset *p = malloc(sizeof *p);
    static char sets[TUI_MAX_PARAMS][320];
    if (!p)
        return tb_fail("out of memory");
    memcpy(p, a->base, sizeof *p);
    int nsets = tui_param_sets(a, sets, TUI_MAX_PARAMS), rc = -1;
    for (int i = 0; i < nsets; i++)
        if (tb_preset_set(p, sets[i]))
            goto out;
    tb_plan plan;
    if (tb_plan_expand(p, a->smoke, &plan))
        goto out;
    rc = tui_precheck(&plan, m, out, size);
    tb_plan_free(&plan);
out:
    free(p);
    return rc;
}
