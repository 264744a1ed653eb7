/* slurm/jobs.c (issue 18).  Without arguments: the squeue parser on fixed
 * text, hostile fields included, the job id check, finding a job's sweep
 * directory, and "Slurm not found" with an empty PATH.  With `list`,
 * `cancel ID` or `sweep-dir ID` it is the driver tests/test_slurm_jobs.sh runs against the
 * private Slurm: the same functions the Jobs screen calls. */
#include "check.h"
#include "core/error.h" // uses: tb_last_error
#include "core/fsutil.h" // uses: tb_write_atomic
#include "slurm/jobs.h" // uses: tb_slurm_job, TB_SLURM_MAX_JOBS, tb_slurm_jobs_list, tb_slurm_cancel, ...

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int driver(int argc, char **argv)
{
    static tb_slurm_job jobs[TB_SLURM_MAX_JOBS];
    if (!strcmp(argv[1], "list")) {
        int refused = 0, n = tb_slurm_jobs_list(jobs, TB_SLURM_MAX_JOBS, &refused);
        if (n < 0) {
            fprintf(stderr, "%s\n", tb_last_error());
            return 1;
        }
        for (int i = 0; i < n; i++)
            printf("%s %s %s %s %d %s %s\n", jobs[i].id, jobs[i].name, jobs[i].state, jobs[i].elapsed,
                   jobs[i].nodes, jobs[i].nodelist[0] ? jobs[i].nodelist : "-",
                   jobs[i].runs_dir[0] ? jobs[i].runs_dir : "-");
        printf("refused %d\n", refused);
        return 0;
    }
    if (!strcmp(argv[1], "cancel") && argc == 3) {
        if (tb_slurm_cancel(argv[2])) {
            fprintf(stderr, "%s\n", tb_last_error());
            return 1;
        }
        return 0;
    }
    if (!strcmp(argv[1], "sweep-dir") && argc == 3) { /* what Enter follows */
        int refused = 0, n = tb_slurm_jobs_list(jobs, TB_SLURM_MAX_JOBS, &refused);
        char dir[2048];
        for (int i = 0; i < n; i++)
            if (!strcmp(jobs[i].id, argv[2])) {
                if (tb_slurm_job_sweep_dir(&jobs[i], dir, sizeof dir))
                    break;
                printf("%s\n", dir);
                return 0;
            }
        fprintf(stderr, "%s\n", n < 0 ? tb_last_error() : "no such job, or no sweep dir");
        return 1;
    }
    fprintf(stderr, "usage: test_slurm_jobs [list | cancel ID | sweep-dir ID]\n");
    return 2;
}

