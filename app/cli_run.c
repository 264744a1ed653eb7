/* `trainbench run`, `results` and `export`: presets, sweeps and tables. */
#include "app/cli.h" // uses: tb_cli_run, tb_cli_results, tb_cli_export

#include "core/error.h" // uses: tb_last_error, tb_fail, tb_clear_error
#include "core/quote.h" // uses: tb_shell_quote
#include "lab/export.h" // uses: tb_export_format_parse, tb_export_format, tb_export_string, tb_text_write_atomic, ...
#include "lab/plan_filter.h" // uses: tb_plan_only
#include "lab/preset.h" // uses: tb_preset, tb_preset_resolve, tb_preset_load, tb_preset_set, tb_plan, ...
#include "lab/results.h" // uses: tb_results_list_filtered
#include "lab/sweep.h" // uses: tb_plan_entry_args, tb_plan_same_as, tb_sweep_options, tb_sweep_run
#include "lab/table.h" // uses: tb_table, tb_table_from_sweep, tb_table_merge, tb_table_free, tb_table_from_runs
#include "spec/options.h" // uses: tb_train_config, tb_train_config_defaults, tb_option_set, tb_option_find

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A directory flag checked as `trainbench train --runs-dir` checks it (valid
 * UTF-8, not too long): the sweep stores it in JSON and gives it to train. */
static int dir_ok(const char *flag, const char *v)
{
    tb_train_config scratch;
    tb_train_config_defaults(&scratch);
    if (tb_option_set(&scratch, tb_option_find("runs-dir"), v)) {
        char why[1024]; /* a copy: tb_fail writes over the message it would read */
        const char *colon = strstr(tb_last_error(), ": ");
        snprintf(why, sizeof why, "%s", colon ? colon + 2 : tb_last_error());
        return tb_fail("%s: %s", flag, why);
    }
    return 0;
}

static void run_help(FILE *f)
{
    fprintf(f, "usage: trainbench run PRESET [--set KEY=VALUE]... [--only KEY=VALUE]... [--scale smoke|full]\n"
               "                     [--runs-dir DIR] [--resume] [--sweep-dir DIR] [--stop-on-failure] [--keep-going]\n"
               "                     [--dry-run]\n\n"
               "Runs every configuration of a preset's sweep, each in its own run directory under\n"
               "RUNS/<timestamp>-<preset>/, with plan.json, summary.json and summary.md.\n\n"
               "  PRESET             a name from presets/ (lab2-c3-workers) or a path to an .ini file\n"
               "  --set KEY=VALUE    override a [run] option, or replace a swept list (--set gpus=1,2)\n"
               "  --only KEY=VALUE   run only the configurations with that value (--only gpus=8,16: either);\n"
               "                     repeat for several keys, all of which must hold\n"
               "  --scale smoke      CPU-sized: small subset, narrow model, few epochs, cuda->cpu, gpus->1\n"
               "  --runs-dir DIR     where sweep directories go (default runs)\n"
               "  --resume           continue the newest sweep of this preset; completed ones are skipped\n"
               "  --sweep-dir DIR    use (or, with --resume, continue) this sweep directory\n"
               "  --stop-on-failure  stop at the first failed or refused configuration\n"
               "  --keep-going       run every configuration even when the first two failed the same way\n"
               "                     (without it the sweep stops there: the rest would fail alike)\n"
               "  --dry-run          print the expanded plan and exit\n"
               "  --quiet            no progress lines and no table at the end (it is in summary.md)\n\n"
               "Exit status: 0 all completed, 1 some failed or were refused, 2 bad preset or usage,\n"
               "130 interrupted (finished configurations are kept; --resume continues).\n");
}

/* --flag VALUE or --flag=VALUE; NULL when argv[*i] is another flag.  A
 * missing or empty value is "" with the reason set: every caller refuses ""
 * and prints tb_last_error(), which must then say why (it said "unknown
 * error" for --runs-dir ""). */
static const char *flag_value(int argc, char **argv, int *i, const char *flag)
{
    size_t n = strlen(flag);
    if (strncmp(argv[*i], flag, n))
        return NULL;
    const char *v;
    if (argv[*i][n] == '=')
        v = argv[*i] + n + 1;
    else if (argv[*i][n])
        return NULL;
    else if (*i + 1 >= argc) {
        tb_fail("%s needs a value", flag);
        return "";
    } else
        v = argv[++*i];
    if (!*v)
        tb_fail("%s \"\": expected a non-empty value", flag);
    return v;
}

/* A word of the printed command line, quoted only where a shell needs it,
 * so the line can be pasted as it is (--batch-schedule=3:1024 5:2048). */
static void put_shell_word(const char *w)
{
    if (*w && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=,+-@%") == strlen(w)) {
        fputs(w, stdout);
        return;
    }
    char q[8192] = "";
    if (tb_shell_quote(q, sizeof q, w) == 0)
        fputs(q, stdout);
    else
        fputs("'(value too long to print)'", stdout);
}

