/* The workbench's pure drawing code (issue 7): axis scaling, bars, stacked
 * bars, charts, tables, layout at 80x24 and 200x60 and below the minimum,
 * and the live state fed from events. */
#include "tests/check.h" // uses: CHECK, check_finish
#include "tests/tui_screen.h" // uses: screen_has, dump_on_failure

#include <stdio.h>
#include "core/error.h" // uses: tb_last_error
#include "lab/predict.h" // uses: tb_predict_input, tb_predict_defaults, tb_predict_point, tb_predict
#include "rundir/derived.h" // uses: tb_images_per_s
#include "rundir/lock.h" // uses: tb_lock, tb_lock_acquire, tb_lock_release
#include "rundir/train_report.h" // uses: tb_epoch_report, tb_run_averages, tb_run_averages_compute
#include "tui/cells.h" // uses: tui_buf, tui_rect, tui_strwidth, tui_str_clip, tui_buf_init, tui_text, ...
#include "tui/config.h" // uses: tui_config_load, tui_config_save
#include "tui/layout.h" // uses: tui_layout, tui_layout_compute, TUI_TABS, tui_tab_at, tui_list_row_at, ...
#include "tui/resources.h" // uses: tui_res, tui_series_push, TUI_RES_HIST, tui_series_at, tui_series, ...
#include "tui/screens.h" // uses: tui_draw, tui_status_attr
#include "tui/sweep_chart.h" // uses: tui_sweep_chart, tui_sweep_chart_build, TUI_CHART_SPEEDUP, ...
#include "tui/term.h" // uses: tui_key_decode

#include <curses.h>
#include <locale.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

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
    tui_table(&b, (tui_rect){0, 0, 30, 3}, 2, hdr, cells, 2, right, -1, NULL);
    tui_buf_row(&b, 2, row, sizeof row);
    CHECK(!strncmp(row, "ab     22", 9), "table row: %s", row);
    tui_buf_row(&b, 1, row, sizeof row);
    CHECK(strstr(row, "\xe8\xaa\x9e  1") != NULL, "table row: %s", row);
    tui_buf_free(&b);
    /* Wrapping at blanks by display width, the last line clipped. */
    CHECK(tui_buf_init(&b, 10, 4, 1) == 0, "%s", "buffer");
    snprintf(s, sizeof s, "ab %s cd ef gh ij", cjk);
    int lines = tui_text_wrap(&b, 0, 0, 8, 3, s, 0);
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(lines == 3 && !strncmp(row, "ab ", 3) && tui_strwidth(row) == 10, "wrap line 0: %s", row);
    tui_buf_row(&b, 1, row, sizeof row);
    CHECK(!strncmp(row, cjk, strlen(cjk)), "wrap line 1: %s", row);
    tui_buf_row(&b, 2, row, sizeof row);
    CHECK(!strncmp(row, "cd ef gh  ", 10), "wrap line 2 (clipped): %s", row);
    tui_buf_free(&b);
}