static void parse_tests(void)
{
    tb_slurm_job j;
    /* a running trainbench job with the comment `trainbench slurm` writes */
    CHECK(tb_slurm_parse_line("1234|tb-lab2-c6|RUNNING|1:02:03|2|node[01-02]|trainbench:runs|/home/u/exp", &j) == 1,
          "%s", tb_last_error());
    CHECK(!strcmp(j.id, "1234") && !strcmp(j.name, "tb-lab2-c6") && !strcmp(j.state, "RUNNING") &&
              !strcmp(j.elapsed, "1:02:03") && j.nodes == 2 && !strcmp(j.nodelist, "node[01-02]") &&
              !strcmp(j.runs_dir, "/home/u/exp/runs") && !strcmp(j.workdir, "/home/u/exp"),
          "fields: %s %s %s %s %d %s %s", j.id, j.name, j.state, j.elapsed, j.nodes, j.nodelist, j.runs_dir);
    /* pending: no nodes yet; an absolute runs dir; an array task */
    CHECK(tb_slurm_parse_line("77_3|tb-x-01-gpus-1|PENDING|0:00|1||trainbench:/scratch/r|/w", &j) == 1, "%s",
          tb_last_error());
    CHECK(!strcmp(j.id, "77_3") && !j.nodelist[0] && !strcmp(j.runs_dir, "/scratch/r"), "%s %s %s", j.id,
          j.nodelist, j.runs_dir);
    /* submitted by hand: a trainbench job without the comment */
    CHECK(tb_slurm_parse_line("9|tb-mine|RUNNING|5:00|1|n1|(null)|/w", &j) == 1 && !j.runs_dir[0], "%s",
          tb_last_error());
    /* someone else's kind of job is not ours, whatever it holds */
    CHECK(tb_slurm_parse_line("10|jupyter|RUNNING|bogus|x|n1|any thing|relative", &j) == 0, "other job");
    /* hostile: a '|' in the work dir or comment gives too many fields */
    CHECK(tb_slurm_parse_line("11|tb-a|RUNNING|0:01|1|n1|trainbench:runs|/w|/tmp/evil", &j) < 0, "extra field");
    CHECK(strstr(tb_last_error(), "'|'") != NULL, "message: %s", tb_last_error());
    CHECK(tb_slurm_parse_line("11|tb-a|RUNNING|0:01|1|n1|trainbench:runs", &j) < 0, "missing field");
    /* hostile: control characters, escapes, not UTF-8 */
    CHECK(tb_slurm_parse_line("12|tb-a\033[2J|RUNNING|0:01|1|n1|(null)|/w", &j) < 0, "escape accepted");
    CHECK(tb_slurm_parse_line("12|tb-a|RUNNING|0:01|1|n1|(null)|/w\xff", &j) < 0, "non-UTF-8 accepted");
    /* hostile: a job id that is not digits never reaches scancel */
    CHECK(tb_slurm_parse_line("-u root|tb-a|RUNNING|0:01|1|n1|(null)|/w", &j) < 0, "option-like id accepted");
    CHECK(tb_slurm_parse_line("12;rm|tb-a|RUNNING|0:01|1|n1|(null)|/w", &j) < 0, "id with ';' accepted");
    /* odd state, elapsed, node count */
    CHECK(tb_slurm_parse_line("13|tb-a|running now|0:01|1|n1|(null)|/w", &j) < 0, "state");
    CHECK(tb_slurm_parse_line("13|tb-a|RUNNING|$(x)|1|n1|(null)|/w", &j) < 0, "elapsed");
    CHECK(tb_slurm_parse_line("13|tb-a|RUNNING|0:01|99999999999|n1|(null)|/w", &j) < 0, "node count");
    CHECK(tb_slurm_parse_line("13|tb-a|RUNNING|0:01|1|n1|(null)|w", &j) < 0, "relative work dir");
    /* a trainbench comment whose dir is not a plain token, or escapes with .. is still a path we only read */
    CHECK(tb_slurm_parse_line("14|tb-a|RUNNING|0:01|1|n1|trainbench:a b|/w", &j) < 0, "comment with a space");
    CHECK(tb_slurm_parse_line("14|tb-a|RUNNING|0:01|1|n1|trainbench:|/w", &j) < 0, "empty runs dir");
    /* an over-long field is refused, not cut */
    char longname[400];
    memset(longname, 'a', sizeof longname);
    memcpy(longname, "15|tb-", 6);
    snprintf(longname + 300, 100, "|RUNNING|0:01|1|n1|(null)|/w");
    CHECK(tb_slurm_parse_line(longname, &j) < 0, "a 300-byte name was accepted");

    /* the whole output: good, foreign and refused lines together */
    tb_slurm_job jobs[4];
    int refused = -1;
    const char *text = "1|tb-p|RUNNING|0:05|1|n1|trainbench:r|/w\n"
                       "2|bash|RUNNING|0:05|1|n1|(null)|/w\n"
                       "3|tb-q|PENDING|0:00|1||(null)|/w|x\n"
                       "\n"
                       "4|tb-r|COMPLETING|10:00|1|n1|(null)|/w\r\n";
    int n = tb_slurm_parse(text, jobs, 4, &refused);
    CHECK(n == 2 && refused == 1, "n %d refused %d", n, refused);
    CHECK(n == 2 && !strcmp(jobs[0].id, "1") && !strcmp(jobs[1].id, "4") && !strcmp(jobs[1].workdir, "/w"),
          "ids %s %s", jobs[0].id, n > 1 ? jobs[1].id : "");
    n = tb_slurm_parse("", jobs, 4, &refused);
    CHECK(n == 0 && refused == 0, "empty output: n %d refused %d", n, refused);
    /* more jobs than room: no overflow */
    n = tb_slurm_parse("1|tb-a|RUNNING|0:01|1|n|(null)|/w\n2|tb-a|RUNNING|0:01|1|n|(null)|/w\n", jobs, 1, &refused);
    CHECK(n == 1, "max 1: %d", n);

    CHECK(tb_slurm_id_ok("123") && tb_slurm_id_ok("123_4"), "ids refused");
    CHECK(!tb_slurm_id_ok("") && !tb_slurm_id_ok("-1") && !tb_slurm_id_ok("12 3") && !tb_slurm_id_ok("1_") &&
              !tb_slurm_id_ok("1_2_3") && !tb_slurm_id_ok("--me") && !tb_slurm_id_ok("1234567890123"),
          "a bad id accepted");
    CHECK(tb_slurm_cancel("1;touch PWNED") < 0 && access("PWNED", F_OK) != 0, "cancel of a bad id");
}

