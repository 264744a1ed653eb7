/* Checks before launching (issue 18): what would make a sweep's
 * configurations fail at once, said in the workbench instead of launching.
 * Pure over the expanded plan and a description of the machine, so tests
 * give both. */
#ifndef TUI_PRECHECK_H
#define TUI_PRECHECK_H

#include "lab/preset.h" // uses: tb_plan
#include "tui/state.h" // uses: tui_app

#include <stddef.h>

typedef struct {
    int gpus;       /* NVIDIA GPUs this machine has (NVML), -1 unknown */
    int alloc_gpus; /* GPUs of the Slurm allocation, -1 outside one */
    char note[256]; /* why gpus is 0 (NVML's message), "" otherwise */
} tui_machine;

/* GPUs a Slurm allocation gives this node: SLURM_GPUS_ON_NODE ("2") if set,
 * else the entries of SLURM_JOB_GPUS ("0,1"); -1 when neither says (NULLs
 * or text that is not a count). */
int tui_slurm_gpus(const char *gpus_on_node, const char *job_gpus);

/* This machine: NVML's GPU count (0 when NVML cannot be loaded) and the
 * Slurm allocation from the environment. */
void tui_machine_probe(tui_machine *m);

/* The problems of the plan's configurations on machine m, one per line in
 * out (each said once): a --data-dir or packed:FILE that does not exist,
 * --device cuda without an NVIDIA GPU, more --gpus than the machine or the
 * allocation has.  Returns how many (0: launch). */
int tui_precheck(const tb_plan *plan, const tui_machine *m, char *out, size_t size);

/* tui_precheck over the plan the workbench would launch (the preset with
 * the edited values, at its scale).  Problems, or -1 after tb_fail. */
int tui_launch_check(const tui_app *a, const tui_machine *m, char *out, size_t size);

#endif
