/* avx512 — the avx2 table with 512-bit packed tiles and AVX-512 VNNI
 * (vpdpbusd: four u8·s8 products summed straight into each int32 lane, where
 * AVX2 needs maddubs, an int16 sum and a madd):
 *   F32, F16, BF16, Q4_0, Q8_0 (up to 8 tokens per tile), Q4_K, Q6_K (up
 *     to 4): groups of 16 rows in 512-bit lanes (below);
 *   Q5_K: the avx2 table's 8-row groups, with x86_packed.h's tile built
 *     here with X86_VNNI 1 (vpdpbusd on 256-bit vectors).
 * Every tile computes each element with the same integer sums and the same
 * fp32 operations in the same order as the avx2 table's tiles, so the two
 * tables agree bit for bit (test_simd's check_pack_agree); the 16-row
 * layouts only change which lanes hold which rows and how the weights reach
 * the registers. Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512vnni
 * (plus AVX2/FMA/F16C) and only called on CPUs that have them; with
 * KERN_EMULATE_AVX512 it is built against SIMDe's portable emulation of the
 * same intrinsics instead, so that tests/platform/avx512.sh runs these tiles
 * on a machine without AVX-512. */
#if defined(__x86_64__) || defined(__i386__)
#ifdef KERN_EMULATE_AVX512
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#else
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"

#define FORCE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 4")
#define UNROLL8 _Pragma("GCC unroll 8")

#define X86_VNNI 1
#include "kern/simd/x86_packed.h"
#include "kern/simd/x86_512.h"

/* The bandwidth probe's loop: 256 bytes per step in four 512-bit loads. */
static uint64_t read_lines(const void *p, size_t bytes) {
    const char *c = p;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= bytes; i += 256) {
        a0 = _mm512_xor_si512(a0, _mm512_loadu_si512((const void *)(c + i)));
        a1 = _mm512_xor_si512(a1, _mm512_loadu_si512((const void *)(c + i + 64)));
        a2 = _mm512_xor_si512(a2, _mm512_loadu_si512((const void *)(c + i + 128)));
        a3 = _mm512_xor_si512(a3, _mm512_loadu_si512((const void *)(c + i + 192)));
    }
    uint64_t w[8];
    _mm512_storeu_si512((void *)w, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
    return w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4] ^ w[5] ^ w[6] ^ w[7];
}

/* The tiles prefetch their weights ahead: x86_tile.h's prefetch_ahead. */

/* ---- float weights in 512-bit registers ------------------------------------
 * f32x16, f16x16: 16 rows of float weights per group, column-major inside
 * the group (element (r, i) at 16i + r), bf16p16 the same in column pairs
 * (below), lanes = rows: one broadcast of x[i] meets 16 rows in one 512-bit
 * fma, one conversion serves 16 rows, and a tile holds up to 8 tokens (16
 * accumulators of the 32 registers).
 * Per element the avx2 tiles' schedule exactly (two chains, even and odd
 * columns, a last odd column joining the even chain, then even + odd), so
 * the results equal the avx2 table's 8-row tiles bit for bit. */
FLOAT_PACK(f32x16, float, 16)
FLOAT_PACK(f16x16, uint16_t, 16)

/* bf16p16: bf16 weights, 16 rows per group, in column pairs (PairBF16x16,
 * x86_layout.h). One aligned 512-bit load serves two columns, and each
 * becomes fp32 in one instruction: the even column by a shift left of 16,
 * the odd one by clearing the low half (exact) — or, on CPUs with
 * AVX512_BF16, a pair is vdpbf16ps's operand as it stands. */
