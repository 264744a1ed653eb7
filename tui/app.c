/* The workbench's event loop: keys, launching and cancelling the engine in
 * its own process group, following the run directory, re-attaching. */
#include "tui/tui.h" // uses: tb_cli_tui

#include "core/error.h" // uses: tb_last_error, tb_fail
#include "core/fsutil.h" // uses: tb_open_regular
#include "rundir/lock.h" // uses: tb_lock_signal
#include "rundir/rundir.h" // uses: tb_rundir_default_path
#include "tui/app_side.h" // uses: tui_app_jobs_key, tui_app_click, tui_app_sample_resources
#include "tui/config.h" // uses: tui_mkdir_p, tui_config_save, tui_config_dir, tui_config_load
#include "tui/failure.h" // uses: tui_live_read_errors
#include "tui/jobs.h" // uses: tui_jobs_cancel_confirmed, tui_jobs, tui_jobs_init, tui_jobs_tick, tui_jobs_free
#include "tui/layout.h" // uses: tui_layout_compute
#include "tui/precheck.h" // uses: tui_machine, tui_machine_probe, tui_launch_check
#include "tui/resources.h" // uses: tui_res, tui_res_free
#include "tui/runview.h" // uses: struct tui_run_view (its fields)
#include "tui/screens.h" // uses: tui_draw
#include "tui/term.h" // uses: tui_term_click, tui_term_start, tui_term_stop, tui_term_interrupted, tui_term_lost, ...

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <curses.h>
#include <unistd.h>

/* Reads the runs folder and/or the presets again; a failure (out of
 * memory) is said on the status line, the old lists stay usable. */
static void rescan(tui_app *a, int results, int presets)
{
    if ((results && tui_results_scan(a)) || (presets && tui_presets_scan(a)))
        tui_say(a, 1, "cannot read the folders: %s", tb_last_error());
}

/* `trainbench run PRESET --scale S --sweep-dir DIR --set ...` as a child in
 * its own session, so the terminal's signals and our exit leave it alone. */
