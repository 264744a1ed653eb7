/* result.json for the training loop, failures, and --repeat's figures. */
#include "engine/trainer_run.h" // uses: run, run_reserve_space, run_release_space, run_epoch_json, ...

#include "core/error.h" // uses: tb_last_error
#include "engine/cpu/cpu_backend.h" // uses: tb_cpu_bf16_math
#include "rundir/derived.h" // uses: tb_average_first
#include "rundir/rundir.h" // uses: tb_rundir_path, TB_STATUS_RUNNING, tb_rundir_write_json, tb_rundir_event, ...
#include "spec/options.h" // uses: tb_train_batch_at
#include "tb_config.h"
#if TB_HAVE_CUDA
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_peak_bytes
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Room for the final result.json (a few kilobytes plus about one per epoch
 * of a 10-class run) and the last events, held in the run directory while
 * the run lasts; small, as it also takes room from a nearly full disk. */
#define RESERVE_NAME ".result-reserve"
#define RESERVE_BYTES (64 * 1024)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --repeat: min/median/max of each figure over the finished repeats; once
 * all are done the summary's figures are the medians. */
static void add_repeat_stats(run *r, struct json_object *summary)
{
    static const char *const keys[] = {"avg_load_s", "avg_train_s", "avg_epoch_s", "images_per_s", "final_test_acc"};
    int n = (int)json_object_array_length(r->repeats);
    double *v = n ? malloc((size_t)n * sizeof *v) : NULL;
    if (!v)
        return;
    struct json_object *stats = json_object_new_object();
    json_object_object_add(stats, "count", json_object_new_int(n));
    json_object_object_add(stats, "of", json_object_new_int(r->cfg->repeat));
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        int m = 0;
        for (int i = 0; i < n; i++) {
            struct json_object *x;
            if (json_object_object_get_ex(json_object_array_get_idx(r->repeats, (size_t)i), keys[k], &x))
                v[m++] = json_object_get_double(x);
        }
        if (!m)
            continue;
        qsort(v, (size_t)m, sizeof *v, cmp_double);
        double median = m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
        struct json_object *f = json_object_new_object();
        json_object_object_add(f, "min", json_object_new_double(v[0]));
        json_object_object_add(f, "median", json_object_new_double(median));
        json_object_object_add(f, "max", json_object_new_double(v[m - 1]));
        json_object_object_add(stats, keys[k], f);
        if (n == r->cfg->repeat)
            json_object_object_add(summary, keys[k], json_object_new_double(median));
    }
    free(v);
    json_object_object_add(summary, "repeats", stats);
    json_object_object_add(r->result, "repeats", json_object_get(r->repeats));
}

