/* The epoch loop, timed as the labs time it.
 *
 * Per epoch: load_s is the time the loop waited for the loader, train_s the
 * mini-batch compute (upload, forward, loss, backward, optimizer step) with
 * the device synchronised, epoch_s the whole training loop.  The test set is
 * evaluated after each epoch and timed separately (eval_s).
 *
 * Checkpoints and --resume are in trainer_checkpoint.c, result.json and
 * --repeat in trainer_result.c; trainer_run.h holds the state they share. */
#include "engine/trainer.h"
#include "engine/trainer_run.h" // uses: run, run_gpu_close, run_release_space, run_broadcast_dev, ...

#include "core/error.h" // uses: tb_fail_prefix, tb_malloc, tb_last_error, tb_calloc, tb_fail
#include "core/profile.h" // uses: tb_prof_set_device, tb_prof_device, tb_prof_on, tb_prof_begin, tb_prof_end, ...
#include "datasets/dataset.h" // uses: tb_dataset_free, tb_dataset_default_dir, tb_dataset_load_sized, ...
#include "datasets/loader.h" // uses: tb_loader_destroy, tb_loader_config, tb_loader_config_defaults, tb_loader, ...
#include "engine/backend.h" // uses: tb_backend, TB_DEVICE_CPU, tb_opt_kind
#include "engine/checkpoint.h" // uses: tb_checkpoint_state_free
#include "engine/cpu/cpu_backend.h" // uses: tb_cpu_backend_create_prec, TB_CPU_BF16_AUTO
#include "engine/dist.h" // uses: tb_dist_broadcast_f32, tb_dist_allreduce_sum_f64, tb_dist_allreduce_max_f64, ...
#include "engine/eval.h" // uses: tb_eval_loader_config, tb_eval_upload_batch, tb_eval_score_batch, ...
#include "engine/grad_reduce.h" // uses: tb_grad_reducer_destroy, tb_grad_reducer_create, tb_grad_reducer_begin, ...
#include "engine/launch.h" // uses: tb_launch_ranks
#include "engine/model.h" // uses: tb_model_params, tb_model_param_count, tb_model_destroy, tb_param, tb_buffer, ...
#include "engine/model_io.h" // uses: tb_model_save_safetensors, TB_IO_PARAMS, TB_IO_BUFFERS
#include "engine/optim.h" // uses: tb_optimizer_free_state, tb_optim_config, tb_optim_config_defaults, ...
#include "engine/sysinfo.h" // uses: tb_sysinfo_json, tb_sysinfo_rss_bytes
#include "rundir/derived.h" // uses: tb_images_per_s, tb_average_first
#include "rundir/rundir.h" // uses: tb_rundir_close, tb_rundir_event, tb_rundir_default_path, tb_rundir_open, ...
#include "rundir/train_report.h" // uses: tb_epoch_report, tb_phase, tb_phase_name, TB_PHASE_H2D, ...
#include "spec/options.h" // uses: tb_train_config, tb_train_batch_at, tb_train_batch_max, tb_train_effective_lr, ...
#include "tb_config.h"
#if TB_HAVE_CUDA
#include "engine/cuda/cuda_backend.h" // uses: tb_cuda_backend_create
#endif

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop_requested;

/* Signals that stop the run at the next step with a checkpoint, status
 * interrupted, exit 130: Ctrl-C, kill and schedulers (TERM), a closed SSH
 * session (HUP), and USR1/USR2, which Slurm's --signal sends ahead of the
 * time limit precisely so that a job can save its state. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2};
/* Ignored while the run lasts: a closed pipe (PIPE) and the file size limit
 * (XFSZ) then fail the write itself (EPIPE, EFBIG), which is reported. */
static const int ignored_signals[] = {SIGPIPE, SIGXFSZ};
#define N_SIGNALS (sizeof stop_signals / sizeof *stop_signals + sizeof ignored_signals / sizeof *ignored_signals)

static void on_signal(int sig)
{
    /* Only Ctrl-C twice stops at once: a hangup or a scheduler's TERM may
     * arrive twice and must still leave a checkpoint. */
    if (stop_requested && sig == SIGINT) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    stop_requested = 1;
}

/* Installs the run's signal handling; `old` keeps what was there. */
static void catch_signals(struct sigaction *old)
{
    struct sigaction stop = {0}, ignore = {0};
    stop.sa_handler = on_signal;
    sigemptyset(&stop.sa_mask);
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    size_t k = 0;
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++, k++) {
        int sig = stop_signals[i];
        if (sigaction(sig, NULL, &old[k]) != 0)
            continue;
        if (sig == SIGHUP && old[k].sa_handler == SIG_IGN)
            continue; /* started under nohup: keep running when the session closes */
        sigaction(sig, &stop, NULL);
    }
    for (size_t i = 0; i < sizeof ignored_signals / sizeof *ignored_signals; i++, k++)
        sigaction(ignored_signals[i], &ignore, &old[k]);
}

static void restore_signals(const struct sigaction *old)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++, k++)
        sigaction(stop_signals[i], &old[k], NULL);
    for (size_t i = 0; i < sizeof ignored_signals / sizeof *ignored_signals; i++, k++)
        sigaction(ignored_signals[i], &old[k], NULL);
}

