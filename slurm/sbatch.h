/* Slurm batch jobs for a preset's sweep: the script from job.sbatch.in, its
 * file and its submission.
 *
 * Nothing from a preset or an option reaches the script unchecked: #SBATCH
 * values must be plain tokens (tb_sbatch_check_token; the preset's name only
 * in its safe form, tb_sbatch_safe_name), and every word of the command line
 * is single-quoted by tb_shell_quote (core/quote.h).  Nothing is cut: a value
 * that does not fit fails with a message. */
#ifndef TB_SBATCH_H
#define TB_SBATCH_H

#include "lab/preset.h" // uses: tb_plan, tb_preset

#include <limits.h>
#include <stddef.h>

enum { TB_SBATCH_MAX_SETS = 32, TB_SBATCH_MAX = 16384 };

typedef struct {
    const char *preset, *partition, *time, *account, *container, *overlay, *runs_dir, *scale, *out_file;
    const char *output; /* --output: the log's #SBATCH --output pattern; NULL: RUNS/slurm-%j-NAME.out */
    const char *sets[TB_SBATCH_MAX_SETS]; /* --set key=value, passed on to the sweep */
    const char *only[TB_SBATCH_MAX_SETS]; /* --only key=value, passed on too (plus one per axis with --per-config) */
    int nsets, nonly, nodes, gpus_per_node, cpus_per_task, submit;
    int per_config;        /* one script per configuration, each sized to its own GPU count */
    const char *config_id; /* in a per-configuration script: the configuration's id (job and log names) */
    /* The executable the job runs, as the compute nodes name it: "trainbench"
     * from their PATH, or --trainbench; never the submitting machine's build. */
    char trainbench[PATH_MAX];
} tb_sbatch_job;

/* Fails unless `v` is a plain token (letters, digits, ._:/@+-%,=): #SBATCH
 * values cannot be quoted. */
int tb_sbatch_check_token(const char *flag, const char *v);
/* `name` with every character other than letters, digits and ._- made '_'
 * (and "preset" in front of an empty, hidden or option-like name): the form
 * of a preset's name in the job name, the --output path and file names. */
void tb_sbatch_safe_name(const char *name, char *out, size_t size);
/* Every #SBATCH value of the job (partition, time, account, runs dir,
 * container, overlay, output) is a plain token. */
int tb_sbatch_check_job(const tb_sbatch_job *a);
/* Fails (naming them, suggesting --only or more nodes) when a configuration
 * of `plan` needs more ranks than a->nodes x a->gpus_per_node. */
int tb_sbatch_check_fit(const tb_sbatch_job *a, const tb_plan *plan);
/* The filled-in script for preset `p` (at most `size` bytes); -1 after
 * tb_fail when a value is refused or the script would not fit. */
int tb_sbatch_build(const tb_sbatch_job *a, const tb_preset *p, char *script, size_t size);
/* Writes `text` to `path` through a temporary file and a rename. */
int tb_sbatch_write(const char *path, const char *text);
/* `sbatch --parsable SCRIPT`; the job id into job_id. */
int tb_sbatch_submit(const char *script_path, char *job_id, size_t size);

#endif