static size_t bf16p16_bytes(size_t cols) { return (cols + 1) / 2 * sizeof(PairBF16x16); }
static void bf16p16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    PairBF16x16 *g = dst;
    memset(g, 0, bf16p16_bytes(cols));
    for (int r = 0; r < nr; r++) {
        const uint16_t *row = (const uint16_t *)((const char *)src + (size_t)r * ws);
        for (size_t i = 0; i < cols; i++) g[i / 2].v[r][i % 2] = row[i];
    }
}
/* The pair of a bf16p16 group that holds column i, i even. */
FORCE const PairBF16x16 *bf16p_pair(const void *p, size_t i) {
    return (const PairBF16x16 *)((const char *)p + i * (sizeof(PairBF16x16) / 2));
}
/* Column e / 16 of a bf16p16 group as fp32 (the tile's load(w, 16·i)). */
FORCE __m512 load16_bf16p(const void *p, size_t e) {
    size_t i = e / 16;
    __m512i v = _mm512_loadu_si512((const void *)((const PairBF16x16 *)p + i / 2));
    if (i % 2) return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32((int)0xffff0000u)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

/* The first nr lanes of a group's sums to out. */
FORCE void packed16_store(float *out, __m512 sum, int nr) {
    if (nr == 16) {
        _mm512_storeu_ps(out, sum);
    } else {
        float tmp[16];
        _mm512_storeu_ps(tmp, sum);
        memcpy(out, tmp, (size_t)nr * sizeof(float));
    }
}

#define FLOAT_PACKED16_TILE(K, load, colb)                                                          \
    FORCE void K(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, \
                 size_t n) {                                                                        \
        __m512 a0[8], a1[8];                                                                        \
        UNROLL8 for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm512_setzero_ps();                   \
        size_t i = 0;                                                                               \
        for (; i + 4 <= n; i += 4) {                                                                \
            prefetch_ahead(w + (colb) * i, 4 * (colb));                                             \
            __m512 w0 = load(w, 16 * i), w1 = load(w, 16 * i + 16);                                 \
            __m512 w2 = load(w, 16 * i + 32), w3 = load(w, 16 * i + 48);                            \
            UNROLL8 for (int t = 0; t < NT; t++) {                                                  \
                const float *xt = (const float *)(x + t * xs) + i;                                  \
                a0[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a0[t]);                          \
                a1[t] = _mm512_fmadd_ps(w1, _mm512_set1_ps(xt[1]), a1[t]);                          \
                a0[t] = _mm512_fmadd_ps(w2, _mm512_set1_ps(xt[2]), a0[t]);                          \
                a1[t] = _mm512_fmadd_ps(w3, _mm512_set1_ps(xt[3]), a1[t]);                          \
            }                                                                                       \
        }                                                                                           \
        for (; i < n; i++) {                                                                        \
            __m512 w0 = load(w, 16 * i);                                                            \
            UNROLL8 for (int t = 0; t < NT; t++) {                                                  \
                const float *xt = (const float *)(x + t * xs) + i;                                  \
                if (i % 2 == 0) a0[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a0[t]);          \
                else a1[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a1[t]);                     \
            }                                                                                       \
        }                                                                                           \
        UNROLL8 for (int t = 0; t < NT; t++) packed16_store(out + (size_t)t * os, _mm512_add_ps(a0[t], a1[t]), nr); \
    }
FLOAT_PACKED16_TILE(k_f32x16, load16_f32, 64)
FLOAT_PACKED16_TILE(k_f16x16, load16_f16, 32)
FLOAT_PACKED16_TILE(k_bf16p16, load16_bf16p, 32)

/* bf16p16 against bf16-rounded x (kern.h's DT_BF16, the fast dot): pair p into chain
 * p mod 2, the odd column's product first, as vdpbf16ps computes (measured
 * on Zen 4: two fused steps, odd then even, over millions of random pairs;
 * Intel's pseudo-code says the same), and as avx2's bf16x8 does. The pack
 * pads an odd last column with zero; so does the activation row. Two forms
 * of the same arithmetic: k_bf16p16x widens each column (fp32 x, the avx2
 * table's activation layout), k_bf16p16_dp (AVX512_BF16) is one vdpbf16ps
 * per pair and token on x as bf16 pairs (bf16_pairs below). Sub-normal
 * values are the exception: vdpbf16ps reads such inputs as zero (the
 * activations are flushed so, by f32_to_bf16_act; weights that small are not
 * in any model) and flushes such sums to zero (|sum| < 2^-126: only where
 * every product is that small). */
FORCE void k_bf16p16x(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    __m512 a0[8], a1[8];
    UNROLL8 for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        prefetch_ahead((const char *)bf16p_pair(w, i), 2 * sizeof(PairBF16x16));
        __m512 e0 = load16_bf16p(w, 16 * i), o0 = load16_bf16p(w, 16 * i + 16);
        __m512 e1 = load16_bf16p(w, 16 * i + 32), o1 = load16_bf16p(w, 16 * i + 48);
        UNROLL8 for (int t = 0; t < NT; t++) {
            const float *xt = (const float *)(x + t * xs) + i;
            a0[t] = _mm512_fmadd_ps(o0, _mm512_set1_ps(xt[1]), a0[t]);
            a0[t] = _mm512_fmadd_ps(e0, _mm512_set1_ps(xt[0]), a0[t]);
            a1[t] = _mm512_fmadd_ps(o1, _mm512_set1_ps(xt[3]), a1[t]);
            a1[t] = _mm512_fmadd_ps(e1, _mm512_set1_ps(xt[2]), a1[t]);
        }
    }
    for (; i < n; i += 2) { /* a pair to chain 0, then 1; o is zero past n */
        __m512 e = load16_bf16p(w, 16 * i), o = load16_bf16p(w, 16 * i + 16);
        UNROLL8 for (int t = 0; t < NT; t++) {
            const float *xt = (const float *)(x + t * xs) + i;
            __m512 *a = i % 4 ? &a1[t] : &a0[t];
            *a = _mm512_fmadd_ps(o, i + 1 < n ? _mm512_set1_ps(xt[1]) : _mm512_setzero_ps(), *a);
            *a = _mm512_fmadd_ps(e, _mm512_set1_ps(xt[0]), *a);
        }
    }
    UNROLL8 for (int t = 0; t < NT; t++) packed16_store(out + (size_t)t * os, _mm512_add_ps(a0[t], a1[t]), nr);
}

