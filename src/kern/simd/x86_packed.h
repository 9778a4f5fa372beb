/* x86_packed — the matmul tiles over the packed layouts (KernPack; the
 * layouts are x86_layout.h's types, packed and their activations written in
 * avx2.c), written once for two instruction sets: avx2.c includes this with
 * X86_VNNI 0 (maddubs: u8·s8 pairs summed in int16, then madd to int32) and
 * avx512.c with X86_VNNI 1 (AVX-512 VNNI's dpbusd: u8·s8 quads summed
 * straight into int32), which takes only q5_Kx8 from here: its other packed
 * types have 16-row groups of their own (avx512.c). (k_kx8's integer loop is
 * ordered differently for the two: chunk by chunk for VNNI, token by token
 * for maddubs.) Both compute exactly the
 * same integer sums and then the same fp32 operations, so the two tables'
 * packed tiles agree bit for bit (test_simd checks it). The includer provides
 * <immintrin.h> (or SIMDe's emulation), FORCE, UNROLL, UNROLL8, QK32, QK_K,
 * memcpy and memset. */

#include "kern/simd/x86_layout.h"
#include "kern/simd/x86_tile.h"


/* acc + Σ u·x over each 32-bit lane's 4 byte pairs (VNNI tables only). */
#if X86_VNNI
#define DPBUSD(acc, u, x) _mm256_dpbusd_epi32((acc), (u), (x))
#endif

/* Float weights in groups of G rows (avx2: 8, avx512: 16), column-major
 * inside the group (element (r, i) at G·i + r), lanes = rows; the missing
 * rows of a last group are zeros. */
#define FLOAT_PACK(name, T, G)                                                                      \
    static size_t name##_bytes(size_t cols) { return cols * (G) * sizeof(T); }                     \
    static void name##_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {          \
        T *g = dst;                                                                                 \
        memset(g, 0, cols * (G) * sizeof(T));                                                       \
        for (int r = 0; r < nr; r++) {                                                              \
            const T *row = (const T *)((const char *)src + (size_t)r * ws);                        \
            for (size_t i = 0; i < cols; i++) g[(G) * i + (size_t)r] = row[i];                      \
        }                                                                                           \
    }

/* q4_0x8 and q8_0x8 (avx2 only: the avx512 table has 16-row groups of its
 * own, avx512.c, with the same per-element arithmetic). */
#if !X86_VNNI
FORCE void k_q4_0x8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                    size_t n) {
    const __m256i low = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    size_t nb = n / QK32;
    for (size_t b = 0; b < nb; b++) {
        const BlockQ4_0x8 *g = (const BlockQ4_0x8 *)w + b;
        __m256i s16[4];
        UNROLL for (int c = 0; c < 4; c++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)g->qs[c]);
            __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
                __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, bcast4(xb->qs + 4 * c)),
                                             _mm256_maddubs_epi16(hi, bcast4(xb->qs + 16 + 4 * c)));
                s16[t] = c ? _mm256_add_epi16(s16[t], p) : p;
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g->d));
        UNROLL for (int t = 0; t < NT; t++) {
            const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
            __m256i s = _mm256_sub_epi32(_mm256_madd_epi16(s16[t], ones16), _mm256_set1_epi32(xb->c));
            acc[t] = _mm256_fmadd_ps(cvt(s), _mm256_mul_ps(dw, _mm256_set1_ps(xb->d)), acc[t]);
        }
    }
    packed_store(NT, out, os, acc, nr);
}

