/* avx2_k2 — the avx2 tiles of the types issue 21 added: q2_K, q3_K, iq4_nl,
 * iq4_xs, tq1_0, tq2_0 (compiled with -mavx2 -mfma -mf16c like avx2.c, whose table they
 * join, and so the avx512 table's too). Each gives generic.c's bits, which is
 * what makes them batch-, chunk- and thread-invariant like every tile: per
 * block of 32 the exact integer sum (maddubs, then madd to int32 lanes, then
 * a reduction tree over the lanes: integer adds, so any order is exact), the
 * block's fp32 term with generic.c's roundings (computed for 8 blocks in 8
 * lanes), and the terms added to the element's fp32 sum one by one in block
 * order, as generic.c's scalar chain does. The activations are avx2.c's
 * layouts (x86_layout.h), taken from the table being filled. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <string.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"
#include "kern/simd/tile.h"

#define FORCE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 4")
#define UNROLL8 _Pragma("GCC unroll 8")

#include "kern/simd/x86_layout.h"
#include "kern/simd/x86_tile.h"

/* ---- q2_K, q3_K: generic.c's order -----------------------------------------
 * These two give generic.c's bits (kern/quant.h's integer codes): per block
 * of 32 the exact Σ sc·q·xq (and q2_K's Σ mn·xq) by maddubs per 16-element
 * half, then per block in order s += (d·d_x)·sumi − (dmin·d_x)·summ, the
 * scalar chain of dot_q2_K/dot_q3_K (the 8 blocks' terms computed in 8 lanes
 * with the same roundings, added one by one). With u the unsigned codes
 * (q2_K: q; q3_K: q + 4, so Σq·x = Σu·x − 4·Σx per half), the half sums of
 * u·x and of x (the latter once per token) go through one reduction tree. */

/* The 16 half sums of 8 blocks' int32 lanes p[b] (lanes 0-3: half 0, 4-7:
 * half 1): *a = [b0 b1 b2 b3 half 0 | b0..b3 half 1], *b the same of b4..b7. */
FORCE void halves8(const __m256i p[8], __m256i *a, __m256i *b) {
    *a = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    *b = _mm256_hadd_epi32(_mm256_hadd_epi32(p[4], p[5]), _mm256_hadd_epi32(p[6], p[7]));
}

/* Σ_half sc·h per block, in block order, from halves8's layout. */
FORCE __m256i blocks8(__m256i a, __m256i b) {
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* 16 per-half scales (byte s: half s) as int32 in halves8's layout. */
FORCE void scales16(__m128i s, int is_signed, __m256i *a, __m256i *b) {
    __m128i t = _mm_shuffle_epi8(s, _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15));
    *a = is_signed ? _mm256_cvtepi8_epi32(t) : _mm256_cvtepu8_epi32(t);
    t = _mm_srli_si128(t, 8);
    *b = is_signed ? _mm256_cvtepi8_epi32(t) : _mm256_cvtepu8_epi32(t);
}

/* Half sums of u·x (u unsigned, 0..7) of the 8 blocks of one super-block. */
FORCE void uhalves(const __m256i u[8], const ActQ4_K *xk, __m256i *a, __m256i *b) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i p[8];
    UNROLL8 for (int s = 0; s < 8; s++)
        p[s] = _mm256_madd_epi16(_mm256_maddubs_epi16(u[s], _mm256_loadu_si256((const __m256i *)xk->qs[s])), ones16);
    halves8(p, a, b);
}

/* One super-block's 8 terms added to *s in block order. */
FORCE void add8(float *s, __m256 v) {
    float e[8];
    _mm256_storeu_ps(e, v);
    for (int k = 0; k < 8; k++) *s += e[k];
}

/* The q2_K or q3_K tile: per super-block, per row its u[8] and per-half
 * scales (q2_K: and mins), per token the x half sums, then each element's
 * terms. */
