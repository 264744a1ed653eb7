#include "rundir/train_report.h"

#include "core/error.h" // uses: tb_fail
#include "rundir/derived.h" // uses: tb_allreduce_bandwidth, tb_average_first, tb_images_per_s

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[TB_PHASE_COUNT] = {"data", "h2d", "forward", "backward", "allreduce",
                                                         "optimizer"};

const char *tb_phase_name(tb_phase p) { return p >= 0 && p < TB_PHASE_COUNT ? phase_names[p] : "?"; }

struct json_object *tb_epoch_report_json(const tb_epoch_report *r)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "epoch", json_object_new_int(r->epoch));
    json_object_object_add(o, "warmup", json_object_new_boolean(r->warmup));
    json_object_object_add(o, "lr", json_object_new_double(r->lr));
    json_object_object_add(o, "load_s", json_object_new_double(r->load_s));
    json_object_object_add(o, "train_s", json_object_new_double(r->train_s));
    json_object_object_add(o, "epoch_s", json_object_new_double(r->epoch_s));
    json_object_object_add(o, "eval_s", json_object_new_double(r->eval_s));
    if (r->ranks > 1) { /* compute vs communication, as the multi-GPU labs split it */
        json_object_object_add(o, "ranks", json_object_new_int(r->ranks));
        json_object_object_add(o, "compute_s", json_object_new_double(r->train_s - r->comm_s));
        json_object_object_add(o, "comm_s", json_object_new_double(r->comm_s));
        /* Achieved ring all-reduce bandwidth over the all-reduces' own time. */
        json_object_object_add(o, "allreduces", json_object_new_int(r->allreduces));
        json_object_object_add(o, "allreduce_s", json_object_new_double(r->allreduce_s));
        json_object_object_add(o, "allreduce_bytes", json_object_new_double(r->allreduce_bytes));
        json_object_object_add(o, "buckets", json_object_new_int(r->buckets));
        double bw = tb_allreduce_bandwidth(r->ranks, r->allreduce_bytes, r->allreduces, r->allreduce_s);
        json_object_object_add(o, "bandwidth_gbps", isnan(bw) ? NULL : json_object_new_double(bw / 1e9));
    }
    json_object_object_add(o, "train_loss", json_object_new_double(r->train_loss));
    json_object_object_add(o, "train_acc", json_object_new_double(r->train_acc));
    json_object_object_add(o, "test_loss", json_object_new_double(r->test_loss));
    json_object_object_add(o, "test_acc", json_object_new_double(r->test_acc));
    json_object_object_add(o, "test_acc5", json_object_new_double(r->test_acc5));
    json_object_object_add(o, "images_per_s", json_object_new_double(r->images_per_s));
    json_object_object_add(o, "images", json_object_new_int(r->images));
    struct json_object *ca = json_object_new_array_ext(r->classes);
    for (int k = 0; k < r->classes; k++)
        json_object_array_add(ca, json_object_new_double(r->class_acc[k]));
    json_object_object_add(o, "class_acc", ca);
    json_object_object_add(o, "best_class", json_object_new_int(r->best_class));
    if (r->rss_bytes > 0)
        json_object_object_add(o, "rss_bytes", json_object_new_int64(r->rss_bytes));
    /* Always present, null without a GPU reading: tables show an empty cell. */
    double g[3] = {r->gpu_util_mean, r->gpu_mem_peak_bytes, r->gpu_power_mean_w};
    const char *gk[3] = {"gpu_util_mean", "gpu_mem_peak_bytes", "gpu_power_mean_w"};
    for (int k = 0; k < 3; k++)
        json_object_object_add(o, gk[k], r->gpu_sampled && isfinite(g[k]) ? json_object_new_double(g[k]) : NULL);
    if (r->has_phases) {
        struct json_object *ph = json_object_new_object();
        for (int p = 0; p < TB_PHASE_COUNT; p++) {
            char key[32];
            snprintf(key, sizeof key, "%s_s", phase_names[p]);
            json_object_object_add(ph, key, json_object_new_double(r->phase_s[p]));
        }
        json_object_object_add(o, "phases", ph);
    }
    return o;
}

static double get_num(struct json_object *o, const char *key, int *missing)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, key, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
        *missing = 1;
        return 0;
    }
    return json_object_get_double(v);
}

