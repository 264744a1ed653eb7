/* Results you can open and compare (issue 18): one finished run read whole
 * (its configuration with what differs from the preset, per-epoch figures
 * and resource readings, its log), and the compare table of several runs.
 * Reading and the table are here, without curses; screens_run.c draws. */
#ifndef TUI_RUNVIEW_H
#define TUI_RUNVIEW_H

#include <stddef.h>

enum { TUI_RV_OPTS = 64, TUI_RV_EPOCHS = 256, TUI_RV_LOG = 120, TUI_CMP_MAX = 32, TUI_CMP_FIGS = 8 };

typedef struct {
    char key[48], value[160];
    int differs; /* from the preset (a sweep's configuration) or from trainbench's defaults (a loose run) */
} tui_rv_opt;

typedef struct {
    int epoch;
    double lr, load_s, train_s, epoch_s, train_loss, train_acc, test_acc, images_per_s;
    double rss_bytes, gpu_util, gpu_mem_bytes, gpu_power_w; /* resource readings, NAN none */
} tui_rv_epoch;

typedef struct tui_run_view {
    char dir[1100];
    char name[600]; /* in full: "RUN-FOLDER" or "SWEEP-FOLDER/CONFIG-ID" */
    char status[16], model[96], error[512];
    tui_rv_opt opts[TUI_RV_OPTS];
    int nopts;
    tui_rv_epoch ep[TUI_RV_EPOCHS];
    int nep;
    double final_acc, avg_epoch_s, images_per_s, wall_s; /* NAN unknown */
    char log[TUI_RV_LOG][200];
    int nlog;
} tui_run_view;

/* Reads run directory dir.  name: shown in full; differs (ndiffers keys,
 * '-' or '_' spelt): the options that make it differ from its preset, or
 * NULL to compare with the defaults; log: its log file or NULL.  0, or -1
 * after tb_fail (no readable result.json). */
int tui_run_view_load(tui_run_view *v, const char *dir, const char *name, const char *const *differs, int ndiffers,
                      const char *log);
/* Configuration `index` (from 0) of the sweep in sweep_dir, with what
 * differs from the preset: its swept values, the sweep's --set and smoke
 * scale's substitutions.  *count gets the number of configurations. */
int tui_run_view_load_config(tui_run_view *v, const char *sweep_dir, int index, int *count);

/* Option keys whose values are not the same in all n runs (a key missing
 * from some run differs), in the order first seen: indexes into a list of
 * keys written to keys[max][48].  Returns how many. */
int tui_compare_differ(const tui_run_view *v, int n, char keys[][48], int max);

/* The compare table: column 0 the row's name, then one column per run;
 * the options that differ first (*ndiff rows), then the figures (final
 * test accuracy, average epoch, images/s, wall time, epochs, status).
 * Cells are written to a new array of rows x (n+1) strings, freed with
 * tui_compare_free.  Returns the rows, or -1 out of memory. */
int tui_compare_table(const tui_run_view *v, int n, char ***cells, int *ndiff);
void tui_compare_free(char **cells, int rows, int n);

#endif