PACKED_FNS(tile_q4_0x8, k_q4_0x8)
FORCE void k_q8_0x8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                    size_t n) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK32; b++) {
        const BlockQ8_0x8 *g = (const BlockQ8_0x8 *)w + b;
        __m256i s[4];
        UNROLL for (int t = 0; t < NT; t++) s[t] = _mm256_setzero_si256();
        UNROLL8 for (int c = 0; c < 8; c++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)g->qs[c]), aq = _mm256_sign_epi8(q, q);
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
                __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aq, _mm256_sign_epi8(bcast4(xb->qs + 4 * c), q)), ones16);
                s[t] = c ? _mm256_add_epi32(s[t], p) : p;
            }
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g->d));
        UNROLL for (int t = 0; t < NT; t++) {
            const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
            acc[t] = _mm256_fmadd_ps(cvt(s[t]), _mm256_mul_ps(dw, _mm256_set1_ps(xb->d)), acc[t]);
        }
    }
    packed_store(NT, out, os, acc, nr);
}

PACKED_FNS(tile_q8_0x8, k_q8_0x8)
#endif

/* Bit `bit` of every byte of h moved to bit 4 (16-bit shifts: bit 4 of a
 * byte comes from the same byte), the others cleared. */
FORCE __m256i bit_to_16(__m256i h, const int bit) {
    __m256i v = bit < 4 ? _mm256_slli_epi16(h, 4 - bit) : bit > 4 ? _mm256_srli_epi16(h, bit - 4) : h;
    return _mm256_and_si256(v, _mm256_set1_epi8(16));
}

/* q4_Kx8 (Q5 0) and q5_Kx8 (Q5 1) share one loop per instruction set, Q5
 * folds away. Both compute, per element and 32-block s, the exact int32
 * S_s = sc_s·Σu·x, then the same fp32 operations (A, M, acc below), so the
 * two tables agree bit for bit. */
FORCE void kx8_finish(const int NT, __m256 *acc, const __m256 *A, const HeadKx8 *head, const char *x, size_t xs,
                      size_t b) {
    __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)head->d));
    __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)head->dmin));
    __m256 M[4];
    UNROLL for (int t = 0; t < NT; t++) M[t] = _mm256_setzero_ps();
    for (int sb = 0; sb < 8; sb++) { /* the min terms, sb in order */
        __m256 mn = cvt(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)head->mn[sb])));
        UNROLL for (int t = 0; t < NT; t++)
            M[t] = _mm256_fmadd_ps(mn, _mm256_broadcast_ss(((const ActQ4_K *)(x + t * xs) + b)->s + sb), M[t]);
    }
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_fnmadd_ps(dmin, M[t], _mm256_fmadd_ps(d, A[t], acc[t]));
}

#if X86_VNNI
/* VNNI: chunk by chunk, every token's two 32-block sums in int32. */
FORCE void k_kx8(const int Q5, const int NT, float *out, size_t os, const char *w, int nr, const char *x,
                 size_t xs, size_t n) {
    const __m256i low = _mm256_set1_epi8(15);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK_K; b++) {
        const BlockQ4_Kx8 *g4 = (const BlockQ4_Kx8 *)w + b;
        const BlockQ5_Kx8 *g5 = (const BlockQ5_Kx8 *)w + b;
        const HeadKx8 *head = Q5 ? &g5->h : &g4->h;
        __m256 A[4];
        UNROLL for (int t = 0; t < NT; t++) A[t] = _mm256_setzero_ps();
        UNROLL for (int j = 0; j < 4; j++) {
            const uint8_t(*qs)[32] = Q5 ? g5->qs[j] : g4->qs[j];
            __m256i s[2][4];
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)qs[c]);
                __m256i lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
                if (Q5) {
                    __m256i qh = _mm256_loadu_si256((const __m256i *)g5->qh[c]);
                    lo = _mm256_or_si256(lo, bit_to_16(qh, 2 * j)), hi = _mm256_or_si256(hi, bit_to_16(qh, 2 * j + 1));
                }
                UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t(*xq)[32] = ((const ActQ4_K *)(x + t * xs) + b)->qs + 2 * j; /* blocks 2j, 2j+1 */
                    s[0][t] = DPBUSD(c ? s[0][t] : _mm256_setzero_si256(), lo, bcast4(xq[0] + 4 * c));
                    s[1][t] = DPBUSD(c ? s[1][t] : _mm256_setzero_si256(), hi, bcast4(xq[1] + 4 * c));
                }
            }
            UNROLL for (int h = 0; h < 2; h++) {
                __m256i sc = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)head->sc[2 * j + h]));
                UNROLL for (int t = 0; t < NT; t++) {
                    const float *dx = &((const ActQ4_K *)(x + t * xs) + b)->d[2 * j + h];
                    A[t] = _mm256_fmadd_ps(cvt(_mm256_mullo_epi32(s[h][t], sc)), _mm256_broadcast_ss(dx), A[t]);
                }
            }
        }
        kx8_finish(NT, acc, A, head, x, xs, b);
    }
    packed_store(NT, out, os, acc, nr);
}
#else
/* maddubs: per 64 values j, the 8 chunks' unsigned u unpacked once, then
 * token by token each 32-block's products summed in int16 (8 chunks for
 * q4_K, |sum| <= 8·2·15·128; 4 at a time for q5_K's u <= 31) and madd by
 * (sc, sc) pairs. Token by token keeps a token's sum in registers and
 * reads the unpacked weights back from L1; chunk by chunk (the VNNI order)
 * needs 2·NT sums live at once, which GCC spills from the 16 ymm registers
 * (bench/RESULTS.md, issue 24). */
