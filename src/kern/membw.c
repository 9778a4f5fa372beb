/* membw — the memory read bandwidth probe (see membw.h). */
#include "kern/membw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"

typedef struct {
    const Kern *k;
    const char *p;
    size_t bytes;
    uint64_t sum[64][8]; /* per thread, one cache line each: keeps the reads alive */
} ReadJob;

static void read_part(void *arg, int ith, int nth) {
    ReadJob *j = arg;
    size_t lines = j->bytes / 256, a = lines * (size_t)ith / (size_t)nth, b = lines * (size_t)(ith + 1) / (size_t)nth;
    j->sum[ith & 63][0] = j->k->read_lines(j->p + a * 256, (b - a) * 256);
}

double membw_read_gbs(const Kern *k, Pool *pool, size_t bytes, int reps) {
    bytes &= ~(size_t)255;
    char *buf = xmalloc(bytes);
    memset(buf, 1, bytes); /* every page in before the clock starts */
    ReadJob *j = xcalloc(1, sizeof *j);
    j->k = k, j->p = buf, j->bytes = bytes;
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = now_seconds();
        if (pool) pool_run(pool, read_part, j);
        else read_part(j, 0, 1);
        double gbs = (double)bytes / (now_seconds() - t0) / 1e9;
        if (gbs > best) best = gbs;
    }
    free(j);
    free(buf);
    return best;
}

double membw_probe(const Kern *k, Pool *pool, size_t room, size_t *largest) {
    double best = 0;
    size_t most = 0;
    for (size_t mib = 512; mib <= 2048 && (mib << 20) <= room; mib *= 2) {
        double g = membw_read_gbs(k, pool, mib << 20, 3);
        if (g > best) best = g;
        most = mib << 20;
    }
    if (!most && room / (1 << 20) * (1 << 20) >= membw_min_bytes()) {
        most = room / (1 << 20) * (1 << 20);
        best = membw_read_gbs(k, pool, most, 3);
    }
    if (largest) *largest = most;
    return best;
}

size_t membw_min_bytes(void) {
    size_t four = 4 * membw_llc_bytes();
    return four > ((size_t)64 << 20) ? four : (size_t)64 << 20;
}

/* The size of the highest cache level Linux lists for cpu0 (sysfs), 0 if
 * none: under a hypervisor, sysconf's cpuid-based answer can be the host's
 * (a Zen 4 VM with 32 MiB of L3 per sysfs reported 320 MiB). */
static size_t sysfs_llc_bytes(void) {
    size_t best = 0;
    int best_level = 0;
    for (int i = 0; i < 16; i++) {
        char path[96], text[32];
        int level = 0;
        size_t kib = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%d", &level) != 1) level = 0;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r"))) continue;
        if (fgets(text, sizeof text, f)) {
            char unit = 0;
            if (sscanf(text, "%zu%c", &kib, &unit) >= 1)
                kib = unit == 'M' ? kib << 10 : unit == 'G' ? kib << 20 : unit == 'K' ? kib : kib >> 10;
        }
        fclose(f);
        if (level > best_level && kib) best_level = level, best = kib << 10;
    }
    return best;
}

size_t membw_llc_bytes(void) {
    size_t sys = sysfs_llc_bytes();
    if (sys) return sys;
#ifdef _SC_LEVEL3_CACHE_SIZE
    long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (l3 > 0) return (size_t)l3;
#endif
#ifdef _SC_LEVEL2_CACHE_SIZE
    long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 > 0) return (size_t)l2;
#endif
    return 0;
}
