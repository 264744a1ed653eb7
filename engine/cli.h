/* Subcommands of the trainbench binary.  Each returns the process exit
 * status: 0 success, 1 runtime failure, 2 bad usage (nothing was run). */
#ifndef TB_CLI_H
#define TB_CLI_H

int tb_cli_train(int argc, char **argv);
int tb_cli_model(int argc, char **argv);

#endif
