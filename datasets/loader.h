/* The data loader: seeded shuffling, augmentation and batching with
 * --num-workers threads and prefetching.
 *
 * Batch i of epoch e depends only on (seed, e, i): its images come from the
 * epoch's shuffled order and its augmentation draws from a random stream
 * seeded by (seed, e, i).  So the batches are identical whatever the worker
 * count; workers only change who computes them and when.
 *
 * Exactly: the order of epoch e is tb_rng_shuffle of [0, count) with the
 * stream tb_rng_seed(seed, 1, e, 0) (identity without shuffle).  Data-parallel
 * rank r of R takes positions r, r + R, r + 2R, ... of that order after it is
 * made a multiple of R: with drop_last it is cut to floor(count / R) * R; else
 * it wraps round (position p is order[p % count]) up to ceil(count / R) * R,
 * like PyTorch's DistributedSampler.  So every rank gets the same number of
 * images and batches; without drop_last up to R - 1 images appear twice in an
 * epoch.  Batch i of rank r holds the rank's images i*B .. i*B+B-1 (the last
 * batch is partial unless drop_last) and draws its augmentation, image by
 * image (crop top, crop left, then flip if the dataset allows), from
 * tb_rng_seed(seed, 2, e, i * R + r).
 *
 * Threads: one consumer thread calls start_epoch/next/release; workers are
 * internal.  Up to max(1, num_workers * prefetch) batches may be held at once
 * (with num_workers 0: one, so release a batch before asking for the next);
 * asking for more fails rather than deadlocks. */
#ifndef TB_LOADER_H
#define TB_LOADER_H

#include "datasets/dataset.h" // uses: tb_dataset

#include <stdint.h>

typedef struct {
    int batch_size;
    int num_workers;  /* 0: batches are made in the caller's thread, as PyTorch's num_workers=0 */
    int prefetch;     /* batches in flight per worker (PyTorch's prefetch_factor), default 2 */
    uint64_t seed;
    int shuffle;
    int augment;      /* random crop with padding 4 and horizontal flip (when the dataset allows) */
    int drop_last;
    int out_size;     /* images are zero-padded (centred) to at least this size: 28x28 -> 32x32;
                         encoded (JPEG) datasets: the square crop size (224 for ImageNet) */
    int shard_rank, shard_count; /* data-parallel: this rank's share of every epoch's order (1 rank: 0, 1) */
} tb_loader_config;

void tb_loader_config_defaults(tb_loader_config *c);

typedef struct {
    int index;     /* batch index within the epoch */
    int n;         /* images in this batch */
    int channels, height, width;
    float *x;      /* n x C x H x W, normalised, host memory owned by the loader */
    int32_t *y;    /* n labels */
} tb_batch;

typedef struct tb_loader tb_loader;

tb_loader *tb_loader_create(const tb_dataset *ds, const tb_loader_config *cfg);
void tb_loader_destroy(tb_loader *l);

/* Output geometry (after padding). */
int tb_loader_height(const tb_loader *l);
int tb_loader_width(const tb_loader *l);
int tb_loader_batches_per_epoch(const tb_loader *l);
/* Images this rank gets per epoch (all batches together). */
int tb_loader_images_per_epoch(const tb_loader *l);

/* Starts epoch `epoch` (from 0): computes its order and sets workers going.
 * The previous epoch may be left unfinished (its remaining batches are
 * dropped), but every batch must have been released. */
int tb_loader_start_epoch(tb_loader *l, int epoch);
/* The same from batch `first_batch` on (resuming a checkpoint taken
 * mid-epoch): the batches handed out are exactly those an uninterrupted
 * epoch would have handed out from there. */
int tb_loader_start_epoch_at(tb_loader *l, int epoch, int first_batch);
/* Blocks until the next batch in order is ready.  Returns 1 with *out set,
 * 0 at the end of the epoch, -1 on error.  The batch stays valid until
 * tb_loader_release(). */
int tb_loader_next(tb_loader *l, tb_batch **out);
void tb_loader_release(tb_loader *l, tb_batch *batch);

/* Makes batch `index` of `epoch` directly (no threads); what workers run.
 * Exposed for tests.  `epoch` must be the one last started; out->x and out->y
 * must hold batch_size x C x H x W floats and batch_size labels. */
int tb_loader_make_batch(const tb_loader *l, int epoch, int index, tb_batch *out);

#endif
