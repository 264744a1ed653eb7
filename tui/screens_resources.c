/* The resources panel on the Live screen and the Resources screen: GPU and
 * host readings with sparkline history, and the contention line. */
#include "tui/resources.h" // uses: tui_res_layout, TUI_RES_HOST_H, TUI_RES_GPU_H, tui_sparkline, tui_series, ...

#include <math.h>
#include <stdio.h>
#include <string.h>

int tui_res_layout(tui_rect body, int ngpu, tui_rect *host, tui_rect *gpus, int max)
{
    *host = (tui_rect){body.x, body.y, body.w, TUI_RES_HOST_H};
    int cols = body.w >= 160 ? 2 : 1, rows = (body.h - TUI_RES_HOST_H) / TUI_RES_GPU_H;
    rows = rows < 0 ? 0 : rows;
    int n = ngpu < cols * rows ? ngpu : cols * rows;
    n = n < max ? n : max;
    int cw = body.w / cols;
    for (int i = 0; i < n; i++) {
        int c = i % cols, r = i / cols;
        gpus[i] = (tui_rect){body.x + c * cw, body.y + TUI_RES_HOST_H + r * TUI_RES_GPU_H,
                             c == cols - 1 ? body.w - c * cw : cw, TUI_RES_GPU_H};
    }
    return n;
}

int tui_sparkline(tui_buf *b, int x, int y, int w, const tui_series *s, double max, int attr)
{
    static const char *const utf[8] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
    static const char *const ascii[8] = {" ", ".", ":", "-", "=", "+", "*", "#"};
    if (w <= 0)
        return 0;
    int n = s->n < w ? s->n : w;
    x += w - n; /* the newest at the right edge, history scrolling left */
    for (int i = 0; i < n; i++) {
        double v = tui_series_at(s, s->n - n + i);
        if (!isfinite(v)) /* no reading then: a gap */
            continue;
        int level = max > 0 ? (int)lround(v / max * 7) : 0;
        level = level < 0 ? 0 : level > 7 ? 7 : level;
        tui_put(b, x + i, y, b->utf8 ? utf[level] : ascii[level], attr);
    }
    return n;
}

/* printf of a reading, or "--" when it is unknown. */
#define FMT(buf, v, ...) (isfinite(v) ? snprintf(buf, sizeof buf, __VA_ARGS__) : snprintf(buf, sizeof buf, "--"))

static const double GiB = 1024.0 * 1024.0 * 1024.0;

static void gpu_rank(const tui_res_gpu *g, char *out, size_t size)
{
    if (g->rank >= 0)
        snprintf(out, size, "rank %d (pid %ld)", g->rank, g->rank_pid);
    else if (g->rank == -2)
        snprintf(out, size, "the run's pid %ld", g->rank_pid);
    else
        snprintf(out, size, "%s", g->r.npids > 0 ? "other processes" : "not used by the run");
}

/* One line per GPU for the compact panel. */
static void gpu_line(const tui_res_gpu *g, int i, char *out, size_t size)
{
    char u[16], m[48], p[16], t[16], rk[24] = "";
    FMT(u, g->r.util_pct, "%.0f%%", g->r.util_pct);
    if (isfinite(g->r.mem_used) && isfinite(g->r.mem_total))
        snprintf(m, sizeof m, "%.1f/%.0fG", g->r.mem_used / GiB, g->r.mem_total / GiB);
    else
        snprintf(m, sizeof m, "--");
    FMT(p, g->r.power_w, "%.0fW", g->r.power_w);
    FMT(t, g->r.temp_c, "%.0fC", g->r.temp_c);
    if (g->rank >= 0)
        snprintf(rk, sizeof rk, " r%d", g->rank);
    snprintf(out, size, "GPU%d %s %s %s %s%s", i, u, m, p, t, rk);
}

static void host_line(const tui_res *res, char *out, size_t size)
{
    const tb_host_rates *h = &res->host;
    if (res->host_err[0])
        snprintf(out, size, "host: %.200s", res->host_err);
    else if (!res->have_rates)
        snprintf(out, size, "host: measuring...");
    else if (res->asked > 0)
        snprintf(out, size, "CPU %.0f%%/%d run %.1fc steal %.0f%%", h->cpu_pct, h->ncpu, h->run_cores, h->steal_pct);
    else
        snprintf(out, size, "CPU %.0f%% of %d cores, steal %.0f%%", h->cpu_pct, h->ncpu, h->steal_pct);
}

