/* The resources panel's state: sampling NVML and /proc at most once a
 * second, history, ranks on GPUs, contention (resources.h). */
#include "tui/resources.h" // uses: tui_series_push, tui_series, TUI_RES_HIST, tui_series_at, tui_res_asked, ...

#include "core/error.h" // uses: tb_last_error
#include "core/json.h" // uses: tb_json_int
#include "rundir/rundir.h" // uses: tb_json_read_file

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tui_series_push(tui_series *s, double v)
{
    s->v[s->head] = v;
    s->head = (s->head + 1) % TUI_RES_HIST;
    s->n += s->n < TUI_RES_HIST;
}

double tui_series_at(const tui_series *s, int i)
{
    if (i < 0 || i >= s->n)
        return NAN;
    return s->v[(s->head - s->n + i + TUI_RES_HIST) % TUI_RES_HIST];
}

double tui_res_asked(const char *config_json, int ncpu)
{
    struct json_object *c = tb_json_read_file(config_json);
    if (!c)
        return 0;
    int threads = tb_json_int(c, "threads", 0), workers = tb_json_int(c, "num_workers", 0);
    int ranks = tb_json_int(c, "gpus", 1);
    json_object_put(c);
    ranks = ranks < 1 ? 1 : ranks;
    double asked = (double)ranks * ((threads > 0 ? threads : ncpu) + (workers > 0 ? workers : 0));
    return asked > ncpu ? ncpu : asked;
}

/* The rank of the run's process pid: the launcher's variable in its
 * environment, 0 for a process started without one (a one-rank run), -2
 * when the environment cannot be read (another user's process). */
static int rank_of(const char *proc, long pid)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%ld/environ", proc, pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -2;
    static char env[65536];
    ssize_t n = read(fd, env, sizeof env);
    close(fd);
    if (n < 0)
        return -2;
    int r = tb_hostmon_env_rank(env, (size_t)n);
    return r >= 0 ? r : 0;
}

static void sample_gpus(tui_res *r, const char *proc)
{
    if (!r->nvml_tried) {
        r->nvml_tried = 1;
        r->mon = tb_gpumon_open(NULL);
        if (!r->mon)
            snprintf(r->nvml_msg, sizeof r->nvml_msg, "%s", tb_last_error());
        else if (!tb_gpumon_count(r->mon))
            snprintf(r->nvml_msg, sizeof r->nvml_msg, "%s", "NVML sees no GPU");
        r->ngpu = tb_gpumon_count(r->mon);
        r->ngpu = r->ngpu > TUI_RES_MAX_GPUS ? TUI_RES_MAX_GPUS : r->ngpu;
    }
    for (int i = 0; i < r->ngpu; i++) {
        tui_res_gpu *g = &r->gpu[i];
        if (tb_gpumon_read(r->mon, i, &g->r)) /* readings stay NAN; the reason in the note */
            snprintf(g->r.note, sizeof g->r.note, "%.190s", tb_last_error());
        tui_series_push(&g->util, g->r.util_pct);
        tui_series_push(&g->mem, g->r.mem_total > 0 ? 100 * g->r.mem_used / g->r.mem_total : NAN);
        tui_series_push(&g->power, g->r.power_w);
        g->rank = -1;
        g->rank_pid = 0;
        for (int k = 0; k < g->r.npids && !g->rank_pid; k++)
            for (int j = 0; j < r->prev.npids; j++)
                if (g->r.pids[k] == r->prev.pids[j]) {
                    g->rank_pid = g->r.pids[k];
                    g->rank = rank_of(proc, g->rank_pid);
                    break;
                }
    }
}

int tui_res_tick(tui_res *r, double now, long root, double asked, const char *proc)
{
    if (r->last_t > 0 && now - r->last_t < 1.0)
        return 0;
    r->last_t = now;
    tb_host_sample s;
    if (tb_hostmon_sample(proc, root, now, &s)) {
        snprintf(r->host_err, sizeof r->host_err, "%s", tb_last_error());
        r->have_prev = r->have_rates = 0;
    } else {
        r->host_err[0] = '\0';
        long hz = sysconf(_SC_CLK_TCK);
        r->have_rates = r->have_prev && !tb_hostmon_rates(&r->prev, &s, hz > 0 ? hz : 100, &r->host);
        r->prev = s;
        r->have_prev = 1;
    }
    sample_gpus(r, proc); /* after the host: the run's pids are fresh */
    r->asked = root > 0 ? asked : 0;
    if (r->have_rates) {
        tui_series_push(&r->cpu, r->host.cpu_pct);
        tui_series_push(&r->run, root > 0 ? r->host.run_cores : NAN);
        tui_series_push(&r->mem, r->host.mem_total > 0 ? 100 * r->host.mem_used / r->host.mem_total : NAN);
        r->contended = tb_hostmon_contention(&r->host, r->asked, r->contention, sizeof r->contention);
    }
    return 1;
}

void tui_res_free(tui_res *r)
{
    tb_gpumon_close(r->mon);
    r->mon = NULL;
}
