/* The workbench's state and everything that reads the engine's files:
 * presets (through preset.h), sweep directories (plan.json, summary.json,
 * events.jsonl, followed incrementally) and the runs folder.  No curses
 * here, so tests drive it directly. */
#ifndef TUI_STATE_H
#define TUI_STATE_H

#include "lab/preset.h" // uses: tb_preset
#include "lab/table.h" // uses: tb_table
#include "rundir/train_report.h" // uses: TB_PHASE_COUNT

#include <sys/types.h>

typedef enum {
    SCR_PRESETS, SCR_PARAMS, SCR_LIVE, SCR_RESULTS, SCR_TABLE, SCR_EXPORT, SCR_HELP,
    SCR_RESOURCES, /* GPU and host readings with history (key 5) */
    SCR_RUN,       /* one finished run opened from Results (tui/runview.h) */
    SCR_COMPARE,   /* the marked runs side by side */
    SCR_JOBS,      /* the user's trainbench jobs in Slurm (key 6, tui/jobs.h) */
    SCR_COUNT
} tui_screen;

typedef struct {
    char path[1024];
    char name[64], title[160], lab[64], question[160];
    int configs_full, configs_smoke, epochs, epochs_smoke; /* epochs of the first configuration */
    double est_full_s, est_smoke_s; /* estimated wall seconds from earlier sweeps; 0 unknown */
    int user;                       /* from the user's presets folder */
    char error[256];                /* a preset that does not load says why */
} tui_preset_item;

enum { TUI_MAX_PARAMS = 48, TUI_MAX_EPOCHS = 512, TUI_MAX_CONFIGS = 64, TUI_LOG_LINES = 400 };

typedef struct {
    char key[64];
    int axis;             /* a [sweep] list */
    int scale;            /* the pseudo-option smoke|full */
    const tb_option *opt; /* NULL for scale */
    char value[256];      /* as shown and as applied with tb_preset_set */
    int edited;
    char runs_as[256];    /* what the configurations get when it differs (smoke), "" same */
    char orig[256];       /* the preset's own value: typing it again is no edit */
} tui_param;


typedef struct {
    double load_s, train_s, epoch_s, train_loss, train_acc, test_acc;
    int has_phases;                 /* the run has --profile */
    double phase_s[TB_PHASE_COUNT];
} tui_epoch;

typedef struct {
    char id[128], label[256], status[16];
    double avg_epoch_s, images_per_s;
    double wall_s;                    /* the configuration's wall seconds once it ended, NAN before */
    char error[512];                  /* why it failed or was refused (summary.json), "" none */
    /* From the configuration's result.json once it completed (NAN before):
     * what the sweep's chart and the predictions need. */
    int have_result;
    double load_s, train_s, test_acc; /* per-epoch averages; final accuracy */
    int batch, images;                /* per-GPU batch, training images per epoch */
    double grad_bytes;                /* all-reduced bytes per step */
} tui_config_row;

/* A configuration's swept values, from plan.json. */
typedef struct {
    char value[96];  /* of the chart's axis */
    char others[192]; /* the other axes, "key=value ..." (matches baselines) */
} tui_plan_point;

typedef struct {
    int active;          /* following a sweep */
    char sweep_dir[1024];
    pid_t pid;           /* the sweep process (group leader) */
    int ours;            /* started by this workbench (a child to reap) */
    int child_done;      /* ours and reaped */
    char status[16];     /* effective status of the sweep */
    char preset[64], title[160];
    int total, completed, failed;
    tui_config_row configs[TUI_MAX_CONFIGS];
    int nconfigs;
    int plan_read;        /* plan.json read (it is written once, first) */
    char chart_axis[64];  /* the swept option the sweep's chart is drawn over */
    tui_plan_point points[TUI_MAX_CONFIGS];
    int npoints;
    int cur;             /* index of the followed configuration, -1 none */
    char cur_id[128];
    long ev_offset;      /* bytes of events.jsonl consumed */
    int epoch, epochs, batch, batches;
    double ips;          /* images/s from the last progress event */
    double bps_ema;      /* batches per second, smoothed */
    double eta_s;        /* smoothed remaining seconds of the epoch */
    double last_t;       /* time of the last progress event */
    int evaluating;      /* the test pass runs (eval_start until epoch_end) */
    double t_first;      /* time of the first event seen of the sweep, NAN none */
    double t_now;        /* time of the newest event */
    double sweep_eta_s;  /* smoothed remaining seconds of the whole sweep; 0 unknown */
    double epoch_wall;   /* seconds of the configuration's finished epochs (epoch_end) */
    double last_sweep_t; /* time of the event that last moved sweep_eta_s */
    int last_batch;
    double loss;
    double loss_hist[256]; /* mean loss of each interval between progress events, for the live curve */
    int loss_ep[256];      /* the epoch of each point, for the chart's labels */
    int nloss;
    tui_epoch ep[TUI_MAX_EPOCHS];
    int nep;
    char log[TUI_LOG_LINES][160];
    int nlog;
    int log_scroll; /* lines scrolled back from the end; 0 follows the log */
    char stopped[512]; /* summary.json's "stopped": why the sweep ended early (tui/failure.h) */
} tui_live;

