/* Failure in plain sight and results you can find (issue 18): wrapping, the
 * failure reason whole on the Results and Live screens, footnotes under a
 * table, newest first and the filter over fabricated result.json and
 * summary.json files, and the checks before launching. */
#include "tests/check.h" // uses: CHECK, check_finish

#include "core/error.h" // uses: tb_last_error

#include "lab/results.h" // uses: tb_results_match, tb_results_list_filtered
#include "spec/options.h" // uses: tb_train_config_defaults, tb_train_config, tb_train_config_to_json
#include "tui/cells.h" // uses: tui_buf, tui_buf_row, tui_strwidth, tui_buf_init, tui_buf_free
#include "tui/failure.h" // uses: tui_live_read_errors, tui_live_failure
#include "tui/precheck.h" // uses: tui_slurm_gpus, tui_machine, tui_precheck
#include "tui/runview.h" // uses: tui_run_view, tui_run_view_load, tui_run_view_load_config, tui_rv_opt, ...
#include "tui/screens.h" // uses: tui_draw
#include "tui/state.h" // uses: tui_app, tui_app_init, tui_results_scan, SCR_RESULTS, tui_live_attach, ...
#include "tui/wrap.h" // uses: tui_span, tui_wrap

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int screen_has(const tui_buf *b, const char *text)
{
    char row[2048];
    for (int y = 0; y < b->h; y++) {
        tui_buf_row(b, y, row, sizeof row);
        if (strstr(row, text))
            return 1;
    }
    return 0;
}

