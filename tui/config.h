/* The workbench's remembered settings: the user's presets folder, kept in
 * $XDG_CONFIG_HOME/trainbench/tui.conf (else ~/.config/...) as
 * `presets_dir = DIR` lines. */
#ifndef TUI_CONFIG_H
#define TUI_CONFIG_H

#include <stddef.h>

/* $XDG_CONFIG_HOME/trainbench (or $HOME/.config/trainbench); -1 when
 * neither variable is set. */
int tui_config_dir(char *out, size_t size);
/* Reads presets_dir from the file; 1 found, 0 no file or no such line,
 * -1 after tb_fail (unreadable, or a line too long). */
int tui_config_load(const char *path, char *presets_dir, size_t size);
/* Writes the file atomically, creating its folder. */
int tui_config_save(const char *path, const char *presets_dir);
/* mkdir -p. */
int tui_mkdir_p(const char *path);

#endif
