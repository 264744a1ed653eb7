/* In-memory image classification datasets: CIFAR-10/100 binary batches,
 * MNIST/Fashion-MNIST IDX files (plain or gzipped) and synthetic data.
 *
 * Every reader checks sizes and magic numbers strictly; a bad file gets a
 * tb_fail() message naming the file and what is wrong. */
#ifndef TB_DATASET_H
#define TB_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef enum { TB_SPLIT_TRAIN, TB_SPLIT_TEST } tb_split;

typedef struct {
    char name[32];       /* cifar10, cifar100, fashion-mnist, mnist, synthetic, imagenet */
    int count;
    int total;           /* images in the split's files before `limit` cut them */
    int channels, height, width;
    int classes;
    uint8_t *pixels;     /* count images, each channels x height x width (CHW) */
    int32_t *labels;     /* count labels in [0, classes) */
    float mean[3], std[3]; /* per-channel normalisation, in [0,1] pixel units */
    int flip_ok;         /* horizontal flips are label-preserving (not for digits) */
    /* Encoded images (ImageNet class folders, JPEG packs): pixels is NULL,
     * height and width are 0, and the loader decodes image i from here. */
    struct tb_imageset *images;
} tb_dataset;

/* Accepted dataset names, comma separated, for messages and help.  Besides
 * the names, "packed:FILE" reads a file made by `trainbench data pack`. */
const char *tb_dataset_names(void);
int tb_dataset_known(const char *name);

/* Where a dataset is looked for when --data-dir is not given:
 * fashion-mnist: /usr/share/datasets/fashion-mnist when present (Debian's
 * dataset-fashion-mnist); otherwise $TRAINBENCH_DATA/NAME, else
 * $XDG_DATA_HOME/trainbench/datasets/NAME (~/.local/share/...).  This is also
 * where `trainbench data fetch NAME` should put a download.  synthetic: "". */
int tb_dataset_default_dir(const char *name, char *out, size_t out_size);

/* Loads a split from `dir` (NULL or "": tb_dataset_default_dir).  `limit` > 0
 * keeps only the first min(limit, available) images; the files are still
 * checked whole.  CIFAR files are looked for in dir and in the archive's
 * folder below it (cifar-10-batches-bin, cifar-100-binary).  For "synthetic",
 * dir is ignored: limit (default 10000 train / 2000 test) images, from a fixed
 * seed per split, so the test split holds new samples of the same task. */
int tb_dataset_load(const char *name, const char *dir, tb_split split, int limit, tb_dataset *out);
/* tb_dataset_load with the run's --image-size: "synthetic" is generated at
 * image_size x image_size (0: 32); other datasets ignore it (in-memory sets
 * have their stored size, JPEG sets are cropped to it by the loader). */
int tb_dataset_load_sized(const char *name, const char *dir, tb_split split, int limit, int image_size,
                          tb_dataset *out);
void tb_dataset_free(tb_dataset *ds);

/* Readers, exposed for tests and fuzzing. */
int tb_idx_read_images(const char *path, int limit, tb_dataset *out);  /* fills count, total, c, h, w, pixels */
/* Labels must be 0..9 (every IDX set we read has 10 classes). */
int tb_idx_read_labels(const char *path, int limit, int32_t **labels, int *count);
/* Any whole number of records per file (tb_dataset_load checks the official
 * sizes); fills count, total, c, h, w, classes, pixels and labels. */
int tb_cifar_read_batches(const char *const *paths, int npaths, int cifar100, int limit, tb_dataset *out);
/* Synthetic CIFAR-shaped data: random pixels with a class-dependent pattern
 * so the task is learnable, never all zeros.  The class patterns are fixed;
 * the seed picks the samples (labels and noise).  Fills every field.
 * _sized: side x side images (TB_SYNTHETIC_MIN_SIDE..MAX_SIDE); the plain
 * call is side TB_SYNTHETIC_SIDE (32). */
enum { TB_SYNTHETIC_SIDE = 32, TB_SYNTHETIC_MIN_SIDE = 8, TB_SYNTHETIC_MAX_SIDE = 1024 };
int tb_dataset_synthetic(int count, int classes, uint64_t seed, tb_dataset *out);
int tb_dataset_synthetic_sized(int count, int classes, int side, uint64_t seed, tb_dataset *out);

#endif
