/*
 * A stand-in libnvidia-ml.so for kpid's tests: the NVML functions kpid calls (through
 * nvml-wrapper), with the real signatures and struct layouts of nvml.h, returning values and
 * failures scripted in the file named by $KPID_NVML_SCRIPT, read at nvmlInit_v2. Built by
 * tests/gpu.rs with `cc -shared -fPIC` and opened by kpid through `[sample] nvml_library`,
 * the same dlopen a real driver's library goes through.
 *
 * Script, one directive a line ('#' starts a comment):
 *   fail SYMBOL CODE          before any `gpu`: SYMBOL returns CODE (nvmlInit_v2 too)
 *   gpu                       starts the next GPU; the lines after it describe it:
 *   name TEXT | uuid TEXT | bus TEXT | minor N | mig 0|1
 *   util GPU MEM              percent
 *   memory TOTAL USED         bytes (free = total - used)
 *   temp C | power MW | energy MJ | clock_sm MHZ | clock_mem MHZ
 *   pcie_tx KBS | pcie_rx KBS | throttle BITS | ecc CORRECTED UNCORRECTED
 *   proc PID BYTES SM         a running compute process (SM percent, sampled "now")
 *   xid CODE                  one XID event, delivered once
 *   fail SYMBOL CODE          SYMBOL returns CODE for this GPU
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef int nvmlReturn_t;
enum {
    OK = 0, UNINITIALIZED = 1, INVALID_ARGUMENT = 2, NOT_SUPPORTED = 3,
    NOT_FOUND = 6, INSUFFICIENT_SIZE = 7, TIMEOUT = 10
};

typedef struct { unsigned int gpu, memory; } nvmlUtilization_t;
typedef struct {
    unsigned int version;
    unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;
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
typedef struct {
    unsigned int pid;
    unsigned long long timeStamp;
    unsigned int smUtil, memUtil, encUtil, decUtil;
} nvmlProcessUtilizationSample_t;

#define MAX_GPUS 8
#define MAX_PROCS 16
#define MAX_FAILS 16
#define MAX_XIDS 16

struct fail { char sym[64]; int code; };
struct proc { unsigned int pid, sm; unsigned long long bytes; };
struct gpu {
    unsigned int index;
    char name[96], uuid[96], bus[32];
    unsigned int minor, mig, util_gpu, util_mem, temp, power, clock_sm, clock_mem;
    unsigned int pcie_tx, pcie_rx;
    unsigned long long total, used, energy, throttle, ecc[2];
    struct proc procs[MAX_PROCS];
    int nprocs;
    unsigned long long xids[MAX_XIDS];
    int nxids, xid_read, events;
    struct fail fails[MAX_FAILS];
    int nfails;
};

typedef struct gpu *nvmlDevice_t;
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;
typedef struct { int used; } *nvmlEventSet_t;

static struct gpu gpus[MAX_GPUS];
static int ngpus;
static struct fail global_fails[MAX_FAILS];
static int nglobal;
static int initialised;
static struct { int used; } the_set;

static int failing(const struct gpu *g, const char *sym) {
    for (int i = 0; i < nglobal; i++)
        if (strcmp(global_fails[i].sym, sym) == 0) return global_fails[i].code;
    if (g)
        for (int i = 0; i < g->nfails; i++)
            if (strcmp(g->fails[i].sym, sym) == 0) return g->fails[i].code;
    return 0;
}

#define CHECK(g, sym) do { \
    if (!initialised) return UNINITIALIZED; \
    int rc_ = failing((g), sym); \
    if (rc_) return rc_; \
} while (0)

static void read_script(void) {
    memset(gpus, 0, sizeof gpus);
    ngpus = 0;
    nglobal = 0;
    const char *path = getenv("KPID_NVML_SCRIPT");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return;
    char line[512];
    struct gpu *g = NULL;
    while (fgets(line, sizeof line, f)) {
        char key[64] = "", rest[400] = "";
        line[strcspn(line, "\r\n#")] = 0;
        if (sscanf(line, "%63s %399[^\n]", key, rest) < 1) continue;
        if (strcmp(key, "gpu") == 0 && ngpus < MAX_GPUS) {
            g = &gpus[ngpus];
            g->index = (unsigned int)ngpus++;
            snprintf(g->name, sizeof g->name, "Stand-in GPU");
            snprintf(g->uuid, sizeof g->uuid, "GPU-00000000-0000-0000-0000-00000000000%u", g->index);
            snprintf(g->bus, sizeof g->bus, "00000000:%02X:00.0", 0x10 + g->index);
            g->minor = g->index;
        } else if (strcmp(key, "fail") == 0) {
            struct fail *fl = NULL;
            if (!g && nglobal < MAX_FAILS) fl = &global_fails[nglobal++];
            else if (g && g->nfails < MAX_FAILS) fl = &g->fails[g->nfails++];
            if (fl) sscanf(rest, "%63s %d", fl->sym, &fl->code);
        } else if (!g) {
            continue;
        } else if (strcmp(key, "name") == 0) snprintf(g->name, sizeof g->name, "%s", rest);
        else if (strcmp(key, "uuid") == 0) snprintf(g->uuid, sizeof g->uuid, "%s", rest);
        else if (strcmp(key, "bus") == 0) snprintf(g->bus, sizeof g->bus, "%s", rest);
        else if (strcmp(key, "minor") == 0) g->minor = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "mig") == 0) g->mig = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "util") == 0) sscanf(rest, "%u %u", &g->util_gpu, &g->util_mem);
        else if (strcmp(key, "memory") == 0) sscanf(rest, "%llu %llu", &g->total, &g->used);
        else if (strcmp(key, "temp") == 0) g->temp = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "power") == 0) g->power = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "energy") == 0) g->energy = strtoull(rest, NULL, 10);
        else if (strcmp(key, "clock_sm") == 0) g->clock_sm = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "clock_mem") == 0) g->clock_mem = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "pcie_tx") == 0) g->pcie_tx = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "pcie_rx") == 0) g->pcie_rx = (unsigned int)strtoul(rest, NULL, 10);
        else if (strcmp(key, "throttle") == 0) g->throttle = strtoull(rest, NULL, 0);
        else if (strcmp(key, "ecc") == 0) sscanf(rest, "%llu %llu", &g->ecc[0], &g->ecc[1]);
        else if (strcmp(key, "proc") == 0 && g->nprocs < MAX_PROCS) {
            struct proc *p = &g->procs[g->nprocs++];
            sscanf(rest, "%u %llu %u", &p->pid, &p->bytes, &p->sm);
        } else if (strcmp(key, "xid") == 0 && g->nxids < MAX_XIDS)
            g->xids[g->nxids++] = strtoull(rest, NULL, 10);
    }
    fclose(f);
}

nvmlReturn_t nvmlInit_v2(void) {
    read_script();
    int rc = failing(NULL, "nvmlInit_v2");
    if (rc) return rc;
    initialised = 1;
    return OK;
}

nvmlReturn_t nvmlShutdown(void) { initialised = 0; return OK; }

nvmlReturn_t nvmlSystemGetDriverVersion(char *v, unsigned int n) {
    CHECK(NULL, "nvmlSystemGetDriverVersion");
    snprintf(v, n, "550.54.15");
    return OK;
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *n) {
    CHECK(NULL, "nvmlDeviceGetCount_v2");
    *n = (unsigned int)ngpus;
    return OK;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int i, nvmlDevice_t *d) {
    if (i >= (unsigned int)ngpus) return INVALID_ARGUMENT;
    CHECK(&gpus[i], "nvmlDeviceGetHandleByIndex_v2");
    *d = &gpus[i];
    return OK;
}

static nvmlReturn_t text(const char *s, char *out, unsigned int n) {
    if (strlen(s) + 1 > n) return INSUFFICIENT_SIZE;
    memcpy(out, s, strlen(s) + 1);
    return OK;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t d, char *s, unsigned int n) {
    CHECK(d, "nvmlDeviceGetName");
    return text(d->name, s, n);
}

nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t d, char *s, unsigned int n) {
    CHECK(d, "nvmlDeviceGetUUID");
    return text(d->uuid, s, n);
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t d, nvmlPciInfo_t *p) {
    CHECK(d, "nvmlDeviceGetPciInfo_v3");
    memset(p, 0, sizeof *p);
    snprintf(p->busId, sizeof p->busId, "%s", d->bus);
    snprintf(p->busIdLegacy, sizeof p->busIdLegacy, "%s", d->bus + 4);
    p->bus = 0x10 + d->index;
    p->pciDeviceId = 0x233510de;
    return OK;
}

#define GET(fn, field, type) \
    nvmlReturn_t fn(nvmlDevice_t d, type *v) { CHECK(d, #fn); *v = d->field; return OK; }

GET(nvmlDeviceGetMinorNumber, minor, unsigned int)
GET(nvmlDeviceGetIndex, index, unsigned int)
GET(nvmlDeviceGetPowerUsage, power, unsigned int)
GET(nvmlDeviceGetTotalEnergyConsumption, energy, unsigned long long)
GET(nvmlDeviceGetCurrentClocksThrottleReasons, throttle, unsigned long long)

nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t d, unsigned int *cur, unsigned int *pending) {
    CHECK(d, "nvmlDeviceGetMigMode");
    *cur = *pending = d->mig;
    return OK;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t d, nvmlUtilization_t *u) {
    CHECK(d, "nvmlDeviceGetUtilizationRates");
    if (d->mig) return NOT_SUPPORTED; /* as on a GPU in MIG mode */
    u->gpu = d->util_gpu;
    u->memory = d->util_mem;
    return OK;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t d, nvmlMemory_v2_t *m) {
    CHECK(d, "nvmlDeviceGetMemoryInfo_v2");
    if (m->version != (unsigned int)(sizeof(nvmlMemory_v2_t) | (2u << 24))) return INVALID_ARGUMENT;
    m->total = d->total;
    m->used = d->used;
    m->free = d->total - d->used;
    m->reserved = 0;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t d, int sensor, unsigned int *t) {
    CHECK(d, "nvmlDeviceGetTemperature");
    if (sensor != 0) return INVALID_ARGUMENT;
    *t = d->temp;
    return OK;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t d, int type, unsigned int *c) {
    CHECK(d, "nvmlDeviceGetClockInfo");
    if (type == 1) *c = d->clock_sm;       /* NVML_CLOCK_SM */
    else if (type == 2) *c = d->clock_mem; /* NVML_CLOCK_MEM */
    else return INVALID_ARGUMENT;
    return OK;
}

