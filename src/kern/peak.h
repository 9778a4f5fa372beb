/* peak — the machine's arithmetic peaks, measured: fp32 fused multiply-adds
 * and int8 dot products per second, the limits prefill runs against (as
 * membw.h's bandwidth is decode's). */
#ifndef KERN_PEAK_H
#define KERN_PEAK_H

#include <stdint.h>

#include "base/pool.h"
#include "kern/kern.h"

/* One ISA's peak loops (kern/simd/peak_x86.c): each runs `steps` steps of
 * independent dependency chains, enough of them to cover the instruction's
 * latency, writes a value derived from every chain to *sink (so that no
 * step can be dropped) and returns the operations done: 2 per fp32
 * multiply-add, 2 per u8·s8 product (multiply and add, as GFLOP/s counts). */
typedef struct {
    const char *fma_how;  /* e.g. "12 ymm FMA chains" */
    const char *int8_how; /* e.g. "12 ymm maddubs chains" */
    uint64_t (*fma)(uint64_t steps, float *sink);
    uint64_t (*int8)(uint64_t steps, int32_t *sink);
} PeakLoops;

/* The loops for table k (its name: "avx2", "avx512"), or NULL where there
 * are none (generic, neon) or the CPU lacks the instructions. */
const PeakLoops *peak_loops(const Kern *k);

typedef struct {
    const char *fma_how, *int8_how;
    double fma_1, fma_all;   /* GFLOP/s: one thread, every thread of the pool */
    double int8_1, int8_all; /* GOP/s, the same */
    int threads;
} Peaks;

/* Measures k's peaks on one thread and on the pool's threads (NULL: one):
 * each pass about 20 ms, the best of 5. Returns 0, or -1 when k has no
 * peak loops (then *p is zeroed). */
int peak_measure(const Kern *k, Pool *pool, Peaks *p);

#endif