static void sweep_chart(void)
{
    static tui_live l;
    memset(&l, 0, sizeof l);
    l.active = 1;
    l.cur = 2;
    snprintf(l.chart_axis, sizeof l.chart_axis, "gpus");
    const char *vals[] = {"1", "2", "4"}, *st[] = {"completed", "completed", "running"};
    double train[] = {10.0, 6.0, NAN};
    for (int i = 0; i < 3; i++) {
        snprintf(l.points[i].value, sizeof l.points[i].value, "%s", vals[i]);
        snprintf(l.points[i].others, sizeof l.points[i].others, "batch_size=128");
        tui_config_row *r = &l.configs[i];
        snprintf(r->id, sizeof r->id, "0%d", i + 1);
        snprintf(r->status, sizeof r->status, "%s", st[i]);
        r->have_result = i < 2;
        r->train_s = train[i];
        r->batch = 128;
        r->images = 50000;
        r->grad_bytes = 4.0 * 11173962;
        r->avg_epoch_s = train[i];
    }
    l.npoints = l.nconfigs = 3;
    static tui_sweep_chart c;
    tui_sweep_chart_build(&l, &c);
    CHECK(c.kind == TUI_CHART_SPEEDUP && c.n == 3 && c.npredicted == 3, "kind %d n %d predicted %d", c.kind, c.n,
          c.npredicted);
    CHECK(fabs(c.rows[0].value - 1.0) < 1e-9 && fabs(c.rows[1].value - 10.0 / 6.0) < 1e-9 && isnan(c.rows[2].value),
          "measured speedups %g %g %g", c.rows[0].value, c.rows[1].value, c.rows[2].value);
    CHECK(c.rows[2].ideal == 4 && c.rows[1].ideal == 2, "%s", "ideal = GPUs");
    /* The same numbers as trainbench predict with its defaults. */
    tb_predict_input in;
    tb_predict_defaults(&in);
    in.step_s = 10.0 / ((50000 + 127) / 128);
    in.batch_per_gpu = 128;
    in.grad_bytes = 4.0 * 11173962;
    in.images = 50000;
    tb_predict_point pt;
    CHECK(tb_predict(&in, 4, &pt) == 0 && fabs(c.rows[2].predicted - pt.speedup) < 1e-9, "predicted %g vs %g",
          c.rows[2].predicted, pt.speedup);
    CHECK(!strncmp(c.rows[1].label, "2 128", 5), "label %s", c.rows[1].label);
    tui_buf b;
    char row[512];
    CHECK(tui_buf_init(&b, 44, 6, 0) == 0, "%s", "buffer");
    tui_draw_sweep_chart(&b, (tui_rect){0, 0, 44, 6}, &c);
    CHECK(screen_has(&b, "Sweep: GPUs vs speedup") && screen_has(&b, "o predicted") && screen_has(&b, "| ideal"),
          "%s", "title and legend");
    for (int y = 2; y < 5; y++) {
        tui_buf_row(&b, y, row, sizeof row);
        CHECK(strchr(row + 1, 'o') != NULL, "row %d has a predicted marker: %s", y, row);
    }
    tui_buf_row(&b, 3, row, sizeof row);
    CHECK(strstr(row, "1.67x") && strstr(row, "#"), "measured bar and value: %s", row);
    tui_buf_row(&b, 4, row, sizeof row);
    CHECK(strstr(row, "~") && strstr(row, "running"), "not measured yet: %s", row);
    tui_buf_free(&b);

    /* A tall pane: the speedup plot (ideal dotted, measured dots,
     * predicted diamonds) above the bars. */
    CHECK(tui_buf_init(&b, 44, 30, 1) == 0, "%s", "buffer");
    tui_draw_sweep_chart(&b, (tui_rect){0, 0, 44, 30}, &c);
    CHECK(count(&b, "\xc2\xb7") > 10 && count(&b, "\xe2\x97\x8f") == 3 && count(&b, "\xe2\x97\x86") == 7,
          "plot: %d ideal dots, %d measured (2 + legend), %d predicted (3 + 3 bars + legend)", count(&b, "\xc2\xb7"),
          count(&b, "\xe2\x97\x8f"), count(&b, "\xe2\x97\x86"));
    tui_buf_free(&b);
    /* In the whole Live frame at both sizes. */
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    app.live = l;
    app.screen = SCR_LIVE;
    const int sizes[2][2] = {{80, 24}, {200, 60}};
    for (int k = 0; k < 2; k++) {
        CHECK(tui_buf_init(&b, sizes[k][0], sizes[k][1], 1) == 0, "%s", "buffer");
        tui_draw(&app, &b);
        CHECK(screen_has(&b, "Sweep: GPUs vs speedup") && screen_has(&b, "\xe2\x97\x86"), "chart at %dx%d",
              sizes[k][0], sizes[k][1]);
        tui_buf_free(&b);
    }
    tui_app_free(&app);

    /* No one-GPU result yet: no predictions, no measured speedups. */
    l.configs[0].have_result = 0;
    tui_sweep_chart_build(&l, &c);
    CHECK(c.npredicted == 0 && isnan(c.rows[1].value), "%s", "nothing without a baseline");

    /* Workers: the data-load time of each finished configuration. */
    snprintf(l.chart_axis, sizeof l.chart_axis, "num_workers");
    for (int i = 0; i < 3; i++) {
        l.points[i].others[0] = '\0';
        l.configs[i].have_result = 1;
        l.configs[i].load_s = 0.5 / (i + 1);
    }
    tui_sweep_chart_build(&l, &c);
    CHECK(c.kind == TUI_CHART_BARS && !strcmp(c.unit, "s") && fabs(c.rows[1].value - 0.25) < 1e-9 &&
              isnan(c.rows[2].value),
          "workers chart %d %s %g", c.kind, c.unit, c.rows[1].value);
    CHECK(tui_buf_init(&b, 40, 6, 1) == 0, "%s", "buffer");
    tui_draw_sweep_chart(&b, (tui_rect){0, 0, 40, 6}, &c);
    CHECK(screen_has(&b, "workers vs data-load time") && screen_has(&b, "0.250s"), "%s", "workers chart drawn");
    tui_buf_free(&b);
}

