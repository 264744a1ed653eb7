/* CIFAR-10/100 binary batches (datasets/cifar.c): the input as one batch
 * file, read as CIFAR-10 and as CIFAR-100, whole and with a --limit. */
#include "datasets/dataset.h" // uses: tb_dataset, tb_cifar_read_batches, tb_dataset_free
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "fuzz_batch.bin");
    fuzz_write(path, data, size);
    const char *paths[2] = {path, path};
    for (int cifar100 = 0; cifar100 < 2; cifar100++)
        for (int limit = 0; limit < 4; limit += 3) {
            tb_dataset ds;
            /* Two paths: the reader concatenates files, the limit may cut the second. */
            if (tb_cifar_read_batches(paths, 1 + (limit > 0), cifar100, limit, &ds) == 0) {
                size_t n = (size_t)ds.count * (size_t)ds.channels * (size_t)ds.height * (size_t)ds.width;
                unsigned sum = 0;
                for (size_t i = 0; i < n; i++)
                    sum += ds.pixels[i];
                (void)sum;
                for (int i = 0; i < ds.count; i++)
                    if (ds.labels[i] < 0 || ds.labels[i] >= ds.classes)
                        abort(); /* labels must index the classes */
                tb_dataset_free(&ds);
            }
        }
    unlink(path);
    return 0;
}
