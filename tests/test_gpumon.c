/* core/gpumon against the stand-in NVML (tests/nvml_standin.c, found as
 * libnvidia-ml.so.1 through LD_LIBRARY_PATH, which meson sets): every
 * reading of both stand-in GPUs, a reading NVML does not support, the
 * process list, finding a GPU by bus id or UUID; NVML absent and NVML
 * failing to start. */
#include "tests/check.h" // uses: CHECK, check_finish, CHECK_CLOSE

#include "core/error.h" // uses: tb_last_error
#include "core/gpumon.h" // uses: tb_gpumon, tb_gpumon_open, tb_gpumon_count, tb_gpu_reading, tb_gpumon_read, ...

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    /* No library by that name: the message the workbench shows. */
    tb_gpumon *m = tb_gpumon_open("libnvidia-ml-absent.so.1");
    CHECK(!m && strstr(tb_last_error(), "no NVIDIA GPU (NVML not found)"), "absent NVML: %s", tb_last_error());
    if (!getenv("LD_LIBRARY_PATH") || !strstr(getenv("LD_LIBRARY_PATH"), "tests")) {
        fprintf(stderr, "LD_LIBRARY_PATH does not name the stand-in's folder (run it with meson test): skipped\n");
        return check_failures ? 1 : 77;
    }
    /* The driver's library is there but nvmlInit fails. */
    setenv("TB_NVML_STANDIN_INIT_FAIL", "1", 1);
    m = tb_gpumon_open(NULL);
    CHECK(!m && strstr(tb_last_error(), "NVML could not start: Driver Not Loaded"), "init fails: %s",
          tb_last_error());
    unsetenv("TB_NVML_STANDIN_INIT_FAIL");

    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    setenv("TB_NVML_STANDIN_PID", pid, 1);
    m = tb_gpumon_open(NULL);
    CHECK(m != NULL, "stand-in NVML: %s", tb_last_error());
    if (!m)
        return check_finish();
    CHECK(tb_gpumon_count(m) == 2, "GPUs: %d", tb_gpumon_count(m));
    tb_gpu_reading r;
    CHECK(tb_gpumon_read(m, 0, &r) == 0, "GPU 0: %s", tb_last_error());
    CHECK(!strcmp(r.name, "Stand-in GPU A100-SXM4-80GB"), "name %s", r.name);
    CHECK(!strcmp(r.uuid, "GPU-5ba1d000-0000-4000-8000-00000000a100"), "uuid %s", r.uuid);
    CHECK(!strcmp(r.bus_id, "00000000:19:00.0"), "bus id %s", r.bus_id);
    CHECK_CLOSE(r.util_pct, 87, 1e-12, "utilisation");
    CHECK_CLOSE(r.mem_used, 13421772800.0, 1e-12, "memory used");
    CHECK_CLOSE(r.mem_total, 85899345920.0, 1e-12, "memory total");
    CHECK_CLOSE(r.power_w, 312.5, 1e-12, "power (mW to W)");
    CHECK_CLOSE(r.power_limit_w, 400, 1e-12, "power limit");
    CHECK_CLOSE(r.temp_c, 71, 1e-12, "temperature");
    CHECK_CLOSE(r.sm_mhz, 1410, 1e-12, "SM clock");
    CHECK_CLOSE(r.mem_mhz, 1593, 1e-12, "memory clock");
    CHECK(r.npids == 1 && r.pids[0] == (long)getpid(), "processes: %d, first %ld", r.npids,
          r.npids > 0 ? r.pids[0] : 0);
    CHECK(!r.note[0], "nothing failed on GPU 0: %s", r.note);
    /* GPU 1: no power readings (Not Supported), the rest there. */
    CHECK(tb_gpumon_read(m, 1, &r) == 0, "GPU 1: %s", tb_last_error());
    CHECK(!strcmp(r.name, "Stand-in GPU T4") && !strcmp(r.bus_id, "00000000:3B:00.0"), "GPU 1 %s %s", r.name,
          r.bus_id);
    CHECK(isnan(r.power_w) && isnan(r.power_limit_w), "power %g limit %g", r.power_w, r.power_limit_w);
    CHECK(!strcmp(r.note, "power: Not Supported"), "note: %s", r.note);
    CHECK_CLOSE(r.util_pct, 3, 1e-12, "GPU 1 utilisation");
    CHECK_CLOSE(r.mem_total, 17179869184.0, 1e-12, "GPU 1 memory total");
    CHECK_CLOSE(r.temp_c, 40, 1e-12, "GPU 1 temperature");
    CHECK(r.npids == 0, "GPU 1 processes: %d", r.npids);
    /* Past the last GPU: refused, readings unknown. */
    CHECK(tb_gpumon_read(m, 2, &r) == -1 && strstr(tb_last_error(), "NVML sees 2 GPUs"), "GPU 2: %s",
          tb_last_error());
    CHECK(isnan(r.util_pct) && !r.name[0], "%s", "GPU 2 reads as unknown");
    /* A rank's GPU by the bus id CUDA reports (short domain) or by UUID. */
    CHECK(tb_gpumon_find(m, "0000:19:00.0") == 0, "%s", "bus id with a 4-digit domain");
    CHECK(tb_gpumon_find(m, "00000000:3b:00.0") == 1, "%s", "bus id in lower case");
    CHECK(tb_gpumon_find(m, "GPU-5ba1d000-0000-4000-8000-0000000000t4") == 1, "%s", "UUID");
    CHECK(tb_gpumon_find(m, "0000:AF:00.0") == -1 && tb_gpumon_find(m, "") == -1, "%s", "unknown ids");
    tb_gpumon_close(m);
    tb_gpumon_close(NULL);
    /* Open again after a close: NVML starts again. */
    m = tb_gpumon_open(NULL);
    CHECK(m && tb_gpumon_count(m) == 2, "reopen: %s", m ? "" : tb_last_error());
    tb_gpumon_close(m);
    return check_finish();
}
