/* Frame, presets, parameters, results, table, export and help screens. */
#include "tui/screens.h"
#include "rundir/rundir.h" // uses: TB_STATUS_COMPLETED, TB_STATUS_RUNNING, TB_STATUS_STARTING, TB_STATUS_PENDING, ...
#include "tui/jobs.h" // uses: tui_draw_jobs
#include "tui/resources.h" // uses: tui_draw_res_screen
#include "tui/screens_run.h" // uses: tui_draw_run, tui_draw_compare
#include "tui/wrap.h" // uses: tui_wrap, tui_draw_wrapped

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tui_fmt_duration(double s, char *out, size_t size)
{
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(out, size, "--");
        return;
    }
    long t = lround(s);
    if (t >= 3600)
        snprintf(out, size, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(out, size, "%ld:%02ld", t / 60, t % 60);
}

int tui_status_attr(const char *s)
{
    if (!strcmp(s, TB_STATUS_COMPLETED))
        return TUI_C_OK;
    if (!strcmp(s, TB_STATUS_RUNNING) || !strcmp(s, TB_STATUS_STARTING) || !strcmp(s, TB_STATUS_PENDING))
        return TUI_C_WARN;
    if (!strcmp(s, TB_STATUS_FAILED) || !strcmp(s, TB_STATUS_REFUSED) || !strcmp(s, TB_STATUS_INTERRUPTED) ||
        !strcmp(s, TB_STATUS_STALE))
        return TUI_C_ERR;
    return TUI_C_NORMAL;
}

static void draw_header(const tui_app *a, tui_buf *b, tui_rect r)
{
    tui_fill(b, r, " ", TUI_C_TITLE);
    int x = r.x + tui_text(b, r.x, r.y, r.w, " trainbench ", TUI_C_TITLE | TUI_A_BOLD);
    int cur = a->screen == SCR_TABLE || a->screen == SCR_EXPORT || a->screen == SCR_RUN || a->screen == SCR_COMPARE
                  ? SCR_RESULTS
              : a->screen == SCR_RESOURCES                      ? 4
              : a->screen == SCR_JOBS                           ? 5
                                                                : (int)a->screen;
    for (int i = 0; i < TUI_TABS; i++) {
        int attr = i == cur ? (TUI_C_TITLE | TUI_A_REVERSE | TUI_A_BOLD) : TUI_C_TITLE;
        x += tui_textf(b, x, r.y, r.x + r.w - x, attr, " %d %s ", i + 1, tui_tab_names[i]); /* tui_tab_at: clicks */
        x++;
    }
    if (a->live.active) {
        char right[160];
        snprintf(right, sizeof right, "%s %s %d/%d ", a->live.status, a->live.preset, a->live.completed,
                 a->live.total);
        int w = tui_strwidth(right);
        if (x + w < r.x + r.w)
            tui_text(b, r.x + r.w - w, r.y, w, right, TUI_C_TITLE | TUI_A_BOLD);
    }
}

static const char *hints(const tui_app *a)
{
    if (a->confirm_quit)
        return "A run is in progress: l leave it running, quit  c cancel it, quit  Esc stay";
    if (a->confirm_cancel)
        return "Cancel the running sweep? y: yes, it stops at the next batch  other keys: no";
    switch (a->screen) {
    case SCR_PRESETS:
        return "Enter parameters  / search  f presets folder  r rescan  ? help  q quit";
    case SCR_PARAMS:
        return a->editing ? "type the value  Ctrl-U clear  Enter accept  Esc discard"
                          : "Enter edit  Left/Right choices  a sweep  s scale  l launch  w save  / search";
    case SCR_LIVE:
        return "c cancel  PgUp/PgDn log  Home/End  / search  4 results  5 resources  ? help";
    case SCR_RESULTS:
        return "Enter open  / filter  Space mark  c compare  m two tables  r refresh  ? help";
    case SCR_TABLE:
        return "Up/Down rows  Enter run  Left/Right columns  PgUp/PgDn notes  e export  Esc";
    case SCR_RUN:
        return "Up/Down options  PgUp/PgDn log  Left/Right configurations  Esc back  ? help";
    case SCR_COMPARE:
        return "Left/Right columns  Esc results  ? help  q quit";
    case SCR_EXPORT:
        return "Up/Down PgUp/PgDn scroll  Esc back to the table  ? help";
    case SCR_RESOURCES:
        return "a reading a second, 2 minutes of history  Esc live run  ? help  q quit";
    case SCR_JOBS:
        return a->jobs && a->jobs->confirm[0] ? "y: scancel the job  other keys: no"
                                              : "Enter follow a running job  x/Del cancel  r ask now  Esc live  ? help";
    default:
        return "Esc back  q quit";
    }
}

