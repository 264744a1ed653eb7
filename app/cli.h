/* Subcommands of the trainbench binary.  Each returns the process exit
 * status: 0 success, 1 runtime failure, 2 bad usage (nothing was run). */
#ifndef TB_CLI_H
#define TB_CLI_H

int tb_cli_train(int argc, char **argv);
int tb_cli_model(int argc, char **argv);
/* data fetch, imagenet, pack, synth (cli_data.c). */
int tb_cli_data(int argc, char **argv);
int tb_cli_predict(int argc, char **argv);
/* eval RUN_DIR: a run's weights on its test set (cli_eval.c). */
int tb_cli_eval(int argc, char **argv);
int tb_cli_slurm(int argc, char **argv);
/* run, results, export: presets, sweeps and tables (cli_run.c). */
int tb_cli_run(int argc, char **argv);
int tb_cli_results(int argc, char **argv);
int tb_cli_export(int argc, char **argv);

#endif
