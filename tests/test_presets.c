/* Presets, sweep expansion and derived figures.
 *
 * The derived figures are checked against the labs' own numbers, computed by
 * hand (shared/labs): the ImageNet scaling table (004), Lab 5's strong and
 * weak scaling (000), the multi-GPU report's bandwidth formula (003) and
 * Lab 2's C5 epoch (001). */
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish
#include "tb_config.h"
#include "core/error.h" // uses: tb_last_error
#include "lab/export.h" // uses: tb_export_string, TB_EXPORT_MD, TB_EXPORT_CSV, TB_EXPORT_JSON
#include "lab/preset.h" // uses: tb_preset, tb_preset_load, tb_plan, tb_plan_expand, tb_plan_free, tb_plan_entry, ...
#include "lab/sweep.h" // uses: tb_plan_same_as, tb_plan_entry_args
#include "lab/table.h" // uses: tb_cell, tb_cell_format, TB_COL_COUNT, TB_COL_EFFIC, TB_COL_SECONDS, tb_table, ...
#include "rundir/derived.h" // uses: tb_scaling_efficiency, tb_speedup, tb_weak_speedup, tb_allreduce_bandwidth, ...
#include "spec/options.h" // uses: tb_option, tb_train_options, tb_option_spell, TB_SPELL_KEY, ...

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* Writes text to a preset file in the temporary folder and loads it. */
static int load_text(const char *name, const char *text, tb_preset *p)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return -2;
    fputs(text, f);
    fclose(f);
    return tb_preset_load(path, p);
}

#define HEAD "[preset]\ntitle = t\nlab = l\nquestion = q\n"
#define TABLE "[table]\ncolumns = num_workers, train_s\n"

/* Loading must fail with a message containing every fragment. */
static void expect_error(const char *name, const char *text, const char *frag1, const char *frag2)
{
    tb_preset *p = calloc(1, sizeof *p);
    int rc = load_text(name, text, p);
    const char *msg = tb_last_error();
    CHECK(rc == -1, "%s: loading should fail (rc %d)", name, rc);
    CHECK(strstr(msg, frag1) != NULL, "%s: message lacks '%s': %s", name, frag1, msg);
    CHECK(!frag2 || strstr(msg, frag2) != NULL, "%s: message lacks '%s': %s", name, frag2, msg);
    free(p);
}

static void test_derived(void)
{
    /* ImageNet ResNet-50 (004): T1 = 129686 s; the lab's efficiency column. */
    const double t[] = {65752, 33216, 17104, 8914, 4765, 2640};
    const double n[] = {2, 4, 8, 16, 32, 64};
    const double want[] = {98.62, 97.61, 94.78, 90.93, 85.05, 76.76};
    for (int i = 0; i < 6; i++) {
        double e = tb_scaling_efficiency(129686, t[i], n[i]);
        char buf[32];
        snprintf(buf, sizeof buf, "%.2f", e);
        CHECK(fabs(atof(buf) - want[i]) < 1e-9, "efficiency on %g GPUs: %s, the lab says %.2f", n[i], buf, want[i]);
    }
    /* By hand: 129686 / (2 x 65752) x 100 = 98.6175... */
    CHECK_CLOSE(tb_scaling_efficiency(129686, 65752, 2), 98.61753254653851, 1e-12, "efficiency 2 GPUs");
    CHECK_CLOSE(tb_scaling_efficiency(1, 1, 1), 100, 1e-12, "efficiency of the baseline itself");

    /* Lab 5 (000): strong-scaling speedup 18.07 / 10.20 = 1.77; weak
     * 18.07 / (10.20 x 2) = 0.886 (the lab truncates to 0.88) and
     * 18.34 / (5.02 x 4) = 0.913 (0.91). */
    CHECK_CLOSE(tb_speedup(18.07, 10.20), 1.7715686274509804, 1e-12, "lab 5 strong speedup");
    CHECK_CLOSE(tb_weak_speedup(18.07, 1, 10.20, 2), 0.8857843137254902, 1e-12, "lab 5 weak speedup, 2 GPUs");
    CHECK_CLOSE(tb_weak_speedup(18.34, 1, 5.02, 4), 0.9133466135458167, 1e-12, "lab 5 weak speedup, 4 GPUs");
    /* Relative to a 2-GPU baseline, 4 GPUs are a ratio of 2. */
    CHECK_CLOSE(tb_weak_speedup(10.0, 2, 5.0, 4), 1.0, 1e-12, "weak speedup against a 2-GPU baseline");

    /* Multi-GPU report Q3 (003): 2 GPUs at 32 per GPU, 11.43 s of
     * communication; ResNet-18's 11,173,962 fp32 gradients are 44,695,848
     * bytes; 50,000 images / (32 x 2) = 782 all-reduces per epoch.
     * 2 x (1/2) x 44695848 x 782 / 11.43 = 3.0579e9 B/s (3.06 GB/s; the report prints 15.7, which its own times do not give). */
    CHECK_CLOSE(tb_allreduce_bandwidth(2, 44695848, 782, 11.43), 3057931158.0052495, 1e-12, "bandwidth 2 GPUs bs 32");
    /* 4 GPUs at 512: 25 all-reduces, 3.20 s: 2 x 3/4 x 44695848 x 25 / 3.20. */
    CHECK_CLOSE(tb_allreduce_bandwidth(4, 44695848, 25, 3.20), 523779468.75, 1e-12, "bandwidth 4 GPUs bs 512");
    CHECK(isnan(tb_allreduce_bandwidth(1, 44695848, 25, 3.2)), "one GPU has no all-reduce bandwidth");
    CHECK(isnan(tb_allreduce_bandwidth(2, 44695848, 25, NAN)), "missing comm time gives n/a");

    /* Lab 2 C5 (001): 50,000 images in a 19.38 s GPU epoch. */
    CHECK_CLOSE(tb_images_per_s(50000, 19.38), 2579.979360165119, 1e-12, "images/s");
    CHECK(isnan(tb_speedup(1, 0)) && isnan(tb_speedup(NAN, 1)), "bad times give n/a");

    char hms[32];
    tb_format_hms(129686, hms, sizeof hms);
    CHECK(!strcmp(hms, "36:01:26"), "h:m:s of 129686: %s", hms);
    tb_format_hms(2640, hms, sizeof hms);
    CHECK(!strcmp(hms, "00:44:00"), "h:m:s of 2640: %s", hms);

    /* Cell formatting: counts with separators, efficiency with %, n/a. */
    char out[64];
    tb_cell c = {.num = 11173962};
    tb_cell_format(&c, TB_COL_COUNT, 0, out, sizeof out);
    CHECK(!strcmp(out, "11,173,962"), "count: %s", out);
    tb_cell_format(&c, TB_COL_COUNT, 1, out, sizeof out);
    CHECK(!strcmp(out, "11173962"), "plain count: %s", out);
    tb_cell e = {.num = 98.6175};
    tb_cell_format(&e, TB_COL_EFFIC, 0, out, sizeof out);
    CHECK(!strcmp(out, "98.62%"), "efficiency: %s", out);
    tb_cell s1 = {.num = 0.4731}, s2 = {.num = 17.934}, na = {.num = NAN};
    tb_cell_format(&s1, TB_COL_SECONDS, 0, out, sizeof out);
    CHECK(!strcmp(out, "0.473"), "seconds under 1: %s", out);
    tb_cell_format(&s2, TB_COL_SECONDS, 0, out, sizeof out);
    CHECK(!strcmp(out, "17.93"), "seconds: %s", out);
    /* --repeat: the median, then [min, max] for people; the median alone in CSV. */
    tb_cell rep = {.num = 12.5, .has_range = 1, .lo = 0.75, .hi = 13.126};
    tb_cell_format(&rep, TB_COL_SECONDS, 0, out, sizeof out);
    CHECK(!strcmp(out, "12.50 [0.750, 13.13]"), "repeat range: %s", out);
    tb_cell_format(&rep, TB_COL_SECONDS, 1, out, sizeof out);
    CHECK(!strcmp(out, "12.50"), "plain repeat: %s", out);
    tb_cell_format(&na, TB_COL_SECONDS, 0, out, sizeof out);
    CHECK(!strcmp(out, "n/a"), "missing: %s", out);
}