FORCE void k_q23_K(const int MR, const int NT, const int q3, float *out, size_t os, const char *w, size_t ws,
                   const char *x, size_t xs, size_t n) {
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4), ones8 = _mm256_set1_epi8(1);
    float acc[4][4] = {{0}};
    for (size_t i = 0; i < n / QK_K; i++) {
        __m256i xa[4], xb[4];
        UNROLL for (int t = 0; t < NT; t++) { /* Σx per half: u = 1 */
            const __m256i one[8] = {ones8, ones8, ones8, ones8, ones8, ones8, ones8, ones8};
            uhalves(one, (const ActQ4_K *)(x + t * xs) + i, &xa[t], &xb[t]);
        }
        UNROLL for (int r = 0; r < MR; r++) {
            const uint8_t *qs;
            __m256i u[8], sca, scb, mna = _mm256_setzero_si256(), mnb = mna;
            float d, dmin = 0;
            if (q3) {
                const BlockQ3_K *wb = (const BlockQ3_K *)(w + r * ws) + i;
                uint32_t a[3];
                memcpy(a, wb->scales, 12);
                /* scale s's low nibble: nibble s/8 of byte s%8; top bits: bits 2(s/4) of byte 8 + s%4 */
                __m128i s = _mm_setr_epi32((int)((a[0] & 0x0f0f0f0fu) | (a[2] & 0x03030303u) << 4),
                                           (int)((a[1] & 0x0f0f0f0fu) | (a[2] >> 2 & 0x03030303u) << 4),
                                           (int)((a[0] >> 4 & 0x0f0f0f0fu) | (a[2] >> 4 & 0x03030303u) << 4),
                                           (int)((a[1] >> 4 & 0x0f0f0f0fu) | (a[2] >> 6 & 0x03030303u) << 4));
                scales16(_mm_sub_epi8(s, _mm_set1_epi8(32)), 1, &sca, &scb);
                qs = wb->qs, d = _cvtsh_ss(wb->d);
                __m256i hm = _mm256_loadu_si256((const __m256i *)wb->hmask);
                UNROLL8 for (int b = 0; b < 8; b++) { /* bit b of hmask to bit 2: u = q + 4 */
                    __m256i h = b < 2 ? _mm256_slli_epi16(hm, 2 - b) : _mm256_srli_epi16(hm, b - 2);
                    u[b] = _mm256_and_si256(h, four);
                }
            } else {
                const BlockQ2_K *wb = (const BlockQ2_K *)(w + r * ws) + i;
                __m128i s = _mm_loadu_si128((const __m128i *)wb->scales), low = _mm_set1_epi8(15);
                scales16(_mm_and_si128(s, low), 0, &sca, &scb);
                scales16(_mm_and_si128(_mm_srli_epi16(s, 4), low), 0, &mna, &mnb);
                qs = wb->qs, d = _cvtsh_ss(wb->d), dmin = _cvtsh_ss(wb->dmin);
                UNROLL8 for (int b = 0; b < 8; b++) u[b] = _mm256_setzero_si256();
            }
            UNROLL for (int j = 0; j < 2; j++) { /* block 4j + k: bits 2k of qs[32j..32j+32) */
                __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
                UNROLL for (int k = 0; k < 4; k++)
                    u[4 * j + k] = _mm256_or_si256(u[4 * j + k], _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), three));
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + i;
                __m256i ua, ub;
                uhalves(u, xk, &ua, &ub);
                if (q3) ua = _mm256_sub_epi32(ua, _mm256_slli_epi32(xa[t], 2)), ub = _mm256_sub_epi32(ub, _mm256_slli_epi32(xb[t], 2));
                __m256i sumi = blocks8(_mm256_mullo_epi32(ua, sca), _mm256_mullo_epi32(ub, scb));
                __m256 dx = _mm256_loadu_ps(xk->d);
                __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d), dx), cvt(sumi));
                if (!q3) {
                    __m256i summ = blocks8(_mm256_mullo_epi32(xa[t], mna), _mm256_mullo_epi32(xb[t], mnb));
                    v = _mm256_sub_ps(v, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(dmin), dx), cvt(summ)));
                }
                add8(&acc[r][t], v);
            }
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
#define K_Q2_K(MR, NT, ...) k_q23_K(MR, NT, 0, __VA_ARGS__)
#define K_Q3_K(MR, NT, ...) k_q23_K(MR, NT, 1, __VA_ARGS__)
TILE_FNS(tile_q2_K, K_Q2_K)
TILE_FNS(tile_q3_K, K_Q3_K)


/* ---- iq4_nl, iq4_xs: levels by table lookup --------------------------------
 * A 32-block's 16 index bytes (element j: low nibble of byte j, j + 16: high
 * nibble) become its 32 levels in element order with one pshufb through
 * kvalues_iq4nl; level·x by maddubs on |level| and x signed by the level
 * (|level| <= 127 and |x| <= 127: a pair's 2·127·127 fits int16). */

