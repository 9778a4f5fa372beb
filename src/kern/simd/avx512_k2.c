/* avx512_k2 — the avx512 table's tiles for the 8-row groups of the types
 * issue 21 added (x86_layout.h's BlockQ2_Kx8, BlockQ3_Kx8, BlockIQ4_XSx8,
 * packed by avx2_k2.c, whose unpacked tiles the avx512 table keeps), with
 * AVX-512 VNNI's vpdpbusd on 256-bit vectors (four u8·s8 products summed
 * straight into each int32 lane) and the weights prefetched ahead (decode
 * streams them once). Per element they compute avx2_k2.c's packed tiles'
 * integer sums (exact int32: any order gives the same sum) and then the same
 * fp32 operations in the same order — generic.c's chain in each row lane —
 * so the two tables agree bit for bit (test_simd's check_pack_agree) and
 * both give the generic table's bits (test_quant_k2). Built like avx512.c
 * (-mavx512vl -mavx512vnni; on SIMDe under KERN_EMULATE_AVX512). */
#if defined(__x86_64__) || defined(__i386__)
#ifdef KERN_EMULATE_AVX512
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#else
#include <immintrin.h>
#endif
#include <string.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"

#define FORCE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 4")
#define UNROLL8 _Pragma("GCC unroll 8")

#include "kern/simd/x86_layout.h"
#include "kern/simd/x86_tile.h"

/* Row r's int16 a in the low half of lane r and b in the high (a, b: int32
 * lanes within int16). */
FORCE __m256i pair16(__m256i a, __m256i b) { return _mm256_blend_epi16(a, _mm256_slli_epi32(b, 16), 0xAA); }

/* The (half 0, half 1) scale-byte pair of each row of block b: sc[2b] and
 * sc[2b + 1] (8 bytes each, row order) interleaved, widened to int16. */
FORCE __m128i byte_pairs(const void *sc2b) {
    __m128i v = _mm_loadu_si128((const __m128i *)sc2b);
    return _mm_unpacklo_epi8(v, _mm_srli_si128(v, 8));
}

/* ---- q2_K, q3_K ------------------------------------------------------------
 * Block b = 4j + k of a super-block has its 8 rows' codes at bits 2k of the
 * chunks qs[j][c]. Masked in place (and with 3 << 2k, no shift) they are
 * u·4^k <= 192, which vpdpbusd takes, so each half's int32 sum is exactly
 * 4^k·Σu·x and one arithmetic shift undoes it; q3_K's third bits likewise:
 * hm[c] masked with 1 << b is h·2^b. Per row lane, U_h = Σ u·x over the
 * 16-value half h (q3_K: u = q2 + 4h; |U_h| < 2^15), then
 *   q2_K: sumi = sc_0·U_0 + sc_1·U_1 (one madd of int16 pairs),
 *         summ = mn_0·Σx_0 + mn_1·Σx_1,
 *   q3_K: sumi = sc_0·U_0 + sc_1·U_1 − 4·(sc_0·Σx_0 + sc_1·Σx_1),
 *   acc += (d·d_x)·sumi (q2_K: − (dmin·d_x)·summ), in block order:
 * the integers and the fp32 operations of avx2_k2.c's k_q23_Kx8. */

/* h·2^b·(sum) as 4·h·(sum): the sum is a multiple of 2^b, so exact. */
FORCE __m256i times4_over(__m256i v, const int b) {
    return b < 2 ? _mm256_slli_epi32(v, 2 - b) : b == 2 ? v : _mm256_srai_epi32(v, b - 2);
}