FORCE void k_kx8(const int Q5, const int NT, float *out, size_t os, const char *w, int nr, const char *x,
                 size_t xs, size_t n) {
    const __m256i low = _mm256_set1_epi8(15);
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK_K; b++) {
        const BlockQ4_Kx8 *g4 = (const BlockQ4_Kx8 *)w + b;
        const BlockQ5_Kx8 *g5 = (const BlockQ5_Kx8 *)w + b;
        const HeadKx8 *head = Q5 ? &g5->h : &g4->h;
        __m256 A[4];
        UNROLL for (int t = 0; t < NT; t++) A[t] = _mm256_setzero_ps();
        UNROLL for (int j = 0; j < 4; j++) {
            const uint8_t(*qs)[32] = Q5 ? g5->qs[j] : g4->qs[j];
            __m256i u[2][8]; /* [h][c]: 32-block 2j + h's u, chunk c */
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)qs[c]);
                u[0][c] = _mm256_and_si256(v, low), u[1][c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
                if (Q5) {
                    __m256i qh = _mm256_loadu_si256((const __m256i *)g5->qh[c]);
                    u[0][c] = _mm256_or_si256(u[0][c], bit_to_16(qh, 2 * j)), u[1][c] = _mm256_or_si256(u[1][c], bit_to_16(qh, 2 * j + 1));
                }
            }
            __m256i sc[2];
            UNROLL for (int h = 0; h < 2; h++) {
                sc[h] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)head->sc[2 * j + h]));
                sc[h] = _mm256_or_si256(sc[h], _mm256_slli_epi32(sc[h], 16)); /* (sc, sc) int16 pairs */
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + b;
                UNROLL for (int h = 0; h < 2; h++) {
                    const int8_t *xq = xk->qs[2 * j + h];
                    __m256i S = _mm256_setzero_si256();
                    UNROLL for (int r = 0; r < 2; r++) { /* runs of len chunks from c0 */
                        const int len = Q5 ? 4 : 8, c0 = len * r;
                        if (c0 >= 8) break;
                        __m256i s16 = _mm256_maddubs_epi16(u[h][c0], bcast4(xq + 4 * c0));
                        UNROLL8 for (int c = 1; c < 8; c++)
                            if (c < len) s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(u[h][c0 + c], bcast4(xq + 4 * (c0 + c))));
                        S = r ? _mm256_add_epi32(S, _mm256_madd_epi16(s16, sc[h])) : _mm256_madd_epi16(s16, sc[h]);
                    }
                    A[t] = _mm256_fmadd_ps(cvt(S), _mm256_broadcast_ss(&xk->d[2 * j + h]), A[t]);
                }
            }
        }
        kx8_finish(NT, acc, A, head, x, xs, b);
    }
    packed_store(NT, out, os, acc, nr);
}
#endif
#if !X86_VNNI /* the avx512 table's q4_K has 16-row groups (avx512.c) */
FORCE void k_q4_Kx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_kx8(0, NT, out, os, w, nr, x, xs, n);
}
PACKED_FNS(tile_q4_Kx8, k_q4_Kx8)
#endif
FORCE void k_q5_Kx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    k_kx8(1, NT, out, os, w, nr, x, xs, n);
}
PACKED_FNS(tile_q5_Kx8, k_q5_Kx8)

