/* The workbench's live view and keys (issue 18): key codes on every
 * terminal, `/` search, Left/Right choices, an unchanged value is no edit,
 * the one images/s, the live view's ETA, "evaluating" and the loss curve,
 * clicks on tabs and rows; and the resources panel.  Pure state and
 * drawing, no terminal. */
#include "tests/check.h" // uses: CHECK, check_finish
#include "tests/tui_screen.h" // uses: screen_has, dump_on_failure

#include "core/error.h" // uses: tb_last_error
#include "rundir/derived.h" // uses: tb_images_per_s
#include "rundir/train_report.h" // uses: tb_epoch_report, tb_run_averages, tb_run_averages_compute
#include "tui/cells.h" // uses: tui_buf, tui_buf_init, tui_buf_free, tui_buf_row
#include "tui/layout.h" // uses: tui_layout, tui_layout_compute, tui_tab_at, tui_list_row_at, tui_list_first, ...
#include "tui/resources.h" // uses: tui_res, tui_series_push, tui_series_at, tui_res_layout, tui_sparkline, ...
#include "tui/screens.h" // uses: tui_draw
#include "tui/term.h" // uses: tui_key_decode

#include <curses.h>
#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Issue 18: keys on every terminal, `/` search, Left/Right choices, an
 * unchanged value is no edit, the one images/s, the live view's ETA,
 * "evaluating" and loss curve, clicks on tabs. */
