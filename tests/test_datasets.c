/* Dataset readers: the real Fashion-MNIST when installed, strict rejection of
 * damaged IDX and CIFAR files, CIFAR round trips, limits, synthetic data, and
 * FIFOs, devices and links where a reader expects a plain file. */
#include "core/error.h" // uses: tb_last_error
#include "core/fsutil.h" // uses: tb_read_file, tb_open_regular, tb_mkdir_p
#include "core/rng.h" // uses: tb_rng, tb_rng_next, tb_rng_below, tb_rng_seed
#include "datasets/checksum.h" // uses: tb_checksum_file
#include "datasets/dataset.h" // uses: tb_dataset_default_dir, tb_dataset, tb_dataset_load, TB_SPLIT_TRAIN, ...
#include "datasets/extract.h" // uses: tb_extract_archive, tb_extract_check_tree
#include "datasets/imageset.h" // uses: tb_imageset_get
#include "tests/check.h" // uses: CHECK, CHECK_CLOSE, check_finish

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char tmp[256];

static const char *tmp_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    return path;
}

/* Writes a file in the temp dir, gzipped when its name ends in .gz. */
static void write_file(const char *name, const void *data, size_t n)
{
    const char *path = tmp_path(name);
    size_t len = strlen(name);
    if (len > 3 && strcmp(name + len - 3, ".gz") == 0) {
        gzFile f = gzopen(path, "wb");
        CHECK(f && gzwrite(f, data, (unsigned)n) == (int)n && gzclose(f) == Z_OK, "cannot write %s", path);
    } else {
        FILE *f = fopen(path, "wb");
        CHECK(f && fwrite(data, 1, n, f) == n && fclose(f) == 0, "cannot write %s", path);
    }
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* An IDX image file of n images of side x side, pixel = image + offset. */
static size_t idx_images(uint8_t *buf, uint32_t magic, uint32_t n, uint32_t side)
{
    put_be32(buf, magic);
    put_be32(buf + 4, n);
    put_be32(buf + 8, side);
    put_be32(buf + 12, side);
    for (uint32_t i = 0; i < n * side * side; i++)
        buf[16 + i] = (uint8_t)(i / (side * side) * 7 + i % 13);
    return 16 + (size_t)n * side * side;
}

static size_t idx_labels(uint8_t *buf, uint32_t n, uint8_t bad_at)
{
    put_be32(buf, 0x00000801);
    put_be32(buf + 4, n);
    for (uint32_t i = 0; i < n; i++)
        buf[8 + i] = (uint8_t)(i == bad_at ? 10 : i % 10);
    return 8 + n;
}

static void check_error_names(const char *what, const char *path, const char *word)
{
    const char *msg = tb_last_error();
    CHECK(strstr(msg, path) != NULL, "%s: message does not name %s: %s", what, path, msg);
    CHECK(strstr(msg, word) != NULL, "%s: message does not say '%s': %s", what, word, msg);
}

static void test_fashion_mnist(void)
{
    struct stat st;
    if (stat(FMNIST_DIR "/train-images-idx3-ubyte.gz", &st) != 0) {
        printf("skipping the real Fashion-MNIST checks: %s is not installed (dataset-fashion-mnist)\n", FMNIST_DIR);
        return;
    }
    char dir[512];
    CHECK(tb_dataset_default_dir("fashion-mnist", dir, sizeof dir) == 0 && strcmp(dir, FMNIST_DIR) == 0,
          "default dir %s", dir);
    tb_dataset train, test, some;
    CHECK(tb_dataset_load("fashion-mnist", NULL, TB_SPLIT_TRAIN, 0, &train) == 0, "%s", tb_last_error());
    CHECK(train.count == 60000 && train.total == 60000 && train.channels == 1 && train.height == 28 &&
              train.width == 28 && train.classes == 10 && train.flip_ok,
          "train: %d images %dx%dx%d", train.count, train.channels, train.height, train.width);
    if (train.count == 60000) {
        int hist[10] = {0};
        for (int i = 0; i < train.count; i++)
            hist[train.labels[i]]++;
        for (int k = 0; k < 10; k++)
            CHECK(hist[k] == 6000, "class %d has %d images", k, hist[k]);
        /* Facts of the data (computed with python3's gzip module). */
        long sum = 0, last = 0;
        for (int i = 0; i < 784; i++) {
            sum += train.pixels[i];
            last += train.pixels[59999 * 784 + i];
        }
        CHECK(sum == 76247 && train.labels[0] == 9, "first image: sum %ld label %d", sum, train.labels[0]);
        CHECK(last == 16684, "last image: sum %ld", last);
        CHECK_CLOSE(train.mean[0], 0.2860, 1e-6, "mean");
        CHECK_CLOSE(train.std[0], 0.3530, 1e-6, "std");
    }
    CHECK(tb_dataset_load("fashion-mnist", FMNIST_DIR, TB_SPLIT_TEST, 0, &test) == 0, "%s", tb_last_error());
    CHECK(test.count == 10000 && test.labels[0] == 9, "test: %d images", test.count);
    CHECK(tb_dataset_load("fashion-mnist", FMNIST_DIR, TB_SPLIT_TRAIN, 100, &some) == 0, "%s", tb_last_error());
    CHECK(some.count == 100 && some.total == 60000, "limit 100: %d of %d", some.count, some.total);
    CHECK(train.count == 60000 && memcmp(some.pixels, train.pixels, 100 * 784) == 0 &&
              memcmp(some.labels, train.labels, 100 * sizeof(int32_t)) == 0,
          "limited load differs from the full one");
    tb_dataset_free(&train);
    tb_dataset_free(&test);
    tb_dataset_free(&some);
}

/* A small mnist set in tmp; each damage is checked through the loader. */
static void test_bad_idx(void)
{
    static uint8_t img[16 + 20 * 28 * 28], lab[8 + 20];
    size_t ni = idx_images(img, 0x00000803, 20, 28), nl = idx_labels(lab, 20, 255);
    tb_dataset ds;

    write_file("train-images-idx3-ubyte", img, ni);
    write_file("train-labels-idx1-ubyte.gz", lab, nl);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 0, &ds) == 0, "%s", tb_last_error());
    CHECK(ds.count == 20 && ds.height == 28 && ds.labels[13] == 3 && ds.pixels[784 * 2 + 5] == 14 && !ds.flip_ok,
          "small mnist read wrong");
    tb_dataset_free(&ds);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 5, &ds) == 0 && ds.count == 5 && ds.total == 20,
          "limit 5 on 20 images: %d", ds.count);
    tb_dataset_free(&ds);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 500, &ds) == 0 && ds.count == 20,
          "limit past the end: %d", ds.count);
    tb_dataset_free(&ds);

    const char *images = tmp_path("train-images-idx3-ubyte");
    char saved[512];
    snprintf(saved, sizeof saved, "%s", images);
    idx_images(img, 0x00000802, 20, 28);
    write_file("train-images-idx3-ubyte", img, ni);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 0, &ds) < 0, "wrong magic accepted");
    check_error_names("wrong magic", saved, "magic");

    idx_images(img, 0x00000803, 20, 28);
    write_file("train-images-idx3-ubyte", img, ni - 1234);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 3, &ds) < 0, "truncated images accepted");
    check_error_names("truncated", saved, "truncated: expected 15680 pixel bytes, got 14446");

    static uint8_t more[sizeof img + 3];
    memcpy(more, img, ni);
    write_file("train-images-idx3-ubyte", more, ni + 3);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 0, &ds) < 0, "trailing garbage accepted");
    check_error_names("trailing garbage", saved, "trailing garbage");

    idx_images(img, 0x00000803, 19, 28);
    write_file("train-images-idx3-ubyte", img, 16 + 19 * 784);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 0, &ds) < 0, "19 images with 20 labels accepted");
    check_error_names("count mismatch", saved, "do not match");
    check_error_names("count mismatch", tmp_path("train-labels-idx1-ubyte.gz"), "20 labels");

    idx_images(img, 0x00000803, 20, 28);
    write_file("train-images-idx3-ubyte", img, ni);
    idx_labels(lab, 20, 17);
    write_file("train-labels-idx1-ubyte.gz", lab, nl);
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TRAIN, 2, &ds) < 0, "label 10 accepted");
    check_error_names("label out of range", tmp_path("train-labels-idx1-ubyte.gz"), "out of range");

    /* A gzip stream cut short is a truncated file too. */
    idx_labels(lab, 20, 255);
    write_file("train-labels-idx1-ubyte.gz", lab, nl);
    FILE *f = fopen(tmp_path("train-labels-idx1-ubyte.gz"), "rb");
    uint8_t gz[256];
    size_t ngz = f ? fread(gz, 1, sizeof gz, f) : 0;
    if (f)
        fclose(f);
    write_file("cut.bin", gz, ngz - 12);
    int32_t *labels;
    int n;
    CHECK(tb_idx_read_labels(tmp_path("cut.bin"), 0, &labels, &n) < 0, "cut gzip stream accepted");
    check_error_names("cut gzip", tmp_path("cut.bin"), "truncated");

    /* Bad size in the header, and a header cut short. */
    idx_images(img, 0x00000803, 20, 0);
    write_file("zero.bin", img, 16);
    CHECK(tb_idx_read_images(tmp_path("zero.bin"), 0, &ds) < 0, "0x0 images accepted");
    check_error_names("zero size", tmp_path("zero.bin"), "implausible image size");
    write_file("short.bin", img, 10);
    CHECK(tb_idx_read_images(tmp_path("short.bin"), 0, &ds) < 0, "10-byte file accepted");
    check_error_names("short header", tmp_path("short.bin"), "header");

    /* Missing: names the file and the folder, says what to do. */
    CHECK(tb_dataset_load("mnist", tmp, TB_SPLIT_TEST, 0, &ds) < 0, "missing test files accepted");
    check_error_names("missing", "t10k-images-idx3-ubyte", tmp);
    check_error_names("missing", "not found", "--data-dir");
    CHECK(tb_dataset_load("fashion-mnist", tmp, TB_SPLIT_TEST, 0, &ds) < 0, "missing fashion-mnist accepted");
    check_error_names("missing", "dataset-fashion-mnist", "trainbench data fetch fashion-mnist");
    CHECK(tb_idx_read_images(tmp_path("nothing-here"), 0, &ds) < 0, "missing file read");
    check_error_names("missing", tmp_path("nothing-here"), "cannot open");
}