static void test_errors(void)
{
    expect_error("section.ini", HEAD "[swep]\nnum_workers = 0, 4\n" TABLE, "section.ini:5", "did you mean [sweep]");
    expect_error("key.ini", HEAD "[run]\nnum_wokers = 4\n" TABLE, "key.ini:6: [run] num_wokers", "did you mean 'num_workers'");
    expect_error("value.ini", HEAD "[run]\nbatch_size = 0\n" TABLE, "value.ini:6: [run] batch_size",
                 "expected an integer from 1");
    expect_error("choice.ini", HEAD "[sweep]\noptimizer = sgd, rmsprop\n" TABLE, "choice.ini:6: [sweep] optimizer",
                 "expected one of sgd|sgd-nesterov");
    expect_error("empty.ini", HEAD "[sweep]\nnum_workers =\n" TABLE, "empty.ini:6: [sweep] num_workers", "empty sweep");
    expect_error("emptyitem.ini", HEAD "[sweep]\nnum_workers = 0, , 4\n" TABLE, "emptyitem.ini:6", "empty value");
    expect_error("presetkey.ini", HEAD "titel = x\n" TABLE, "presetkey.ini:5: [preset] titel", "did you mean 'title'");
    expect_error("column.ini", HEAD "[table]\ncolumns = num_workers, trian_s\n", "column.ini:6: [table] columns",
                 "did you mean 'train_s'");
    expect_error("twice.ini", HEAD "[run]\nepochs = 1\nepochs = 2\n" TABLE, "twice.ini:7: [run] epochs", "given twice");
    expect_error("zip.ini", HEAD "[sweep]\nmode = zip\ngpus = 1, 2\nbatch_size = 32\n" TABLE, "zip.ini:8",
                 "same length");
    expect_error("mode.ini", HEAD "[sweep]\nmode = zipped\n" TABLE, "mode.ini:6: [sweep] mode", "product");
    expect_error("nobase.ini", HEAD "[table]\ncolumns = gpus, speedup\n", "nobase.ini", "baseline");
    expect_error("runonly.ini", HEAD "[run]\nrun_dir = x\n" TABLE, "runonly.ini:6", "not allowed in a preset");
    expect_error("notitle.ini", "[preset]\nlab = l\nquestion = q\n" TABLE, "notitle.ini", "title is missing");
    expect_error("syntax.ini", HEAD "this is not ini\n" TABLE, "syntax.ini:5", "syntax error");
    expect_error("both.ini", HEAD "[run]\nnum_workers = 2\n[sweep]\nnum_workers = 0, 4\n" TABLE, "both.ini:6",
                 "also swept");
    expect_error("smokelist.ini", HEAD "[smoke]\nepochs = 1, 2\n" TABLE, "smokelist.ini", "only allowed for a swept");
    /* Pivot tables: the pivot must be swept, come with pivot_columns, and
     * name only swept values in brackets. */
    expect_error("pivotaxis.ini", HEAD "[sweep]\ngpus = 1, 2\n[table]\ncolumns = batch_size\npivot = optimizer\n"
                 "pivot_columns = train_s\n", "pivotaxis.ini:9: [table] pivot", "not swept");
    expect_error("pivotkey.ini", HEAD "[table]\ncolumns = gpus\npivot = gpu\n", "pivotkey.ini:7: [table] pivot",
                 "did you mean");
    expect_error("pivotcols.ini", HEAD "[sweep]\ngpus = 1, 2\n[table]\ncolumns = batch_size\npivot = gpus\n",
                 "pivotcols.ini:9: [table] pivot", "no pivot_columns");
    expect_error("pivotonly.ini", HEAD "[sweep]\ngpus = 1, 2\n[table]\ncolumns = batch_size\npivot = gpus\n"
                 "pivot_columns = train_s[1 8]\n", "pivotonly.ini:10: [table] pivot_columns", "8 is not one");
    expect_error("pivotbracket.ini", HEAD "[sweep]\ngpus = 1, 2\n[table]\ncolumns = batch_size\npivot = gpus\n"
                 "pivot_columns = train_s[1\n", "pivotbracket.ini:10: [table] pivot_columns", "id[VALUE ...]");
    expect_error("pivotincols.ini", HEAD "[table]\ncolumns = train_s[1]\n", "pivotincols.ini:6: [table] columns",
                 "only in pivot_columns");
    expect_error("pivotnopivot.ini", HEAD "[table]\ncolumns = gpus\npivot_columns = train_s\n",
                 "pivotnopivot.ini:7: [table] pivot_columns", "no pivot");
}

