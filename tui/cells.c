/* Cell buffer and drawing primitives (see cells.h). */
#include "tui/cells.h"

#include <math.h>
#include <stdarg.h>
#include <wchar.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tui_buf_init(tui_buf *b, int w, int h, int utf8)
{
    b->w = w > 0 ? w : 1;
    b->h = h > 0 ? h : 1;
    b->utf8 = utf8;
    b->c = calloc((size_t)b->w * (size_t)b->h, sizeof *b->c);
    if (!b->c)
        return -1;
    tui_buf_clear(b);
    return 0;
}

void tui_buf_free(tui_buf *b)
{
    free(b->c);
    b->c = NULL;
}

void tui_buf_clear(tui_buf *b)
{
    b->table_first_col = 1;
    b->table_more = 0;
    for (int i = 0; i < b->w * b->h; i++) {
        b->c[i].g[0] = ' ';
        b->c[i].g[1] = '\0';
        b->c[i].attr = 0;
    }
}

void tui_buf_row(const tui_buf *b, int y, char *out, size_t size)
{
    size_t n = 0;
    if (!size)
        return;
    for (int x = 0; y >= 0 && y < b->h && x < b->w; x++) {
        const char *g = b->c[y * b->w + x].g;
        size_t l = strlen(g);
        if (n + l + 1 > size)
            break;
        memcpy(out + n, g, l);
        n += l;
    }
    out[n] = '\0';
}

/* Length in bytes of the UTF-8 character starting at s (1 for bad bytes),
 * and its code point (U+FFFD for bad bytes). */
static int u8dec(const unsigned char *s, uint32_t *cp)
{
    int n = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 : (*s >> 3) == 30 ? 4 : 0;
    if (!n) {
        *cp = 0xFFFD;
        return 1;
    }
    uint32_t v = n == 1 ? *s : n == 2 ? (*s & 0x1Fu) : n == 3 ? (*s & 0x0Fu) : (*s & 0x07u);
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = v << 6 | (s[i] & 0x3Fu);
    }
    *cp = v;
    return n;
}

/* When the C library cannot say (a non-UTF-8 locale): the East Asian wide
 * and fullwidth blocks and the common combining marks, so that a label is
 * measured the same way on every terminal. */
static int width_fallback(uint32_t cp)
{
    static const uint32_t zero[][2] = {{0x0300, 0x036F}, {0x1AB0, 0x1AFF}, {0x1DC0, 0x1DFF}, {0x200B, 0x200F},
                                       {0x20D0, 0x20FF}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}};
    static const uint32_t wide[][2] = {{0x1100, 0x115F},   {0x2E80, 0x303E},   {0x3041, 0x33FF},
                                       {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
                                       {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE30, 0xFE4F},
                                       {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x1F300, 0x1F64F},
                                       {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD}};
    for (size_t i = 0; i < sizeof zero / sizeof *zero; i++)
        if (cp >= zero[i][0] && cp <= zero[i][1])
            return 0;
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        if (cp >= wide[i][0] && cp <= wide[i][1])
            return 2;
    return 1;
}

int tui_cpwidth(uint32_t cp)
{
    if (cp < 0xA0)
        return 1; /* ASCII; controls are drawn as blanks */
    int w = wcwidth((wchar_t)cp);
    return w >= 0 ? (w > 2 ? 2 : w) : width_fallback(cp);
}

/* Before cell x is overwritten: a double-width character it is half of
 * loses its other half too (a blank), never leaving half a glyph. */
static void unwide(tui_buf *b, int x, int y)
{
    tui_cell *c = &b->c[y * b->w + x];
    if (!c->g[0] && x > 0)
        snprintf(c[-1].g, sizeof c->g, " ");
    else if (x + 1 < b->w && !c[1].g[0])
        snprintf(c[1].g, sizeof c->g, " ");
}

static void set_cell(tui_buf *b, int x, int y, const char *glyph, int attr)
{
    unwide(b, x, y);
    tui_cell *c = &b->c[y * b->w + x];
    snprintf(c->g, sizeof c->g, "%s", glyph);
    c->attr = (uint8_t)attr;
}

