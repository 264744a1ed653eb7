/* The CUDA backend (cuDNN, cuBLAS and the kernels of cuda_kernels.cu).
 * Declared apart from backend.h so that only builds with TB_HAVE_CUDA see
 * it; nothing here needs the CUDA headers. */
#ifndef TB_CUDA_BACKEND_H
#define TB_CUDA_BACKEND_H

#include "engine/backend.h" // uses: tb_backend

#include <stddef.h>

/* Number of usable CUDA devices: > 0 when there is one, 0 after tb_fail
 * saying why not (no device, no driver, driver too old for this CUDA
 * runtime).  Creates no context beyond what cudaGetDeviceCount does. */
int tb_cuda_device_count(void);

/* Creates the backend for a rank with this node-local rank, on GPU
 * local_rank % (GPUs visible), so one GPU per rank works whether a rank sees
 * the node's GPUs or only its own (Slurm --gpus-per-task); says on stderr
 * which GPU it took (index, name, PCI bus id).  `precision`: "fp32" (TF32
 * off), "tf32", "bf16" or "fp16".  NULL after tb_fail.  With TB_CUDA_SYNC=1
 * in the environment every operation synchronises and checks for errors,
 * naming the operation and its shapes (slow; for debugging a failing step). */
tb_backend *tb_cuda_backend_create(int local_rank, const char *precision);

/* Bytes of device memory the backend held through its own allocations at
 * most (parameters, activations, workspaces, conversion buffers; not the
 * CUDA context or the cuDNN/cuBLAS handles' own memory). */
size_t tb_cuda_peak_bytes(const tb_backend *b);

/* Bytes the device has in all and in use by every process now (cudaMemGetInfo). */
int tb_cuda_device_memory(const tb_backend *b, size_t *total, size_t *used);

/* The backend's compute stream (a cudaStream_t) and its device, for work
 * that orders itself against the backend's (the NCCL gradient reducer). */
void *tb_cuda_stream(tb_backend *b);
int tb_cuda_device(const tb_backend *b);
/* The PCI bus id of the backend's GPU ("0000:1b:00.0"), which tells apart
 * the GPUs of ranks that each see theirs as device 0; "" for other backends.
 * The backend's name (result.json "backend") carries it too. */
const char *tb_cuda_pci_bus_id(const tb_backend *b);
/* The UUID of the backend's GPU ("GPU-8c1e..."), the same whichever GPUs a
 * rank sees, so ranks compare it to find two on one GPU; and its name
 * ("NVIDIA H100 80GB HBM3").  "" for other backends. */
const char *tb_cuda_gpu_uuid(const tb_backend *b);
const char *tb_cuda_gpu_name(const tb_backend *b);

#endif
