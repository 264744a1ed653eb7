/* Small file-system helpers for the data tools: recursive mkdir and remove,
 * durable renames, whole-file copy. */
#ifndef TB_FSUTIL_H
#define TB_FSUTIL_H

#include "core/error.h" // uses: TB_PRINTF

#include <stddef.h>
#include <stdio.h>

/* snprintf for paths: fails (tb_fail) instead of silently cutting one short. */
int tb_pathf(char *out, size_t n, const char *fmt, ...) TB_PRINTF(3, 4);

int tb_mkdir_p(const char *path);          /* mkdir -p; fails naming the path */
int tb_rm_rf(const char *path);            /* rm -rf; a missing path is fine */
int tb_is_dir(const char *path);
int tb_is_file(const char *path);
int tb_fsync_dir(const char *path);        /* makes a rename in `path` durable */
/* rename(from, to) then fsync of to's folder. */
int tb_rename_durable(const char *from, const char *to);
int tb_copy_file(const char *from, const char *to); /* to: a new file (O_EXCL), written whole, fsync'd */
/* Writes `size` bytes to a new file (O_EXCL unless `replace`; never through a link), fsync'd. */
int tb_write_file(const char *path, const void *data, size_t size, int replace);
/* Reads a whole regular file (NUL appended, not counted); free() the result. */
int tb_read_file(const char *path, char **data, size_t *size);
/* Opens a regular file and nothing else: open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), plus
 * O_NOFOLLOW when writing (mode 0644 when creating), then fstat.  A FIFO, device, socket or folder is
 * refused with a message instead of blocking or being read forever; O_NONBLOCK is cleared on the fd.
 * flags: 0 to read, or e.g. O_WRONLY | O_CREAT | O_EXCL.  Returns the fd, or -1 after tb_fail. */
int tb_open_regular(const char *path, int flags);
/* tb_open_regular(path, 0) as a FILE* ("rb"); NULL after tb_fail. */
FILE *tb_fopen_regular(const char *path);
/* The folder part of a path into out ("." for a bare name). */
void tb_dirname(const char *path, char *out, size_t n);

/* The one way trainbench replaces a file (result.json, checkpoints, profiles,
 * exports, batch scripts, packed datasets): a new temporary file, created
 * O_EXCL | O_NOFOLLOW with an unpredictable name ".NAME.tmp-XXXXXX" in the
 * target's folder, written, fsync'd, renamed over the target, then the folder
 * fsync'd.  A target that exists and is not a regular file (symbolic link,
 * FIFO, device, socket, folder) is refused with a message; every failure
 * removes the temporary file.  A process killed mid-write leaves its
 * temporary behind: tb_atomic_remove_stale clears them when a folder is
 * reopened. */
typedef struct tb_atomic_file {
    int fd;          /* -1 once closed */
    FILE *f;         /* set by tb_atomic_stream: then the stream owns fd */
    char path[4096]; /* the target */
    char tmp[4096];  /* the temporary file, "" once renamed or removed */
} tb_atomic_file;

/* Refuses (tb_fail) a target that exists and is not a regular file. */
int tb_atomic_check_target(const char *path);
/* Creates the temporary file for `path`; -1 after tb_fail, nothing left behind. */
int tb_atomic_begin(tb_atomic_file *a, const char *path);
/* Writes all of data to the temporary file; on failure removes it (the
 * caller need not call tb_atomic_abort). */
int tb_atomic_write(tb_atomic_file *a, const void *data, size_t size);
/* The temporary file as a stdio stream ("wb", seekable), for writers that
 * print or seek; NULL after tb_fail (the temporary is then removed). */
FILE *tb_atomic_stream(tb_atomic_file *a);
/* fsync, close, rename over the target, fsync of the folder.  On failure
 * the temporary file is removed and the target untouched. */
int tb_atomic_commit(tb_atomic_file *a);
/* Closes and removes the temporary file; safe to call twice or after commit. */
void tb_atomic_abort(tb_atomic_file *a);
/* begin + write + commit of one buffer. */
int tb_write_atomic(const char *path, const void *data, size_t size);
/* True for a name tb_atomic_begin makes (".NAME.tmp-XXXXXX"). */
int tb_atomic_is_temp_name(const char *name);
/* Removes the temporary files of writers that died mid-write from folder
 * `dir` (not its subfolders); returns how many, or -1 after tb_fail. */
int tb_atomic_remove_stale(const char *dir);

#endif