static const char *prompt_label(tui_prompt p)
{
    return p == TUI_PROMPT_SAVE           ? "Save as preset (name): "
           : p == TUI_PROMPT_PRESETS_DIR ? "Your presets folder: "
           : p == TUI_PROMPT_SEARCH      ? "/"
                                         : "Export Markdown to: ";
}

/* The status line: a prompt being typed, a message, or the key hints. */
static void draw_status(const tui_app *a, tui_buf *b, tui_rect r)
{
    tui_fill(b, r, " ", TUI_C_STATUS);
    if (a->prompt) {
        int x = 1 + tui_text(b, 1, r.y, r.w - 2, prompt_label(a->prompt), TUI_C_STATUS | TUI_A_BOLD);
        int room = r.w - 2 - x - 22;
        /* A long value shows its end, where the typing happens. */
        const char *t = a->prompt_text;
        while (room > 0 && tui_strwidth(t) > room)
            t++;
        x += tui_text(b, x, r.y, room > 0 ? room : 0, t, TUI_C_STATUS);
        tui_put(b, x, r.y, "_", TUI_C_STATUS | TUI_A_BOLD);
        tui_text(b, r.w - 22, r.y, 21, a->prompt == TUI_PROMPT_SEARCH ? "Up/Down next  Enter" : "Enter accept  Esc no",
                 TUI_C_STATUS);
    } else if (a->msg[0] && !a->confirm_quit && !a->confirm_cancel)
        tui_text(b, 1, r.y, r.w - 2, a->msg, (a->msg_err ? TUI_C_ERR : TUI_C_STATUS) | TUI_A_BOLD);
    else
        tui_text(b, 1, r.y, r.w - 2, hints(a), TUI_C_STATUS | (a->confirm_quit || a->confirm_cancel ? TUI_A_BOLD : 0));
}

void tui_draw(const tui_app *a, tui_buf *b)
{
    tui_buf_clear(b);
    tui_layout l = tui_layout_compute(b->w, b->h);
    if (l.too_small) {
        char m[128];
        snprintf(m, sizeof m, "Terminal too small: %dx%d", b->w, b->h);
        int y = b->h / 2 - 1;
        tui_text(b, (b->w - tui_strwidth(m)) / 2, y, b->w, m, TUI_C_ERR | TUI_A_BOLD);
        snprintf(m, sizeof m, "need at least %dx%d (q quits)", TUI_MIN_COLS, TUI_MIN_ROWS);
        tui_text(b, (b->w - tui_strwidth(m)) / 2, y + 1, b->w, m, TUI_C_DIM);
        return;
    }
    draw_header(a, b, l.header);
    switch (a->screen) {
    case SCR_PRESETS:
        tui_draw_presets(a, b, &l);
        break;
    case SCR_PARAMS:
        tui_draw_params(a, b, &l);
        break;
    case SCR_LIVE:
        tui_draw_live(a, b, &l);
        break;
    case SCR_RESULTS:
        tui_draw_results(a, b, &l);
        break;
    case SCR_TABLE:
        tui_draw_table(a, b, &l);
        break;
    case SCR_EXPORT:
        tui_draw_export(a, b, &l);
        break;
    case SCR_RESOURCES:
        tui_draw_res_screen(b, l.body, a->res);
        break;
    case SCR_JOBS:
        if (a->jobs)
            tui_draw_jobs(b, l.body, a->jobs);
        break;
    case SCR_RUN:
        tui_draw_run(a, b, &l);
        break;
    case SCR_COMPARE:
        tui_draw_compare(a, b, &l);
        break;
    default:
        tui_draw_help(a, b, &l);
        break;
    }
    draw_status(a, b, l.status);
}

/* ---- presets ---- */

