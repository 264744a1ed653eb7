/* The resources panel (issue 18): GPU readings (core/gpumon, NVML) and host
 * readings (core/hostmon, /proc) sampled at most once a second from the
 * workbench's loop, with their history for sparklines, which GPU the run's
 * ranks use, and whether the machine is contended.  No curses: tests fill
 * the state by hand and draw it. */
#ifndef TUI_RESOURCES_H
#define TUI_RESOURCES_H

#include "core/gpumon.h" // uses: tb_gpu_reading, tb_gpumon
#include "core/hostmon.h" // uses: tb_host_sample, tb_host_rates
#include "tui/cells.h" // uses: tui_rect, tui_buf

enum { TUI_RES_HIST = 120, TUI_RES_MAX_GPUS = 16 };

/* The last TUI_RES_HIST values, oldest first through tui_series_at. */
typedef struct {
    double v[TUI_RES_HIST];
    int n, head; /* head: where the next value goes */
} tui_series;

typedef struct {
    tb_gpu_reading r;
    int rank;      /* the run's rank on it; -1 none, -2 the run's but the rank unknown */
    long rank_pid; /* the run's process on it, 0 none */
    tui_series util, mem, power; /* %, % of total, W */
} tui_res_gpu;

typedef struct tui_res {
    double last_t;     /* time of the last sample, 0 never */
    int nvml_tried;
    tb_gpumon *mon;
    char nvml_msg[320]; /* why there are no GPU readings, "" when there are */
    int ngpu;
    tui_res_gpu gpu[TUI_RES_MAX_GPUS];
    tb_host_sample prev;
    int have_prev, have_rates;
    tb_host_rates host;
    char host_err[256];
    tui_series cpu, run, mem; /* machine CPU %, the run's cores, memory used % */
    double asked;             /* cores the run asked for (0: no run) */
    int contended;
    char contention[256];
} tui_res;

void tui_series_push(tui_series *s, double v);
/* Value i, 0 the oldest kept. */
double tui_series_at(const tui_series *s, int i);

/* Samples when at least a second has passed since the last sample (now:
 * CLOCK_MONOTONIC seconds).  root: the run's process (the sweep), 0 none;
 * asked: the cores the run asked for.  Returns 1 when it sampled.  NVML is
 * loaded on the first call; where it is absent nvml_msg says so. */
int tui_res_tick(tui_res *r, double now, long root, double asked, const char *proc);
/* Cores a run asked for from its config.json: per rank (gpus) its compute
 * threads (0: all cores) plus its loader workers, at most ncpu; 0 when the
 * file cannot be read. */
double tui_res_asked(const char *config_json, int ncpu);
void tui_res_free(tui_res *r);

/* Layout of the Resources screen's body: the host group on top, then one
 * group per GPU (two columns when wide); returns how many GPU groups fit
 * (the rest are counted on the last line). */
enum { TUI_RES_HOST_H = 7, TUI_RES_GPU_H = 6 };
int tui_res_layout(tui_rect body, int ngpu, tui_rect *host, tui_rect *gpus, int max);

/* A sparkline of the series' last w values scaled to [0, max] (eight
 * heights of block in UTF-8, " .:-=+*#" in ASCII), right-aligned: the
 * newest value in the last cell.  Returns the cells used. */
int tui_sparkline(tui_buf *b, int x, int y, int w, const tui_series *s, double max, int attr);
/* The compact panel (Live screen) and the Resources screen's body. */
void tui_draw_res_panel(tui_buf *b, tui_rect r, const tui_res *res);
void tui_draw_res_screen(tui_buf *b, tui_rect body, const tui_res *res);

#endif
