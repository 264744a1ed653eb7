/* A stand-in for NVIDIA's libnvidia-ml.so.1 (issue 18): the NVML functions
 * core/gpumon.c calls, with fixed readings, so the GPU panel and its
 * readings are tested on machines without a GPU.  Built as
 * tests/libnvidia-ml.so.1 and found through LD_LIBRARY_PATH.
 *   GPU 0: every reading; its compute processes: the pid in
 *          TB_NVML_STANDIN_PID, if set.
 *   GPU 1: power and power limit "Not Supported", as on many boards.
 * TB_NVML_STANDIN_INIT_FAIL=1 makes nvmlInit_v2 fail ("Driver Not Loaded").
 * The types follow NVML API version 12, as core/gpumon.c declares them. */
#include <stdlib.h>
#include <string.h>

typedef int nvmlReturn_t;
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

enum { OK = 0, UNINIT = 1, INVALID = 2, NOT_SUPPORTED = 3, INSUFFICIENT = 7, DRIVER = 9 };

static int started;
static struct gpu {
    const char *name, *uuid, *bus;
    unsigned util, power_mw, limit_mw, temp, sm, mem_clk;
    unsigned long long total, used;
} gpus[2] = {
    {"Stand-in GPU A100-SXM4-80GB", "GPU-5ba1d000-0000-4000-8000-00000000a100", "00000000:19:00.0", 87, 312500,
     400000, 71, 1410, 1593, 85899345920ull, 13421772800ull},
    {"Stand-in GPU T4", "GPU-5ba1d000-0000-4000-8000-0000000000t4", "00000000:3B:00.0", 3, 0, 0, 40, 300, 405,
     17179869184ull, 1073741824ull},
};

static struct gpu *dev(nvmlDevice_t d)
{
    for (int i = 0; i < 2; i++)
        if (d == (nvmlDevice_t)&gpus[i])
            return &gpus[i];
    return NULL;
}

static void copy(char *dst, unsigned int size, const char *s)
{
    size_t n = strlen(s);
    n = n < size ? n : size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

#define CHECK_DEV(d)                                                                                      \
    struct gpu *g = dev(d);                                                                               \
    if (!started)                                                                                         \
        return UNINIT;                                                                                    \
    if (!g)                                                                                               \
        return INVALID;

nvmlReturn_t nvmlInit_v2(void)
{
    const char *f = getenv("TB_NVML_STANDIN_INIT_FAIL");
    if (f && !strcmp(f, "1"))
        return DRIVER;
    started++;
    return OK;
}

nvmlReturn_t nvmlShutdown(void)
{
    if (!started)
        return UNINIT;
    started--;
    return OK;
}

const char *nvmlErrorString(nvmlReturn_t rc)
{
    switch (rc) {
    case OK:
        return "Success";
    case UNINIT:
        return "Uninitialized";
    case INVALID:
        return "Invalid Argument";
    case NOT_SUPPORTED:
        return "Not Supported";
    case INSUFFICIENT:
        return "Insufficient Size";
    case DRIVER:
        return "Driver Not Loaded";
    default:
        return "Unknown Error";
    }
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n)
{
    if (!started)
        return UNINIT;
    *n = 2;
    return OK;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d)
{
    if (!started)
        return UNINIT;
    if (i >= 2)
        return INVALID;
    *d = (nvmlDevice_t)&gpus[i];
    return OK;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *name, unsigned int size)
{
    CHECK_DEV(d);
    copy(name, size, g->name);
    return OK;
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *uuid, unsigned int size)
{
    CHECK_DEV(d);
    copy(uuid, size, g->uuid);
    return OK;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p)
{
    CHECK_DEV(d);
    memset(p, 0, sizeof *p);
    copy(p->busId, sizeof p->busId, g->bus);
    copy(p->busIdLegacy, sizeof p->busIdLegacy, g->bus + 4);
    return OK;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u)
{
    CHECK_DEV(d);
    u->gpu = g->util;
    u->memory = g->util / 2;
    return OK;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t d, nvmlMemory_t *m)
{
    CHECK_DEV(d);
    m->total = g->total;
    m->used = g->used;
    m->free = g->total - g->used;
    return OK;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t d, unsigned int *mw)
{
    CHECK_DEV(d);
    if (!g->power_mw)
        return NOT_SUPPORTED;
    *mw = g->power_mw;
    return OK;
}

nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t d, unsigned int *mw)
{
    CHECK_DEV(d);
    if (!g->limit_mw)
        return NOT_SUPPORTED;
    *mw = g->limit_mw;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t)
{
    CHECK_DEV(d);
    if (sensor != 0)
        return INVALID;
    *t = g->temp;
    return OK;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *mhz)
{
    CHECK_DEV(d);
    if (type != 1 && type != 2) /* SM, memory */
        return INVALID;
    *mhz = type == 1 ? g->sm : g->mem_clk;
    return OK;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *infos)
{
    CHECK_DEV(d);
    const char *pid = getenv("TB_NVML_STANDIN_PID");
    unsigned n = g == &gpus[0] && pid && atoi(pid) > 0;
    if (*count < n) {
        *count = n;
        return INSUFFICIENT;
    }
    *count = n;
    if (n) {
        memset(infos, 0, sizeof *infos);
        infos[0].pid = (unsigned)atoi(pid);
        infos[0].usedGpuMemory = g->used;
    }
    return OK;
}
