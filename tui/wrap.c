/* Wrapping text to a width; see wrap.h. */
#include "tui/wrap.h"

#include "tui/cells.h" // uses: tui_str_clip, tui_buf, tui_rect, tui_text

#include <stdlib.h>
#include <string.h>

/* Bytes of the UTF-8 character at p (1 for a stray byte). */
static size_t char_len(const char *p)
{
    size_t n = 1;
    while (p[n] && ((unsigned char)p[n] & 0xC0) == 0x80 && n < 4)
        n++;
    return n;
}

int tui_wrap(const char *s, int w, tui_span *out, int max)
{
    int n = 0;
    w = w < 1 ? 1 : w;
    for (const char *p = s; p && *p;) {
        const char *end = p + strcspn(p, "\n"), *q = p;
        do {
            size_t fit = tui_str_clip(q, w), take = fit;
            if (fit > (size_t)(end - q))
                fit = take = (size_t)(end - q);
            if (q + fit < end) {
                size_t br = fit;
                while (br > 0 && q[br] != ' ')
                    br--;
                take = br > 0 ? br : fit;
                if (!take) /* a character wider than the line: on a line of its own, no endless loop */
                    take = char_len(q);
            }
            if (n < max)
                out[n] = (tui_span){(int)(q - s), (int)take};
            n++;
            q += take;
            while (q < end && *q == ' ')
                q++;
        } while (q < end);
        p = *end ? end + 1 : end;
    }
    return n;
}

int tui_draw_wrapped(tui_buf *b, tui_rect r, const char *s, int first, int attr)
{
    if (r.w < 1 || r.h < 1 || !s)
        return 0;
    int total = tui_wrap(s, r.w, NULL, 0);
    tui_span *sp = malloc((size_t)(total ? total : 1) * sizeof *sp);
    if (!sp)
        return total;
    tui_wrap(s, r.w, sp, total);
    first = first < 0 ? 0 : first;
    for (int i = first; i < total && i - first < r.h; i++) {
        char line[1024];
        int len = sp[i].len < (int)sizeof line - 1 ? sp[i].len : (int)sizeof line - 1;
        memcpy(line, s + sp[i].off, (size_t)len);
        line[len] = '\0';
        tui_text(b, r.x, r.y + i - first, r.w, line, attr);
    }
    free(sp);
    return total;
}