/* One glyph; returns the cells it took (0 outside the buffer). */
static int put_glyph(tui_buf *b, int x, int y, const char *glyph, int attr)
{
    if (x < 0 || y < 0 || x >= b->w || y >= b->h)
        return 0;
    uint32_t cp = 0;
    int n = glyph[0] ? u8dec((const unsigned char *)glyph, &cp) : 0;
    int w = n ? tui_cpwidth(cp) : 1;
    w = w < 1 ? 1 : w;
    if (!n || strlen(glyph) >= sizeof b->c->g || (!b->utf8 && cp >= 0x80)) {
        /* ASCII terminals: one '?' per cell the character would take. */
        set_cell(b, x, y, "?", attr);
        if (w == 2 && x + 1 < b->w)
            set_cell(b, x + 1, y, "?", attr);
        return w == 2 && x + 1 < b->w ? 2 : 1;
    }
    if (w == 2 && x + 1 >= b->w) {
        set_cell(b, x, y, " ", attr); /* half a wide glyph cannot be shown */
        return 1;
    }
    set_cell(b, x, y, glyph, attr);
    if (w == 2) {
        unwide(b, x + 1, y);
        tui_cell *c = &b->c[y * b->w + x + 1];
        c->g[0] = '\0'; /* the right half of the glyph on its left */
        c->attr = (uint8_t)attr;
    }
    return w;
}

void tui_put(tui_buf *b, int x, int y, const char *glyph, int attr)
{
    put_glyph(b, x, y, glyph, attr);
}

int tui_strwidth(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        p += u8dec(p, &cp);
        w += tui_cpwidth(cp);
    }
    return w;
}

size_t tui_str_clip(const char *s, int maxw)
{
    const unsigned char *p = (const unsigned char *)s;
    int w = 0;
    while (*p) {
        uint32_t cp;
        int n = u8dec(p, &cp), cw = tui_cpwidth(cp);
        if (w + cw > maxw)
            break;
        w += cw;
        p += n;
    }
    return (size_t)(p - (const unsigned char *)s);
}

int tui_text(tui_buf *b, int x, int y, int maxw, const char *s, int attr)
{
    int used = 0, last = -1; /* last: the cell of the previous glyph */
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        int l = u8dec(p, &cp), cw = tui_cpwidth(cp);
        char g[8] = {0};
        memcpy(g, p, (size_t)l);
        p += l;
        if (cw == 0) {
            /* A combining mark joins the glyph before it when it fits. */
            if (b->utf8 && last >= 0 && last < b->w && y >= 0 && y < b->h) {
                tui_cell *c = &b->c[y * b->w + last];
                size_t have = strlen(c->g);
                if (have && have + (size_t)l < sizeof c->g)
                    memcpy(c->g + have, g, (size_t)l + 1);
            }
            continue;
        }
        if (used + cw > maxw)
            break; /* a wide glyph that does not fit whole is left out */
        if ((unsigned char)g[0] < 0x20 || g[0] == 0x7F)
            snprintf(g, sizeof g, " "); /* tabs, newlines, escapes */
        last = x + used;
        int took = put_glyph(b, x + used, y, g, attr);
        used += took ? took : cw;
    }
    return used;
}

int tui_textf(tui_buf *b, int x, int y, int maxw, int attr, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return tui_text(b, x, y, maxw, tmp, attr);
}

void tui_fill(tui_buf *b, tui_rect r, const char *glyph, int attr)
{
    for (int y = r.y; y < r.y + r.h; y++)
        for (int x = r.x; x < r.x + r.w; x++)
            tui_put(b, x, y, glyph, attr);
}

void tui_box(tui_buf *b, tui_rect r, const char *title, int attr)
{
    if (r.w < 2 || r.h < 2)
        return;
    const char *h = b->utf8 ? "─" : "-", *v = b->utf8 ? "│" : "|";
    for (int x = r.x + 1; x < r.x + r.w - 1; x++) {
        tui_put(b, x, r.y, h, attr);
        tui_put(b, x, r.y + r.h - 1, h, attr);
    }
    for (int y = r.y + 1; y < r.y + r.h - 1; y++) {
        tui_put(b, r.x, y, v, attr);
        tui_put(b, r.x + r.w - 1, y, v, attr);
    }
    tui_put(b, r.x, r.y, b->utf8 ? "┌" : "+", attr);
    tui_put(b, r.x + r.w - 1, r.y, b->utf8 ? "┐" : "+", attr);
    tui_put(b, r.x, r.y + r.h - 1, b->utf8 ? "└" : "+", attr);
    tui_put(b, r.x + r.w - 1, r.y + r.h - 1, b->utf8 ? "┘" : "+", attr);
    if (title && *title) {
        int n = tui_textf(b, r.x + 2, r.y, r.w - 4, TUI_C_ACCENT | TUI_A_BOLD, " %s ", title);
        (void)n;
    }
}

