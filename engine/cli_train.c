#include "cli.h"

#include "error.h"
#include "options.h"
#include "tb_config.h"
#include "trainer.h"

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
        fprintf(stderr, "trainbench train: --device cuda: %s; use --device cpu\n",
                TB_HAVE_CUDA ? "the CUDA backend is not part of this version yet"
                             : "this build has no CUDA backend (configure with -Dcuda=enabled on a machine "
                               "with nvcc, cuDNN, cuBLAS and NCCL)");
        return 2;
    }
    return tb_train_run(&c);
}