/* The settings file, the preset saved as a new file the engine's parser
 * loads, and loose runs next to sweeps in the results list. */
static void files(void)
{
    char tmp[] = "/tmp/tui-test-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "%s", "mkdtemp");
    char path[1024], dir[256], got[512] = "";
    snprintf(path, sizeof path, "%s/conf/trainbench/tui.conf", tmp);
    CHECK(tui_config_load(path, got, sizeof got) == 0, "%s", "no file: nothing remembered");
    CHECK(tui_config_save(path, "/data/my presets") == 0, "save: %s", tb_last_error());
    CHECK(tui_config_load(path, got, sizeof got) == 1 && !strcmp(got, "/data/my presets"), "loaded '%s'", got);
    write_file(path, "# x\nother = 1\npresets_dir =   /p  \n");
    CHECK(tui_config_load(path, got, sizeof got) == 1 && !strcmp(got, "/p"), "trimmed '%s'", got);
    CHECK(tui_config_save(path, "a\nb") < 0, "%s", "a line break is refused");

    static tui_app app;
    snprintf(dir, sizeof dir, "%s/runs", tmp);
    char user[256];
    snprintf(user, sizeof user, "%s/mine", tmp);
    CHECK(tui_app_init(&app, dir, user) == 0, "%s", "init");
    const char *src = getenv("SOURCE_ROOT");
    snprintf(app.presets_dir, sizeof app.presets_dir, "%s/presets", src ? src : ".");
    CHECK(tui_presets_scan(&app) == 0 && app.npresets > 5, "shipped presets: %d", app.npresets);
    int q = -1;
    for (int i = 0; i < app.npresets; i++)
        if (!strcmp(app.presets[i].name, "lab2-c3-workers"))
            q = i;
    CHECK(q >= 0, "%s", "lab2-c3-workers is shipped");
    if (q < 0)
        return;
    app.psel = q;
    CHECK(tui_params_load(&app) == 0, "params: %s", tb_last_error());
    /* Every option the issue lists is on the Parameters screen. */
    const char *want[] = {"model", "dataset", "data_dir", "device", "num_workers", "batch_size", "optimizer", "lr",
                          "lr_schedule", "epochs", "precision", "gpus", "scale",
                          /* issue 18: the rest of `trainbench train` */
                          "limit_train", "limit_test", "seed", "momentum", "weight_decay", "threads"};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        int found = 0;
        for (int i = 0; i < app.nparams; i++)
            found |= !strcmp(app.params[i].key, want[k]);
        CHECK(found, "parameter %s is editable", want[k]);
    }
    /* Edit the swept worker list and the epochs, check, save, reload. */
    int ax = -1, ep = -1;
    for (int i = 0; i < app.nparams; i++) {
        if (app.params[i].axis && !strcmp(app.params[i].key, "num_workers"))
            ax = i;
        if (!strcmp(app.params[i].key, "epochs"))
            ep = i;
    }
    CHECK(ax >= 0 && ep >= 0, "%s", "num_workers is an axis, epochs a parameter");
    if (ax < 0 || ep < 0)
        return;
    char err[512];
    CHECK(tui_param_check(&app, ax, "0, 1, 2, 3, 4", err, sizeof err) == 5, "5 configurations: %s", err);
    CHECK(tui_param_check(&app, ax, "0, x", err, sizeof err) < 0 && err[0], "%s", "a bad list is refused");
    snprintf(app.params[ax].value, sizeof app.params[ax].value, "0, 1, 2, 3, 4");
    app.params[ax].edited = 1;
    snprintf(app.params[ep].value, sizeof app.params[ep].value, "2");
    app.params[ep].edited = 1;
    CHECK(tui_preset_name_check("my-workers_2") == 0 && tui_preset_name_check("../x") < 0 &&
              tui_preset_name_check(".hidden") < 0 && tui_preset_name_check("") < 0,
          "%s", "preset names");
    CHECK(mkdir(user, 0755) == 0, "%s", "mkdir");
    snprintf(path, sizeof path, "%s/my-workers.ini", user);
    CHECK(tui_preset_save(&app, path) == 0, "save: %s", tb_last_error());
    static tb_preset p;
    CHECK(tb_preset_load(path, &p) == 0, "the engine parses the saved preset: %s", tb_last_error());
    CHECK(p.naxes == 1 && p.axes[0].count == 5 && !strcmp(p.lab, "lab2"), "axes %d count %d lab %s", p.naxes,
          p.axes[0].count, p.lab);
    int epochs2 = 0;
    for (int r = 0; r < p.nrun; r++)
        epochs2 |= !strcmp(p.run[r].key, "epochs") && !strcmp(p.run[r].value, "2");
    CHECK(epochs2, "%s", "the edited epochs are in [run]");
    /* batch_size becomes a second axis (its own table column), gets a list,
     * and is saved; a list cannot become a plain option again. */
    int bs = -1;
    for (int i = 0; i < app.nparams; i++)
        bs = !strcmp(app.params[i].key, "batch_size") ? i : bs;
    CHECK(bs >= 0 && tui_param_toggle_axis(&app, bs) == 0, "toggle: %s", tb_last_error());
    bs = app.parsel;
    CHECK(app.params[bs].axis && !strcmp(app.params[bs].key, "batch_size") && app.reshaped, "%s",
          "batch_size is an axis, selected");
    CHECK(app.sweep_size == 5, "the other edits stay: %d configurations", app.sweep_size);
    CHECK(tui_param_check(&app, bs, "32, 64", err, sizeof err) == 10, "5 x 2: %s", err);
    snprintf(app.params[bs].value, sizeof app.params[bs].value, "32, 64");
    app.params[bs].edited = 1;
    tui_params_refresh(&app);
    CHECK(app.sweep_size == 10, "sweep size %d", app.sweep_size);
    CHECK(tui_param_toggle_axis(&app, bs) < 0 && strstr(tb_last_error(), "several values"), "%s",
          "a list stays an axis");
    snprintf(path, sizeof path, "%s/two-axes.ini", user);
    CHECK(tui_preset_save(&app, path) == 0 && tb_preset_load(path, &p) == 0, "two axes saved: %s", tb_last_error());
    CHECK(p.naxes == 2 && p.axes[1].count == 2 && !strcmp(p.columns[0].id, "batch_size"), "axes %d, column %s",
          p.naxes, p.columns[0].id);
    int scale = -1;
    for (int i = 0; i < app.nparams; i++)
        scale = app.params[i].scale ? i : scale;
    CHECK(tui_param_toggle_axis(&app, scale) < 0, "%s", "the scale cannot be swept");
    CHECK(tui_presets_scan(&app) == 0, "%s", "rescan");
    int mine = 0;
    for (int i = 0; i < app.npresets; i++)
        mine |= app.presets[i].user && !strcmp(app.presets[i].name, "my-workers") &&
                app.presets[i].configs_full == 5 && !strcmp(app.presets[i].lab, "lab2");
    CHECK(mine, "%s", "the saved preset is listed with the shipped lab2 ones, 5 configurations");

    /* A loose run and a sweep under the runs folder. */
    CHECK(mkdir(dir, 0755) == 0, "%s", "mkdir runs");
    snprintf(path, sizeof path, "%s/20260101-000000-resnet18", dir);
    CHECK(mkdir(path, 0755) == 0, "%s", "mkdir run");
    snprintf(path, sizeof path, "%s/20260101-000000-resnet18/result.json", dir);
    write_file(path, "{\"status\":\"completed\",\"config\":{\"model\":\"resnet18-cifar\",\"epochs\":2},"
                     "\"summary\":{\"epochs_completed\":2,\"final_test_acc\":50.5,\"wall_s\":3}}");
    snprintf(path, sizeof path, "%s/20260102-000000-quickstart", dir);
    CHECK(mkdir(path, 0755) == 0, "%s", "mkdir sweep");
    snprintf(path, sizeof path, "%s/20260102-000000-quickstart/plan.json", dir);
    write_file(path, "{\"preset\":\"quickstart\",\"scale\":\"smoke\"}");
    snprintf(path, sizeof path, "%s/20260103-000000-junk", dir);
    CHECK(mkdir(path, 0755) == 0, "%s", "mkdir junk");
    snprintf(path, sizeof path, "%s/20260103-000000-junk/result.json", dir);
    write_file(path, "[1, 2"); /* corrupt: skipped, not a crash */
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 2, "results: %d", app.nresults);
    CHECK(!app.results[0].run && app.results[1].run && !strcmp(app.results[1].preset, "resnet18-cifar") &&
              app.results[1].final_acc == 50.5,
          "%s", "the sweep (newer) first, then the loose run");
    app.screen = SCR_RESULTS;
    app.mark = 1;
    tui_buf b;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "run ") && screen_has(&b, "50.50%") && screen_has(&b, "= marked: 20260101-000000-resnet18"),
          "%s", "results list with the run");
    const char *dirs[2];
    CHECK(tui_results_chosen(&app, dirs) == 2 && strstr(dirs[0], "resnet18") && strstr(dirs[1], "quickstart"),
          "%s", "the older entry first, as on the export command line");
    /* The Presets screen names the user's folder. */
    app.screen = SCR_PRESETS;
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "Your presets: ") && screen_has(&b, "(yours)"), "%s", "user presets shown");
    CHECK(screen_has(&b, "Question") && screen_has(&b, "full scale: ") && screen_has(&b, "Estimate"), "%s",
          "the detail: question, what it runs, the estimate");
    /* A prompt is typed in the status line. */
    app.prompt = TUI_PROMPT_SAVE;
    snprintf(app.prompt_text, sizeof app.prompt_text, "my-name");
    tui_draw(&app, &b);
    tui_buf_row(&b, 23, path, sizeof path);
    CHECK(strstr(path, "Save as preset (name): my-name_"), "status line: %s", path);
    app.prompt = TUI_PROMPT_NONE;
    tui_buf_free(&b);
    tui_app_free(&app);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "%s", "cleanup");
}

