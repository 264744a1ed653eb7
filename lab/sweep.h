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
    int keep_going;        /* go on when the first two configurations run failed the same way */
    int smoke;
    const char *exe;       /* the trainbench binary to run children with */
    char *const *sets;     /* the --set assignments, recorded in plan.json and summary.json */
    int nsets;
    int quiet;             /* no progress lines and no table at the end; failures and the last line only */
    char *const *only;     /* the --only filters the plan was cut with (lab/plan_filter.h), recorded too */
    int nonly;
} tb_sweep_options;

/* Returns the exit status: 0 all completed, 1 some failed or were refused,
 * 2 nothing could start (message printed), 130 interrupted. */
int tb_sweep_run(const tb_preset *p, const tb_plan *plan, const tb_sweep_options *o);

/* At smoke scale substitutes make configurations alike (batch 2048 -> 128):
 * the index of the first entry whose arguments equal entry i's (i itself
 * when none does).  Such an entry is not run again; plan.json says
 * "same_as" and its summary entry takes the first one's outcome. */
int tb_plan_same_as(const tb_plan *plan, int i);

/* The arguments a configuration's child gets (without --run-dir), as a JSON
 * array of strings: every option, so the run does not depend on defaults. */
struct json_object *tb_plan_entry_args(const tb_plan_entry *e);

#endif