void tui_draw_presets(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect L = l->list, D = l->detail;
    tui_box(b, L, "Presets", TUI_C_DIM);
    /* Grouped by lab: a heading line whenever the lab changes. */
    int lines = L.h - 2, sel_line = tui_preset_line(a, a->psel); /* clicks count lines the same way */
    int first = sel_line >= lines ? sel_line - lines + 1 : 0, line = 0;
    for (int i = 0; i < a->npresets; i++) {
        const tui_preset_item *p = &a->presets[i];
        if (!i || strcmp(p->lab, a->presets[i - 1].lab)) {
            if (line >= first && line - first < lines)
                tui_textf(b, L.x + 2, L.y + 1 + line - first, L.w - 4, TUI_C_ACCENT | TUI_A_BOLD, "%s", p->lab);
            line++;
        }
        if (line >= first && line - first < lines) {
            int y = L.y + 1 + line - first, attr = i == a->psel ? TUI_A_REVERSE : 0;
            if (i == a->psel)
                tui_fill(b, (tui_rect){L.x + 1, y, L.w - 2, 1}, " ", attr);
            tui_textf(b, L.x + 4, y, L.w - 6, attr | (p->error[0] ? TUI_C_ERR : 0), "%s%s", p->name,
                      p->user ? " (yours)" : "");
        }
        line++;
    }
    tui_box(b, D, "Preset", TUI_C_DIM);
    tui_textf(b, D.x + 2, D.y + D.h - 2, D.w - 4, TUI_C_DIM, "Your presets: %s  (f changes it)",
              a->user_presets_dir[0] ? a->user_presets_dir : "none");
    if (a->psel >= a->npresets) {
        tui_text(b, D.x + 2, D.y + 2, D.w - 4, "No presets found.", TUI_C_ERR);
        return;
    }
    const tui_preset_item *p = &a->presets[a->psel];
    int x = D.x + 2, w = D.w - 4, y = D.y + 1;
    y += tui_text_wrap(b, x, y, w, 2, p->title[0] ? p->title : p->name, TUI_A_BOLD);
    y++;
    if (p->error[0]) {
        tui_text_wrap(b, x, y, w, D.h - 4, p->error, TUI_C_ERR);
        return;
    }
    tui_text(b, x, y, 10, "Question", TUI_C_ACCENT);
    y += tui_text_wrap(b, x + 10, y, w - 10, 3, p->question, 0);
    tui_text(b, x, y, 10, "Lab", TUI_C_ACCENT);
    tui_text(b, x + 10, y++, w - 10, p->lab, 0);
    tui_text(b, x, y, 10, "File", TUI_C_ACCENT);
    tui_text(b, x + 10, y++, w - 10, p->path, TUI_C_DIM);
    y++;
    char e1[32], e2[32], txt[160];
    tui_fmt_duration(p->est_full_s > 0 ? p->est_full_s : NAN, e1, sizeof e1);
    tui_fmt_duration(p->est_smoke_s > 0 ? p->est_smoke_s : NAN, e2, sizeof e2);
    tui_text(b, x, y, 10, "Runs", TUI_C_ACCENT);
    snprintf(txt, sizeof txt, "full scale: %d configuration%s of %d epoch%s; smoke: %d of %d epoch%s",
             p->configs_full, p->configs_full == 1 ? "" : "s", p->epochs, p->epochs == 1 ? "" : "s",
             p->configs_smoke, p->epochs_smoke, p->epochs_smoke == 1 ? "" : "s");
    y += tui_text_wrap(b, x + 10, y, w - 10, 2, txt, 0);
    tui_text(b, x, y, 10, "Estimate", TUI_C_ACCENT);
    snprintf(txt, sizeof txt, "full %s, smoke %s%s", p->est_full_s > 0 ? e1 : "unknown",
             p->est_smoke_s > 0 ? e2 : "unknown",
             p->est_full_s > 0 || p->est_smoke_s > 0 ? " (from earlier sweeps in the runs folder)"
                                                     : " (no earlier sweep in the runs folder)");
    tui_text_wrap(b, x + 10, y, w - 10, 2, txt, 0);
}

/* ---- parameters ---- */