/* Issue 16: a summary.json that says running with a pid (1, or a live
 * process that is not the sweep) neither reads as running nor is
 * re-attached to; only the holder of the sweep's lock is, with the lock's
 * pid.  A run whose result.json says running without a live lock is stale. */
static void crafted_running(void)
{
    char tmp[] = "/tmp/tui-lock-XXXXXX", path[1024], host[256] = "";
    CHECK(mkdtemp(tmp) != NULL, "%s", "mkdtemp");
    gethostname(host, sizeof host - 1);
    const char *names[] = {"20260104-000000-quickstart", "20260105-000000-quickstart"};
    long pids[] = {(long)getpid(), 1};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, names[i]);
        CHECK(mkdir(path, 0755) == 0, "%s", "mkdir sweep");
        snprintf(path, sizeof path, "%s/%s/plan.json", tmp, names[i]);
        write_file(path, "{\"preset\":\"quickstart\",\"scale\":\"smoke\"}");
        char text[512];
        snprintf(text, sizeof text,
                 "{\"status\":\"running\",\"pid\":%ld,\"hostname\":\"%s\","
                 "\"configs\":[{\"id\":\"01-a\",\"label\":\"a\",\"status\":\"running\"}]}",
                 pids[i], host);
        snprintf(path, sizeof path, "%s/%s/summary.json", tmp, names[i]);
        write_file(path, text);
    }
    snprintf(path, sizeof path, "%s/20260106-000000-run", tmp);
    CHECK(mkdir(path, 0755) == 0, "%s", "mkdir run");
    snprintf(path, sizeof path, "%s/20260106-000000-run/result.json", tmp);
    write_file(path, "{\"status\":\"running\",\"config\":{\"model\":\"resnet18-cifar\",\"epochs\":2}}");

    static tui_app app;
    CHECK(tui_app_init(&app, tmp, NULL) == 0, "%s", "init");
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 3, "results: %d", app.nresults);
    /* Newest first: the run, the pid-1 sweep, the live-pid sweep. */
    CHECK(app.nresults == 3 && !strcmp(app.results[0].status, "stale") &&
              !strcmp(app.results[1].status, "interrupted") && !strcmp(app.results[2].status, "interrupted"),
          "statuses %s %s %s", app.nresults > 0 ? app.results[0].status : "",
          app.nresults > 1 ? app.results[1].status : "", app.nresults > 2 ? app.results[2].status : "");
    pid_t pid = 0;
    CHECK(tui_results_find_running(&app, &pid) == -1, "re-attached to a crafted summary (pid %d)", (int)pid);
    CHECK(tui_status_attr("stale") == TUI_C_ERR, "%s", "stale is coloured as not running");
    static tui_live live;
    snprintf(path, sizeof path, "%s/%s", tmp, names[1]);
    tui_live_attach(&live, path, 0, 0);
    tui_live_poll(&live);
    CHECK(!strcmp(live.status, "interrupted") && !tui_live_running(&live) && live.pid == 0,
          "followed crafted sweep: %s, pid %d", live.status, (int)live.pid);
    CHECK(live.nconfigs == 1 && !strcmp(live.configs[0].status, "stale"), "its running configuration: %s",
          live.configs[0].status);

    /* The sweep that really runs holds its lock: running, with the lock's pid. */
    int refused;
    tb_lock *l = tb_lock_acquire(path, "sweep directory", &refused);
    CHECK(l, "lock: %s", tb_last_error());
    CHECK(tui_results_scan(&app) == 0 && !strcmp(app.results[1].status, "running"), "held: %s",
          app.results[1].status);
    CHECK(tui_results_find_running(&app, &pid) == 1 && pid == getpid(), "re-attach: pid %d", (int)pid);
    tui_live_poll(&live);
    CHECK(!strcmp(live.status, "running") && tui_live_running(&live) && !strcmp(live.configs[0].status, "running"),
          "followed live sweep: %s, configuration %s", live.status, live.configs[0].status);
    tb_lock_release(l);
    tui_app_free(&app);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "%s", "cleanup");
}