static void run_free(run *r)
{
    run_gpu_close();
    run_release_space(r);
    free(r->class_hits);
    free(r->class_seen);
    tb_checkpoint_state_free(&r->resume);
    if (r->repeats)
        json_object_put(r->repeats);
    tb_loader_destroy(r->train_loader);
    tb_loader_destroy(r->test_loader);
    tb_grad_reducer_destroy(r->reducer);
    if (r->model) {
        tb_optimizer_free_state(r->b, tb_model_params(r->model), tb_model_param_count(r->model));
        tb_model_destroy(r->model);
    }
    if (r->b) {
        if (r->labels_dev)
            r->b->release(r->b, r->labels_dev);
        tb_prof_set_device(NULL); /* its events go with the backend */
        r->b->destroy(r->b);
    }
    for (int i = 0; i < r->epochs_done; i++)
        free(r->epochs[i].class_acc);
    free(r->epochs);
    free(r->logits_host);
    tb_dataset_free(&r->train);
    tb_dataset_free(&r->test);
    if (r->result)
        json_object_put(r->result);
    tb_rundir_close(r->dir);
}

static int load_data(run *r)
{
    const tb_train_config *c = r->cfg;
    char dir[1024];
    if (c->data_dir[0])
        snprintf(dir, sizeof dir, "%s", c->data_dir);
    else if (tb_dataset_default_dir(c->dataset, dir, sizeof dir))
        return -1;
    if (tb_dataset_load_sized(c->dataset, dir, TB_SPLIT_TRAIN, c->limit_train, c->image_size, &r->train) ||
        tb_dataset_load_sized(c->dataset, dir, TB_SPLIT_TEST, c->limit_test, c->image_size, &r->test))
        return -1;
    struct json_object *d = json_object_new_object();
    json_object_object_add(d, "name", json_object_new_string(c->dataset));
    json_object_object_add(d, "dir", json_object_new_string(strcmp(c->dataset, "synthetic") ? dir : ""));
    json_object_object_add(d, "train_images", json_object_new_int(r->train.count));
    json_object_object_add(d, "test_images", json_object_new_int(r->test.count));
    json_object_object_add(d, "classes", json_object_new_int(r->train.classes));
    json_object_object_add(r->result, "dataset", d);
    return 0;
}

/* --batch-schedule: the train loader of epoch `epoch`'s batch size, made
 * anew where it changes (at an epoch start, so no batch is held).  Batch i of
 * an epoch then holds the rank's images i*B .. i*B+B-1 of the epoch's order,
 * as the loader always does, so a resumed run gets the same batches. */
static void train_loader_config(const run *r, int batch, tb_loader_config *lc)
{
    const tb_train_config *c = r->cfg;
    tb_loader_config_defaults(lc);
    lc->batch_size = batch;
    lc->num_workers = c->num_workers;
    lc->seed = c->seed;
    lc->shard_rank = r->dist.rank;
    lc->shard_count = r->dist.size;
    lc->shuffle = 1;
    lc->augment = c->augment;
    /* JPEG datasets: the crop size (224 unless --image-size); others are
     * padded to --image-size, by default 32 (28x28 MNIST -> 32x32), so
     * synthetic data at --image-size 8..31 trains at that size. */
    lc->out_size = c->image_size ? c->image_size : r->train.images ? 224 : 32;
}

static int use_epoch_batch(run *r, int epoch)
{
    int want = tb_train_batch_at(r->cfg, epoch);
    if (want == r->train_batch)
        return 0;
    tb_loader_config lc;
    train_loader_config(r, want, &lc);
    tb_loader *l = tb_loader_create(&r->train, &lc);
    if (!l)
        return tb_fail_prefix("--batch-schedule: epoch %d's batch of %d", epoch + 1, want);
    tb_loader_destroy(r->train_loader);
    r->train_loader = l;
    r->train_batch = want;
    return 0;
}

static int make_loaders(run *r)
{
    const tb_train_config *c = r->cfg;
    tb_loader_config lc;
    train_loader_config(r, c->batch_size, &lc);
    r->train_loader = tb_loader_create(&r->train, &lc);
    r->train_batch = c->batch_size;
    tb_eval_loader_config(c, &r->train, c->batch_size, &lc); /* as trainbench eval reads it */
    r->test_loader = r->train_loader ? tb_loader_create(&r->test, &lc) : NULL;
    return r->test_loader ? 0 : -1;
}

/* Rank 0's `count` floats of device memory to every rank, through a host
 * buffer for MPI (the CPU backend's device memory is host memory, so it goes
 * direct).  Gradients have their own path (grad_reduce.c). */
int run_broadcast_dev(run *r, float *dev, size_t count, const char *what)
{
    tb_backend *b = r->b;
    float *host = dev;
    if (b->kind != TB_DEVICE_CPU) {
        host = tb_malloc(count * sizeof *host, what);
        if (!host || b->download(b, host, dev, count * sizeof *host)) {
            free(host);
            return -1;
        }
    }
    int rc = tb_dist_broadcast_f32(&r->dist, host, count, 0, what);
    if (!rc && host != dev)
        rc = b->upload(b, dev, host, count * sizeof *host);
    if (host != dev)
        free(host);
    return rc;
}