FORCE __m256i iq4_table(void) { return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)kvalues_iq4nl)); }

/* The levels of one 32-block from its 16 index bytes, and their |.|. */
FORCE void iq4_levels(const uint8_t *qs, __m256i tbl, __m256i *v, __m256i *a) {
    __m256i q = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)qs));
    q = _mm256_and_si256(_mm256_srlv_epi64(q, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
    *v = _mm256_shuffle_epi8(tbl, q);
    *a = _mm256_sign_epi8(*v, *v);
}

/* Σ level·x over a block as 8 int32 lanes. */
FORCE __m256i iq4_mul(__m256i a, __m256i v, const int8_t *x) {
    __m256i p = _mm256_maddubs_epi16(a, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)x), v));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* Four blocks' lane sums in one register: [b0 b1 b2 b3 | b0 b1 b2 b3], the
 * low 128 bits holding lanes 0-3 of each block, the high 4-7 (halves8's
 * layout; blocks8 then adds the two halves). */
FORCE __m256i sum4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    return _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
}

/* Adds the first cnt lanes of v to *s, in lane order. */
FORCE void add_n(float *s, __m256 v, int cnt) {
    float e[8];
    _mm256_storeu_ps(e, v);
    for (int k = 0; k < cnt; k++) *s += e[k];
}

/* The fp16 scales of cnt (1..8) iq4_nl blocks, 0 past them (inserted into a
 * register: a store and wide reload would stall store forwarding). */
FORCE __m128i nl_scales(const BlockIQ4_NL *wb, const int cnt) {
    __m128i d = _mm_cvtsi32_si128(wb[0].d);
#define INS(k) if ((k) < cnt) d = _mm_insert_epi16(d, wb[k].d, k)
    INS(1); INS(2); INS(3); INS(4); INS(5); INS(6); INS(7);
#undef INS
    return d;
}

/* iq4_nl against ActQ8_0: per group of up to 8 blocks (cnt of them, from
 * block b, a multiple of 8), per row the levels, per token the block sums,
 * then generic.c's terms (d_w·d_x)·sumi added in block order. */
FORCE void iq4_nl_group(const int MR, const int NT, float acc[4][4], const char *w, size_t ws, const char *x,
                        size_t xs, size_t b, const int cnt) {
    const __m256i tbl = iq4_table();
    UNROLL for (int r = 0; r < MR; r++) {
        const BlockIQ4_NL *wb = (const BlockIQ4_NL *)(w + r * ws) + b;
        __m256 dw = _mm256_cvtph_ps(nl_scales(wb, cnt));
        __m256i h[2][4];
        UNROLL for (int g = 0; g < 2; g++) { /* blocks 4g .. 4g+3 */
            __m256i v[4], a[4];
            UNROLL for (int k = 0; k < 4; k++) {
                if (4 * g + k < cnt) iq4_levels(wb[4 * g + k].qs, tbl, &v[k], &a[k]);
                else v[k] = a[k] = _mm256_setzero_si256();
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ8_0 *xp = (const ActQ8_0 *)(x + t * xs) + b / 2 + 2 * (size_t)g;
                __m256i p[4];
                UNROLL for (int k = 0; k < 4; k++)
                    p[k] = 4 * g + k < cnt ? iq4_mul(a[k], v[k], xp[k / 2].qs[k % 2]) : _mm256_setzero_si256();
                h[g][t] = sum4(p[0], p[1], p[2], p[3]);
            }
        }
        UNROLL for (int t = 0; t < NT; t++) {
            const ActQ8_0 *xp = (const ActQ8_0 *)(x + t * xs) + b / 2;
#define DX(k) ((k) < cnt ? xp[(k) / 2].d[2 * ((k) % 2)] : 0.0f)
            __m256 dx = _mm256_setr_ps(DX(0), DX(1), DX(2), DX(3), DX(4), DX(5), DX(6), DX(7));
#undef DX
            __m256 term = _mm256_mul_ps(_mm256_mul_ps(dw, dx), cvt(blocks8(h[0][t], h[1][t])));
            add_n(&acc[r][t], term, cnt);
        }
    }
}

