/* MATLAB v5 MAT files (datasets/matfile.c): read the 'synsets' struct array
 * from the bytes as given, then touch every value the reader returned so
 * ASan checks the sizes it promised. */
#include "datasets/matfile.h" // uses: tb_mat_struct, tb_mat_read_struct, tb_mat_field, tb_mat_value, ...

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy of exactly size bytes: reads past the end are caught. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        abort();
    if (size)
        memcpy(copy, data, size);
    tb_mat_struct s;
    if (tb_mat_read_struct("fuzz.mat", copy, size, "synsets", &s) == 0) {
        double sum = 0;
        for (size_t f = 0; f < s.nfields; f++)
            if (!s.names[f] || tb_mat_field(&s, s.names[f]) < 0)
                abort();
        for (size_t i = 0; i < s.nelem * s.nfields; i++) {
            const tb_mat_value *v = &s.values[i];
            if (v->kind == TB_MAT_NUMBER)
                for (size_t k = 0; k < v->count; k++)
                    sum += v->num[k];
            if (v->kind == TB_MAT_CHAR && strlen(v->str) != v->count)
                abort(); /* chars never include a NUL */
        }
        (void)sum;
        tb_mat_struct_free(&s);
    }
    free(copy);
    return 0;
}