int tb_cli_run(int argc, char **argv)
{
    const char *preset_arg = NULL, *scale = "full", *runs_dir = "runs", *sweep_dir = NULL;
    int resume = 0, stop = 0, dry = 0, nsets = 0, nonly = 0, quiet = 0, keep_going = 0;
    char **sets = calloc((size_t)argc + 1, sizeof *sets), **only = calloc((size_t)argc + 1, sizeof *only);
    if (!sets || !only) {
        free(sets);
        free(only);
        fprintf(stderr, "trainbench run: out of memory for %d arguments\n", argc);
        return 2;
    }
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        const char *v;
        tb_clear_error();
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            run_help(stdout);
            free(sets);
            free(only);
            return 0;
        } else if ((v = flag_value(argc, argv, &i, "--set"))) {
            if (!*v)
                goto usage;
            sets[nsets++] = (char *)v;
        } else if ((v = flag_value(argc, argv, &i, "--only"))) {
            if (!*v)
                goto usage;
            only[nonly++] = (char *)v;
        } else if ((v = flag_value(argc, argv, &i, "--scale"))) {
            if (strcmp(v, "smoke") && strcmp(v, "full")) {
                tb_fail("--scale %s: expected smoke or full", v);
                goto usage;
            }
            scale = v;
        } else if ((v = flag_value(argc, argv, &i, "--runs-dir"))) {
            if (!*v || dir_ok("--runs-dir", v))
                goto usage;
            runs_dir = v;
        } else if ((v = flag_value(argc, argv, &i, "--sweep-dir"))) {
            if (!*v || dir_ok("--sweep-dir", v))
                goto usage;
            sweep_dir = v;
        } else if (!strcmp(argv[i], "--resume"))
            resume = 1;
        else if (!strcmp(argv[i], "--stop-on-failure"))
            stop = 1;
        else if (!strcmp(argv[i], "--keep-going"))
            keep_going = 1;
        else if (!strcmp(argv[i], "--dry-run"))
            dry = 1;
        else if (!strcmp(argv[i], "--quiet"))
            quiet = 1;
        else if (argv[i][0] == '-') {
            tb_fail("unknown option '%s'; see trainbench run --help", argv[i]);
            goto usage;
        } else if (preset_arg) {
            tb_fail("one preset at a time ('%s' and '%s'); see trainbench run --help", preset_arg, argv[i]);
            goto usage;
        } else
            preset_arg = argv[i];
    }
    if (!preset_arg) {
        tb_fail("which preset? usage: trainbench run PRESET (the shipped ones are in presets/)");
        goto usage;
    }
    char path[PATH_MAX];
    tb_preset *p = calloc(1, sizeof *p);
    if (!p)
        tb_fail("out of memory for preset %s", preset_arg);
    if (!p || tb_preset_resolve(preset_arg, path, sizeof path) || tb_preset_load(path, p)) {
        free(p);
        goto usage;
    }
    for (int i = 0; i < nsets; i++)
        if (tb_preset_set(p, sets[i])) {
            free(p);
            goto usage;
        }
    tb_plan plan;
    int smoke = !strcmp(scale, "smoke");
    if (tb_plan_expand(p, smoke, &plan)) {
        free(p);
        goto usage;
    }
    if (tb_plan_only(p, (const char *const *)only, nonly, &plan)) {
        tb_plan_free(&plan);
        free(p);
        goto usage;
    }
    if (dry) {
        printf("Preset %s (%s): %s; %d configuration%s at %s scale%s\n", p->name, p->path, p->title, plan.count,
               plan.count == 1 ? "" : "s", scale, nonly ? " (--only)" : "");
        for (int i = 0; i < plan.count; i++) {
            const tb_plan_entry *e = &plan.entries[i];
            struct json_object *args = tb_plan_entry_args(e);
            printf("%s  %s\n", e->id, e->label);
            size_t ns = json_object_array_length(e->substitutions);
            for (size_t k = 0; k < ns; k++)
                printf("    smoke: %s\n", json_object_get_string(json_object_array_get_idx(e->substitutions, k)));
            int first = smoke ? tb_plan_same_as(&plan, i) : i;
            if (first != i)
                printf("    smoke: the same run as %s, not repeated\n", plan.entries[first].id);
            printf("    trainbench train");
            for (size_t k = 0; k < json_object_array_length(args); k++) {
                putchar(' ');
                put_shell_word(json_object_get_string(json_object_array_get_idx(args, k)));
            }
            printf("\n");
            json_object_put(args);
        }
        rc = 0;
    } else {
        char exe[PATH_MAX];
        ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (len <= 0) {
            tb_fail("cannot find the trainbench binary (/proc/self/exe) to run configurations with");
            tb_plan_free(&plan);
            free(p);
            goto usage;
        }
        exe[len] = '\0';
        tb_sweep_options o = {.runs_dir = runs_dir, .sweep_dir = sweep_dir, .resume = resume, .stop_on_failure = stop,
                              .smoke = smoke, .exe = exe, .sets = sets, .nsets = nsets, .quiet = quiet};
        o.only = only;
        o.nonly = nonly;
        o.keep_going = keep_going;
        rc = tb_sweep_run(p, &plan, &o);
    }
    tb_plan_free(&plan);
    free(p);
    free(sets);
    free(only);
    return rc;