/* Every rank starts from rank 0's weights and running statistics. */
int run_broadcast_model(run *r)
{
    if (r->dist.size == 1)
        return 0;
    tb_param *p = tb_model_params(r->model);
    tb_buffer *bf = tb_model_buffers(r->model);
    for (int i = 0; i < tb_model_param_count(r->model); i++)
        if (run_broadcast_dev(r, p[i].data, p[i].count, "initial weights"))
            return -1;
    for (int i = 0; i < tb_model_buffer_count(r->model); i++)
        if (run_broadcast_dev(r, bf[i].data, bf[i].count, "initial running statistics"))
            return -1;
    return 0;
}

static int build_model(run *r)
{
    const tb_train_config *c = r->cfg;
    tb_model_spec spec;
    if (tb_model_spec_parse(c->model, r->train.classes, r->train.channels, c->batch_norm, &spec))
        return -1;
    int h = tb_loader_height(r->train_loader), w = tb_loader_width(r->train_loader);
#if TB_HAVE_CUDA
    r->b = strcmp(c->device, "cuda") == 0 ? tb_cuda_backend_create(r->dist.local_rank, c->precision)
                                          : tb_cpu_backend_create_prec(c->threads, c->precision, TB_CPU_BF16_AUTO);
#else
    r->b = tb_cpu_backend_create_prec(c->threads, c->precision, TB_CPU_BF16_AUTO);
#endif
    if (!r->b || run_check_gpus(r))
        return -1;
    run_gpu_open(r);
    tb_prof_device device; /* --profile: GPU spans from the device's own clock */
    if (tb_prof_on && r->b->prof_device) {
        if (r->b->prof_device(r->b, &device))
            fprintf(stderr, "trainbench: profile: no GPU spans in the trace: %s\n", tb_last_error());
        else
            tb_prof_set_device(&device);
    }
    /* Buffers for the largest batch of any epoch (--batch-schedule), which
     * never exceeds the images a rank has (the test batches are at most
     * --batch-size). */
    int most = tb_train_batch_max(c), per_rank = tb_loader_images_per_epoch(r->train_loader);
    int capacity = most < per_rank ? most : per_rank;
    capacity = capacity > c->batch_size ? capacity : c->batch_size;
    r->model = tb_model_create(r->b, &spec, capacity, h, w, c->seed);
    if (!r->model || run_broadcast_model(r) || run_prepare_convs(r)) /* before the reducer hooks backward */
        return -1;
    r->reducer = tb_grad_reducer_create(&r->dist, r->b, r->model, c->bucket_mb, strcmp(c->overlap, "on") == 0);
    if (!r->reducer)
        return -1;
    r->labels_dev = r->b->alloc(r->b, (size_t)capacity * sizeof(int32_t), "labels");
    r->logits_host = tb_malloc((size_t)capacity * spec.classes * sizeof(float), "logits");
    r->class_hits = tb_calloc((size_t)spec.classes, sizeof *r->class_hits, "per-class counts");
    r->class_seen = tb_calloc((size_t)spec.classes, sizeof *r->class_seen, "per-class counts");
    if (!r->labels_dev || !r->logits_host || !r->class_hits || !r->class_seen)
        return -1;

    tb_model_info info;
    if (tb_model_describe(&spec, h, w, &info))
        return -1;
    struct json_object *m = json_object_new_object();
    json_object_object_add(m, "name", json_object_new_string(spec.name));
    json_object_object_add(m, "batch_norm", json_object_new_boolean(spec.batch_norm));
    json_object_object_add(m, "params", json_object_new_int64((int64_t)info.params));
    json_object_object_add(m, "gradients", json_object_new_int64((int64_t)info.gradients));
    r->gradients = info.gradients;
    json_object_object_add(m, "conv_layers", json_object_new_int(info.conv_layers));
    json_object_object_add(m, "fc_inputs", json_object_new_int(info.fc_inputs));
    json_object_object_add(m, "macs_per_image", json_object_new_int64((int64_t)info.macs_per_image));
    struct json_object *in = json_object_new_array();
    json_object_array_add(in, json_object_new_int(spec.in_channels));
    json_object_array_add(in, json_object_new_int(h));
    json_object_array_add(in, json_object_new_int(w));
    json_object_object_add(m, "input", in);
    json_object_object_add(r->result, "model", m);
    json_object_object_add(r->result, "backend", json_object_new_string(r->b->name));
    if (!r->cfg->quiet)
        printf("Model %s on %s\nNumber of trainable parameters : %zu\n", spec.name, r->b->name, info.params);
    tb_model_info_free(&info);

    tb_optim_config oc;
    tb_optim_config_defaults(&oc);
    oc.kind = (tb_opt_kind)tb_opt_kind_parse(c->optimizer);
    oc.lr = (float)tb_train_effective_lr(c);
    oc.lars_eta = (float)c->lars_eta;
    oc.momentum = (float)c->momentum;
    oc.weight_decay = (float)c->weight_decay;
    oc.schedule = (tb_lr_schedule)tb_lr_schedule_parse(c->lr_schedule);
    oc.warmup_epochs = c->warmup_epochs;
    oc.step_size = c->step_size;
    oc.step_gamma = (float)c->step_gamma;
    oc.epochs = c->epochs;
    tb_optimizer_init(&r->opt, &oc);
    return 0;
}

