/* A span profiler that writes Chrome trace-event JSON (Perfetto,
 * chrome://tracing) and, in CUDA builds, NVTX ranges (Nsight Systems).
 *
 * Off unless tb_prof_start() was called: then tb_prof_begin/tb_prof_end are
 * one load and one branch each (CPU builds), so the calls stay in the hot
 * loop for good.  In CUDA builds the same calls also push and pop NVTX
 * ranges, which cost a few nanoseconds when no tool is attached.
 *
 * Spans are "complete" events (ph "X") with the thread that recorded them,
 * so nesting is by time on one thread: a step span holds its forward and
 * backward spans.  Each thread records into its own buffer (a mutex per
 * buffer, only ever contended at the end when the trace is written). */
#ifndef TB_PROFILE_H
#define TB_PROFILE_H

#include "tb_config.h"

#include <stddef.h>

extern int tb_prof_on;
extern int tb_prof_layers; /* --profile-layers: per-layer spans (model.c) */

/* Starts recording; `rank` becomes the trace's pid (one lane per rank). */
int tb_prof_start(int rank, const char *rank_label);
/* Names the calling thread in the trace ("trainer", "loader 2"). */
void tb_prof_thread_name(const char *name);

double tb_prof_begin_slow(const char *name);
/* The trace clock, microseconds. */
double tb_prof_now(void);
void tb_prof_end_slow(const char *name, const char *cat, double t0, const char *args_json);

/* Returns the start time (microseconds) to pass to tb_prof_end. */
static inline double tb_prof_begin(const char *name)
{
    if (tb_prof_on || TB_HAVE_CUDA)
        return tb_prof_begin_slow(name);
    return 0;
}

/* Records the span [t0, now) named `name` in category `cat` ("phase",
 * "layer", "loader", "epoch"). */
static inline void tb_prof_end(const char *name, const char *cat, double t0)
{
    if (tb_prof_on || TB_HAVE_CUDA)
        tb_prof_end_slow(name, cat, t0, NULL);
}

/* The same with an args object, JSON text such as {"epoch":1} (copied). */
static inline void tb_prof_end_args(const char *name, const char *cat, double t0, const char *args_json)
{
    if (tb_prof_on || TB_HAVE_CUDA)
        tb_prof_end_slow(name, cat, t0, args_json);
}

/* This rank's events as trace-event JSON objects separated by commas (no
 * brackets), malloc'd; NULL after tb_fail.  Stops recording. */
char *tb_prof_take_events(size_t *len);

/* Writes {"traceEvents":[...], "displayTimeUnit":"ms", ...} from the
 * comma-separated event lists of every rank, atomically. */
int tb_prof_write_trace(const char *path, char *const *rank_events, int ranks, const char *metadata_json);

/* Spans dropped because a thread's buffer reached its cap. */
long tb_prof_dropped(void);

/* A device timeline (CUDA events on the compute stream), so the trace also
 * shows when the device itself ran each span, not only when the host
 * launched it.  While one is set, every span of the thread that set it
 * (the trainer: epochs, steps, phases, layers) also records a mark on the
 * device at begin and at end; marks are resolved in batches, at the end of
 * the outermost span or when the device's `capacity` marks are used up,
 * into spans of category "gpu" on a track of their own ("GPU stream").
 * A batch starts with an anchor: the device is waited for, then marked, so
 * that mark's device time is the host time taken then (the skew is the
 * event's launch latency; not yet measured on a GPU).  On an error the device timeline
 * is dropped with one message on stderr and the host spans go on. */
typedef struct tb_prof_device {
    void *ctx;
    int capacity; /* marks, slots 0 .. capacity - 1 */
    /* records mark `slot` on the stream, after all work launched so far */
    int (*mark)(void *ctx, int slot);
    /* waits until the stream has run everything launched */
    int (*wait)(void *ctx);
    /* microseconds between two marks the stream has passed */
    int (*elapsed_us)(void *ctx, int from, int to, double *us);
} tb_prof_device;

/* Sets (or with NULL drops) the device timeline for the calling thread's
 * spans.  Marks not yet resolved are dropped, not waited for (after a
 * failed run the device may be gone): tb_prof_take_events resolves them
 * first.  Copies *d. */
void tb_prof_set_device(const tb_prof_device *d);

#endif
