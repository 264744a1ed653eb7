/* events.jsonl (rundir/rundir.c): tb_events_read, which must skip a final
 * line without its newline, and tb_json_read_file on the same bytes. */
#include "core/json.h" // uses: tb_json_str, tb_json_int, tb_json_num
#include "fuzz/fuzz_util.h" // uses: fuzz_path, fuzz_write
#include "rundir/rundir.h" // uses: tb_events_read, tb_json_read_file

#include <json-c/json.h>

/* Reads each event's fields the way the TUI and exports do (core/json.h:
 * a field of the wrong type, e.g. "event": null, reads as the fallback). */
static int on_event(struct json_object *ev, void *ctx)
{
    int *n = ctx;
    (*n)++;
    if (!tb_json_str(ev, "event", "")) /* never NULL with a fallback */
        abort();
    (void)tb_json_int(ev, "epoch", -1);
    (void)tb_json_num(ev, "loss", 0.0);
    (void)json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[600];
    fuzz_path(path, sizeof path, "events.jsonl");
    fuzz_write(path, data, size);
    int n = 0;
    int rc = tb_events_read(path, on_event, &n);
    if (rc >= 0 && rc != n)
        abort(); /* the count returned is the events delivered */
    json_object_put(tb_json_read_file(path));
    unlink(path);
    return 0;
}