/* The batch's images and labels on the device. */
static int upload_batch(run *r, const tb_batch *batch)
{
    return tb_eval_upload_batch(r->b, r->model, r->labels_dev, batch);
}

static void progress(run *r, int epoch, int index, int batches, int images, double t0, double loss_sum)
{
    /* The one definition (tb_images_per_s) over the epoch so far: every
     * rank's images (ranks run the same batches), the epoch's wall time. */
    double ips = tb_images_per_s((double)images * r->dist.size, run_now_s() - t0);
    ips = isfinite(ips) ? ips : 0;
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "epoch", json_object_new_int(epoch + 1));
    json_object_object_add(ev, "batch", json_object_new_int(index + 1));
    json_object_object_add(ev, "batches", json_object_new_int(batches));
    json_object_object_add(ev, "images_per_s", json_object_new_double(ips));
    json_object_object_add(ev, "loss", json_object_new_double(images ? loss_sum / images : 0));
    tb_rundir_event(r->dir, "progress", ev);
    if (r->show_progress) {
        int width = 30, done = batches ? (index + 1) * width / batches : width;
        double eta = (double)(batches - index - 1) * (run_now_s() - t0) / (index + 1);
        fprintf(stderr, "\r  epoch %d [%.*s%*s] %d/%d  %.0f img/s  loss %.4f  eta %.0fs ", epoch + 1, done,
                "==============================", width - done, "", index + 1, batches, ips,
                images ? loss_sum / images : 0, eta);
    }
}

/* After the gradients: the ranks agree on the global batch loss (so a
 * non-finite loss stops all of them at the same step) and on stopping (a
 * signal may reach the ranks a batch apart). */
static int step_agreement(run *r, double *batch_loss)
{
    /* Rank 0's clock decides when a timed checkpoint is due. */
    const tb_train_config *c = r->cfg;
    int due = r->dist.rank == 0 && c->checkpoint && c->checkpoint_every > 0 &&
              run_now_s() - r->last_checkpoint >= c->checkpoint_every * 60;
    if (r->dist.size == 1) {
        r->stop = stop_requested;
        r->ckpt_due = due;
        return 0;
    }
    double v[3] = {*batch_loss, stop_requested ? 1 : 0, due};
    if (tb_dist_allreduce_sum_f64(&r->dist, v, 3, "loss and stop flag"))
        return -1;
    *batch_loss = v[0];
    r->stop = v[1] > 0;
    r->ckpt_due = v[2] > 0;
    return 0;
}

/* Epoch totals over all ranks: sums of counts, the slowest rank's times. */
static int reduce_epoch(run *r, tb_epoch_report *rep, double *loss_sum, int *correct, int *images, int *hits,
                        int *seen, int classes)
{
    rep->ranks = r->dist.size;
    if (r->dist.size == 1)
        return 0;
    size_t n = 3 + 2 * (size_t)classes;
    double *v = tb_malloc(n * sizeof *v, "epoch totals");
    if (!v)
        return -1;
    v[0] = *loss_sum, v[1] = *correct, v[2] = *images;
    for (int k = 0; k < classes; k++)
        v[3 + k] = hits[k], v[3 + classes + k] = seen[k];
    double t[5] = {rep->load_s, rep->train_s, rep->epoch_s, rep->comm_s, rep->allreduce_s};
    int rc = tb_dist_allreduce_sum_f64(&r->dist, v, n, "epoch metrics") ||
             tb_dist_allreduce_max_f64(&r->dist, t, 5, "epoch timings");
    if (!rc) {
        *loss_sum = v[0], *correct = (int)v[1], *images = (int)v[2];
        for (int k = 0; k < classes; k++)
            hits[k] = (int)v[3 + k], seen[k] = (int)v[3 + classes + k];
        rep->load_s = t[0], rep->train_s = t[1], rep->epoch_s = t[2], rep->comm_s = t[3];
        rep->allreduce_s = t[4];
    }
    free(v);
    return rc ? -1 : 0;
}

/* Times the phases of a step: a span in the trace (and an NVTX range), and
 * the phase's share of the epoch.  Under --profile the device is
 * synchronised at each phase end so the times are the device's. */
typedef struct {
    tb_backend *b;
    tb_epoch_report *rep;
    double t0;
    tb_phase phase;
} phase_clock;

static void phase_begin(phase_clock *pc, tb_phase p)
{
    pc->phase = p;
    pc->t0 = tb_prof_begin(tb_phase_name(p));
}

static int phase_end(phase_clock *pc)
{
    if (!tb_prof_on) {
        tb_prof_end(tb_phase_name(pc->phase), "phase", pc->t0);
        return 0;
    }
    int rc = pc->b->synchronize(pc->b);
    pc->rep->phase_s[pc->phase] += (tb_prof_now() - pc->t0) * 1e-6;
    tb_prof_end(tb_phase_name(pc->phase), "phase", pc->t0);
    return rc;
}

/* One training step on `batch`: forward, loss, backward, all-reduce,
 * optimizer, each a phase. */