FORCE void k_q23_Kx8v(const int Q3, const int NT, float *out, size_t os, const char *w, int nr, const char *x,
                      size_t xs, size_t n) {
    const int gb = Q3 ? (int)sizeof(BlockQ3_Kx8) : (int)sizeof(BlockQ2_Kx8);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const BlockQ2_Kx8 *g2 = (const BlockQ2_Kx8 *)w + i;
        const BlockQ3_Kx8 *g3 = (const BlockQ3_Kx8 *)w + i;
        prefetch_ahead(w + (size_t)gb * i, gb);
        const uint8_t(*qs)[8][32] = Q3 ? g3->qs : g2->qs;
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(Q3 ? g3->d : g2->d)));
        __m256 dmin = Q3 ? d : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g2->dmin));
        UNROLL for (int j = 0; j < 2; j++) UNROLL for (int k = 0; k < 4; k++) { /* b constant: immediate shifts */
            const int b = 4 * j + k;
            const __m256i m2 = _mm256_set1_epi8((char)(3 << 2 * k)), mh = _mm256_set1_epi8((char)(1 << b));
            __m256i S[2][4], H[2][4];
            UNROLL for (int t = 0; t < NT; t++) S[0][t] = S[1][t] = H[0][t] = H[1][t] = _mm256_setzero_si256();
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m256i u = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)qs[j][c]), m2);
                __m256i h = Q3 ? _mm256_and_si256(_mm256_loadu_si256((const __m256i *)g3->hm[c]), mh) : u;
                UNROLL for (int t = 0; t < NT; t++) {
                    __m256i xb = bcast4(((const ActGroupQ6_K *)(x + t * xs) + i)->qs[b] + 4 * c);
                    S[c / 4][t] = _mm256_dpbusd_epi32(S[c / 4][t], u, xb);
                    if (Q3) H[c / 4][t] = _mm256_dpbusd_epi32(H[c / 4][t], h, xb);
                }
            }
            __m256i scp, mnp = _mm256_setzero_si256(); /* (sc_0, sc_1), (mn_0, mn_1) per row */
            if (Q3) {
                scp = _mm256_cvtepi8_epi16(byte_pairs(g3->sc[2 * b]));
            } else {
                __m256i v = _mm256_cvtepu8_epi16(byte_pairs(g2->sc[2 * b]));
                scp = _mm256_and_si256(v, _mm256_set1_epi16(15)), mnp = _mm256_srli_epi16(v, 4);
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + i;
                __m256i U0 = _mm256_srai_epi32(S[0][t], 2 * k), U1 = _mm256_srai_epi32(S[1][t], 2 * k);
                if (Q3) U0 = _mm256_add_epi32(U0, times4_over(H[0][t], b)), U1 = _mm256_add_epi32(U1, times4_over(H[1][t], b));
                __m256i sumi = _mm256_madd_epi16(pair16(U0, U1), scp);
                __m256i hx = bcast4((const int8_t *)xk->h[b]); /* (Σx_0, Σx_1) */
                __m256 dx = _mm256_broadcast_ss(&xk->d[b]);
                if (Q3) sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(_mm256_madd_epi16(scp, hx), 2));
                __m256 term = _mm256_mul_ps(_mm256_mul_ps(d, dx), cvt(sumi));
                if (!Q3) term = _mm256_sub_ps(term, _mm256_mul_ps(_mm256_mul_ps(dmin, dx), cvt(_mm256_madd_epi16(mnp, hx))));
                acc[t] = _mm256_add_ps(acc[t], term);
            }
        }
    }
    packed_store(NT, out, os, acc, nr);
}
FORCE void k_q2_Kx8v(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_q23_Kx8v(0, NT, out, os, w, nr, x, xs, n);
}
FORCE void k_q3_Kx8v(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_q23_Kx8v(1, NT, out, os, w, nr, x, xs, n);
}
PACKED_FNS(tile_q2_Kx8v, k_q2_Kx8v)
PACKED_FNS(tile_q3_Kx8v, k_q3_Kx8v)

/* ---- iq4_xs ------------------------------------------------------------------
 * avx2_k2.c's k_iq4_xsx8 with the levels made unsigned: through the table
 * kvalues_iq4nl + 128 (1..241) each index is one u8 that vpdpbusd takes as
 * it is, so per row lane and 32-block s
 *   sumi = Σ (level + 128)·x − 128·Σx   (exact int32; Σx from
 *          ActGroupQ6_K's half sums),  acc += (d·d_x)·(sc·sumi)
 * in block order: the same integer and fp32 operations as the avx2 tile. */
FORCE void k_iq4_xsx8v(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                       size_t n) {
    const __m256i tbl = _mm256_broadcastsi128_si256(
        _mm_xor_si128(_mm_loadu_si128((const __m128i *)kvalues_iq4nl), _mm_set1_epi8((char)0x80)));
    const __m256i low = _mm256_set1_epi8(15), m128 = _mm256_set1_epi16(128);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const BlockIQ4_XSx8 *g = (const BlockIQ4_XSx8 *)w + i;
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g->d));
        for (int s = 0; s < 8; s++) {
            prefetch_ahead((const char *)g->qs[s], sizeof g->qs[s]);
            __m256i S[4];
            UNROLL for (int t = 0; t < NT; t++) S[t] = _mm256_setzero_si256();
            UNROLL for (int c = 0; c < 4; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)g->qs[s][c]);
                __m256i lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(v, low));
                __m256i hi = _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
                UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *xq = ((const ActGroupQ6_K *)(x + t * xs) + i)->qs[s];
                    S[t] = _mm256_dpbusd_epi32(S[t], lo, bcast4(xq + 4 * c));
                    S[t] = _mm256_dpbusd_epi32(S[t], hi, bcast4(xq + 16 + 4 * c));
                }
            }
            __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)g->sc[s]));
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + i;
                __m256i sumi = _mm256_sub_epi32(S[t], _mm256_madd_epi16(bcast4((const int8_t *)xk->h[s]), m128));
                __m256 dx = _mm256_broadcast_ss(&xk->d[s]);
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(d, dx), cvt(_mm256_mullo_epi32(sumi, sc))));
            }
        }
    }
    packed_store(NT, out, os, acc, nr);
}
PACKED_FNS(tile_iq4_xsx8v, k_iq4_xsx8v)

/* The avx512 table's tiles for these groups (k: the avx2 table's entries,
 * whose layouts, pack functions and activations these read; iq4_xs's
 * activations are ActGroupQ6_K, for their half sums). */
void kern_fill_avx512_k2(Kern *k) {
    KernDot g6k = k->pack[DT_Q6_K].dot; /* avx2's ActGroupQ6_K */
    k->pack[DT_Q2_K].dot.tile = tile_q2_Kx8v;
    k->pack[DT_Q3_K].dot.tile = tile_q3_Kx8v;
    k->pack[DT_IQ4_XS].dot = (KernDot){DT_Q8_0, g6k.act_bytes, g6k.act_quant, 8, 4, tile_iq4_xsx8v};
}
#endif
