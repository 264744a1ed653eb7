/* Formatting table cells for export. */
#include "lab/table.h" // uses: tb_cell, tb_col_kind, tb_cell_format, TB_COL_COUNT, TB_COL_SECONDS, TB_COL_WALL, ...

#include "rundir/derived.h" // uses: tb_format_hms

#include <math.h>
#include <stdio.h>
#include <string.h>

static void with_commas(long long v, char *out, size_t size)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t len = strlen(digits), o = 0;
    if (v < 0 && o + 1 < size)
        out[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < size; i++) {
        if (i && (len - i) % 3 == 0 && o + 2 < size)
            out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void format_number(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size);

/* A --repeat range follows the median in tables for people: "12.3 [11.9, 12.8]". */
void tb_cell_format(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size)
{
    format_number(c, kind, plain, out, size);
    if (c->marked && !plain && !c->text && !isnan(c->num)) { /* the table's footnote says why */
        size_t len = strlen(out);
        if (len + 1 < size)
            snprintf(out + len, size - len, "*");
    }
    if (c->text || !c->has_range || plain || isnan(c->num))
        return;
    tb_cell lo = {.num = c->lo}, hi = {.num = c->hi};
    char a[64], b[64];
    format_number(&lo, kind, plain, a, sizeof a);
    format_number(&hi, kind, plain, b, sizeof b);
    size_t len = strlen(out);
    if (len < size)
        snprintf(out + len, size - len, " [%s, %s]", a, b);
}

static void format_number(const tb_cell *c, tb_col_kind kind, int plain, char *out, size_t size)
{
    if (c->text) {
        snprintf(out, size, "%s", c->text);
        return;
    }
    double v = c->num;
    if (isnan(v)) {
        snprintf(out, size, "n/a");
        return;
    }
    switch (kind) {
    case TB_COL_COUNT:
        if (plain)
            snprintf(out, size, "%.0f", v);
        else
            with_commas(llround(v), out, size);
        return;
    case TB_COL_SECONDS:
        snprintf(out, size, fabs(v) < 1 ? "%.3f" : "%.2f", v);
        return;
    case TB_COL_WALL:
    case TB_COL_RATE:
    case TB_COL_INT:
        snprintf(out, size, "%.0f", v);
        return;
    case TB_COL_HMS:
        tb_format_hms(v, out, (unsigned)size);
        return;
    case TB_COL_LOSS:
    case TB_COL_PERCENT3:
        snprintf(out, size, "%.3f", v);
        return;
    case TB_COL_EFFIC:
        snprintf(out, size, plain ? "%.2f" : "%.2f%%", v);
        return;
    case TB_COL_PERCENT:
    case TB_COL_RATIO:
    case TB_COL_GBPS:
        snprintf(out, size, "%.2f", v);
        return;
    case TB_COL_REAL:
    case TB_COL_TEXT:
        snprintf(out, size, "%g", v);
        return;
    }
}