typedef struct {
    char dir[1024]; /* full path */
    char name[256]; /* folder name */
    int run;        /* a loose `trainbench train` run (result.json), not a sweep */
    char preset[64], scale[8], status[16]; /* preset: the model for a run */
    int total, completed;                  /* configurations; epochs for a run */
    double wall_s;
    double done_wall_s; /* sweeps: wall seconds of the completed configurations */
    double final_acc; /* runs: final test accuracy %, NAN unknown */
    double started;   /* start time the files record, NAN unknown (the list's order) */
    char error[512];  /* why the run, or the sweep's first failed configuration, failed; "" none */
} tui_result_item;

/* A line of text typed in the status line. */
typedef enum {
    TUI_PROMPT_NONE, TUI_PROMPT_SAVE, TUI_PROMPT_PRESETS_DIR, TUI_PROMPT_EXPORT,
    TUI_PROMPT_SEARCH /* `/`: jumps to the first match as it is typed (Results: filters, tb_results_match) */
} tui_prompt;

typedef struct {
    tui_screen screen, back; /* back: where Esc/help returns */
    tui_prompt prompt;
    char prompt_text[1024];
    char config_path[1024]; /* where the presets folder is remembered; "" nowhere */
    char runs_dir[1024], presets_dir[1024], user_presets_dir[1024];
    char exe[1024];
    int utf8, color;

    tui_preset_item *presets;
    int npresets, psel;

    tb_preset *base; /* the chosen preset as loaded (and reshaped) */
    int reshaped;    /* axes added or removed: launched from a saved copy */
    tui_param params[TUI_MAX_PARAMS];
    int nparams, parsel;
    int editing;
    char edit[256];
    char edit_err[512]; /* why the text being typed is not accepted, "" if it is */
    int smoke;
    int sweep_size;     /* configurations with the current values, -1 invalid */

    tui_live live;

    tui_result_item *results;
    int nresults, rsel, mark; /* mark: a second sweep or run to compare, -1 none */
    char filter[128];         /* Results shows the entries that match, "" all */
    char precheck[2048];      /* why the last launch was refused (tui/precheck.h), "" none */
    /* The Run screen (state_views.c): the run open, its sweep ("" a loose
     * run) and which of the sweep's configurations; the scroll of its panes. */
    struct tui_run_view *view;
    char view_sweep[1024];
    int view_cfg, view_ncfg, view_scroll, view_log;
    tui_screen view_back; /* where Esc returns */
    /* Marked with Space on Results (folder names, kept across refreshes);
     * c compares them: each run, each configuration of each sweep. */
    char marks[8][256];
    int nmarks;
    struct tui_run_view *cmp;
    int ncmp, cmp_col;
    int note_scroll;          /* first footnote line shown under the table */
    /* What `trainbench export` makes of the chosen entries: sweeps of one
     * preset merged, other sweeps apart, loose runs in one table. */
    tb_table tables[3];
    int ntables, tsel;
    int tcol, tcol_more; /* the table's first column shown after column 0; more hide right (tui_table) */
    char *export_text;
    char export_path[1100];
    int export_scroll;

    char msg[512]; /* status-line message */
    int msg_err;
    int confirm_quit;
    int confirm_cancel;  /* c on the Live screen asks first */
    int cancelled;       /* this session cancelled the followed sweep */
    double msg_at;       /* monotonic seconds the message was set; it goes after a while */
    int quit;
    struct tui_res *res; /* GPU and host readings (tui/resources.h); NULL: not sampled */
    struct tui_jobs *jobs; /* Slurm jobs (tui/jobs.h); NULL: no Jobs screen */
} tui_app;

int tui_app_init(tui_app *a, const char *runs_dir, const char *user_presets_dir);
void tui_app_free(tui_app *a);

/* Presets from the shipped folder and the user's, sorted by lab then name. */
int tui_presets_scan(tui_app *a);
/* Loads preset psel and builds the parameter list. */
int tui_params_load(tui_app *a);
/* Checks `text` as the value of parameter i against everything else
 * set; returns the sweep size, or -1 with the reason in err. */
int tui_param_check(const tui_app *a, int i, const char *text, char *err, size_t errsize);
/* Parameter i becomes a sweep axis (its value the one value, its own
 * table column), or a one-value axis a plain option again; the other edits
 * stay.  0, or -1 after tb_fail (nothing changed). */
int tui_param_toggle_axis(tui_app *a, int i);
/* Sweep size, the reason when invalid, and each parameter's runs_as for
 * the values as edited. */
