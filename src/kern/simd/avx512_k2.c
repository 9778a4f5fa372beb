/* avx512_k2 — the avx512 table's packed tiles for the types issue 21 added:
 * q2_K and q3_K in 16-row groups of its own (BlockQ2_Kx16, BlockQ3_Kx16,
 * 512-bit lanes), iq4_xs in avx2_k2.c's 8-row groups (BlockIQ4_XSx8) — the
 * unpacked tiles are avx2_k2.c's — with AVX-512 VNNI's vpdpbusd (four u8·s8
 * products summed straight into each int32 lane) and the weights prefetched
 * ahead (decode streams them once). Per element they compute avx2_k2.c's
 * packed tiles' integer sums (exact int32: any order gives the same sum) and
 * then the same fp32 operations in the same order — generic.c's chain in
 * each row lane — so the two tables agree bit for bit (test_simd's
 * check_pack_agree) and both give the generic table's bits (test_quant_k2).
 * Built like avx512.c (-mavx512vl -mavx512vnni; on SIMDe under
 * KERN_EMULATE_AVX512). */
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
#include "kern/simd/x86_512.h"

/* ---- q2_K, q3_K in groups of 16 rows (BlockQ2_Kx16, BlockQ3_Kx16) ----------
 * avx2_k2.c's x8 tiles with 16 rows in 512-bit lanes: one broadcast of 4
 * activations meets 16 rows, and the per-block scale work (the pairs, the
 * madd, the fp32 term) serves 16 rows per instruction. The codes are shifted
 * down (q3_K: the third bit joins them at bit 2, u = q2 + 4h <= 7, as
 * avx2_k2.c's tile does), so each half's vpdpbusd sum is U_h itself; then
 * per row lane exactly the x8 tiles' integers and fp32 operations:
 *   sumi = sc_0·U_0 + sc_1·U_1 (one madd of (U_0, U_1) and (sc_0, sc_1)
 *          int16 pairs; |U_h| < 2^15), q3_K: − 4·(sc_0·Σx_0 + sc_1·Σx_1),
 *   acc += (d·d_x)·sumi, q2_K: − (dmin·d_x)·(mn_0·Σx_0 + mn_1·Σx_1),
 * in block order. */
static size_t q2_Kx16_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ2_Kx16); }
static void q2_Kx16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ2_Kx16 *g = dst;
    for (size_t i = 0; i < cols / QK_K; i++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ2_K *b = (const BlockQ2_K *)((const char *)src + (size_t)r * ws) + i;
            g->d[r] = b->d, g->dmin[r] = b->dmin;
            for (int s = 0; s < 16; s++) g->sc[s / 2][r][s % 2] = b->scales[s];
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < 8; c++) memcpy(&g->qs[j][c][4 * r], b->qs + 32 * j + 4 * c, 4);
        }
    }
}

static size_t q3_Kx16_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ3_Kx16); }
static void q3_Kx16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ3_Kx16 *g = dst;
    for (size_t i = 0; i < cols / QK_K; i++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ3_K *b = (const BlockQ3_K *)((const char *)src + (size_t)r * ws) + i;
            int8_t sc[QK_K / 16];
            scales_q3_K(sc, b); /* as generic.c reads them */
            g->d[r] = b->d;
            for (int s = 0; s < 16; s++) g->sc[s / 2][r][s % 2] = sc[s];
            for (int c = 0; c < 8; c++) memcpy(&g->hm[c][4 * r], b->hmask + 4 * c, 4);
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < 8; c++) memcpy(&g->qs[j][c][4 * r], b->qs + 32 * j + 4 * c, 4);
        }
    }
}

/* Row r's int16 a in the low half of lane r and b in the high. */
FORCE __m512i pair16x16(__m512i a, __m512i b) { return _mm512_mask_blend_epi16(0xAAAAAAAA, a, _mm512_slli_epi32(b, 16)); }