static int train_step(run *r, const tb_batch *batch, float lr, double *batch_loss, tb_epoch_report *rep)
{
    tb_backend *b = r->b;
    phase_clock pc = {b, rep, 0, TB_PHASE_H2D};
    /* Every rank holds the same number of images per batch (the loader pads
     * shards), so 1 / global batch makes the summed gradients the gradient
     * of the global mean loss. */
    int global_n = batch->n * r->dist.size;
    phase_begin(&pc, TB_PHASE_H2D);
    if (upload_batch(r, batch) || phase_end(&pc))
        return -1;
    phase_begin(&pc, TB_PHASE_FORWARD);
    if (tb_model_forward(r->model, batch->n, 1) ||
        b->softmax_xent(b, tb_model_logits(r->model), r->labels_dev, 1.0f / global_n, tb_model_dlogits(r->model),
                        batch_loss) ||
        phase_end(&pc))
        return -1;
    /* The gradient sums start during backward, bucket by bucket
     * (grad_reduce.h); the allreduce phase is what is left to wait for. */
    phase_begin(&pc, TB_PHASE_BACKWARD);
    if (tb_grad_reducer_begin(r->reducer) || tb_model_backward(r->model, batch->n) || phase_end(&pc))
        return -1;
    phase_begin(&pc, TB_PHASE_ALLREDUCE);
    if (tb_grad_reducer_finish(r->reducer) || step_agreement(r, batch_loss) || phase_end(&pc))
        return -1;
    phase_begin(&pc, TB_PHASE_OPTIMIZER);
    if (tb_optimizer_step(&r->opt, b, tb_model_params(r->model), tb_model_param_count(r->model), lr) ||
        b->synchronize(b) || phase_end(&pc))
        return -1;
    return 0;
}

static int train_epoch(run *r, int epoch, tb_epoch_report *rep)
{
    int classes = tb_model_get_spec(r->model)->classes;
    int batches = tb_loader_batches_per_epoch(r->train_loader);
    rep->class_acc = calloc((size_t)classes, sizeof *rep->class_acc);
    if (!rep->class_acc)
        return tb_fail("out of memory for per-class counts");
    rep->classes = classes;
    memset(&r->cur, 0, sizeof r->cur);
    int first = run_begin_epoch_sums(r, epoch, classes);
    rep->load_s = r->cur.load_s, rep->train_s = r->cur.train_s, rep->comm_s = r->cur.comm_s;
    double t_epoch = run_now_s() - r->elapsed_before, last_progress = 0;
    r->epoch_t0 = t_epoch;
    run_gpu_epoch_start();
    int rc = tb_loader_start_epoch_at(r->train_loader, epoch, first);
    for (int i = first; !rc && !r->stop; i++) {
        tb_batch *batch = NULL;
        double t0 = run_now_s(), tp = tb_prof_begin("data");
        int got = tb_loader_next(r->train_loader, &batch);
        double t1 = run_now_s();
        tb_prof_end("data", "phase", tp);
        rep->load_s += t1 - t0;
        rep->phase_s[TB_PHASE_DATA] += t1 - t0;
        if (got <= 0) {
            rc = got;
            break;
        }
        float lr = tb_lr_at(&r->opt.cfg, epoch, i, batches);
        double batch_loss = 0, comm0 = r->dist.comm_s, ts = tb_prof_begin("step");
        if (train_step(r, batch, lr, &batch_loss, rep)) {
            tb_loader_release(r->train_loader, batch);
            rc = tb_fail_prefix("epoch %d step %d", epoch + 1, i + 1);
            break;
        }
        tb_prof_end("step", "step", ts);
        rep->train_s += run_now_s() - t1;
        rep->comm_s += r->dist.comm_s - comm0;
        rep->lr = lr;
        if (!isfinite(batch_loss)) {
            tb_loader_release(r->train_loader, batch);
            char hint[2300];
            run_checkpoint_hint(r, hint, sizeof hint);
            rc = tb_fail("loss became %g at epoch %d step %d (lr %g); lower --lr or check the data%s", batch_loss,
                         epoch + 1, i + 1, lr, hint);
            break;
        }
        r->loss_sum += batch_loss / r->dist.size; /* the global sum over ranks, shared out */
        for (int k = 0; k < batch->n; k++)
            r->class_seen[batch->y[k]]++;
        rc = tb_eval_score_batch(r->b, r->model, r->logits_host, batch, &r->correct, NULL, r->class_hits);
        r->images += batch->n;
        tb_loader_release(r->train_loader, batch);
        r->next_batch = i + 1;
        r->cur.load_s = rep->load_s, r->cur.train_s = rep->train_s, r->cur.comm_s = rep->comm_s;
        double t = run_now_s();
        if (!rc && (r->stop || (r->ckpt_due && i + 1 < batches)))
            rc = run_save_checkpoint(r, r->stop ? "interrupted" : "timer");
        if (t - last_progress > 0.5 || i + 1 == batches) {
            progress(r, epoch, i, batches, r->images, t_epoch, r->loss_sum);
            last_progress = t;
        }
        run_gpu_sample(0);
    }
    run_gpu_epoch_end(rep);
    if (r->show_progress)
        fprintf(stderr, "\r%*s\r", 100, "");
    rep->epoch_s = run_now_s() - t_epoch;
    rep->has_phases = tb_prof_on;
    tb_grad_reduce_stats gs;
    tb_grad_reducer_take_stats(r->reducer, &gs);
    rep->allreduces = gs.allreduces, rep->allreduce_s = gs.allreduce_s;
    rep->allreduce_bytes = gs.bytes, rep->buckets = gs.buckets;
    double loss_sum = r->loss_sum;
    int correct = r->correct, images = r->images;
    if (!rc && reduce_epoch(r, rep, &loss_sum, &correct, &images, r->class_hits, r->class_seen, classes))
        rc = -1;
    rep->images = images;
    rep->train_loss = images ? loss_sum / images : 0;
    rep->train_acc = images ? 100.0 * correct / images : 0;
    rep->images_per_s = tb_images_per_s(images, rep->epoch_s);
    rep->images_per_s = isfinite(rep->images_per_s) ? rep->images_per_s : 0;
    for (int k = 0; k < classes; k++) {
        rep->class_acc[k] = r->class_seen[k] ? 100.0 * r->class_hits[k] / r->class_seen[k] : 0;
        if (rep->class_acc[k] > rep->class_acc[rep->best_class])
            rep->best_class = k;
    }
    return rc;
}