void tui_params_refresh(tui_app *a);
/* The --set assignments for the edited parameters ("num_workers=4"). */
int tui_param_sets(const tui_app *a, char sets[][320], int max);
/* Writes the preset with the edited values as a new INI file (the name is
 * the file's base name) and checks that the engine's parser loads it. */
int tui_preset_save(const tui_app *a, const char *path);
/* A preset name usable as a file name: letters, digits, '.', '_', '-',
 * not starting with '.'; 0 ok, -1 after tb_fail. */
int tui_preset_name_check(const char *name);

/* Starts following a sweep directory (not yet read). */
void tui_live_attach(tui_live *l, const char *sweep_dir, pid_t pid, int ours);
/* Reads what is new in the sweep directory.  Returns 1 when something changed. */
int tui_live_poll(tui_live *l);
/* Feeds one event (parsed) into the live state; exposed for tests. */
void tui_live_event(tui_live *l, struct json_object *ev);
/* Reads plan.json: the chart's axis and each configuration's swept values
 * (sweep_chart.c). */
void tui_live_read_plan(tui_live *l);
/* Reads configuration i's result.json into its row (sweep_chart.c). */
void tui_live_read_result(tui_live *l, int i);
/* 1 while the sweep is still going. */
int tui_live_running(const tui_live *l);

/* The i-th choice after (dir 1) or before (dir -1) cur in an option's
 * "a|b|c" list, wrapping; placeholders such as packed:FILE are skipped.
 * 0, or -1 when there is no choice list. */
int tui_choice_cycle(const char *choices, const char *cur, int dir, char *out, size_t size);
/* Left/Right on parameter i: its next choice (choices, true/false, smoke/full).
 * 1 when the value changed, 0 when the parameter has no choices. */
int tui_param_cycle(tui_app *a, int i, int dir);
/* Parameter i set to text as accepted in the editor: marked edited only
 * when it differs from the preset's own value. */
void tui_param_accept(tui_app *a, int i, const char *text);
/* The line of preset i in the Presets list, lab headings counted (0 = the
 * first heading); for the drawing and for clicks. */
int tui_preset_line(const tui_app *a, int i);
/* Case-insensitive substring test ("" matches everything). */
int tui_search_match(const char *hay, const char *needle);
/* `/` search on the current screen: the first item at or after `from`
 * (wrapping) whose name matches text, else whose other text does, or -1.
 * Presets, parameters, results and the live log. */
int tui_search_find(const tui_app *a, const char *text, int from);
/* One smoothing step for a remaining time: sample blended into prev
 * (weight w of the new sample), and the whole clock running down by dt
 * seconds between samples.  prev <= 0 or non-finite takes the sample. */
double tui_eta_smooth(double prev, double sample, double dt, double w);
/* Remaining seconds of the whole sweep from what the live state knows:
 * this configuration's rest, and each configuration still to run at the
 * mean wall time of those done (or this one's estimated total); NAN unknown. */
double tui_sweep_remaining(const tui_live *l);

/* Run screen and Compare screen (state_views.c).  Opens results[rsel]: a
 * loose run on the Run screen; a sweep's configuration `cfg` (from 0).
 * 0, or -1 after tb_fail. */
int tui_view_open(tui_app *a, int cfg);
/* Space on Results: marks or unmarks results[rsel]; 1 now marked, 0 now
 * unmarked, -1 after tb_fail (too many marks). */
int tui_mark_toggle(tui_app *a);
int tui_is_marked(const tui_app *a, int i);
/* Loads the marked entries (or, with one marked, it and the selected one)
 * for the Compare screen: 0, or -1 after tb_fail (fewer than two runs). */
int tui_compare_open(tui_app *a);
/* Frees what the Run and Compare screens hold. */
void tui_views_free(tui_app *a);

/* Lists sweep directories and loose run directories under runs_dir,
 * newest first. */
int tui_results_scan(tui_app *a);
/* A running sweep under runs_dir whose process is alive: its index in
 * a->results, or -1. */
int tui_results_find_running(const tui_app *a, pid_t *pid);
/* Loads the tables of results[rsel] (and of `mark`, side by side), as
 * `trainbench export OLDER NEWER` would build them. */
int tui_results_open(tui_app *a);
/* The directories tui_results_open reads, older first (the export command
 * line that gives the same tables); returns how many (1 or 2). */
int tui_results_chosen(const tui_app *a, const char *dirs[2]);
/* The rows of every loaded table together (for moving the selection). */
int tui_results_rows(const tui_app *a);
/* Renders the loaded tables as Markdown and writes them to path. */
int tui_results_export(tui_app *a, const char *path);

/* Monotonic seconds. */
double tui_now_s(void);
/* A status-line message (fmt with one %s for arg, cut to what the line can
 * show); err colours it as an error; it goes after a while. */
void tui_say(tui_app *a, int err, const char *fmt, const char *arg);

#endif
