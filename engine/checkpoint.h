/* Checkpoints: everything needed to continue a run exactly where it stopped.
 *
 * One file, RUN_DIR/checkpoint.safetensors, written to a temporary file and
 * renamed, so a kill -9 at any moment leaves the previous complete one:
 *   tensors   parameters, BN running statistics and optimizer state under
 *             PyTorch's names (model_io.h), so PyTorch can read them too;
 *   metadata  "trainbench.checkpoint": the training state as JSON (schema
 *             trainbench.checkpoint/1): where the loop is (epoch, next batch),
 *             the optimizer step, the finished epochs' reports, the partial
 *             epoch's sums, and the random state.
 * RUN_DIR/checkpoint.json repeats the state for people and tools; resuming
 * trusts only the safetensors file (the two are renamed one after the other).
 *
 * Random state: every random draw in a run comes from counter-based streams
 * keyed by (seed, stream, epoch, batch) (rng.h, loader.h), so the seed and
 * the loop position are the whole random state; the checkpoint names both. */
#ifndef TB_CHECKPOINT_H
#define TB_CHECKPOINT_H

#include "engine/model.h" // uses: tb_model
#include "engine/optim.h" // uses: tb_optimizer
#include "rundir/train_report.h" // uses: tb_epoch_report

#include <json-c/json.h>

typedef struct {
    int epoch;  /* epoch in progress, from 0 */
    int batch;  /* next batch of that epoch; 0: the epoch starts afresh */
    long optimizer_step;
    /* Sums of the epoch in progress (batch > 0); exact, so a resumed epoch
     * reports what an uninterrupted one would. */
    double loss_sum, load_s, train_s, comm_s, elapsed_s;
    int correct, images, classes;
    int *class_hits, *class_seen; /* classes entries each */
    int epochs_done;
    tb_epoch_report *epochs;      /* epochs_done finished epochs */
    int repeat;                   /* --repeat: the repeat in progress, from 0 */
    char *repeats;                /* JSON array text of the finished repeats' summaries, or NULL */
    uint64_t seed;
    char config[8192];            /* the run's options as JSON, checked on resume */
} tb_checkpoint_state;

/* Writes RUN_DIR/checkpoint.safetensors (atomically) and checkpoint.json.
 * On failure (disk full, read-only) nothing of the previous checkpoint is
 * lost and the message says what to do. */
int tb_checkpoint_save(const char *run_dir, tb_backend *b, tb_model *m, const tb_optimizer *opt,
                       const tb_checkpoint_state *st);

/* Loads the checkpoint into m and opt and fills st (its arrays malloc'd,
 * freed by tb_checkpoint_state_free).  Checks the model and optimizer match. */
int tb_checkpoint_load(const char *run_dir, tb_backend *b, tb_model *m, tb_optimizer *opt, tb_checkpoint_state *st);

/* The state alone (no tensors), for the other data-parallel ranks, which
 * receive the tensors by broadcast: JSON text in, state out. */
char *tb_checkpoint_state_text(const tb_checkpoint_state *st);
int tb_checkpoint_state_parse(const char *text, const char *where, tb_checkpoint_state *st);

void tb_checkpoint_state_free(tb_checkpoint_state *st);

#endif
