/* membw — the memory read bandwidth probe (see membw.h). */
#include "kern/membw.h"

#include <stdint.h>
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

double membw_probe(const Kern *k, Pool *pool) {
    double best = 0;
    for (size_t mib = 512; mib <= 2048; mib *= 2) {
        double g = membw_read_gbs(k, pool, mib << 20, 3);
        if (g > best) best = g;
    }
    return best;
}

size_t membw_llc_bytes(void) {
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