FORCE void k_iq4_nl(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                    size_t xs, size_t n) {
    float acc[4][4] = {{0}};
    size_t nb = n / QK32, b = 0;
    for (; b + 8 <= nb; b += 8) iq4_nl_group(MR, NT, acc, w, ws, x, xs, b, 8);
    if (b < nb) iq4_nl_group(MR, NT, acc, w, ws, x, xs, b, (int)(nb - b));
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
TILE_FNS(tile_iq4_nl, k_iq4_nl)

/* iq4_xs against ActQ4_K, per super-block: per row the 8 blocks' levels and
 * 6-bit scales sc − 32 (scales_l's nibble s at bit 4s, scales_h's bits 2s),
 * per token generic.c's terms (d·d_x)·(sc·sumi) added in block order. */
FORCE void k_iq4_xs(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                    size_t xs, size_t n) {
    const __m256i tbl = iq4_table();
    float acc[4][4] = {{0}};
    for (size_t i = 0; i < n / QK_K; i++) {
        UNROLL for (int r = 0; r < MR; r++) {
            const BlockIQ4_XS *wb = (const BlockIQ4_XS *)(w + r * ws) + i;
            uint32_t sl;
            memcpy(&sl, wb->scales_l, 4);
            __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)sl), _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)),
                                          _mm256_set1_epi32(15));
            __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(wb->scales_h), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14)),
                                          _mm256_set1_epi32(3));
            __m256i sc = _mm256_sub_epi32(_mm256_or_si256(lo, _mm256_slli_epi32(hi, 4)), _mm256_set1_epi32(32));
            __m256 d = _mm256_set1_ps(_cvtsh_ss(wb->d));
            __m256i h[2][4];
            UNROLL for (int g = 0; g < 2; g++) {
                __m256i v[4], a[4];
                UNROLL for (int k = 0; k < 4; k++) iq4_levels(wb->qs + 16 * (4 * g + k), tbl, &v[k], &a[k]);
                UNROLL for (int t = 0; t < NT; t++) {
                    const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + i;
                    h[g][t] = sum4(iq4_mul(a[0], v[0], xk->qs[4 * g]), iq4_mul(a[1], v[1], xk->qs[4 * g + 1]),
                                   iq4_mul(a[2], v[2], xk->qs[4 * g + 2]), iq4_mul(a[3], v[3], xk->qs[4 * g + 3]));
                }
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + i;
                __m256i sumi = _mm256_mullo_epi32(blocks8(h[0][t], h[1][t]), sc);
                add_n(&acc[r][t], _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(xk->d)), cvt(sumi)), 8);
            }
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
TILE_FNS(tile_iq4_xs, k_iq4_xs)

/* ---- tq1_0, tq2_0: ternary codes ---------------------------------------------
 * Per 32-block generic.c's (d·d_x)·Σ q·xq with q = u − 1, u the unsigned
 * code (tq1_0: a trit 0..2, tq2_0: 2 bits): Σq·x = Σu·x − Σx, the block sums
 * of x once per token and super-block; 8 blocks' sums in 8 lanes (sum4,
 * blocks8), their terms added in block order as for iq4_xs. */

/* tq2_0: block 4j + k is bits 2k of qs[32j..32j+32), as q2_K's codes. */
FORCE void tq2_codes(const BlockTQ2_0 *wb, __m256i u[8]) {
    const __m256i three = _mm256_set1_epi8(3);
    UNROLL for (int j = 0; j < 2; j++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(wb->qs + 32 * j));
        UNROLL for (int k = 0; k < 4; k++) u[4 * j + k] = _mm256_and_si256(_mm256_srli_epi16(q, 2 * k), three);
    }
}

/* Trit k of each byte: ((byte·3^k mod 256)·3) >> 8, with p the 16-bit
 * lanes' 3^k. The byte product mod 256 goes to the high byte of a 16-bit
 * product (even bytes shifted up first, odd ones masked in place), whose
 * high half of ·3 (even) or ·768 masked (odd) is the trit in place. */
FORCE __m256i trits(__m256i v, __m256i p) {
    const __m256i hi = _mm256_set1_epi16((short)0xff00);
    __m256i e = _mm256_mullo_epi16(_mm256_slli_epi16(v, 8), p), o = _mm256_mullo_epi16(_mm256_and_si256(v, hi), p);
    e = _mm256_mulhi_epu16(e, _mm256_set1_epi16(3));
    o = _mm256_and_si256(_mm256_mulhi_epu16(o, _mm256_set1_epi16(768)), hi);
    return _mm256_or_si256(e, o);
}

