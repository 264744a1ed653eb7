/* `trainbench eval RUN_DIR`: a run's saved weights on its test set (engine/eval.h). */
#include "app/cli.h" // uses: tb_cli_eval

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "engine/eval.h" // uses: tb_eval_result, tb_eval_options, tb_eval_run, tb_eval_result_free

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench eval RUN_DIR [--batch-size N] [--data-dir DIR] [--json]\n"
               "Evaluates a run's saved weights (weights.safetensors, else its last checkpoint) on the run's test\n"
               "set, with the run's model, device and options from RUN_DIR/config.json: loss, top-1, top-5 and\n"
               "per-class accuracy.  --batch-size changes only how many images go through at once (default: the\n"
               "run's), --data-dir where the dataset is read from.  Nothing is written to RUN_DIR.\n");
}

static void print_json(const tb_eval_result *r)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "weights", json_object_new_string(r->weights));
    json_object_object_add(o, "dataset", json_object_new_string(r->dataset));
    json_object_object_add(o, "batch_size", json_object_new_int(r->batch_size));
    json_object_object_add(o, "images", json_object_new_int(r->images));
    json_object_object_add(o, "test_loss", json_object_new_double(r->test_loss));
    json_object_object_add(o, "test_acc", json_object_new_double(r->test_acc));
    json_object_object_add(o, "test_acc5", json_object_new_double(r->test_acc5));
    struct json_object *acc = json_object_new_array(), *seen = json_object_new_array();
    for (int k = 0; k < r->classes; k++) {
        json_object_array_add(acc, json_object_new_double(r->class_acc[k]));
        json_object_array_add(seen, json_object_new_int(r->class_images[k]));
    }
    json_object_object_add(o, "class_acc", acc);
    json_object_object_add(o, "class_images", seen);
    json_object_object_add(o, "eval_s", json_object_new_double(r->eval_s));
    printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
    json_object_put(o);
}

static void print_text(const tb_eval_result *r)
{
    printf("Evaluated %s on %d %s test images (batch %d) in %.2f s\n", r->weights, r->images, r->dataset,
           r->batch_size, r->eval_s);
    printf("Test loss %.4f | top-1 accuracy %.2f %% | top-5 accuracy %.2f %%\n", r->test_loss, r->test_acc,
           r->test_acc5);
    printf("Per-class accuracy (%%):");
    for (int k = 0; k < r->classes; k++)
        printf(" %.2f", r->class_acc[k]);
    printf("\n");
}

int tb_cli_eval(int argc, char **argv)
{
    tb_eval_options o = {0};
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--batch-size")) {
            char *end = NULL;
            errno = 0;
            long v = val ? strtol(val, &end, 10) : 0;
            if (!val || !*val || *end || errno || v < 1 || v > 65536)
                rc = tb_fail("--batch-size %s: expected an integer from 1 to 65536", val ? val : "(missing)");
            o.batch_size = (int)v;
            i++;
        } else if (!strcmp(a, "--data-dir") || !strcmp(a, "--dataset-path")) {
            rc = val && *val ? 0 : tb_fail("%s needs a DIR", a);
            o.data_dir = val;
            i++;
        } else if (a[0] == '-' || o.run_dir) {
            rc = tb_fail(a[0] == '-' ? "unknown option '%s'" : "one RUN_DIR only; '%s' is a second", a);
        } else {
            o.run_dir = a;
        }
        if (rc) {
            fprintf(stderr, "trainbench eval: %s\n", tb_last_error());
            usage(stderr);
            return 2;
        }
    }
    if (!o.run_dir) {
        fprintf(stderr, "trainbench eval: which run? give its RUN_DIR\n");
        usage(stderr);
        return 2;
    }
    tb_eval_result r;
    int rc = tb_eval_run(&o, &r);
    if (rc) {
        fprintf(stderr, "trainbench eval: %s\n", tb_last_error());
        return rc == 2 ? 2 : 1;
    }
    if (json)
        print_json(&r);
    else
        print_text(&r);
    tb_eval_result_free(&r);
    return 0;
}
