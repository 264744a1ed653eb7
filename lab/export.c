/* Markdown, CSV and JSON export of result tables (see export.h). */
#include "lab/export.h"

#include "core/error.h" // uses: tb_fail
#include "core/fsutil.h" // uses: tb_write_atomic
#include "core/quote.h" // uses: tb_text_escape, tb_json_put

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tb_export_format_parse(const char *name)
{
    if (!strcmp(name, "md") || !strcmp(name, "markdown"))
        return TB_EXPORT_MD;
    if (!strcmp(name, "csv"))
        return TB_EXPORT_CSV;
    if (!strcmp(name, "json"))
        return TB_EXPORT_JSON;
    return -1;
}

/* Text from plan.json and result.json as Markdown: newlines become spaces,
 * other control characters are escaped (tb_text_escape: no escape sequence
 * reaches a terminal), and in table cells '|' is escaped so a cell cannot
 * break the table. */
static void md_text(FILE *f, const char *text, int cell)
{
    char *flat = strdup(text ? text : ""), *s = NULL;
    if (flat)
        for (char *c = flat; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
    s = flat ? tb_text_escape(flat) : NULL;
    free(flat);
    for (const char *c = s ? s : "?"; *c; c++) {
        if (*c == '|' && cell)
            fputs("\\|", f);
        else
            fputc(*c, f);
    }
    free(s);
}

static void md_cell(FILE *f, const char *s) { md_text(f, s, 1); }

static int right_aligned(tb_col_kind k) { return k != TB_COL_TEXT && k != TB_COL_HMS; }

static void write_md(FILE *f, const tb_table *t)
{
    fputs("### ", f);
    md_text(f, t->title, 0);
    fputs("\n\n", f);
    if (t->question[0] || t->preset[0]) {
        md_text(f, t->question, 0);
        if (t->preset[0]) {
            fprintf(f, "%sPreset `", t->question[0] ? " " : "");
            md_text(f, t->preset, 0);
            fputs("`.", f);
        }
        fputs("\n", f);
    }
    if (t->info[0]) {
        md_text(f, t->info, 0);
        fputs("\n", f);
    }
    /* The overrides are part of the result: a table of a sweep run with
     * --set is not the preset's table. */
    size_t no = t->overrides ? json_object_array_length(t->overrides) : 0;
    for (size_t i = 0; i < no; i++) {
        fputs(i ? ", `" : "Overrides (--set): `", f);
        md_text(f, json_object_get_string(json_object_array_get_idx(t->overrides, i)), 1);
        fputs(i + 1 < no ? "`" : "`.\n", f);
    }
    fputs("\n|", f);
    for (int c = 0; c < t->ncols; c++) {
        fputc(' ', f);
        md_cell(f, t->headers[c]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (int c = 0; c < t->ncols; c++)
        fputs(right_aligned(t->kinds[c]) ? " ---: |" : " --- |", f);
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        fputc('|', f);
        for (int c = 0; c < t->ncols; c++) {
            const tb_cell *cell = &t->cells[(size_t)r * t->ncols + c];
            char buf[256];
            tb_cell_format(cell, t->kinds[c], 0, buf, sizeof buf);
            fputc(' ', f);
            md_cell(f, cell->text ? cell->text : buf); /* text whole, not cut to the buffer */
            fputs(" |", f);
        }
        fputc('\n', f);
    }
    size_t n = t->notes ? json_object_array_length(t->notes) : 0;
    if (n)
        fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        fputs("- ", f);
        md_text(f, json_object_get_string(json_object_array_get_idx(t->notes, i)), 0);
        fputc('\n', f);
    }
}

/* Control characters escaped as in Markdown (tb_text_escape); a field with a
 * comma or a quote is quoted. */
static void csv_cell(FILE *f, const char *text)
{
    char *e = tb_text_escape(text);
    const char *s = e ? e : "?";
    if (!strpbrk(s, ",\"")) {
        fputs(s, f);
    } else {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    }
    free(e);
}

/* The overrides as one field ("epochs=1; lr=0.2"), repeated on every row:
 * a CSV has no place for notes, and a spreadsheet or a script reading it
 * keeps the column with the figures. */
static char *csv_overrides(const tb_table *t)
{
    size_t no = t->overrides ? json_object_array_length(t->overrides) : 0, len = 1;
    for (size_t i = 0; i < no; i++)
        len += strlen(json_object_get_string(json_object_array_get_idx(t->overrides, i))) + 2;
    char *s = no ? calloc(len, 1) : NULL;
    for (size_t i = 0; s && i < no; i++) {
        if (i)
            strcat(s, "; ");
        strcat(s, json_object_get_string(json_object_array_get_idx(t->overrides, i)));
    }
    return s;
}

static void write_csv(FILE *f, const tb_table *t)
{
    char *over = csv_overrides(t);
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            fputc(',', f);
        csv_cell(f, t->headers[c]);
    }
    if (over)
        fputs(",Overrides (--set)", f);
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            char buf[256];
            const tb_cell *cell = &t->cells[(size_t)r * t->ncols + c];
            tb_cell_format(cell, t->kinds[c], 1, buf, sizeof buf);
            if (c)
                fputc(',', f);
            /* Missing numbers are empty fields, as spreadsheets expect; text whole, not cut to the buffer. */
            csv_cell(f, cell->text ? cell->text : !strcmp(buf, "n/a") ? "" : buf);
        }
        if (over) {
            fputc(',', f);
            csv_cell(f, over);
        }
        fputc('\n', f);
    }
    free(over);
}