static void dump(const tui_buf *b)
{
    char row[2048];
    for (int y = 0; y < b->h; y++) {
        tui_buf_row(b, y, row, sizeof row);
        fprintf(stderr, "|%s|\n", row);
    }
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mkdir(dir, 0755);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* The lines tui_wrap makes, joined with '|'. */
static void wrapped(const char *s, int w, char *out, size_t size)
{
    tui_span sp[32];
    int n = tui_wrap(s, w, sp, 32);
    out[0] = '\0';
    for (int i = 0; i < n && i < 32; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%.*s", i ? "|" : "", sp[i].len, s + sp[i].off);
    }
}

static void wrap(void)
{
    char got[512];
    wrapped("abc def ghi", 7, got, sizeof got);
    CHECK(!strcmp(got, "abc def|ghi"), "at blanks: %s", got);
    wrapped("abcdefghij", 4, got, sizeof got);
    CHECK(!strcmp(got, "abcd|efgh|ij"), "a word longer than a line: %s", got);
    wrapped("one\ntwo three", 20, got, sizeof got);
    CHECK(!strcmp(got, "one|two three"), "newlines: %s", got);
    wrapped("\xc3\xa9\xc3\xa9\xc3\xa9", 2, got, sizeof got); /* never half a character */
    CHECK(!strcmp(got, "\xc3\xa9\xc3\xa9|\xc3\xa9"), "UTF-8: %s", got);
    wrapped("\xe6\xbc\xa2\xe6\xbc\xa2", 1, got, sizeof got); /* wider than the line: one a line, no endless loop */
    CHECK(!strcmp(got, "\xe6\xbc\xa2|\xe6\xbc\xa2"), "wide characters: %s", got);
    const char *why = "dataset fashion-mnist: file train-images-idx3-ubyte[.gz] not found in /does/not/exist; pass "
                      "--data-dir DIR naming the folder that holds it";
    tui_span sp[16];
    int n = tui_wrap(why, 30, sp, 16), total = 0;
    CHECK(n == tui_wrap(why, 30, NULL, 0) && n > 3, "count without spans: %d", n);
    for (int i = 0; i < n; i++) {
        char line[64];
        snprintf(line, sizeof line, "%.*s", sp[i].len, why + sp[i].off);
        CHECK(tui_strwidth(line) <= 30, "line %d too wide: %s", i, line);
        total += sp[i].len;
    }
    /* Nothing lost: only the blanks at the breaks. */
    CHECK(total + n - 1 == (int)strlen(why), "kept %d of %zu bytes", total + n - 1, strlen(why));
}

static void match(void)
{
    const char *f[] = {"20261202-160000-lab2-c3-workers", "lab2-c3-workers", "failed", "sweep"};
    CHECK(tb_results_match(NULL, f, 4) && tb_results_match("", f, 4), "%s", "no filter keeps all");
    CHECK(tb_results_match("C3-WORK", f, 4), "%s", "any case, in the preset");
    CHECK(tb_results_match("fail", f, 4) && tb_results_match("sweep", f, 4), "%s", "status and kind");
    CHECK(!tb_results_match("resnet", f, 4), "%s", "no field holds it");
    const char *g[] = {NULL, "resnet18-cifar", NULL, "run"};
    CHECK(tb_results_match("resnet18", g, 4), "%s", "NULL fields skipped");
}

static const char *const WHY = "cudaErrorInsufficientDriver: CUDA driver version is insufficient for CUDA runtime "
                               "version; install the driver that CUDA 13 needs or run with --device cpu END-OF-REASON";

/* A folder of runs: two failed ones with times in the other order than
 * their names, one without a time, one completed sweep with a failed
 * configuration. */
static void fabricate(const char *tmp)
{
    char dir[1024], text[1024];
    snprintf(dir, sizeof dir, "%s/a-old", tmp);
    snprintf(text, sizeof text,
             "{\"status\":\"failed\",\"started_at\":1000,\"error\":\"%s\",\"config\":{\"model\":\"resnet18-cifar\","
             "\"epochs\":1},\"summary\":{\"epochs_completed\":0}}",
             WHY);
    write_file(dir, "result.json", text);
    snprintf(dir, sizeof dir, "%s/b-new", tmp);
    write_file(dir, "result.json",
               "{\"status\":\"completed\",\"started_at\":3000,\"config\":{\"model\":\"resnet50\",\"epochs\":1},"
               "\"summary\":{\"epochs_completed\":1,\"final_test_acc\":50}}");
    snprintf(dir, sizeof dir, "%s/c-notime", tmp);
    write_file(dir, "result.json", "{\"status\":\"completed\",\"config\":{\"model\":\"resnet34\"}}");
    snprintf(dir, sizeof dir, "%s/0-sweep", tmp);
    write_file(dir, "plan.json", "{\"preset\":\"lab2-c3-workers\",\"scale\":\"smoke\",\"configs\":[]}");
    write_file(dir, "summary.json",
               "{\"status\":\"failed\",\"started_at\":2000,\"stopped\":\"stopped: the first 2 configurations failed the "
               "same way: no data\",\"counts\":{\"total\":2},\"configs\":[{\"id\":\"01-a\",\"status\":\"completed\"},"
               "{\"id\":\"02-b\",\"status\":\"failed\",\"error\":\"not found in /does/not/exist/at/all\"}]}");
}

static void results(const char *tmp)
{
    static tui_app app;
    CHECK(tui_app_init(&app, tmp, NULL) == 0, "%s", "init");
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 4, "results: %d", app.nresults);
    /* Newest first by the recorded time, not by the folder name. */
    const char *want[] = {"b-new", "0-sweep", "a-old", "c-notime"};
    for (int i = 0; i < 4 && i < app.nresults; i++)
        CHECK(!strcmp(app.results[i].name, want[i]), "entry %d: %s, want %s", i, app.results[i].name, want[i]);
    CHECK(app.nresults > 1 && !strcmp(app.results[1].error, "02-b: not found in /does/not/exist/at/all"),
          "the sweep's first failure: %s", app.nresults > 1 ? app.results[1].error : "");

    /* The failed run's reason whole under the list, at 80 columns. */
    app.screen = SCR_RESULTS;
    app.rsel = 2;
    tui_buf b;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    int whole = screen_has(&b, "Failed:") && screen_has(&b, "cudaErrorInsufficientDriver") &&
                screen_has(&b, "END-OF-REASON") && screen_has(&b, "--device cpu");
    CHECK(whole, "%s", "the reason whole on the Results screen");
    if (!whole)
        dump(&b);

    /* The filter: status, any case; the preset; nothing. */
    snprintf(app.filter, sizeof app.filter, "FAILED");
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 2 && !strcmp(app.results[0].name, "0-sweep") &&
              !strcmp(app.results[1].name, "a-old"),
          "filter failed: %d", app.nresults);
    snprintf(app.filter, sizeof app.filter, "c3-workers");
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 1, "filter preset: %d", app.nresults);
    snprintf(app.filter, sizeof app.filter, "nothing-like-this");
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 0, "filter none: %d", app.nresults);
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "match"), "%s", "says that nothing matches");
    app.filter[0] = '\0';

    /* `trainbench results` in the same order, filtered the same way. */
    char path[1100];
    snprintf(path, sizeof path, "%s/list.txt", tmp);
    FILE *f = fopen(path, "w+");
    CHECK(f && tb_results_list_filtered(tmp, f, 0, NULL) == 0, "%s", "list");
    char text[8192] = "";
    size_t n = f && fseek(f, 0, SEEK_SET) == 0 ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    char *p0 = strstr(text, "b-new"), *p1 = strstr(text, "0-sweep"), *p2 = strstr(text, "a-old"),
         *p3 = strstr(text, "c-notime");
    CHECK(p0 && p1 && p2 && p3 && p0 < p1 && p1 < p2 && p2 < p3, "results order:\n%s", text);
    if (f)
        fclose(f);
    f = fopen(path, "w+");
    CHECK(f && tb_results_list_filtered(tmp, f, 1, "resnet5") == 0, "%s", "list --json filtered");
    n = f && fseek(f, 0, SEEK_SET) == 0 ? fread(text, 1, sizeof text - 1, f) : 0;
    text[n] = '\0';
    CHECK(strstr(text, "b-new") && !strstr(text, "a-old") && !strstr(text, "0-sweep"), "filtered json:\n%s", text);
    if (f)
        fclose(f);

    /* Live: a sweep that stopped says why, whole; while its followed
     * configuration failed, that configuration's reason. */
    snprintf(path, sizeof path, "%s/0-sweep", tmp);
    tui_live_attach(&app.live, path, 0, 0);
    tui_live_poll(&app.live);
    tui_live_read_errors(&app.live);
    char why[1200];
    CHECK(app.live.nconfigs == 2 && !strcmp(app.live.configs[1].error, "not found in /does/not/exist/at/all"),
          "errors read: %d", app.live.nconfigs);
    CHECK(tui_live_failure(&app.live, why, sizeof why) && strstr(why, "not found in /does/not/exist/at/all"),
          "followed failure: %s", why);
    app.live.configs[1].error[0] = '\0';
    CHECK(tui_live_failure(&app.live, why, sizeof why) && strstr(why, "the first 2 configurations failed"),
          "stop reason: %s", why);
    snprintf(app.live.configs[1].error, sizeof app.live.configs[1].error, "%s", WHY);
    app.screen = SCR_LIVE;
    tui_draw(&app, &b);
    whole = screen_has(&b, "Why it failed") && screen_has(&b, "cudaErrorInsufficientDriver") &&
            screen_has(&b, "END-OF-REASON");
    CHECK(whole, "%s", "the reason whole on the Live screen");
    if (!whole)
        dump(&b);
    tui_buf_free(&b);
    tui_app_free(&app);
}

