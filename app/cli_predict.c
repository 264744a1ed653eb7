/* `trainbench predict`: multi-GPU and multi-node epoch times from one
 * measured GPU, with the ring all-reduce cost model (lab/predict.h). */
#include "app/cli.h" // uses: tb_cli_predict

#include "core/error.h" // uses: tb_fail, tb_last_error
#include "engine/model.h" // uses: tb_model_info, tb_model_describe, tb_model_info_free
#include "lab/predict.h" // uses: tb_predict_input, tb_predict_point, tb_predict_defaults, tb_predict

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench predict --step-time SECONDS --batch N (--model NAME | --grad-bytes N)\n"
               "           [--gpus 1,2,4,...] [--gpus-per-node G] [--images N] [--scaling weak|strong]\n"
               "           [--intra-gbps X] [--inter-gbps X] [--latency-us X] [--overlap F] [--json]\n"
               "Predicts time per epoch on N GPUs from a single-GPU step time measured at --batch per GPU.\n"
               "Defaults: NVLink %g GB/s inside a node, InfiniBand %g GB/s between nodes, 8 GPUs per node,\n"
               "50,000 images (CIFAR-10), weak scaling (per-GPU batch fixed), no overlap.\n",
            150.0, 50.0);
}

static int number(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = v ? strtod(v, &end) : 0;
    /* !(lo <= x) rather than x < lo: NaN ("nan") compares false either way. */
    if (!v || !*v || *end || errno || !isfinite(x) || !(x >= lo && x <= hi))
        return tb_fail("%s %s: expected a number from %g to %g", flag, v ? v : "(missing)", lo, hi);
    *out = x;
    return 0;
}

static int gpu_list(const char *v, int *gpus, int max, int *count)
{
    *count = 0;
    for (const char *p = v; p && *p;) {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p || g < 1 || g > 1000000 || (*end && *end != ',') || *count == max)
            return tb_fail("--gpus %s: expected a comma-separated list of GPU counts, e.g. 1,2,4,8", v);
        gpus[(*count)++] = (int)g;
        p = *end ? end + 1 : end;
    }
    return *count ? 0 : tb_fail("--gpus: expected at least one GPU count");
}

static void print_table(const tb_predict_input *in, const tb_predict_point *pt, int n)
{
    printf("Predicted (ring all-reduce model, not measured): step %.4f s at batch %d per GPU, %.1f MB of "
           "gradients, %s scaling, overlap %.2f\n",
           in->step_s, in->batch_per_gpu, in->grad_bytes / 1e6, in->strong ? "strong" : "weak", in->overlap);
    printf("| GPUs | nodes | batch/GPU | global batch | compute s/step | all-reduce s/step | epoch s | speedup | "
           "efficiency |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < n; i++)
        printf("| %d | %d | %d | %d | %.4f | %.4f | %.2f | %.2f | %.2f%% |\n", pt[i].gpus, pt[i].nodes,
               pt[i].batch_per_gpu, pt[i].global_batch, pt[i].compute_s, pt[i].allreduce_s, pt[i].epoch_s,
               pt[i].speedup, pt[i].efficiency);
}

static void print_json(const tb_predict_point *pt, int n)
{
    struct json_object *arr = json_object_new_array();
    for (int i = 0; i < n; i++) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "predicted", json_object_new_boolean(1));
        json_object_object_add(o, "gpus", json_object_new_int(pt[i].gpus));
        json_object_object_add(o, "nodes", json_object_new_int(pt[i].nodes));
        json_object_object_add(o, "batch_per_gpu", json_object_new_int(pt[i].batch_per_gpu));
        json_object_object_add(o, "global_batch", json_object_new_int(pt[i].global_batch));
        json_object_object_add(o, "compute_s", json_object_new_double(pt[i].compute_s));
        json_object_object_add(o, "allreduce_s", json_object_new_double(pt[i].allreduce_s));
        json_object_object_add(o, "step_s", json_object_new_double(pt[i].step_s));
        json_object_object_add(o, "epoch_s", json_object_new_double(pt[i].epoch_s));
        json_object_object_add(o, "speedup", json_object_new_double(pt[i].speedup));
        json_object_object_add(o, "efficiency", json_object_new_double(pt[i].efficiency));
        json_object_array_add(arr, o);
    }
    printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY));
    json_object_put(arr);
}

int tb_cli_predict(int argc, char **argv)
{
    tb_predict_input in;
    tb_predict_defaults(&in);
    int gpus[64] = {1, 2, 4, 8, 16, 32, 64, 128}, ngpus = 8, json = 0;
    const char *model = NULL;
    double v = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0, takes = 1;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1, takes = 0;
        } else if (!strcmp(a, "--step-time")) {
            rc = number(a, val, 1e-9, 1e6, &in.step_s);
        } else if (!strcmp(a, "--batch")) {
            rc = number(a, val, 1, 1e7, &v), in.batch_per_gpu = (int)v;
        } else if (!strcmp(a, "--grad-bytes")) {
            rc = number(a, val, 1, 1e15, &in.grad_bytes);
        } else if (!strcmp(a, "--model")) {
            model = val;
            rc = val ? 0 : tb_fail("--model needs a NAME");
        } else if (!strcmp(a, "--images")) {
            rc = number(a, val, 1, 1e12, &v), in.images = (long)v;
        } else if (!strcmp(a, "--gpus")) {
            rc = gpu_list(val, gpus, 64, &ngpus);
        } else if (!strcmp(a, "--gpus-per-node")) {
            rc = number(a, val, 1, 1024, &v), in.gpus_per_node = (int)v;
        } else if (!strcmp(a, "--intra-gbps")) {
            rc = number(a, val, 1e-6, 1e6, &in.intra_gbps);
        } else if (!strcmp(a, "--inter-gbps")) {
            rc = number(a, val, 1e-6, 1e6, &in.inter_gbps);
        } else if (!strcmp(a, "--latency-us")) {
            rc = number(a, val, 0, 1e6, &in.latency_us);
        } else if (!strcmp(a, "--overlap")) {
            rc = number(a, val, 0, 1, &in.overlap);
        } else if (!strcmp(a, "--scaling")) {
            in.strong = val && !strcmp(val, "strong");
            rc = val && (in.strong || !strcmp(val, "weak")) ? 0 : tb_fail("--scaling: expected weak or strong");
        } else {
            rc = tb_fail("unknown option '%s'", a), takes = 0;
        }
        if (rc) {
            fprintf(stderr, "trainbench predict: %s\n", tb_last_error());
            usage(stderr);
            return 2;
        }
        i += takes;
    }
    if (model && in.grad_bytes == 0) {
        tb_model_spec spec;
        tb_model_info info;
        int imagenet = strstr(model, "cifar") == NULL;
        if (tb_model_spec_parse(model, imagenet ? 1000 : 10, 3, 1, &spec) ||
            tb_model_describe(&spec, imagenet ? 224 : 32, imagenet ? 224 : 32, &info)) {
            fprintf(stderr, "trainbench predict: %s\n", tb_last_error());
            return 2;
        }
        in.grad_bytes = 4.0 * info.gradients;
        tb_model_info_free(&info);
    }
    tb_predict_point pts[64];
    for (int i = 0; i < ngpus; i++)
        if (tb_predict(&in, gpus[i], &pts[i])) {
            fprintf(stderr, "trainbench predict: %s\n", tb_last_error());
            usage(stderr);
            return 2;
        }
    if (json)
        print_json(pts, ngpus);
    else
        print_table(&in, pts, ngpus);
    return 0;
}
