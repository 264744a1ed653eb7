/* The terminal: ncursesw setup, copying a cell buffer to the screen, keys,
 * and restoring the terminal on exit and on crash signals. */
#ifndef TUI_TERM_H
#define TUI_TERM_H

#include "tui/cells.h" // uses: tui_buf

/* Starts curses; stderr goes to stderr_log while curses owns the screen.
 * *utf8 and *color say what the terminal (and NO_COLOR) allow. */
int tui_term_start(const char *stderr_log, int *utf8, int *color);
/* Restores the terminal and stderr; safe to call twice. */
void tui_term_stop(void);
void tui_term_size(int *cols, int *rows);
void tui_term_blit(const tui_buf *b);
/* A key (curses codes), or -1 after timeout_ms without one.  A mouse click
 * comes as KEY_MOUSE; tui_term_click says where. */
int tui_term_key(int timeout_ms);
/* The curses key of an escape sequence that terminals send for Home, End,
 * PgUp and PgDn (xterm, tmux, screen, rxvt, the Linux console), whatever
 * TERM says; 0 for any other sequence.  tui_term_start teaches curses all
 * of them, so Home inside tmux under TERM=xterm-256color is Home, not Esc
 * followed by '1' (a tab switch). */
int tui_key_decode(const char *seq);
/* After KEY_MOUSE: 1 with the cell of a left-button click, else 0. */
int tui_term_click(int *x, int *y);
/* 1 once SIGTERM/SIGHUP asked the workbench to stop (then cleared). */
int tui_term_interrupted(void);
/* 1 once Ctrl-C (SIGINT) was pressed (then cleared): handled as the key
 * Ctrl-C, which asks before leaving a running sweep. */
int tui_term_ctrl_c(void);
/* True when the terminal has hung up or closed (nothing can be read any more). */
int tui_term_lost(void);

#endif
