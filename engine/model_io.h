/* A model's tensors in safetensors files, by PyTorch state_dict name.
 *
 * Names: parameters and BN running statistics as in model.h
 * ("layer1.0.conv1.weight", "bn1.running_mean"); gradients "grad.<param>";
 * optimizer state "optimizer.<param>.<state>" with torch.optim's state names
 * (momentum_buffer; sum; square_avg, acc_delta; exp_avg, exp_avg_sq) and the
 * step count in the metadata ("optimizer.step", "optimizer.kind").  A file
 * written by PyTorch may carry BN "num_batches_tracked" counters; loading
 * ignores them (trainbench uses a fixed momentum, never the counter). */
#ifndef TB_MODEL_IO_H
#define TB_MODEL_IO_H

#include "engine/model.h" // uses: tb_model
#include "engine/optim.h" // uses: tb_optimizer
#include "engine/safetensors.h" // uses: tb_st_writer, tb_st_file

enum {
    TB_IO_PARAMS = 1u << 0,
    TB_IO_BUFFERS = 1u << 1,
    TB_IO_GRADS = 1u << 2,
    TB_IO_OPT_STATE = 1u << 3, /* needs an optimizer */
};

/* Adds the selected tensors of m (downloaded from the backend) to w. */
int tb_model_io_add(tb_st_writer *w, tb_backend *b, tb_model *m, unsigned what, const tb_optimizer *opt);
/* Loads the selected tensors from f into m.  Every selected tensor must be
 * in f with its exact shape and dtype F32.  With strict, every tensor of f
 * must be one of them (num_batches_tracked aside), so a naming mismatch
 * cannot pass unnoticed.  Optimizer state is allocated when absent. */
int tb_model_io_load(const tb_st_file *f, tb_backend *b, tb_model *m, unsigned what, tb_optimizer *opt,
                     int strict);

/* One file: the selected tensors, written atomically / loaded strictly. */
int tb_model_save_safetensors(tb_backend *b, tb_model *m, const tb_optimizer *opt, const char *path, unsigned what);
int tb_model_load_safetensors(tb_backend *b, tb_model *m, tb_optimizer *opt, const char *path, unsigned what);

#endif
