/* --only KEY=VALUE[,VALUE...]: one expanded sweep cut down to the
 * configurations the user asked for (the lab's per-GPU-count jobs), shared by
 * `trainbench run` and `trainbench slurm`.
 *
 * Values are parsed and compared through the option table, so --only lr=0.10
 * matches 0.1 and --only no_batch_norm=yes matches true.  Several values of
 * one key (a list, or the key given again) are alternatives; different keys
 * must all hold.  The configurations are compared as the preset states them
 * (plan.json's params, [run], the defaults): at smoke scale --only gpus=8
 * keeps the 8-GPU row of a zip sweep, which runs on CPU ranks. */
#ifndef TB_PLAN_FILTER_H
#define TB_PLAN_FILTER_H

#include "lab/preset.h" // uses: tb_preset, tb_plan

#include <json-c/json.h>
#include <stddef.h>

/* Keeps in `plan` (expanded from `p`) the configurations every filter
 * accepts; their ids and indexes stay those of the whole sweep.
 * nonly == 0 keeps all.  -1 after tb_fail (a usage error: exit 2) on an
 * unknown or per-invocation key, a bad value, a value no configuration has
 * (naming the values that exist) or filters that together keep nothing
 * (naming the configurations). */
int tb_plan_only(const tb_preset *p, const char *const *only, int nonly, tb_plan *plan);

/* A name for a filtered sweep's directory: the kept configuration's id when
 * one is kept, else their first and last index ("03-to-05"); "" when
 * nothing was filtered.  Sweeps of one preset with different filters (the
 * per-configuration Slurm jobs, started in the same second) never share a
 * directory. */
void tb_plan_only_name(const tb_plan *plan, int nonly, char *out, size_t size);

/* The filters as plan.json's "only" array (empty when none). */
struct json_object *tb_plan_only_json(const char *const *only, int nonly);
/* Adds "Only the configurations with gpus=8 (--only)." to the note of a
 * plan.json table object, so summary.md and exports say the table is a cut. */
void tb_plan_only_note(struct json_object *table, const char *const *only, int nonly);

/* Inside a Slurm allocation (SLURM_JOB_ID set, no TB_LAUNCHER: the test
 * engine/launch.c makes before starting ranks with srun), the words that put
 * a one-rank configuration in a job step of its own and in the rank wrapper
 * (TB_RANK_WRAPPER, the container `trainbench slurm --container` sets), as
 * the engine puts the ranks of a data-parallel one: the 1-GPU baseline runs
 * where the rows it is compared with run.  Fills at most `max` words into
 * `words` (pointing into `buf`) and returns their count; 0 outside an
 * allocation; -1 after tb_fail when they do not fit. */
int tb_plan_step_prefix(char **words, int max, char *buf, size_t size);

#endif
