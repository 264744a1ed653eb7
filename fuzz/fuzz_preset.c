/* Preset files (lab/preset.c): parse and validate, then expand the sweep
 * at both scales and render the [table] section, as `trainbench run` does. */
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write
#include "lab/preset.h" // uses: tb_preset, tb_preset_load, tb_preset_table_json, tb_plan, tb_plan_expand, ...

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "fuzz.ini");
    fuzz_write(path, data, size);
    tb_preset *p = malloc(sizeof *p);
    if (!p)
        abort();
    if (tb_preset_load(path, p) == 0) {
        json_object_put(tb_preset_table_json(p));
        for (int smoke = 0; smoke < 2; smoke++) {
            tb_plan plan;
            memset(&plan, 0, sizeof plan);
            if (tb_plan_expand(p, smoke, &plan) == 0)
                tb_plan_free(&plan);
        }
    }
    free(p);
    unlink(path);
    return 0;
}