int tui_bar_eighths(int w, double frac)
{
    if (w <= 0 || !(frac > 0))
        return 0;
    if (frac > 1)
        frac = 1;
    return (int)lround(frac * 8.0 * w);
}

int tui_bar(tui_buf *b, int x, int y, int w, double frac, int attr)
{
    static const char *const part[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
    int e = tui_bar_eighths(w, frac);
    if (!b->utf8)
        e = e / 8 * 8; /* whole cells only */
    int full = e / 8;
    for (int i = 0; i < full; i++)
        tui_put(b, x + i, y, b->utf8 ? "█" : "#", attr);
    if (e % 8)
        tui_put(b, x + full, y, part[e % 8], attr);
    return e;
}

void tui_stacked_widths(int w, double a, double bv, double max, int *wa, int *wb)
{
    int ra = 0, rt = 0;
    if (w > 0 && max > 0 && isfinite(a) && isfinite(bv)) {
        double fa = a > 0 ? a / max : 0, ft = (a > 0 ? a : 0) + (bv > 0 ? bv : 0);
        ft /= max;
        if (fa > 1)
            fa = 1;
        if (ft > 1)
            ft = 1;
        ra = (int)lround(fa * w);
        rt = (int)lround(ft * w);
        /* A part that exists shows at least one cell, so a short load time
         * is still visible next to a long compute time. */
        if (a > 0 && ra == 0) {
            ra = 1;
            rt = rt < 1 ? 1 : rt;
        }
        if (rt < ra)
            rt = ra;
    }
    if (wa)
        *wa = ra;
    if (wb)
        *wb = rt - ra;
}

void tui_stacked_bar(tui_buf *b, int x, int y, int w, double a, double bv, double max, int attr_a, int attr_b,
                     int *wa, int *wb)
{
    int na, nb;
    tui_stacked_widths(w, a, bv, max, &na, &nb);
    for (int i = 0; i < na; i++)
        tui_put(b, x + i, y, b->utf8 ? "▓" : "=", attr_a);
    for (int i = 0; i < nb; i++)
        tui_put(b, x + na + i, y, b->utf8 ? "█" : "#", attr_b);
    if (wa)
        *wa = na;
    if (wb)
        *wb = nb;
}

void tui_axis_range(const double *v, int n, double *lo, double *hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            mn = v[i] < mn ? v[i] : mn;
            mx = v[i] > mx ? v[i] : mx;
        }
    if (!isfinite(mn)) {
        *lo = 0;
        *hi = 1;
        return;
    }
    if (mx - mn < 1e-12) {
        /* A flat series: centre it in a small range rather than divide by 0. */
        double pad = fabs(mx) * 0.1 > 1e-3 ? fabs(mx) * 0.1 : 1e-3;
        mn -= pad;
        mx += pad;
    }
    double raw = (mx - mn) / 4, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
    *lo = floor(mn / step + 1e-9) * step;
    *hi = ceil(mx / step - 1e-9) * step;
    if (*hi <= *lo)
        *hi = *lo + step;
}

int tui_axis_pos(double v, double lo, double hi, int dots)
{
    if (dots <= 1 || !(hi > lo) || !isfinite(v))
        return 0;
    int p = (int)lround((v - lo) / (hi - lo) * (dots - 1));
    return p < 0 ? 0 : p >= dots ? dots - 1 : p;
}

/* Braille dot bits: column 0 rows 0..3 (top down), then column 1. */
static const unsigned char braille_bit[2][4] = {{0x01, 0x02, 0x04, 0x40}, {0x08, 0x10, 0x20, 0x80}};