/* tq1_0 (kern/quant.c's codes_tq1_0): blocks 0-4 are trits 0-4 of qs[0..32);
 * block 5 trits 0 and 1 of qs[32..48), block 6 trits 2 and 3, block 7 trit
 * 4 of qs[32..48) then trits 0-3 of qh[0..4), 4 values each. */
FORCE void tq1_codes(const BlockTQ1_0 *wb, __m256i u[8]) {
    __m256i a = _mm256_loadu_si256((const __m256i *)wb->qs);
    __m256i b = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(wb->qs + 32)));
    static const short pow3[5] = {1, 3, 9, 27, 81};
    UNROLL8 for (int k = 0; k < 5; k++) u[k] = trits(a, _mm256_set1_epi16(pow3[k]));
    u[5] = trits(b, _mm256_setr_epi16(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3));
    u[6] = trits(b, _mm256_setr_epi16(9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27));
    int32_t h;
    memcpy(&h, wb->qh, 4);
    __m256i c = _mm256_inserti128_si256(b, _mm_set1_epi32(h), 1);
    u[7] = trits(c, _mm256_setr_epi16(81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 3, 3, 9, 9, 27, 27));
}

/* Σ u[b]·x_b of each block b of one super-block, in 8 lanes. */
FORCE __m256i block_sums(const __m256i u[8], const ActQ4_K *xk) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256i p[8];
    UNROLL8 for (int b = 0; b < 8; b++)
        p[b] = _mm256_madd_epi16(_mm256_maddubs_epi16(u[b], _mm256_loadu_si256((const __m256i *)xk->qs[b])), ones16);
    return blocks8(sum4(p[0], p[1], p[2], p[3]), sum4(p[4], p[5], p[6], p[7]));
}

FORCE void k_tq(const int MR, const int NT, const int TQ1, float *out, size_t os, const char *w, size_t ws,
                const char *x, size_t xs, size_t n) {
    const __m256i ones8 = _mm256_set1_epi8(1);
    const __m256i one[8] = {ones8, ones8, ones8, ones8, ones8, ones8, ones8, ones8};
    float acc[4][4] = {{0}};
    for (size_t i = 0; i < n / QK_K; i++) {
        __m256i sx[4]; /* Σx of each block */
        UNROLL for (int t = 0; t < NT; t++) sx[t] = block_sums(one, (const ActQ4_K *)(x + t * xs) + i);
        UNROLL for (int r = 0; r < MR; r++) {
            __m256i u[8];
            float d;
            if (TQ1) {
                const BlockTQ1_0 *wb = (const BlockTQ1_0 *)(w + r * ws) + i;
                tq1_codes(wb, u), d = _cvtsh_ss(wb->d);
            } else {
                const BlockTQ2_0 *wb = (const BlockTQ2_0 *)(w + r * ws) + i;
                tq2_codes(wb, u), d = _cvtsh_ss(wb->d);
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + i;
                __m256i sumi = _mm256_sub_epi32(block_sums(u, xk), sx[t]);
                add_n(&acc[r][t], _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_loadu_ps(xk->d)), cvt(sumi)), 8);
            }
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
#define K_TQ1_0(MR, NT, ...) k_tq(MR, NT, 1, __VA_ARGS__)
#define K_TQ2_0(MR, NT, ...) k_tq(MR, NT, 0, __VA_ARGS__)
TILE_FNS(tile_tq1_0, K_TQ1_0)
TILE_FNS(tile_tq2_0, K_TQ2_0)

/* ---- q2_K, q3_K in groups of 8 rows (BlockQ2_Kx8, BlockQ3_Kx8) -------------
 * Lanes are rows, so each lane runs generic.c's scalar chain as it is: per
 * 32-block b, with u the unsigned codes (q2_K: q; q3_K: q + 4) of 4 values a
 * chunk meeting one broadcast of 4 activations,
 *   Σu·x per 16-value half: 4 maddubs added in int16 (|.| <= 4·2·7·127),
 *   sumi = Σ_h sc_h·(Σu·x)_h: the half sums (|.| < 2^15) and the scales
 *          as (half 0, half 1) int16 pairs, one madd (exact int32),
 *          q3_K: − 4·Σ_h sc_h·Σx_h (madd of (sc_0, sc_1) with the half sums),
 *   acc += (d·d_x)·sumi, q2_K: − (dmin·d_x)·Σ_h mn_h·Σx_h, in block order
 * (ActGroupQ6_K carries the x half sums). No fused multiply-adds: each
 * rounding is one of generic.c's. */

static size_t q2_Kx8_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ2_Kx8); }
static void q2_Kx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ2_Kx8 *g = dst;
    for (size_t i = 0; i < cols / QK_K; i++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ2_K *b = (const BlockQ2_K *)((const char *)src + (size_t)r * ws) + i;
            g->d[r] = b->d, g->dmin[r] = b->dmin;
            for (int s = 0; s < 16; s++) g->sc[s][r] = b->scales[s];
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < 8; c++) memcpy(&g->qs[j][c][4 * r], b->qs + 32 * j + 4 * c, 4);
        }
    }
}