/* n random CIFAR records; returns the bytes written. */
static size_t cifar_records(uint8_t *buf, int n, int cifar100, tb_rng *r)
{
    size_t rec = 3072 + (cifar100 ? 2 : 1);
    for (size_t i = 0; i < rec * n; i++)
        buf[i] = (uint8_t)tb_rng_next(r);
    for (int i = 0; i < n; i++) {
        if (cifar100) {
            buf[i * rec] = (uint8_t)tb_rng_below(r, 20);
            buf[i * rec + 1] = (uint8_t)tb_rng_below(r, 100);
        } else {
            buf[i * rec] = (uint8_t)tb_rng_below(r, 10);
        }
    }
    return rec * n;
}

static int cifar_matches(const tb_dataset *ds, const uint8_t *buf, int n, int cifar100, int first)
{
    size_t rec = 3072 + (cifar100 ? 2 : 1);
    for (int i = 0; i < n; i++)
        if (ds->labels[first + i] != buf[i * rec + rec - 3073] ||
            memcmp(ds->pixels + (size_t)(first + i) * 3072, buf + i * rec + rec - 3072, 3072) != 0)
            return 0;
    return 1;
}

static void test_cifar(void)
{
    static uint8_t a[3 * 3074], b[4 * 3074];
    tb_rng r;
    tb_rng_seed(&r, 42, 0, 0, 0);
    tb_dataset ds;

    size_t na = cifar_records(a, 3, 0, &r), nb = cifar_records(b, 4, 0, &r);
    write_file("c10_a.bin", a, na);
    write_file("c10_b.bin", b, nb);
    char pa[512], pb[512];
    snprintf(pa, sizeof pa, "%s", tmp_path("c10_a.bin"));
    snprintf(pb, sizeof pb, "%s", tmp_path("c10_b.bin"));
    const char *paths[2] = {pa, pb};
    CHECK(tb_cifar_read_batches(paths, 2, 0, 0, &ds) == 0, "%s", tb_last_error());
    CHECK(ds.count == 7 && ds.channels == 3 && ds.height == 32 && ds.classes == 10 &&
              cifar_matches(&ds, a, 3, 0, 0) && cifar_matches(&ds, b, 4, 0, 3),
          "CIFAR-10 records read back wrong");
    tb_dataset_free(&ds);
    CHECK(tb_cifar_read_batches(paths, 2, 0, 5, &ds) == 0 && ds.count == 5 && ds.total == 7 &&
              cifar_matches(&ds, a, 3, 0, 0) && cifar_matches(&ds, b, 2, 0, 3),
          "CIFAR-10 limit 5 wrong");
    tb_dataset_free(&ds);

    write_file("c10_b.bin", b, nb - 1);
    CHECK(tb_cifar_read_batches(paths, 2, 0, 1, &ds) < 0, "short CIFAR file accepted");
    check_error_names("short cifar", pb, "whole number");
    b[3073] = 10;
    write_file("c10_b.bin", b, nb);
    CHECK(tb_cifar_read_batches(paths, 2, 0, 0, &ds) < 0, "CIFAR-10 label 10 accepted");
    check_error_names("cifar label", pb, "out of range");

    size_t nc = cifar_records(b, 4, 1, &r);
    write_file("c100.bin", b, nc);
    const char *p100[1] = {tmp_path("c100.bin")};
    CHECK(tb_cifar_read_batches(p100, 1, 1, 0, &ds) == 0, "%s", tb_last_error());
    CHECK(ds.count == 4 && ds.classes == 100 && cifar_matches(&ds, b, 4, 1, 0), "CIFAR-100 fine labels wrong");
    tb_dataset_free(&ds);
    b[3074 + 1] = 100;
    write_file("c100.bin", b, nc);
    CHECK(tb_cifar_read_batches(p100, 1, 1, 0, &ds) < 0, "CIFAR-100 fine label 100 accepted");
    check_error_names("cifar100 label", p100[0], "out of range");

    /* The whole CIFAR-10 layout, in the archive's folder, as sparse files of
     * zero records; a file with a record too few is an incomplete download. */
    char sub[512];
    snprintf(sub, sizeof sub, "%s/cifar-10-batches-bin", tmp);
    CHECK(mkdir(sub, 0700) == 0, "mkdir %s", sub);
    const char *names[] = {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                           "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"};
    for (int i = 0; i < 6; i++) {
        char rel[64];
        snprintf(rel, sizeof rel, "cifar-10-batches-bin/%s", names[i]);
        write_file(rel, "", 0);
        CHECK(truncate(tmp_path(rel), 10000 * 3073L - (i == 5 ? 3073 : 0)) == 0, "truncate %s", tmp_path(rel));
    }
    CHECK(tb_dataset_load("cifar10", tmp, TB_SPLIT_TRAIN, 10, &ds) == 0, "%s", tb_last_error());
    CHECK(ds.count == 10 && ds.total == 50000 && ds.labels[9] == 0 && ds.flip_ok, "cifar10 train: %d of %d",
          ds.count, ds.total);
    CHECK_CLOSE(ds.mean[2], 0.4465, 1e-6, "cifar10 mean");
    CHECK_CLOSE(ds.std[1], 0.2435, 1e-6, "cifar10 std");
    tb_dataset_free(&ds);
    CHECK(tb_dataset_load("cifar10", tmp, TB_SPLIT_TEST, 0, &ds) < 0, "9999-record test batch accepted");
    check_error_names("cifar size", "test_batch.bin", "expected 30730000");
    CHECK(tb_dataset_load("cifar100", tmp, TB_SPLIT_TEST, 0, &ds) < 0, "missing cifar100 accepted");
    check_error_names("missing cifar100", "test.bin", "cifar-100-binary");
}