static void test_expand(void)
{
    tb_preset *p = calloc(1, sizeof *p);
    int rc = load_text("ok.ini",
                       HEAD "[run]\ndevice = cuda\nepochs = 5\n; a comment\n[sweep]\ngpus = 1, 4\n"
                            "batch_size = 32, 128,\n  512\n" TABLE,
                       p);
    CHECK(rc == 0, "valid preset: %s", tb_last_error());
    CHECK(p->naxes == 2 && p->axes[1].count == 3, "continuation line appends: %d values", p->axes[1].count);
    tb_plan plan;
    rc = tb_plan_expand(p, 0, &plan);
    CHECK(rc == 0 && plan.count == 6, "product of 2 x 3 is 6 configurations (%d): %s", plan.count, tb_last_error());
    if (rc == 0 && plan.count == 6) {
        /* The first axis varies slowest. */
        CHECK(plan.entries[0].cfg.gpus == 1 && plan.entries[0].cfg.batch_size == 32, "first configuration");
        CHECK(plan.entries[2].cfg.gpus == 1 && plan.entries[2].cfg.batch_size == 512, "third configuration");
        CHECK(plan.entries[3].cfg.gpus == 4 && plan.entries[3].cfg.batch_size == 32, "fourth configuration");
        CHECK(!strcmp(plan.entries[3].id, "04-gpus-4-batch_size-32"), "id %s", plan.entries[3].id);
        CHECK(plan.entries[5].cfg.epochs == 5 && !strcmp(plan.entries[5].cfg.device, "cuda"), "[run] applies");
        tb_plan_free(&plan);
    }
    /* Smoke: cuda -> cpu, gpus -> 2 CPU ranks (1 without MPI), recorded;
     * nominal values kept. */
    rc = tb_plan_expand(p, 1, &plan);
    CHECK(rc == 0, "smoke expansion: %s", tb_last_error());
    if (rc == 0) {
        tb_plan_entry *e = &plan.entries[5];
        CHECK(!strcmp(e->cfg.device, "cpu") && e->cfg.gpus == (TB_HAVE_MPI ? 2 : 1) && e->cfg.epochs == 1,
              "smoke shrinks");
        CHECK(e->cfg.limit_train > 0 && e->cfg.limit_train <= 256 && e->cfg.batch_size <= 128, "smoke subset");
        CHECK(strstr(e->cfg.model, ":w4") != NULL, "smoke narrows the model: %s", e->cfg.model);
        const char *subs = json_object_to_json_string(e->substitutions);
        CHECK(strstr(subs, TB_HAVE_MPI ? "gpus: 4 -> 2" : "gpus: 4 -> 1") && strstr(subs, "device: cuda -> cpu"),
              "substitutions: %s", subs);
        CHECK(!strcmp(json_object_get_string(json_object_object_get(e->params, "gpus")), "4"), "nominal gpus kept");
        tb_plan_free(&plan);
    }
    /* --set: a swept key takes a new list, another key overrides [run]. */
    CHECK(tb_preset_set(p, "gpus=4") == 0, "--set gpus=4: %s", tb_last_error());
    CHECK(tb_preset_set(p, "num-workers=0") == 0, "--set num-workers=0: %s", tb_last_error());
    rc = tb_plan_expand(p, 0, &plan);
    CHECK(rc == 0 && plan.count == 3, "--set gpus=4 leaves 3 configurations (%d)", plan.count);
    if (rc == 0) {
        CHECK(plan.entries[0].cfg.gpus == 4 && plan.entries[0].cfg.num_workers == 0, "--set values apply");
        tb_plan_free(&plan);
    }
    CHECK(tb_preset_set(p, "num_wrkers=1") == -1 && strstr(tb_last_error(), "did you mean 'num_workers'"),
          "--set unknown key: %s", tb_last_error());
    CHECK(tb_preset_set(p, "epochs=0") == -1 && strstr(tb_last_error(), "--set epochs"), "--set bad value: %s",
          tb_last_error());
    CHECK(tb_preset_set(p, "epochs") == -1 && strstr(tb_last_error(), "KEY=VALUE"), "--set without =: %s",
          tb_last_error());
    CHECK(tb_preset_set(p, "epochs=1,2") == -1, "--set list for an unswept key");

    /* Zip pairs the i-th values. */
    rc = load_text("zip-ok.ini", HEAD "[sweep]\nmode = zip\ngpus = 1, 2, 4\nlr = 0.1, 0.2, 0.4\n" TABLE, p);
    CHECK(rc == 0, "zip preset: %s", tb_last_error());
    rc = rc ? rc : tb_plan_expand(p, 0, &plan);
    CHECK(rc == 0 && plan.count == 3, "zip gives 3 configurations (%d)", plan.count);
    if (rc == 0) {
        CHECK(plan.entries[2].cfg.gpus == 4 && fabs(plan.entries[2].cfg.lr - 0.4) < 1e-12, "zip pairs");
        tb_plan_free(&plan);
    }
    /* A [smoke] list replaces the swept list: the sweep it claims to
     * shorten is shorter (issue 17: 32, 128 ran 32, 128, 128, 128). */
    rc = load_text("smoke.ini", HEAD "[sweep]\nbatch_size = 32, 512, 2048\n[smoke]\nbatch_size = 8, 16\n" TABLE, p);
    rc = rc ? rc : tb_plan_expand(p, 1, &plan);
    CHECK(rc == 0, "smoke list: %s", tb_last_error());
    if (rc == 0) {
        CHECK(plan.count == 2, "smoke list shortens the axis to 2 configurations, got %d", plan.count);
        if (plan.count >= 2) {
            CHECK(plan.entries[0].cfg.batch_size == 8 && plan.entries[1].cfg.batch_size == 16, "smoke list: %d %d",
                  plan.entries[0].cfg.batch_size, plan.entries[1].cfg.batch_size);
            const char *subs = json_object_to_json_string(plan.entries[1].substitutions);
            CHECK(strstr(subs, "batch_size: 32, 512, 2048 -> 8, 16") != NULL, "the shortening is recorded: %s", subs);
            CHECK(!strcmp(plan.entries[1].id, "02-batch_size-16"), "named by what runs: %s", plan.entries[1].id);
        }
        tb_plan_free(&plan);
    }
    /* Zip keeps its pairs: the i-th smoke value replaces the i-th, the last repeating. */
    rc = load_text("smokezip.ini", HEAD "[sweep]\nmode = zip\nbatch_size = 32, 512, 2048\nlr = 0.1, 0.2, 0.3\n"
                                  "[smoke]\nbatch_size = 8, 16\n" TABLE, p);
    rc = rc ? rc : tb_plan_expand(p, 1, &plan);
    CHECK(rc == 0 && plan.count == 3, "smoke zip keeps 3 configurations: %s", tb_last_error());
    if (rc == 0) {
        CHECK(plan.count == 3 && plan.entries[0].cfg.batch_size == 8 && plan.entries[2].cfg.batch_size == 16,
              "smoke zip list");
        tb_plan_free(&plan);
    }
    /* A scaling sweep runs every configuration with the same per-rank
     * threads (the one-rank baseline took every core); others keep auto. */
    rc = load_text("threads.ini", HEAD "[sweep]\ngpus = 1, 2, 4\n" TABLE, p);
    rc = rc ? rc : tb_plan_expand(p, 1, &plan);
    CHECK(rc == 0 && plan.count == 3, "threads preset: %s", tb_last_error());
    for (int i = 0; rc == 0 && i < plan.count; i++)
        CHECK(plan.entries[i].cfg.threads == 1, "smoke scaling configuration %d: threads %d, want 1", i + 1,
              plan.entries[i].cfg.threads);
    if (rc == 0)
        tb_plan_free(&plan);
    rc = tb_plan_expand(p, 0, &plan);
    CHECK(rc == 0 && plan.entries[0].cfg.threads == 0, "full scale keeps --threads as given");
    if (rc == 0)
        tb_plan_free(&plan);
    free(p);
}

