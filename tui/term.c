/* ncursesw terminal handling (see term.h). */
#include "tui/term.h"

#include "core/fsutil.h" // uses: tb_open_regular

#include <curses.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int active, saved_stderr = -1, have_color;
static volatile sig_atomic_t interrupted, ctrl_c;

/* What terminals send for the keys terminfo often gets wrong: TERM names
 * the outer terminal while tmux or screen in between speaks its own
 * dialect (htop defines the same sequences for the same reason). */
static const struct {
    const char *seq;
    int key;
} key_seqs[] = {
    /* ESC [1~ [4~: tmux, screen, vt220, the Linux console; [7~ [8~: rxvt;
     * [H [F and O H O F: xterm (cursor and application mode); [1;5H [1;5F:
     * Ctrl-Home/End, taken as Home/End. */
    {"\033[1~", KEY_HOME},  {"\033[7~", KEY_HOME},  {"\033[H", KEY_HOME}, {"\033OH", KEY_HOME},
    {"\033[4~", KEY_END},   {"\033[8~", KEY_END},   {"\033[F", KEY_END},  {"\033OF", KEY_END},
    {"\033[5~", KEY_PPAGE}, {"\033[6~", KEY_NPAGE}, {"\033[1;5H", KEY_HOME}, {"\033[1;5F", KEY_END},
};

int tui_key_decode(const char *seq)
{
    for (size_t i = 0; seq && i < sizeof key_seqs / sizeof *key_seqs; i++)
        if (!strcmp(seq, key_seqs[i].seq))
            return key_seqs[i].key;
    return 0;
}

void tui_term_stop(void)
{
    if (!active)
        return;
    active = 0;
    endwin();
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        saved_stderr = -1;
    }
}

/* A crash must not leave the terminal in raw mode: restore it, then die of
 * the same signal (SA_RESETHAND put the default action back). */
static void on_crash(int sig)
{
    tui_term_stop();
    raise(sig);
}

static void on_stop(int sig)
{
    if (sig == SIGINT)
        ctrl_c = 1;
    else
        interrupted = 1;
}

int tui_term_ctrl_c(void)
{
    int c = ctrl_c;
    ctrl_c = 0;
    return c;
}

int tui_term_lost(void)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    return poll(&p, 1, 0) < 0 ? errno != EINTR : (p.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
}

int tui_term_interrupted(void)
{
    int i = interrupted;
    interrupted = 0;
    return i;
}

int tui_term_start(const char *stderr_log, int *utf8, int *color)
{
    setlocale(LC_ALL, "");
    *utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    if (stderr_log) {
        /* The log in the runs folder is a plain file we make or append to,
         * never a link or FIFO someone planted there. */
        int fd = !strcmp(stderr_log, "/dev/null") ? open(stderr_log, O_WRONLY | O_CLOEXEC)
                                                   : tb_open_regular(stderr_log, O_WRONLY | O_CREAT | O_APPEND);
        if (fd >= 0) {
            saved_stderr = dup(STDERR_FILENO);
            if (saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
                if (saved_stderr >= 0)
                    close(saved_stderr);
                saved_stderr = -1;
            }
            close(fd);
        }
    }
    if (!initscr())
        return -1;
    active = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_crash;
    sa.sa_flags = (int)SA_RESETHAND;
    int crash[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof crash / sizeof *crash; i++)
        sigaction(crash[i], &sa, NULL);
    sa.sa_handler = on_stop;
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    cbreak();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    curs_set(0);
    set_escdelay(25);
    for (size_t i = 0; i < sizeof key_seqs / sizeof *key_seqs; i++)
        if (key_defined(key_seqs[i].seq) == 0) /* terminfo's own stays */
            define_key(key_seqs[i].seq, key_seqs[i].key);
    mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL);
    mouseinterval(0);
    const char *nc = getenv("NO_COLOR");
    have_color = !(nc && *nc) && has_colors();
    if (have_color && start_color() == OK) {
        use_default_colors();
        init_pair(TUI_C_TITLE, COLOR_BLACK, COLOR_CYAN);
        init_pair(TUI_C_ACCENT, COLOR_CYAN, -1);
        init_pair(TUI_C_OK, COLOR_GREEN, -1);
        init_pair(TUI_C_WARN, COLOR_YELLOW, -1);
        init_pair(TUI_C_ERR, COLOR_RED, -1);
        init_pair(TUI_C_LOAD, COLOR_MAGENTA, -1);
        init_pair(TUI_C_COMPUTE, COLOR_BLUE, -1);
        init_pair(TUI_C_DIM, COLOR_WHITE, -1);
        init_pair(TUI_C_STATUS, COLOR_BLACK, COLOR_WHITE);
    } else
        have_color = 0;
    *color = have_color;
    return 0;
}

void tui_term_size(int *cols, int *rows)
{
    getmaxyx(stdscr, *rows, *cols);
}

void tui_term_blit(const tui_buf *b)
{
    erase();
    for (int y = 0; y < b->h; y++)
        for (int x = 0; x < b->w; x++) {
            const tui_cell *c = &b->c[y * b->w + x];
            if (!c->g[0])
                continue; /* the right half of a wide character */
            int role = c->attr & 0x0F;
            attr_t at = A_NORMAL;
            if (c->attr & TUI_A_BOLD)
                at |= A_BOLD;
            if (c->attr & TUI_A_REVERSE)
                at |= A_REVERSE;
            if (c->attr & TUI_A_UNDERLINE)
                at |= A_UNDERLINE;
            /* Without colour the title and status bars stay readable as
             * reversed text. */
            if (have_color && role)
                at |= COLOR_PAIR(role);
            else if (!have_color && (role == TUI_C_TITLE || role == TUI_C_STATUS))
                at |= A_REVERSE;
            attrset(at);
            /* The bottom-right cell would scroll the screen with addch. */
            if (y == b->h - 1 && x == b->w - 1)
                continue;
            mvaddstr(y, x, c->g);
        }
    attrset(A_NORMAL);
    refresh();
}

int tui_term_click(int *x, int *y)
{
    MEVENT ev;
    if (getmouse(&ev) != OK || !(ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
        return 0;
    *x = ev.x;
    *y = ev.y;
    return 1;
}

int tui_term_key(int timeout_ms)
{
    timeout(timeout_ms);
    int k = getch();
    return k == ERR ? -1 : k;
}
