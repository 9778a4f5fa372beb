/* pool: every thread runs every call, exactly once, and pool_run returns only
 * when all are done. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "harness.h"

typedef struct {
    int nth_seen[8];
    long sum[8]; /* written by thread ith only */
    atomic_long total;
    int round;
} Job;

static void job(void *arg, int ith, int nth) {
    Job *j = arg;
    j->nth_seen[ith] = nth;
    long s = 0;
    for (int i = ith; i < 1000; i += nth) s += i + j->round;
    j->sum[ith] += s;
    atomic_fetch_add(&j->total, s);
}

int main(void) {
    EXPECT(pool_cpus() >= 1, "cpus");
    pool_run(NULL, job, &(Job){0}); /* NULL pool: one thread */
    for (int n = 1; n <= 8; n++) {
        Pool p;
        EXPECT(pool_init(&p, n) == 0, "init %d", n);
        EXPECT(pool_threads(&p) == n, "threads %d", n);
        Job j;
        memset(&j, 0, sizeof j);
        atomic_init(&j.total, 0);
        long want = 0;
        for (int r = 0; r < 500; r++) {
            j.round = r; /* written between runs: the barrier orders it */
            pool_run(&p, job, &j);
            want += 999L * 1000 / 2 + 1000L * r;
            EXPECTQ(atomic_load(&j.total) == want, "n=%d round %d: total %ld want %ld", n, r,
                    atomic_load(&j.total), want);
            long s = 0;
            for (int i = 0; i < n; i++) s += j.sum[i];
            EXPECTQ(s == want, "n=%d round %d: per-thread sums %ld want %ld", n, r, s, want);
        }
        for (int i = 0; i < n; i++) EXPECT(j.nth_seen[i] == n, "n=%d thread %d saw nth %d", n, i, j.nth_seen[i]);
        pool_free(&p);
        pool_free(&p); /* freed twice: harmless */
    }
    Pool z;
    memset(&z, 0, sizeof z);
    pool_free(&z);
    return test_done("pool");
}
