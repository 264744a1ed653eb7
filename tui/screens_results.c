/* The Results screens: the list of sweeps and loose runs, their tables
 * (two side by side when comparing) and the Markdown preview. */
#include "tui/screens.h" // uses: tui_draw_results, tui_fmt_duration, tui_draw_table, tui_draw_export
#include "tui/wrap.h" // uses: tui_wrap, tui_draw_wrapped

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RCOLS = 7, RCELL = 96 };

void tui_draw_results(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect r = l->body;
    char title[256];
    snprintf(title, sizeof title, "Results (sweeps and runs, newest first)%s%.100s%s", a->filter[0] ? "; / " : "",
             a->filter, a->filter[0] ? " (Esc: all)" : "");
    tui_box(b, r, title, TUI_C_DIM);
    if (!a->nresults) {
        tui_textf(b, r.x + 2, r.y + 2, r.w - 4, TUI_C_DIM, a->filter[0] ? "No sweeps or runs under %s match." :
                  "No sweeps or runs under %s yet.", a->runs_dir);
        return;
    }
    int n = a->nresults;
    char **cells = calloc((size_t)n * RCOLS, sizeof *cells);
    char *store = calloc((size_t)n * RCOLS, RCELL);
    if (!cells || !store) {
        free(cells);
        free(store);
        return;
    }
    for (int i = 0; i < n; i++) {
        const tui_result_item *it = &a->results[i];
        char *c = store + (size_t)i * RCOLS * RCELL, wall[32];
        tui_fmt_duration(it->wall_s, wall, sizeof wall);
        snprintf(c, RCELL, "%s", i == a->mark ? "=" : tui_is_marked(a, i) ? "*" : " "); /* m; Space (compare) */
        if (it->run)
            snprintf(c + RCELL, RCELL, "run");
        else
            snprintf(c + RCELL, RCELL, "sweep/%.8s", it->scale);
        snprintf(c + 2 * RCELL, RCELL, "%.95s", it->name);
        snprintf(c + 3 * RCELL, RCELL, "%s", it->preset);
        snprintf(c + 4 * RCELL, RCELL, "%s %d/%d", it->status, it->completed, it->total);
        if (it->run && isfinite(it->final_acc))
            snprintf(c + 5 * RCELL, RCELL, "%.2f%%", it->final_acc);
        else
            c[5 * RCELL] = '\0';
        snprintf(c + 6 * RCELL, RCELL, "%s", wall);
        for (int k = 0; k < RCOLS; k++)
            cells[i * RCOLS + k] = c + k * RCELL;
    }
    static const char *const hdr[RCOLS] = {" ", "kind", "folder", "preset/model", "status", "acc", "wall"};
    static const int right[RCOLS] = {0, 0, 0, 0, 0, 1, 1};
    /* Why the chosen entry failed, whole, under the list (at most a third of it). */
    const char *why = a->rsel >= 0 && a->rsel < n ? a->results[a->rsel].error : "";
    int wl = why[0] ? tui_wrap(why, r.w - 4 - 8, NULL, 0) : 0, maxl = (r.h - 3) / 3;
    wl = wl > maxl ? maxl : wl;
    tui_table(b, (tui_rect){r.x + 1, r.y + 1, r.w - 2, r.h - 3 - (wl ? wl + 1 : 0)}, RCOLS, hdr,
              (const char *const *)cells, n, right, a->rsel, NULL);
    if (wl) {
        int y = r.y + r.h - 2 - wl;
        tui_text(b, r.x + 2, y, 8, "Failed:", TUI_C_ERR | TUI_A_BOLD);
        tui_draw_wrapped(b, (tui_rect){r.x + 2 + 8, y, r.w - 4 - 8, wl}, why, 0, TUI_C_ERR);
    }
    if (a->mark >= 0)
        tui_textf(b, r.x + 2, r.y + r.h - 2, r.w - 4, TUI_C_ACCENT, "= marked: %s; Enter on another shows both",
                  a->results[a->mark].name);
    else if (a->nmarks)
        tui_textf(b, r.x + 2, r.y + r.h - 2, r.w - 4, TUI_C_ACCENT, "* %d marked (Space): c compares them%s", a->nmarks,
                  a->nmarks == 1 ? " with the selected one" : "");
    free(cells);
    free(store);
}

/* The table's footnotes as one text, numbered as in the export; "" none. */
static char *notes_text(const tb_table *t)
{
    size_t nn = t->notes ? json_object_array_length(t->notes) : 0, len = 1;
    for (size_t i = 0; i < nn; i++)
        len += strlen(json_object_get_string(json_object_array_get_idx(t->notes, i))) + 16;
    char *s = malloc(len);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0, at = 0; i < nn; i++)
        at += (size_t)snprintf(s + at, len - at, "%s%zu. %s", i ? "\n" : "", i + 1,
                               json_object_get_string(json_object_array_get_idx(t->notes, i)));
    return s;
}

/* One table in r: its question and folder, then the rows, sel reversed;
 * its footnotes below, wrapped, from line note_first (PgUp/PgDn). */