/* Footnotes under the table, whole and scrollable, not "N footnotes". */
static void footnotes(void)
{
    static tui_app app;
    CHECK(tui_app_init(&app, "/nonexistent-runs", NULL) == 0, "%s", "init");
    tb_table *t = &app.tables[0];
    memset(t, 0, sizeof *t);
    snprintf(t->title, sizeof t->title, "Workers");
    t->ncols = 2;
    t->nrows = 2;
    t->cells = calloc(4, sizeof *t->cells);
    for (int c = 0; c < 2; c++) {
        t->kinds[c] = TB_COL_SECONDS;
        snprintf(t->headers[c], sizeof t->headers[c], "Col %d", c);
    }
    t->notes = json_object_new_array();
    json_object_array_add(t->notes, json_object_new_string("Smoke scale: batch 2048 ran as 128 and gpus 4 as 1, so "
                                                           "the times say nothing about the full runs FIRST-NOTE-END"));
    for (int i = 0; i < 12; i++)
        json_object_array_add(t->notes, json_object_new_string(i == 11 ? "LAST-NOTE" : "another note"));
    app.ntables = 1;
    app.screen = SCR_TABLE;
    tui_buf b;
    CHECK(tui_buf_init(&b, 80, 24, 1) == 0, "%s", "buffer");
    tui_draw(&app, &b);
    int ok = screen_has(&b, "FIRST-NOTE-END") && screen_has(&b, "Notes") && !screen_has(&b, "(in the export)");
    CHECK(ok, "%s", "the first footnote whole under the table");
    if (!ok)
        dump(&b);
    CHECK(!screen_has(&b, "LAST-NOTE"), "%s", "13 notes do not all fit at 24 rows");
    app.note_scroll = 1000; /* PgDn past the end: the last lines */
    tui_draw(&app, &b);
    CHECK(screen_has(&b, "LAST-NOTE") && screen_has(&b, "Col 1"), "%s", "scrolled to the last note, table kept");
    tui_buf_free(&b);
    tui_app_free(&app);
}