static int launch(tui_app *a)
{
    if (tui_live_running(&a->live))
        return tb_fail("a sweep is already running; cancel it (c on the Live screen) first");
    if (!a->base || a->sweep_size < 0)
        return tb_fail("the parameters are not valid yet");
    /* What can be checked here is said here, not by a sweep failing. */
    tui_machine m;
    tui_machine_probe(&m);
    int problems = tui_launch_check(a, &m, a->precheck, sizeof a->precheck);
    if (problems < 0)
        return -1;
    if (problems)
        return tb_fail("not launched: %d problem%s, shown above the status line; fix and press l again", problems,
                       problems == 1 ? "" : "s");
    char dir[PATH_MAX];
    if (tui_mkdir_p(a->runs_dir) || tb_rundir_default_path(a->runs_dir, a->base->name, dir, sizeof dir))
        return -1;
    if (mkdir(dir, 0755) && errno != EEXIST)
        return tb_fail("cannot create %s: %s", dir, strerror(errno));
    char logpath[PATH_MAX + 16];
    snprintf(logpath, sizeof logpath, "%s/tui.log", dir);
    char sets[TUI_MAX_PARAMS][320];
    int nsets = tui_param_sets(a, sets, TUI_MAX_PARAMS);
    /* Axes added or removed cannot be said with --set: the sweep runs a
     * copy of the preset as it now is, kept in its folder. */
    char copy[PATH_MAX + 80];
    const char *preset = a->base->path; /* the preset the parameters were loaded from */
    if (a->reshaped) {
        snprintf(copy, sizeof copy, "%s/%.64s.ini", dir, a->base->name);
        if (tui_preset_save(a, copy))
            return -1;
        preset = copy;
        /* The edits are in the copy too; they are still passed as --set (the
         * same values, so nothing changes) so that the sweep records them as
         * its overrides in summary.md and every export. */
    }
    char *argv[16 + 2 * TUI_MAX_PARAMS];
    int k = 0;
    argv[k++] = a->exe;
    argv[k++] = (char *)"run";
    argv[k++] = (char *)preset;
    argv[k++] = (char *)"--scale";
    argv[k++] = (char *)(a->smoke ? "smoke" : "full");
    argv[k++] = (char *)"--sweep-dir";
    argv[k++] = dir;
    for (int i = 0; i < nsets; i++) {
        argv[k++] = (char *)"--set";
        argv[k++] = sets[i];
    }
    argv[k] = NULL;
    int fd = tb_open_regular(logpath, O_WRONLY | O_CREAT | O_APPEND); /* no link, FIFO or device */
    if (fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        return tb_fail("fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setsid();
        int in = open("/dev/null", O_RDONLY);
        if (in >= 0)
            dup2(in, STDIN_FILENO);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        execv(a->exe, argv);
        dprintf(fd, "trainbench tui: cannot run %s: %s\n", a->exe, strerror(errno));
        _exit(127);
    }
    close(fd);
    tui_live_attach(&a->live, dir, pid, 1);
    a->screen = SCR_LIVE;
    tui_say(a, 0, "launched: %s", dir);
    return 0;
}

/* Cancel: SIGINT to the sweep's process group stops the training child at
 * the next batch; the sweep then records it as interrupted.  Only a process
 * that is provably the sweep is signalled: our own child before it is
 * reaped (its pid cannot be reused until then), or the holder of the sweep
 * directory's lock whose pid, start time and program check out
 * (tb_lock_signal); never a pid from summary.json, never one below 2. */
static void cancel(tui_app *a)
{
    pid_t pid = a->live.pid;
    if (!tui_live_running(&a->live) || (a->live.ours && pid < 2)) {
        tui_say(a, 1, "%s", "nothing is running");
        return;
    }
    int rc;
    if (a->live.ours) {
        rc = getpgid(pid) == pid ? kill(-pid, SIGINT) : kill(pid, SIGINT);
        if (rc)
            tui_say(a, 1, "cannot stop the run: %s", strerror(errno));
    } else if ((rc = tb_lock_signal(a->live.sweep_dir, SIGINT, 1)))
        tui_say(a, 1, "cannot stop the run: %s", tb_last_error());
    if (!rc) {
        a->cancelled = 1;
        tui_say(a, 0, "%s", "cancelling: the run stops at the next batch");
    }
}

static void reap(tui_app *a)
{
    if (!a->live.ours || a->live.child_done)
        return;
    int st;
    pid_t w = waitpid(a->live.pid, &st, WNOHANG);
    if (w == a->live.pid) {
        a->live.child_done = 1;
        tui_live_poll(&a->live);
        tui_live_read_errors(&a->live);
        rescan(a, 1, 1);
        tui_say(a, 0, "the sweep ended: %s (4: results)", a->live.status);
    }
}

static void edit_key(tui_app *a, int k)
{
    size_t n = strlen(a->edit);
    if (k == 27) {
        a->editing = 0;
        tui_params_refresh(a); /* the size and reason of the values kept */
        return;
    }
    if (k == '\n' || k == '\r' || k == KEY_ENTER) {
        if (a->edit_err[0])
            return; /* not accepted: the reason is on screen */
        a->editing = 0;
        tui_param_accept(a, a->parsel, a->edit);
        return;
    }
    if ((k == KEY_BACKSPACE || k == 127 || k == 8) && n)
        a->edit[n - 1] = '\0';
    else if (k == 21) /* Ctrl-U: clear the value, as in the prompts */
        a->edit[0] = '\0';
    else if (k >= 32 && k < 127 && n + 1 < sizeof a->edit) {
        a->edit[n] = (char)k;
        a->edit[n + 1] = '\0';
    } else
        return;
    /* -1 while invalid: never the size of an earlier text */
    a->sweep_size = tui_param_check(a, a->parsel, a->edit, a->edit_err, sizeof a->edit_err);
}

static void open_prompt(tui_app *a, tui_prompt kind, const char *initial)
{
    a->prompt = kind;
    snprintf(a->prompt_text, sizeof a->prompt_text, "%.1000s", initial);
}

/* Save as a new preset NAME in the user's folder, then select it. */
static void save_preset(tui_app *a, const char *name)
{
    char path[PATH_MAX];
    if (tui_preset_name_check(name) || tui_mkdir_p(a->user_presets_dir)) {
        tui_say(a, 1, "%s", tb_last_error());
        return;
    }
    snprintf(path, sizeof path, "%.3900s/%.60s.ini", a->user_presets_dir, name);
    if (tui_preset_save(a, path)) {
        tui_say(a, 1, "%s", tb_last_error());
        return;
    }
    rescan(a, 0, 1);
    for (int i = 0; i < a->npresets; i++)
        if (!strcmp(a->presets[i].path, path))
            a->psel = i;
    tui_say(a, 0, "saved %s (it is in the Presets screen)", path);
}

static void set_presets_dir(tui_app *a, const char *dir)
{
    if (!*dir || strlen(dir) >= sizeof a->user_presets_dir) {
        tui_say(a, 1, "%s", *dir ? "that folder name is too long" : "no folder given");
        return;
    }
    memcpy(a->user_presets_dir, dir, strlen(dir) + 1);
    a->psel = 0;
    rescan(a, 0, 1);
    if (a->config_path[0] && tui_config_save(a->config_path, dir))
        tui_say(a, 1, "%s", tb_last_error());
    else
        tui_say(a, 0, a->config_path[0] ? "your presets folder is now %s (remembered)" : "your presets folder is now %s",
            dir);
}

static void export_to(tui_app *a, const char *path)
{
    if (tui_results_export(a, path))
        tui_say(a, 1, "%s", tb_last_error());
    else {
        a->screen = SCR_EXPORT;
        tui_say(a, 0, "exported %s", path);
    }
}

/* "~/x" as the shell would read it; anything else unchanged. */
static void expand_home(const char *in, char *out, size_t size)
{
    const char *home = getenv("HOME");
    if (in[0] == '~' && (in[1] == '/' || !in[1]) && home && *home)
        snprintf(out, size, "%.2000s%.2000s", home, in + 1);
    else
        snprintf(out, size, "%.4000s", in);
}

/* `/` as it is typed: Results shows only the entries that match (the
 * filter); the other lists move their selection to the first match. */
static void search_apply(tui_app *a, int from)
{
    const char *t = a->prompt_text;
    if (a->screen == SCR_RESULTS) {
        snprintf(a->filter, sizeof a->filter, "%.127s", t);
        a->rsel = 0;
        rescan(a, 1, 0);
        return;
    }
    int i = tui_search_find(a, t, from);
    if (i < 0)
        return;
    if (a->screen == SCR_PRESETS)
        a->psel = i;
    else if (a->screen == SCR_PARAMS)
        a->parsel = i;
    else if (a->screen == SCR_LIVE) /* the matching line at the log's bottom */
        a->live.log_scroll = a->live.nlog - 1 - i;
}

static void prompt_key(tui_app *a, int k)
{
    size_t n = strlen(a->prompt_text);
    if (k == 27) {
        if (a->prompt == TUI_PROMPT_SEARCH && a->screen == SCR_RESULTS) {
            a->prompt_text[0] = '\0'; /* Esc drops the filter */
            search_apply(a, 0);
        }
        a->prompt = TUI_PROMPT_NONE;
        return;
    }
    if (k == '\n' || k == '\r' || k == KEY_ENTER) {
        tui_prompt kind = a->prompt;
        a->prompt = TUI_PROMPT_NONE;
        char path[PATH_MAX];
        expand_home(a->prompt_text, path, sizeof path);
        if (kind == TUI_PROMPT_SAVE)
            save_preset(a, a->prompt_text);
        else if (kind == TUI_PROMPT_PRESETS_DIR)
            set_presets_dir(a, path);
        else if (kind == TUI_PROMPT_EXPORT)
            export_to(a, path);
        return;
    }
    if (a->prompt == TUI_PROMPT_SEARCH && (k == KEY_DOWN || k == KEY_UP)) { /* the next or previous match */
        int cur = a->screen == SCR_PRESETS ? a->psel : a->screen == SCR_PARAMS ? a->parsel : 0;
        if (a->screen == SCR_PRESETS || a->screen == SCR_PARAMS) {
            int n_items = a->screen == SCR_PRESETS ? a->npresets : a->nparams;
            for (int step = 1; step < n_items; step++) {
                int i = ((cur + (k == KEY_DOWN ? step : -step)) % n_items + n_items) % n_items;
                if (tui_search_find(a, a->prompt_text, i) == i) {
                    search_apply(a, i);
                    break;
                }
            }
        }
        return;
    }
    if ((k == KEY_BACKSPACE || k == 127 || k == 8) && n) {
        /* A whole UTF-8 character: its continuation bytes, then the lead. */
        while (n > 1 && ((unsigned char)a->prompt_text[n - 1] & 0xC0) == 0x80)
            n--;
        a->prompt_text[n - 1] = '\0';
    } else if (k == 21) /* Ctrl-U: clear the line */
        a->prompt_text[0] = '\0';
    else if (k >= 32 && k < 256 && k != 127 && n + 1 < sizeof a->prompt_text) {
        a->prompt_text[n] = (char)k; /* bytes of UTF-8 arrive one by one */
        a->prompt_text[n + 1] = '\0';
    }
    if (a->prompt == TUI_PROMPT_SEARCH)
        search_apply(a, 0);
}

/* The default export file: RUNS/<entry>.md, or RUNS/<older>-vs-<newer>.md. */
static void export_default(const tui_app *a, char *out, size_t size)
{
    const char *dirs[2];
    int n = tui_results_chosen(a, dirs);
    const char *b0 = n > 0 ? strrchr(dirs[0], '/') : NULL, *b1 = n > 1 ? strrchr(dirs[1], '/') : NULL;
    b0 = b0 ? b0 + 1 : n > 0 ? dirs[0] : "table";
    if (n > 1)
        snprintf(out, size, "%.1000s/%.200s-vs-%.200s.md", a->runs_dir, b0, b1 ? b1 + 1 : dirs[1]);
    else
        snprintf(out, size, "%.1000s/%.255s.md", a->runs_dir, b0);
}


static void handle_key(tui_app *a, int k)
{
    a->msg[0] = '\0';
    if (a->confirm_quit) {
        if (k == 'l' || k == 'L' || k == 3) /* a second Ctrl-C: leave it running */
            a->quit = 1;
        else if (k == 'c' || k == 'C') {
            cancel(a);
            a->quit = 1;
        } else
            a->confirm_quit = 0;
        return;
    }
    if (a->confirm_cancel) { /* destructive: only y goes on */
        a->confirm_cancel = 0;
        if (k == 'y' || k == 'Y')
            cancel(a);
        else
            tui_say(a, 0, "%s", "not cancelled: the run goes on");
        return;
    }
    if (a->jobs && a->jobs->confirm[0]) { /* "cancel job N? y/n": only y cancels */
        char id[sizeof a->jobs->confirm];
        snprintf(id, sizeof id, "%s", a->jobs->confirm);
        if (k == 'y' || k == 'Y') {
            if (tui_jobs_cancel_confirmed(a->jobs))
                tui_say(a, 1, "%s", tb_last_error());
            else
                tui_say(a, 0, "scancel %s: asked Slurm to cancel it", id);
        } else {
            a->jobs->confirm[0] = '\0';
            tui_say(a, 0, "job %s not cancelled", id);
        }
        return;
    }
    if (k == 3) { /* Ctrl-C anywhere: quit, asking first while a sweep runs */
        a->prompt = TUI_PROMPT_NONE;
        a->editing = 0;
    }
    if (a->prompt && k != 3) {
        prompt_key(a, k);
        return;
    }
    if (a->screen == SCR_PARAMS && a->editing && k != 3) {
        edit_key(a, k);
        return;
    }
    if (k == '/' && (a->screen == SCR_PRESETS || a->screen == SCR_PARAMS || a->screen == SCR_RESULTS ||
                     a->screen == SCR_LIVE)) {
        open_prompt(a, TUI_PROMPT_SEARCH, a->screen == SCR_RESULTS ? a->filter : "");
        return;
    }
    if (k == '?' || k == KEY_F(1)) {
        if (a->screen != SCR_HELP)
            a->back = a->screen;
        a->screen = SCR_HELP;
        return;
    }
    if (k == 'q' || k == 3) {
        if (tui_live_running(&a->live))
            a->confirm_quit = 1;
        else
            a->quit = 1;
        return;
    }
    if (k == '5') {
        a->screen = SCR_RESOURCES;
        return;
    }
    if (k == '6' && a->jobs) {
        a->screen = SCR_JOBS;
        return;
    }
    if (k >= '1' && k <= '4') {
        a->screen = (tui_screen)(k - '1');
        if (a->screen == SCR_PARAMS && !a->base && tui_params_load(a))
            tui_say(a, 1, "%s", tb_last_error());
        if (a->screen == SCR_RESULTS)
            rescan(a, 1, 0);
        return;
    }
    int up = k == KEY_UP || k == 'k', down = k == KEY_DOWN || k == 'j';
    int pgup = k == KEY_PPAGE, pgdn = k == KEY_NPAGE;
    /* g/G as in less and vim, Home/End on every terminal (term.c) */
    int home = k == KEY_HOME || k == 'g', end = k == KEY_END || k == 'G';
    int enter = k == '\n' || k == '\r' || k == KEY_ENTER;
    switch (a->screen) {
    case SCR_HELP:
        if (k == 27)
            a->screen = a->back;
        break;
    case SCR_RESOURCES:
        if (k == 27)
            a->screen = SCR_LIVE;
        break;
    case SCR_JOBS:
        tui_app_jobs_key(a, k, up, down, home || end ? (home ? 1 : 2) : 0, enter);
        break;
    case SCR_PRESETS:
        if (up && a->psel > 0)
            a->psel--;
        if (down && a->psel + 1 < a->npresets)
            a->psel++;
        if (home || end)
            a->psel = home || !a->npresets ? 0 : a->npresets - 1;
        if (k == 'f')
            open_prompt(a, TUI_PROMPT_PRESETS_DIR, a->user_presets_dir);
        if (k == 'r') {
            rescan(a, 1, 1);
        }
        if (enter && a->npresets) {
            a->precheck[0] = '\0'; /* another preset: the last refusal was about the old one */
            if (a->presets[a->psel].error[0] || tui_params_load(a))
                tui_say(a, 1, "%s", a->presets[a->psel].error[0] ? a->presets[a->psel].error : tb_last_error());
            else
                a->screen = SCR_PARAMS;
        }
        break;
    case SCR_PARAMS:
        if (up && a->parsel > 0)
            a->parsel--;
        if (down && a->parsel + 1 < a->nparams)
            a->parsel++;
        if (home || end)
            a->parsel = home || !a->nparams ? 0 : a->nparams - 1;
        if (pgup || pgdn) {
            a->parsel += pgup ? -10 : 10;
            a->parsel = a->parsel >= a->nparams ? a->nparams - 1 : a->parsel;
            a->parsel = a->parsel < 0 ? 0 : a->parsel;
        }
        if ((k == KEY_LEFT || k == KEY_RIGHT) && a->nparams && !tui_param_cycle(a, a->parsel, k == KEY_RIGHT ? 1 : -1))
            tui_say(a, 0, "%s", "Left/Right cycle options with a list of choices; Enter edits this one");
        if (k == 27)
            a->screen = SCR_PRESETS;
        if (enter && a->nparams) {
            a->editing = 1;
            snprintf(a->edit, sizeof a->edit, "%s", a->params[a->parsel].value);
            a->edit_err[0] = '\0';
        }
        if (k == 's') {
            a->smoke = !a->smoke;
            for (int i = 0; i < a->nparams; i++)
                if (a->params[i].scale)
                    snprintf(a->params[i].value, sizeof a->params[i].value, "%s", a->smoke ? "smoke" : "full");
            tui_params_refresh(a);
        }
        if ((k == 'l' || k == KEY_F(5)) && launch(a))
            tui_say(a, 1, "%s", tb_last_error());
        if (k == 'a' && a->nparams) {
            if (tui_param_toggle_axis(a, a->parsel))
                tui_say(a, 1, "%s", tb_last_error());
            else
                tui_say(a, 0, a->params[a->parsel].axis ? "%s is now swept: Enter to give it a list of values"
                                                    : "%s is a plain option again",
                    a->params[a->parsel].key);
        }
        if (k == 'w' && a->base) {
            char name[128];
            snprintf(name, sizeof name, "%.60s-edited", a->base->name);
            open_prompt(a, TUI_PROMPT_SAVE, name);
        }
        break;
    case SCR_LIVE: {
        tui_live *lv = &a->live;
        int page = 5;
        if (k == 'c') {
            if (tui_live_running(lv))
                a->confirm_cancel = 1;
            else
                tui_say(a, 1, "%s", "nothing is running");
        }
        if (pgup || up)
            lv->log_scroll += pgup ? page : 1;
        if (pgdn || down)
            lv->log_scroll -= pgdn ? page : 1;
        if (home)
            lv->log_scroll = lv->nlog;
        if (end)
            lv->log_scroll = 0;
        lv->log_scroll = lv->log_scroll > lv->nlog - 1 ? lv->nlog - 1 : lv->log_scroll;
        lv->log_scroll = lv->log_scroll < 0 ? 0 : lv->log_scroll;
        break;
    }
    case SCR_RESULTS:
        if (up && a->rsel > 0)
            a->rsel--;
        if (down && a->rsel + 1 < a->nresults)
            a->rsel++;
        if (home || end)
            a->rsel = home || !a->nresults ? 0 : a->nresults - 1;
        if (pgup)
            a->rsel = a->rsel > 10 ? a->rsel - 10 : 0;
        if (pgdn && a->nresults)
            a->rsel = a->rsel + 10 < a->nresults ? a->rsel + 10 : a->nresults - 1;
        if (k == 'r')
            rescan(a, 1, 0);
        if (k == 'm' && a->nresults)
            a->mark = a->mark == a->rsel ? -1 : a->rsel;
        if (k == 27 && a->filter[0]) { /* the whole list again */
            a->filter[0] = '\0';
            rescan(a, 1, 0);
        }
        if (k == ' ' && a->nresults) {
            int m = tui_mark_toggle(a);
            if (m < 0)
                tui_say(a, 1, "%s", tb_last_error());
            else {
                char m[96];
                snprintf(m, sizeof m, "%d marked; c compares them%s", a->nmarks,
                         a->nmarks == 1 ? " with the selected one" : "");
                tui_say(a, 0, "%s", m);
            }
            if (a->rsel + 1 < a->nresults)
                a->rsel++;
        }
        if (k == 'c' && a->nresults) {
            if (tui_compare_open(a))
                tui_say(a, 1, "%s", tb_last_error());
            else
                a->screen = SCR_COMPARE;
        }
        /* A loose run opens on the Run screen; a sweep (or a pair marked
         * with m) opens its table, whose Enter opens a configuration. */
        if (enter && a->nresults && a->results[a->rsel].run && (a->mark < 0 || a->mark == a->rsel)) {
            if (tui_view_open(a, 0))
                tui_say(a, 1, "%s", tb_last_error());
            else {
                a->view_back = SCR_RESULTS;
                a->screen = SCR_RUN;
            }
        } else if (enter && a->nresults) {
            if (tui_results_open(a))
                tui_say(a, 1, "%s", tb_last_error());
            else {
                a->screen = SCR_TABLE;
                a->note_scroll = 0;
            }
        }
        break;
    case SCR_TABLE:
        if (up && a->tsel > 0)
            a->tsel--;
        if (down && a->tsel + 1 < tui_results_rows(a))
            a->tsel++;
        if (home || end)
            a->tsel = home || tui_results_rows(a) < 1 ? 0 : tui_results_rows(a) - 1;
        if (k == KEY_RIGHT && a->tcol_more)
            a->tcol++;
        if (k == KEY_LEFT && a->tcol > 1)
            a->tcol--;
        if (pgdn) /* the footnotes under the table; the drawing stops at their end */
            a->note_scroll += 3;
        if (pgup)
            a->note_scroll = a->note_scroll > 3 ? a->note_scroll - 3 : 0;
        if (k == 27)
            a->screen = SCR_RESULTS;
        const char *dirs[2];
        if (enter && tui_results_chosen(a, dirs) == 1 && !a->results[a->rsel].run) {
            /* Row i is configuration i in a plain sweep table; the Run
             * screen's Left/Right reach the others. */
            if (tui_view_open(a, a->tsel) && tui_view_open(a, 0))
                tui_say(a, 1, "%s", tb_last_error());
            else {
                a->view_back = SCR_TABLE;
                a->screen = SCR_RUN;
            }
        }
        if (k == 'e' && a->ntables) {
            char path[PATH_MAX];
            export_default(a, path, sizeof path);
            open_prompt(a, TUI_PROMPT_EXPORT, path);
        }
        break;
    case SCR_RUN:
        if (up && a->view_scroll > 0)
            a->view_scroll--;
        if (down && a->view && a->view_scroll + 1 < a->view->nopts)
            a->view_scroll++;
        if (pgup && a->view)
            a->view_log = a->view_log + 5 < a->view->nlog ? a->view_log + 5 : a->view->nlog;
        if (pgdn)
            a->view_log = a->view_log > 5 ? a->view_log - 5 : 0;
        if ((k == KEY_LEFT || k == KEY_RIGHT) && a->view_sweep[0]) {
            int c = a->view_cfg + (k == KEY_RIGHT ? 1 : -1);
            if (c >= 0 && c < a->view_ncfg && tui_view_open(a, c))
                tui_say(a, 1, "%s", tb_last_error());
        }
        if (k == 27)
            a->screen = a->view_back;
        break;
    case SCR_COMPARE:
        if (k == KEY_RIGHT && a->tcol_more)
            a->cmp_col++;
        if (k == KEY_LEFT && a->cmp_col > 1)
            a->cmp_col--;
        if (k == 27)
            a->screen = SCR_RESULTS;
        break;
    case SCR_EXPORT:
        if ((up || pgup) && a->export_scroll > 0)
            a->export_scroll = a->export_scroll > (pgup ? 10 : 1) ? a->export_scroll - (pgup ? 10 : 1) : 0;
        if (down || pgdn) {
            int lines = 0; /* never past the last line */
            for (const char *c = a->export_text ? a->export_text : ""; *c; c++)
                lines += *c == '\n';
            a->export_scroll += pgdn ? 10 : 1;
            a->export_scroll = a->export_scroll > lines - 1 ? (lines > 0 ? lines - 1 : 0) : a->export_scroll;
        }
        if (k == 27)
            a->screen = SCR_TABLE;
        break;
    default:
        break;
    }
}

/* One key: nothing but quitting while the "too small" screen shows (the
 * keys would act on a screen nobody sees), clicks where they landed. */
static void dispatch(tui_app *a, int k, int cols, int rows)
{
    if (tui_layout_compute(cols, rows).too_small && k != 'q' && k != 3 && !a->confirm_quit)
        return;
    int x, y;
    if (k == KEY_MOUSE) {
        int tab = -1;
        if (tui_term_click(&x, &y) && !a->prompt && !a->confirm_quit && !a->confirm_cancel)
            tab = tui_app_click(a, x, y, cols, rows);
        if (tab >= 0)
            handle_key(a, '1' + tab); /* a tab clicked: as its digit */
        return;
    }
    handle_key(a, k);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: trainbench tui [--runs-dir DIR] [--presets DIR]\n\n"
               "The terminal workbench: pick a preset, edit its parameters, launch it in the background,\n"
               "watch it live, browse and export results.  --runs-dir: where sweeps go (default runs, or\n"
               "$TRAINBENCH_RUNS_DIR); --presets (or --presets-dir): your own presets, besides the shipped\n"
               "ones (default: the folder last set with f in the workbench, remembered in\n"
               "$XDG_CONFIG_HOME/trainbench/tui.conf, else ~/.config/trainbench/presets).  Press ? inside\n"
               "for the keys.\n");
}