void tui_draw_res_panel(tui_buf *b, tui_rect r, const tui_res *res)
{
    tui_box(b, r, "Resources (5)", TUI_C_DIM);
    int x = r.x + 2, w = r.w - 4, y = r.y + 1, end = r.y + r.h - 1;
    if (!res || w < 4)
        return;
    char line[256];
    if (res->contended && y < end) { /* the short form; the Resources screen has the sentence */
        if (res->host.steal_pct > 5)
            snprintf(line, sizeof line, "contended: %.0f%% CPU stolen", res->host.steal_pct);
        else
            snprintf(line, sizeof line, "contended: others %.1f/%d cores", res->host.other_cores, res->host.ncpu);
        tui_text(b, x, y++, w, line, TUI_C_WARN | TUI_A_BOLD);
    }
    if (y < end) {
        host_line(res, line, sizeof line);
        tui_text(b, x, y++, w, line, 0);
    }
    if (res->nvml_msg[0] && y < end) {
        /* the first clause: "no NVIDIA GPU (NVML not found)" */
        const char *cut = strchr(res->nvml_msg, ':');
        tui_textf(b, x, y++, w, TUI_C_DIM, "%.*s", cut ? (int)(cut - res->nvml_msg) : 200, res->nvml_msg);
    }
    for (int i = 0; i < res->ngpu && y < end; i++) {
        gpu_line(&res->gpu[i], i, line, sizeof line);
        tui_text(b, x, y++, w, line, res->gpu[i].rank >= 0 ? TUI_A_BOLD : 0);
    }
}

/* "Label value" then the sparkline in the rest of the line. */
static void spark_row(tui_buf *b, int x, int y, int w, const char *label, const char *value, const tui_series *s,
                      double max, int attr)
{
    const int lw = 6, vw = 30;
    tui_text(b, x, y, lw, label, TUI_C_ACCENT);
    tui_text(b, x + lw, y, vw - 1 < w - lw ? vw - 1 : w - lw, value, 0);
    if (w > lw + vw + 4)
        tui_sparkline(b, x + lw + vw, y, w - lw - vw, s, max, attr);
}

static void draw_host(tui_buf *b, tui_rect r, const tui_res *res)
{
    const tb_host_rates *h = &res->host;
    char title[96], v[160];
    snprintf(title, sizeof title, "Host: %d cores, %.1f GiB", h->ncpu, h->mem_total / GiB);
    tui_box(b, r, res->have_rates ? title : "Host", TUI_C_DIM);
    int x = r.x + 2, w = r.w - 4, y = r.y + 1;
    if (res->host_err[0] || !res->have_rates) {
        tui_text_wrap(b, x, y, w, r.h - 2, res->host_err[0] ? res->host_err : "measuring (a reading a second)...",
                      res->host_err[0] ? TUI_C_ERR : TUI_C_DIM);
        return;
    }
    snprintf(v, sizeof v, "%5.1f%% (%.1f cores busy)", h->cpu_pct, h->busy_cores);
    spark_row(b, x, y++, w, "CPU", v, &res->cpu, 100, TUI_C_COMPUTE);
    if (res->asked > 0 && h->loader_threads > 0)
        snprintf(v, sizeof v, "%.1f cores, loaders %.1f (%.0f%%)", h->run_cores, h->loader_cores,
                 h->run_cores > 0 ? 100 * h->loader_cores / h->run_cores : 0);
    else if (res->asked > 0) /* no named loader thread: its share is unknown, not 0 */
        snprintf(v, sizeof v, "%.1f cores, loaders --", h->run_cores);
    else
        snprintf(v, sizeof v, "no run followed");
    spark_row(b, x, y++, w, "Run", v, &res->run, h->ncpu, TUI_C_OK);
    snprintf(v, sizeof v, "%.1f/%.1f GiB", h->mem_used / GiB, h->mem_total / GiB);
    spark_row(b, x, y++, w, "Mem", v, &res->mem, 100, TUI_C_LOAD);
    int n = tui_textf(b, x, y, w, 0, "steal %.1f%%   other processes %.1f cores", h->steal_pct, h->other_cores);
    if (res->asked > 0)
        tui_textf(b, x + n, y, w - n, 0, "   the run asked for %.0f", res->asked);
    y++;
    if (res->contended)
        tui_text(b, x, y, w, res->contention, TUI_C_WARN | TUI_A_BOLD);
    else
        tui_text(b, x, y, w, "not contended (steal <= 5%, the run has the cores it asked for)", TUI_C_OK);
}