static void allowed(const tui_param *p, char *out, size_t size)
{
    if (p->scale) {
        snprintf(out, size, "smoke | full");
        return;
    }
    const tb_option *o = p->opt;
    if (!o) {
        snprintf(out, size, "%s", "");
        return;
    }
    const char *pre = p->axis ? "list of " : "";
    switch (o->type) {
    case TB_OPT_CHOICE:
        snprintf(out, size, "%s%s", pre, o->choices);
        break;
    case TB_OPT_INT:
    case TB_OPT_U64:
        if (o->max > o->min)
            snprintf(out, size, "%sinteger %g..%g", pre, o->min, o->max);
        else /* no upper bound (a seed) */
            snprintf(out, size, "%sinteger >= %g", pre, o->min);
        break;
    case TB_OPT_FLOAT:
        snprintf(out, size, "%snumber %g..%g", pre, o->min, o->max);
        break;
    case TB_OPT_FLAG:
        snprintf(out, size, "%strue | false", pre);
        break;
    default:
        snprintf(out, size, "%s%s", pre, o->metavar ? o->metavar : "text");
        break;
    }
}

void tui_draw_params(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    tui_rect r = l->body;
    char title[200];
    snprintf(title, sizeof title, "Parameters: %s", a->base ? a->base->name : "(choose a preset)");
    tui_box(b, r, title, TUI_C_DIM);
    if (!a->base)
        return;
    int x = r.x + 2, y = r.y + 1, kw = 18, vw = (r.w - 4 - kw) / 2; /* kw: checkpoint_every and its ~ */
    tui_text(b, x, y, kw, "option", TUI_C_ACCENT | TUI_A_UNDERLINE);
    tui_text(b, x + kw, y, vw, "value", TUI_C_ACCENT | TUI_A_UNDERLINE);
    tui_text(b, x + kw + vw + 1, y, r.w - 4 - kw - vw - 1, "allowed", TUI_C_ACCENT | TUI_A_UNDERLINE);
    y++;
    /* More options than rows: the list scrolls with the selection. */
    int nrows = tui_list_rows(l, 1), first = tui_list_first(a->parsel, nrows);
    if (first > 0)
        tui_put(b, r.x + r.w - 2, y, b->utf8 ? "\u25b2" : "^", TUI_C_DIM);
    if (first + nrows < a->nparams)
        tui_put(b, r.x + r.w - 2, y + nrows - 1, b->utf8 ? "\u25bc" : "v", TUI_C_DIM);
    for (int i = first; i < a->nparams && i - first < nrows; i++, y++) {
        const tui_param *p = &a->params[i];
        int sel = i == a->parsel, attr = sel ? TUI_A_REVERSE : 0;
        if (sel)
            tui_fill(b, (tui_rect){r.x + 1, y, r.w - 2, 1}, " ", attr);
        if (p->axis) /* each axis is part of the sweep: a marker in the margin */
            tui_put(b, r.x + 1, y, "*", TUI_C_ACCENT | (sel ? TUI_A_REVERSE : 0));
        tui_textf(b, x, y, kw - 1, attr | (p->axis ? TUI_C_ACCENT : 0), "%s%s", p->key, p->edited ? " ~" : "");
        if (sel && a->editing) {
            int n = tui_text(b, x + kw, y, vw - 1, a->edit, attr | TUI_A_BOLD | (a->edit_err[0] ? TUI_C_ERR : TUI_C_OK));
            tui_put(b, x + kw + n, y, "_", attr | TUI_A_BOLD);
        } else {
            int n = tui_text(b, x + kw, y, vw - 1, p->value, attr | (p->edited ? TUI_A_BOLD : 0));
            if (p->runs_as[0] && n + 4 < vw - 1) /* what smoke scale makes of it */
                tui_textf(b, x + kw + n + 1, y, vw - 2 - n, attr | TUI_C_WARN, "(runs: %s)", p->runs_as);
        }
        char al[256];
        allowed(p, al, sizeof al);
        tui_text(b, x + kw + vw + 1, y, r.w - 4 - kw - vw - 1, al, attr | TUI_C_DIM);
    }
    int by = r.y + r.h - 4;
    tui_textf(b, x, by, r.w - 4, TUI_A_BOLD, "Sweep size: %s", a->sweep_size >= 0 ? "" : "invalid");
    if (a->sweep_size >= 0) {
        int n = tui_textf(b, x + 12, by, r.w - 16, TUI_C_OK | TUI_A_BOLD, "%d configuration%s at %s scale",
                          a->sweep_size, a->sweep_size == 1 ? "" : "s", a->smoke ? "smoke" : "full");
        /* The edited sweep's time: earlier sweeps' time per configuration. */
        const tui_preset_item *it = a->psel >= 0 && a->psel < a->npresets ? &a->presets[a->psel] : NULL;
        double est = !it ? 0 : a->smoke ? it->est_smoke_s : it->est_full_s;
        int cfgs = !it ? 0 : a->smoke ? it->configs_smoke : it->configs_full;
        char d[32];
        tui_fmt_duration(cfgs > 0 ? est / cfgs * a->sweep_size : NAN, d, sizeof d);
        tui_textf(b, x + 13 + n, by, r.w - 17 - n, TUI_C_DIM, est > 0 && cfgs > 0 ? "about %s (earlier sweeps)" : "%s",
                  est > 0 && cfgs > 0 ? d : "time unknown (no earlier sweep of this preset)");
    }
    tui_text(b, x, by + 1, r.w - 4, "* sweep axes: a comma list, one configuration per value (product or zip); a: sweep an option",
             TUI_C_DIM);
    if (a->precheck[0]) { /* why l did not launch (tui/precheck.h), whole, over the list's last rows */
        int nl = tui_wrap(a->precheck, r.w - 8, NULL, 0), h = nl + 2 > (r.h - 4) / 2 ? (r.h - 4) / 2 : nl + 2;
        tui_rect pr = {r.x + 2, by - h, r.w - 4, h};
        tui_fill(b, pr, " ", 0);
        tui_box(b, pr, "Not launched: fix these, then l", TUI_C_ERR);
        tui_draw_wrapped(b, (tui_rect){pr.x + 2, pr.y + 1, pr.w - 4, h - 2}, a->precheck, 0, TUI_C_ERR);
    }
    if (a->edit_err[0])
        tui_text(b, x, by + 2, r.w - 4, a->edit_err, TUI_C_ERR);
    else if (a->parsel >= 0 && a->parsel < a->nparams) { /* the whole allowed list, which the column cuts */
        char al[256];
        allowed(&a->params[a->parsel], al, sizeof al);
        tui_textf(b, x, by + 2, r.w - 4, a->editing ? TUI_C_OK : TUI_C_DIM, "%s%s: %s", a->editing ? "ok  " : "",
                  a->params[a->parsel].key, al);
    }
}