static void issue18(void)
{
    /* Home/End as tmux and screen send them (ESC [1~ / ESC [4~), and rxvt's
     * and xterm's; under TERM=xterm-256color inside tmux curses alone reads
     * ESC [1~ as Esc, '1' (a tab switch), '~'. */
    CHECK(tui_key_decode("\033[1~") == KEY_HOME && tui_key_decode("\033[4~") == KEY_END, "%s", "tmux/screen Home End");
    CHECK(tui_key_decode("\033[7~") == KEY_HOME && tui_key_decode("\033[8~") == KEY_END, "%s", "rxvt Home End");
    CHECK(tui_key_decode("\033OH") == KEY_HOME && tui_key_decode("\033[F") == KEY_END, "%s", "xterm Home End");
    CHECK(tui_key_decode("\033[5~") == KEY_PPAGE && tui_key_decode("\033[6~") == KEY_NPAGE, "%s", "PgUp PgDn");
    CHECK(tui_key_decode("\033[2~") == 0 && tui_key_decode("1") == 0 && tui_key_decode(NULL) == 0, "%s", "others");

    /* Clicks on the header's tabs land on the tab drawn there. */
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    tui_buf b;
    char row[512];
    CHECK(tui_buf_init(&b, 100, 30, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    tui_buf_row(&b, 0, row, sizeof row);
    for (int i = 0; i < TUI_TABS; i++) {
        char tab[32];
        snprintf(tab, sizeof tab, "%d %s", i + 1, tui_tab_names[i]);
        const char *at = strstr(row, tab);
        CHECK(at && tui_tab_at((int)(at - row)) == i && tui_tab_at((int)(at - row) + (int)strlen(tab)) == i,
              "tab %s at column %d", tab, at ? (int)(at - row) : -1);
    }
    CHECK(tui_tab_at(0) == -1 && tui_tab_at(99) == -1, "%s", "no tab under the name or past the tabs");
    tui_layout lay = tui_layout_compute(100, 30);
    CHECK(tui_list_row_at(&lay, 1, 5, lay.body.y + 2) == 0 && tui_list_row_at(&lay, 1, 5, lay.body.y + 1) == -1 &&
              tui_list_row_at(&lay, 1, 5, lay.body.y + 2 + tui_list_rows(&lay, 1)) == -1,
          "%s", "list rows under the cursor");
    CHECK(tui_list_first(3, 10) == 0 && tui_list_first(12, 10) == 3, "%s", "the list scrolls with the selection");
    tui_buf_free(&b);

    /* Search: case-insensitive, from a place, wrapping. */
    CHECK(tui_search_match("Quickstart", "QUICK") && tui_search_match("x", "") && !tui_search_match("lab2", "lab3"),
          "%s", "match");
    const char *src = getenv("SOURCE_ROOT");
    snprintf(app.presets_dir, sizeof app.presets_dir, "%s/presets", src ? src : ".");
    CHECK(tui_presets_scan(&app) == 0 && app.npresets > 5, "presets: %d", app.npresets);
    app.screen = SCR_PRESETS;
    int q = tui_search_find(&app, "quickst", 0);
    CHECK(q >= 0 && !strcmp(app.presets[q].name, "quickstart"), "/quickst finds quickstart (%d)", q);
    CHECK(tui_search_find(&app, "no-such-preset-xyz", 0) == -1, "%s", "no match");
    CHECK(q < 0 || tui_search_find(&app, "quickstart", q + 1) == q, "%s", "wrapping to the only match");
    if (q < 0)
        return;
    /* A click finds a preset where the list draws it (lab headings counted). */
    CHECK(tui_preset_line(&app, 0) == 1, "the first preset under its heading: %d", tui_preset_line(&app, 0));
    app.psel = q;
    CHECK(tui_buf_init(&b, 100, 30, 0) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    int lines = lay.list.h - 2, pl = tui_preset_line(&app, q), pfirst = pl >= lines ? pl - lines + 1 : 0;
    tui_buf_row(&b, lay.list.y + 1 + pl - pfirst, row, sizeof row);
    CHECK(strstr(row, "quickstart") != NULL, "line %d of the list is quickstart: '%s'", pl, row);
    tui_buf_free(&b);

    /* Choices: Left/Right cycle, wrapping, placeholders skipped. */
    char v[64];
    CHECK(tui_choice_cycle("sgd|sgd-nesterov|adam", "adam", 1, v, sizeof v) == 0 && !strcmp(v, "sgd"), "next %s", v);
    CHECK(tui_choice_cycle("sgd|sgd-nesterov|adam", "sgd", -1, v, sizeof v) == 0 && !strcmp(v, "adam"), "prev %s", v);
    CHECK(tui_choice_cycle("mnist|imagenet|packed:FILE", "imagenet", 1, v, sizeof v) == 0 && !strcmp(v, "mnist"),
          "packed:FILE skipped: %s", v);
    CHECK(tui_choice_cycle("", "x", 1, v, sizeof v) == -1, "%s", "no list");
    app.psel = q;
    CHECK(tui_params_load(&app) == 0, "params: %s", tb_last_error());
    int opt = -1, dev = -1, wk = -1;
    for (int i = 0; i < app.nparams; i++) {
        opt = !strcmp(app.params[i].key, "optimizer") ? i : opt;
        dev = !strcmp(app.params[i].key, "device") ? i : dev;
        wk = !strcmp(app.params[i].key, "num_workers") ? i : wk;
    }
    CHECK(opt >= 0 && dev >= 0 && wk >= 0, "%s", "optimizer, device, num_workers");
    if (opt < 0 || dev < 0 || wk < 0)
        return;
    char was[256];
    snprintf(was, sizeof was, "%s", app.params[opt].value);
    CHECK(tui_param_cycle(&app, opt, 1) == 1 && strcmp(app.params[opt].value, was) && app.params[opt].edited,
          "Right on optimizer: %s -> %s", was, app.params[opt].value);
    CHECK(tui_param_cycle(&app, opt, -1) == 1 && !strcmp(app.params[opt].value, was) && !app.params[opt].edited,
          "Left back to %s: no edit any more", app.params[opt].value);
    CHECK(tui_param_cycle(&app, wk, 1) == 0, "%s", "a number has no choices");
    /* Typing the same value again is no edit. */
    snprintf(was, sizeof was, "%s", app.params[wk].value);
    tui_param_accept(&app, wk, was);
    CHECK(!app.params[wk].edited, "re-entering %s marks nothing", was);
    tui_param_accept(&app, wk, "3");
    CHECK(app.params[wk].edited && app.sweep_size >= 1, "%s", "a new value is an edit");
    /* The full allowed list of the chosen option, under the list. */
    app.parsel = dev;
    app.screen = SCR_PARAMS;
    CHECK(tui_buf_init(&b, 80, 24, 0) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "device: cpu|cuda"), "%s", "allowed list of the chosen option");
    tui_buf_free(&b);
    tui_app_free(&app);

    /* Every sweep axis has its marker, not only the first: two made here. */
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    snprintf(app.presets_dir, sizeof app.presets_dir, "%s/presets", src ? src : ".");
    CHECK(tui_presets_scan(&app) == 0, "%s", "scan");
    app.psel = tui_search_find(&app, "quickstart", 0);
    CHECK(app.psel >= 0 && tui_params_load(&app) == 0, "%s", "quickstart");
    const char *swept[] = {"num_workers", "batch_size"};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < app.nparams; i++)
            if (!strcmp(app.params[i].key, swept[k]) && !app.params[i].axis) {
                CHECK(tui_param_toggle_axis(&app, i) == 0, "sweep %s: %s", swept[k], tb_last_error());
                break;
            }
    app.screen = SCR_PARAMS;
    app.parsel = app.nparams - 1; /* the axes come last: scrolled into view */
    CHECK(tui_buf_init(&b, 80, 24, 0) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    int marked = 0, axis_rows = 0;
    for (int y = 0; y < b.h; y++) {
        tui_buf_row(&b, y, row, sizeof row);
        for (int k = 0; k < 2; k++)
            if (!strncmp(row + 2, swept[k], strlen(swept[k])) && row[2 + strlen(swept[k])] == ' ') {
                int is_axis = 0; /* the options above the axes keep no marker */
                for (int i = 0; i < app.nparams; i++)
                    is_axis |= app.params[i].axis && !strcmp(app.params[i].key, swept[k]);
                axis_rows += is_axis;
                marked += is_axis && row[1] == '*';
            }
    }
    CHECK(axis_rows == 2 && marked == 2, "%d of %d axis rows marked", marked, axis_rows);
    tui_buf_free(&b);
    tui_app_free(&app);

    /* One images/s: a run's is its epochs' images over their epoch time
     * (100 images in 1 s, then in 3 s: 50/s), not a mean of the epochs'
     * ratios (66.7/s), so the table, the log and the live header agree. */
    tb_epoch_report er[2];
    memset(er, 0, sizeof er);
    er[0].images = er[1].images = 100;
    er[0].epoch_s = 1;
    er[1].epoch_s = 3;
    er[0].images_per_s = 100;
    er[1].images_per_s = 100.0 / 3;
    tb_run_averages av;
    tb_run_averages_compute(er, 2, 0, &av);
    CHECK(fabs(av.images_per_s - 50) < 1e-9 && fabs(av.images_per_s - tb_images_per_s(200, 2 * av.epoch_s)) < 1e-9,
          "run images/s %g, want 50", av.images_per_s);

    /* Live: "evaluating" between eval_start and epoch_end; the loss curve
     * plots each interval's mean and goes on across the epoch boundary; the
     * sweep's ETA counts the configurations still pending. */
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    tui_live *lv = &app.live;
    tui_live_attach(lv, "/nonexistent", 0, 0);
    snprintf(lv->status, sizeof lv->status, "running");
    const char *evs[] = {
        "{\"event\":\"epoch_start\",\"time\":100.0,\"epoch\":1,\"epochs\":2,\"batches\":100}",
        "{\"event\":\"progress\",\"time\":101.0,\"epoch\":1,\"batch\":10,\"batches\":100,\"loss\":2.0}",
        "{\"event\":\"progress\",\"time\":102.0,\"epoch\":1,\"batch\":20,\"batches\":100,\"loss\":1.8}",
        "{\"event\":\"eval_start\",\"time\":110.0,\"epoch\":1}",
    };
    for (int i = 0; i < 4; i++) {
        struct json_object *ev = json_tokener_parse(evs[i]);
        tui_live_event(lv, ev);
        json_object_put(ev);
    }
    CHECK(lv->nloss == 2 && fabs(lv->loss_hist[0] - 2.0) < 1e-9 && fabs(lv->loss_hist[1] - 1.6) < 1e-9,
          "interval means %g %g, want 2 and 1.6", lv->loss_hist[0], lv->loss_hist[1]);
    CHECK(lv->evaluating, "%s", "eval_start: evaluating");
    app.screen = SCR_LIVE;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "evaluating on the test set (epoch 1)"), "%s", "the evaluating phase is shown");
    CHECK(screen_has(&b, "elapsed 0:10"), "%s", "elapsed from the first event");
    tui_buf_free(&b);
    const char *evs2[] = {
        "{\"event\":\"epoch_end\",\"time\":111.0,\"epoch\":1,\"load_s\":1,\"train_s\":9,\"epoch_s\":11,"
        "\"test_acc\":40}",
        "{\"event\":\"epoch_start\",\"time\":111.0,\"epoch\":2,\"epochs\":2,\"batches\":100}",
        "{\"event\":\"progress\",\"time\":112.0,\"epoch\":2,\"batch\":10,\"batches\":100,\"loss\":1.5}",
    };
    for (int i = 0; i < 3; i++) {
        struct json_object *ev = json_tokener_parse(evs2[i]);
        tui_live_event(lv, ev);
        json_object_put(ev);
    }
    CHECK(!lv->evaluating && lv->nloss == 3 && fabs(lv->loss_hist[2] - 1.5) < 1e-9 && lv->loss_ep[2] == 2,
          "after the boundary: %g (epoch %d)", lv->loss_hist[2], lv->loss_ep[2]);
    /* Smoothing: the old estimate runs down by dt, then blends. */
    CHECK(tui_eta_smooth(0, 50, 5, 0.3) == 50 && fabs(tui_eta_smooth(100, 50, 10, 0.3) - 78) < 1e-9 &&
              tui_eta_smooth(100, NAN, 1, 0.3) == 100 && tui_eta_smooth(5, 40, 10, 0.5) == 20,
          "%s", "smoothing");
    /* The sweep: two done (10 s and 20 s), this one, two pending.  At 10
     * batches/s: 90 batches of this epoch 9 s, the last epoch none (epoch 2
     * of 2), two pending at the 15 s mean: 39 s. */
    lv->nconfigs = 5;
    const char *st[] = {"completed", "completed", "running", "pending", "pending"};
    for (int i = 0; i < 5; i++) {
        snprintf(lv->configs[i].status, sizeof lv->configs[i].status, "%s", st[i]);
        lv->configs[i].wall_s = i == 0 ? 10 : i == 1 ? 20 : NAN;
    }
    lv->cur = 2;
    lv->bps_ema = 10;
    CHECK(fabs(tui_sweep_remaining(lv) - 39) < 1e-9, "sweep remaining %g, want 39", tui_sweep_remaining(lv));
    lv->epoch = 1; /* one more epoch of 11 s (the finished one's length) */
    CHECK(fabs(tui_sweep_remaining(lv) - 50) < 1e-9, "sweep remaining %g, want 50", tui_sweep_remaining(lv));
    /* Over: no ETA, pending rows are not shown as still to come. */
    snprintf(lv->status, sizeof lv->status, "interrupted");
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    int fails = check_failures;
    CHECK(screen_has(&b, "sweep ETA --") && screen_has(&b, "1.5000   ETA --"), "%s", "no stale ETA after the end");
    dump_on_failure(&b, fails);
    tui_buf_free(&b);
    tui_app_free(&app);
}

