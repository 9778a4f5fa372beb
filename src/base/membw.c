#include "base/membw.h"

#include <stdint.h>
#include <stdlib.h>

#include "base/util.h"

typedef struct {
    const uint64_t *p;
    size_t n;
    uint64_t sum[64][8]; /* per thread, one cache line each: keeps the reads alive */
} ReadJob;

static void read_part(void *arg, int ith, int nth) {
    ReadJob *j = arg;
    size_t a = j->n * (size_t)ith / (size_t)nth, b = j->n * (size_t)(ith + 1) / (size_t)nth;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    for (size_t i = a; i + 8 <= b; i += 8) {
        s0 += j->p[i], s1 += j->p[i + 1], s2 += j->p[i + 2], s3 += j->p[i + 3];
        s4 += j->p[i + 4], s5 += j->p[i + 5], s6 += j->p[i + 6], s7 += j->p[i + 7];
    }
    j->sum[ith & 63][0] = s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7;
}

double membw_read_gbs(Pool *pool, size_t bytes, int reps) {
    uint64_t *buf = xmalloc(bytes);
    for (size_t i = 0; i < bytes / 8; i++) buf[i] = i;
    ReadJob *j = xcalloc(1, sizeof *j);
    j->p = buf;
    j->n = bytes / 8;
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