static size_t q3_Kx8_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ3_Kx8); }
static void q3_Kx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ3_Kx8 *g = dst;
    for (size_t i = 0; i < cols / QK_K; i++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ3_K *b = (const BlockQ3_K *)((const char *)src + (size_t)r * ws) + i;
            int8_t sc[QK_K / 16];
            scales_q3_K(sc, b); /* as generic.c reads them */
            g->d[r] = b->d;
            for (int s = 0; s < 16; s++) g->sc[s][r] = sc[s];
            for (int c = 0; c < 8; c++) memcpy(&g->hm[c][4 * r], b->hmask + 4 * c, 4);
            for (int j = 0; j < 2; j++)
                for (int c = 0; c < 8; c++) memcpy(&g->qs[j][c][4 * r], b->qs + 32 * j + 4 * c, 4);
        }
    }
}

/* Row r's int16 a in the low half of lane r and b in the high (a, b: int32 lanes). */
FORCE __m256i pair16(__m256i a, __m256i b) { return _mm256_blend_epi16(a, _mm256_slli_epi32(b, 16), 0xAA); }

/* The (half 0, half 1) scale-byte pair of each row of block b: sc[2b] and
 * sc[2b + 1] (8 bytes each, row order) interleaved. */
FORCE __m128i byte_pairs(const void *sc2b) {
    __m128i v = _mm_loadu_si128((const __m128i *)sc2b);
    return _mm_unpacklo_epi8(v, _mm_srli_si128(v, 8));
}

/* Each super-block's weights are prefetched a few KiB ahead (x86_tile.h's
 * prefetch_ahead: decode streams them once). */
FORCE void k_q23_Kx8(const int Q3, const int NT, float *out, size_t os, const char *w, int nr, const char *x,
                     size_t xs, size_t n) {
    const __m256i three = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4), ones16 = _mm256_set1_epi16(1);
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
        for (int j = 0; j < 2; j++) UNROLL for (int k = 0; k < 4; k++) {
            const int b = 4 * j + k;
            __m256i scp, mnp = _mm256_setzero_si256(); /* (sc_0, sc_1), (mn_0, mn_1) per row */
            if (Q3) {
                scp = _mm256_cvtepi8_epi16(byte_pairs(g3->sc[2 * b]));
            } else {
                __m256i v = _mm256_cvtepu8_epi16(byte_pairs(g2->sc[2 * b]));
                scp = _mm256_and_si256(v, _mm256_set1_epi16(15)), mnp = _mm256_srli_epi16(v, 4);
            }
            __m256i s16[2][4];
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m256i u = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)qs[j][c]), 2 * k), three);
                if (Q3) { /* bit b of the row's hmask byte to bit 2 */
                    __m256i hm = _mm256_loadu_si256((const __m256i *)g3->hm[c]);
                    hm = b < 2 ? _mm256_slli_epi16(hm, 2 - b) : _mm256_srli_epi16(hm, b - 2);
                    u = _mm256_or_si256(u, _mm256_and_si256(hm, four));
                }
                UNROLL for (int t = 0; t < NT; t++) {
                    const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + i;
                    __m256i p = _mm256_maddubs_epi16(u, bcast4(xk->qs[b] + 4 * c));
                    s16[c / 4][t] = c % 4 == 0 ? p : _mm256_add_epi16(s16[c / 4][t], p);
                }
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + i;
                __m256i hx = bcast4((const int8_t *)xk->h[b]); /* (Σx_0, Σx_1) */
                __m256i U = pair16(_mm256_madd_epi16(s16[0][t], ones16), _mm256_madd_epi16(s16[1][t], ones16));
                __m256i sumi = _mm256_madd_epi16(U, scp); /* sc_0·Σu·x_0 + sc_1·Σu·x_1 */
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
FORCE void k_q2_Kx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_q23_Kx8(0, NT, out, os, w, nr, x, xs, n);
}
FORCE void k_q3_Kx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_q23_Kx8(1, NT, out, os, w, nr, x, xs, n);
}
PACKED_FNS(tile_q2_Kx8, k_q2_Kx8)
PACKED_FNS(tile_q3_Kx8, k_q3_Kx8)

