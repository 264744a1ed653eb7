/* Archive extraction with libarchive, refusing entries that would leave the
 * destination.
 *
 * Every function returns 0 or -1 after tb_fail() with a message that names
 * the file, URL or archive entry and says what to do. */
#ifndef TB_EXTRACT_H
#define TB_EXTRACT_H

/* Extracts `archive` (tar, tar.gz, ...) into the existing folder `dest`.
 * Refuses, naming the entry, absolute paths, ".." components, links whose
 * target leaves `dest`, and special files.  Single-threaded: it uses
 * archive_write_disk, which touches the process umask. */
int tb_extract_archive(const char *archive, const char *dest);
/* Fails unless `name` (an archive entry path) is relative and free of ".."
 * components; `what` names the archive in the message. */
int tb_extract_check_name(const char *archive, const char *name);
/* 1 when a symlink entry `name` (already checked) pointing to `target`
 * resolves inside the extraction folder, 0 otherwise (absolute targets too). */
int tb_extract_link_inside(const char *name, const char *target);

#endif