/* A count: a number within [lo, hi] (a cast of anything else to int is
 * undefined behaviour); *bad set otherwise. */
static int get_count(struct json_object *o, const char *key, double lo, double hi, int *bad)
{
    double v = get_num(o, key, bad);
    if (!(v >= lo && v <= hi)) {
        *bad = 1;
        return 0;
    }
    return (int)v;
}

int tb_epoch_report_from_json(struct json_object *o, tb_epoch_report *r)
{
    memset(r, 0, sizeof *r);
    int missing = 0;
    r->epoch = get_count(o, "epoch", 1, 100000, &missing);
    r->lr = get_num(o, "lr", &missing);
    r->load_s = get_num(o, "load_s", &missing);
    r->train_s = get_num(o, "train_s", &missing);
    r->epoch_s = get_num(o, "epoch_s", &missing);
    r->eval_s = get_num(o, "eval_s", &missing);
    r->train_loss = get_num(o, "train_loss", &missing);
    r->train_acc = get_num(o, "train_acc", &missing);
    r->test_loss = get_num(o, "test_loss", &missing);
    r->test_acc = get_num(o, "test_acc", &missing);
    r->test_acc5 = get_num(o, "test_acc5", &missing);
    r->images_per_s = get_num(o, "images_per_s", &missing);
    r->images = get_count(o, "images", 0, INT_MAX, &missing);
    r->best_class = get_count(o, "best_class", 0, TB_MAX_REPORT_CLASSES, &missing);
    struct json_object *v, *ca;
    r->warmup = json_object_object_get_ex(o, "warmup", &v) && json_object_get_boolean(v);
    int ranks_missing = 0;
    r->ranks = get_count(o, "ranks", 2, 1 << 20, &ranks_missing);
    if (ranks_missing)
        r->ranks = 1;
    else {
        r->comm_s = get_num(o, "comm_s", &missing);
        r->allreduces = get_count(o, "allreduces", 0, INT_MAX, &missing);
        r->allreduce_s = get_num(o, "allreduce_s", &missing);
        r->allreduce_bytes = get_num(o, "allreduce_bytes", &missing);
        r->buckets = get_count(o, "buckets", 0, INT_MAX, &missing);
    }
    if (missing || !json_object_object_get_ex(o, "class_acc", &ca) || !json_object_is_type(ca, json_type_array))
        return tb_fail("an epoch report lacks a field");
    size_t n = json_object_array_length(ca);
    if (n > TB_MAX_REPORT_CLASSES || r->best_class < 0 || (size_t)r->best_class >= (n ? n : 1))
        return tb_fail("an epoch report has %zu classes and best class %d", n, r->best_class);
    r->classes = (int)n;
    r->class_acc = calloc(n + 1, sizeof *r->class_acc);
    if (!r->class_acc)
        return tb_fail("out of memory");
    for (size_t k = 0; k < n; k++)
        r->class_acc[k] = json_object_get_double(json_object_array_get_idx(ca, k));
    int no_rss = 0;
    double rss = get_num(o, "rss_bytes", &no_rss);
    r->rss_bytes = rss > 0 && rss < 1e18 ? (long long)rss : 0;
    /* GPU readings: absent (older results), null or a number; anything else is no reading. */
    double *g[3] = {&r->gpu_util_mean, &r->gpu_mem_peak_bytes, &r->gpu_power_mean_w};
    const char *gk[3] = {"gpu_util_mean", "gpu_mem_peak_bytes", "gpu_power_mean_w"};
    for (int k = 0; k < 3; k++) {
        int none = 0;
        double x = get_num(o, gk[k], &none);
        *g[k] = none || !isfinite(x) || x < 0 ? NAN : x;
        r->gpu_sampled |= !isnan(*g[k]);
    }
    struct json_object *ph;
    if (json_object_object_get_ex(o, "phases", &ph)) {
        r->has_phases = 1;
        for (int p = 0; p < TB_PHASE_COUNT; p++) {
            char key[32];
            snprintf(key, sizeof key, "%s_s", phase_names[p]);
            r->phase_s[p] = get_num(ph, key, &missing);
        }
    }
    return 0;
}