/* Help: every line visible at 80x24; the log pane scrolls. */
static void help_and_log(void)
{
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    tui_buf b;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    app.screen = SCR_HELP;
    tui_draw(&app, &b);
    const char *keys[] = {"F1", "Ctrl-U", "f your presets folder", "w save as a new preset", "PgUp/PgDn scroll the log",
                          "m mark one", "e (table) export", "a sweep this option (again: plain)",
                          "start trainbench again to re-attach."};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK(screen_has(&b, keys[i]), "help shows '%s' at 80x24", keys[i]);
    /* The key hints fit the status line at 80 columns on every screen. */
    for (int scr = SCR_PRESETS; scr < SCR_COUNT; scr++) {
        app.screen = (tui_screen)scr;
        for (int q = 0; q < 2; q++) {
            app.confirm_quit = q;
            tui_draw(&app, &b);
            CHECK(!strcmp(b.c[23 * 80 + 78].g, " "), "screen %d (confirm %d): the hints fit in 78 cells", scr, q);
            app.confirm_quit = 0; /* the cancel question (issue 18, Live only) fits too */
            app.confirm_cancel = q && scr == SCR_LIVE;
            tui_draw(&app, &b);
            CHECK(!app.confirm_cancel || !strcmp(b.c[23 * 80 + 78].g, " "), "the cancel question fits in 78 cells");
            app.confirm_cancel = 0;
        }
    }
    app.confirm_quit = 0;
    tui_live_attach(&app.live, "/nonexistent", 0, 0);
    for (int i = 0; i < 30; i++)
        snprintf(app.live.log[app.live.nlog++], sizeof app.live.log[0], "log line %02d", i);
    app.screen = SCR_LIVE;
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "log line 29") && !screen_has(&b, "log line 10"), "%s", "the log follows its end");
    CHECK(screen_has(&b, "PgUp/PgDn log"), "%s", "the live hints name the log keys");
    app.live.log_scroll = 15;
    tui_draw(&app, &b);
    CHECK(!screen_has(&b, "log line 29") && screen_has(&b, "log line 14") && screen_has(&b, "End follows"), "%s",
          "scrolled back 15 lines");
    tui_buf_free(&b);
    tui_app_free(&app);
}

