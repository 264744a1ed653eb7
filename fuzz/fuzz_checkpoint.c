/* A checkpoint's training state (engine/checkpoint.c): the JSON text kept in
 * checkpoint.safetensors' metadata, which --resume trusts only after this
 * parser has checked every field.  A state that parses must survive a round
 * trip through tb_checkpoint_state_text unchanged in what resume uses. */
#include "engine/checkpoint.h" // uses: tb_checkpoint_state, tb_checkpoint_state_parse, tb_checkpoint_state_text, ...

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    tb_checkpoint_state st;
    if (tb_checkpoint_state_parse(text, "fuzz", &st) == 0) {
        if (st.epoch < 0 || st.batch < 0 || st.epochs_done != st.epoch || st.classes < 0)
            abort();
        for (int i = 0; i < st.classes; i++)
            if (st.class_hits[i] < 0 || st.class_seen[i] < 0)
                abort();
        char *again = tb_checkpoint_state_text(&st);
        tb_checkpoint_state st2;
        if (!again || tb_checkpoint_state_parse(again, "round trip", &st2) != 0)
            abort();
        if (st2.epoch != st.epoch || st2.batch != st.batch || st2.optimizer_step != st.optimizer_step ||
            st2.classes != st.classes || st2.images != st.images || st2.correct != st.correct ||
            memcmp(&st2.loss_sum, &st.loss_sum, sizeof st.loss_sum) != 0)
            abort();
        tb_checkpoint_state_free(&st2);
        free(again);
        tb_checkpoint_state_free(&st);
    }
    free(text);
    return 0;
}