static void precheck(const char *tmp)
{
    CHECK(tui_slurm_gpus("2", NULL) == 2 && tui_slurm_gpus(NULL, "0,1,3") == 3 && tui_slurm_gpus(NULL, NULL) == -1 &&
              tui_slurm_gpus("x", NULL) == -1 && tui_slurm_gpus("", "") == -1,
          "%s", "Slurm GPU counts");
    static tb_plan_entry e[3];
    tb_plan plan = {e, 3};
    for (int i = 0; i < 3; i++) {
        tb_train_config_defaults(&e[i].cfg);
        snprintf(e[i].cfg.dataset, sizeof e[i].cfg.dataset, "fashion-mnist");
        snprintf(e[i].cfg.data_dir, sizeof e[i].cfg.data_dir, "/does/not/exist");
        snprintf(e[i].cfg.device, sizeof e[i].cfg.device, "cpu");
        e[i].cfg.gpus = 1;
    }
    tui_machine none = {0, -1, "no NVIDIA GPU (NVML not found)"}, two = {2, -1, ""}, alloc = {8, 2, ""};
    char out[4096];
    CHECK(tui_precheck(&plan, &two, out, sizeof out) == 1 && strstr(out, "data-dir /does/not/exist: no such folder") &&
              !strchr(out, '\n'),
          "missing data folder, said once: %s", out);
    for (int i = 0; i < 3; i++)
        snprintf(e[i].cfg.data_dir, sizeof e[i].cfg.data_dir, "%s", tmp);
    CHECK(tui_precheck(&plan, &none, out, sizeof out) == 0 && !out[0], "cpu, folder there: %s", out);
    snprintf(e[2].cfg.device, sizeof e[2].cfg.device, "cuda");
    CHECK(tui_precheck(&plan, &none, out, sizeof out) == 1 && strstr(out, "device cuda: this machine has no NVIDIA GPU"),
          "cuda without a GPU: %s", out);
    e[2].cfg.gpus = 2;
    CHECK(tui_precheck(&plan, &two, out, sizeof out) == 0, "2 GPUs on a 2-GPU machine: %s", out);
    e[2].cfg.gpus = 4;
    CHECK(tui_precheck(&plan, &two, out, sizeof out) == 1 && strstr(out, "gpus 4: this machine has 2 GPUs"),
          "more GPUs than the machine: %s", out);
    CHECK(tui_precheck(&plan, &alloc, out, sizeof out) == 1 && strstr(out, "gpus 4: the Slurm allocation has 2 GPUs"),
          "more GPUs than the allocation: %s", out);
    snprintf(e[0].cfg.dataset, sizeof e[0].cfg.dataset, "synthetic");
    snprintf(e[0].cfg.data_dir, sizeof e[0].cfg.data_dir, "/does/not/exist");
    snprintf(e[1].cfg.dataset, sizeof e[1].cfg.dataset, "packed:/does/not/exist.tbpack");
    CHECK(tui_precheck(&plan, &alloc, out, sizeof out) == 2 && strstr(out, "no such file") && !strstr(out, "data-dir"),
          "synthetic needs no folder; a packed file must exist: %s", out);
}