int tb_cli_tui(int argc, char **argv)
{
    const char *runs = getenv("TRAINBENCH_RUNS_DIR"), *user = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(argv[i], "--runs-dir") && i + 1 < argc)
            runs = argv[++i];
        else if ((!strcmp(argv[i], "--presets") || !strcmp(argv[i], "--presets-dir")) && i + 1 < argc)
            user = argv[++i];
        else {
            fprintf(stderr, "trainbench tui: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "trainbench tui: needs a terminal (stdin and stdout)\n");
        return 2;
    }
    /* The user's presets folder: --presets, else the remembered one, else
     * presets/ in the configuration folder. */
    char userdir[PATH_MAX] = "", confdir[PATH_MAX] = "", confpath[PATH_MAX + 16] = "";
    if (tui_config_dir(confdir, sizeof confdir) == 0)
        snprintf(confpath, sizeof confpath, "%s/tui.conf", confdir);
    if (user)
        snprintf(userdir, sizeof userdir, "%s", user);
    else if (confpath[0] && tui_config_load(confpath, userdir, sizeof userdir) < 0)
        fprintf(stderr, "trainbench tui: %s (ignored)\n", tb_last_error());
    if (!userdir[0] && confdir[0])
        snprintf(userdir, sizeof userdir, "%.4000s/presets", confdir);
    static tui_app app;
    static tui_res res; /* large, and the UI is single-threaded */
    static tui_jobs jobs;
    tui_app *a = &app;
    if (tui_app_init(a, runs, userdir))
        return 1;
    a->res = &res;
    tui_jobs_init(&jobs);
    a->jobs = &jobs;
    if (strlen(confpath) < sizeof a->config_path) /* else not remembered: never a cut path */
        memcpy(a->config_path, confpath, strlen(confpath) + 1);
    ssize_t len = readlink("/proc/self/exe", a->exe, sizeof a->exe - 1);
    if (len <= 0) {
        fprintf(stderr, "trainbench tui: cannot find the trainbench binary (/proc/self/exe)\n");
        return 1;
    }
    a->exe[len] = '\0';
    rescan(a, 1, 0);
    if (tui_presets_scan(a)) {
        fprintf(stderr, "trainbench tui: %s\n", tb_last_error());
        return 1;
    }
    /* Re-attach to a sweep still running from an earlier session. */
    pid_t pid = 0;
    int running = tui_results_find_running(a, &pid);
    if (running >= 0) {
        tui_live_attach(&a->live, a->results[running].dir, pid, 0);
        a->screen = SCR_LIVE;
        tui_say(a, 0, "re-attached to the running sweep %s", a->results[running].name);
    }
    char errlog[PATH_MAX];
    if (tui_mkdir_p(a->runs_dir))
        snprintf(errlog, sizeof errlog, "/dev/null");
    else
        snprintf(errlog, sizeof errlog, "%.1000s/.trainbench-tui.log", a->runs_dir);
    if (tui_term_start(errlog, &a->utf8, &a->color)) {
        fprintf(stderr, "trainbench tui: cannot start the terminal (TERM=%s)\n", getenv("TERM") ?: "");
        return 1;
    }
    atexit(tui_term_stop);
    tui_buf buf = {0};
    int cols = 0, rows = 0;
    while (!a->quit) {
        /* SIGTERM/SIGHUP from outside, or the terminal gone (a closed tmux
         * or ssh session: getch would fail at once, forever): leave at once,
         * without questions; a run keeps going in its own session.  SIGINT
         * is Ctrl-C: the key, which asks first (handle_key). */
        if (tui_term_interrupted() || tui_term_lost())
            break;
        if (tui_term_ctrl_c()) /* the key, not a signal from outside: it asks */
            dispatch(a, 3, cols, rows);
        /* A message stays a few seconds (an error longer), then the hints. */
        if (a->msg[0] && tui_now_s() - a->msg_at > (a->msg_err ? 15 : 6))
            a->msg[0] = '\0';
        reap(a);
        if (a->live.active) {
            int was = tui_live_running(&a->live);
            if (tui_live_poll(&a->live))
                tui_live_read_errors(&a->live); /* each failure's reason, whole */
            if (was && !tui_live_running(&a->live)) {
                rescan(a, 1, 1); /* the list and the estimates */
                tui_say(a, 0, "the sweep ended: %s (4: results)", a->live.status);
            }
        }
        tui_app_sample_resources(a);
        /* squeue only while the Jobs screen shows (and to finish one asked) */
        if (a->jobs && (a->screen == SCR_JOBS || a->jobs->querying))
            tui_jobs_tick(a->jobs, tui_now_s());
        int c, r;
        tui_term_size(&c, &r);
        if (c != cols || r != rows || !buf.c) {
            tui_buf_free(&buf);
            if (tui_buf_init(&buf, c, r, a->utf8))
                break;
            cols = c;
            rows = r;
        }
        tui_draw(a, &buf);
        if (a->screen == SCR_TABLE) { /* where the columns really start, as drawn */
            a->tcol = buf.table_first_col;
            a->tcol_more = buf.table_more;
        }
        if (a->screen == SCR_COMPARE) {
            a->cmp_col = buf.table_first_col;
            a->tcol_more = buf.table_more;
        }
        tui_term_blit(&buf);
        int k = tui_term_key(100);
        if (k == KEY_RESIZE || k < 0)
            continue;
        dispatch(a, k, cols, rows);
        /* Several keys typed at once are handled before the next frame. */
        for (int more = tui_term_key(0); more >= 0; more = tui_term_key(0))
            if (more != KEY_RESIZE)
                dispatch(a, more, cols, rows);
    }
    tui_buf_free(&buf);
    tui_res_free(&res);
    tui_jobs_free(&jobs);
    tui_term_stop();
    if (tui_live_running(&a->live) && a->cancelled)
        printf("trainbench: the sweep in %s was cancelled: it stops at its next batch and is recorded as "
               "interrupted\n",
               a->live.sweep_dir);
    else if (tui_live_running(&a->live))
        printf("trainbench: the sweep keeps running in %s; run trainbench again to follow it\n", a->live.sweep_dir);
    else if (a->cancelled && a->live.active)
        printf("trainbench: the sweep in %s was cancelled (%s)\n", a->live.sweep_dir, a->live.status);
    tui_views_free(a);
    tui_app_free(a);
    return 0;
}