FORCE void k_q23_Kx16(const int Q3, const int NT, float *out, size_t os, const char *w, int nr, const char *x,
                      size_t xs, size_t n) {
    const int gb = Q3 ? (int)sizeof(BlockQ3_Kx16) : (int)sizeof(BlockQ2_Kx16);
    const __m512i three = _mm512_set1_epi8(3), four = _mm512_set1_epi8(4);
    __m512 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        const BlockQ2_Kx16 *g2 = (const BlockQ2_Kx16 *)w + i;
        const BlockQ3_Kx16 *g3 = (const BlockQ3_Kx16 *)w + i;
        prefetch_ahead(w + (size_t)gb * i, gb);
        const uint8_t(*qs)[8][64] = Q3 ? g3->qs : g2->qs;
        __m512 d = load16_f16(Q3 ? g3->d : g2->d, 0);
        __m512 dmin = Q3 ? d : load16_f16(g2->dmin, 0);
        UNROLL for (int j = 0; j < 2; j++) UNROLL for (int k = 0; k < 4; k++) {
            const int b = 4 * j + k;
            __m512i S[2][4];
            UNROLL for (int t = 0; t < NT; t++) S[0][t] = S[1][t] = _mm512_setzero_si512();
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m512i u = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512((const void *)qs[j][c]), 2 * k), three);
                if (Q3) { /* bit b of the row's hmask byte to bit 2 */
                    __m512i hm = _mm512_loadu_si512((const void *)g3->hm[c]);
                    hm = b < 2 ? _mm512_slli_epi16(hm, 2 - b) : b == 2 ? hm : _mm512_srli_epi16(hm, b - 2);
                    u = _mm512_or_si512(u, _mm512_and_si512(hm, four));
                }
                UNROLL for (int t = 0; t < NT; t++)
                    S[c / 4][t] = _mm512_dpbusd_epi32(S[c / 4][t], u, bcast4_512(((const ActGroupQ6_K *)(x + t * xs) + i)->qs[b] + 4 * c));
            }
            __m512i scp, mnp = _mm512_setzero_si512(); /* (sc_0, sc_1), (mn_0, mn_1) per row */
            if (Q3) {
                scp = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)g3->sc[b]));
            } else {
                __m512i v = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)g2->sc[b])), low = _mm512_set1_epi16(15);
                scp = _mm512_and_si512(v, low), mnp = _mm512_and_si512(_mm512_srli_epi16(v, 4), low); /* (SIMDe: no cvtepu8) */
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + i;
                __m512i sumi = madd16(pair16x16(S[0][t], S[1][t]), scp);
                __m512i hx = bcast4_512((const int8_t *)xk->h[b]); /* (Σx_0, Σx_1) */
                __m512 dx = _mm512_set1_ps(xk->d[b]);
                if (Q3) sumi = _mm512_sub_epi32(sumi, _mm512_slli_epi32(madd16(scp, hx), 2));
                __m512 term = _mm512_mul_ps(_mm512_mul_ps(d, dx), cvt16(sumi));
                if (!Q3) term = _mm512_sub_ps(term, _mm512_mul_ps(_mm512_mul_ps(dmin, dx), cvt16(madd16(mnp, hx))));
                acc[t] = _mm512_add_ps(acc[t], term);
            }
        }
    }
    store16(NT, out, os, acc, nr);
}
FORCE void k_q2_Kx16(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_q23_Kx16(0, NT, out, os, w, nr, x, xs, n);
}
FORCE void k_q3_Kx16(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_q23_Kx16(1, NT, out, os, w, nr, x, xs, n);
}
PACKED16_FNS4(tile_q2_Kx16, k_q2_Kx16)
PACKED16_FNS4(tile_q3_Kx16, k_q3_Kx16)

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
    k->pack[DT_Q2_K] = (KernPack){16, q2_Kx16_bytes, q2_Kx16_pack, {DT_Q8_0, g6k.act_bytes, g6k.act_quant, 16, 4, tile_q2_Kx16}};
    k->pack[DT_Q3_K] = (KernPack){16, q3_Kx16_bytes, q3_Kx16_pack, {DT_Q8_0, g6k.act_bytes, g6k.act_quant, 16, 4, tile_q3_Kx16}};
    k->pack[DT_IQ4_XS].dot = (KernDot){DT_Q8_0, g6k.act_bytes, g6k.act_quant, 8, 4, tile_iq4_xsx8v};
}
#endif