/* A loose run's result.json: the default configuration but batch_size and
 * lr, two epochs with resource readings. */
static void fake_run(const char *tmp, const char *name, double lr, double started, const char *error)
{
    tb_train_config c;
    tb_train_config_defaults(&c);
    c.batch_size = 7;
    c.lr = lr;
    struct json_object *cj = tb_train_config_to_json(&c);
    char text[8192], dir[1024];
    snprintf(text, sizeof text,
             "{\"status\":\"%s\",\"started_at\":%.0f,%s%s%s\"config\":%s,\"summary\":{\"final_test_acc\":%.1f,"
             "\"avg_epoch_s\":1.5},\"epochs\":[{\"epoch\":1,\"train_loss\":2.0,\"test_acc\":30,\"rss_bytes\":2e8},"
             "{\"epoch\":2,\"train_loss\":1.0,\"test_acc\":%.1f,\"rss_bytes\":2.1e8,\"gpu_util_mean\":87}]}",
             error ? "failed" : "completed", started, error ? "\"error\":\"" : "", error ? error : "", error ? "\"," : "",
             json_object_to_json_string(cj), 40 + lr * 100, 40 + lr * 100);
    json_object_put(cj);
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    write_file(dir, "result.json", text);
}

/* Enter on a run: its configuration (what differs marked), per-epoch
 * figures with resource readings, its log; two runs compared. */
