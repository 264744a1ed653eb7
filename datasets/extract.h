/* Archive extraction with libarchive, refusing entries that would leave the
 * destination or are not plain files and folders.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_EXTRACT_H
#define TB_EXTRACT_H

#include <stddef.h>

struct archive;

/* Extracts `archive` (tar, tar.gz, ...; a regular file) into the existing
 * folder `dest`.  Refuses, naming the entry, absolute paths, ".."
 * components, links of any kind and special files, then checks the tree
 * with tb_extract_check_tree.  Single-threaded: it uses archive_write_disk,
 * which touches the process umask. */
int tb_extract_archive(const char *archive, const char *dest);
/* Fails, naming the first offender, unless everything under `dir` (not
 * followed) is a folder or a plain file: no symlink, FIFO or device.
 * Single-threaded. */
int tb_extract_check_tree(const char *dir);
/* archive_read_open on `path` opened with tb_open_regular (a FIFO or device
 * is refused, never read).  Returns the fd, to close after
 * archive_read_free, or -1 after tb_fail. */
int tb_extract_open(struct archive *a, const char *path, size_t block);
/* Fails unless `name` (an archive entry path) is relative and free of ".."
 * components; `what` names the archive in the message. */
int tb_extract_check_name(const char *archive, const char *name);
/* 1 when a symlink entry `name` (already checked) pointing to `target`
 * resolves inside the extraction folder, 0 otherwise (absolute targets too). */
int tb_extract_link_inside(const char *name, const char *target);

#endif