/* Two tables on the table screen: side by side when both fit in half the
 * width, else stacked at full width. */
static void fake_table(tb_table *t, const char *title, int ncols, int nrows)
{
    memset(t, 0, sizeof *t);
    snprintf(t->title, sizeof t->title, "%s", title);
    t->ncols = ncols;
    t->nrows = nrows;
    t->cells = calloc((size_t)ncols * nrows, sizeof *t->cells);
    for (int c = 0; c < ncols; c++) {
        t->kinds[c] = TB_COL_SECONDS;
        snprintf(t->headers[c], sizeof t->headers[c], "Column %d (s)", c);
    }
    for (int i = 0; t->cells && i < ncols * nrows; i++)
        t->cells[i].num = 1.5 + i;
}

static void two_tables(void)
{
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    app.screen = SCR_TABLE;
    tui_buf b;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    fake_table(&app.tables[0], "Left", 2, 2);
    fake_table(&app.tables[1], "Right", 2, 2);
    app.ntables = 2;
    tui_draw(&app, &b);
    char row[1024];
    tui_buf_row(&b, 1, row, sizeof row);
    CHECK(strstr(row, "Left") && strstr(row, "Right"), "side by side: %s", row);
    tb_table_free(&app.tables[1]);
    fake_table(&app.tables[1], "Wide", 6, 2);
    tui_draw(&app, &b);
    tui_buf_row(&b, 1, row, sizeof row);
    CHECK(strstr(row, "Left") && !strstr(row, "Wide"), "stacked: %s", row);
    CHECK(screen_has(&b, "Wide") && screen_has(&b, "Column 5 (s)"), "%s", "the wide table whole below");
    tui_buf_free(&b);
    tui_app_free(&app);
}