static struct json_object *table_json(const tb_table *t)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "title", json_object_new_string(t->title));
    json_object_object_add(o, "preset", json_object_new_string(t->preset));
    json_object_object_add(o, "question", json_object_new_string(t->question));
    json_object_object_add(o, "source", json_object_new_string(t->source));
    json_object_object_add(o, "info", json_object_new_string(t->info));
    json_object_object_add(o, "overrides", t->overrides ? json_object_get(t->overrides) : json_object_new_array());
    struct json_object *cols = json_object_new_array();
    for (int c = 0; c < t->ncols; c++) {
        struct json_object *col = json_object_new_object();
        json_object_object_add(col, "id", json_object_new_string(t->ids[c]));
        json_object_object_add(col, "header", json_object_new_string(t->headers[c]));
        json_object_array_add(cols, col);
    }
    json_object_object_add(o, "columns", cols);
    struct json_object *rows = json_object_new_array();
    for (int r = 0; r < t->nrows; r++) {
        struct json_object *row = json_object_new_array();
        for (int c = 0; c < t->ncols; c++) {
            const tb_cell *cell = &t->cells[(size_t)r * t->ncols + c];
            if (cell->text)
                json_object_array_add(row, json_object_new_string(cell->text));
            else if (cell->num != cell->num) /* NaN: n/a */
                json_object_array_add(row, NULL);
            else if (cell->has_range) { /* --repeat */
                struct json_object *v = json_object_new_object();
                json_object_object_add(v, "median", json_object_new_double(cell->num));
                json_object_object_add(v, "min", json_object_new_double(cell->lo));
                json_object_object_add(v, "max", json_object_new_double(cell->hi));
                json_object_array_add(row, v);
            }
            else
                json_object_array_add(row, json_object_new_double(cell->num));
        }
        json_object_array_add(rows, row);
    }
    json_object_object_add(o, "rows", rows);
    /* Cells marked not meaningful at smoke scale, as [row, column] pairs. */
    struct json_object *marked = json_object_new_array();
    for (int r = 0; r < t->nrows; r++)
        for (int c = 0; c < t->ncols; c++)
            if (t->cells[(size_t)r * t->ncols + c].marked) {
                struct json_object *rc = json_object_new_array();
                json_object_array_add(rc, json_object_new_int(r));
                json_object_array_add(rc, json_object_new_int(c));
                json_object_array_add(marked, rc);
            }
    json_object_object_add(o, "marked", marked);
    json_object_object_add(o, "notes", json_object_get(t->notes));
    return o;
}

int tb_export_write(FILE *f, const tb_table *tables, int n, tb_export_format fmt)
{
    if (fmt == TB_EXPORT_JSON) {
        struct json_object *all = json_object_new_object(), *arr = json_object_new_array();
        json_object_object_add(all, "schema", json_object_new_string("trainbench.tables/1"));
        for (int i = 0; i < n; i++)
            json_object_array_add(arr, table_json(&tables[i]));
        json_object_object_add(all, "tables", arr);
        /* Strings come from run files: DEL, C1 and stray bytes escaped (tb_json_put). */
        tb_json_put(f, json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        fputc('\n', f);
        json_object_put(all);
    } else
        for (int i = 0; i < n; i++) {
            if (i)
                fputc('\n', f);
            if (fmt == TB_EXPORT_MD)
                write_md(f, &tables[i]);
            else
                write_csv(f, &tables[i]);
        }
    if (fflush(f) != 0 || ferror(f))
        return tb_fail("cannot write the table: %s", strerror(errno));
    return 0;
}

char *tb_export_string(const tb_table *tables, int n, tb_export_format fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        tb_fail("out of memory rendering the table");
        return NULL;
    }
    int rc = tb_export_write(f, tables, n, fmt);
    fclose(f);
    if (rc) {
        free(buf);
        return NULL;
    }
    return buf;
}

int tb_text_write_atomic(const char *path, const char *text)
{
    /* core/fsutil's one atomic writer: refuses to replace a link, FIFO or device. */
    return tb_write_atomic(path, text, strlen(text));
}