static int evaluate(run *r, tb_epoch_report *rep)
{
    if (r->dist.rank != 0)
        return 0; /* rank 0 evaluates; the others wait at the next step */
    double t0 = run_now_s();
    tb_eval_counts n = {0};
    if (tb_eval_loop(r->b, r->model, r->test_loader, r->labels_dev, r->logits_host, &n))
        return -1;
    rep->eval_s = run_now_s() - t0;
    rep->test_loss = n.images ? n.loss_sum / n.images : 0;
    rep->test_acc = n.images ? 100.0 * n.correct1 / n.images : 0;
    rep->test_acc5 = n.images ? 100.0 * n.correct5 / n.images : 0;
    return 0;
}

/* 0, -1 after tb_fail, or 2 when the run directory is refused as it is. */
static int start_run(run *r)
{
    const tb_train_config *c = r->cfg;
    char path[1024];
    /* The options as JSON without the per-invocation ones: the experiment's
     * identity, checked across ranks and against a checkpoint. */
    struct json_object *cfg_json = tb_train_config_to_json(c);
    json_object_object_del(cfg_json, "quiet"); /* ranks > 0 are always quiet */
    snprintf(r->identity, sizeof r->identity, "%s", json_object_to_json_string_ext(cfg_json, JSON_C_TO_STRING_PLAIN));
    json_object_put(cfg_json);
    char identity[8400];
    snprintf(identity, sizeof identity, "trainbench %s built %s %s: %s", TB_VERSION, __DATE__, __TIME__, r->identity);
    if (tb_dist_check_same(&r->dist, "configuration or trainbench build", identity))
        return -1;
    r->result = json_object_new_object(); /* ranks > 0 fill it but never write it */
    r->ckpt_epoch = -1;
    r->last_checkpoint = run_now_s();
    if (r->dist.rank != 0)
        return 0;
    if (c->resume[0])
        snprintf(path, sizeof path, "%s", c->resume);
    else if (c->run_dir[0])
        snprintf(path, sizeof path, "%s", c->run_dir);
    else if (tb_rundir_default_path(c->runs_dir, "train", path, sizeof path))
        return -1;
    int refused = 0; /* in use by another process, or not a run: exit 2, nothing written */
    r->dir = tb_rundir_open(path, c->resume[0] != 0, &refused);
    if (!r->dir)
        return refused ? 2 : -1;
    struct json_object *config = tb_train_config_to_json(c);
    json_object_object_add(config, "run_dir", json_object_new_string(path));
    /* A resumed run keeps its start time and earlier resumptions. */
    struct json_object *old = NULL, *v;
    if (c->resume[0]) {
        char rpath[1100];
        snprintf(rpath, sizeof rpath, "%s/result.json", path);
        if (access(rpath, R_OK) == 0)
            old = tb_json_read_file(rpath);
    }
    json_object_object_add(r->result, "schema", json_object_new_string("trainbench.result/1"));
    json_object_object_add(r->result, "config", config);
    json_object_object_add(r->result, "system", tb_sysinfo_json());
    json_object_object_add(r->result, "started_at", old && json_object_object_get_ex(old, "started_at", &v)
                                                        ? json_object_get(v)
                                                        : json_object_new_int64((int64_t)time(NULL)));
    if (old && json_object_object_get_ex(old, "resumed", &v) && json_object_is_type(v, json_type_array))
        json_object_object_add(r->result, "resumed", json_object_get(v));
    json_object_put(old);
    json_object_object_add(r->result, "ranks", json_object_new_int(r->dist.size));
    if (!c->quiet)
        printf("Run directory %s\n", path);
    /* A resume leaves config.json and result.json as they are until its
     * checkpoint is loaded: a wrong --data-dir must not replace them. */
    return c->resume[0] ? 0 : run_record_start(r);
}