static void draw_one(const tb_table *t, tui_buf *b, tui_rect r, int sel, int first_col, int note_first)
{
    int nc = t->ncols, n = t->nrows;
    char **cells = calloc((size_t)(n ? n : 1) * (size_t)nc, sizeof *cells);
    char *store = calloc((size_t)(n ? n : 1) * (size_t)nc, 64);
    const char **hdr = calloc((size_t)nc, sizeof *hdr);
    int *right = calloc((size_t)nc, sizeof *right);
    if (cells && store && hdr && right) {
        for (int c = 0; c < nc; c++) {
            hdr[c] = t->headers[c];
            right[c] = t->kinds[c] != TB_COL_TEXT;
        }
        for (int i = 0; i < n; i++)
            for (int c = 0; c < nc; c++) {
                char *s = store + ((size_t)i * nc + c) * 64;
                const tb_cell *cell = &t->cells[i * nc + c];
                if (cell->text)
                    snprintf(s, 64, "%s", cell->text);
                else
                    tb_cell_format(cell, t->kinds[c], 0, s, 64);
                cells[i * nc + c] = s;
            }
        tui_text(b, r.x, r.y, r.w, t->question, TUI_C_ACCENT);
        tui_text(b, r.x, r.y + 1, r.w, t->source, TUI_C_DIM);
        /* A sweep run with --set is not the preset's: its overrides show. */
        size_t no = t->overrides ? json_object_array_length(t->overrides) : 0;
        char over[512] = "";
        for (size_t i = 0; i < no; i++) {
            size_t len = strlen(over);
            snprintf(over + len, sizeof over - len, "%s%s", i ? ", " : "Overrides (--set): ",
                     json_object_get_string(json_object_array_get_idx(t->overrides, i)));
        }
        if (no)
            tui_text(b, r.x, r.y + 2, r.w, over, TUI_C_ACCENT);
        /* The footnotes take what the rows leave, at least 3 lines and at most
         * half the pane; the rest scrolls. */
        char *notes = notes_text(t);
        int nl = notes && notes[0] ? tui_wrap(notes, r.w, NULL, 0) : 0, room = r.h - 3 - (n + 2);
        room = room < 3 ? 3 : room > r.h / 2 ? r.h / 2 : room;
        int shown = nl ? (nl + 1 < room ? nl + 1 : room) : 0; /* one line for the heading */
        int nh = r.h - 3 - shown;
        tui_table(b, (tui_rect){r.x, r.y + 3, r.w, nh < 2 ? 2 : nh}, nc, hdr, (const char *const *)cells, n, right,
                  sel, &first_col);
        if (shown) {
            int y = r.y + r.h - shown, first = note_first > nl - (shown - 1) ? nl - (shown - 1) : note_first;
            first = first < 0 ? 0 : first;
            if (shown - 1 < nl)
                tui_textf(b, r.x, y, r.w, TUI_C_ACCENT, "Notes (lines %d-%d of %d; PgUp/PgDn)", first + 1,
                          first + shown - 1, nl);
            else
                tui_text(b, r.x, y, r.w, "Notes", TUI_C_ACCENT);
            tui_draw_wrapped(b, (tui_rect){r.x, y + 1, r.w, shown - 1}, notes, first, TUI_C_DIM);
        }
        free(notes);
    }
    free(cells);
    free(store);
    free(hdr);
    free(right);
}

/* The width a table needs to show every cell whole. */
static int natural_width(const tb_table *t)
{
    int total = t->ncols > 0 ? t->ncols - 1 : 0;
    for (int c = 0; c < t->ncols; c++) {
        int w = tui_strwidth(t->headers[c]);
        for (int i = 0; i < t->nrows; i++) {
            char s[64];
            const tb_cell *cell = &t->cells[i * t->ncols + c];
            if (cell->text)
                snprintf(s, sizeof s, "%s", cell->text);
            else
                tb_cell_format(cell, t->kinds[c], 0, s, sizeof s);
            int l = tui_strwidth(s);
            w = l > w ? l : w;
        }
        total += w;
    }
    return total;
}

void tui_draw_table(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect r = l->body;
    if (!a->ntables) {
        tui_box(b, r, "Table", TUI_C_DIM);
        return;
    }
    /* Two tables (sweeps of different presets, or a sweep and runs): side
     * by side when both fit whole in half the width, else one above the
     * other at full width when the height allows. */
    int n = a->ntables, stacked = 0;
    if (n > 1) {
        int fits = 1, need_h = 0;
        for (int i = 0; i < n; i++) {
            fits &= natural_width(&a->tables[i]) + 4 <= r.w / n;
            need_h += a->tables[i].nrows + 7;
        }
        stacked = !fits && need_h <= r.h;
    }
    int first = 0;
    for (int i = 0; i < n; i++) {
        tui_rect f;
        if (stacked) {
            int h = r.h / n, y = r.y + i * h;
            f = (tui_rect){r.x, y, r.w, i == n - 1 ? r.h - (y - r.y) : h};
        } else {
            int w = r.w / n, x = r.x + i * w;
            f = (tui_rect){x, r.y, i == n - 1 ? r.w - (x - r.x) : w, r.h};
        }
        tui_box(b, f, a->tables[i].title, TUI_C_DIM);
        int sel = a->tsel - first;
        draw_one(&a->tables[i], b, (tui_rect){f.x + 2, f.y + 1, f.w - 4, f.h - 2},
                 sel >= 0 && sel < a->tables[i].nrows ? sel : -1, a->tcol, a->note_scroll);
        first += a->tables[i].nrows;
    }
}

void tui_draw_export(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect r = l->body;
    char title[1200];
    snprintf(title, sizeof title, "Markdown: %s", a->export_path);
    tui_box(b, r, title, TUI_C_DIM);
    const char *s = a->export_text ? a->export_text : "";
    for (int line = 0, y = r.y + 1; *s && y < r.y + r.h - 1; line++) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s);
        if (line >= a->export_scroll) {
            char buf[1024];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), s);
            tui_text(b, r.x + 2, y++, r.w - 4, buf, line == 0 ? TUI_A_BOLD : 0);
        }
        s = nl ? nl + 1 : s + len;
    }
}