/* Writes a sweep directory as tb_sweep_run does, from a plan, with a
 * fabricated completed result.json (train_s = times[i]) for each
 * configuration that runs (not "same_as" an earlier one). */
static void write_sweep(const char *dir, const tb_preset *p, const tb_plan *plan, int smoke,
                        struct json_object *sets, const double *times)
{
    char path[800];
    mkdir(dir, 0755);
    struct json_object *pj = json_object_new_object(), *cfgs = json_object_new_array(), *sj = json_object_new_object();
    struct json_object *scfgs = json_object_new_array();
    json_object_object_add(pj, "preset", json_object_new_string(p->name));
    json_object_object_add(pj, "title", json_object_new_string(p->title));
    json_object_object_add(pj, "scale", json_object_new_string(smoke ? "smoke" : "full"));
    json_object_object_add(pj, "sets", sets);
    json_object_object_add(pj, "table", tb_preset_table_json(p));
    for (int i = 0; i < plan->count; i++) {
        const tb_plan_entry *e = &plan->entries[i];
        int first = smoke ? tb_plan_same_as(plan, i) : i;
        struct json_object *c = json_object_new_object(), *sc = json_object_new_object();
        json_object_object_add(c, "id", json_object_new_string(e->id));
        json_object_object_add(c, "label", json_object_new_string(e->label));
        json_object_object_add(c, "params", json_object_get(e->params));
        json_object_object_add(c, "substitutions", json_object_get(e->substitutions));
        json_object_object_add(c, "args", tb_plan_entry_args(e));
        if (first != i)
            json_object_object_add(c, "same_as", json_object_new_string(plan->entries[first].id));
        json_object_array_add(cfgs, c);
        json_object_object_add(sc, "status", json_object_new_string("completed"));
        json_object_array_add(scfgs, sc);
        if (first != i)
            continue;
        char rd[700];
        snprintf(rd, sizeof rd, "%s/%s", dir, e->id);
        mkdir(rd, 0755);
        struct json_object *r = json_object_new_object(), *cfg = json_object_new_object();
        struct json_object *eps = json_object_new_array(), *ep = json_object_new_object();
        json_object_object_add(r, "status", json_object_new_string("completed"));
        json_object_object_add(cfg, "gpus", json_object_new_int(e->cfg.gpus));
        json_object_object_add(cfg, "batch_size", json_object_new_int(e->cfg.batch_size));
        json_object_object_add(cfg, "lr", json_object_new_double(e->cfg.lr));
        json_object_object_add(r, "config", cfg);
        json_object_object_add(ep, "train_s", json_object_new_double(times[i]));
        json_object_array_add(eps, ep);
        json_object_object_add(r, "epochs", eps);
        snprintf(path, sizeof path, "%s/result.json", rd);
        json_object_to_file(path, r);
        json_object_put(r);
    }
    json_object_object_add(pj, "configs", cfgs);
    json_object_object_add(sj, "configs", scfgs);
    snprintf(path, sizeof path, "%s/plan.json", dir);
    json_object_to_file(path, pj);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    json_object_to_file(path, sj);
    json_object_put(pj);
    json_object_put(sj);
}

