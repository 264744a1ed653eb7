/* Archive extraction with libarchive, streaming (nothing buffered whole).
 *
 * Names are checked here before libarchive sees them: absolute paths and
 * ".." components are refused with the entry's name.  Links of either kind
 * are refused outright: none of the published datasets holds one, and a
 * textual check cannot see where a chain of them ends.  Then libarchive's
 * own guards are on too (SECURE_NODOTDOT, SECURE_SYMLINKS).  Its
 * NOABSOLUTEPATHS guard cannot be used because we hand it absolute paths
 * under the (symlink-free, realpath'd) target folder; the check for
 * absolute entry names is ours.  Afterwards the extracted tree is walked
 * (without following anything) and must hold only folders and plain files. */
#include "datasets/extract.h"
#include "core/error.h" // uses: tb_fail
#include "core/fsutil.h" // uses: tb_open_regular

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int tb_extract_open(struct archive *a, const char *path, size_t block)
{
    int fd = tb_open_regular(path, 0);
    if (fd < 0)
        return -1;
    if (archive_read_open_fd(a, fd, block) != ARCHIVE_OK) {
        tb_fail("cannot read archive %s: %s", path, archive_error_string(a));
        close(fd);
        return -1;
    }
    return fd;
}

static const char *tree_bad; /* nftw has no user pointer; extraction is single-threaded (see extract.h) */
static char tree_what[PATH_MAX + 64];

static int tree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_DNR || flag == FTW_NS) {
        snprintf(tree_what, sizeof tree_what, "%s (cannot be read)", path);
        return 1;
    }
    if (S_ISLNK(st->st_mode) || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
        tree_bad = S_ISLNK(st->st_mode) ? "a symbolic link" : "a device, FIFO or socket";
        snprintf(tree_what, sizeof tree_what, "%s", path);
        return 1;
    }
    return 0;
}

int tb_extract_check_tree(const char *dir)
{
    tree_bad = NULL;
    tree_what[0] = '\0';
    int r = nftw(dir, tree_one, 32, FTW_PHYS);
    if (r < 0)
        return tb_fail("cannot walk %s: %s", dir, strerror(errno));
    if (r > 0)
        return tb_fail("%s is %s; a dataset folder holds only folders and plain files (remove it and fetch the "
                       "dataset again)",
                       tree_what, tree_bad ? tree_bad : "unreadable");
    return 0;
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
    int rc = 0, fd = tb_extract_open(in, archive, 1 << 20);
    if (fd < 0) {
        rc = -1;
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
        const char *hardlink = archive_entry_hardlink(e), *slink = archive_entry_symlink(e);
        if (hardlink || slink || type == AE_IFLNK) {
            rc = tb_fail("archive %s: entry '%s' is a %s link to '%s'; refusing to extract it (no dataset needs "
                         "links, and they can lead outside the target folder: unsafe archive)",
                         archive, name, hardlink ? "hard" : "symbolic", hardlink ? hardlink : slink ? slink : "");
            break;
        }
        if (type != AE_IFREG && type != AE_IFDIR) {
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
        if (type == AE_IFREG && copy_data(in, out, archive, name, dest)) {
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
    if (fd >= 0)
        close(fd);
    /* What libarchive made, checked without trusting the entry checks above. */
    return rc ? rc : tb_extract_check_tree(root);
}