#if !X86_VNNI /* the avx512 table's q6_K has 16-row groups (avx512.c) */
/* u of 32-block 4n + k, elements 4c..4c+3, in every row (see q6_Kx8). */
FORCE __m256i q6_u(const BlockQ6_Kx8 *g, int n, int c, int k) {
    const __m256i low = _mm256_set1_epi8(15), hb = _mm256_set1_epi8(48);
    __m256i q = _mm256_loadu_si256((const __m256i *)g->q[n][c].ql[k & 1]), h = _mm256_loadu_si256((const __m256i *)g->q[n][c].qh);
    __m256i lo = k < 2 ? _mm256_and_si256(q, low) : _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
    __m256i hi = k == 0 ? _mm256_slli_epi16(h, 4) : k == 1 ? _mm256_slli_epi16(h, 2) : k == 2 ? h : _mm256_srli_epi16(h, 2);
    return _mm256_or_si256(lo, _mm256_and_si256(hi, hb));
}

FORCE void k_q6_Kx8(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                    size_t n) {
    __m256 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK_K; b++) {
        const BlockQ6_Kx8 *g = (const BlockQ6_Kx8 *)w + b;
        __m256 A[4];
        UNROLL for (int t = 0; t < NT; t++) A[t] = _mm256_setzero_ps();
        for (int hn = 0; hn < 2; hn++) UNROLL for (int k = 0; k < 4; k++) {
            int s = 4 * hn + k;
            /* the rows' scale pairs (sc_0, sc_1), and each one doubled */
            __m256i pair = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)g->sc[s]));
            __m256i dup[2] = {_mm256_shufflehi_epi16(_mm256_shufflelo_epi16(pair, 0xA0), 0xA0),
                              _mm256_shufflehi_epi16(_mm256_shufflelo_epi16(pair, 0xF5), 0xF5)};
            __m256i P[4], m[4];
            UNROLL for (int t = 0; t < NT; t++) P[t] = m[t] = _mm256_setzero_si256();
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m256i u = q6_u(g, hn, c, k);
                UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *xq = ((const ActGroupQ6_K *)(x + t * xs) + b)->qs[s];
                    __m256i mc = _mm256_maddubs_epi16(u, bcast4(xq + 4 * c));
                    if (c % 2 == 0) {
                        m[t] = mc;
                    } else {
                        __m256i pc = _mm256_madd_epi16(_mm256_add_epi16(m[t], mc), dup[c / 4]);
                        P[t] = c == 1 ? pc : _mm256_add_epi32(P[t], pc);
                    }
                }
            }
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + b;
                __m256i C = _mm256_slli_epi32(_mm256_madd_epi16(pair, bcast4((const int8_t *)xk->h[s])), 5);
                A[t] = _mm256_fmadd_ps(cvt(_mm256_sub_epi32(P[t], C)), _mm256_broadcast_ss(&xk->d[s]), A[t]);
            }
        }
        __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)g->d));
        UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_fmadd_ps(d, A[t], acc[t]);
    }
    packed_store(NT, out, os, acc, nr);
}
PACKED_FNS(tile_q6_Kx8, k_q6_Kx8)
#endif