void tui_draw_help(const tui_app *a, tui_buf *b, const tui_layout *l)
{
    (void)a;
    /* 20 lines of at most 76 cells: all of it fits at 80x24. */
    static const char *const lines[] = {
        "Everywhere",
        "  1-6  Presets, Parameters, Live, Results, Resources, Jobs   ? F1  this help",
        "  q Ctrl-C quit (asks whether to leave a running sweep going)   Esc back",
        "  / search (Results: filter)  g/G Home/End first/last  click tabs and rows",
        "  prompts: type; Backspace, Ctrl-U clears, Enter accepts, Esc cancels",
        "Presets",
        "  Up/Down k/j choose   Enter parameters   f your presets folder   r rescan",
        "Parameters",
        "  Enter edit (checked as typed; Ctrl-U clears)  Left/Right cycle choices",
        "  a sweep this option (again: plain)  s smoke/full  l F5 launch  Esc presets",
        "  w save as a new preset in your presets folder (asks for the name)",
        "Live run",
        "  c cancel (y confirms): stops at the next batch, finished epochs kept",
        "  PgUp/PgDn scroll the log (Up/Down a line, Home oldest, End follows)",
        "Results",
        "  Enter opens a run, a sweep's table (Enter: a configuration)  / filter",
        "  m mark one, then Enter on another: both side by side (m unmarks)",
        "  Space mark, c compare the marked   e (table) export Markdown, previewed",
        "  Up/Down rows, scroll   Left/Right columns   PgUp/PgDn notes, log   Esc",
        "A run goes on when you quit leaving it; start trainbench again to re-attach.",
    };
    tui_rect r = l->body;
    tui_box(b, r, "Help", TUI_C_DIM);
    for (size_t i = 0; i < sizeof lines / sizeof *lines && (int)i < r.h - 2; i++)
        tui_text(b, r.x + 2, r.y + 1 + (int)i, r.w - 4, lines[i],
                 lines[i][0] && lines[i][0] != ' ' ? TUI_C_ACCENT | TUI_A_BOLD : 0);
}
