/* NVML through dlopen; see gpumon.h.  The types and constants below are
 * declared here, not taken from nvml.h (the CUDA toolkit's copy is not on
 * every build machine): they follow NVML API version 12 (driver R525 and
 * later; the _v2/_v3 entry points exist since R450/R510), whose layouts
 * NVIDIA keeps stable per versioned entry point. */
#include "core/gpumon.h"

#include "core/error.h" // uses: tb_fail, tb_calloc

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef int nvmlReturn_t; /* NVML_SUCCESS = 0 */
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t; /* nvmlDeviceGetMemoryInfo (v1) */
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t; /* nvmlDeviceGetPciInfo_v3 */
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t; /* nvmlDeviceGetComputeRunningProcesses_v3 (nvmlProcessInfo_v2_t) */
/* The sizes nvml.h's structs have on x86-64 and aarch64: a typo here would
 * make NVML write past them. */
_Static_assert(sizeof(nvmlPciInfo_t) == 68, "nvmlPciInfo_t (v3) is 68 bytes");
_Static_assert(sizeof(nvmlProcessInfo_t) == 24, "nvmlProcessInfo_v2_t is 24 bytes");
_Static_assert(sizeof(nvmlMemory_t) == 24, "nvmlMemory_t (v1) is 24 bytes");

enum { NVML_ERROR_INSUFFICIENT_SIZE = 7, NVML_TEMPERATURE_GPU = 0, NVML_CLOCK_SM = 1, NVML_CLOCK_MEM = 2 };

typedef struct {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    const char *(*error_string)(nvmlReturn_t);
    nvmlReturn_t (*count)(unsigned int *);
    nvmlReturn_t (*handle)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*name)(nvmlDevice_t, char *, unsigned int);
    /* optional: an old driver without one gives NAN for its readings */
    nvmlReturn_t (*uuid)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*pci)(nvmlDevice_t, nvmlPciInfo_t *);
    nvmlReturn_t (*util)(nvmlDevice_t, nvmlUtilization_t *);
    nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*power)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*limit)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*temp)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*clock)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*procs)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
} nvml_fns;

struct tb_gpumon {
    void *lib;
    nvml_fns f;
    int count;
};

/* Symbol name, where its pointer goes, whether it must be there. */
static const struct {
    const char *name;
    size_t offset;
    int required;
} symbols[] = {
    {"nvmlInit_v2", offsetof(nvml_fns, init), 1},
    {"nvmlShutdown", offsetof(nvml_fns, shutdown), 1},
    {"nvmlErrorString", offsetof(nvml_fns, error_string), 1},
    {"nvmlDeviceGetCount_v2", offsetof(nvml_fns, count), 1},
    {"nvmlDeviceGetHandleByIndex_v2", offsetof(nvml_fns, handle), 1},
    {"nvmlDeviceGetName", offsetof(nvml_fns, name), 1},
    {"nvmlDeviceGetUUID", offsetof(nvml_fns, uuid), 0},
    {"nvmlDeviceGetPciInfo_v3", offsetof(nvml_fns, pci), 0},
    {"nvmlDeviceGetUtilizationRates", offsetof(nvml_fns, util), 0},
    {"nvmlDeviceGetMemoryInfo", offsetof(nvml_fns, mem), 0},
    {"nvmlDeviceGetPowerUsage", offsetof(nvml_fns, power), 0},
    {"nvmlDeviceGetEnforcedPowerLimit", offsetof(nvml_fns, limit), 0},
    {"nvmlDeviceGetTemperature", offsetof(nvml_fns, temp), 0},
    {"nvmlDeviceGetClockInfo", offsetof(nvml_fns, clock), 0},
    {"nvmlDeviceGetComputeRunningProcesses_v3", offsetof(nvml_fns, procs), 0},
};

static const char *errstr(const tb_gpumon *m, nvmlReturn_t rc)
{
    const char *s = m->f.error_string(rc);
    return s && *s ? s : "unknown NVML error";
}

tb_gpumon *tb_gpumon_open(const char *lib)
{
    const char *file = lib ? lib : "libnvidia-ml.so.1";
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        tb_fail("no NVIDIA GPU (NVML not found): %s; GPU readings need the NVIDIA driver's %s on the library path",
                why ? why : file, file);
        return NULL;
    }
    tb_gpumon *m = tb_calloc(1, sizeof *m, "NVML state");
    if (!m) {
        dlclose(h);
        return NULL;
    }
    m->lib = h;
    for (size_t i = 0; i < sizeof symbols / sizeof *symbols; i++) {
        void *sym = dlsym(h, symbols[i].name);
        if (!sym && symbols[i].required) {
            tb_fail("%s has no %s: the NVIDIA driver is too old for trainbench's GPU readings (R450 or later needed)",
                    file, symbols[i].name);
            dlclose(h);
            free(m);
            return NULL;
        }
        /* a data pointer into a function pointer: memcpy, as POSIX dlsym intends */
        memcpy((char *)&m->f + symbols[i].offset, &sym, sizeof sym);
    }
    nvmlReturn_t rc = m->f.init();
    if (rc) {
        tb_fail("NVML could not start: %s (is the NVIDIA driver loaded? nvidia-smi tells)", errstr(m, rc));
        dlclose(h);
        free(m);
        return NULL;
    }
    unsigned int n = 0;
    rc = m->f.count(&n);
    if (rc) {
        tb_fail("NVML cannot count the GPUs: %s", errstr(m, rc));
        tb_gpumon_close(m);
        return NULL;
    }
    m->count = n > 64 ? 64 : (int)n; /* more than any node has: a broken library */
    return m;
}

