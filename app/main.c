/* trainbench: one binary, one subcommand per job. */
#include "app/cli.h" // uses: tb_cli_train, tb_cli_eval, tb_cli_model, tb_cli_data, tb_cli_predict, tb_cli_slurm, ...
#include "tb_config.h"
#include "tui/tui.h" // uses: tb_cli_tui

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void help(FILE *f)
{
    fprintf(f,
            "trainbench %s: run, measure and compare deep-learning training experiments\n\n"
            "usage: trainbench COMMAND [options]\n\n"
            "commands:\n"
            "  train         train a ResNet and write a run directory (trainbench train --help)\n"
            "  eval RUN_DIR  a run's saved weights on its test set: loss, top-1, top-5, per class (--json)\n"
            "  model info    layers, parameters, gradients and multiply-adds of a model\n"
            "  data          fetch datasets, prepare ImageNet, pack and synthesise data (trainbench data --help)\n"
            "  predict       multi-GPU / multi-node epoch times from one measured GPU\n"
            "  slurm         an sbatch script that runs a preset (print, write or submit)\n"
            "  run PRESET    run a lab preset's sweep headless (trainbench run --help)\n"
            "  results       list sweeps and runs with their status and key figures\n"
            "  export DIR... write result tables as Markdown, CSV or JSON\n"
            "  tui           the terminal workbench (trainbench tui --help)\n"
            "  help          this text\n\n"
            "Without a command, on a terminal, trainbench opens the workbench; otherwise it prints this help.\n",
            TB_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2 && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO))
        return tb_cli_tui(argc, argv);
    if (argc < 2 || !strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        help(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("trainbench %s\n", TB_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "tui"))
        return tb_cli_tui(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train"))
        return tb_cli_train(argc - 1, argv + 1);
    if (!strcmp(argv[1], "eval"))
        return tb_cli_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "model"))
        return tb_cli_model(argc - 1, argv + 1);
    if (!strcmp(argv[1], "data"))
        return tb_cli_data(argc - 1, argv + 1);
    if (!strcmp(argv[1], "predict"))
        return tb_cli_predict(argc - 1, argv + 1);
    if (!strcmp(argv[1], "slurm"))
        return tb_cli_slurm(argc - 1, argv + 1);
    if (!strcmp(argv[1], "run"))
        return tb_cli_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "results"))
        return tb_cli_results(argc - 1, argv + 1);
    if (!strcmp(argv[1], "export"))
        return tb_cli_export(argc - 1, argv + 1);
    fprintf(stderr, "trainbench: unknown command '%s'\n\n", argv[1]);
    help(stderr);
    return 2;
}
