/* Archive extraction with libarchive, streaming (nothing buffered whole).
 *
 * Names are checked here before libarchive sees them: absolute paths, ".."
 * components and links leaving the target are refused with the entry's name.
 * Then libarchive's own guards are on too (SECURE_NODOTDOT, and
 * SECURE_SYMLINKS so nothing is written through a symlink an earlier entry
 * made).  Its NOABSOLUTEPATHS guard cannot be used because we hand it
 * absolute paths under the (symlink-free, realpath'd) target folder; the
 * check for absolute entry names is ours. */
#include "datasets/extract.h"
#include "core/error.h" // uses: tb_fail, tb_fail_prefix

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int tb_extract_check_name(const char *archive, const char *name)
{
    if (!name || !*name)
        return tb_fail("archive %s: an entry has an empty name; refusing to extract it", archive);
    if (name[0] == '/')
        return tb_fail("archive %s: entry '%s' has an absolute path; refusing to extract it (unsafe archive)",
                       archive, name);
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return tb_fail("archive %s: entry '%s' has a '..' component; refusing to extract it (it could write "
                           "outside the target folder)",
                           archive, name);
        p += len + (slash != NULL);
    }
    return 0;
}

/* Does a symlink at `name` pointing to `target` stay inside the root?
 * Declared in extract.h for the fuzz target. */
int tb_extract_link_inside(const char *name, const char *target)
{
    if (target[0] == '/')
        return 0;
    int depth = 0;
    /* Depth of the folder holding the link. */
    for (const char *p = name; *p;) {
        const char *slash = strchr(p, '/');
        if (!slash)
            break;
        size_t len = (size_t)(slash - p);
        if (len && !(len == 1 && p[0] == '.'))
            depth++;
        p = slash + 1;
    }
    for (const char *p = target; *p;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return 0;
        } else if (len && !(len == 1 && p[0] == '.')) {
            depth++;
        }
        p += len + (slash != NULL);
    }
    return 1;
}

static int copy_data(struct archive *in, struct archive *out, const char *archive, const char *name,
                     const char *dest)
{
    for (;;) {
        const void *buf;
        size_t size;
        la_int64_t offset;
        int r = archive_read_data_block(in, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_WARN)
            return tb_fail("archive %s: entry '%s' is truncated or corrupt (%s); delete the archive and fetch it "
                           "again",
                           archive, name, archive_error_string(in));
        if (archive_write_data_block(out, buf, size, offset) < ARCHIVE_WARN) {
            int e = archive_errno(out);
            return tb_fail("cannot write '%s' under %s: %s%s", name, dest, archive_error_string(out),
                           e == ENOSPC ? "; the disk is full: free some space or use another --root" : "");
        }
    }
}

int tb_extract_archive(const char *archive, const char *dest)
{
    char root[PATH_MAX];
    if (!realpath(dest, root))
        return tb_fail("cannot extract %s into %s: %s", archive, dest, strerror(errno));
    struct archive *in = archive_read_new(), *out = archive_write_disk_new();
    if (!in || !out) {
        archive_read_free(in);
        archive_write_free(out);
        return tb_fail("cannot extract %s: libarchive could not allocate its reader (out of memory?)", archive);
    }
    archive_read_support_filter_all(in);
    archive_read_support_format_all(in);
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    int rc = 0;
    if (archive_read_open_filename(in, archive, 1 << 20) != ARCHIVE_OK) {
        rc = tb_fail("cannot open archive %s: %s", archive, archive_error_string(in));
        goto done;
    }
    char path[PATH_MAX * 2];
    for (long entries = 0;; entries++) {
        struct archive_entry *e;
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF) {
            if (entries == 0)
                rc = tb_fail("archive %s holds no files; is it the right file?", archive);
            break;
        }
        if (r < ARCHIVE_WARN) {
            rc = tb_fail("archive %s is truncated or corrupt after %ld entries (%s); delete it and fetch it again",
                         archive, entries, archive_error_string(in));
            break;
        }
        /* A copy: archive_entry_copy_pathname below frees the entry's own. */
        char name_buf[PATH_MAX];
        const char *entry_name = archive_entry_pathname(e);
        snprintf(name_buf, sizeof name_buf, "%s", entry_name ? entry_name : "");
        const char *name = name_buf;
        if (tb_extract_check_name(archive, name)) {
            rc = -1;
            break;
        }
        mode_t type = archive_entry_filetype(e);
        const char *hardlink = archive_entry_hardlink(e);
        if (hardlink) {
            if (tb_extract_check_name(archive, hardlink)) {
                rc = tb_fail_prefix("hard link '%s'", name);
                break;
            }
            snprintf(path, sizeof path, "%s/%s", root, hardlink);
            archive_entry_copy_hardlink(e, path);
        } else if (type == AE_IFLNK) {
            const char *target = archive_entry_symlink(e);
            if (!target || !tb_extract_link_inside(name, target)) {
                rc = tb_fail("archive %s: symbolic link '%s' points to '%s', outside the target folder; refusing "
                             "to extract it (unsafe archive)",
                             archive, name, target ? target : "");
                break;
            }
        } else if (type != AE_IFREG && type != AE_IFDIR) {
            rc = tb_fail("archive %s: entry '%s' is a device, FIFO or socket; refusing to extract it", archive, name);
            break;
        }
        snprintf(path, sizeof path, "%s/%s", root, name);
        archive_entry_copy_pathname(e, path);
        r = archive_write_header(out, e);
        if (r < ARCHIVE_WARN) {
            rc = tb_fail("cannot create '%s' under %s: %s", name, dest, archive_error_string(out));
            break;
        }
        if (type == AE_IFREG && !hardlink && copy_data(in, out, archive, name, dest)) {
            rc = -1;
            break;
        }
        if (archive_write_finish_entry(out) < ARCHIVE_WARN) {
            rc = tb_fail("cannot finish writing '%s' under %s: %s", name, dest, archive_error_string(out));
            break;
        }
    }
done:
    if (archive_write_close(out) != ARCHIVE_OK && !rc)
        rc = tb_fail("cannot finish extracting %s into %s: %s", archive, dest, archive_error_string(out));
    archive_write_free(out);
    archive_read_free(in);
    return rc;
}
