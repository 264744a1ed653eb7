#include "rundir/train_report.h"

#include "core/error.h" // uses: tb_fail
#include "rundir/derived.h" // uses: tb_allreduce_bandwidth

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

void tb_run_averages_compute(const tb_epoch_report *r, int n, tb_run_averages *out)
{
    memset(out, 0, sizeof *out);
    int skip_warmup = n > 1;
    for (int i = 0; i < n; i++) {
        if (skip_warmup && r[i].warmup)
            continue;
        out->load_s += r[i].load_s;
        out->train_s += r[i].train_s;
        out->epoch_s += r[i].epoch_s;
        out->images_per_s += r[i].images_per_s;
        out->epochs_averaged++;
    }
    if (out->epochs_averaged) {
        out->load_s /= out->epochs_averaged;
        out->train_s /= out->epochs_averaged;
        out->epoch_s /= out->epochs_averaged;
        out->images_per_s /= out->epochs_averaged;
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

void tb_report_print_summary(FILE *f, const tb_epoch_report *r, int n, int workers)
{
    tb_run_averages a;
    tb_run_averages_compute(r, n, &a);
    if (n > 1)
        fprintf(f, "* warm-up epoch, excluded from the averages\n");
    fprintf(f, "Avg data load time with %d workers is %.6f s and avg train time is %.6f s\n", workers, a.load_s,
            a.train_s);
    fprintf(f, "Avg epoch time is %.4f s (%.1f images/s)\n", a.epoch_s, a.images_per_s);
    if (n > 0)
        fprintf(f, "Final test accuracy %.2f %% (top-5 %.2f %%), test loss %.4f\n", r[n - 1].test_acc,
                r[n - 1].test_acc5, r[n - 1].test_loss);
}
