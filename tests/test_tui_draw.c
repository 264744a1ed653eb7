/* The workbench's pure drawing code (issue 7): axis scaling, bars, stacked
 * bars, charts, tables, layout at 80x24 and 200x60 and below the minimum,
 * and the live state fed from events. */
#include "check.h"

#include <stdio.h>
#include "cells.h"
#include "layout.h"
#include "model.h"
#include "screens.h"

#include <locale.h>
#include <math.h>
#include <string.h>

static int count(const tui_buf *b, const char *g)
{
    int n = 0;
    for (int i = 0; i < b->w * b->h; i++)
        n += !strcmp(b->c[i].g, g);
    return n;
}

static int inside(tui_rect in, tui_rect out)
{
    return in.x >= out.x && in.y >= out.y && in.x + in.w <= out.x + out.w && in.y + in.h <= out.y + out.h;
}
static int overlap(tui_rect a, tui_rect b)
{
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/* Double-width and multi-byte text: measured by display width, clipped
 * without ever leaving half a character, the same in both locales. */
static void wide_text(void)
{
    const char *cjk = "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"; /* 日本語: three wide characters */
    CHECK(tui_strwidth(cjk) == 6, "width of 3 CJK characters: %d", tui_strwidth(cjk));
    CHECK(tui_strwidth("caf\xc3\xa9") == 4, "%s", "é is one cell");
    CHECK(tui_strwidth("e\xcc\x81") == 1, "%s", "a combining accent takes no cell");
    CHECK(tui_str_clip(cjk, 5) == 6, "clip to 5 cells keeps 2 characters (6 bytes): %zu", tui_str_clip(cjk, 5));
    CHECK(tui_str_clip(cjk, 1) == 0, "%s", "a wide character does not fit in 1 cell");
    CHECK(tui_str_clip("ab\xe6\x97\xa5", 3) == 2, "%s", "clip stops before a wide character");
    tui_buf b;
    char row[256];
    CHECK(tui_buf_init(&b, 12, 2, 1) == 0, "%s", "buffer");
    /* 5 cells: "ab" + one CJK (2 cells) = 4; the next CJK would need 6. */
    char s[64];
    snprintf(s, sizeof s, "ab%s", cjk);
    int used = tui_text(&b, 0, 0, 5, s, 0);
    CHECK(used == 4, "cells used %d", used);
    CHECK(b.c[2].g[0] && !b.c[3].g[0] && !strcmp(b.c[4].g, " "), "%s", "lead, continuation, untouched");
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(!strncmp(row, "ab\xe6\x97\xa5 ", 6), "row: %s", row);
    CHECK(tui_strwidth(row) == 12, "the row is still 12 cells wide: %d", tui_strwidth(row));
    /* Overwriting either half of a wide character blanks the other half. */
    tui_put(&b, 3, 0, "x", 0);
    CHECK(!strcmp(b.c[2].g, " ") && !strcmp(b.c[3].g, "x"), "%s", "right half overwritten");
    tui_text(&b, 0, 1, 12, cjk, 0);
    tui_put(&b, 0, 1, "y", 0);
    CHECK(!strcmp(b.c[12].g, "y") && !strcmp(b.c[13].g, " "), "%s", "left half overwritten");
    /* A wide character at the last column does not fit: a blank. */
    tui_put(&b, 11, 0, "\xe6\x97\xa5", 0);
    CHECK(!strcmp(b.c[11].g, " "), "%s", "no half glyph at the edge");
    /* The combining accent joins its base character. */
    tui_buf_clear(&b);
    tui_text(&b, 0, 0, 12, "e\xcc\x81z", 0);
    CHECK(!strcmp(b.c[0].g, "e\xcc\x81") && !strcmp(b.c[1].g, "z"), "%s", "combining mark in the base cell");
    tui_buf_free(&b);
    /* ASCII terminal: one '?' per cell, widths unchanged. */
    CHECK(tui_buf_init(&b, 12, 1, 0) == 0, "%s", "buffer");
    used = tui_text(&b, 0, 0, 12, s, 0);
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(used == 8 && !strncmp(row, "ab??????    ", 12), "ascii row: %s", row);
    tui_buf_free(&b);
    /* A table column holding CJK is as wide as its display width. */
    CHECK(tui_buf_init(&b, 30, 3, 1) == 0, "%s", "buffer");
    const char *hdr[] = {"name", "n"};
    const char *cells[] = {cjk, "1", "ab", "22"};
    int right[] = {0, 1};
    tui_table(&b, (tui_rect){0, 0, 30, 3}, 2, hdr, cells, 2, right, -1);
    tui_buf_row(&b, 2, row, sizeof row);
    CHECK(!strncmp(row, "ab     22", 9), "table row: %s", row);
    tui_buf_row(&b, 1, row, sizeof row);
    CHECK(strstr(row, "\xe8\xaa\x9e  1") != NULL, "table row: %s", row);
    tui_buf_free(&b);
}

int main(void)
{
    /* The built-in table first (the C locale's wcwidth knows no CJK), then
     * the C library's under a UTF-8 locale. */
    wide_text();
    if (setlocale(LC_CTYPE, "C.UTF-8"))
        wide_text();
    /* Axis: nice steps around the data, flat series widened, NaN skipped. */
    double v1[] = {0.3, 0.9, NAN, 0.5};
    double lo, hi;
    tui_axis_range(v1, 4, &lo, &hi);
    CHECK(fabs(lo - 0.2) < 1e-9 && fabs(hi - 1.0) < 1e-9, "%s", "see the condition");
    double flat[] = {2, 2, 2};
    tui_axis_range(flat, 3, &lo, &hi);
    CHECK(lo < 2 && hi > 2, "%s", "see the condition");
    tui_axis_range(NULL, 0, &lo, &hi);
    CHECK(lo == 0 && hi == 1, "%s", "see the condition");
    CHECK(tui_axis_pos(0.2, 0.2, 1.0, 9) == 0, "%s", "see the condition");
    CHECK(tui_axis_pos(1.0, 0.2, 1.0, 9) == 8, "%s", "see the condition");
    CHECK(tui_axis_pos(0.6, 0.2, 1.0, 9) == 4, "%s", "see the condition");
    CHECK(tui_axis_pos(5.0, 0.2, 1.0, 9) == 8, "%s", "see the condition"); /* clamped */

    /* Bars: eighths in UTF-8, whole cells in ASCII. */
    CHECK(tui_bar_eighths(10, 0.5) == 40, "%s", "see the condition");
    CHECK(tui_bar_eighths(10, 1.7) == 80, "%s", "see the condition");
    CHECK(tui_bar_eighths(10, -1) == 0, "%s", "see the condition");
    tui_buf b;
    CHECK(tui_buf_init(&b, 20, 3, 1) == 0, "%s", "see the condition");
    CHECK(tui_bar(&b, 0, 0, 10, 0.55, 0) == 44, "%s", "see the condition");
    CHECK(count(&b, "█") == 5 && count(&b, "▌") == 1, "%s", "see the condition");
    tui_buf_free(&b);
    CHECK(tui_buf_init(&b, 20, 3, 0) == 0, "%s", "see the condition");
    tui_bar(&b, 0, 0, 10, 0.55, 0);
    char row[256];
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(!strncmp(row, "#####     ", 10), "%s", "see the condition");

    /* Stacked bars: parts proportional, the sum rounded, a tiny part visible. */
    int wa, wb;
    tui_stacked_widths(40, 1.0, 3.0, 4.0, &wa, &wb);
    CHECK(wa == 10 && wb == 30, "%s", "see the condition");
    tui_stacked_widths(40, 1.0, 1.0, 4.0, &wa, &wb);
    CHECK(wa == 10 && wb == 10, "%s", "see the condition");
    tui_stacked_widths(40, 0.001, 3.999, 4.0, &wa, &wb);
    CHECK(wa == 1 && wa + wb == 40, "%s", "see the condition");
    tui_stacked_widths(40, 0.0, 2.0, 4.0, &wa, &wb);
    CHECK(wa == 0 && wb == 20, "%s", "see the condition");
    tui_buf_clear(&b);
    tui_stacked_bar(&b, 0, 1, 20, 1, 1, 4, TUI_C_LOAD, TUI_C_COMPUTE, NULL, NULL);
    tui_buf_row(&b, 1, row, sizeof row);
    CHECK(!strncmp(row, "=====#####     ", 15), "%s", "see the condition");
    tui_buf_free(&b);

    /* Chart: a rising line goes from the bottom-left to the top-right. */
    CHECK(tui_buf_init(&b, 30, 6, 0) == 0, "%s", "see the condition");
    double rise[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    tui_chart(&b, (tui_rect){0, 0, 30, 6}, rise, 11, 0);
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(strstr(row, "10") && row[29] == '*', "%s", "see the condition");
    tui_buf_row(&b, 5, row, sizeof row);
    CHECK(strstr(row, "0") && row[7] == '*', "%s", "see the condition");
    tui_buf_free(&b);
    CHECK(tui_buf_init(&b, 30, 6, 1) == 0, "%s", "see the condition");
    tui_chart(&b, (tui_rect){0, 0, 30, 6}, rise, 11, 0);
    /* braille: U+2800..U+28FF, 3 bytes starting E2 A0..A3 */
    const char *g = b.c[5 * 30 + 7].g;
    CHECK((unsigned char)g[0] == 0xE2 && ((unsigned char)g[1] & 0xFC) == 0xA0, "%s", "see the condition");
    tui_buf_free(&b);

    /* Table: right-aligned numbers, the selected row reversed, clipped width. */
    CHECK(tui_buf_init(&b, 40, 5, 1) == 0, "%s", "see the condition");
    const char *hdr[] = {"workers", "epoch_s"};
    const char *cells[] = {"0", "12.50", "4", "3.10", "8", "2.90", "12", "2.95"};
    int right[] = {0, 1};
    int first = tui_table(&b, (tui_rect){0, 0, 40, 5}, 2, hdr, cells, 4, right, 1);
    CHECK(first == 0, "%s", "see the condition");
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(!strncmp(row, "workers epoch_s", 15), "%s", "see the condition");
    tui_buf_row(&b, 2, row, sizeof row);
    CHECK(!strncmp(row, "4          3.10", 15), "%s", "see the condition");
    CHECK(b.c[2 * 40].attr & TUI_A_REVERSE, "%s", "see the condition");
    CHECK(!(b.c[1 * 40].attr & TUI_A_REVERSE), "%s", "see the condition");
    /* sel below the visible rows scrolls */
    first = tui_table(&b, (tui_rect){0, 0, 40, 3}, 2, hdr, cells, 4, right, 3);
    CHECK(first == 2, "%s", "see the condition");
    tui_buf_free(&b);

    /* Layout: panes inside the body, not overlapping, at both sizes. */
    const int sizes[2][2] = {{80, 24}, {200, 60}};
    for (int s = 0; s < 2; s++) {
        tui_layout l = tui_layout_compute(sizes[s][0], sizes[s][1]);
        CHECK(!l.too_small, "%s", "see the condition");
        CHECK(l.header.y == 0 && l.status.y == sizes[s][1] - 1 && l.body.h == sizes[s][1] - 2, "%s", "see the condition");
        tui_rect panes[] = {l.progress, l.configs, l.split, l.loss, l.acc, l.log};
        for (int i = 0; i < 6; i++) {
            CHECK(inside(panes[i], l.body), "%s", "see the condition");
            CHECK(panes[i].w >= 20 && panes[i].h >= 4, "%s", "see the condition");
            for (int k = i + 1; k < 6; k++)
                CHECK(!overlap(panes[i], panes[k]), "%s", "see the condition");
        }
        CHECK(inside(l.list, l.body) && inside(l.detail, l.body) && !overlap(l.list, l.detail), "%s", "see the condition");
    }
    tui_layout small = tui_layout_compute(79, 30);
    CHECK(small.too_small, "%s", "see the condition");
    CHECK(tui_layout_compute(100, 23).too_small, "%s", "see the condition");

    /* Whole frames: the too-small message, and the live screen fed events. */
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "see the condition");
    CHECK(tui_buf_init(&b, 60, 20, 1) == 0, "%s", "see the condition");
    tui_draw(&app, &b);
    int found = 0;
    for (int y = 0; y < b.h; y++) {
        tui_buf_row(&b, y, row, sizeof row);
        found |= strstr(row, "Terminal too small: 60x20") != NULL;
    }
    CHECK(found, "%s", "see the condition");
    tui_buf_free(&b);

    tui_live_attach(&app.live, "/nonexistent", 0, 0);
    const char *evs[] = {
        "{\"event\":\"epoch_start\",\"time\":100.0,\"epoch\":1,\"epochs\":2,\"batches\":100}",
        "{\"event\":\"progress\",\"time\":101.0,\"epoch\":1,\"batch\":10,\"batches\":100,\"images_per_s\":640,\"loss\":2.0}",
        "{\"event\":\"progress\",\"time\":102.0,\"epoch\":1,\"batch\":20,\"batches\":100,\"images_per_s\":640,\"loss\":1.8}",
        "{\"event\":\"progress\",\"time\":103.0,\"epoch\":1,\"batch\":30,\"batches\":100,\"images_per_s\":640,\"loss\":1.6}",
    };
    for (int i = 0; i < 4; i++) {
        struct json_object *ev = json_tokener_parse(evs[i]);
        CHECK(ev != NULL, "%s", "see the condition");
        tui_live_event(&app.live, ev);
        json_object_put(ev);
    }
    /* 10 batches/s steadily: 70 left, the smoothed ETA lands on 7 s. */
    CHECK(app.live.batch == 30 && fabs(app.live.bps_ema - 10) < 1e-9, "%s", "see the condition");
    CHECK(fabs(app.live.eta_s - 7.5) < 1.0, "%s", "see the condition");
    CHECK(app.live.nloss == 3, "%s", "see the condition");
    struct json_object *end = json_tokener_parse("{\"event\":\"epoch_end\",\"epoch\":1,\"load_s\":1.0,\"train_s\":3.0,"
                                                 "\"epoch_s\":4.1,\"train_loss\":1.5,\"test_acc\":42.0}");
    tui_live_event(&app.live, end);
    json_object_put(end);
    CHECK(app.live.nep == 1 && app.live.ep[0].load_s == 1.0 && app.live.eta_s == 0, "%s", "see the condition");
    app.screen = SCR_LIVE;
    for (int s = 0; s < 2; s++) {
        CHECK(tui_buf_init(&b, sizes[s][0], sizes[s][1], s == 0) == 0, "%s", "see the condition");
        tui_draw(&app, &b);
        int epoch = 0, split = 0, e1 = 0;
        for (int y = 0; y < b.h; y++) {
            tui_buf_row(&b, y, row, sizeof row);
            epoch |= strstr(row, "Epoch 1/2") != NULL;
            split |= strstr(row, "Epoch time: load vs compute") != NULL;
            e1 |= strstr(row, "1.00+3.00s") != NULL;
        }
        CHECK(epoch && split && e1, "%s", "see the condition");
        tui_buf_free(&b);
    }
    tui_app_free(&app);
    return check_finish();
}