/* Issue 17: at smoke scale the substitutes (batch 2048 -> 128, 4 and 8 GPUs
 * -> 2 ranks) make configurations alike.  Each distinct one runs once and is
 * one row, labelled and computed by what ran, and beyond-linear scaling is
 * marked not meaningful; the sweep's --set overrides are in every format. */
static void test_smoke_table(void)
{
    tb_preset *p = calloc(1, sizeof *p);
    int rc = load_text("smoketable.ini",
                       HEAD "[run]\ndevice = cuda\nepochs = 1\nbatch_size = 2048\nlr_scaling = linear\n"
                            "[sweep]\nmode = zip\ngpus = 1, 4, 8\nlr = 0.1, 0.1, 0.2\n[smoke]\nlr = 0.1\n"
                            "[table]\ncolumns = gpus as GPUs, batch_size, global_batch, effective_lr as LR, train_s,\n"
                            "  speedup, efficiency\nbaseline = gpus=1\ntime = train_s\n",
                       p);
    CHECK(rc == 0, "smoke table preset: %s", tb_last_error());
    tb_plan plan;
    rc = rc ? rc : tb_plan_expand(p, 1, &plan);
    CHECK(rc == 0 && plan.count == 3, "smoke table plan: %s", tb_last_error());
    if (rc) {
        free(p);
        return;
    }
    /* gpus 4 and 8 both run as 2 ranks (1 without MPI) at batch 128, lr 0.1. */
    CHECK(tb_plan_same_as(&plan, 0) == 0 && tb_plan_same_as(&plan, 2) == (TB_HAVE_MPI ? 1 : 0),
          "configuration 3 is the same run as %d", tb_plan_same_as(&plan, 2));
    CHECK(tb_plan_same_as(&plan, 1) == (TB_HAVE_MPI ? 1 : 0), "configuration 2 runs on its own");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/smokesweep", tmpdir);
    struct json_object *sets = json_object_new_array();
    json_object_array_add(sets, json_object_new_string("epochs=1"));
    json_object_array_add(sets, json_object_new_int(5)); /* not a string: left out, not a crash */
    json_object_array_add(sets, json_object_new_string("num_workers=0"));
    const double times[] = {10, 2, 2};
    write_sweep(dir, p, &plan, 1, sets, times);
    tb_plan_free(&plan);
    tb_table t;
    rc = tb_table_from_sweep(dir, &t);
    CHECK(rc == 0, "smoke table: %s", tb_last_error());
    if (rc == 0 && TB_HAVE_MPI) {
        char *md = tb_export_string(&t, 1, TB_EXPORT_MD), *csv = tb_export_string(&t, 1, TB_EXPORT_CSV);
        char *js = tb_export_string(&t, 1, TB_EXPORT_JSON);
        const char *mds = md ? md : "(none)", *csvs = csv ? csv : "(none)";
        CHECK(t.nrows == 2, "one row per distinct run: %d rows\n%s", t.nrows, mds);
        /* What ran: 2 GPUs (not 4), batch 128 (not 2048), global 256, LR
         * 0.1 x 256 / 256 (not 0.1 x 8192 / 256 = 3.2). */
        CHECK(md && strstr(md, "| 1 | 128 | 128 | 0.05 | 10.00 | 1.00 | 100.00% |"), "baseline row:\n%s", mds);
        CHECK(md && strstr(md, "| 2 | 128 | 256 | 0.1 | 2.00 | 5.00* | 250.00%* |"),
              "the 2-rank row, effective and marked:\n%s", mds);
        CHECK(md && strstr(md, "Not meaningful at smoke scale"), "the marker's footnote:\n%s", mds);
        CHECK(md && strstr(md, "also stands for gpus=8 lr=0.2"), "the collapsed row's footnote:\n%s", mds);
        CHECK(md && strstr(md, "Overrides (--set): `epochs=1`, `num_workers=0`.\n"), "md overrides:\n%s", mds);
        CHECK(csv && strstr(csv, ",Overrides (--set)\n") && strstr(csv, ",250.00,epochs=1; num_workers=0\n"),
              "csv overrides, plain numbers:\n%s", csvs);
        struct json_object *j = js ? json_tokener_parse(js) : NULL, *tables = NULL, *over = NULL;
        if (j && json_object_object_get_ex(j, "tables", &tables))
            json_object_object_get_ex(json_object_array_get_idx(tables, 0), "overrides", &over);
        CHECK(over && json_object_array_length(over) == 2 &&
                  !strcmp(json_object_get_string(json_object_array_get_idx(over, 1)), "num_workers=0"),
              "json overrides: %s", js ? js : "(none)");
        json_object_put(j);
        free(md);
        free(csv);
        free(js);
    }
    tb_table_free(&t);
    /* Full scale keeps the nominal values and marks nothing. */
    rc = tb_plan_expand(p, 0, &plan);
    if (rc == 0) {
        snprintf(dir, sizeof dir, "%s/fullsweep", tmpdir);
        const double full[] = {10, 2, 1};
        write_sweep(dir, p, &plan, 0, json_object_new_array(), full);
        tb_plan_free(&plan);
        rc = tb_table_from_sweep(dir, &t);
        char *md = rc ? NULL : tb_export_string(&t, 1, TB_EXPORT_MD);
        CHECK(md && t.nrows == 3 && strstr(md, "| 4 | 2048 | 8192 | 3.2 | 2.00 | 5.00 | 125.00% |") &&
                  !strstr(md, "Overrides") && !strstr(md, "Smoke scale") && !strchr(md, '*'),
              "full-scale table:\n%s", md ? md : tb_last_error());
        free(md);
        tb_table_free(&t);
    }
    free(p);
}