#ifndef KERN_EMULATE_AVX512
#define BF16_TARGET __attribute__((target("avx512bf16")))
/* x as bf16 pairs: element i at 2i bytes, a zero after an odd n. */
static size_t bf16_pairs_bytes(size_t n) { return (n + 1) / 2 * 4; }
static void bf16_pairs(void *dst, const float *x, size_t n) {
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = f32_to_bf16_act(x[i]);
    if (n % 2) d[n] = 0;
}
BF16_TARGET FORCE __m512 dp_pair(__m512 a, __m512i w, const char *xp) {
    int32_t v;
    memcpy(&v, xp, 4);
    return _mm512_dpbf16_ps(a, (__m512bh)w, (__m512bh)_mm512_set1_epi32(v));
}
BF16_TARGET FORCE void k_bf16p16_dp(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                                    size_t n) {
    __m512 a0[8], a1[8];
    UNROLL8 for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const PairBF16x16 *pw = bf16p_pair(w, i);
        prefetch_ahead((const char *)pw, 2 * sizeof *pw);
        __m512i v0 = _mm512_loadu_si512((const void *)pw), v1 = _mm512_loadu_si512((const void *)(pw + 1));
        UNROLL8 for (int t = 0; t < NT; t++) {
            const char *xp = x + t * xs + 2 * i;
            a0[t] = dp_pair(a0[t], v0, xp);
            a1[t] = dp_pair(a1[t], v1, xp + 4);
        }
    }
    for (; i < n; i += 2) {
        __m512i v = _mm512_loadu_si512((const void *)bf16p_pair(w, i));
        UNROLL8 for (int t = 0; t < NT; t++) {
            __m512 *a = i % 4 ? &a1[t] : &a0[t];
            *a = dp_pair(*a, v, x + t * xs + 2 * i);
        }
    }
    UNROLL8 for (int t = 0; t < NT; t++) packed16_store(out + (size_t)t * os, _mm512_add_ps(a0[t], a1[t]), nr);
}
#else
#define BF16_TARGET
#endif

