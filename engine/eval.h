/* Evaluation on a test set: the loop the trainer runs after every epoch,
 * and `trainbench eval`, which runs the same loop over a finished (or
 * stopped) run's saved weights.
 *
 * Every figure is a sum over images divided by the image count, each batch
 * contributing only its own rows, so the result does not depend on the batch
 * size beyond fp32 rounding in the layers. */
#ifndef TB_EVAL_H
#define TB_EVAL_H

#include "datasets/dataset.h" // uses: tb_dataset
#include "datasets/loader.h" // uses: tb_loader_config, tb_batch, tb_loader
#include "engine/backend.h" // uses: tb_backend
#include "engine/model.h" // uses: tb_model
#include "spec/options.h" // uses: tb_train_config

#include <stdint.h>

/* The test loader of a run with options c over dataset d (no shuffling, no
 * augmentation, the whole set on every rank), at `batch_size` images a batch. */
void tb_eval_loader_config(const tb_train_config *c, const tb_dataset *d, int batch_size, tb_loader_config *lc);

/* The batch's images into the model input and its labels into labels_dev. */
int tb_eval_upload_batch(tb_backend *b, tb_model *m, int32_t *labels_dev, const tb_batch *batch);

/* Counts top-1 hits (and top-5 when correct5 is not NULL, per class when
 * class_hits is not NULL) of the logits of the last forward over `batch`.
 * logits_host: room for batch->n x classes floats.  A tie counts for the
 * lower class index, as torch.argmax does. */
int tb_eval_score_batch(tb_backend *b, const tb_model *m, float *logits_host, const tb_batch *batch, int *correct1,
                        int *correct5, int *class_hits);

/* Sums over one pass of a test loader. */
typedef struct {
    double loss_sum; /* per-image cross-entropy, summed */
    int images, correct1, correct5;
    int *class_hits, *class_seen; /* NULL, or one entry per class each (zeroed by the caller) */
} tb_eval_counts;

/* Runs the model in inference mode over every batch of `test` (epoch 0),
 * adding to *out.  labels_dev and logits_host hold a batch. */
int tb_eval_loop(tb_backend *b, tb_model *m, tb_loader *test, int32_t *labels_dev, float *logits_host,
                 tb_eval_counts *out);

/* `trainbench eval RUN_DIR`. */
typedef struct {
    const char *run_dir;
    int batch_size;       /* 0: the run's own */
    const char *data_dir; /* NULL or "": the run's own */
} tb_eval_options;

typedef struct {
    char weights[1100]; /* the file evaluated */
    char dataset[1040];
    int batch_size;
    int images, classes;
    double test_loss, test_acc, test_acc5; /* accuracies in percent */
    double *class_acc;                     /* per class, percent of its test images (malloc'd) */
    int *class_images;                     /* test images per class (malloc'd) */
    double eval_s;
} tb_eval_result;

/* Reads RUN_DIR/config.json, builds the model on the run's device, loads
 * weights.safetensors (or else the last checkpoint) and evaluates the run's
 * test set.  Writes nothing anywhere.  Returns 0; 2 after tb_fail when the
 * directory is not a readable trainbench run (no or damaged config.json,
 * no weights, weights of another model); -1 after tb_fail for other
 * failures (data, device, memory). */
int tb_eval_run(const tb_eval_options *o, tb_eval_result *out);
void tb_eval_result_free(tb_eval_result *r);

#endif
