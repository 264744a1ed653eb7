/* Packed datasets (datasets/imageset.c, docs/packed-format.md): the header
 * and index checks of tb_pack_open, then both splits loaded as training
 * does and every kept image's bytes read. */
#include "datasets/dataset.h" // uses: tb_dataset, TB_SPLIT_TEST, TB_SPLIT_TRAIN, tb_dataset_free
#include "datasets/imageset.h" // uses: tb_imageset_load_packed, tb_imageset_get
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "fuzz.tbpack");
    fuzz_write(path, data, size);
    for (int split = 0; split < 2; split++)
        for (int limit = 0; limit < 3; limit += 2) {
            tb_dataset ds;
            if (tb_imageset_load_packed(path, split ? TB_SPLIT_TEST : TB_SPLIT_TRAIN, limit, &ds) != 0)
                continue;
            unsigned sum = 0;
            for (int i = 0; i < ds.count; i++)
                if (ds.labels[i] < 0 || ds.labels[i] >= ds.classes)
                    abort(); /* labels must index the classes */
            if (ds.images) {
                uint8_t *buf = NULL;
                size_t cap = 0;
                for (int i = 0; i < ds.count; i++) {
                    const uint8_t *bytes;
                    size_t n;
                    char what[700];
                    if (tb_imageset_get(ds.images, i, &buf, &cap, &bytes, &n, what, sizeof what) == 0)
                        for (size_t k = 0; k < n; k++)
                            sum += bytes[k];
                }
                free(buf);
            } else {
                size_t n = (size_t)ds.count * (size_t)ds.channels * (size_t)ds.height * (size_t)ds.width;
                for (size_t k = 0; k < n; k++)
                    sum += ds.pixels[k];
            }
            (void)sum;
            tb_dataset_free(&ds);
        }
    unlink(path);
    return 0;
}