/* iq4_xs in groups of 8 rows (BlockIQ4_XSx8), lanes = rows: per 32-block s
 * and chunk c the rows' levels (pshufb through kvalues_iq4nl) meet one
 * broadcast of x[4c..4c+4) (low nibbles) and of x[16+4c..) (high), signed by
 * the level as in the unpacked tile; per row lane
 *   sumi = Σ level·x (exact int32),  acc += (d·d_x)·(sc·sumi)
 * in block order: generic.c's chain in each lane. */
static size_t iq4_xsx8_bytes(size_t cols) { return cols / QK_K * sizeof(BlockIQ4_XSx8); }
static void iq4_xsx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockIQ4_XSx8 *g = dst;
    for (size_t i = 0; i < cols / QK_K; i++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockIQ4_XS *b = (const BlockIQ4_XS *)((const char *)src + (size_t)r * ws) + i;
            int8_t sc[QK_K / 32];
            scales_iq4_xs(sc, b); /* as generic.c reads them */
            g->d[r] = b->d;
            for (int s = 0; s < 8; s++) {
                g->sc[s][r] = sc[s];
                for (int c = 0; c < 4; c++) memcpy(&g->qs[s][c][4 * r], b->qs + 16 * s + 4 * c, 4);
            }
        }
    }
}

FORCE void k_iq4_xsx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                      size_t n) {
    const __m256i tbl = iq4_table(), low = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
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
                __m256i alo = _mm256_sign_epi8(lo, lo), ahi = _mm256_sign_epi8(hi, hi);
                UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *xq = ((const ActQ4_K *)(x + t * xs) + i)->qs[s];
                    __m256i plo = _mm256_maddubs_epi16(alo, _mm256_sign_epi8(bcast4(xq + 4 * c), lo));
                    __m256i phi = _mm256_maddubs_epi16(ahi, _mm256_sign_epi8(bcast4(xq + 16 + 4 * c), hi));
                    S[t] = _mm256_add_epi32(S[t], _mm256_add_epi32(_mm256_madd_epi16(plo, ones16), _mm256_madd_epi16(phi, ones16)));
                }
            }
            __m256i sc = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)g->sc[s]));
            UNROLL for (int t = 0; t < NT; t++) {
                __m256 dx = _mm256_broadcast_ss(&((const ActQ4_K *)(x + t * xs) + i)->d[s]);
                acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(d, dx), cvt(_mm256_mullo_epi32(S[t], sc))));
            }
        }
    }
    packed_store(NT, out, os, acc, nr);
}
PACKED_FNS(tile_iq4_xsx8, k_iq4_xsx8)

/* iq4_nl in groups of 8 rows: q4_0's group layout (BlockQ4_0x8: a block's
 * fp16 scale and 16 index bytes are q4_0's shape) and activations
 * (ActGroupQ4_0), the levels by pshufb as in the unpacked tile; per row
 * lane sumi = Σ level·x (exact int32), acc += (d_w·d_x)·sumi in block
 * order: generic.c's chain in each lane. */
static size_t iq4_nlx8_bytes(size_t cols) { return cols / QK32 * sizeof(BlockQ4_0x8); }
static void iq4_nlx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ4_0x8 *g = dst;
    for (size_t b = 0; b < cols / QK32; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockIQ4_NL *blk = (const BlockIQ4_NL *)((const char *)src + (size_t)r * ws) + b;
            g->d[r] = blk->d;
            for (int c = 0; c < 4; c++) memcpy(&g->qs[c][4 * r], blk->qs + 4 * c, 4);
        }
    }
}