/* Every shipped preset parses and expands at both scales. */
static void test_shipped(void)
{
    const char *root = getenv("SOURCE_ROOT");
    if (!root)
        return;
    const char *names[] = {"quickstart", "lab2-c2-time-split", "lab2-c3-workers", "lab2-c4-one-vs-four-workers",
                           "lab2-c5-cpu-vs-gpu", "lab2-c6-optimizers", "lab2-c7-batch-norm", "lab2-q3-params",
                           "lab2-profiler", "lab5-ddp-scaling", "hw5-q1-batch-size", "hw5-q2-speedup",
                           "hw5-q3-communication", "hw5-q4-large-batch", "imagenet-resnet50-scaling"};
    const int counts[] = {1, 1, 4, 2, 2, 5, 2, 2, 1, 15, 4, 12, 6, 6, 7};
    /* [smoke] batch_size = 32, 128 shortens Lab 5's and Q2's batch axis. */
    const int smoke_counts[] = {1, 1, 4, 2, 2, 5, 2, 2, 1, 6, 4, 6, 6, 6, 7};
    tb_preset *p = calloc(1, sizeof *p);
    for (int i = 0; i < 15; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/presets/%s.ini", root, names[i]);
        int rc = tb_preset_load(path, p);
        CHECK(rc == 0, "%s: %s", names[i], tb_last_error());
        /* The golden pivot sweeps in tests/data/export carry these presets'
         * [table]: they must not drift apart. */
        const char *golden = !strcmp(names[i], "hw5-q2-speedup")         ? "hw5-q2"
                             : !strcmp(names[i], "hw5-q3-communication") ? "hw5-q3"
                                                                         : NULL;
        if (golden && rc == 0) {
            snprintf(path, sizeof path, "%s/tests/data/export/%s/plan.json", root, golden);
            struct json_object *plan = json_object_from_file(path), *want = NULL, *have = tb_preset_table_json(p);
            CHECK(plan && json_object_object_get_ex(plan, "table", &want), "%s: %s", path, json_util_get_last_err());
            const char *keys[] = {"columns", "pivot", "baseline", "epoch", "time"};
            for (int k = 0; want && k < 5; k++) {
                struct json_object *a = NULL, *b = NULL;
                json_object_object_get_ex(want, keys[k], &a);
                json_object_object_get_ex(have, keys[k], &b);
                CHECK(json_object_equal(a, b), "%s: [table] %s differs from %s's; rerun make_hw5.py", names[i],
                      keys[k], path);
            }
            json_object_put(plan);
            json_object_put(have);
        }
        for (int smoke = 0; smoke < 2 && rc == 0; smoke++) {
            tb_plan plan;
            int er = tb_plan_expand(p, smoke, &plan);
            int want = smoke ? smoke_counts[i] : counts[i];
            CHECK(er == 0 && plan.count == want, "%s (smoke %d): %d configurations, want %d: %s", names[i], smoke,
                  plan.count, want, er ? tb_last_error() : "");
            if (er == 0)
                tb_plan_free(&plan);
        }
    }
    free(p);
}

