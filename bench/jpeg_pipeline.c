/* JPEG training-pipeline throughput: the loader alone (read, decode,
 * RandomResizedCrop 224 + flip + normalise), images/s with W workers.
 *
 *   jpeg_pipeline DATASET DIR WORKERS IMAGES [SIZE]
 * DATASET: imagenet (DIR: class folders) or packed:FILE (DIR ignored). */
#include "core/error.h" // uses: tb_last_error
#include "datasets/dataset.h" // uses: tb_dataset, tb_dataset_load, TB_SPLIT_TRAIN, tb_dataset_free
#include "datasets/loader.h" // uses: tb_loader_config, tb_loader_config_defaults, tb_loader, tb_loader_create, ...

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s imagenet|packed:FILE DIR WORKERS IMAGES [SIZE]\n", argv[0]);
        return 2;
    }
    int workers = atoi(argv[3]), images = atoi(argv[4]), size = argc > 5 ? atoi(argv[5]) : 224;
    tb_dataset ds;
    if (tb_dataset_load(argv[1], argv[2], TB_SPLIT_TRAIN, images, &ds)) {
        fprintf(stderr, "%s\n", tb_last_error());
        return 1;
    }
    tb_loader_config c;
    tb_loader_config_defaults(&c);
    c.batch_size = 64;
    c.num_workers = workers;
    c.seed = 1;
    c.augment = 1;
    c.out_size = size;
    tb_loader *l = tb_loader_create(&ds, &c);
    if (!l) {
        fprintf(stderr, "%s\n", tb_last_error());
        return 1;
    }
    /* Epoch 0 warms the page cache; epoch 1 is measured. */
    double t = 0;
    int n = 0;
    for (int e = 0; e < 2; e++) {
        tb_batch *b;
        int rc;
        double t0 = now_s();
        n = 0;
        tb_loader_start_epoch(l, e);
        while ((rc = tb_loader_next(l, &b)) > 0) {
            n += b->n;
            tb_loader_release(l, b);
        }
        if (rc < 0) {
            fprintf(stderr, "%s\n", tb_last_error());
            return 1;
        }
        t = now_s() - t0;
    }
    int cores = workers ? workers : 1;
    printf("%s workers=%d images=%d size=%d: %.1f images/s, %.1f images/s per core\n", argv[1], workers, n, size,
           n / t, n / t / cores);
    tb_loader_destroy(l);
    tb_dataset_free(&ds);
    return 0;
}