void tb_gpu_agg_add(tb_gpu_agg *a, double util_pct, double mem_used_bytes, double power_w)
{
    /* NVML gives NAN for a reading it cannot take (gpumon.h): left out, not counted as 0 */
    if (isfinite(util_pct) && util_pct >= 0)
        a->util_sum += util_pct, a->n_util++;
    if (isfinite(power_w) && power_w >= 0)
        a->power_sum += power_w, a->n_power++;
    if (isfinite(mem_used_bytes) && mem_used_bytes >= 0) {
        a->mem_peak = a->n_mem && a->mem_peak > mem_used_bytes ? a->mem_peak : mem_used_bytes;
        a->n_mem++;
    }
}

void tb_gpu_agg_result(const tb_gpu_agg *a, double *util_mean, double *mem_peak, double *power_mean)
{
    *util_mean = a->n_util ? a->util_sum / a->n_util : NAN;
    *mem_peak = a->n_mem ? a->mem_peak : NAN;
    *power_mean = a->n_power ? a->power_sum / a->n_power : NAN;
}

void tb_run_averages_compute(const tb_epoch_report *r, int n, int skip, tb_run_averages *out)
{
    memset(out, 0, sizeof *out);
    double images = 0;
    for (int i = tb_average_first(n, skip); i < n; i++) {
        out->load_s += r[i].load_s;
        out->train_s += r[i].train_s;
        out->epoch_s += r[i].epoch_s;
        images += r[i].images;
        out->epochs_averaged++;
    }
    /* The run's images/s is the same definition as an epoch's (all the
     * averaged epochs' images over their epoch time), not a mean of ratios,
     * so it agrees with avg_epoch_s. */
    double ips = tb_images_per_s(images, out->epoch_s);
    out->images_per_s = isfinite(ips) ? ips : 0;
    if (out->epochs_averaged) {
        out->load_s /= out->epochs_averaged;
        out->train_s /= out->epochs_averaged;
        out->epoch_s /= out->epochs_averaged;
    }
}

void tb_report_print_header(FILE *f)
{
    fprintf(f, "%5s %8s %9s %9s %8s %8s %8s %9s %8s %8s %9s\n", "epoch", "load_s", "train_s", "epoch_s", "loss",
            "acc%", "best", "test_loss", "test%", "top5%", "img/s");
}

void tb_report_print_epoch(FILE *f, const tb_epoch_report *r)
{
    fprintf(f, "%4d%s %8.3f %9.3f %9.3f %8.4f %8.3f %8d %9.4f %8.2f %8.2f %9.1f\n", r->epoch, r->warmup ? "*" : " ",
            r->load_s, r->train_s, r->epoch_s, r->train_loss, r->train_acc, r->best_class, r->test_loss, r->test_acc,
            r->test_acc5, r->images_per_s);
    fflush(f);
}

void tb_report_print_class_acc(FILE *f, const tb_epoch_report *r)
{
    /* As lab2.py printed its numpy array: two decimals, trailing zeros dropped ("22." for 22.00). */
    fprintf(f, "Top 1 accuracy is %d among the individual label accuracies [", r->best_class);
    for (int k = 0; k < r->classes; k++) {
        char v[32];
        snprintf(v, sizeof v, "%.2f", r->class_acc[k]);
        size_t len = strlen(v);
        while (len > 0 && v[len - 1] == '0')
            v[--len] = '\0';
        fprintf(f, "%s%s", k ? " " : "", v);
    }
    fprintf(f, "]\n");
}

void tb_report_print_summary(FILE *f, const tb_epoch_report *r, int n, int skip, int workers)
{
    tb_run_averages a;
    tb_run_averages_compute(r, n, skip, &a);
    if (a.epochs_averaged < n)
        fprintf(f, "* left out of the averages (--average-skip %d)\n", n - a.epochs_averaged);
    else if (skip > 0 && n > 0)
        fprintf(f, "Averages over all %d epoch%s: --average-skip %d leaves out only epochs of longer runs\n", n,
                n == 1 ? "" : "s", skip);
    fprintf(f, "Avg data load time with %d workers is %.6f s and avg train time is %.6f s\n", workers, a.load_s,
            a.train_s);
    fprintf(f, "Avg epoch time is %.4f s (%.1f images/s)\n", a.epoch_s, a.images_per_s);
    if (n > 0)
        fprintf(f, "Final test accuracy %.2f %% (top-5 %.2f %%), test loss %.4f\n", r[n - 1].test_acc,
                r[n - 1].test_acc5, r[n - 1].test_loss);
}
