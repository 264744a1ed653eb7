/* Lab presets: small INI files in presets/ that describe one lab question as
 * a sweep of `trainbench train` configurations and the table that answers it.
 *
 *   [preset]  title, description, lab, question
 *   [run]     any train option (num_workers = 4), applied to every configuration
 *   [sweep]   option = v1, v2, ...  (cartesian product, or `mode = zip`)
 *   [smoke]   options (or lists) that replace the above at --scale smoke
 *   [table]   columns, baseline, time, epoch, gpus_per_node, title, note,
 *             pivot, pivot_columns (wide tables: a swept option's values
 *             become column groups)
 *
 * Everything is validated while parsing, so a bad preset fails before
 * anything runs, with file:line, the key and what is accepted.
 * docs/architecture.md documents the format. */
#ifndef TB_PRESET_H
#define TB_PRESET_H

#include "spec/options.h" // uses: tb_train_config

#include <json-c/json.h>

enum {
    TB_PRESET_MAX_KV = 48,
    TB_PRESET_MAX_AXES = 8,
    TB_PRESET_MAX_VALUES = 32,
    TB_PRESET_MAX_COLUMNS = 24,
    TB_PRESET_MAX_CONFIGS = 4096,
};

typedef struct {
    char key[64];    /* option name with '_' (num_workers) */
    char value[256];
    int line;
} tb_preset_kv;

typedef struct {
    char key[64]; /* option name with '_' */
    int count;
    char values[TB_PRESET_MAX_VALUES][96];
    int line;
} tb_sweep_axis;

typedef struct {
    char id[32];      /* a column id (see tb_table_column_known) or an option name */
    char header[64];  /* "" for the default header; in pivot_columns, {} is the pivot value */
    char only[96];    /* pivot_columns: the pivot values it is shown for, space-separated; "" for all */
} tb_preset_column;

typedef struct {
    char path[1024];
    char name[64]; /* file name without .ini */
    char title[160], description[512], lab[64], question[160];
    tb_preset_kv run[TB_PRESET_MAX_KV];
    int nrun;
    tb_sweep_axis axes[TB_PRESET_MAX_AXES];
    int naxes;
    int zip; /* [sweep] mode = zip: the i-th values go together */
    tb_preset_kv smoke[TB_PRESET_MAX_KV];
    int nsmoke;
    /* [table] */
    tb_preset_column columns[TB_PRESET_MAX_COLUMNS];
    int ncolumns;
    char baseline_key[64], baseline_value[96]; /* "gpus = 1" style row selector */
    char time_metric[16];                      /* train_s (default), epoch_s, wall_s */
    int pick_epoch;                            /* 0: averages and final epoch; N: epoch N */
    int gpus_per_node;                         /* for the #N column (default 4) */
    char table_title[160];
    char note[512];
    char pivot[64]; /* "" or a swept option whose values become column groups */
    int pivot_line, pivot_columns_line;
    tb_preset_column pivot_columns[TB_PRESET_MAX_COLUMNS];
    int npivot_columns;
} tb_preset;

/* Parses and validates a preset file.  0, or -1 after tb_fail with
 * "FILE:LINE: [section] key: what is wrong; accepted: ...". */
int tb_preset_load(const char *path, tb_preset *p);

/* Finds a preset by name (presets/NAME.ini under $TRAINBENCH_PRESETS, ./presets,
 * or the installed data folder) or by path.  Fills `out`. */
int tb_preset_resolve(const char *name_or_path, char *out, size_t out_size);

/* Applies `key=value` (a --set) to the preset: a swept key becomes the given
 * list (a comma list is allowed), any other key overrides [run].  Unknown keys
 * and bad values fail with a did-you-mean. */
int tb_preset_set(tb_preset *p, const char *assignment);

/* One expanded configuration. */
typedef struct {
    int index;          /* from 1 */
    char id[128];       /* directory name: 01-num_workers-4 */
    char label[256];    /* "num_workers=4 batch_size=128" */
    tb_train_config cfg;
    struct json_object *params;        /* nominal axis values {key: "4"} */
    struct json_object *substitutions; /* ["gpus: 4 -> 1", ...] at smoke scale */
} tb_plan_entry;

typedef struct {
    tb_plan_entry *entries;
    int count;
} tb_plan;

/* Expands the sweep (after any tb_preset_set) into configurations, in order
 * (the first axis varies slowest).  smoke != 0 applies [smoke] and shrinks
 * each configuration to CPU size, recording every substitution. */
int tb_plan_expand(const tb_preset *p, int smoke, tb_plan *out);
void tb_plan_free(tb_plan *plan);

/* The [table] section as JSON (stored in plan.json so exports need only the
 * sweep directory): {"title", "columns": [{"id","header"}], "baseline": {"key","value"},
 * "time", "epoch", "gpus_per_node", "note"}, and when pivoting "pivot":
 * {"key", "columns": [{"id","header","only": ["1", ...]}]}. */
struct json_object *tb_preset_table_json(const tb_preset *p);


#endif
