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
/* A key (curses codes), or -1 after timeout_ms without one. */
int tui_term_key(int timeout_ms);
/* 1 once SIGINT/SIGTERM/SIGHUP asked the workbench to stop (then cleared). */
int tui_term_interrupted(void);
/* True when the terminal has hung up or closed (nothing can be read any more). */
int tui_term_lost(void);

#endif
