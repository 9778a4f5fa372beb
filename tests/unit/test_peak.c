/* peak: the arithmetic peak loops run every step they count (their results
 * are the chains' values after exactly that many steps, computed here), the
 * tables without loops say so, and the probe gives positive rates on one
 * thread and on a pool. No timing is asserted. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "base/pool.h"
#include "harness.h"
#include "kern/peak.h"

/* lane 0 of the 12 (avx2) or 16 (avx512) FMA chains' sum after n steps:
 * each chain a = a·m + c from 0.5 (fp32 roundings: compared loosely) */
static double fma_want(int chains, uint64_t n) {
    double m = 0.999999f, c = 1e-6f, a = 0.5;
    for (uint64_t k = 0; k < n; k++) a = a * m + c;
    return chains * a;
}

/* lane 0 (int16) of avx2's 8 maddubs chains: u in {1, 2, 7, 9} twice,
 * b = k + 1 (int8) at step k, each lane adding 2·u·b (int16 wraps) */
static int16_t maddubs_want(uint64_t n) {
    uint16_t s = 0;
    for (uint64_t k = 0; k < n; k++) {
        int b = (int8_t)(uint8_t)(k + 1);
        s = (uint16_t)(s + 2 * 2 * (1 + 2 + 7 + 9) * b);
    }
    return (int16_t)s;
}

static void check_loops(const char *name, const PeakLoops *L) {
    int avx512 = !strcmp(name, "avx512");
    int chains = avx512 ? 16 : 12;
    float fs[16];
    int32_t is[16];
    for (uint64_t n = 1; n <= 3000; n = n * 7 + 1) {
        memset(fs, 0, sizeof fs), memset(is, 0, sizeof is);
        uint64_t ops = L->fma(n, fs);
        EXPECT(ops == n * (uint64_t)chains * (avx512 ? 16 : 8) * 2, "%s fma ops %llu for %llu steps", name,
               (unsigned long long)ops, (unsigned long long)n);
        double want = fma_want(chains, n);
        EXPECT(fabs(fs[0] - want) <= 1e-4 * want && fs[0] == fs[avx512 ? 15 : 7], "%s fma after %llu steps: %.9g, want %.9g",
               name, (unsigned long long)n, fs[0], want);
        ops = L->int8(n, is);
        EXPECT(ops == n * (avx512 ? 16 * 64 : 8 * 32) * 2, "%s int8 ops %llu for %llu steps", name,
               (unsigned long long)ops, (unsigned long long)n);
        if (avx512) /* each int32 lane: + 4·1·3 per step, 16 chains, chain i from 0 */
            EXPECT(is[0] == (int32_t)(16 * 12 * n), "%s vpdpbusd after %llu steps: %d", name, (unsigned long long)n, is[0]);
        else
            EXPECT((int16_t)(is[0] & 0xffff) == maddubs_want(n), "%s maddubs after %llu steps: %d, want %d", name,
                   (unsigned long long)n, (int16_t)(is[0] & 0xffff), maddubs_want(n));
    }
}

int main(void) {
    const char *names[] = {"generic", "avx2", "avx512", "neon"};
    Pool pool;
    EXPECT(pool_init(&pool, 2) == 0, "pool");
    for (int i = 0; i < 4; i++) {
        const Kern *k = kern_named(names[i]);
        if (!k) continue;
        const PeakLoops *L = peak_loops(k);
        Peaks p;
        if (!L) {
            EXPECT(i == 0 || i == 3, "%s has peak loops", names[i]);
            EXPECT(peak_measure(k, &pool, &p) == -1 && p.fma_all == 0 && !p.fma_how, "%s: no peaks", names[i]);
            continue;
        }
        check_loops(names[i], L);
        EXPECT(peak_measure(k, &pool, &p) == 0 && p.threads == 2 && p.fma_1 > 0 && p.fma_all > 0 && p.int8_1 > 0 &&
                   p.int8_all > 0 && p.fma_how && p.int8_how,
               "%s peaks: %g %g %g %g", names[i], p.fma_1, p.fma_all, p.int8_1, p.int8_all);
        EXPECT(peak_measure(k, NULL, &p) == 0 && p.threads == 1 && p.fma_all == p.fma_1 && p.int8_all == p.int8_1,
               "%s peaks on one thread", names[i]);
    }
    pool_free(&pool);
    return test_done("peak");
}
