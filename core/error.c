#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char last_error[1024];

int tb_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}

int tb_fail_prefix(const char *fmt, ...)
{
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    int p = vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    if (p < 0)
        return -1;
    size_t plen = (size_t)p < sizeof prefix ? (size_t)p : sizeof prefix - 1;
    /* Shift the old message right and put "prefix: " in front, truncating the tail. */
    size_t room = sizeof last_error - 1 - plen - 2;
    size_t old = strnlen(last_error, sizeof last_error - 1);
    if (old > room)
        old = room;
    memmove(last_error + plen + 2, last_error, old);
    memcpy(last_error, prefix, plen);
    memcpy(last_error + plen, ": ", 2);
    last_error[plen + 2 + old] = '\0';
    return -1;
}

const char *tb_last_error(void)
{
    return last_error[0] ? last_error : "unknown error";
}

void tb_clear_error(void) { last_error[0] = '\0'; }

void *tb_malloc(size_t bytes, const char *what)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p)
        tb_fail("out of memory allocating %zu bytes for %s; try a smaller --batch-size or model width", bytes, what);
    return p;
}

void *tb_calloc(size_t count, size_t size, const char *what)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        tb_fail("out of memory allocating %zu x %zu bytes for %s; try a smaller --batch-size or model width",
                count, size, what);
    return p;
}
