#include "core/fsutil.h"
#include "core/error.h" // uses: tb_fail

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tb_pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= n)
        return tb_fail("path too long (over %zu bytes): %.200s...", n - 1, out);
    return 0;
}

int tb_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int tb_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int tb_mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return tb_fail("path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return tb_fail("cannot create folder %s: %s", buf, strerror(errno));
        if (!tb_is_dir(buf))
            return tb_fail("cannot create folder %s: a file of that name is in the way", buf);
        *p = c;
        if (!c)
            break;
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if ((flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 && errno != ENOENT) {
        tb_fail("cannot remove %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int tb_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : tb_fail("cannot remove %s: %s", path, strerror(errno));
    return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

void tb_dirname(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

int tb_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return tb_fail("cannot open folder %s: %s", path, strerror(errno));
    int rc = fsync(fd) == 0 || errno == EINVAL ? 0 : tb_fail("cannot sync folder %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int tb_rename_durable(const char *from, const char *to)
{
    if (rename(from, to) != 0)
        return tb_fail("cannot rename %s to %s: %s", from, to, strerror(errno));
    char dir[4096];
    tb_dirname(to, dir, sizeof dir);
    return tb_fsync_dir(dir);
}

int tb_open_regular(const char *path, int flags)
{
    int writing = (flags & O_ACCMODE) != O_RDONLY;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer (or reader); it is refused just below. */
    int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (writing ? O_NOFOLLOW : 0), 0644);
    if (fd < 0) {
        int e = errno;
        if (writing && e == ELOOP)
            return tb_fail("cannot write %s: it is a symbolic link; trainbench does not write through links it "
                           "did not make: remove it",
                           path);
        return tb_fail("cannot %s %s: %s", writing ? "write" : "open", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tb_fail("cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return tb_fail("%s is not a regular file (it is a %s); give the path of a plain file", path,
                       S_ISDIR(st.st_mode)    ? "folder"
                       : S_ISFIFO(st.st_mode) ? "FIFO"
                       : S_ISSOCK(st.st_mode) ? "socket"
                                              : "device");
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return tb_fail("cannot open %s: fcntl: %s", path, strerror(e));
    }
    return fd;
}

FILE *tb_fopen_regular(const char *path)
{
    int fd = tb_open_regular(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        tb_fail("cannot open %s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

static int write_all(int fd, const void *data, size_t size)
{
    const char *p = data;
    while (size) {
        ssize_t w = write(fd, p, size);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

int tb_write_file(const char *path, const void *data, size_t size, int replace)
{
    int fd = tb_open_regular(path, O_WRONLY | O_CREAT | (replace ? O_TRUNC : O_EXCL));
    if (fd < 0)
        return -1;
    if (write_all(fd, data, size) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return tb_fail("cannot write %s: %s%s", path, strerror(e), e == ENOSPC ? " (the disk is full)" : "");
    }
    if (close(fd) != 0)
        return tb_fail("cannot write %s: %s", path, strerror(errno));
    return 0;
}

int tb_read_file(const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = tb_fopen_regular(path);
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (!buf) {
            fclose(f);
            return tb_fail("out of memory reading %s", path);
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        char *bigger = realloc(buf, cap + 1);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return tb_fail("cannot read %s: %s", path, strerror(errno));
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return 0;
}

int tb_copy_file(const char *from, const char *to)
{
    int in = tb_open_regular(from, O_RDONLY);
    if (in < 0)
        return -1;
    /* A new file: nothing already at `to` (a planted link included) is written through. */
    int out = tb_open_regular(to, O_WRONLY | O_CREAT | O_EXCL);
    if (out < 0) {
        close(in);
        return -1;
    }
    static _Thread_local char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = tb_fail("cannot read %s: %s", from, strerror(errno));
            break;
        }
        if (r == 0)
            break;
        if (write_all(out, buf, (size_t)r) != 0) {
            rc = tb_fail("cannot write %s: %s", to, strerror(errno));
            break;
        }
    }
    if (!rc && fsync(out) != 0)
        rc = tb_fail("cannot write %s: %s", to, strerror(errno));
    close(in);
    if (close(out) != 0 && !rc)
        rc = tb_fail("cannot write %s: %s", to, strerror(errno));
    return rc;
}

/* ---- atomic replacement (see fsutil.h) ---- */

static const char *kind_of(mode_t m)
{
    return S_ISLNK(m)    ? "symbolic link"
           : S_ISFIFO(m) ? "FIFO"
           : S_ISDIR(m)  ? "folder"
           : S_ISSOCK(m) ? "socket"
           : S_ISCHR(m) || S_ISBLK(m) ? "device"
                                      : "special file";
}

int tb_atomic_check_target(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        return tb_fail("cannot write %s: %s; check the path", path, strerror(errno));
    }
    if (!S_ISREG(st.st_mode))
        return tb_fail("refusing to replace %s: it is a %s, not a regular file; trainbench replaces only files it "
                       "could have written: remove it or choose another path",
                       path, kind_of(st.st_mode));
    return 0;
}

int tb_atomic_is_temp_name(const char *name)
{
    size_t n = strlen(name);
    const char *mark = ".tmp-";
    if (n < 1 + 1 + 5 + 6 || name[0] != '.' || strncmp(name + n - 11, mark, 5) != 0)
        return 0;
    for (size_t i = n - 6; i < n; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
              (name[i] >= '0' && name[i] <= '9')))
            return 0;
    return 1;
}

/* Six unpredictable letters/digits: a name another user cannot plant ahead. */
static void random_suffix(char out[7])
{
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[6];
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        /* No entropy yet (early boot): O_EXCL still refuses a planted name. */
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        unsigned long long x = (unsigned long long)t.tv_nsec * 2654435761ULL ^ (unsigned long long)getpid() << 20 ^
                               (unsigned long long)(uintptr_t)out;
        for (int i = 0; i < 6; i++, x >>= 8)
            r[i] = (unsigned char)x;
    }
    for (int i = 0; i < 6; i++)
        out[i] = set[r[i] % (sizeof set - 1)];
    out[6] = '\0';
}

int tb_atomic_begin(tb_atomic_file *a, const char *path)
{
    a->fd = -1;
    a->f = NULL;
    a->tmp[0] = '\0';
    if (!path || !*path)
        return tb_fail("empty output path; give a file name");
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path)
        return tb_fail("path too long (over %zu bytes): %.200s...", sizeof a->path - 1, path);
    if (tb_atomic_check_target(path))
        return -1;
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return tb_fail("cannot write %s: it names a folder; give a file name", path);
    int dir_len = slash ? (int)(slash - path) + 1 : 0;
    for (int tries = 0; tries < 100; tries++) {
        char suffix[7];
        random_suffix(suffix);
        if (snprintf(a->tmp, sizeof a->tmp, "%.*s.%s.tmp-%s", dir_len, path, base, suffix) >= (int)sizeof a->tmp) {
            a->tmp[0] = '\0';
            return tb_fail("path too long for its temporary file: %.200s...; choose a shorter path", path);
        }
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644);
        if (a->fd >= 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    char dir[4096];
    tb_dirname(path, dir, sizeof dir);
    a->tmp[0] = '\0';
    return tb_fail("cannot create a temporary file in %s to write %s: %s; check that the folder exists and is "
                   "writable, or choose another path; any previous file is untouched",
                   dir, path, strerror(e));
}

void tb_atomic_abort(tb_atomic_file *a)
{
    if (a->f)
        fclose(a->f);
    else if (a->fd >= 0)
        close(a->fd);
    a->f = NULL;
    a->fd = -1;
    if (a->tmp[0])
        unlink(a->tmp);
    a->tmp[0] = '\0';
}

/* Fails naming the target, removes the temporary file. */
static int atomic_fail(tb_atomic_file *a, const char *what, int err)
{
    tb_atomic_abort(a);
    return tb_fail("cannot %s %s: %s%s; any previous file is untouched", what, a->path, strerror(err),
                   err == ENOSPC || err == EDQUOT ? " (the disk is full: free space or choose another path)" : "");
}

int tb_atomic_write(tb_atomic_file *a, const void *data, size_t size)
{
    if (a->fd < 0 || a->f)
        return atomic_fail(a, "write", EBADF);
    return write_all(a->fd, data, size) == 0 ? 0 : atomic_fail(a, "write", errno);
}

FILE *tb_atomic_stream(tb_atomic_file *a)
{
    if (a->f)
        return a->f;
    if (a->fd < 0 || !(a->f = fdopen(a->fd, "wb"))) {
        atomic_fail(a, "open a stream for", a->fd < 0 ? EBADF : errno);
        return NULL;
    }
    return a->f;
}

int tb_atomic_commit(tb_atomic_file *a)
{
    if (a->fd < 0 || !a->tmp[0])
        return atomic_fail(a, "write", EBADF);
    if (a->f && (ferror(a->f) || fflush(a->f) != 0))
        return atomic_fail(a, "write", errno ? errno : EIO);
    if (fsync(a->fd) != 0 && errno != EINVAL)
        return atomic_fail(a, "sync", errno);
    /* close can report deferred write errors (NFS, quotas). */
    int rc = a->f ? fclose(a->f) : close(a->fd);
    a->f = NULL;
    a->fd = -1;
    if (rc != 0)
        return atomic_fail(a, "write", errno);
    /* Checked again: something may have been put there while we wrote. */
    if (tb_atomic_check_target(a->path)) {
        unlink(a->tmp);
        a->tmp[0] = '\0';
        return -1;
    }
    if (rename(a->tmp, a->path) != 0)
        return atomic_fail(a, "rename the temporary file over", errno);
    a->tmp[0] = '\0';
    char dir[4096];
    tb_dirname(a->path, dir, sizeof dir);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return tb_fail("wrote %s but cannot open its folder to sync it: %s", a->path, strerror(errno));
    rc = fsync(dfd);
    int e = errno;
    close(dfd);
    /* Some file systems cannot sync folders; the rename already happened. */
    if (rc != 0 && e != EINVAL && e != ENOTSUP)
        return tb_fail("wrote %s but cannot sync its folder: %s; the file may not survive a crash", a->path,
                       strerror(e));
    return 0;
}

int tb_write_atomic(const char *path, const void *data, size_t size)
{
    tb_atomic_file a;
    if (tb_atomic_begin(&a, path) || tb_atomic_write(&a, data, size))
        return -1;
    return tb_atomic_commit(&a);
}

int tb_atomic_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return tb_fail("cannot list %s: %s", dir, strerror(errno));
    int removed = 0, rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        struct stat st;
        if (!tb_atomic_is_temp_name(e->d_name) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            S_ISDIR(st.st_mode))
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
        else if (errno != ENOENT)
            rc = tb_fail("cannot remove the stale temporary file %s/%s: %s", dir, e->d_name, strerror(errno));
    }
    closedir(d);
    return rc ? rc : removed;
}