/* `test_tui_draw nvml`: the panel's sampling against the stand-in NVML
 * (meson sets LD_LIBRARY_PATH and OMPI_COMM_WORLD_RANK=3): the stand-in
 * lists this process on GPU 0, which is the run (the root of the sampled
 * tree), so GPU 0 is rank 3's; GPU 1 is nobody's. */
static int nvml_sampling(void)
{
    static tui_res res;
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("TB_NVML_STANDIN_PID", pid, 1);
    CHECK(tui_res_tick(&res, 10.0, getpid(), 1, "/proc") == 1, "%s", "sample");
    CHECK(!res.nvml_msg[0] && res.ngpu == 2, "stand-in: %d GPUs, '%s'", res.ngpu, res.nvml_msg);
    CHECK(!strcmp(res.gpu[0].r.name, "Stand-in GPU A100-SXM4-80GB") && res.gpu[0].util.n == 1 &&
              tui_series_at(&res.gpu[0].util, 0) == 87,
          "GPU 0 '%s'", res.gpu[0].r.name);
    CHECK(res.gpu[0].rank == 3 && res.gpu[0].rank_pid == (long)getpid(), "GPU 0: rank %d pid %ld", res.gpu[0].rank,
          res.gpu[0].rank_pid);
    CHECK(res.gpu[1].rank == -1 && res.gpu[1].rank_pid == 0, "GPU 1: rank %d", res.gpu[1].rank);
    CHECK(tui_res_tick(&res, 11.5, getpid(), 1, "/proc") == 1 && res.gpu[0].util.n == 2 && res.have_rates,
          "%s", "second sample");
    /* Not the run's process: the GPU is nobody's. */
    CHECK(tui_res_tick(&res, 13.0, 0, 0, "/proc") == 1 && res.gpu[0].rank == -1, "%s", "no run");
    tui_res_free(&res);
    return check_finish();
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "nvml"))
        return nvml_sampling();
    /* The built-in table first (the C locale's wcwidth knows no CJK), then
     * the C library's under a UTF-8 locale. */
    wide_text();
    if (setlocale(LC_CTYPE, "C.UTF-8"))
        wide_text();
    sweep_chart();
    files();
    help_and_log();
    two_tables();
    crafted_running();
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
    int first = tui_table(&b, (tui_rect){0, 0, 40, 5}, 2, hdr, cells, 4, right, 1, NULL);
    CHECK(first == 0, "%s", "see the condition");
    tui_buf_row(&b, 0, row, sizeof row);
    CHECK(!strncmp(row, "workers epoch_s", 15), "%s", "see the condition");
    tui_buf_row(&b, 2, row, sizeof row);
    CHECK(!strncmp(row, "4          3.10", 15), "%s", "see the condition");
    CHECK(b.c[2 * 40].attr & TUI_A_REVERSE, "%s", "see the condition");
    CHECK(!(b.c[1 * 40].attr & TUI_A_REVERSE), "%s", "see the condition");
    /* sel below the visible rows scrolls */
    first = tui_table(&b, (tui_rect){0, 0, 40, 3}, 2, hdr, cells, 4, right, 3, NULL);
    CHECK(first == 2, "%s", "see the condition");
    tui_buf_free(&b);

    /* Wider than the screen even narrowed: the columns scroll at their
     * natural widths, column 0 kept; '<' and '>' say where columns hide. */
    {
        CHECK(tui_buf_init(&b, 30, 3, 1) == 0, "%s", "buffer");
        const char *wh[] = {"config", "epoch_s", "images_per_s", "test_acc", "load_s", "train_s"};
        const char *wc[] = {"w=0", "12.50", "1234.5", "0.912", "1.25", "11.2"};
        int wr[] = {0, 1, 1, 1, 1, 1};
        int fc = 1;
        tui_buf_clear(&b);
        tui_table(&b, (tui_rect){0, 0, 30, 2}, 6, wh, wc, 1, wr, -1, &fc);
        tui_buf_row(&b, 0, row, sizeof row);
        CHECK(!strncmp(row, "config epoch_s images_per_s  >", 30) && fc == 1 && b.table_more,
              "scrolled table, first columns: '%s' (first %d, more %d)", row, fc, b.table_more);
        tui_buf_row(&b, 1, row, sizeof row);
        CHECK(!strncmp(row, "w=0      12.50       1234.5", 27), "scrolled table row: '%s'", row);
        fc = 3;
        tui_buf_clear(&b);
        tui_table(&b, (tui_rect){0, 0, 30, 2}, 6, wh, wc, 1, wr, -1, &fc);
        tui_buf_row(&b, 0, row, sizeof row);
        CHECK(!strncmp(row, "config<test_acc load_s train_s", 30) && fc == 3 && !b.table_more,
              "scrolled to the last columns: '%s' (first %d, more %d)", row, fc, b.table_more);
        tui_buf_row(&b, 1, row, sizeof row);
        CHECK(!strncmp(row, "w=0       0.912   1.25    11.2", 30), "scrolled table row: '%s'", row);
        /* A repeat range stays whole; its header is what narrows. */
        const char *rh[] = {"config", "images/s (median [min, max])"};
        const char *rc[] = {"w=0", "1473 [1402, 1498]"};
        int rr[] = {0, 1};
        tui_buf_clear(&b);
        tui_table(&b, (tui_rect){0, 0, 30, 2}, 2, rh, rc, 1, rr, -1, NULL);
        tui_buf_row(&b, 1, row, sizeof row);
        CHECK(strstr(row, "1473 [1402, 1498]") != NULL, "a number kept whole: '%s'", row);
        tui_buf_row(&b, 0, row, sizeof row);
        CHECK(!strncmp(row, "config images/s (median [m", 26), "its header cut instead: '%s'", row);
        /* Past the end: back to the last window that fills the width. */
        fc = 5;
        tui_buf_clear(&b);
        tui_table(&b, (tui_rect){0, 0, 30, 2}, 6, wh, wc, 1, wr, -1, &fc);
        CHECK(fc == 3 && !b.table_more, "first column %d after asking for 5", fc);
        /* Wide enough: nothing scrolls, nothing marked. */
        tui_buf_free(&b);
        CHECK(tui_buf_init(&b, 60, 3, 1) == 0, "%s", "buffer");
        fc = 4;
        tui_buf_clear(&b);
        tui_table(&b, (tui_rect){0, 0, 60, 2}, 6, wh, wc, 1, wr, -1, &fc);
        tui_buf_row(&b, 0, row, sizeof row);
        CHECK(fc == 1 && !b.table_more && !strncmp(row, "config epoch_s images_per_s test_acc load_s train_s", 51),
              "a table that fits: '%s' (first %d)", row, fc);
        tui_buf_free(&b);
    }

    /* Layout: panes inside the body, not overlapping, at both sizes. */
    const int sizes[2][2] = {{80, 24}, {200, 60}};
    for (int s = 0; s < 2; s++) {
        tui_layout l = tui_layout_compute(sizes[s][0], sizes[s][1]);
        CHECK(!l.too_small, "%s", "see the condition");
        CHECK(l.header.y == 0 && l.status.y == sizes[s][1] - 1 && l.body.h == sizes[s][1] - 2, "%s", "see the condition");
        tui_rect panes[] = {l.progress, l.configs, l.split, l.loss, l.acc, l.log, l.res};
        for (int i = 0; i < 7; i++) {
            CHECK(inside(panes[i], l.body), "%s", "see the condition");
            CHECK(panes[i].w >= 20 && panes[i].h >= 4, "%s", "see the condition");
            for (int k = i + 1; k < 7; k++)
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
        CHECK(!screen_has(&b, "phases:"), "%s", "no phase line without --profile");
        CHECK(screen_has(&b, "Resources (5)") && screen_has(&b, "Engine log"), "%dx%d: the resources panel beside the log",
              sizes[s][0], sizes[s][1]);
        tui_buf_free(&b);
    }
    /* --profile: the last epoch's phase breakdown under the bars. */
    end = json_tokener_parse("{\"event\":\"epoch_end\",\"epoch\":2,\"load_s\":0.5,\"train_s\":3.5,\"epoch_s\":4.0,"
                             "\"phases\":{\"data_s\":0.5,\"h2d_s\":0.0,\"forward_s\":1.0,\"backward_s\":2.0,"
                             "\"allreduce_s\":0.0,\"optimizer_s\":0.5}}");
    tui_live_event(&app.live, end);
    json_object_put(end);
    CHECK(app.live.nep == 2 && app.live.ep[1].has_phases && app.live.ep[1].phase_s[3] == 2.0, "%s", "phases parsed");
    for (int s = 0; s < 2; s++) {
        CHECK(tui_buf_init(&b, sizes[s][0], sizes[s][1], s == 0) == 0, "%s", "see the condition");
        tui_draw(&app, &b);
        CHECK(screen_has(&b, s ? "E2 phases %: data 12 fwd 25 bwd 50 opt 12" : "E2 phases %: data 12 fwd 25"),
              "phase line at %dx%d", sizes[s][0], sizes[s][1]);
        tui_buf_free(&b);
    }
    tui_app_free(&app);
    return check_finish();
}