FORCE void k_iq4_nlx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                      size_t n) {
    const __m256i tbl = iq4_table(), low = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK32; b++) {
        const BlockQ4_0x8 *g = (const BlockQ4_0x8 *)w + b;
        prefetch_ahead((const char *)g, sizeof *g);
        __m256i S[4];
        UNROLL for (int t = 0; t < NT; t++) S[t] = _mm256_setzero_si256();
        UNROLL for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)g->qs[c]);
            __m256i lo = _mm256_shuffle_epi8(tbl, _mm256_and_si256(v, low));
            __m256i hi = _mm256_shuffle_epi8(tbl, _mm256_and_si256(_mm256_srli_epi16(v, 4), low));
            __m256i alo = _mm256_sign_epi8(lo, lo), ahi = _mm256_sign_epi8(hi, hi);
            UNROLL for (int t = 0; t < NT; t++) {
                const int8_t *xq = ((const ActGroupQ4_0 *)(x + t * xs) + b)->qs;
                __m256i plo = _mm256_maddubs_epi16(alo, _mm256_sign_epi8(bcast4(xq + 4 * c), lo));
                __m256i phi = _mm256_maddubs_epi16(ahi, _mm256_sign_epi8(bcast4(xq + 16 + 4 * c), hi));
                S[t] = _mm256_add_epi32(S[t], _mm256_add_epi32(_mm256_madd_epi16(plo, ones16), _mm256_madd_epi16(phi, ones16)));
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g->d));
        UNROLL for (int t = 0; t < NT; t++) {
            __m256 dx = _mm256_broadcast_ss(&((const ActGroupQ4_0 *)(x + t * xs) + b)->d);
            acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_mul_ps(dw, dx), cvt(S[t])));
        }
    }
    packed_store(NT, out, os, acc, nr);
}
PACKED_FNS(tile_iq4_nlx8, k_iq4_nlx8)

/* The avx2 table's entries for these types (k is that table, its
 * activation layouts already in place). */
void kern_fill_avx2_k2(Kern *k) {
    KernDot a4k = k->mm[DT_Q4_K], a80 = k->mm[DT_Q8_0], g6k = k->pack[DT_Q6_K].dot; /* ActQ4_K, ActQ8_0, ActGroupQ6_K */
    k->mm[DT_Q2_K] = (KernDot){DT_Q8_0, a4k.act_bytes, a4k.act_quant, 4, 2, tile_q2_K};
    k->mm[DT_Q3_K] = (KernDot){DT_Q8_0, a4k.act_bytes, a4k.act_quant, 4, 2, tile_q3_K};
    k->mm[DT_IQ4_NL] = (KernDot){DT_Q8_0, a80.act_bytes, a80.act_quant, 4, 4, tile_iq4_nl};
    k->mm[DT_IQ4_XS] = (KernDot){DT_Q8_0, a4k.act_bytes, a4k.act_quant, 4, 4, tile_iq4_xs};
    k->mm[DT_TQ1_0] = (KernDot){DT_Q8_0, a4k.act_bytes, a4k.act_quant, 4, 2, tile_tq1_0};
    k->mm[DT_TQ2_0] = (KernDot){DT_Q8_0, a4k.act_bytes, a4k.act_quant, 4, 2, tile_tq2_0};
    k->pack[DT_Q2_K] = (KernPack){8, q2_Kx8_bytes, q2_Kx8_pack, {DT_Q8_0, g6k.act_bytes, g6k.act_quant, 8, 4, tile_q2_Kx8}};
    k->pack[DT_Q3_K] = (KernPack){8, q3_Kx8_bytes, q3_Kx8_pack, {DT_Q8_0, g6k.act_bytes, g6k.act_quant, 8, 4, tile_q3_Kx8}};
    k->pack[DT_IQ4_XS] = (KernPack){8, iq4_xsx8_bytes, iq4_xsx8_pack, {DT_Q8_0, a4k.act_bytes, a4k.act_quant, 8, 4, tile_iq4_xsx8}};
    KernDot g40 = k->pack[DT_Q4_0].dot; /* ActGroupQ4_0 */
    k->pack[DT_IQ4_NL] = (KernPack){8, iq4_nlx8_bytes, iq4_nlx8_pack, {DT_Q8_0, g40.act_bytes, g40.act_quant, 8, 4, tile_iq4_nlx8}};
}
#endif