/* A 16-row packed tile: one group (nr rows written) × nt <= 8 tokens. */
#define PACKED16_FNS(name, K) PACKED16_FNS_T(name, K, )
#define PACKED16_FNS_T(name, K, ATTR)                                                                \
    ATTR static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                             \
        (void)ws;                                                                                    \
        switch (nt) {                                                                                \
        case 1: K(1, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 2: K(2, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 3: K(3, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 4: K(4, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 5: K(5, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 6: K(6, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 7: K(7, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 8: K(8, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        default: break;                                                                              \
        }                                                                                            \
    }
PACKED16_FNS(tile_f32x16, k_f32x16)
PACKED16_FNS(tile_f16x16, k_f16x16)
PACKED16_FNS(tile_bf16p16, k_bf16p16)
PACKED16_FNS(tile_bf16p16x, k_bf16p16x)
#ifndef KERN_EMULATE_AVX512
PACKED16_FNS_T(tile_bf16p16_dp, k_bf16p16_dp, BF16_TARGET)
#endif

/* ---- q4_0 and q8_0 weights in 512-bit registers ----------------------------
 * q4_0x16 and q8_0x16 (PairQ4_0x16, PairQ8_0x16: x86_layout.h): 16 rows per
 * group, lanes = rows, the avx2 table's q4_0x8/q8_0x8 twice as wide, two
 * blocks to a unit. Activations: the avx2 table's ActGroupQ4_0. Per element
 * and block, every sum exact in int32 (vpdpbusd: u8·s8 quads summed into
 * int32 without saturation):
 *   q4_0: s = Σ_c dpbusd(lo_c, x[4c..]) + dpbusd(hi_c, x[16+4c..]) − c
 *   q8_0: s = Σ_c dpbusd(q_c + 128, x[4c..]) − 16·c     (= Σ q·x exactly)
 *   acc = fma(float(s), d_w·d_x, acc)
 * which is the avx2 tiles' per-element arithmetic (their s is the same exact
 * integer: the x8 q8_0 tile's |q|·sign(x, q) differs only for q = x = −128,
 * which q8_0's quantizer never makes), so the results equal the avx2 table's
 * bit for bit (check_pack_agree). Up to 8 tokens per tile. */
static size_t q4_0x16_bytes(size_t cols) { return (cols / QK32 + 1) / 2 * sizeof(PairQ4_0x16); }
static void q4_0x16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    PairQ4_0x16 *g = dst;
    memset(g, 0, q4_0x16_bytes(cols));
    for (size_t b = 0; b < cols / QK32; b++)
        for (int r = 0; r < nr; r++) {
            const BlockQ4_0 *blk = (const BlockQ4_0 *)((const char *)src + (size_t)r * ws) + b;
            g[b / 2].d[b % 2][r] = blk->d;
            for (int c = 0; c < 4; c++) memcpy(&g[b / 2].qs[b % 2][c][4 * r], blk->qs + 4 * c, 4);
        }
}

static size_t q8_0x16_bytes(size_t cols) { return (cols / QK32 + 1) / 2 * sizeof(PairQ8_0x16); }
static void q8_0x16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    PairQ8_0x16 *g = dst;
    memset(g, 0, q8_0x16_bytes(cols));
    for (size_t b = 0; b < cols / QK32; b++)
        for (int r = 0; r < nr; r++) {
            const BlockQ8_0 *blk = (const BlockQ8_0 *)((const char *)src + (size_t)r * ws) + b;
            g[b / 2].d[b % 2][r] = blk->d;
            for (int c = 0; c < 8; c++)
                for (int k = 0; k < 4; k++) g[b / 2].qs[b % 2][c][4 * r + k] = (uint8_t)(blk->qs[4 * c + k] ^ 0x80);
        }
}

/* acc[t] = fma(float(s[t] − c_t·mul), d_w·d_x, acc[t]) for block b (d: its
 * 16 rows' scales). */
FORCE void x16_scale(const int NT, __m512 *acc, const __m512i *s, const uint16_t *d, const char *x, size_t xs, size_t b,
                     const int mul) {
    __m512 dw = load16_f16(d, 0);
    UNROLL8 for (int t = 0; t < NT; t++) {
        const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
        __m512i si = _mm512_sub_epi32(s[t], _mm512_set1_epi32(xb->c * mul));
        acc[t] = _mm512_fmadd_ps(cvt16(si), _mm512_mul_ps(dw, _mm512_set1_ps(xb->d)), acc[t]);
    }
}

FORCE void k_q4_0x16(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    const __m512i low = _mm512_set1_epi8(15);
    __m512 acc[8];
    UNROLL8 for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < n / QK32; b++) {
        const PairQ4_0x16 *u = (const PairQ4_0x16 *)w + b / 2;
        const uint8_t(*q)[64] = u->qs[b % 2];
        prefetch_ahead((const char *)q, sizeof *u / 2);
        __m512i s[8], s1[8]; /* two chains (low, high nibbles): the sum is exact either way */
        UNROLL for (int c = 0; c < 4; c++) {
            __m512i v = _mm512_loadu_si512((const void *)q[c]);
            __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            UNROLL8 for (int t = 0; t < NT; t++) {
                const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
                s[t] = _mm512_dpbusd_epi32(c ? s[t] : _mm512_setzero_si512(), lo, bcast4_512(xb->qs + 4 * c));
                s1[t] = _mm512_dpbusd_epi32(c ? s1[t] : _mm512_setzero_si512(), hi, bcast4_512(xb->qs + 16 + 4 * c));
            }
        }
        UNROLL8 for (int t = 0; t < NT; t++) s[t] = _mm512_add_epi32(s[t], s1[t]);
        x16_scale(NT, acc, s, u->d[b % 2], x, xs, b, 1);
    }
    store16(NT, out, os, acc, nr);
}

FORCE void k_q8_0x16(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    __m512 acc[8];
    UNROLL8 for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < n / QK32; b++) {
        const PairQ8_0x16 *u = (const PairQ8_0x16 *)w + b / 2;
        const uint8_t(*q)[64] = u->qs[b % 2];
        prefetch_ahead((const char *)q, sizeof *u / 2);
        __m512i s[8], s1[8]; /* two chains (even, odd chunks) */
        UNROLL8 for (int t = 0; t < NT; t++) s[t] = s1[t] = _mm512_setzero_si512();
        UNROLL8 for (int c = 0; c < 8; c++) {
            __m512i v = _mm512_loadu_si512((const void *)q[c]);
            UNROLL8 for (int t = 0; t < NT; t++) {
                const ActGroupQ4_0 *xb = (const ActGroupQ4_0 *)(x + t * xs) + b;
                if (c % 2) s1[t] = _mm512_dpbusd_epi32(s1[t], v, bcast4_512(xb->qs + 4 * c));
                else s[t] = _mm512_dpbusd_epi32(s[t], v, bcast4_512(xb->qs + 4 * c));
            }
        }
        UNROLL8 for (int t = 0; t < NT; t++) s[t] = _mm512_add_epi32(s[t], s1[t]);
        x16_scale(NT, acc, s, u->d[b % 2], x, xs, b, 16);
    }
    store16(NT, out, os, acc, nr);
}

PACKED16_FNS(tile_q4_0x16, k_q4_0x16)
PACKED16_FNS(tile_q8_0x16, k_q8_0x16)

/* ---- q4_K weights in 512-bit registers -------------------------------------
 * q4_Kx16 (BlockQ4_Kx16, x86_layout.h): the avx2 table's q4_Kx8 with 16
 * rows. Activations: the avx2 table's ActQ4_K. Per element, q4_Kx8's
 * arithmetic with the VNNI sums (exact int32, then times sc_s), in the same
 * order:
 *   A = Σ_s fma(float(S_s·sc_s), d_x,s),  M = Σ_s fma(float(mn_s), s_x,s),
 *   acc = fnmadd(dmin, M, fma(d, A, acc)).
 * Up to 4 tokens per tile (two sums per token and sub-block pair in flight). */
static size_t q4_Kx16_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ4_Kx16); }
static void q4_Kx16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ4_Kx16 *g = dst;
    for (size_t b = 0; b < cols / QK_K; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ4_K *blk = (const BlockQ4_K *)((const char *)src + (size_t)r * ws) + b;
            g->d[r] = blk->d, g->dmin[r] = blk->dmin;
            for (int sb = 0; sb < 8; sb++) {
                int sc, mn;
                kern_scale_min_k4(sb, blk->scales, &sc, &mn);
                g->sc[sb][r] = (uint8_t)sc, g->mn[sb][r] = (uint8_t)mn;
            }
            for (int j = 0; j < 4; j++)
                for (int c = 0; c < 8; c++) memcpy(&g->qs[j][c][4 * r], blk->qs + 32 * j + 4 * c, 4);
        }
    }
}

