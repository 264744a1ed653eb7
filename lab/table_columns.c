/* The table's column catalogue: the known columns, and headers and kinds
 * for option columns. */
#include "lab/table_internal.h" // uses: tb_table_epoch_suffix, tb_table_default_header, tb_table_option_kind

#include "spec/options.h" // uses: tb_option_header, tb_option, tb_option_find, TB_OPT_INT, TB_OPT_U64, TB_OPT_FLOAT

#include <stdlib.h>
#include <string.h>

static const tb_column_def columns[] = {
    {"status", "Status", TB_COL_TEXT, "completed, failed, refused, interrupted or pending"},
    {"load_s", "Load time (s)", TB_COL_SECONDS, "time waiting for the data loader per epoch"},
    {"train_s", "Train time (s)", TB_COL_SECONDS, "mini-batch compute per epoch, device synchronised"},
    {"epoch_s", "Epoch time (s)", TB_COL_SECONDS, "the whole training loop of an epoch"},
    {"eval_s", "Eval time (s)", TB_COL_SECONDS, "test-set evaluation"},
    {"other_s", "Other (s)", TB_COL_SECONDS, "epoch time less load and train time: metric bookkeeping"},
    {"wall_s", "WCT (s)", TB_COL_WALL, "wall-clock time of the whole run"},
    {"wall_hms", "WCT (h:m:s)", TB_COL_HMS, "wall-clock time as h:mm:ss"},
    {"images_per_s", "Images/s", TB_COL_RATE, "training images per second of epoch time"},
    {"train_loss", "Training loss", TB_COL_LOSS, "mean training loss"},
    {"train_acc", "Train acc (%)", TB_COL_PERCENT, "training top-1 accuracy"},
    {"test_loss", "Test loss", TB_COL_LOSS, "test loss"},
    {"test_acc", "Acc@1 (%)", TB_COL_PERCENT, "test top-1 accuracy"},
    {"test_acc5", "Acc@5 (%)", TB_COL_PERCENT, "test top-5 accuracy"},
    {"val_acc1", "Val Acc@1", TB_COL_PERCENT3, "test (validation) top-1 accuracy to 3 decimals, as ImageNet prints it"},
    {"val_acc5", "Val Acc@5", TB_COL_PERCENT3, "test (validation) top-5 accuracy to 3 decimals"},
    {"epoch_batch", "Batch per GPU", TB_COL_INT, "the batch per GPU the epoch trained at (--batch-schedule)"},
    /* The phases result.json records under --profile or --trace (its data
     * phase is load_s; its allreduce phase is in comm_s). */
    {"h2d_s", "H2D (s)", TB_COL_SECONDS, "profiled: batches copied to the device per epoch"},
    {"forward_s", "Forward (s)", TB_COL_SECONDS, "profiled: forward pass and loss per epoch"},
    {"backward_s", "Backward (s)", TB_COL_SECONDS, "profiled: backward pass per epoch"},
    {"optimizer_s", "Optimizer (s)", TB_COL_SECONDS, "profiled: optimizer steps per epoch"},
    {"best_class", "Best class", TB_COL_INT, "class with the highest training accuracy"},
    {"best_class_acc", "Top-1 class acc (%)", TB_COL_PERCENT, "that class's training accuracy (the lab's Top-1)"},
    {"params", "Parameters", TB_COL_COUNT, "trainable parameters"},
    {"gradients", "Gradients", TB_COL_COUNT, "gradients"},
    {"conv_layers", "Conv layers", TB_COL_INT, "convolution layers on the main path"},
    {"fc_inputs", "Linear layer inputs", TB_COL_INT, "input size of the final linear layer"},
    {"global_batch", "Global batch", TB_COL_INT, "batch size x GPUs"},
    {"nodes", "#N", TB_COL_INT, "nodes: GPUs / gpus_per_node, rounded up"},
    {"effective_lr", "LR", TB_COL_REAL, "learning rate after --lr-scaling"},
    {"compute_s", "Compute (s)", TB_COL_SECONDS, "forward and backward time (multi-GPU runs)"},
    {"comm_s", "Comm (s)", TB_COL_SECONDS,
     "time steps waited for the gradient all-reduce (multi-GPU runs; with --overlap on, what backward did not hide)"},
    {"bandwidth", "Bandwidth (GB/s)", TB_COL_GBPS, "2(n-1)/n x model bytes x all-reduces / all-reduce time"},
    {"speedup", "Speedup", TB_COL_RATIO, "baseline time / time"},
    {"weak_speedup", "Weak-scaling speedup", TB_COL_RATIO, "baseline time / (time x GPU ratio)"},
    {"efficiency", "Scaling efficiency", TB_COL_EFFIC, "T1 / (N x TN) x 100"},
    {"backend", "Backend", TB_COL_TEXT, "the backend that ran it"},
    {"epochs_completed", "Epochs", TB_COL_INT, "epochs completed"},
    /* Rank 0's GPU sampled about once a second (result.json gpu_*; empty on the CPU or without NVML). */
    {"gpu_util", "GPU util (%)", TB_COL_PERCENT, "mean GPU utilisation over the epoch (NVML)"},
    {"gpu_mem_gib", "GPU mem peak (GiB)", TB_COL_RATIO, "peak GPU memory in use during the epoch (all processes)"},
    {"gpu_power_w", "GPU power (W)", TB_COL_RATE, "mean GPU power draw over the epoch"},
    {NULL, NULL, 0, NULL},
};