static void test_synthetic(void)
{
    tb_dataset a, b, c;
    CHECK(tb_dataset_synthetic(300, 10, 7, &a) == 0 && tb_dataset_synthetic(300, 10, 7, &b) == 0 &&
              tb_dataset_synthetic(300, 10, 8, &c) == 0,
          "%s", tb_last_error());
    CHECK(memcmp(a.pixels, b.pixels, 300 * 3072) == 0 && memcmp(a.labels, b.labels, 300 * 4) == 0,
          "same seed, different data");
    CHECK(memcmp(a.pixels, c.pixels, 300 * 3072) != 0, "different seeds, same data");
    long sum = 0;
    int seen[10] = {0}, in_range = 1;
    for (int i = 0; i < 300 * 3072; i++)
        sum += a.pixels[i];
    for (int i = 0; i < 300; i++) {
        in_range &= a.labels[i] >= 0 && a.labels[i] < 10;
        if (in_range)
            seen[a.labels[i]] = 1;
    }
    CHECK(sum > 300 * 3072 * 64L, "synthetic pixels nearly all zero (mean %g)", (double)sum / (300 * 3072.0));
    CHECK(in_range, "synthetic label out of range");
    for (int k = 0; k < 10; k++)
        CHECK(seen[k], "class %d never drawn", k);
    CHECK(a.channels == 3 && a.height == 32 && a.width == 32 && a.classes == 10, "synthetic shape");
    tb_dataset_free(&a);
    tb_dataset_free(&b);
    tb_dataset_free(&c);

    CHECK(tb_dataset_load("synthetic", NULL, TB_SPLIT_TRAIN, 0, &a) == 0 && a.count == 10000, "synthetic train");
    CHECK(tb_dataset_load("synthetic", NULL, TB_SPLIT_TEST, 0, &b) == 0 && b.count == 2000, "synthetic test");
    CHECK(tb_dataset_load("synthetic", NULL, TB_SPLIT_TRAIN, 50, &c) == 0 && c.count == 50, "synthetic limit");
    CHECK(memcmp(a.pixels, b.pixels, 2000 * 3072) != 0, "test split repeats the train split");
    CHECK(memcmp(a.pixels, c.pixels, 50 * 3072) == 0, "limit changes the synthetic images");
    CHECK(strcmp(a.name, "synthetic") == 0 && a.mean[0] == 0.5f && a.std[0] == 0.25f, "synthetic constants");
    tb_dataset_free(&a);
    tb_dataset_free(&b);
    tb_dataset_free(&c);
}

