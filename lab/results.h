/* The results store: what `trainbench results` lists from a runs folder. */
#ifndef TB_RESULTS_H
#define TB_RESULTS_H

#include <stdio.h>

/* Lists the sweeps (plan.json) and loose runs (result.json) directly under
 * runs_dir, newest first (by the start time their files record, then by
 * folder name): date, kind, preset, status, key figures, path.
 * 0, or -1 after tb_fail. */
int tb_results_list(const char *runs_dir, FILE *out);
/* The same, or with json != 0 one trainbench.results/1 document:
 * {"schema", "runs_dir", "entries": [{"kind": "sweep", "started_at", "preset",
 * "scale", "status", "counts": {"total", "completed", "failed", "refused"},
 * "path"} or {"kind": "run", "started_at", "model", "status",
 * "epochs_completed", "avg_epoch_s", "final_test_acc", "path"}]};
 * missing figures are null. */
int tb_results_list_format(const char *runs_dir, FILE *out, int json);
/* The same, only the entries tb_results_match keeps (filter NULL or "": all). */
int tb_results_list_filtered(const char *runs_dir, FILE *out, int json, const char *filter);

/* 1 when filter is NULL or empty or occurs, ignoring case, in one of the n
 * fields (NULL fields skipped): the entries `trainbench results --filter`
 * and the workbench's `/` keep, matched on folder name, preset or model,
 * status and kind. */
int tb_results_match(const char *filter, const char *const *fields, int n);

/* A sweep's status as readers should show it: "running" in DIR/summary.json
 * whose lock (rundir/lock.h) no process holds reads "interrupted". */
const char *tb_sweep_effective_status(const char *status, const char *dir);
/* The same for a run directory: "running" in result.json without a live
 * lock reads "stale"; NULL reads "unknown". */
const char *tb_run_effective_status(const char *status, const char *dir);

#endif