const tb_column_def *tb_table_columns(void) { return columns; }

/* The columns that have a value per epoch, so ID_eN is a column too. */
static int per_epoch(const char *id, size_t len)
{
    static const char *const ids[] = {"load_s", "train_s", "epoch_s", "eval_s", "other_s", "images_per_s",
                                      "train_loss", "train_acc", "test_loss", "test_acc", "test_acc5", "val_acc1",
                                      "val_acc5", "best_class", "best_class_acc", "epoch_batch", "h2d_s", "forward_s",
                                      "backward_s", "optimizer_s", "compute_s", "comm_s", "gpu_util",
                                      "gpu_mem_gib", "gpu_power_w"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        if (strlen(ids[i]) == len && !strncmp(ids[i], id, len))
            return 1;
    return 0;
}

int tb_table_epoch_suffix(const char *id, size_t *base_len)
{
    const char *e = strrchr(id, '_');
    if (!e || e[1] != 'e' || !(e[2] >= '1' && e[2] <= '9') || strspn(e + 2, "0123456789") != strlen(e + 2) ||
        strlen(e + 2) > 5 || !per_epoch(id, (size_t)(e - id)))
        return 0;
    *base_len = (size_t)(e - id);
    return atoi(e + 2);
}

const tb_column_def *tb_table_column_find(const char *id)
{
    for (const tb_column_def *d = columns; d->id; d++)
        if (!strcmp(d->id, id))
            return d;
    size_t len;
    if (tb_table_epoch_suffix(id, &len)) /* its base column's kind and header */
        for (const tb_column_def *d = columns; d->id; d++)
            if (strlen(d->id) == len && !strncmp(d->id, id, len))
                return d;
    return NULL;
}

const char *tb_table_default_header(const char *id)
{
    const tb_column_def *d = tb_table_column_find(id);
    if (d)
        return d->header;
    const char *h = tb_option_header(id); /* an option column: the option table's header */
    return h ? h : id;
}

tb_col_kind tb_table_option_kind(const char *id)
{
    const tb_option *o = tb_option_find(id);
    if (!o)
        return TB_COL_TEXT;
    return o->type == TB_OPT_INT || o->type == TB_OPT_U64 ? TB_COL_INT
           : o->type == TB_OPT_FLOAT                     ? TB_COL_REAL
                                                         : TB_COL_TEXT;
}