static void open_and_compare(void)
{
    char tmp[] = "/tmp/tui-open-XXXXXX", dir[1024];
    CHECK(mkdtemp(tmp) != NULL, "%s", "mkdtemp");
    fake_run(tmp, "20261202-160000-train-with-a-long-name-A", 0.1, 1000, NULL);
    fake_run(tmp, "20261202-160000-train-with-a-long-name-B", 0.05, 2000, "NaN loss at epoch 3: lower the lr");
    static tui_run_view v;
    snprintf(dir, sizeof dir, "%s/20261202-160000-train-with-a-long-name-A", tmp);
    CHECK(tui_run_view_load(&v, dir, "20261202-160000-train-with-a-long-name-A", NULL, 0, NULL) == 0, "load: %s",
          tb_last_error());
    int ndiff = 0, bs = 0;
    for (int i = 0; i < v.nopts; i++) {
        ndiff += v.opts[i].differs;
        bs |= v.opts[i].differs && !strcmp(v.opts[i].key, "batch_size") && !strcmp(v.opts[i].value, "7");
    }
    CHECK(bs && ndiff == 1, "differs from the defaults: batch_size only (%d)", ndiff);
    CHECK(v.nep == 2 && v.ep[1].test_acc == 50 && v.ep[1].gpu_util == 87 && v.ep[0].rss_bytes == 2e8,
          "epochs: %d", v.nep);

    /* A sweep's configuration: differs from the preset by its swept value,
     * the --set and smoke's substitution; its log is read. */
    snprintf(dir, sizeof dir, "%s/sw", tmp);
    write_file(dir, "plan.json",
               "{\"preset\":\"p\",\"scale\":\"smoke\",\"sets\":[\"num-workers=2\"],\"configs\":[{\"id\":\"01-lr-0.1\","
               "\"params\":{\"lr\":\"0.1\"},\"substitutions\":[\"gpus: 4 -> 1\"]},{\"id\":\"../escape\"}]}");
    write_file(dir, "01-lr-0.1.log", "first line\nprogress 10%\rprogress 100%\nlast log line\n");
    snprintf(dir, sizeof dir, "%s/sw/01-lr-0.1", tmp);
    write_file(dir, "result.json", "{\"status\":\"completed\",\"config\":{\"model\":\"m\",\"lr\":0.1,\"gpus\":1,"
                                   "\"num_workers\":2,\"epochs\":1}}");
    snprintf(dir, sizeof dir, "%s/sw", tmp);
    int n = 0;
    CHECK(tui_run_view_load_config(&v, dir, 0, &n) == 0 && n == 2, "config: %s", tb_last_error());
    int lr = 0, gpus = 0, nw = 0, model = 0;
    for (int i = 0; i < v.nopts; i++) {
        const tui_rv_opt *o = &v.opts[i];
        lr |= !strcmp(o->key, "lr") && o->differs;
        gpus |= !strcmp(o->key, "gpus") && o->differs;
        nw |= !strcmp(o->key, "num_workers") && o->differs;
        model |= !strcmp(o->key, "model") && o->differs;
    }
    CHECK(lr && gpus && nw && !model, "differs from the preset: lr %d gpus %d num_workers %d model %d", lr, gpus, nw,
          model);
    CHECK(!strncmp(v.name, "sw/01-lr-0.1", 12) && v.nlog == 3 && !strcmp(v.log[1], "progress 100%") &&
              !strcmp(v.log[2], "last log line"),
          "name %s, log %d", v.name, v.nlog);
    CHECK(tui_run_view_load_config(&v, dir, 1, &n) == -1 && strstr(tb_last_error(), "not a folder name"),
          "an id that leaves the sweep: %s", tb_last_error());

    static tui_app app;
    CHECK(tui_app_init(&app, tmp, NULL) == 0, "%s", "init");
    CHECK(tui_results_scan(&app) == 0 && app.nresults == 3, "results: %d", app.nresults);
    tui_buf b;
    CHECK(tui_buf_init(&b, 100, 30, 1) == 0, "%s", "buffer");
    /* The failed run B (newest) opened: the reason, the differing option, the readings. */
    app.rsel = 0;
    CHECK(!strcmp(app.results[0].name, "20261202-160000-train-with-a-long-name-B") && tui_view_open(&app, 0) == 0,
          "open: %s", tb_last_error());
    app.screen = SCR_RUN;
    tui_draw(&app, &b);
    int ok = screen_has(&b, "20261202-160000-train-with-a-long-name-B") && screen_has(&b, "NaN loss at epoch 3") &&
             screen_has(&b, "*batch_size") && screen_has(&b, "Per epoch") && screen_has(&b, "RSS MB") &&
             screen_has(&b, " 210");
    CHECK(ok, "%s", "the Run screen");
    if (!ok)
        dump(&b);
    /* Marked A and B compared: full names, lr differs, the figures. */
    app.nmarks = 0;
    for (int i = 0; i < 2; i++) {
        app.rsel = i;
        CHECK(tui_mark_toggle(&app) == 1 && tui_is_marked(&app, i), "mark %d", i);
    }
    app.rsel = 2;
    CHECK(tui_compare_open(&app) == 0 && app.ncmp == 2, "compare: %s", tb_last_error());
    char keys[8][48];
    CHECK(tui_compare_differ(app.cmp, app.ncmp, keys, 8) == 1 && !strcmp(keys[0], "lr"), "%s", "only lr differs");
    app.screen = SCR_COMPARE;
    tui_draw(&app, &b);
    ok = screen_has(&b, "#1 20261202-160000-train-with-a-long-name-B") &&
         screen_has(&b, "#2 20261202-160000-train-with-a-long-name-A") && screen_has(&b, "lr ") &&
         screen_has(&b, "final test acc %") && screen_has(&b, "45.00") && screen_has(&b, "50.00");
    CHECK(ok, "%s", "the Compare screen");
    if (!ok)
        dump(&b);
    app.rsel = 0;
    CHECK(tui_mark_toggle(&app) == 0 && app.nmarks == 1, "%s", "unmark");
    tui_buf_free(&b);
    tui_views_free(&app);
    tui_app_free(&app);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "%s", "cleanup");
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    char tmp[] = "/tmp/tui-results-XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "%s", "mkdtemp");
    wrap();
    match();
    fabricate(tmp);
    results(tmp);
    footnotes();
    precheck(tmp);
    open_and_compare();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "%s", "cleanup");
    return check_finish();
}