void tui_chart(tui_buf *b, tui_rect r, const double *v, int n, int attr)
{
    const int label_w = 7;
    int pw = r.w - label_w;
    if (pw < 2 || r.h < 2)
        return;
    int sx = b->utf8 ? 2 : 1, sy = b->utf8 ? 4 : 1;
    int xdots = pw * sx, ydots = r.h * sy;
    if (n > xdots) {
        v += n - xdots;
        n = xdots;
    }
    double lo, hi;
    tui_axis_range(v, n, &lo, &hi);
    tui_textf(b, r.x, r.y, label_w - 1, TUI_C_DIM, "%6.3g", hi);
    tui_textf(b, r.x, r.y + r.h - 1, label_w - 1, TUI_C_DIM, "%6.3g", lo);
    for (int y = 0; y < r.h; y++)
        tui_put(b, r.x + label_w - 1, r.y + y, b->utf8 ? "┤" : "|", TUI_C_DIM);
    if (n <= 0)
        return;
    unsigned char *dots = calloc((size_t)pw * (size_t)r.h, 1);
    if (!dots)
        return;
    /* The series is interpolated over the dot columns and each column is
     * joined to the previous one, so the line has no gaps. */
    int last = xdots - 1, prev = -1;
    int span = n > 1 ? (xdots - 1) : 0;
    for (int x = 0; x <= (n > 1 ? last : 0); x++) {
        double t = span ? (double)x * (n - 1) / span : 0;
        int i = (int)floor(t);
        double f = t - i, val = i + 1 < n ? v[i] * (1 - f) + v[i + 1] * f : v[i];
        if (!isfinite(val)) {
            prev = -1;
            continue;
        }
        int yd = tui_axis_pos(val, lo, hi, ydots);
        int a = prev < 0 || yd < prev ? yd : prev, c = prev < 0 || yd > prev ? yd : prev;
        for (int d = a; d <= c; d++) {
            int row = (ydots - 1 - d) / sy, sub = (ydots - 1 - d) % sy;
            int col = x / sx;
            if (b->utf8)
                dots[row * pw + col] |= braille_bit[x % 2][sub];
            else
                dots[row * pw + col] = 1;
        }
        prev = yd;
    }
    for (int row = 0; row < r.h; row++)
        for (int col = 0; col < pw; col++) {
            unsigned char d = dots[row * pw + col];
            if (!d)
                continue;
            char g[5] = "*";
            if (b->utf8) {
                int cp = 0x2800 + d;
                g[0] = (char)(0xE0 | (cp >> 12));
                g[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                g[2] = (char)(0x80 | (cp & 0x3F));
                g[3] = '\0';
            }
            tui_put(b, r.x + label_w + col, r.y + row, g, attr);
        }
    free(dots);
}

/* Columns from `from` on that fit after column 0 in width `avail`. */
static int cols_fitting(const int *w, int ncols, int from, int avail)
{
    int used = w[0], n = 0;
    for (int c = from; c < ncols && used + 1 + w[c] <= avail; c++, n++)
        used += 1 + w[c];
    return n;
}

static int total_width(const int *w, int ncols)
{
    int total = ncols - 1;
    for (int c = 0; c < ncols; c++)
        total += w[c];
    return total;
}

/* The widths to draw at: natural (the widest of header and cells) if the
 * table fits; else narrowed, widest first, down to TUI_TABLE_MIN_COL cells
 * but never cutting a number (only its header), if that makes it fit; else
 * natural again, for scrolling, each column at most what the screen has
 * beside column 0.  Returns 1 when the columns must scroll. */
static int column_widths(int *w, int ncols, const char *const *headers, const char *const *cells, int nrows,
                         const int *right, int width)
{
    int *floor_w = malloc((size_t)ncols * sizeof *floor_w), *narrow = malloc((size_t)ncols * sizeof *narrow);
    for (int c = 0; c < ncols; c++) {
        int values = 0;
        for (int i = 0; i < nrows; i++) {
            int l = tui_strwidth(cells[i * ncols + c] ? cells[i * ncols + c] : "");
            values = l > values ? l : values;
        }
        int head = tui_strwidth(headers[c]);
        w[c] = head > values ? head : values;
        if (floor_w) {
            floor_w[c] = w[c] < TUI_TABLE_MIN_COL ? w[c] : TUI_TABLE_MIN_COL;
            if (right && right[c] && values > floor_w[c])
                floor_w[c] = values;
        }
    }
    int scroll = 0;
    if (total_width(w, ncols) > width && floor_w && narrow) {
        memcpy(narrow, w, (size_t)ncols * sizeof *narrow);
        for (;;) {
            int widest = -1;
            for (int c = 0; c < ncols; c++)
                if (narrow[c] > floor_w[c] && (widest < 0 || narrow[c] > narrow[widest]))
                    widest = c;
            if (total_width(narrow, ncols) <= width || widest < 0)
                break;
            narrow[widest]--;
        }
        if (total_width(narrow, ncols) <= width || ncols == 1)
            memcpy(w, narrow, (size_t)ncols * sizeof *w);
        else {
            scroll = 1;
            w[0] = w[0] < width / 3 ? w[0] : (floor_w[0] > width / 3 ? floor_w[0] : width / 3);
            for (int c = 1; c < ncols; c++)
                w[c] = w[c] < width - w[0] - 1 ? w[c] : width - w[0] - 1;
        }
    }
    free(floor_w);
    free(narrow);
    return scroll;
}

int tui_table(tui_buf *b, tui_rect r, int ncols, const char *const *headers, const char *const *cells, int nrows,
              const int *right, int sel, int *first_col)
{
    if (ncols <= 0 || r.w <= 0 || r.h <= 0)
        return 0;
    int *w = calloc((size_t)ncols, sizeof *w);
    if (!w)
        return 0;
    /* Scrolling: column 0, then a window of the others. */
    int from = 1, shown = ncols - 1;
    if (column_widths(w, ncols, headers, cells, nrows, right, r.w)) {
        from = first_col && *first_col > 1 ? *first_col : 1;
        from = from > ncols - 1 ? ncols - 1 : from;
        while (from > 1 && cols_fitting(w, ncols, from - 1, r.w) >= ncols - (from - 1))
            from--; /* no blank space on the right while columns hide on the left */
        shown = cols_fitting(w, ncols, from, r.w);
        shown = shown < 1 ? 1 : shown; /* not even one fits: it is clipped */
    }
    if (first_col) {
        *first_col = from;
        b->table_first_col = from;
        b->table_more |= from + shown < ncols;
    }
    int visible = r.h - 1, first = 0;
    if (sel >= visible && visible > 0)
        first = sel - visible + 1;
    for (int row = -1; row < nrows && row - first + 1 < r.h; row++) {
        if (row >= 0 && row < first)
            continue;
        int y = r.y + (row < 0 ? 0 : row - first + 1), x = r.x;
        int attr = row < 0 ? (TUI_C_ACCENT | TUI_A_BOLD | TUI_A_UNDERLINE) : row == sel ? TUI_A_REVERSE : 0;
        if (row == sel)
            tui_fill(b, (tui_rect){r.x, y, r.w, 1}, " ", attr);
        for (int k = 0; k <= shown && x < r.x + r.w; k++) {
            int c = k == 0 ? 0 : from + k - 1;
            const char *s = row < 0 ? headers[c] : cells[row * ncols + c] ? cells[row * ncols + c] : "";
            int l = tui_strwidth(s), avail = r.x + r.w - x;
            int cw = w[c] < avail ? w[c] : avail;
            int pad = right && right[c] && l < cw ? cw - l : 0;
            tui_text(b, x + pad, y, cw - pad, s, attr);
            x += w[c] + 1;
        }
    }
    /* Where columns hide: '<' in the gap after column 0, '>' at the edge. */
    if (from > 1 && w[0] < r.w)
        tui_text(b, r.x + w[0], r.y, 1, "<", TUI_C_ACCENT | TUI_A_BOLD);
    if (from + shown < ncols)
        tui_text(b, r.x + r.w - 1, r.y, 1, ">", TUI_C_ACCENT | TUI_A_BOLD);
    free(w);
    return first;
}

int tui_text_wrap(tui_buf *b, int x, int y, int w, int maxlines, const char *s, int attr)
{
    int lines = 0;
    while (*s && lines < maxlines && w > 0) {
        size_t n = tui_str_clip(s, w);
        if (s[n] && lines + 1 < maxlines) {
            /* Break at the last blank that fits, else mid-word. */
            size_t br = n;
            while (br > 0 && s[br] != ' ')
                br--;
            if (br > 0)
                n = br;
        }
        if (!n)
            n = 1; /* a character wider than the line: skip it, do not loop */
        char line[1024];
        size_t m = n < sizeof line - 1 ? n : sizeof line - 1;
        memcpy(line, s, m);
        line[m] = '\0';
        tui_text(b, x, y + lines++, w, line, attr);
        s += n;
        while (*s == ' ')
            s++;
    }
    return lines;
}