/* The option table's side fields: what used to be lists beside it. */
static void test_option_table(void)
{
    /* The keys --resume let change before they were table fields. */
    static const char *const resume_keys[] = {"epochs",   "num_workers", "threads", "lr", "quiet", "run_dir",
                                              "runs_dir", "resume", "checkpoint", "checkpoint_every", "profile",
                                              "profile_layers", "rank_timeout", "data_dir", "save_weights",
                                              "repeat", "overlap", "bucket_mb", "trace", "worker_sweep",
                                              "worker_sweep_max", "epoch_lines", "average_skip"};
    static const char *const tui_keys[] = {"model", "dataset", "data_dir", "device", "num_workers", "batch_size",
                                           "optimizer", "lr", "lr_schedule", "epochs", "precision", "gpus"};
    int ntui = 0;
    for (const tb_option *o = tb_train_options(); o->name; o++) {
        char key[64];
        tb_option_spell(o->name, TB_SPELL_KEY, key, sizeof key);
        CHECK(o->help && o->help[0] && !strstr(o->help, "(default"), "--%s: help, without the default", o->name);
        int was = 0;
        for (size_t i = 0; i < sizeof resume_keys / sizeof *resume_keys; i++)
            was |= !strcmp(resume_keys[i], key);
        CHECK(tb_option_resume_ok(o) == was, "--%s: may change on resume: %d, was %d", o->name,
              tb_option_resume_ok(o), was);
        CHECK(tb_option_find_key(key) == o && tb_option_find(o->name) == o, "--%s found by key %s", o->name, key);
        /* Issue 18: every option a preset may set is on the Parameters
         * screen, the first twelve in their old places. */
        CHECK(!o->tui == !!o->per_invocation, "--%s: on the Parameters screen (place %d) unless per invocation",
              o->name, o->tui);
        if (o->tui) {
            ntui++;
            CHECK(o->tui > 12 || !strcmp(tui_keys[o->tui - 1], key), "--%s at Parameters place %d", o->name, o->tui);
            for (const tb_option *q = tb_train_options(); q->name; q++)
                CHECK(q == o || q->tui != o->tui, "--%s and --%s share place %d", o->name, q->name, o->tui);
        }
        CHECK(!o->chart.rank || (o->chart.metric && o->chart.title && o->chart.unit), "--%s: chart", o->name);
    }
    for (int place = 1; place <= ntui; place++) { /* 1..ntui, no gaps: the screen lists them in order */
        int found = 0;
        for (const tb_option *o = tb_train_options(); o->name; o++)
            found |= o->tui == place;
        CHECK(found, "no option at Parameters place %d of %d", place, ntui);
    }

    /* Spellings. */
    char out[64];
    CHECK(!strcmp(tb_option_spell("no-batch-norm", TB_SPELL_KEY, out, sizeof out), "batch_norm"), "%s", out);
    CHECK(!strcmp(tb_option_spell("num_of_workers", TB_SPELL_KEY, out, sizeof out), "num_workers"), "%s", out);
    CHECK(!strcmp(tb_option_spell("no-batch-norm", TB_SPELL_PRESET, out, sizeof out), "no_batch_norm"), "%s", out);
    CHECK(!strcmp(tb_option_spell("num_workers", TB_SPELL_FLAG, out, sizeof out), "num-workers"), "%s", out);
    CHECK(!strcmp(tb_option_spell("not_an_option", TB_SPELL_KEY, out, sizeof out), "not_an_option"), "%s", out);
    CHECK(tb_option_find_key("batch_norm") == tb_option_find("no-batch-norm"), "%s", "batch_norm key");
    CHECK(tb_option_find_key("no_batch_norm") == NULL && tb_option_find("batch_norm") == NULL, "%s",
          "a negated flag's name is no key, its key no flag");
    CHECK(tb_option_header("num_workers") && !strcmp(tb_option_header("num_workers"), "Workers"), "%s",
          "num_workers header");
    CHECK(tb_option_header("batch_norm") && !strcmp(tb_option_header("batch_norm"), "Batch norm"), "%s",
          "batch_norm header");
    CHECK(tb_option_header("momentum") == NULL, "%s", "momentum has no header");

    /* config.json round trip: everything but this invocation's own options. */
    tb_train_config c, back;
    tb_train_config_defaults(&c);
    const char *sets[][2] = {{"num-workers", "7"},    {"no-batch-norm", "true"}, {"lr", "0.025"},
                             {"seed", "123456789012"}, {"dataset", "synthetic"}, {"data-dir", "/d"},
                             {"save-weights", "true"}, {"run-dir", "/r"},        {"quiet", "true"}};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        CHECK(tb_option_set(&c, tb_option_find(sets[i][0]), sets[i][1]) == 0, "set %s", sets[i][0]);
    struct json_object *j = tb_train_config_to_json(&c);
    struct json_object *v;
    CHECK(json_object_object_get_ex(j, "batch_norm", &v) && json_object_is_type(v, json_type_boolean) &&
              !json_object_get_boolean(v),
          "%s", "batch_norm stored positively");
    CHECK(json_object_object_get_ex(j, "num_workers", &v) && json_object_is_type(v, json_type_int), "%s",
          "num_workers an int");
    tb_train_config_defaults(&back);
    CHECK(tb_train_config_from_json(&back, j, "config.json") == 0, "from_json: %s", tb_last_error());
    CHECK(back.num_workers == 7 && !back.batch_norm && back.lr == 0.025 && back.seed == 123456789012ull &&
              !strcmp(back.dataset, "synthetic") && !strcmp(back.data_dir, "/d") && back.save_weights,
          "%s", "options read back");
    CHECK(!back.run_dir[0] && !back.quiet, "%s", "run_dir and quiet belong to the invocation that wrote them");
    back.quiet = c.quiet;
    snprintf(back.run_dir, sizeof back.run_dir, "%s", c.run_dir);
    struct json_object *j2 = tb_train_config_to_json(&back);
    CHECK(!strcmp(json_object_to_json_string(j), json_object_to_json_string(j2)), "round trip: %s",
          json_object_to_json_string(j2));
    json_object_put(j2);
    json_object_object_add(j, "frobnicate", json_object_new_int(1));
    CHECK(tb_train_config_from_json(&back, j, "x/config.json") != 0 && strstr(tb_last_error(), "frobnicate"), "%s",
          "unknown key refused");
    json_object_put(j);
}

