#include "core/fsutil.h"
#include "core/error.h" // uses: tb_fail

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL), 0644);
    if (fd < 0)
        return tb_fail("cannot create %s: %s", path, strerror(errno));
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
    FILE *f = fopen(path, "rb");
    if (!f)
        return tb_fail("cannot open %s: %s", path, strerror(errno));
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
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return tb_fail("cannot open %s: %s", from, strerror(errno));
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return tb_fail("cannot create %s: %s", to, strerror(errno));
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