int tb_gpumon_count(const tb_gpumon *m)
{
    return m ? m->count : 0;
}

/* The first failed reading's name and NVML's reason go to the note. */
static void note(const tb_gpumon *m, tb_gpu_reading *r, const char *what, nvmlReturn_t rc)
{
    if (!r->note[0])
        snprintf(r->note, sizeof r->note, "%s: %s", what, rc < 0 ? "not in this NVML" : errstr(m, rc));
}

int tb_gpumon_read(tb_gpumon *m, int i, tb_gpu_reading *r)
{
    memset(r, 0, sizeof *r);
    r->util_pct = r->mem_used = r->mem_total = r->power_w = r->power_limit_w = NAN;
    r->temp_c = r->sm_mhz = r->mem_mhz = NAN;
    r->npids = -1;
    if (!m || i < 0 || i >= m->count)
        return tb_fail("GPU %d: NVML sees %d GPU%s", i, m ? m->count : 0, m && m->count == 1 ? "" : "s");
    nvmlDevice_t d;
    nvmlReturn_t rc = m->f.handle((unsigned)i, &d);
    if (rc)
        return tb_fail("GPU %d: NVML gives no handle: %s", i, errstr(m, rc));
    if ((rc = m->f.name(d, r->name, sizeof r->name)))
        return tb_fail("GPU %d: NVML gives no name: %s", i, errstr(m, rc));
    r->name[sizeof r->name - 1] = '\0'; /* a library that fills the buffer */
    /* -1 stands for "the driver lacks the function". */
    if ((rc = m->f.uuid ? m->f.uuid(d, r->uuid, sizeof r->uuid) : -1)) {
        r->uuid[0] = '\0';
        note(m, r, "UUID", rc);
    }
    r->uuid[sizeof r->uuid - 1] = '\0';
    nvmlPciInfo_t pci;
    memset(&pci, 0, sizeof pci);
    if ((rc = m->f.pci ? m->f.pci(d, &pci) : -1))
        note(m, r, "PCI bus id", rc);
    else
        snprintf(r->bus_id, sizeof r->bus_id, "%.*s", (int)sizeof pci.busId, pci.busId);
    nvmlUtilization_t u;
    if ((rc = m->f.util ? m->f.util(d, &u) : -1))
        note(m, r, "utilisation", rc);
    else
        r->util_pct = u.gpu;
    nvmlMemory_t mem;
    if ((rc = m->f.mem ? m->f.mem(d, &mem) : -1))
        note(m, r, "memory", rc);
    else {
        r->mem_used = (double)mem.used;
        r->mem_total = (double)mem.total;
    }
    unsigned int v;
    if ((rc = m->f.power ? m->f.power(d, &v) : -1))
        note(m, r, "power", rc);
    else
        r->power_w = v / 1000.0; /* milliwatts */
    if ((rc = m->f.limit ? m->f.limit(d, &v) : -1))
        note(m, r, "power limit", rc);
    else
        r->power_limit_w = v / 1000.0;
    if ((rc = m->f.temp ? m->f.temp(d, NVML_TEMPERATURE_GPU, &v) : -1))
        note(m, r, "temperature", rc);
    else
        r->temp_c = v;
    if ((rc = m->f.clock ? m->f.clock(d, NVML_CLOCK_SM, &v) : -1))
        note(m, r, "SM clock", rc);
    else
        r->sm_mhz = v;
    if ((rc = m->f.clock ? m->f.clock(d, NVML_CLOCK_MEM, &v) : -1))
        note(m, r, "memory clock", rc);
    else
        r->mem_mhz = v;
    nvmlProcessInfo_t p[TB_GPUMON_MAX_PIDS];
    unsigned int np = TB_GPUMON_MAX_PIDS;
    rc = m->f.procs ? m->f.procs(d, &np, p) : -1;
    if (rc == NVML_ERROR_INSUFFICIENT_SIZE) /* more than we keep: the first ones are enough */
        np = 0;
    if (rc && rc != NVML_ERROR_INSUFFICIENT_SIZE)
        note(m, r, "processes", rc);
    else {
        r->npids = np > TB_GPUMON_MAX_PIDS ? TB_GPUMON_MAX_PIDS : (int)np;
        for (int k = 0; k < r->npids; k++)
            r->pids[k] = p[k].pid;
    }
    return 0;
}

/* "00000000:19:00.0" and "0000:19:00.0" name the same GPU. */
static const char *skip_domain_zeros(const char *s)
{
    const char *c = strchr(s, ':');
    if (!c)
        return s;
    const char *p = s;
    while (p < c - 4 && *p == '0')
        p++;
    return p;
}

int tb_gpumon_find(tb_gpumon *m, const char *id)
{
    if (!id || !*id)
        return -1;
    for (int i = 0; i < tb_gpumon_count(m); i++) {
        tb_gpu_reading r;
        if (tb_gpumon_read(m, i, &r))
            continue;
        if ((r.uuid[0] && !strcmp(r.uuid, id)) ||
            (r.bus_id[0] && !strcasecmp(skip_domain_zeros(r.bus_id), skip_domain_zeros(id))))
            return i;
    }
    return -1;
}

void tb_gpumon_close(tb_gpumon *m)
{
    if (!m)
        return;
    m->f.shutdown(); /* nothing to do about a failure on the way out */
    dlclose(m->lib);
    free(m);
}