FORCE void k_q4_Kx16(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                     size_t n) {
    const __m512i low = _mm512_set1_epi8(15);
    __m512 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < n / QK_K; b++) {
        const BlockQ4_Kx16 *g = (const BlockQ4_Kx16 *)w + b;
        __m512 A[4];
        UNROLL for (int t = 0; t < NT; t++) A[t] = _mm512_setzero_ps();
        prefetch_ahead((const char *)g, offsetof(BlockQ4_Kx16, qs));
        for (int j = 0; j < 4; j++) {
            prefetch_ahead((const char *)g->qs[j], sizeof g->qs[j]);
            __m512i s[2][4];
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m512i v = _mm512_loadu_si512((const void *)g->qs[j][c]);
                __m512i lo = _mm512_and_si512(v, low), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
                UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t(*xq)[32] = ((const ActQ4_K *)(x + t * xs) + b)->qs + 2 * j; /* blocks 2j, 2j+1 */
                    s[0][t] = _mm512_dpbusd_epi32(c ? s[0][t] : _mm512_setzero_si512(), lo, bcast4_512(xq[0] + 4 * c));
                    s[1][t] = _mm512_dpbusd_epi32(c ? s[1][t] : _mm512_setzero_si512(), hi, bcast4_512(xq[1] + 4 * c));
                }
            }
            UNROLL for (int h = 0; h < 2; h++) {
                __m512i sc = load16_u8(g->sc[2 * j + h]);
                UNROLL for (int t = 0; t < NT; t++) {
                    const float *dx = &((const ActQ4_K *)(x + t * xs) + b)->d[2 * j + h];
                    A[t] = _mm512_fmadd_ps(cvt16(_mm512_mullo_epi32(s[h][t], sc)), _mm512_set1_ps(*dx), A[t]);
                }
            }
        }
        __m512 d = load16_f16(g->d, 0), dmin = load16_f16(g->dmin, 0);
        UNROLL for (int t = 0; t < NT; t++) {
            const float *sx = ((const ActQ4_K *)(x + t * xs) + b)->s;
            __m512 M = _mm512_setzero_ps();
            for (int sb = 0; sb < 8; sb++) M = _mm512_fmadd_ps(cvt16(load16_u8(g->mn[sb])), _mm512_set1_ps(sx[sb]), M);
            acc[t] = _mm512_fnmadd_ps(dmin, M, _mm512_fmadd_ps(d, A[t], acc[t]));
        }
    }
    store16(NT, out, os, acc, nr);
}

PACKED16_FNS4(tile_q4_Kx16, k_q4_Kx16)

/* ---- q6_K weights in 512-bit registers -------------------------------------
 * q6_Kx16 (BlockQ6_Kx16, x86_layout.h): the avx2 table's q6_Kx8 with 16
 * rows (u of 32-block 4n + k as in q6_Kx8). Activations: the avx2 table's
 * ActGroupQ6_K. Per element and 32-block s, q6_Kx8's
 * VNNI arithmetic (exact int32 sums of each half times its scale, minus
 * C = 32·(sc_0·Σq_half0 + sc_1·Σq_half1)), A = fma(float(P − C), d_x, A),
 * per super-block acc = fma(d, A, acc). Up to 4 tokens per tile. */
static size_t q6_Kx16_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ6_Kx16); }
static void q6_Kx16_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ6_Kx16 *g = dst;
    for (size_t b = 0; b < cols / QK_K; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ6_K *blk = (const BlockQ6_K *)((const char *)src + (size_t)r * ws) + b;
            g->d[r] = blk->d;
            for (int sb = 0; sb < 8; sb++) memcpy(&g->sc[sb][2 * r], blk->scales + 2 * sb, 2);
            for (int n = 0; n < 2; n++)
                for (int c = 0; c < 8; c++) {
                    memcpy(&g->q[n][c].ql[0][4 * r], blk->ql + 64 * n + 4 * c, 4);
                    memcpy(&g->q[n][c].ql[1][4 * r], blk->ql + 64 * n + 32 + 4 * c, 4);
                    memcpy(&g->q[n][c].qh[4 * r], blk->qh + 32 * n + 4 * c, 4);
                }
        }
    }
}

/* u of 32-block 4n + k, elements 4c..4c+3, in every row (see q6_Kx8). */
FORCE __m512i q6_u16(const BlockQ6_Kx16 *g, int n, int c, int k) {
    const __m512i low = _mm512_set1_epi8(15), hb = _mm512_set1_epi8(48);
    __m512i q = _mm512_loadu_si512((const void *)g->q[n][c].ql[k & 1]), h = _mm512_loadu_si512((const void *)g->q[n][c].qh);
    __m512i lo = k < 2 ? _mm512_and_si512(q, low) : _mm512_and_si512(_mm512_srli_epi16(q, 4), low);
    __m512i hi = k == 0 ? _mm512_slli_epi16(h, 4) : k == 1 ? _mm512_slli_epi16(h, 2) : k == 2 ? h : _mm512_srli_epi16(h, 2);
    return _mm512_or_si512(lo, _mm512_and_si512(hi, hb));
}