static int reserve_path(const run *r, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", tb_rundir_path(r->dir), RESERVE_NAME);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

void run_reserve_space(run *r)
{
    char path[PATH_MAX];
    if (!r->dir || r->reserved || reserve_path(r, path, sizeof path))
        return;
    unlink(path); /* one left by a run killed with -9 (unlink never follows a link) */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return; /* without it a full disk may leave status running; the readers then say stale */
    static const char zeros[16384];
    size_t done = 0;
    while (done < RESERVE_BYTES) {
        ssize_t n = write(fd, zeros, sizeof zeros);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (close(fd) != 0 || done < RESERVE_BYTES) {
        unlink(path); /* the disk is already (nearly) full: give back what was taken */
        return;
    }
    r->reserved = 1;
}

void run_release_space(run *r)
{
    char path[PATH_MAX];
    if (!r->reserved || reserve_path(r, path, sizeof path))
        return;
    unlink(path);
    r->reserved = 0;
}

struct json_object *run_epoch_json(const run *r, int e)
{
    struct json_object *o = tb_epoch_report_json(&r->epochs[e]);
    /* From the options, not the loader: a resumed run's earlier epochs too. */
    json_object_object_add(o, "batch_size", json_object_new_int(tb_train_batch_at(r->cfg, e)));
    return o;
}

int run_write_result(run *r, const char *status)
{
    if (strcmp(status, TB_STATUS_RUNNING) != 0)
        run_release_space(r); /* the last write: it must fit even when the disk is full */
    /* "warmup" marks exactly the epochs the averages leave out (a resume may have changed --average-skip). */
    int first = tb_average_first(r->epochs_done, r->cfg->average_skip);
    for (int i = 0; i < r->epochs_done; i++)
        r->epochs[i].warmup = i < first;
    json_object_object_add(r->result, "status", json_object_new_string(status));
    struct json_object *epochs = json_object_new_array();
    for (int i = 0; i < r->epochs_done; i++)
        json_object_array_add(epochs, run_epoch_json(r, i));
    json_object_object_add(r->result, "epochs", epochs);
    tb_run_averages a;
    tb_run_averages_compute(r->epochs, r->epochs_done, r->cfg->average_skip, &a);
    struct json_object *s = json_object_new_object();
    json_object_object_add(s, "epochs_completed", json_object_new_int(r->epochs_done));
    json_object_object_add(s, "epochs_averaged", json_object_new_int(a.epochs_averaged));
    json_object_object_add(s, "avg_load_s", json_object_new_double(a.load_s));
    json_object_object_add(s, "avg_train_s", json_object_new_double(a.train_s));
    json_object_object_add(s, "avg_epoch_s", json_object_new_double(a.epoch_s));
    json_object_object_add(s, "images_per_s", json_object_new_double(a.images_per_s));
    if (r->epochs_done) {
        const tb_epoch_report *last = &r->epochs[r->epochs_done - 1];
        json_object_object_add(s, "final_test_acc", json_object_new_double(last->test_acc));
        json_object_object_add(s, "final_test_acc5", json_object_new_double(last->test_acc5));
        json_object_object_add(s, "final_train_loss", json_object_new_double(last->train_loss));
    }
    json_object_object_add(s, "warmup_epochs_excluded", json_object_new_int(r->epochs_done - a.epochs_averaged));
    if (r->repeats && r->cfg->repeat > 1) /* one run has no spread to show */
        add_repeat_stats(r, s);
    json_object_object_add(s, "wall_s", json_object_new_double(run_now_s() - r->started));
#if TB_HAVE_CUDA
    if (r->b && r->b->kind == TB_DEVICE_CUDA) /* the backend's own allocations at most (no context, no handles) */
        json_object_object_add(s, "peak_device_bytes", json_object_new_int64((int64_t)tb_cuda_peak_bytes(r->b)));
#endif
    json_object_object_add(r->result, "summary", s);
    /* CPU bf16: oneDNN's bf16 kernels or the emulation; known once the convolutions are built */
    const char *bf16_math = r->b && r->b->kind == TB_DEVICE_CPU ? tb_cpu_bf16_math(r->b) : NULL;
    if (bf16_math)
        json_object_object_add(r->result, "bf16_math", json_object_new_string(bf16_math));
    json_object_object_add(r->result, "updated_at", json_object_new_int64((int64_t)time(NULL)));
    return tb_rundir_write_json(r->dir, "result.json", r->result);
}

/* Records a failure: message on stderr, an error event, result.json with
 * status failed.  Returns exit status 1. */
int run_fail(run *r, const char *phase)
{
    char msg[1200];
    snprintf(msg, sizeof msg, "%s", tb_last_error());
    fprintf(stderr, "trainbench: %s: %s\n", phase, msg);
    if (!r->dir || !r->recorded) /* a --resume that failed before it started leaves the run as it was */
        return 1;
    run_release_space(r); /* room for the error event and result.json on a full disk */
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "phase", json_object_new_string(phase));
    json_object_object_add(ev, "message", json_object_new_string(msg));
    tb_rundir_event(r->dir, "error", ev);
    json_object_object_add(r->result, "error", json_object_new_string(msg));
    if (run_write_result(r, TB_STATUS_FAILED))
        fprintf(stderr, "trainbench: %s\n", tb_last_error());
    return 1;
}

/* --repeat: the next repeat starts from the same initial weights. */
int run_reset_for_repeat(run *r)
{
    tb_optimizer_free_state(r->b, tb_model_params(r->model), tb_model_param_count(r->model));
    tb_model_spec spec = *tb_model_get_spec(r->model);
    tb_grad_reducer_destroy(r->reducer); /* it hooks the model's backward */
    r->reducer = NULL;
    tb_model_destroy(r->model);
    r->model = tb_model_create(r->b, &spec, r->cfg->batch_size, tb_loader_height(r->train_loader),
                               tb_loader_width(r->train_loader), r->cfg->seed);
    if (!r->model || run_broadcast_model(r))
        return -1;
    r->reducer = tb_grad_reducer_create(&r->dist, r->b, r->model, r->cfg->bucket_mb, strcmp(r->cfg->overlap, "on") == 0);
    if (!r->reducer)
        return -1;
    tb_optimizer_init(&r->opt, &r->opt.cfg);
    for (int i = 0; i < r->epochs_done; i++) {
        free(r->epochs[i].class_acc);
        r->epochs[i].class_acc = NULL;
    }
    r->epochs_done = 0;
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "repeat", json_object_new_int(r->repeat + 1));
    json_object_object_add(ev, "repeats", json_object_new_int(r->cfg->repeat));
    tb_rundir_event(r->dir, "repeat_start", ev);
    return 0;
}

/* The finished repeat's figures, for min/median/max in result.json. */
void run_record_repeat(run *r)
{
    tb_run_averages a;
    tb_run_averages_compute(r->epochs, r->epochs_done, r->cfg->average_skip, &a);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "repeat", json_object_new_int(r->repeat + 1));
    json_object_object_add(o, "avg_load_s", json_object_new_double(a.load_s));
    json_object_object_add(o, "avg_train_s", json_object_new_double(a.train_s));
    json_object_object_add(o, "avg_epoch_s", json_object_new_double(a.epoch_s));
    json_object_object_add(o, "images_per_s", json_object_new_double(a.images_per_s));
    if (r->epochs_done)
        json_object_object_add(o, "final_test_acc",
                               json_object_new_double(r->epochs[r->epochs_done - 1].test_acc));
    if (!r->repeats)
        r->repeats = json_object_new_array();
    json_object_array_add(r->repeats, o);
}