usage:
    fprintf(stderr, "trainbench run: %s\n", tb_last_error());
    free(sets);
    free(only);
    return 2;
}

int tb_cli_results(int argc, char **argv)
{
    const char *runs_dir = "runs", *filter = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: trainbench results [--runs-dir DIR] [--filter TEXT] [--json]\n\nLists the sweeps and runs "
                   "under DIR (default runs), newest first: date, kind, preset or model, scale, status, key figures, "
                   "path.\n--filter keeps the entries whose folder name, preset, model, status or kind holds TEXT "
                   "(any case).\n--json writes them as one JSON document (trainbench.results/1) instead.\n");
            return 0;
        } else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if ((v = flag_value(argc, argv, &i, "--filter"))) {
            if (!*v) { /* flag_value said why */
                fprintf(stderr, "trainbench results: %s\n", tb_last_error());
                return 2;
            }
            filter = v;
        }
        else if ((v = flag_value(argc, argv, &i, "--runs-dir")) && *v && !dir_ok("--runs-dir", v))
            runs_dir = v;
        else {
            if (!v)
                tb_fail("unknown argument '%s'; see trainbench results --help", argv[i]);
            fprintf(stderr, "trainbench results: %s\n", tb_last_error());
            return 2;
        }
    }
    if (tb_results_list_filtered(runs_dir, stdout, json, filter)) {
        fprintf(stderr, "trainbench results: %s\n", tb_last_error());
        return 1;
    }
    return 0;
}

static int is_sweep(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/plan.json", dir);
    return access(path, R_OK) == 0;
}

int tb_cli_export(int argc, char **argv)
{
    const char *format = "md", *output = NULL;
    char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
    char **runs = calloc((size_t)argc + 1, sizeof *runs);
    tb_table *tables = calloc((size_t)argc + 2, sizeof *tables);
    int ndirs = 0, nruns = 0, ntables = 0, rc = 2;
    if (!dirs || !runs || !tables) {
        fprintf(stderr, "trainbench export: out of memory for %d arguments\n", argc);
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        tb_clear_error();
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: trainbench export RUN_OR_SWEEP... [--format md|csv|json] [-o FILE]\n\n"
                   "Writes the result tables: GitHub-flavoured Markdown in the labs' shape (default), CSV or JSON.\n"
                   "Several sweeps of one preset are put side by side in one table.\n");
            rc = 0;
            goto out;
        } else if ((v = flag_value(argc, argv, &i, "--format"))) {
            if (tb_export_format_parse(v) < 0) {
                tb_fail("--format %s: expected md, csv or json", v);
                goto usage;
            }
            format = v;
        } else if ((v = flag_value(argc, argv, &i, "-o")) || (v = flag_value(argc, argv, &i, "--output"))) {
            if (!*v)
                goto usage;
            output = v;
        } else if (argv[i][0] == '-') {
            tb_fail("unknown option '%s'; see trainbench export --help", argv[i]);
            goto usage;
        } else {
            struct stat st;
            if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
                tb_fail("%s is not a directory; give sweep directories (runs/<timestamp>-<preset>) or run "
                        "directories",
                        argv[i]);
                goto usage;
            }
            if (is_sweep(argv[i]))
                dirs[ndirs++] = argv[i];
            else
                runs[nruns++] = argv[i];
        }
    }
    if (!ndirs && !nruns) {
        tb_fail("nothing to export; usage: trainbench export RUN_OR_SWEEP... (trainbench results lists them)");
        goto usage;
    }
    rc = 1;
    for (int i = 0; i < ndirs; i++) {
        if (tb_table_from_sweep(dirs[i], &tables[ntables]))
            goto fail;
        ntables++;
    }
    /* Several sweeps of one preset: side by side in one table. */
    if (ndirs > 1) {
        int same = 1;
        for (int i = 1; i < ndirs; i++)
            same &= !strcmp(tables[i].preset, tables[0].preset) && tables[i].ncols == tables[0].ncols;
        if (same) {
            tb_table merged;
            if (tb_table_merge(tables, ndirs, &merged))
                goto fail;
            for (int i = 0; i < ntables; i++)
                tb_table_free(&tables[i]);
            tables[0] = merged;
            ntables = 1;
        }
    }
    if (nruns) {
        if (tb_table_from_runs(runs, nruns, &tables[ntables]))
            goto fail;
        ntables++;
    }
    tb_export_format fmt = (tb_export_format)tb_export_format_parse(format);
    if (output) {
        char *text = tb_export_string(tables, ntables, fmt);
        if (!text || tb_text_write_atomic(output, text)) {
            free(text);
            goto fail;
        }
        free(text);
    } else if (tb_export_write(stdout, tables, ntables, fmt))
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "trainbench export: %s\n", tb_last_error());
    goto out;
usage:
    fprintf(stderr, "trainbench export: %s\n", tb_last_error());
    rc = 2;
out:
    for (int i = 0; i < ntables; i++)
        tb_table_free(&tables[i]);
    free(tables);
    free(dirs);
    free(runs);
    return rc;
}
