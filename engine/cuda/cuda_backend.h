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

/* Creates the backend on `device` with `precision` "fp32" (TF32 off), "tf32",
 * "bf16" or "fp16"; NULL after tb_fail. */
tb_backend *tb_cuda_backend_create(int device, const char *precision);

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

#endif
