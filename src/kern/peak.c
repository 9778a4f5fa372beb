/* peak — the arithmetic peak probe (see peak.h). */
#include "kern/peak.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

typedef struct {
    const PeakLoops *L;
    int int8;
    uint64_t steps;
    uint64_t ops[64][8]; /* per thread, one cache line each */
    float fsink[64][16];
    int32_t isink[64][16];
} PeakJob;

static void peak_part(void *arg, int ith, int nth) {
    PeakJob *j = arg;
    (void)nth;
    int i = ith & 63;
    j->ops[i][0] = j->int8 ? j->L->int8(j->steps, j->isink[i]) : j->L->fma(j->steps, j->fsink[i]);
}

/* Ops per second of the loop on nth threads (pool NULL: this one), best
 * of 3 passes of j->steps steps. */
static double best_rate(PeakJob *j, Pool *pool) {
    double best = 0;
    int nth = pool_threads(pool);
    for (int r = 0; r < 5; r++) {
        double t0 = now_seconds();
        if (pool) pool_run(pool, peak_part, j);
        else peak_part(j, 0, 1);
        double dt = now_seconds() - t0;
        double ops = 0;
        for (int i = 0; i < nth && i < 64; i++) ops += (double)j->ops[i][0];
        if (dt > 0 && ops / dt > best) best = ops / dt;
    }
    return best;
}

/* One loop's rates: steps scaled from a short pass to about 20 ms a pass. */
static void measure(const PeakLoops *L, int int8, Pool *pool, double *one, double *all) {
    PeakJob *j = xcalloc(1, sizeof *j);
    j->L = L, j->int8 = int8, j->steps = 1 << 14;
    double t0 = now_seconds();
    peak_part(j, 0, 1);
    double dt = now_seconds() - t0;
    double want = 0.02 / (dt > 1e-6 ? dt : 1e-6) * (double)j->steps;
    j->steps = want < 1e3 ? 1000 : want > 1e9 ? 1000000000 : (uint64_t)want;
    *one = best_rate(j, NULL) / 1e9;
    *all = pool_threads(pool) > 1 ? best_rate(j, pool) / 1e9 : *one;
    free(j);
}

int peak_measure(const Kern *k, Pool *pool, Peaks *p) {
    memset(p, 0, sizeof *p);
    p->threads = pool_threads(pool);
    const PeakLoops *L = peak_loops(k);
    if (!L) return -1;
    p->fma_how = L->fma_how, p->int8_how = L->int8_how;
    measure(L, 0, pool, &p->fma_1, &p->fma_all);
    measure(L, 1, pool, &p->int8_1, &p->int8_all);
    return 0;
}
