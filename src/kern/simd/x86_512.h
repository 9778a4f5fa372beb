/* x86_512 — what the avx512 table's files (avx512.c, avx512_k2.c) share:
 * the 512-bit loads, conversions and integer steps this SIMDe lacks (built
 * from 256-bit halves under KERN_EMULATE_AVX512, the intrinsic otherwise:
 * the same values either way), a broadcast of 4 activation bytes, the
 * 16-row tiles' store and switch. The includer provides <immintrin.h> (or
 * SIMDe's emulation), FORCE, UNROLL8 and memcpy. */
#ifndef KERN_SIMD_X86_512_H
#define KERN_SIMD_X86_512_H

FORCE __m512 load16_f32(const void *p, size_t i) { return _mm512_loadu_ps((const float *)p + i); }
#ifdef KERN_EMULATE_AVX512
/* This SIMDe has no native-name alias for _mm512_shuffle_f32x4. */
#define _mm512_shuffle_f32x4(a, b, imm8) simde_mm512_shuffle_f32x4(a, b, imm8)
/* This SIMDe lacks _mm512_cvtph_ps: two 256-bit halves converted as avx2.c
 * does (the same exact values), then joined. */
FORCE __m512 join8(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
FORCE __m512 load16_f16(const void *p, size_t i) {
    const __m128i *h = (const __m128i *)((const uint16_t *)p + i);
    return join8(_mm256_cvtph_ps(_mm_loadu_si128(h)), _mm256_cvtph_ps(_mm_loadu_si128(h + 1)));
}
/* nor _mm512_cvtepi32_ps (exact halves, as above) */
FORCE __m512 cvt16(__m512i v) {
    return join8(_mm256_cvtepi32_ps(_mm512_castsi512_si256(v)), _mm256_cvtepi32_ps(_mm512_extracti64x4_epi64(v, 1)));
}
/* nor _mm512_cvtepu8_epi32 (16 bytes at p, zero-extended) */
FORCE __m512i load16_u8(const void *p) {
    __m256i lo = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
    __m256i hi = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)((const char *)p + 8)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
/* nor _mm512_srai_epi32 */
FORCE __m512i srai16_32(__m512i v) {
    __m256i lo = _mm256_srai_epi32(_mm512_castsi512_si256(v), 16), hi = _mm256_srai_epi32(_mm512_extracti64x4_epi64(v, 1), 16);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
/* and its _mm512_madd_epi16 takes other arguments */
FORCE __m512i madd16(__m512i a, __m512i b) {
    __m256i lo = _mm256_madd_epi16(_mm512_castsi512_si256(a), _mm512_castsi512_si256(b));
    __m256i hi = _mm256_madd_epi16(_mm512_extracti64x4_epi64(a, 1), _mm512_extracti64x4_epi64(b, 1));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
#else
FORCE __m512i madd16(__m512i a, __m512i b) { return _mm512_madd_epi16(a, b); }
FORCE __m512i srai16_32(__m512i v) { return _mm512_srai_epi32(v, 16); }
FORCE __m512 cvt16(__m512i v) { return _mm512_cvtepi32_ps(v); }
FORCE __m512i load16_u8(const void *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)); }
FORCE __m512 load16_f16(const void *p, size_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));
}
#endif

FORCE __m512i bcast4_512(const int8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* The first nr rows (lanes) of a 16-row tile's accumulators. */
FORCE void store16(const int NT, float *out, size_t os, const __m512 *acc, int nr) {
    UNROLL8 for (int t = 0; t < NT; t++) {
        if (nr == 16) {
            _mm512_storeu_ps(out + (size_t)t * os, acc[t]);
        } else {
            float tmp[16];
            _mm512_storeu_ps(tmp, acc[t]);
            memcpy(out + (size_t)t * os, tmp, (size_t)nr * sizeof(float));
        }
    }
}

/* A 16-row packed tile of up to 4 tokens. */
#define PACKED16_FNS4(name, K)                                                                       \
    static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                             \
        (void)ws;                                                                                    \
        switch (nt) {                                                                                \
        case 1: K(1, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 2: K(2, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 3: K(3, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 4: K(4, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        default: break;                                                                              \
        }                                                                                            \
    }
#endif
