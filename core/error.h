/* Error reporting shared by every part of trainbench.
 *
 * Functions that can fail return 0 on success and -1 on failure after
 * recording a human-readable message with tb_fail().  The message says what
 * failed, on which file/value, and what the user can do; callers up the stack
 * may prefix context with tb_fail_prefix().  The buffer is thread-local so
 * loader workers and the training thread never clobber each other. */
#ifndef TB_ERROR_H
#define TB_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define TB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TB_PRINTF(a, b)
#endif

/* Records the message and returns -1, so `return tb_fail(...)` reads well. */
int tb_fail(const char *fmt, ...) TB_PRINTF(1, 2);
/* Prepends "context: " to the current message and returns -1. */
int tb_fail_prefix(const char *fmt, ...) TB_PRINTF(1, 2);
const char *tb_last_error(void);
void tb_clear_error(void);

/* Allocation that reports exhaustion through tb_fail (returns NULL). */
void *tb_malloc(size_t bytes, const char *what);
void *tb_calloc(size_t count, size_t size, const char *what);

#endif
