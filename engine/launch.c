/* Starting data-parallel ranks for `--gpus N`: the same `trainbench train`
 * with the same options, N times, under mpirun, or under srun --mpi=pmix
 * when already inside a Slurm allocation.  The launcher is a child process:
 * the caller (the CLI, or a sweep) waits for it and gets its exit status. */
#include "engine/launch.h"

#include "core/error.h" // uses: TB_PRINTF, tb_fail, tb_last_error

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_ARGS = 128 };

typedef struct {
    char *argv[MAX_ARGS + 1];
    int argc;
} arg_list;

static int push(arg_list *a, const char *fmt, ...) TB_PRINTF(2, 3);

static int push(arg_list *a, const char *fmt, ...)
{
    if (a->argc == MAX_ARGS)
        return tb_fail("too many arguments for the rank launcher");
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(&a->argv[a->argc], fmt, ap);
    va_end(ap);
    if (rc < 0)
        return tb_fail("out of memory building the rank launcher's command");
    a->argv[++a->argc] = NULL;
    return 0;
}

static void free_args(arg_list *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
    a->argc = 0;
}

int tb_launch_in_allocation(void) { return getenv("SLURM_JOB_ID") != NULL && getenv("TB_LAUNCHER") == NULL; }

/* The launcher's own arguments: srun inside an allocation, else mpirun. */
static int push_launcher(arg_list *a, int ranks)
{
    const char *forced = getenv("TB_LAUNCHER"); /* e.g. a site's mpirun wrapper */
    if (tb_launch_in_allocation())
        return push(a, "srun") || push(a, "--mpi=pmix") || push(a, "--kill-on-bad-exit=1") ||
               push(a, "--ntasks=%d", ranks);
    if (push(a, "%s", forced ? forced : "mpirun") || push(a, "-np") || push(a, "%d", ranks))
        return -1;
    /* CPU ranks may outnumber cores in tests; as root (CI, containers) Open
     * MPI wants explicit consent; binding would pin every rank's threads to
     * one core. */
    if (push(a, "--oversubscribe") || push(a, "--bind-to") || push(a, "none"))
        return -1;
    return geteuid() == 0 ? push(a, "--allow-run-as-root") : 0;
}

static int push_train_args(arg_list *a, const tb_train_config *c)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0)
        return tb_fail("cannot find the trainbench executable (/proc/self/exe): %s", strerror(errno));
    self[n] = '\0';
    /* TB_RANK_WRAPPER (set by `trainbench slurm --container`): each rank runs
     * inside it, e.g. "singularity exec --nv image.sif". */
    const char *wrapper = getenv("TB_RANK_WRAPPER");
    char words[1024];
    snprintf(words, sizeof words, "%s", wrapper ? wrapper : "");
    for (char *save = NULL, *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save))
        if (push(a, "%s", w))
            return -1;
    if (push(a, "%s", self) || push(a, "train"))
        return -1;
    for (const tb_option *o = tb_train_options(); o->name; o++) {
        char value[1100];
        if (!strcmp(o->name, "threads") && c->threads == 0 && !strcmp(c->device, "cpu")) {
            /* All cores shared out between the ranks of one node. */
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            snprintf(value, sizeof value, "%ld", cores / c->gpus > 0 ? cores / c->gpus : 1);
        } else {
            tb_option_format(c, o, value, sizeof value);
        }
        if (!value[0])
            continue; /* an unset path: each rank resolves the default */
        if (push(a, "--%s=%s", o->name, value))
            return -1;
    }
    return 0;
}

static volatile sig_atomic_t launcher_signalled;

static void note_signal(int sig)
{
    (void)sig;
    launcher_signalled = 1;
}

int tb_launch_ranks(const tb_train_config *c)
{
    arg_list a = {{NULL}, 0};
    if (push_launcher(&a, c->gpus) || push_train_args(&a, c)) {
        free_args(&a);
        fprintf(stderr, "trainbench: %s\n", tb_last_error());
        return 1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "trainbench: cannot start %s: %s\n", a.argv[0], strerror(errno));
        free_args(&a);
        return 1;
    }
    if (pid == 0) {
        execvp(a.argv[0], a.argv);
        fprintf(stderr, "trainbench: cannot run %s for --gpus %d: %s; install Open MPI (openmpi-bin) or run inside "
                        "a Slurm allocation\n",
                a.argv[0], c->gpus, strerror(errno));
        _exit(127);
    }
    /* Ctrl-C reaches the launcher and the ranks through the terminal's
     * process group; the parent only waits, and notes it: the ranks stop at a
     * batch boundary (exit 130), but mpirun reports its own status 1. */
    struct sigaction note = {0}, old_int, old_term;
    note.sa_handler = note_signal;
    launcher_signalled = 0;
    sigaction(SIGINT, &note, &old_int);
    sigaction(SIGTERM, &note, &old_term);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free_args(&a);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    if (launcher_signalled && WEXITSTATUS(status) != 0)
        return 130;
    return WEXITSTATUS(status);
}