int run_record_start(run *r)
{
    struct json_object *config;
    if (!r->dir || !json_object_object_get_ex(r->result, "config", &config))
        return 0; /* ranks > 0 write nothing */
    if (tb_rundir_write_json(r->dir, "config.json", config))
        return -1;
    r->recorded = 1; /* from here on a failure is recorded in result.json */
    run_reserve_space(r);
    struct json_object *ev = json_object_new_object();
    json_object_object_add(ev, "run_dir", json_object_new_string(tb_rundir_path(r->dir)));
    json_object_object_add(ev, "pid", json_object_new_int((int)getpid()));
    if (r->cfg->resume[0])
        json_object_object_add(ev, "resumed", json_object_new_boolean(1));
    if (tb_rundir_event(r->dir, "run_start", ev))
        return -1;
    if (r->resuming) {
        ev = json_object_new_object();
        json_object_object_add(ev, "epoch", json_object_new_int(r->resume.epoch + 1));
        json_object_object_add(ev, "batch", json_object_new_int(r->resume.batch));
        json_object_object_add(ev, "optimizer_step", json_object_new_int64(r->resume.optimizer_step));
        if (tb_rundir_event(r->dir, "resume", ev))
            return -1;
    }
    return run_write_result(r, TB_STATUS_RUNNING);
}

static int save_weights(run *r)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/weights.safetensors", tb_rundir_path(r->dir));
    return tb_model_save_safetensors(r->b, r->model, NULL, path, TB_IO_PARAMS | TB_IO_BUFFERS);
}

static int epoch_loop(run *r, int first_epoch)
{
    const tb_train_config *c = r->cfg;
    if (!c->quiet && c->epoch_lines)
        tb_report_print_header(stdout);
    for (int e = first_epoch; e < c->epochs && !r->stop; e++) {
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "epoch", json_object_new_int(e + 1));
        json_object_object_add(ev, "epochs", json_object_new_int(c->epochs));
        if (use_epoch_batch(r, e))
            return -1;
        json_object_object_add(ev, "batches", json_object_new_int(tb_loader_batches_per_epoch(r->train_loader)));
        json_object_object_add(ev, "batch_size", json_object_new_int(r->train_batch));
        if (c->repeat > 1)
            json_object_object_add(ev, "repeat", json_object_new_int(r->repeat + 1));
        tb_rundir_event(r->dir, "epoch_start", ev);

        tb_epoch_report *rep = &r->epochs[e];
        memset(rep, 0, sizeof *rep);
        rep->epoch = e + 1;
        char label[32];
        snprintf(label, sizeof label, "epoch %d", e + 1);
        double t0 = tb_prof_begin(label);
        int rc = train_epoch(r, e, rep);
        if (rc || r->stop) {
            tb_prof_end(label, "epoch", t0);
            free(rep->class_acc);
            rep->class_acc = NULL;
            return rc;
        }
        tb_prof_end(label, "epoch", t0);
        /* The workbench shows "evaluating" until epoch_end. */
        struct json_object *eev = json_object_new_object();
        json_object_object_add(eev, "epoch", json_object_new_int(e + 1));
        tb_rundir_event(r->dir, "eval_start", eev);
        t0 = tb_prof_begin("evaluate");
        rc = evaluate(r, rep);
        tb_prof_end("evaluate", "phase", t0);
        if (rc) {
            free(rep->class_acc);
            rep->class_acc = NULL;
            return -1;
        }
        rep->rss_bytes = tb_sysinfo_rss_bytes();
        r->epochs_done++;
        r->cur_epoch = e + 1;
        r->next_batch = 0;
        if (run_save_checkpoint(r, "epoch end"))
            return -1;
        tb_rundir_event(r->dir, "epoch_end", run_epoch_json(r, e));
        if (run_write_result(r, TB_STATUS_RUNNING))
            return -1;
        /* '*': left out of the averages once all epochs are done (result.json marks
         * what its averages so far leave out). */
        rep->warmup = e < tb_average_first(c->epochs, c->average_skip);
        if (!c->quiet && c->epoch_lines)
            tb_report_print_epoch(stdout, rep);
    }
    return 0;
}

/* --profile: every rank's spans into one trace, written by rank 0. */
static int finish_profile(run *r)
{
    size_t len;
    char *mine = tb_prof_take_events(&len);
    if (!mine)
        return -1;
    char **all = NULL;
    int rc = tb_dist_gather_text(&r->dist, mine, &all);
    free(mine);
    if (!rc && r->dist.rank == 0) {
        char meta[2048];
        snprintf(meta, sizeof meta,
                 "{\"trainbench\":\"%s\",\"ranks\":%d,\"model\":\"%s\",\"batch_size\":%d,\"dropped_spans\":%ld}",
                 TB_VERSION, r->dist.size, r->cfg->model, r->cfg->batch_size, tb_prof_dropped());
        /* --trace: a fixed name in the run's own directory, never a path from a preset. */
        char path[1100];
        if (r->cfg->profile[0])
            snprintf(path, sizeof path, "%s", r->cfg->profile);
        else if (snprintf(path, sizeof path, "%s/trace.json", tb_rundir_path(r->dir)) >= (int)sizeof path)
            rc = tb_fail("--trace: the run directory's path is too long for RUN_DIR/trace.json");
        if (!rc)
            rc = tb_prof_write_trace(path, all, r->dist.size, meta);
        if (!rc && !r->cfg->quiet)
            printf("Profile written to %s (open it in https://ui.perfetto.dev or chrome://tracing)\n", path);
    }
    for (int i = 0; all && i < r->dist.size; i++)
        free(all[i]);
    free(all);
    return rc;
}

