/* simd — what only the instruction-set files of the kernel table share
 * (the table itself and its contract: kern/kern.h). */
#ifndef KERN_SIMD_H
#define KERN_SIMD_H

#include "kern/kern.h"

/* q4_K/q5_K's 6-bit scale and min of sub-block j (kern/quant.c's packing). */
static inline void kern_scale_min_k4(int j, const unsigned char *q, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63, *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Fillers, one per ISA file (internal to dispatch.c). */
void kern_fill_generic(Kern *k);
void kern_fill_avx2(Kern *k);
void kern_fill_avx512(Kern *k);
void kern_fill_neon(Kern *k);

#endif
