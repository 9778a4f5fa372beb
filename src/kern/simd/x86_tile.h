/* x86_tile — the small pieces every x86 tile file shares (avx2.c and
 * avx512.c through x86_packed.h, and avx2_k2.c, avx512_k2.c): int32 lanes
 * to fp32, a broadcast of 4 activation bytes, the weights' prefetch, and the
 * packed tiles' store and switch.
 * The includer provides <immintrin.h> (or SIMDe's emulation), FORCE, UNROLL
 * and memcpy. */
#ifndef KERN_SIMD_X86_TILE_H
#define KERN_SIMD_X86_TILE_H

static inline __m256 cvt(__m256i v) { return _mm256_cvtepi32_ps(v); }

/* The 4 bytes at p in every 32-bit lane. */
FORCE __m256i bcast4(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* The tiles stream their group's weights once, front to back; the hardware
 * prefetchers alone left decode at 55-65% of the read bandwidth here. Each
 * step of a tile asks for the lines PREFETCH_AHEAD bytes past the `bytes` it
 * is about to read (into L1; past the end of the weights a prefetch reads
 * nothing and cannot fault). 4 KiB measured best of 1, 2 and 4 KiB on an
 * Intel Xeon (bench/RESULTS.md), for avx512.c's tiles. */
#ifndef PREFETCH_AHEAD
#define PREFETCH_AHEAD 4096
#endif
FORCE void prefetch_ahead(const char *p, const int bytes) {
    for (int l = 0; l < bytes; l += 64) _mm_prefetch(p + PREFETCH_AHEAD + l, _MM_HINT_T0);
}

/* The first nr rows (lanes) of a packed tile's accumulators. */
FORCE void packed_store(const int NT, float *out, size_t os, const __m256 *acc, int nr) {
    UNROLL for (int t = 0; t < NT; t++) {
        if (nr == 8) {
            _mm256_storeu_ps(out + (size_t)t * os, acc[t]);
        } else {
            float tmp[8];
            _mm256_storeu_ps(tmp, acc[t]);
            memcpy(out + (size_t)t * os, tmp, (size_t)nr * sizeof(float));
        }
    }
}

/* A packed tile: one group (nr rows written) × nt <= 4 tokens. */
#define PACKED_FNS(name, K)                                                                          \
    static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                             \
        switch (nt) {                                                                                \
        case 1: K(1, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 2: K(2, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 3: K(3, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 4: K(4, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        default: break;                                                                              \
        }                                                                                            \
    }

#endif