/* The resources panel (issue 18): history ring, sparklines, the Resources
 * screen's layout, the screen and the Live panel drawn from readings set by
 * hand (a GPU used by rank 0, a contended host), NVML absent, sampling at
 * most once a second, and the cores a run asked for. */
static void resources(void)
{
    static tui_res res;
    memset(&res, 0, sizeof res);
    for (int i = 0; i < 130; i++)
        tui_series_push(&res.cpu, i);
    CHECK(res.cpu.n == TUI_RES_HIST && tui_series_at(&res.cpu, 0) == 10 && tui_series_at(&res.cpu, 119) == 129 &&
              isnan(tui_series_at(&res.cpu, 120)),
          "ring: n %d, oldest %g, newest %g", res.cpu.n, tui_series_at(&res.cpu, 0), tui_series_at(&res.cpu, 119));
    /* Sparkline: 0..100 rises from the lowest block to the full one; a gap
     * where a reading is missing; the last w values only. */
    tui_series s = {0};
    for (int i = 0; i <= 10; i++)
        tui_series_push(&s, i == 5 ? NAN : 10.0 * i);
    tui_buf b;
    CHECK(tui_buf_init(&b, 20, 2, 1) == 0, "%s", "buffer");
    CHECK(tui_sparkline(&b, 0, 0, 20, &s, 100, 0) == 11, "%s", "11 values in 20 cells");
    /* right-aligned: value i in cell 9 + i */
    CHECK(!strcmp(b.c[9].g, "\u2581") && !strcmp(b.c[19].g, "\u2588") && !strcmp(b.c[14].g, " ") &&
              !strcmp(b.c[18].g, "\u2587") && !strcmp(b.c[8].g, " "),
          "sparkline: %s %s %s %s", b.c[9].g, b.c[14].g, b.c[18].g, b.c[19].g);
    CHECK(tui_sparkline(&b, 0, 1, 4, &s, 100, 0) == 4 && !strcmp(b.c[20 + 3].g, "\u2588") &&
              !strcmp(b.c[20 + 0].g, "\u2586"),
          "%s", "the last 4 values");
    tui_buf_free(&b);
    CHECK(tui_buf_init(&b, 20, 1, 0) == 0, "%s", "buffer");
    tui_sparkline(&b, 0, 0, 20, &s, 100, 0);
    char row[2048];
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(!strncmp(row + 9, " ..:-", 5) && row[19] == '#' && row[14] == ' ', "ASCII sparkline '%s'", row);
    tui_buf_free(&b);

    /* Layout: host on top, GPU groups below inside the body, never
     * overlapping; two columns on wide terminals; what does not fit is cut. */
    const int sizes[3][3] = {{80, 24, 2}, {200, 60, 16}, {120, 40, 20}};
    for (int k = 0; k < 3; k++) {
        tui_layout l = tui_layout_compute(sizes[k][0], sizes[k][1]);
        tui_rect host, g[TUI_RES_MAX_GPUS];
        int n = tui_res_layout(l.body, sizes[k][2], &host, g, TUI_RES_MAX_GPUS);
        int want = k == 0 ? 2 : k == 1 ? 16 : 5; /* 80x24: 22 rows = 7 + 2x6; 120x40: 38 = 7 + 5x6 + 1 */
        CHECK(n == want, "%dx%d: %d GPU groups, want %d", sizes[k][0], sizes[k][1], n, want);
        CHECK(inside(host, l.body) && host.h == TUI_RES_HOST_H, "%s", "host group");
        for (int i = 0; i < n; i++) {
            CHECK(inside(g[i], l.body) && !overlap(g[i], host) && g[i].w >= 40, "GPU group %d at %dx%d", i,
                  sizes[k][0], sizes[k][1]);
            for (int j = i + 1; j < n; j++)
                CHECK(!overlap(g[i], g[j]), "GPU groups %d and %d overlap", i, j);
        }
        if (k == 1)
            CHECK(g[1].x > g[0].x && g[1].y == g[0].y, "%s", "two columns at 200 wide");
    }

    /* Readings set by hand: GPU 0 used by rank 0, GPU 1 without power. */
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "app");
    app.res = &res;
    memset(&res, 0, sizeof res);
    res.ngpu = 2;
    tui_res_gpu *g0 = &res.gpu[0], *g1 = &res.gpu[1];
    snprintf(g0->r.name, sizeof g0->r.name, "Test GPU H100");
    snprintf(g0->r.bus_id, sizeof g0->r.bus_id, "00000000:19:00.0");
    g0->r.util_pct = 87;
    g0->r.mem_used = 12.5 * 1073741824.0;
    g0->r.mem_total = 80 * 1073741824.0;
    g0->r.power_w = 312;
    g0->r.power_limit_w = 400;
    g0->r.temp_c = 71;
    g0->r.sm_mhz = 1410;
    g0->r.mem_mhz = 1593;
    g0->rank = 0;
    g0->rank_pid = 4242;
    *g1 = *g0;
    snprintf(g1->r.name, sizeof g1->r.name, "Test GPU T4");
    g1->r.power_w = g1->r.power_limit_w = NAN;
    g1->rank = -1;
    snprintf(g1->r.note, sizeof g1->r.note, "power: Not Supported");
    for (int i = 0; i < 70; i++)
        tui_series_push(&g0->util, i % 2 ? 100 : 0);
    res.have_prev = res.have_rates = 1;
    res.host = (tb_host_rates){.ncpu = 4, .cpu_pct = 95, .steal_pct = 1, .busy_cores = 3.8, .run_cores = 1.2,
                               .loader_cores = 0.3, .loader_threads = 2, .other_cores = 2.6,
                               .mem_used = 3 * 1073741824.0, .mem_total = 8 * 1073741824.0};
    res.asked = 3;
    res.contended = tb_hostmon_contention(&res.host, res.asked, res.contention, sizeof res.contention);
    CHECK(res.contended, "%s", "2.6 of 4 cores taken by others: 1.4 left of 3");
    app.screen = SCR_RESOURCES;
    for (int s2 = 0; s2 < 2; s2++) {
        const int w = s2 ? 200 : 80, h = s2 ? 60 : 24, before = check_failures;
        CHECK(tui_buf_init(&b, w, h, 1) == 0, "%s", "buffer");
        tui_draw(&app, &b);
        CHECK(screen_has(&b, "5 Resources"), "%dx%d: the tab", w, h);
        CHECK(screen_has(&b, "GPU 0: Test GPU H100") && screen_has(&b, "GPU 1: Test GPU T4"), "%dx%d: GPU names", w, h);
        CHECK(screen_has(&b, "87%") && screen_has(&b, "12.5/80.0 GiB (16%)") &&
                  screen_has(&b, "312 W (78% of 400 W)") && screen_has(&b, "Temp 71 C  SM 1410 MHz  mem 1593 MHz"),
              "%dx%d: GPU readings", w, h);
        CHECK(screen_has(&b, "rank 0 (pid 4242)"), "%dx%d: the run's rank", w, h);
        CHECK(screen_has(&b, "Power --") && screen_has(&b, "GPU 1: Test GPU T4 (power: Not Supported)"),
              "%dx%d: GPU 1 without power", w, h);
        CHECK(screen_has(&b, "1.2 cores, loaders 0.3 (25%)") && screen_has(&b, "95.0% (3.8 cores busy)"),
              "%dx%d: host readings", w, h);
        CHECK(screen_has(&b, "contended: other processes use 2.6 of 4 cores, leaving the run 1.4 of the 3"),
              "%dx%d: contention line", w, h);
        CHECK(count(&b, "\u2588") >= 20, "%dx%d: the utilisation sparkline (%d full blocks)", w, h,
              count(&b, "\u2588"));
        dump_on_failure(&b, before);
        tui_buf_free(&b);
    }
    /* The compact panel on the Live screen (nothing running). */
    app.screen = SCR_LIVE;
    int before = check_failures;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "Resources (5)") && screen_has(&b, "GPU0 87% 12.5/80G 312W 71C r0") &&
              screen_has(&b, "contended: others 2.6/4 cores") && screen_has(&b, "CPU 95%/4 run 1.2c steal 1%"),
          "%s", "Live panel");
    dump_on_failure(&b, before);
    tui_buf_free(&b);
    /* NVML absent: the line says so, on both screens. */
    res.ngpu = 0;
    snprintf(res.nvml_msg, sizeof res.nvml_msg, "no NVIDIA GPU (NVML not found): libnvidia-ml.so.1: cannot open");
    for (int scr = 0; scr < 2; scr++) {
        app.screen = scr ? SCR_RESOURCES : SCR_LIVE;
        before = check_failures;
        CHECK(tui_buf_init(&b, 80, 24, 0) == 0, "%s", "buffer");
        tui_draw(&app, &b);
        CHECK(screen_has(&b, "no NVIDIA GPU (NVML not found)") && !screen_has(&b, "GPU 0:"), "NVML absent, screen %d",
              scr);
        dump_on_failure(&b, before);
        tui_buf_free(&b);
    }
    /* Sampling: the first call samples, again within a second does not. */
    tui_res_free(&res);
    memset(&res, 0, sizeof res);
    CHECK(tui_res_tick(&res, 100.0, getpid(), 2, "/proc") == 1 && res.nvml_tried, "%s", "first sample");
    CHECK(tui_res_tick(&res, 100.5, getpid(), 2, "/proc") == 0, "%s", "not again within a second");
    CHECK(tui_res_tick(&res, 101.2, getpid(), 2, "/proc") == 1 && res.have_rates && res.host.ncpu > 0 &&
              res.cpu.n == 1 && res.asked == 2,
          "second sample: %s", res.host_err);
    CHECK(res.ngpu > 0 || strstr(res.nvml_msg, "NVML"), "no GPU and no reason: '%s'", res.nvml_msg);
    tui_res_free(&res);
    app.res = NULL;
    tui_app_free(&app);
    /* The cores a run asked for, from its config.json. */
    char dir[] = "/tmp/tbres.XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL, "%s", "mkdtemp");
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_file(path, "{\"threads\": 2, \"num_workers\": 3, \"gpus\": 1}");
    CHECK(tui_res_asked(path, 8) == 5, "asked %g", tui_res_asked(path, 8));
    write_file(path, "{\"threads\": 0, \"num_workers\": 1}");
    CHECK(tui_res_asked(path, 8) == 8, "%s", "all cores, capped at the machine's");
    write_file(path, "{\"threads\": \"2\", \"num_workers\": 1, \"gpus\": 2}");
    CHECK(tui_res_asked(path, 64) == 2 * (64 + 1) || tui_res_asked(path, 64) == 64, "%s", "a string is not a number");
    unlink(path);
    CHECK(tui_res_asked(path, 8) == 0, "%s", "no file");
    rmdir(dir);
}

/* The sweep's chart: GPUs vs speedup with the ideal tick and predictions
 * from the ring all-reduce model; workers vs load time. */

int main(void)
{
    issue18();
    resources();
    return check_finish();
}