nvmlReturn_t nvmlDeviceGetPcieThroughput(nvmlDevice_t d, int counter, unsigned int *v) {
    CHECK(d, "nvmlDeviceGetPcieThroughput");
    if (counter == 0) *v = d->pcie_tx;      /* NVML_PCIE_UTIL_TX_BYTES */
    else if (counter == 1) *v = d->pcie_rx; /* NVML_PCIE_UTIL_RX_BYTES */
    else return INVALID_ARGUMENT;
    return OK;
}

nvmlReturn_t nvmlDeviceGetTotalEccErrors(nvmlDevice_t d, int type, int counter, unsigned long long *n) {
    CHECK(d, "nvmlDeviceGetTotalEccErrors");
    if ((type != 0 && type != 1) || counter != 0) return INVALID_ARGUMENT;
    *n = d->ecc[type];
    return OK;
}

nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t d, unsigned int *count, nvmlProcessInfo_t *out) {
    CHECK(d, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (*count < (unsigned int)d->nprocs || (!out && d->nprocs > 0)) {
        *count = (unsigned int)d->nprocs;
        return INSUFFICIENT_SIZE;
    }
    for (int i = 0; i < d->nprocs; i++) {
        out[i].pid = d->procs[i].pid;
        out[i].usedGpuMemory = d->procs[i].bytes;
        out[i].gpuInstanceId = out[i].computeInstanceId = 0xFFFFFFFF;
    }
    *count = (unsigned int)d->nprocs;
    return OK;
}

static unsigned long long now_us(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (unsigned long long)tv.tv_sec * 1000000ull + (unsigned long long)tv.tv_usec;
}

nvmlReturn_t nvmlDeviceGetProcessUtilization(nvmlDevice_t d, nvmlProcessUtilizationSample_t *out, unsigned int *count, unsigned long long last) {
    CHECK(d, "nvmlDeviceGetProcessUtilization");
    if (d->mig) return NOT_SUPPORTED;
    unsigned long long ts = now_us();
    if (d->nprocs == 0 || ts <= last) return NOT_FOUND;
    if (!out || *count < (unsigned int)d->nprocs) {
        *count = (unsigned int)d->nprocs;
        return INSUFFICIENT_SIZE;
    }
    for (int i = 0; i < d->nprocs; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].pid = d->procs[i].pid;
        out[i].timeStamp = ts;
        out[i].smUtil = d->procs[i].sm;
    }
    *count = (unsigned int)d->nprocs;
    return OK;
}

nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    CHECK(NULL, "nvmlEventSetCreate");
    the_set.used = 1;
    *set = (nvmlEventSet_t)&the_set;
    return OK;
}

nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    (void)set;
    for (int i = 0; i < ngpus; i++) gpus[i].events = 0;
    return OK;
}

nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t d, unsigned long long types, nvmlEventSet_t set) {
    CHECK(d, "nvmlDeviceRegisterEvents");
    (void)set;
    if (types & 0x8ull) d->events = 1; /* nvmlEventTypeXidCriticalError */
    return OK;
}

nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeout_ms) {
    (void)set;
    (void)timeout_ms;
    CHECK(NULL, "nvmlEventSetWait_v2");
    for (int i = 0; i < ngpus; i++) {
        struct gpu *g = &gpus[i];
        if (g->events && g->xid_read < g->nxids) {
            memset(data, 0, sizeof *data);
            data->device = g;
            data->eventType = 0x8ull;
            data->eventData = g->xids[g->xid_read++];
            return OK;
        }
    }
    return TIMEOUT;
}
