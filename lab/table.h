/* Result tables: the rows of a sweep (or of loose runs) with the columns a
 * preset's [table] names, derived figures included, ready for export. */
#ifndef TB_TABLE_H
#define TB_TABLE_H

#include <json-c/json.h>
#include <stddef.h>

typedef enum {
    TB_COL_TEXT,    /* strings: optimizer, status */
    TB_COL_INT,     /* plain integers: batch size, workers */
    TB_COL_COUNT,   /* large counts with thousands separators: parameters */
    TB_COL_SECONDS, /* 3 decimals under 1 s, else 2 */
    TB_COL_WALL,    /* whole seconds */
    TB_COL_HMS,     /* h:mm:ss */
    TB_COL_PERCENT, /* 2 decimals, no sign (the header says %) */
    TB_COL_LOSS,    /* 3 decimals */
    TB_COL_RATIO,   /* speedups: 2 decimals */
    TB_COL_EFFIC,   /* scaling efficiency: 2 decimals and a % sign */
    TB_COL_RATE,    /* images/s: whole numbers */
    TB_COL_GBPS,    /* GB/s: 2 decimals */
    TB_COL_REAL,    /* learning rates: %g */
    TB_COL_PERCENT3, /* 3 decimals, as ImageNet's main.py prints Acc@1/Acc@5 */
} tb_col_kind;

typedef struct {
    const char *id;
    const char *header;
    tb_col_kind kind;
    const char *help;
} tb_column_def;

/* The known column ids, terminated by a NULL id. */
const tb_column_def *tb_table_columns(void);
/* A known column id, or NULL (option names are columns too; see table.c). */
const tb_column_def *tb_table_column_find(const char *id);

typedef struct {
    double num; /* NAN: n/a */
    char *text; /* text cells (owned); NULL for numbers */
    /* --repeat: num is the median over the repeats, lo/hi the min/max */
    int has_range;
    double lo, hi;
    /* Smoke scale: an efficiency over 100 % or a speedup above the GPU
     * count; shown with a '*' and a footnote saying it is not meaningful. */
    int marked;
} tb_cell;

typedef struct {
    char title[256];
    char preset[64];
    char question[160];
    char source[1024]; /* the sweep or run directory */
    char info[768];    /* "Hardware: ...; software: ...; date: ..." */
    int ncols;
    tb_col_kind kinds[32];
    char ids[32][32];
    char headers[32][64];
    int nrows;
    tb_cell *cells; /* nrows x ncols */
    struct json_object *notes; /* array of strings (footnotes) */
    struct json_object *overrides; /* array of strings: the sweep's --set KEY=VALUE (plan.json "sets") */
} tb_table;

/* Builds the table of a sweep directory from plan.json, summary.json and
 * each configuration's result.json.  0, or -1 after tb_fail. */
int tb_table_from_sweep(const char *sweep_dir, tb_table *t);
/* One table for loose run directories, one row each, generic columns. */
int tb_table_from_runs(char *const *run_dirs, int n, tb_table *t);
/* Puts tables of the same preset into one, with a leading "Sweep" column:
 * several sweeps side by side.  `out` is a new table. */
int tb_table_merge(const tb_table *tables, int n, tb_table *out);
void tb_table_free(tb_table *t);

/* Formats one cell as exported: "n/a" when missing; plain != 0 drops
 * thousands separators, % signs and the '*' of a marked cell (CSV). */
void tb_cell_format(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size);

#endif
