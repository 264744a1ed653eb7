/* CIFAR-10/100 binary batches: fixed-size records of label byte(s) followed
 * by 3x32x32 pixels already in CHW order (all red, then green, then blue). */
#include "core/error.h" // uses: tb_fail_prefix, tb_fail, tb_malloc
#include "core/fsutil.h" // uses: tb_open_regular, tb_fopen_regular
#include "datasets/dataset.h" // uses: tb_dataset, tb_cifar_read_batches, tb_dataset_free

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (3 * CIFAR_SIDE * CIFAR_SIDE)

static const char refetch[] = "the file is damaged or incomplete; download it again";

/* Number of whole records in a file, or -1 after tb_fail. */
static long long count_records(const char *path, size_t record)
{
    struct stat st;
    int fd = tb_open_regular(path, 0);
    if (fd < 0)
        return tb_fail_prefix("dataset file");
    int e = fstat(fd, &st) != 0 ? errno : 0;
    close(fd);
    if (e)
        return tb_fail("dataset file %s: cannot stat it: %s", path, strerror(e));
    if (st.st_size == 0 || (size_t)st.st_size % record != 0)
        return tb_fail("dataset file %s: %lld bytes is not a whole number of %zu-byte CIFAR records; %s", path,
                       (long long)st.st_size, record, refetch);
    return (long long)((size_t)st.st_size / record);
}

/* Appends up to `want` records of one file to out (whose count grows). */
static int read_records(const char *path, int cifar100, long long want, tb_dataset *out)
{
    FILE *f = tb_fopen_regular(path);
    if (!f)
        return tb_fail_prefix("dataset file");
    const int nlabels = cifar100 ? 2 : 1;
    for (long long i = 0; i < want; i++) {
        unsigned char head[2];
        uint8_t *pixels = out->pixels + (size_t)out->count * CIFAR_PIXELS;
        if (fread(head, 1, (size_t)nlabels, f) != (size_t)nlabels ||
            fread(pixels, 1, CIFAR_PIXELS, f) != CIFAR_PIXELS) {
            fclose(f);
            return tb_fail("dataset file %s: truncated while reading record %lld; %s", path, i, refetch);
        }
        /* CIFAR-100 records are (coarse, fine); we train on the fine label. */
        int label = head[nlabels - 1];
        if (cifar100 && head[0] >= 20) {
            fclose(f);
            return tb_fail("dataset file %s: coarse label %d of record %lld is out of range (0..19); %s", path,
                           head[0], i, refetch);
        }
        if (label >= out->classes) {
            fclose(f);
            return tb_fail("dataset file %s: label %d of record %lld is out of range (0..%d); is it the %s file? %s",
                           path, label, i, out->classes - 1, cifar100 ? "CIFAR-100" : "CIFAR-10", refetch);
        }
        out->labels[out->count++] = label;
    }
    fclose(f);
    return 0;
}

int tb_cifar_read_batches(const char *const *paths, int npaths, int cifar100, int limit, tb_dataset *out)
{
    memset(out, 0, sizeof *out);
    const size_t record = (cifar100 ? 2 : 1) + (size_t)CIFAR_PIXELS;
    long long total = 0;
    /* Size every file first, so all are checked even when `limit` stops the
     * reading early, and the buffers are allocated once. */
    for (int i = 0; i < npaths; i++) {
        long long n = count_records(paths[i], record);
        if (n < 0)
            return -1;
        total += n;
    }
    if (total > 1 << 28)
        return tb_fail("dataset file %s: %lld CIFAR records in all is implausible", paths[npaths - 1], total);
    long long keep = limit > 0 && limit < total ? limit : total;
    out->pixels = tb_malloc((size_t)keep * CIFAR_PIXELS, "dataset pixels");
    out->labels = tb_malloc(sizeof *out->labels * (size_t)keep, "dataset labels");
    out->total = (int)total;
    out->channels = 3;
    out->height = out->width = CIFAR_SIDE;
    out->classes = cifar100 ? 100 : 10;
    int rc = out->pixels && out->labels ? 0 : -1;
    for (int i = 0; rc == 0 && i < npaths && out->count < keep; i++) {
        long long n = count_records(paths[i], record);
        rc = n < 0 ? -1 : read_records(paths[i], cifar100, n < keep - out->count ? n : keep - out->count, out);
    }
    if (rc)
        tb_dataset_free(out);
    return rc;
}
