/* IDX files (datasets/idx.c), plain or gzipped: the same bytes go to the
 * images and the labels reader, whole and with a --limit. */
#include "datasets/dataset.h" // uses: tb_dataset, tb_idx_read_images, tb_dataset_free, tb_idx_read_labels
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "fuzz.idx");
    fuzz_write(path, data, size);
    for (int limit = 0; limit < 3; limit += 2) {
        tb_dataset ds;
        if (tb_idx_read_images(path, limit, &ds) == 0) {
            /* Touch every kept pixel so ASan checks the buffer's size. */
            size_t n = (size_t)ds.count * (size_t)ds.height * (size_t)ds.width;
            unsigned sum = 0;
            for (size_t i = 0; i < n; i++)
                sum += ds.pixels[i];
            (void)sum;
            tb_dataset_free(&ds);
        }
        int32_t *labels = NULL;
        int count = 0;
        if (tb_idx_read_labels(path, limit, &labels, &count) == 0) {
            for (int i = 0; i < count; i++)
                if (labels[i] < 0 || labels[i] > 9)
                    abort(); /* the reader promises 0..9 */
            free(labels);
        }
    }
    unlink(path);
    return 0;
}
