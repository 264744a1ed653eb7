/* The JSON that `trainbench results` and `export` read (lab/results.c,
 * table.c, export.c).  One input is written as a run's result.json and as a
 * sweep's plan.json, summary.json and configuration 01's result.json: each
 * reader looks at its own keys, so one object can drive them all.  Then the
 * listing, both table builders, the merge and every export format run.
 * Each input is also tried with every field of the wrong JSON type ("configs"
 * not an array, system.libraries not an object, null fields: issue 16). */
#include "fuzz/fuzz_json_mutate.h" // uses: fuzz_type_confusion
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write
#include "lab/export.h" // uses: TB_EXPORT_MD, TB_EXPORT_JSON, tb_export_string, tb_export_format
#include "lab/results.h" // uses: tb_results_list
#include "lab/table.h" // uses: tb_table, tb_table_from_runs, tb_table_from_sweep, tb_table_merge, tb_table_free

static void export_all(const tb_table *t, int n)
{
    for (int fmt = TB_EXPORT_MD; fmt <= TB_EXPORT_JSON; fmt++)
        free(tb_export_string(t, n, (tb_export_format)fmt));
}

static void read_all(const uint8_t *data, size_t size)
{
    static const char *const dirs[] = {"runs", "runs/a", "runs/s", "runs/s/01"};
    static const char *const files[] = {"runs/a/result.json", "runs/s/plan.json", "runs/s/summary.json",
                                        "runs/s/01/result.json"};
    char path[600];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        fuzz_path(path, sizeof path, dirs[i]);
        mkdir(path, 0700);
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        fuzz_path(path, sizeof path, files[i]);
        fuzz_write(path, data, size);
    }

    char runs[600], run[600], sweep[600];
    fuzz_path(runs, sizeof runs, "runs");
    fuzz_path(run, sizeof run, "runs/a");
    fuzz_path(sweep, sizeof sweep, "runs/s");
    FILE *devnull = fopen("/dev/null", "w");
    if (!devnull)
        abort();
    tb_results_list(runs, devnull);
    fclose(devnull);

    tb_table t[2];
    char *run_dirs[] = {run};
    int have_run = tb_table_from_runs(run_dirs, 1, &t[0]) == 0;
    if (have_run)
        export_all(&t[0], 1);
    int have_sweep = tb_table_from_sweep(sweep, &t[1]) == 0;
    if (have_sweep) {
        export_all(&t[1], 1);
        tb_table merged;
        if (tb_table_merge(&t[1], 1, &merged) == 0)
            export_all(&merged, 1);
        tb_table_free(&merged);
    }
    /* The builders may leave partial state on failure; free releases it. */
    tb_table_free(&t[0]);
    tb_table_free(&t[1]);

    for (size_t i = sizeof files / sizeof files[0]; i-- > 0;) {
        fuzz_path(path, sizeof path, files[i]);
        unlink(path);
    }
    for (size_t i = sizeof dirs / sizeof dirs[0]; i-- > 0;) {
        fuzz_path(path, sizeof path, dirs[i]);
        rmdir(path);
    }
}

static void read_text(const char *text, void *ctx)
{
    (void)ctx;
    read_all((const uint8_t *)text, strlen(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_all(data, size);
    /* The mutations need the input as text; bytes after a NUL are left out. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    if (strlen(text) == size)
        fuzz_type_confusion(text, read_text, NULL);
    free(text);
    return 0;
}
