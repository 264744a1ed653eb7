/* safetensors files (engine/safetensors.c): open and validate, then look
 * every tensor up and copy the F32 ones out as model_io.c does.  A valid
 * file must survive a write and a second read unchanged in its names. */
#include "engine/safetensors.h" // uses: tb_st_file, tb_st_open, tb_st_meta, tb_st_tensor, tb_st_find, ...
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "fuzz.safetensors");
    fuzz_write(path, data, size);
    tb_st_file f;
    if (tb_st_open(path, &f) == 0) {
        (void)tb_st_meta(&f, "step");
        for (int i = 0; i < f.count; i++) {
            const tb_st_tensor *t = &f.tensors[i];
            if (tb_st_find(&f, t->name) == NULL)
                abort(); /* every listed tensor must be found by name */
            if (t->bytes != t->count * tb_st_dtype_size(t->dtype))
                abort();
            /* Read every byte so ASan checks the bounds the reader promised. */
            unsigned sum = 0;
            for (size_t k = 0; k < t->bytes; k++)
                sum += ((const uint8_t *)t->data)[k];
            (void)sum;
            if (t->dtype == TB_ST_F32 && t->count <= (1u << 20)) {
                float *dst = malloc(t->count ? t->count * sizeof *dst : 1);
                if (!dst)
                    abort();
                (void)tb_st_read_f32(&f, t->name, t->ndim, t->shape, dst, t->count);
                free(dst);
            }
        }
        tb_st_close(&f);
    }
    unlink(path);
    return 0;
}
