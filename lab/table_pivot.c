/* Pivoting a long table out wide: one column per value of an option. */
#include "core/json.h" // uses: tb_json_arr, tb_json_str
#include "lab/table_internal.h" // uses: tb_table_same_value, tb_table_pivot, tb_table_option_value, ...

#include "core/error.h" // uses: tb_fail

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TB_MAX_PIVOT_VALUES = 32 };

/* Is v among a pivot column's "only" values (all when there are none)? */
static int pivot_shown(struct json_object *pcol, const char *v)
{
    struct json_object *only = tb_json_arr(pcol, "only");
    size_t k = only ? json_object_array_length(only) : 0;
    if (!k)
        return 1;
    for (size_t i = 0; i < k; i++)
        if (tb_table_same_value(json_object_get_string(json_object_array_get_idx(only, i)), v))
            return 1;
    return 0;
}

/* Spreads a long table (nkeys row-key columns, then one column per pivot
 * column id) out wide: one row per distinct row key, and for each value of
 * the pivot option (in sweep order) the pivot columns shown for it, "{}" in
 * their headers replaced by the value.  A missing combination is n/a. */
int tb_table_pivot(tb_table *t, const row *rows, int n, int nkeys, const char *pkey, struct json_object *pcols)
{
    const char *values[TB_MAX_PIVOT_VALUES];
    int nvalues = 0, *group = calloc((size_t)n + 1, sizeof *group), ngroups = 0;
    if (!group)
        return tb_fail("out of memory");
    for (int i = 0; i < n; i++) {
        const char *v = tb_table_option_value(&rows[i], pkey);
        int k = 0;
        while (k < nvalues && !tb_table_same_value(values[k], v))
            k++;
        if (k == nvalues && v && nvalues == TB_MAX_PIVOT_VALUES) {
            free(group);
            return tb_fail("%s: the pivot %s has more than %d values", t->source, pkey, TB_MAX_PIVOT_VALUES);
        }
        if (k == nvalues && v)
            values[nvalues++] = v;
        /* Rows with equal row-key cells (as shown) are one wide row. */
        group[i] = -1;
        for (int j = 0; j < i && group[i] < 0; j++) {
            int same = 1;
            for (int c = 0; c < nkeys && same; c++) {
                char a[256], b[256];
                tb_cell_format(&t->cells[(size_t)i * t->ncols + c], t->kinds[c], 1, a, sizeof a);
                tb_cell_format(&t->cells[(size_t)j * t->ncols + c], t->kinds[c], 1, b, sizeof b);
                same = !strcmp(a, b);
            }
            if (same)
                group[i] = group[j];
        }
        if (group[i] < 0)
            group[i] = ngroups++;
    }
    int npc = (int)json_object_array_length(pcols), wide = nkeys;
    for (int v = 0; v < nvalues; v++)
        for (int k = 0; k < npc; k++)
            wide += pivot_shown(json_object_array_get_idx(pcols, (size_t)k), values[v]);
    if (wide > 32) {
        free(group);
        return tb_fail("%s: the pivot makes %d columns, more than 32; show fewer pivot columns or values",
                       t->source, wide);
    }
    tb_cell *cells = calloc((size_t)ngroups * wide + 1, sizeof *cells);
    if (!cells) {
        free(group);
        return tb_fail("out of memory for a %d-row table", ngroups);
    }
    for (size_t i = 0; i < (size_t)ngroups * wide; i++)
        cells[i].num = NAN;
    tb_col_kind kinds[32];
    char ids[32][32], headers[32][64];
    int c = nkeys;
    for (int v = 0; v < nvalues; v++)
        for (int k = 0; k < npc; k++) {
            struct json_object *pc = json_object_array_get_idx(pcols, (size_t)k);
            if (!pivot_shown(pc, values[v]))
                continue;
            const char *id = tb_json_str(pc, "id", ""), *h = tb_json_str(pc, "header", NULL);
            int src = nkeys;
            while (src < t->ncols && strcmp(t->ids[src], id))
                src++;
            /* The header: {} becomes the value; with no {}, "VALUE Header". */
            const char *tmpl = h && *h ? h : tb_table_default_header(id), *brace = strstr(tmpl, "{}");
            if (brace)
                snprintf(headers[c], sizeof headers[c], "%.*s%s%s", (int)(brace - tmpl), tmpl, values[v], brace + 2);
            else
                snprintf(headers[c], sizeof headers[c], "%s %s", values[v], tmpl);
            snprintf(ids[c], sizeof ids[c], "%s@%s", id, values[v]);
            kinds[c] = t->kinds[src];
            for (int i = 0; i < n; i++)
                if (tb_table_same_value(tb_table_option_value(&rows[i], pkey), values[v])) {
                    tb_cell *from = &t->cells[(size_t)i * t->ncols + src], *to = &cells[(size_t)group[i] * wide + c];
                    to->num = from->num;
                    to->has_range = from->has_range, to->lo = from->lo, to->hi = from->hi;
                    to->marked = from->marked;
                    to->text = from->text; /* moved */
                    from->text = NULL;
                }
            c++;
        }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < nkeys; k++) {
            tb_cell *from = &t->cells[(size_t)i * t->ncols + k], *to = &cells[(size_t)group[i] * wide + k];
            if (!to->text && isnan(to->num)) {
                *to = *from;
                from->text = NULL;
            }
        }
    for (int i = 0; i < n * t->ncols; i++)
        free(t->cells[i].text);
    free(t->cells);
    free(group);
    t->cells = cells;
    t->nrows = ngroups;
    for (int k = nkeys; k < wide; k++) {
        t->kinds[k] = kinds[k];
        memcpy(t->ids[k], ids[k], sizeof ids[k]);
        memcpy(t->headers[k], headers[k], sizeof headers[k]);
    }
    t->ncols = wide;
    return 0;
}