FORCE void k_q6_Kx16(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,
                     size_t n) {
    __m512 acc[4];
    UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (size_t b = 0; b < n / QK_K; b++) {
        const BlockQ6_Kx16 *g = (const BlockQ6_Kx16 *)w + b;
        __m512 A[4];
        UNROLL for (int t = 0; t < NT; t++) A[t] = _mm512_setzero_ps();
        for (int hn = 0; hn < 2; hn++) UNROLL for (int k = 0; k < 4; k++) {
            int s = 4 * hn + k;
            prefetch_ahead((const char *)g + sizeof *g / 8 * s, sizeof *g / 8);
            __m512i pair = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)g->sc[s]));
            __m512i P[4], m[4]; /* m: the first half's int32 sum, P: the second's */
            UNROLL for (int t = 0; t < NT; t++) P[t] = m[t] = _mm512_setzero_si512();
            UNROLL8 for (int c = 0; c < 8; c++) {
                __m512i u = q6_u16(g, hn, c, k);
                UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *xq = ((const ActGroupQ6_K *)(x + t * xs) + b)->qs[s];
                    if (c < 4) m[t] = _mm512_dpbusd_epi32(m[t], u, bcast4_512(xq + 4 * c));
                    else P[t] = _mm512_dpbusd_epi32(P[t], u, bcast4_512(xq + 4 * c));
                }
            }
            __m512i sc0 = srai16_32(_mm512_slli_epi32(pair, 16)), sc1 = srai16_32(pair);
            UNROLL for (int t = 0; t < NT; t++) {
                const ActGroupQ6_K *xk = (const ActGroupQ6_K *)(x + t * xs) + b;
                __m512i Pt = _mm512_add_epi32(_mm512_mullo_epi32(m[t], sc0), _mm512_mullo_epi32(P[t], sc1));
                __m512i C = _mm512_slli_epi32(madd16(pair, bcast4_512((const int8_t *)xk->h[s])), 5);
                A[t] = _mm512_fmadd_ps(cvt16(_mm512_sub_epi32(Pt, C)), _mm512_set1_ps(xk->d[s]), A[t]);
            }
        }
        __m512 d = load16_f16(g->d, 0);
        UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_fmadd_ps(d, A[t], acc[t]);
    }
    store16(NT, out, os, acc, nr);
}
PACKED16_FNS4(tile_q6_Kx16, k_q6_Kx16)

/* ---- attention in 512-bit registers ----------------------------------------
 * The streamed-attention block kernels (simd.h), every accumulator in a
 * register (the arrays below are fully unrolled):
 *   scores: 4 keys × 4 heads per pass, sixteen dot products of 16 lanes,
 *     reduced together by one transpose-and-add tree (the same tree for
 *     each product) into one vector: lanes 4h..4h+3 = head h's 4 keys;
 *   wsum: 64 elements × 4 heads (16 accumulators) per pass over the block's
 *     values, then 16 elements at a time; a fma per element per key in key
 *     order, as generic.c.
 * A row tail of hd mod 16 goes through a zero-padded copy (0·0 adds
 * nothing). The kernels also prefetch the next block's rows (`ahead` of
 * them), a block of work ahead of their use: the rows are pointers (a
 * rolling cache wraps; a batch's own keys live elsewhere), not one stream
 * the hardware prefetcher could be sure of. */
FORCE __m256 half_sum(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

/* avx2.c's exp_le0 in 16 lanes (the same operations per lane; vscalefps
 * multiplies by 2^n). */
FORCE __m512 exp16_le0(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    static const float c[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < 8; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c[i]));
    return _mm512_scalef_ps(p, n); /* p·2^n: exact, as the exponent bits are (2^n normal) */
}

/* simd.h's AttnExpFn: 16 at a time, the lanes' sums added in a fixed tree,
 * a scalar tail (libm) for n mod 16. */
static float attn_exp(float *x, int n, float m) {
    __m512 vm = _mm512_set1_ps(m), acc = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 e = exp16_le0(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
        _mm512_storeu_ps(x + j, e);
        acc = _mm512_add_ps(acc, e);
    }
    __m256 h = half_sum(acc);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    float sum = _mm_cvtss_f32(_mm_add_ss(s4, _mm_movehdup_ps(s4)));
    for (; j < n; j++) sum += x[j] = expf(x[j] - m);
    return sum;
}

/* Sixteen vectors to one: lane 4L + m of the result is Σ v[4m + L]. Each
 * v[i]'s lanes meet in the same order (k + 8, then + 4, + 2, + 1). */
FORCE __m512 sum16x16(const __m512 *v) {
    __m512 a[8], b[4], c[2];
    UNROLL8 for (int p = 0; p < 8; p++)
        a[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44), _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xee));
    UNROLL for (int p = 0; p < 4; p++)
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0x88), _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0xdd));
    UNROLL for (int p = 0; p < 2; p++) {
        __m512d x = _mm512_castps_pd(b[2 * p]), y = _mm512_castps_pd(b[2 * p + 1]);
        c[p] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xdd));
}

/* Into L2, not L1: a block's keys and values (2 × 64 rows of 256 B at hd
 * 128 in fp16) and the next block's would not fit a 32 KiB L1D together, and
 * prefetches into L1 evicted the lines in use (attention alone over 16k keys:
 * ~10% faster through L2, a micro-benchmark over alternating runs). */
FORCE void prefetch_row(const char *p, size_t bytes) {
    for (size_t b = 0; b < bytes; b += 64) _mm_prefetch(p + b, _MM_HINT_T1);
    _mm_prefetch(p + bytes - 1, _MM_HINT_T1);
}

/* Elements [i, i + w) of a row (w <= 16) as 16 lanes, zeros past w. */
FORCE __m512 tail16_f32(const void *p, size_t i, int w) {
    float t[16] = {0};
    memcpy(t, (const float *)p + i, (size_t)w * sizeof *t);
    return _mm512_loadu_ps(t);
}
FORCE __m512 tail16_f16(const void *p, size_t i, int w) {
    uint16_t t[16] = {0};
    memcpy(t, (const uint16_t *)p + i, (size_t)w * sizeof *t);
    return load16_f16(t, 0);
}