/* Issue 16: a key given twice under two names of one option is refused,
 * naming both lines; text that is not UTF-8 never reaches plan.json. */
static void test_aliases_and_utf8(void)
{
    expect_error("alias.ini", HEAD "[run]\nnum_workers = 2\nnum_of_workers = 4\n" TABLE,
                 "alias.ini:7: [run] num_of_workers", "line 6 has num_workers and line 7 has num_of_workers");
    expect_error("aliasdash.ini", HEAD "[run]\nnum-of-workers = 2\nnum_workers = 4\n" TABLE, "aliasdash.ini:7",
                 "line 6 has num-of-workers and line 7 has num_workers");
    expect_error("aliaspath.ini", HEAD "[run]\ndata_dir = /a\ndataset_path = /b\n" TABLE, "aliaspath.ini:7",
                 "two names of one option");
    expect_error("aliassweep.ini", HEAD "[sweep]\nnum_workers = 0, 2\nnum_of_workers = 4\n" TABLE, "aliassweep.ini:7",
                 "line 6 has num_workers");
    expect_error("aliassmoke.ini", HEAD "[sweep]\nnum_workers = 0, 2\n[smoke]\nnum_workers = 0\nnum_of_workers = 2\n"
                 TABLE, "aliassmoke.ini:9: [smoke]", "line 8 has num_workers");
    /* The same key in two sections is not a duplicate. */
    tb_preset *p = calloc(1, sizeof *p);
    CHECK(load_text("twosections.ini", HEAD "[run]\nnum_workers = 2\n[smoke]\nnum_of_workers = 0\n" TABLE, p) == 0,
          "one option in [run] and [smoke]: %s", tb_last_error());
    free(p);

    expect_error("utf8title.ini", "[preset]\ntitle = caf\xc3\nlab = l\nquestion = q\n" TABLE,
                 "utf8title.ini:2: [preset] title", "not valid UTF-8");
    expect_error("utf8note.ini", HEAD TABLE "note = \xed\xa0\x80 surrogate\n", "utf8note.ini:7: [table] note",
                 "not valid UTF-8");
    expect_error("utf8dir.ini", HEAD "[run]\ndata_dir = /data/\xff\n" TABLE, "utf8dir.ini:6: [run] data_dir",
                 "not valid UTF-8");
    expect_error("utf8over.ini", HEAD "[run]\nmodel = \xc0\xafresnet18\n" TABLE, "utf8over.ini:6", "not valid UTF-8");
    expect_error("bad\xfe.ini", HEAD TABLE, "not valid UTF-8", NULL);
    /* Valid UTF-8 is kept as it is. */
    p = calloc(1, sizeof *p);
    CHECK(load_text("utf8ok.ini", "[preset]\ntitle = caf\xc3\xa9 \xf0\x9f\x9a\x80\nlab = l\nquestion = q\n"
                    "[run]\ndata_dir = /data/\xe6\x97\xa5\n" TABLE, p) == 0 &&
              !strcmp(p->title, "caf\xc3\xa9 \xf0\x9f\x9a\x80"),
          "UTF-8 title and path accepted: %s", tb_last_error());
    free(p);
    tb_train_config c;
    tb_train_config_defaults(&c);
    const tb_option *dir = tb_option_find("run-dir");
    CHECK(tb_option_set(&c, dir, "runs/\xe2\x82\xac") == 0, "a UTF-8 --run-dir accepted: %s", tb_last_error());
    const char *bad[] = {"x\xff", "x\x80", "x\xc3", "\xc1\xbf", "\xe0\x80\xaf", "\xf4\x90\x80\x80", "\xed\xbf\xbf"};
    for (int i = 0; i < 7; i++)
        CHECK(tb_option_set(&c, dir, bad[i]) == -1 && strstr(tb_last_error(), "not valid UTF-8"),
              "invalid UTF-8 --run-dir #%d refused: %s", i, tb_last_error());
    CHECK(tb_option_set(&c, tb_option_find("dataset"), "packed:/x/\xff") == -1, "invalid UTF-8 packed:FILE refused");
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tb-presets-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_derived();
    test_errors();
    test_expand();
    test_shipped();
    test_smoke_table();
    test_option_table();
    test_aliases_and_utf8();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_finish();
}
