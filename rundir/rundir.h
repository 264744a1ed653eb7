/* The run directory: the interface between the engine and everything that
 * reads its results (TUI, exporter, headless replay, Slurm jobs).
 *
 *   config.json   the resolved configuration, written once at start
 *   events.jsonl  append-only, one JSON object per line, flushed per line
 *   result.json   schema trainbench.result/1, rewritten atomically
 *                 (temporary file + fsync + rename) after every epoch and at
 *                 the end, so a reader never sees a partial file
 *
 * docs/architecture.md documents the formats. */
#ifndef TB_RUNDIR_H
#define TB_RUNDIR_H

#include <json-c/json.h>

typedef struct tb_rundir tb_rundir;

/* Creates the directory (and parents).  A directory that already holds a
 * result.json is refused, so a run never overwrites another's results; any
 * other non-empty directory is refused too (it is not a run: the user's
 * files in it stay untouched).  The run holds the directory's lock
 * (rundir/lock.h) until tb_rundir_close. */
tb_rundir *tb_rundir_create(const char *path);
/* Opens an existing run directory to continue it (--resume): events are
 * appended, result.json is rewritten as the run goes on. */
tb_rundir *tb_rundir_reopen(const char *path);
/* Either of the above (resume: reopen); NULL after tb_fail, with *refused
 * 1 when the directory is refused as it is (in use by another process, or
 * not a run directory): the command exits 2, having written nothing. */
tb_rundir *tb_rundir_open(const char *path, int resume, int *refused);
void tb_rundir_close(tb_rundir *r);
const char *tb_rundir_path(const tb_rundir *r);

/* The vocabulary of "status": a run's (result.json: running, then completed,
 * interrupted or failed) and a sweep configuration's (summary.json: also
 * pending, starting and refused, and the keys of its "counts").  Written by
 * the engine and lab/sweep.c, read by lab/ and tui/. */
#define TB_STATUS_PENDING "pending"
#define TB_STATUS_STARTING "starting"
#define TB_STATUS_RUNNING "running"
#define TB_STATUS_COMPLETED "completed"
#define TB_STATUS_INTERRUPTED "interrupted"
#define TB_STATUS_FAILED "failed"
#define TB_STATUS_REFUSED "refused"
/* Readers only: a run whose file says running but whose lock no process
 * holds (it was killed, or the file is stale or crafted). */
#define TB_STATUS_STALE "stale"

/* Default path: runs/<YYYYmmdd-HHMMSS>-<suffix> under `base` (usually "runs"). */
int tb_rundir_default_path(const char *base, const char *suffix, char *out, size_t out_size);

/* 1 when `id` (a configuration id from plan.json or summary.json) may be
 * joined to a sweep directory as a folder name: 1 to 127 letters, digits,
 * '.', '-' or '_', not starting with '.'.  Readers skip any other id, so a
 * crafted plan cannot make them read outside the sweep. */
int tb_rundir_id_ok(const char *id);

/* True when RUN_DIR holds a readable checkpoint.safetensors (engine/checkpoint.h
 * writes it; sweeps ask before resuming a configuration). */
int tb_rundir_has_checkpoint(const char *run_dir);

/* tb_rundir_write_json, tb_rundir_event and tb_rundir_path accept NULL (a
 * data-parallel rank other than 0, which writes nothing) and do nothing. */

/* Writes `obj` as pretty JSON to <dir>/<name> atomically (tb_write_atomic:
 * a new .NAME.tmp-XXXXXX in the same directory, fsync, rename, fsync of the
 * directory).  The object is not consumed. */
int tb_rundir_write_json(tb_rundir *r, const char *name, struct json_object *obj);
/* The same for any path, for callers without a run directory. */
int tb_json_write_atomic(const char *path, struct json_object *obj);

/* Appends one event line {"event": type, "time": unix seconds (float),
 * "elapsed": seconds since the run directory was created, ...fields}.
 * `fields` is consumed (may be NULL).  Written with one write() and flushed,
 * so concurrent readers see whole lines. */
int tb_rundir_event(tb_rundir *r, const char *type, struct json_object *fields);

/* Reads a JSON file (result.json, config.json); NULL after tb_fail. */
struct json_object *tb_json_read_file(const char *path);

/* Reads events.jsonl: calls fn for each complete line, skipping a trailing
 * partial line (a writer mid-append).  Returns the number of events or -1. */
int tb_events_read(const char *path, int (*fn)(struct json_object *ev, void *ctx), void *ctx);

#endif
