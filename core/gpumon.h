/* GPU readings from NVIDIA's NVML (issue 18): libnvidia-ml.so.1, part of the
 * driver, is loaded with dlopen at run time, so trainbench builds and runs
 * on machines without a driver and says "no NVIDIA GPU (NVML not found)"
 * there.  The library is a vendor library found by name through the
 * dynamic linker's search path (LD_LIBRARY_PATH, ld.so.cache): whoever
 * controls that path controls the code loaded, as for any shared library.
 * Used by the workbench's resources panel; the engine can use it too. */
#ifndef TB_CORE_GPUMON_H
#define TB_CORE_GPUMON_H

#include <stddef.h>

enum { TB_GPUMON_MAX_PIDS = 32 };

/* One GPU's readings; a reading NVML could not give is NAN (and `note`
 * says which and why, for the first such one). */
typedef struct {
    char name[96], uuid[96], bus_id[32]; /* bus_id: "00000000:19:00.0" as NVML writes it */
    double util_pct;                     /* GPU busy, % of the last sample period */
    double mem_used, mem_total;          /* bytes */
    double power_w, power_limit_w;       /* draw and the enforced limit */
    double temp_c;
    double sm_mhz, mem_mhz;              /* current clocks */
    int npids;                           /* compute processes on it (-1: NVML cannot tell) */
    long pids[TB_GPUMON_MAX_PIDS];
    char note[192];
} tb_gpu_reading;

typedef struct tb_gpumon tb_gpumon;

/* Loads NVML (lib: a file name or path, NULL for "libnvidia-ml.so.1") and
 * starts it.  NULL after tb_fail: "no NVIDIA GPU (NVML not found): ..."
 * when the library cannot be loaded, else what NVML said. */
tb_gpumon *tb_gpumon_open(const char *lib);
/* GPUs NVML sees. */
int tb_gpumon_count(const tb_gpumon *m);
/* Readings of GPU i (0..count-1).  -1 after tb_fail when the GPU cannot be
 * reached at all (no handle, no name); a single reading that fails is NAN. */
int tb_gpumon_read(tb_gpumon *m, int i, tb_gpu_reading *r);
/* The index of the GPU whose PCI bus id or UUID is id (bus ids compared
 * without case and with the domain's leading zeros optional), or -1. */
int tb_gpumon_find(tb_gpumon *m, const char *id);
/* Shuts NVML down and unloads it; NULL is fine. */
void tb_gpumon_close(tb_gpumon *m);

#endif