static void test_names(void)
{
    CHECK(strcmp(tb_dataset_names(), "cifar10, cifar100, fashion-mnist, mnist, synthetic, imagenet, packed:FILE") == 0,
          "names");
    CHECK(tb_dataset_known("cifar100") && tb_dataset_known("mnist") && tb_dataset_known("imagenet") &&
              tb_dataset_known("packed:x.tbpack") && !tb_dataset_known("packed:") && !tb_dataset_known("imagenet22k") &&
              !tb_dataset_known(NULL),
          "known");
    tb_dataset ds;
    CHECK(tb_dataset_load("imagenet22k", NULL, TB_SPLIT_TRAIN, 0, &ds) < 0 && strstr(tb_last_error(), "cifar100"),
          "unknown dataset: %s", tb_last_error());
    char dir[512];
    setenv("TRAINBENCH_DATA", "/data/tb", 1);
    CHECK(tb_dataset_default_dir("cifar10", dir, sizeof dir) == 0 && strcmp(dir, "/data/tb/cifar10") == 0,
          "TRAINBENCH_DATA: %s", dir);
    unsetenv("TRAINBENCH_DATA");
    unsetenv("HOME");
    unsetenv("XDG_DATA_HOME");
    CHECK(tb_dataset_default_dir("synthetic", dir, sizeof dir) == 0 && dir[0] == '\0', "synthetic dir: %s", dir);
    CHECK(tb_dataset_default_dir("cifar10", dir, sizeof dir) < 0 && strstr(tb_last_error(), "--data-dir"),
          "no HOME: %s", dir);
    setenv("XDG_DATA_HOME", "/xdg", 1);
    CHECK(tb_dataset_default_dir("mnist", dir, sizeof dir) == 0 &&
              strcmp(dir, "/xdg/trainbench/datasets/mnist") == 0,
          "XDG_DATA_HOME: %s", dir);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_datasets: a reader blocked on a FIFO or read a device without end\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* Every reader opens only regular files: a FIFO (no writer: opening it would
 * block forever) or a device (/dev/zero: endless) is refused with a message
 * naming it.  The alarm turns a hang into a failure. */
static void test_not_regular(void)
{
    signal(SIGALRM, on_alarm);
    alarm(20);
    char fifo[512], zero[512], dest[512], pack[600];
    snprintf(fifo, sizeof fifo, "%s", tmp_path("hostile-fifo.gz"));
    snprintf(zero, sizeof zero, "%s", tmp_path("hostile-zero"));
    snprintf(dest, sizeof dest, "%s", tmp_path("extracted"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
    CHECK(symlink("/dev/zero", zero) == 0, "symlink %s", zero);
    CHECK(mkdir(dest, 0700) == 0, "mkdir %s", dest);
    const char *hostile[2] = {fifo, zero};
    for (int i = 0; i < 2; i++) {
        const char *path = hostile[i], *kind = i ? "device" : "FIFO";
        tb_dataset ds;
        CHECK(tb_idx_read_images(path, 0, &ds) < 0, "IDX images from a %s accepted", kind);
        check_error_names("idx images", path, kind);
        int32_t *labels = NULL;
        int n = 0;
        CHECK(tb_idx_read_labels(path, 0, &labels, &n) < 0, "IDX labels from a %s accepted", kind);
        check_error_names("idx labels", path, kind);
        CHECK(tb_cifar_read_batches(&path, 1, 0, 0, &ds) < 0, "CIFAR from a %s accepted", kind);
        check_error_names("cifar", path, kind);
        snprintf(pack, sizeof pack, "packed:%s", path);
        CHECK(tb_dataset_load(pack, NULL, TB_SPLIT_TRAIN, 0, &ds) < 0, "--dataset %s accepted", pack);
        check_error_names("packed", path, kind);
        char hex[160];
        CHECK(tb_checksum_file(path, "md5", hex) < 0, "checksum of a %s accepted", kind);
        check_error_names("checksum", path, kind);
        CHECK(tb_extract_archive(path, dest) < 0, "extracting a %s accepted", kind);
        check_error_names("extract", path, kind);
        char *text = NULL;
        size_t size = 0;
        CHECK(tb_read_file(path, &text, &size) < 0, "tb_read_file of a %s accepted", kind);
        check_error_names("read_file", path, kind);
        free(text);
        CHECK(tb_open_regular(path, 0) < 0, "tb_open_regular of a %s accepted", kind);
    }
    /* An image-folder dataset whose one "JPEG" is a FIFO: listed, then refused when read. */
    char cls[600], img[700];
    snprintf(cls, sizeof cls, "%s/train/n01", tmp_path("folders"));
    snprintf(img, sizeof img, "%s/x.jpg", cls);
    CHECK(tb_mkdir_p(cls) == 0 && mkfifo(img, 0600) == 0, "cannot make %s", img);
    tb_dataset ds;
    CHECK(tb_dataset_load("imagenet", tmp_path("folders"), TB_SPLIT_TRAIN, 0, &ds) == 0, "%s", tb_last_error());
    if (ds.images) {
        uint8_t *buf = NULL;
        size_t cap = 0, size = 0;
        const uint8_t *data = NULL;
        char what[800];
        CHECK(tb_imageset_get(ds.images, 0, &buf, &cap, &data, &size, what, sizeof what) < 0,
              "a FIFO read as an image");
        check_error_names("image", img, "FIFO");
        free(buf);
        tb_dataset_free(&ds);
    }
    alarm(0);
    /* The extracted-tree check: plain files and folders pass, a link anywhere fails naming it. */
    char file[600], link[600];
    snprintf(file, sizeof file, "%s/a/b.txt", dest);
    snprintf(link, sizeof link, "%s/a/up", dest);
    CHECK(tb_mkdir_p(tmp_path("extracted/a")) == 0, "%s", tb_last_error());
    write_file("extracted/a/b.txt", "x", 1);
    CHECK(tb_extract_check_tree(dest) == 0, "a plain tree refused: %s", tb_last_error());
    CHECK(symlink("..", link) == 0, "symlink %s", link);
    CHECK(tb_extract_check_tree(dest) < 0, "a tree with a link accepted");
    check_error_names("tree", link, "symbolic link");
}

static void remove_tmp(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "cannot remove %s", tmp);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/tb-datasets-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_fashion_mnist();
    test_bad_idx();
    test_cifar();
    test_synthetic();
    test_names();
    test_not_regular();
    remove_tmp();
    return check_finish();
}
