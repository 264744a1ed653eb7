/* A checkpoint's training state (engine/checkpoint.c): the JSON text kept in
 * checkpoint.safetensors' metadata, which --resume trusts only after this
 * parser has checked every field.  A state that parses must survive a round
 * trip through tb_checkpoint_state_text unchanged in what resume uses.  Each
 * input is also tried with every field of the wrong JSON type (a null
 * "schema", a "config" that is an array or missing: issue 16). */
#include "engine/checkpoint.h" // uses: tb_checkpoint_state, tb_checkpoint_state_parse, tb_checkpoint_state_text, ...
#include "fuzz/fuzz_json_mutate.h" // uses: fuzz_type_confusion

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_state(const char *text, void *ctx)
{
    (void)ctx;
    tb_checkpoint_state st;
    if (tb_checkpoint_state_parse(text, "fuzz", &st) != 0)
        return;
    if (st.epoch < 0 || st.batch < 0 || st.epochs_done != st.epoch || st.classes < 0)
        abort();
    for (int i = 0; i < st.classes; i++)
        if (st.class_hits[i] < 0 || st.class_seen[i] < 0)
            abort();
    /* What resume compares key by key must be a JSON object. */
    struct json_object *cfg = json_tokener_parse(st.config);
    if (!json_object_is_type(cfg, json_type_object))
        abort();
    json_object_put(cfg);
    char *again = tb_checkpoint_state_text(&st);
    tb_checkpoint_state st2;
    if (!again || tb_checkpoint_state_parse(again, "round trip", &st2) != 0)
        abort();
    if (st2.epoch != st.epoch || st2.batch != st.batch || st2.optimizer_step != st.optimizer_step ||
        st2.classes != st.classes || st2.images != st.images || st2.correct != st.correct ||
        memcmp(&st2.loss_sum, &st.loss_sum, sizeof st.loss_sum) != 0 || strcmp(st2.config, st.config) != 0)
        abort();
    tb_checkpoint_state_free(&st2);
    free(again);
    tb_checkpoint_state_free(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fuzz_type_confusion(text, check_state, NULL);
    free(text);
    return 0;
}
