/* What lab/table*.c share: the rows and settings a table is built from, and
 * the functions of one part that another calls.  Not for other files. */
#ifndef TB_TABLE_INTERNAL_H
#define TB_TABLE_INTERNAL_H

#include "lab/table.h" // uses: tb_col_kind, tb_cell, tb_table


#include <json-c/json.h>

/* One row: a sweep configuration or a loose run. */
typedef struct {
    struct json_object *result; /* owned; NULL when the configuration has none */
    struct json_object *params; /* borrowed: nominal axis values */
    struct json_object *config; /* borrowed: result's config, or NULL */
    struct json_object *planned; /* owned: the plan's args by config key, for rows without a result */
    const char *status, *error, *label, *id;
    struct json_object *subs;
    /* Smoke scale: option values are what ran (the run's config, else the
     * plan's arguments), not the preset's nominal ones, so labels and
     * derived figures (speedup, global batch, LR scaling) match the run. */
    int effective;
} row;

/* How the figures are taken: the [table] settings. */
typedef struct {
    int pick_epoch;
    const char *time;
    int gpus_per_node;
    const char *base_key, *base_value;
} spec;

/* table_columns.c */
/* A per-epoch column id, ID_eN (train_acc_e3: epoch 3's training
 * accuracy): N, with the length of ID in *base_len; 0 for other ids. */
int tb_table_epoch_suffix(const char *id, size_t *base_len);
/* The header of a column id: the catalogue's, an option's, else the id. */
const char *tb_table_default_header(const char *id);
tb_col_kind tb_table_option_kind(const char *id);

/* table_cells.c */
/* An option's nominal value (the sweep's, else the run's or the plan's), or
 * NULL; for an effective row the run's, else the plan's, else the sweep's. */
const char *tb_table_option_value(const row *r, const char *key);
/* Equal as numbers when both parse as numbers, else as strings; NULL never equals. */
int tb_table_same_value(const char *a, const char *b);
/* The plan's "--key=value" arguments as an object (new reference). */
struct json_object *tb_table_planned_options(struct json_object *args);
/* The run's --average-skip (config.json; 1 for results older than the option). */
int tb_table_average_skip(const row *r);
/* Fills one cell. */
void tb_table_cell_value(const row *rows, int n, const row *r, const spec *s, const char *id, tb_cell *cell);

/* table_pivot.c: spreads the long table out wide by the pivot key's values. */
int tb_table_pivot(tb_table *t, const row *rows, int n, int nkeys, const char *pkey, struct json_object *pcols);

#endif
