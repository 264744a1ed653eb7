/* Headless replay: runs every configuration of an expanded preset, each as a
 * `trainbench train` child process in its own run directory under one sweep
 * directory, and keeps plan.json, summary.json and summary.md current.
 * docs/architecture.md documents the layout and the summary schema. */
#ifndef TB_SWEEP_H
#define TB_SWEEP_H

#include "lab/preset.h" // uses: tb_preset, tb_plan, tb_plan_entry

typedef struct {
    const char *runs_dir;  /* parent of new sweep directories ("runs") */
    const char *sweep_dir; /* explicit sweep directory, or NULL */
    int resume;            /* continue the newest (or the given) sweep of this preset */
    int stop_on_failure;   /* stop at the first failed or refused configuration */
    int smoke;
    const char *exe;       /* the trainbench binary to run children with */
    char *const *sets;     /* the --set assignments, recorded in the plan */
    int nsets;
} tb_sweep_options;

/* Returns the exit status: 0 all completed, 1 some failed or were refused,
 * 2 nothing could start (message printed), 130 interrupted. */
int tb_sweep_run(const tb_preset *p, const tb_plan *plan, const tb_sweep_options *o);

/* The arguments a configuration's child gets (without --run-dir), as a JSON
 * array of strings: every option, so the run does not depend on defaults. */
struct json_object *tb_plan_entry_args(const tb_plan_entry *e);

#endif