static void sweep_dir_tests(void)
{
    char tmp[] = "/tmp/tb_slurm_jobs_XXXXXX", path[1200], out[1200];
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    /* two sweeps of preset "my lab" (safe name my_lab) and one of another */
    const char *dirs[] = {"2026-01-01_10-00-00-my lab", "2026-01-02_10-00-00-my lab", "2026-01-03_10-00-00-other"};
    const char *presets[] = {"my lab", "my lab", "other"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", tmp, dirs[i]);
        CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
        char json[200];
        snprintf(json, sizeof json, "{\"preset\": \"%s\"}", presets[i]);
        snprintf(path, sizeof path, "%s/%s/plan.json", tmp, dirs[i]);
        CHECK(tb_write_atomic(path, json, strlen(json)) == 0, "%s", tb_last_error());
    }
    tb_slurm_job j;
    snprintf(path, sizeof path, "1|tb-my_lab-01-gpus-1|RUNNING|0:01|1|n1|trainbench:%s|/w", tmp);
    CHECK(tb_slurm_parse_line(path, &j) == 1, "%s", tb_last_error());
    CHECK(tb_slurm_job_sweep_dir(&j, out, sizeof out) == 0, "%s", tb_last_error());
    snprintf(path, sizeof path, "%s/%s", tmp, dirs[1]);
    CHECK(!strcmp(out, path), "sweep dir %s, want the newest of its preset %s", out, path);
    /* tb-my_lab must not match a preset my_lab2, nor one with no sweep */
    snprintf(path, sizeof path, "2|tb-nothing|RUNNING|0:01|1|n1|trainbench:%s|/w", tmp);
    CHECK(tb_slurm_parse_line(path, &j) == 1 && tb_slurm_job_sweep_dir(&j, out, sizeof out) < 0,
          "a sweep for a preset that has none");
    CHECK(tb_slurm_parse_line("3|tb-my_lab|RUNNING|0:01|1|n1|(null)|/w", &j) == 1 &&
              tb_slurm_job_sweep_dir(&j, out, sizeof out) < 0 && strstr(tb_last_error(), "comment"),
          "no comment: %s", tb_last_error());
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "cleanup");
}

int main(int argc, char **argv)
{
    if (argc > 1)
        return driver(argc, argv);
    parse_tests();
    sweep_dir_tests();
    /* where squeue is absent, the screen's message */
    setenv("PATH", "/nonexistent", 1);
    tb_slurm_query q;
    CHECK(tb_slurm_query_start(&q) < 0 && !strcmp(tb_last_error(), "Slurm not found (squeue is not on PATH)"),
          "without squeue: %s", tb_last_error());
    return check_finish();
}
