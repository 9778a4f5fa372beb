/* randblocks — random valid blocks of issue 21's quantized types (q2_K,
 * q3_K, iq4_nl, iq4_xs, tq1_0, tq2_0): every bit pattern for the decoders'
 * tests, and the stand-in for quantizing a matrix of the types that no
 * quantizer writes (DTypeTraits.quantize NULL: tq1_0, tq2_0).
 *
 * Every bit of the quants and sub-block scales is random (the ternary types:
 * trits uniform in {-1, 0, 1}, packed as the format packs them); the fp16
 * super-block scales are set so that the elements come out about `amp` in
 * magnitude, times a factor in [0.5, 1.5) per block. Deterministic in *rng. */
#ifndef TEST_RANDBLOCKS_H
#define TEST_RANDBLOCKS_H

#include <stdint.h>
#include <string.h>

#include "base/util.h"
#include "kern/dtype.h"
#include "kern/quant.h"

static inline uint64_t randblocks_next(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* u[0..k) (each 0..2) as one tq1_0 byte: the fraction Σ u_j·3^(4-j) / 243
 * rounded up to 1/256 (k == 4: qh's bytes, whose fifth trit is 0). */
static inline uint8_t randblocks_pack_trits(const int *u, int k) {
    int v = 0;
    for (int j = 0; j < 5; j++) v = v * 3 + (j < k ? u[j] : 0);
    return (uint8_t)((v * 256 + 242) / 243);
}

/* dst = n elements (n a multiple of t's block) of random blocks of type t. */
static inline void test_random_blocks(void *dst, DType t, size_t n, float amp, uint64_t *rng) {
    const DTypeTraits *tr = dtype_traits(t);
    unsigned char *p = dst;
    size_t nb = n / (size_t)tr->block;
    for (size_t i = 0; i < nb * (size_t)tr->bytes; i++) p[i] = (unsigned char)randblocks_next(rng);
    for (size_t b = 0; b < nb; b++) {
        unsigned char *blk = p + b * (size_t)tr->bytes;
        float f = amp * (0.5f + (float)(randblocks_next(rng) >> 40) * 0x1p-24f);
        switch (t) {
        case DT_Q2_K: { /* d·sc·q - dmin·mn with sc, mn, q uniform: mean 0 */
            BlockQ2_K *q = (BlockQ2_K *)blk;
            q->d = f32_to_f16(f / 24), q->dmin = f32_to_f16(f / 16);
            break;
        }
        case DT_Q3_K: ((BlockQ3_K *)blk)->d = f32_to_f16(f / 48); break;
        case DT_IQ4_NL: ((BlockIQ4_NL *)blk)->d = f32_to_f16(f / 64); break;
        case DT_IQ4_XS: ((BlockIQ4_XS *)blk)->d = f32_to_f16(f / 1024); break;
        case DT_TQ1_0: {
            BlockTQ1_0 *q = (BlockTQ1_0 *)blk;
            int u[5];
            for (size_t j = 0; j < sizeof q->qs + sizeof q->qh; j++) {
                int k = j < sizeof q->qs ? 5 : 4;
                for (int m = 0; m < k; m++) u[m] = (int)(randblocks_next(rng) % 3);
                if (j < sizeof q->qs) q->qs[j] = randblocks_pack_trits(u, k);
                else q->qh[j - sizeof q->qs] = randblocks_pack_trits(u, k);
            }
            q->d = f32_to_f16(f);
            break;
        }
        case DT_TQ2_0: {
            BlockTQ2_0 *q = (BlockTQ2_0 *)blk;
            for (size_t j = 0; j < sizeof q->qs; j++) {
                int v = 0;
                for (int m = 0; m < 4; m++) v |= (int)(randblocks_next(rng) % 3) << (2 * m);
                q->qs[j] = (uint8_t)v;
            }
            q->d = f32_to_f16(f);
            break;
        }
        default: CHECK(0 && "a type with a quantizer");
        }
    }
}

#endif