static void draw_gpu(tui_buf *b, tui_rect r, const tui_res_gpu *g, int i)
{
    char title[320], v[160], p[64], rk[64];
    /* the first reading NVML could not give, and why, in the title */
    snprintf(title, sizeof title, "GPU %d: %s%s%.100s%s", i, g->r.name[0] ? g->r.name : "?", g->r.note[0] ? " (" : "",
             g->r.note, g->r.note[0] ? ")" : "");
    tui_box(b, r, title, g->rank >= 0 ? TUI_C_ACCENT : TUI_C_DIM);
    int x = r.x + 2, w = r.w - 4, y = r.y + 1;
    FMT(v, g->r.util_pct, "%.0f%%", g->r.util_pct);
    spark_row(b, x, y++, w, "Util", v, &g->util, 100, TUI_C_COMPUTE);
    if (isfinite(g->r.mem_used) && isfinite(g->r.mem_total) && g->r.mem_total > 0)
        snprintf(v, sizeof v, "%.1f/%.1f GiB (%.0f%%)", g->r.mem_used / GiB, g->r.mem_total / GiB,
                 100 * g->r.mem_used / g->r.mem_total);
    else
        snprintf(v, sizeof v, "--");
    spark_row(b, x, y++, w, "Mem", v, &g->mem, 100, TUI_C_LOAD);
    FMT(p, g->r.power_limit_w, " (%.0f%% of %.0f W)", 100 * g->r.power_w / g->r.power_limit_w, g->r.power_limit_w);
    if (isfinite(g->r.power_w))
        snprintf(v, sizeof v, "%.0f W%s", g->r.power_w, isfinite(g->r.power_limit_w) ? p : "");
    else
        snprintf(v, sizeof v, "--");
    spark_row(b, x, y++, w, "Power", v, &g->power, isfinite(g->r.power_limit_w) ? g->r.power_limit_w : 0, TUI_C_WARN);
    char t[16], sm[16], mm[16];
    FMT(t, g->r.temp_c, "%.0f C", g->r.temp_c);
    FMT(sm, g->r.sm_mhz, "%.0f", g->r.sm_mhz);
    FMT(mm, g->r.mem_mhz, "%.0f", g->r.mem_mhz);
    gpu_rank(g, rk, sizeof rk);
    int n = tui_textf(b, x, y, w, 0, "Temp %s  SM %s MHz  mem %s MHz  %s  ", t, sm, mm, g->r.bus_id);
    tui_text(b, x + n, y, w - n, rk, g->rank >= 0 ? TUI_C_OK | TUI_A_BOLD : TUI_C_DIM);
}

void tui_draw_res_screen(tui_buf *b, tui_rect body, const tui_res *res)
{
    if (!res) {
        tui_box(b, body, "Resources", TUI_C_DIM);
        return;
    }
    tui_rect host, gpus[TUI_RES_MAX_GPUS];
    int n = tui_res_layout(body, res->ngpu, &host, gpus, TUI_RES_MAX_GPUS);
    draw_host(b, host, res);
    for (int i = 0; i < n; i++)
        draw_gpu(b, gpus[i], &res->gpu[i], i);
    int y = host.y + host.h + (n ? 0 : 1);
    if (res->nvml_msg[0])
        tui_text_wrap(b, body.x + 2, y, body.w - 4, 3, res->nvml_msg, TUI_C_WARN);
    else if (n < res->ngpu)
        tui_textf(b, body.x + 2, body.y + body.h - 1, body.w - 4, TUI_C_DIM,
                  "%d more GPU%s: a taller or wider terminal shows them", res->ngpu - n, res->ngpu - n == 1 ? "" : "s");
}
