/* Small file-system helpers for the data tools: recursive mkdir and remove,
 * durable renames, whole-file copy. */
#ifndef TB_FSUTIL_H
#define TB_FSUTIL_H

#include "core/error.h" // uses: TB_PRINTF

#include <stddef.h>

/* snprintf for paths: fails (tb_fail) instead of silently cutting one short. */
int tb_pathf(char *out, size_t n, const char *fmt, ...) TB_PRINTF(3, 4);

int tb_mkdir_p(const char *path);          /* mkdir -p; fails naming the path */
int tb_rm_rf(const char *path);            /* rm -rf; a missing path is fine */
int tb_is_dir(const char *path);
int tb_is_file(const char *path);
int tb_fsync_dir(const char *path);        /* makes a rename in `path` durable */
/* rename(from, to) then fsync of to's folder. */
int tb_rename_durable(const char *from, const char *to);
int tb_copy_file(const char *from, const char *to); /* to is written whole then fsync'd */
/* Writes `size` bytes to a new file (O_EXCL unless `replace`), fsync'd. */
int tb_write_file(const char *path, const void *data, size_t size, int replace);
/* Reads a whole file (NUL appended, not counted); free() the result. */
int tb_read_file(const char *path, char **data, size_t *size);
/* The folder part of a path into out ("." for a bare name). */
void tb_dirname(const char *path, char *out, size_t n);

#endif
