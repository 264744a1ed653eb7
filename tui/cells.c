/* Cell buffer and drawing primitives (see cells.h). */
#include "cells.h"

#include <math.h>
#include <stdarg.h>
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

void tui_put(tui_buf *b, int x, int y, const char *glyph, int attr)
{
    if (x < 0 || y < 0 || x >= b->w || y >= b->h)
        return;
    tui_cell *c = &b->c[y * b->w + x];
    snprintf(c->g, sizeof c->g, "%s", glyph);
    if (!c->g[0] || (!b->utf8 && (unsigned char)c->g[0] >= 0x80))
        snprintf(c->g, sizeof c->g, "?");
    c->attr = (uint8_t)attr;
}

/* Length in bytes of the UTF-8 character starting at s (1 for bad bytes). */
static int u8len(const unsigned char *s)
{
    int n = *s < 0x80 ? 1 : (*s >> 5) == 6 ? 2 : (*s >> 4) == 14 ? 3 : (*s >> 3) == 30 ? 4 : 1;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return n;
}

int tui_strwidth(const char *s)
{
    int w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p += u8len(p))
        w++;
    return w;
}

int tui_text(tui_buf *b, int x, int y, int maxw, const char *s, int attr)
{
    int used = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && used < maxw;) {
        int l = u8len(p);
        char g[5] = {0};
        memcpy(g, p, (size_t)l);
        if (g[0] == '\t' || g[0] == '\n' || g[0] == '\r')
            g[0] = ' ';
        tui_put(b, x + used, y, g, attr);
        used++;
        p += l;
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

int tui_table(tui_buf *b, tui_rect r, int ncols, const char *const *headers, const char *const *cells, int nrows,
              const int *right, int sel)
{
    if (ncols <= 0 || r.w <= 0 || r.h <= 0)
        return 0;
    int *w = calloc((size_t)ncols, sizeof *w);
    if (!w)
        return 0;
    for (int c = 0; c < ncols; c++) {
        w[c] = tui_strwidth(headers[c]);
        for (int i = 0; i < nrows; i++) {
            int l = tui_strwidth(cells[i * ncols + c] ? cells[i * ncols + c] : "");
            w[c] = l > w[c] ? l : w[c];
        }
    }
    /* Too wide: narrow the widest column one cell at a time (down to 3). */
    for (;;) {
        int total = ncols - 1, widest = 0;
        for (int c = 0; c < ncols; c++) {
            total += w[c];
            widest = w[c] > w[widest] ? c : widest;
        }
        if (total <= r.w || w[widest] <= 3)
            break;
        w[widest]--;
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
        for (int c = 0; c < ncols && x < r.x + r.w; c++) {
            const char *s = row < 0 ? headers[c] : cells[row * ncols + c] ? cells[row * ncols + c] : "";
            int l = tui_strwidth(s), avail = r.x + r.w - x;
            int cw = w[c] < avail ? w[c] : avail;
            int pad = right && right[c] && l < cw ? cw - l : 0;
            tui_text(b, x + pad, y, cw - pad, s, attr);
            x += w[c] + 1;
        }
    }
    free(w);
    return first;
}