/* a[4i + h] = Σ_{d < d16} q_h[d]·k_i[off + d] in 16 lanes (d in steps of 16) */
#define ATTN16_DOT4(a, load, k, qh, off, d16)                                                                     \
    do {                                                                                                          \
        UNROLL8 for (int i = 0; i < 16; i++) a[i] = _mm512_setzero_ps();                                          \
        for (int d = 0; d < d16; d += 16) {                                                                       \
            __m512 x[4];                                                                                          \
            UNROLL for (int i = 0; i < 4; i++) x[i] = load(k[i], (size_t)(off + d));                              \
            UNROLL for (int h = 0; h < 4; h++) {                                                                  \
                __m512 qv = _mm512_loadu_ps(qh[h] + d);                                                           \
                UNROLL for (int i = 0; i < 4; i++) a[4 * i + h] = _mm512_fmadd_ps(qv, x[i], a[4 * i + h]);        \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

#define ATTN16_KERNELS(sfx, esz, load, tail)                                                                      \
    static void attn_scores_##sfx(float s[][ATTN_BLOCK], float *mx, const float *const *q, int gs,                \
                                  const void *const *rows, int nb, int ahead, int off, int hd, float scale) {      \
        const float *qh[ATTN_GROUP];                                                                              \
        for (int h = 0; h < ATTN_GROUP; h++) qh[h] = q[h < gs ? h : 0];                                           \
        __m512 vmax = _mm512_set1_ps(-INFINITY), vs = _mm512_set1_ps(scale);                                      \
        int d16 = hd & ~15;                                                                                       \
        for (int j = 0; j < nb; j += 4) {                                                                         \
            const void *k[4];                                                                                     \
            UNROLL for (int i = 0; i < 4; i++) {                                                                  \
                k[i] = rows[j + i < nb ? j + i : nb - 1];                                                         \
                if (j + i < ahead) prefetch_row((const char *)rows[nb + j + i] + (size_t)off * esz, (size_t)hd * esz); \
            }                                                                                                     \
            __m512 r;                                                                                             \
            if (d16 == hd) {                                                                                      \
                __m512 a[16];                                                                                     \
                ATTN16_DOT4(a, load, k, qh, off, d16);                                                            \
                r = sum16x16(a);                                                                                  \
            } else { /* apart, so that the tail's buffers keep the common case's accumulators in registers */    \
                __m512 a[16];                                                                                     \
                ATTN16_DOT4(a, load, k, qh, off, d16);                                                            \
                UNROLL for (int h = 0; h < 4; h++) { /* the last hd mod 16 elements */                            \
                    __m512 qv = tail16_f32(qh[h], (size_t)d16, hd - d16);                                         \
                    UNROLL for (int i = 0; i < 4; i++)                                                            \
                        a[4 * i + h] = _mm512_fmadd_ps(qv, tail(k[i], (size_t)(off + d16), hd - d16), a[4 * i + h]); \
                }                                                                                                 \
                r = sum16x16(a);                                                                                  \
            }                                                                                                     \
            r = _mm512_mul_ps(r, vs); /* lane 4h + i: head h, key j + i */                                        \
            vmax = _mm512_max_ps(vmax, r); /* keys past nb repeat key nb - 1 */                                   \
            float t[16];                                                                                          \
            _mm512_storeu_ps(t, r);                                                                               \
            int w = nb - j < 4 ? nb - j : 4;                                                                      \
            for (int h = 0; h < gs; h++) memcpy(s[h] + j, t + 4 * h, (size_t)w * sizeof(float));                 \
        }                                                                                                         \
        float t[16];                                                                                              \
        _mm512_storeu_ps(t, vmax);                                                                                \
        for (int h = 0; h < gs; h++) mx[h] = fmaxf(fmaxf(t[4 * h], t[4 * h + 1]), fmaxf(t[4 * h + 2], t[4 * h + 3])); \
    }                                                                                                             \
    static void attn_wsum_##sfx(float *const *out, const float *c, const float p[][ATTN_BLOCK], int gs,           \
                                const void *const *rows, int nb, int ahead, int off, int hd) {                    \
        const float *ph[ATTN_GROUP];                                                                              \
        float *oh[ATTN_GROUP];                                                                                    \
        __m512 ch[ATTN_GROUP];                                                                                    \
        for (int h = 0; h < ATTN_GROUP; h++)                                                                      \
            ph[h] = p[h < gs ? h : 0], oh[h] = out[h < gs ? h : 0], ch[h] = _mm512_set1_ps(c ? c[h < gs ? h : 0] : 0); \
        int d = 0, pf = ahead; /* the first pass over the values prefetches */                                    \
        for (; d + 64 <= hd; d += 64) {                                                                           \
            __m512 a[16]; /* a[4h + u]: head h, elements d + 16u .. */                                            \
            UNROLL for (int h = 0; h < 4; h++)                                                                    \
                UNROLL for (int u = 0; u < 4; u++)                                                                \
                    a[4 * h + u] = c ? _mm512_mul_ps(ch[h], _mm512_loadu_ps(oh[h] + d + 16 * u)) : _mm512_setzero_ps(); \
            for (int j = 0; j < nb; j++) {                                                                        \
                if (j < pf) prefetch_row((const char *)rows[nb + j] + (size_t)off * esz, (size_t)hd * esz);       \
                __m512 x[4];                                                                                      \
                UNROLL for (int u = 0; u < 4; u++) x[u] = load(rows[j], (size_t)(off + d + 16 * u));              \
                UNROLL for (int h = 0; h < 4; h++) {                                                              \
                    __m512 pj = _mm512_set1_ps(ph[h][j]);                                                         \
                    UNROLL for (int u = 0; u < 4; u++) a[4 * h + u] = _mm512_fmadd_ps(pj, x[u], a[4 * h + u]);    \
                }                                                                                                 \
            }                                                                                                     \
            for (int h = 0; h < gs; h++)                                                                          \
                UNROLL for (int u = 0; u < 4; u++) _mm512_storeu_ps(out[h] + d + 16 * u, a[4 * h + u]);           \
            pf = 0;                                                                                               \
        }                                                                                                         \
        for (; d < hd; d += 16) {                                                                                 \
            int w = hd - d < 16 ? hd - d : 16;                                                                    \
            __m512 a[4];                                                                                          \
            UNROLL for (int h = 0; h < 4; h++)                                                                    \
                a[h] = c ? _mm512_mul_ps(ch[h], tail16_f32(oh[h], (size_t)d, w)) : _mm512_setzero_ps();          \
            for (int j = 0; j < nb; j++) {                                                                        \
                if (j < pf) prefetch_row((const char *)rows[nb + j] + (size_t)off * esz, (size_t)hd * esz);       \
                __m512 x = w == 16 ? load(rows[j], (size_t)(off + d)) : tail(rows[j], (size_t)(off + d), w);      \
                UNROLL for (int h = 0; h < 4; h++) a[h] = _mm512_fmadd_ps(_mm512_set1_ps(ph[h][j]), x, a[h]);     \
            }                                                                                                     \
            for (int h = 0; h < gs; h++) {                                                                        \
                float t[16];                                                                                      \
                _mm512_storeu_ps(t, a[h]);                                                                        \
                memcpy(out[h] + d, t, (size_t)w * sizeof(float));                                                 \
            }                                                                                                     \
            pf = 0;                                                                                               \
        }                                                                                                         \
    }                                                                                                             \
    static void attn_##sfx(float *out, const float *q, int g, const void *const *k, const void *const *v, int n,  \
                           int off, int hd, float scale) {                                                        \
        kern_attn_stream(attn_scores_##sfx, attn_wsum_##sfx, attn_exp, out, q, g, k, v, n, off, hd, scale);       \
    }
ATTN16_KERNELS(f32, 4, load16_f32, tail16_f32)
ATTN16_KERNELS(f16, 2, load16_f16, tail16_f16)

/* The avx2 table (its layouts, pack functions and activation quantizers are
 * the same), with the VNNI packed tiles, and 16-row float, q4_0, q8_0, q4_K
 * and q6_K groups reading the avx2 table's activations. */
void kern_fill_avx512(Kern *k) {
    kern_fill_avx2(k);
    k->name = "avx512";
    k->read_lines = read_lines;
    KernDot g40 = k->pack[DT_Q4_0].dot; /* avx2's ActGroupQ4_0 */
    k->pack[DT_Q4_0] = (KernPack){16, q4_0x16_bytes, q4_0x16_pack, {DT_Q8_0, g40.act_bytes, g40.act_quant, 16, 8, tile_q4_0x16}};
    k->pack[DT_Q8_0] = (KernPack){16, q8_0x16_bytes, q8_0x16_pack, {DT_Q8_0, g40.act_bytes, g40.act_quant, 16, 8, tile_q8_0x16}};
    KernDot a4k = k->pack[DT_Q4_K].dot; /* avx2's ActQ4_K */
    k->pack[DT_Q4_K] = (KernPack){16, q4_Kx16_bytes, q4_Kx16_pack, {DT_Q8_0, a4k.act_bytes, a4k.act_quant, 16, 4, tile_q4_Kx16}};
    k->pack[DT_Q5_K].dot.tile = tile_q5_Kx8;
    KernDot g6k = k->pack[DT_Q6_K].dot; /* avx2's ActGroupQ6_K */
    k->pack[DT_Q6_K] = (KernPack){16, q6_Kx16_bytes, q6_Kx16_pack, {DT_Q8_0, g6k.act_bytes, g6k.act_quant, 16, 4, tile_q6_Kx16}};
    k->pack[DT_F32] = (KernPack){16, f32x16_bytes, f32x16_pack, {DT_F32, NULL, NULL, 16, 8, tile_f32x16}};
    k->pack[DT_F16] = (KernPack){16, f16x16_bytes, f16x16_pack, {DT_F32, NULL, NULL, 16, 8, tile_f16x16}};
    k->pack[DT_BF16] = (KernPack){16, bf16p16_bytes, bf16p16_pack, {DT_F32, NULL, NULL, 16, 8, tile_bf16p16}};
    k->pack_fast[DT_BF16] = (KernDot){DT_BF16, kern_bf16_act_bytes, kern_bf16_act, 16, 8, tile_bf16p16x};
#ifndef KERN_EMULATE_AVX512
    if (__builtin_cpu_supports("avx512bf16")) /* the same bits, half the instructions */
        k->pack_fast[DT_BF16] = (KernDot){DT_BF16, bf16_pairs_bytes, bf16_pairs, 16, 8, tile_bf16p16_dp};
#endif
    k->attn[0] = attn_f32, k->attn[1] = attn_f16;
    kern_fill_avx512_k2(k);
}
#endif
