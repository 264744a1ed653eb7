/* Failure reasons for the Live screen; see failure.h. */
#include "tui/failure.h"

#include "core/json.h" // uses: tb_json_str, tb_json_arr
#include "rundir/rundir.h" // uses: tb_json_read_file

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void tui_live_read_errors(tui_live *l)
{
    char path[1300];
    if (snprintf(path, sizeof path, "%s/summary.json", l->sweep_dir) >= (int)sizeof path || access(path, R_OK))
        return;
    struct json_object *sum = tb_json_read_file(path);
    if (!sum)
        return;
    snprintf(l->stopped, sizeof l->stopped, "%s", tb_json_str(sum, "stopped", ""));
    struct json_object *cfgs = tb_json_arr(sum, "configs");
    size_t n = cfgs ? json_object_array_length(cfgs) : 0;
    for (int i = 0; i < l->nconfigs; i++) {
        l->configs[i].error[0] = '\0';
        for (size_t k = 0; k < n; k++) {
            struct json_object *c = json_object_array_get_idx(cfgs, k);
            if (!strcmp(tb_json_str(c, "id", ""), l->configs[i].id)) {
                snprintf(l->configs[i].error, sizeof l->configs[i].error, "%s", tb_json_str(c, "error", ""));
                break;
            }
        }
    }
    json_object_put(sum);
}

int tui_live_failure(const tui_live *l, char *out, size_t size)
{
    out[0] = '\0';
    if (!l->active)
        return 0;
    int cur = l->cur >= 0 && l->cur < l->nconfigs ? l->cur : -1;
    if (cur >= 0 && l->configs[cur].error[0]) {
        snprintf(out, size, "%s: %s", l->configs[cur].id, l->configs[cur].error);
        return 1;
    }
    if (tui_live_running(l))
        return 0; /* another configuration runs: its progress, not an old failure */
    if (l->stopped[0]) {
        snprintf(out, size, "%s", l->stopped);
        return 1;
    }
    for (int i = 0; i < l->nconfigs; i++)
        if (l->configs[i].error[0]) {
            snprintf(out, size, "%s: %s", l->configs[i].id, l->configs[i].error);
            return 1;
        }
    return 0;
}
