/* The workbench's event loop: keys, launching and cancelling the engine in
 * its own process group, following the run directory, re-attaching. */
#include "tui/tui.h" // uses: tb_cli_tui

#include "core/error.h" // uses: tb_last_error, tb_fail
#include "rundir/lock.h" // uses: tb_lock_signal
#include "rundir/rundir.h" // uses: tb_rundir_default_path
#include "tui/config.h" // uses: tui_mkdir_p, tui_config_save, tui_config_dir, tui_config_load
#include "tui/screens.h" // uses: tui_draw
#include "tui/term.h" // uses: tui_term_start, tui_term_stop, tui_term_interrupted, tui_term_lost, tui_term_size, ...

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <curses.h>
#include <unistd.h>

/* A status-line message; the argument is cut to what the line can show. */
static void say(tui_app *a, int err, const char *fmt, const char *arg)
{
    char cut[400];
    size_t n = strlen(arg);
    n = n < sizeof cut - 1 ? n : sizeof cut - 1;
    memcpy(cut, arg, n);
    cut[n] = '\0';
    snprintf(a->msg, sizeof a->msg, fmt, cut);
    a->msg_err = err;
}

/* Reads the runs folder and/or the presets again; a failure (out of
 * memory) is said on the status line, the old lists stay usable. */
static void rescan(tui_app *a, int results, int presets)
{
    if ((results && tui_results_scan(a)) || (presets && tui_presets_scan(a)))
        say(a, 1, "cannot read the folders: %s", tb_last_error());
}

/* `trainbench run PRESET --scale S --sweep-dir DIR --set ...` as a child in
 * its own session, so the terminal's signals and our exit leave it alone. */
static int launch(tui_app *a)
{
    if (tui_live_running(&a->live))
        return tb_fail("a sweep is already running; cancel it (c on the Live screen) first");
    if (!a->base || a->sweep_size < 0)
        return tb_fail("the parameters are not valid yet");
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
        nsets = 0; /* the edits are in the copy */
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
    int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return tb_fail("cannot write %s: %s", logpath, strerror(errno));
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
    say(a, 0, "launched: %s", dir);
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
        say(a, 1, "%s", "nothing is running");
        return;
    }
    int rc;
    if (a->live.ours) {
        rc = getpgid(pid) == pid ? kill(-pid, SIGINT) : kill(pid, SIGINT);
        if (rc)
            say(a, 1, "cannot stop the run: %s", strerror(errno));
    } else if ((rc = tb_lock_signal(a->live.sweep_dir, SIGINT, 1)))
        say(a, 1, "cannot stop the run: %s", tb_last_error());
    if (!rc)
        say(a, 0, "%s", "cancelling: the run stops at the next batch");
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
        rescan(a, 1, 1);
        say(a, 0, "the sweep ended: %s (4: results)", a->live.status);
    }
}

static void edit_key(tui_app *a, int k)
{
    size_t n = strlen(a->edit);
    if (k == 27) {
        a->editing = 0;
        a->edit_err[0] = '\0';
        return;
    }
    if (k == '\n' || k == '\r' || k == KEY_ENTER) {
        if (a->edit_err[0])
            return; /* not accepted: the reason is on screen */
        tui_param *p = &a->params[a->parsel];
        snprintf(p->value, sizeof p->value, "%s", a->edit);
        p->edited = 1;
        if (p->scale)
            a->smoke = !strcmp(p->value, "smoke");
        a->editing = 0;
        tui_params_refresh(a);
        return;
    }
    if ((k == KEY_BACKSPACE || k == 127 || k == 8) && n)
        a->edit[n - 1] = '\0';
    else if (k >= 32 && k < 127 && n + 1 < sizeof a->edit) {
        a->edit[n] = (char)k;
        a->edit[n + 1] = '\0';
    } else
        return;
    int size = tui_param_check(a, a->parsel, a->edit, a->edit_err, sizeof a->edit_err);
    if (size >= 0)
        a->sweep_size = size;
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
        say(a, 1, "%s", tb_last_error());
        return;
    }
    snprintf(path, sizeof path, "%.3900s/%.60s.ini", a->user_presets_dir, name);
    if (tui_preset_save(a, path)) {
        say(a, 1, "%s", tb_last_error());
        return;
    }
    rescan(a, 0, 1);
    for (int i = 0; i < a->npresets; i++)
        if (!strcmp(a->presets[i].path, path))
            a->psel = i;
    say(a, 0, "saved %s (it is in the Presets screen)", path);
}

static void set_presets_dir(tui_app *a, const char *dir)
{
    if (!*dir || strlen(dir) >= sizeof a->user_presets_dir) {
        say(a, 1, "%s", *dir ? "that folder name is too long" : "no folder given");
        return;
    }
    memcpy(a->user_presets_dir, dir, strlen(dir) + 1);
    a->psel = 0;
    rescan(a, 0, 1);
    if (a->config_path[0] && tui_config_save(a->config_path, dir))
        say(a, 1, "%s", tb_last_error());
    else
        say(a, 0, a->config_path[0] ? "your presets folder is now %s (remembered)" : "your presets folder is now %s",
            dir);
}

