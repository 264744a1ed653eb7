#include "train_report.h"

#include "derived.h"

#include <math.h>

#include <string.h>

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
    return o;
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
