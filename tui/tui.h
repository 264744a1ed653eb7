/* The ncurses workbench (issue 7): `trainbench tui`, or bare `trainbench`
 * on a terminal. */
#ifndef TUI_TUI_H
#define TUI_TUI_H

int tb_cli_tui(int argc, char **argv);

#endif