static void export_to(tui_app *a, const char *path)
{
    if (tui_results_export(a, path))
        say(a, 1, "%s", tb_last_error());
    else {
        a->screen = SCR_EXPORT;
        say(a, 0, "exported %s", path);
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

static void prompt_key(tui_app *a, int k)
{
    size_t n = strlen(a->prompt_text);
    if (k == 27) {
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
        if (k == 'l' || k == 'L')
            a->quit = 1;
        else if (k == 'c' || k == 'C') {
            cancel(a);
            a->quit = 1;
        } else
            a->confirm_quit = 0;
        return;
    }
    if (a->prompt) {
        prompt_key(a, k);
        return;
    }
    if (a->screen == SCR_PARAMS && a->editing) {
        edit_key(a, k);
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
    if (k >= '1' && k <= '4') {
        a->screen = (tui_screen)(k - '1');
        if (a->screen == SCR_PARAMS && !a->base && tui_params_load(a))
            say(a, 1, "%s", tb_last_error());
        if (a->screen == SCR_RESULTS)
            rescan(a, 1, 0);
        return;
    }
    int up = k == KEY_UP || k == 'k', down = k == KEY_DOWN || k == 'j';
    int pgup = k == KEY_PPAGE, pgdn = k == KEY_NPAGE;
    int enter = k == '\n' || k == '\r' || k == KEY_ENTER;
    switch (a->screen) {
    case SCR_HELP:
        if (k == 27)
            a->screen = a->back;
        break;
    case SCR_PRESETS:
        if (up && a->psel > 0)
            a->psel--;
        if (down && a->psel + 1 < a->npresets)
            a->psel++;
        if (k == 'f')
            open_prompt(a, TUI_PROMPT_PRESETS_DIR, a->user_presets_dir);
        if (k == 'r') {
            rescan(a, 1, 1);
        }
        if (enter && a->npresets) {
            if (a->presets[a->psel].error[0] || tui_params_load(a))
                say(a, 1, "%s", a->presets[a->psel].error[0] ? a->presets[a->psel].error : tb_last_error());
            else
                a->screen = SCR_PARAMS;
        }
        break;
    case SCR_PARAMS:
        if (up && a->parsel > 0)
            a->parsel--;
        if (down && a->parsel + 1 < a->nparams)
            a->parsel++;
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
            say(a, 1, "%s", tb_last_error());
        if (k == 'a' && a->nparams) {
            if (tui_param_toggle_axis(a, a->parsel))
                say(a, 1, "%s", tb_last_error());
            else
                say(a, 0, a->params[a->parsel].axis ? "%s is now swept: Enter to give it a list of values"
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
        if (k == 'c')
            cancel(a);
        if (pgup || up)
            lv->log_scroll += pgup ? page : 1;
        if (pgdn || down)
            lv->log_scroll -= pgdn ? page : 1;
        if (k == KEY_HOME)
            lv->log_scroll = lv->nlog;
        if (k == KEY_END)
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
        if (pgup)
            a->rsel = a->rsel > 10 ? a->rsel - 10 : 0;
        if (pgdn && a->nresults)
            a->rsel = a->rsel + 10 < a->nresults ? a->rsel + 10 : a->nresults - 1;
        if (k == 'r')
            rescan(a, 1, 0);
        if (k == 'm' && a->nresults)
            a->mark = a->mark == a->rsel ? -1 : a->rsel;
        if (enter && a->nresults) {
            if (tui_results_open(a))
                say(a, 1, "%s", tb_last_error());
            else
                a->screen = SCR_TABLE;
        }
        break;
    case SCR_TABLE:
        if (up && a->tsel > 0)
            a->tsel--;
        if (down && a->tsel + 1 < tui_results_rows(a))
            a->tsel++;
        if (k == KEY_RIGHT && a->tcol_more)
            a->tcol++;
        if (k == KEY_LEFT && a->tcol > 1)
            a->tcol--;
        if (k == 27)
            a->screen = SCR_RESULTS;
        if (k == 'e' && a->ntables) {
            char path[PATH_MAX];
            export_default(a, path, sizeof path);
            open_prompt(a, TUI_PROMPT_EXPORT, path);
        }
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
    tui_app *a = &app;
    if (tui_app_init(a, runs, userdir))
        return 1;
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
        say(a, 0, "re-attached to the running sweep %s", a->results[running].name);
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
        /* SIGTERM/SIGHUP/SIGINT from outside, or the terminal gone (a closed
         * tmux or ssh session: getch would fail at once, forever): leave at
         * once, without questions; a run keeps going in its own session. */
        if (tui_term_interrupted() || tui_term_lost())
            break;
        reap(a);
        if (a->live.active) {
            int was = tui_live_running(&a->live);
            tui_live_poll(&a->live);
            if (was && !tui_live_running(&a->live)) {
                rescan(a, 1, 1); /* the list and the estimates */
                say(a, 0, "the sweep ended: %s (4: results)", a->live.status);
            }
        }
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
        tui_term_blit(&buf);
        int k = tui_term_key(100);
        if (k == KEY_RESIZE || k < 0)
            continue;
        handle_key(a, k);
        /* Several keys typed at once are handled before the next frame. */
        for (int more = tui_term_key(0); more >= 0; more = tui_term_key(0))
            if (more != KEY_RESIZE)
                handle_key(a, more);
    }
    tui_buf_free(&buf);
    tui_term_stop();
    if (tui_live_running(&a->live))
        printf("trainbench: the sweep keeps running in %s; run trainbench again to follow it\n", a->live.sweep_dir);
    tui_app_free(a);
    return 0;
}
