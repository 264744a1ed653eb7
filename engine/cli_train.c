#include "cli.h"

#include "error.h"
#include "options.h"
#include "tb_config.h"
#include "trainer.h"

#if TB_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif

#include <stdio.h>
#include <string.h>

int tb_cli_train(int argc, char **argv)
{
    tb_train_config c;
    tb_train_config_defaults(&c);
    int rc = tb_train_parse_args(argc, argv, &c);
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf(stderr, "trainbench train: %s\n", tb_last_error());
        return 2;
    }
    if (strcmp(c.device, "cuda") == 0) {
        /* Refused before anything is created: no run directory, exit 2. */
#if TB_HAVE_CUDA
        if (tb_cuda_device_count() < 1) {
            fprintf(stderr, "trainbench train: --device cuda: %s; use --device cpu\n", tb_last_error());
            return 2;
        }
        if (strcmp(c.precision, "fp16") == 0) {
            fprintf(stderr, "trainbench train: --precision fp16 needs dynamic loss scaling, which the CUDA "
                            "backend does not have yet; use --precision bf16\n");
            return 2;
        }
#else
        fprintf(stderr, "trainbench train: --device cuda: this build has no CUDA backend (configure with "
                        "-Dcuda=enabled on a machine with nvcc, cuDNN, cuBLAS and NCCL); use --device cpu\n");
        return 2;
#endif
    }
    if (c.gpus > 1 && !TB_HAVE_MPI) {
        /* Refused like --device cuda: nothing is created, exit 2. */
        fprintf(stderr, "trainbench train: --gpus %d: this build has no MPI (configure with -Dmpi=enabled after "
                        "installing libopenmpi-dev); use --gpus 1\n",
                c.gpus);
        return 2;
    }
    return tb_train_run(&c);
}