/* Training, once or --repeat times. */
static int train_all(run *r)
{
    int first_epoch = r->resuming ? r->resume.epoch : 0;
    for (;;) {
        if (epoch_loop(r, first_epoch))
            return -1;
        if (r->stop)
            return 0;
        run_record_repeat(r);
        if (r->repeat + 1 >= r->cfg->repeat)
            return 0;
        r->repeat++;
        if (run_reset_for_repeat(r))
            return -1;
        first_epoch = 0;
    }
}

int tb_train_run(const tb_train_config *c)
{
    /* --gpus N: start N ranks of this same command and wait for them. */
    if (c->gpus > 1 && !tb_dist_launched())
        return tb_launch_ranks(c);
    run r = {0};
    if (tb_dist_init(&r.dist, c->rank_timeout)) {
        fprintf(stderr, "trainbench: %s\n", tb_last_error());
        return 1;
    }
    r.local_cfg = *c;
    r.local_cfg.quiet |= r.dist.rank != 0; /* rank 0 speaks for all */
    r.cfg = c = &r.local_cfg;
    r.started = run_now_s();
    r.show_progress = !c->quiet && isatty(STDERR_FILENO);
    json_c_set_serialization_double_format("%.10g", JSON_C_OPTION_GLOBAL);
    stop_requested = 0;
    struct sigaction old_signals[N_SIGNALS];
    memset(old_signals, 0, sizeof old_signals);
    catch_signals(old_signals);
    if (c->profile[0] || c->trace) {
        char label[128];
        snprintf(label, sizeof label, "rank %d (%s)", r.dist.rank, r.dist.host);
        tb_prof_start(r.dist.rank, label);
        tb_prof_layers = c->profile_layers;
        tb_prof_thread_name("trainer");
    }

    int started = start_run(&r);
    if (started) {
        fprintf(stderr, "trainbench: %s\n", tb_last_error());
        run_free(&r);
        restore_signals(old_signals);
        return started == 2 ? 2 : 1;
    }
    int status = 0;
    r.epochs = calloc((size_t)c->epochs, sizeof *r.epochs);
    if (!r.epochs)
        status = run_fail(&r, "setup");
    else if (load_data(&r))
        status = run_fail(&r, "loading data");
    else if (make_loaders(&r) || build_model(&r))
        status = run_fail(&r, "setup");
    else if (c->resume[0] && run_load_checkpoint(&r))
        status = run_fail(&r, "resuming");
    else if (c->resume[0] && run_record_start(&r))
        status = run_fail(&r, "resuming");
    else if (train_all(&r))
        status = run_fail(&r, "training");
    if (!status && c->save_weights && r.dir && save_weights(&r))
        status = run_fail(&r, "saving weights");
    /* The trace before the final status: a trace that cannot be written
     * fails the run rather than follow a result.json that says completed. */
    if (!status && (c->profile[0] || c->trace) && finish_profile(&r))
        status = run_fail(&r, "writing the profile (--profile)");
    if (!status) {
        const char *final = r.stop ? TB_STATUS_INTERRUPTED : TB_STATUS_COMPLETED;
        status = r.stop ? 130 : 0;
        if (run_write_result(&r, final)) {
            fprintf(stderr, "trainbench: %s\n", tb_last_error());
            status = 1;
        }
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "status", json_object_new_string(final));
        json_object_object_add(ev, "epochs_completed", json_object_new_int(r.epochs_done));
        tb_rundir_event(r.dir, "run_end", ev);
        if (!c->quiet || (r.stop && r.dist.rank == 0)) {
            /* lab2.py's closing lines: the last epoch's per-class list, then the gradient count. */
            if (r.epochs_done > 0)
                tb_report_print_class_acc(stdout, &r.epochs[r.epochs_done - 1]);
            if (r.gradients > 0)
                printf("Number of gradients : %zu\n", r.gradients);
            tb_report_print_summary(stdout, r.epochs, r.epochs_done, c->average_skip, c->num_workers);
        }
        if (r.stop && r.dist.rank == 0)
            fprintf(stderr, "trainbench: interrupted; %d finished epochs kept in %s%s%s\n", r.epochs_done,
                    tb_rundir_path(r.dir), c->checkpoint ? "; continue with trainbench train --resume " : "",
                    c->checkpoint ? tb_rundir_path(r.dir) : "");
    } else if (r.recorded) {
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "status", json_object_new_string(TB_STATUS_FAILED));
        tb_rundir_event(r.dir, "run_end", ev);
    }
    /* While SIGPIPE is still ignored: a closed stdout must not kill the
     * process at exit, after result.json says completed. */
    fflush(stdout);
    restore_signals(old_signals);
    if (status == 1 && r.dist.size > 1) /* the others may wait in a collective for this rank */
        tb_dist_abort(&r.dist, "stopping every rank after the failure above");
    run_free(&r);
    tb_dist_finalize(&r.dist);
    return status;
}
