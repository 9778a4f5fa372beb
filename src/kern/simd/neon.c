/* neon — AArch64 Advanced SIMD kernels (every AArch64 CPU has them; built
 * only for aarch64, like avx2.c only for x86). The matmul tiles keep one
 * 4-lane accumulator per output element and share the loads of weight rows
 * and activation rows between the elements of a tile, so every tile shape
 * computes an element exactly as the 1 × 1 tile does (simd.h's contract).
 *   float weights: per 8 columns acc = fma(w_hi, x_hi, fma(w_lo, x_lo, acc)),
 *       then the lanes' sum, then the scalar tail;
 *   q8_0, q4_0, q4_K, q5_K, q6_K (activations: q8_0 blocks, as the generic
 *       table's): per block of 32 (q6_K: per 16) the exact int32 products
 *       (vmull_s8 / vmlal_s8 pairs, pairwise added into 4 int32 lanes),
 *       acc = fma(float(those), scales, acc) (the K-quants' mins likewise
 *       from Σxq), then the lanes' sum.
 *   q2_K, q3_K, iq4_nl, iq4_xs: the generic table's operations (its bits),
 *       with the codes decoded and the integer sums taken by vector.
 * q4_1, q5_0, q5_1, tq1_0, tq2_0 keep the generic table's kernels. Tested under qemu-user
 * (tests/platform/neon.sh). */
#if defined(__aarch64__)
#include <arm_neon.h>
#include <string.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"
#include "kern/simd/tile.h"

#define FORCE static inline __attribute__((always_inline))

static inline float32x4_t load_f32(const void *p, size_t i) { return vld1q_f32((const float *)p + i); }
static inline float32x4_t load_f16(const void *p, size_t i) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p + i)));
}
static inline float32x4_t load_bf16(const void *p, size_t i) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p + i), 16));
}
static inline float e_f32(const void *p, size_t i) { return ((const float *)p)[i]; }
static inline float e_f16(const void *p, size_t i) { return f16_to_f32(((const uint16_t *)p)[i]); }
static inline float e_bf16(const void *p, size_t i) { return bf16_to_f32(((const uint16_t *)p)[i]); }

/* One 4-lane accumulator per element of an MR × NT tile: zeroed, and at
 * the end each one's lanes summed into out. */
FORCE void acc_zero(const int MR, const int NT, float32x4_t acc[4][4]) {
    for (int r = 0; r < MR; r++)
        for (int t = 0; t < NT; t++) acc[r][t] = vdupq_n_f32(0);
}
FORCE void acc_out(const int MR, const int NT, float32x4_t acc[4][4], float *out, size_t os) {
    for (int r = 0; r < MR; r++)
        for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = vaddvq_f32(acc[r][t]);
}

#define FLOAT_TILE(K, load, elem)                                                                    \
    FORCE void K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws,        \
                 const char *x, size_t xs, size_t n) {                                               \
        float32x4_t acc[4][4];                                                                       \
        acc_zero(MR, NT, acc);                                                                       \
        size_t i = 0;                                                                                \
        for (; i + 8 <= n; i += 8) {                                                                 \
            float32x4_t x0[4], x1[4];                                                                \
            for (int t = 0; t < NT; t++) {                                                           \
                x0[t] = vld1q_f32((const float *)(x + t * xs) + i);                                  \
                x1[t] = vld1q_f32((const float *)(x + t * xs) + i + 4);                              \
            }                                                                                        \
            for (int r = 0; r < MR; r++) {                                                           \
                float32x4_t w0 = load(w + r * ws, i), w1 = load(w + r * ws, i + 4);                  \
                for (int t = 0; t < NT; t++) acc[r][t] = vfmaq_f32(vfmaq_f32(acc[r][t], w0, x0[t]), w1, x1[t]); \
            }                                                                                        \
        }                                                                                            \
        for (int r = 0; r < MR; r++)                                                                 \
            for (int t = 0; t < NT; t++) {                                                           \
                const float *xt = (const float *)(x + t * xs);                                       \
                float s = vaddvq_f32(acc[r][t]);                                                     \
                for (size_t k = i; k < n; k++) s += elem(w + r * ws, k) * xt[k];                     \
                out[(size_t)t * os + (size_t)r] = s;                                                 \
            }                                                                                        \
    }
FLOAT_TILE(k_f32, load_f32, e_f32)
FLOAT_TILE(k_f16, load_f16, e_f16)
FLOAT_TILE(k_bf16, load_bf16, e_bf16)
TILE_FNS(tile_f32, k_f32)
TILE_FNS(tile_f16, k_f16)
TILE_FNS(tile_bf16, k_bf16)

/* Σ w[i]·x[i] over a block of 32 int8 as 4 int32 lanes (exact: each int16
 * lane holds two products, |p| <= 2·128·127 < 32768). */
FORCE int32x4_t dot32(int8x16_t w0, int8x16_t w1, int8x16_t x0, int8x16_t x1) {
    int16x8_t a = vmlal_s8(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)), vget_high_s8(w0), vget_high_s8(x0));
    int16x8_t b = vmlal_s8(vmull_s8(vget_low_s8(w1), vget_low_s8(x1)), vget_high_s8(w1), vget_high_s8(x1));
    return vpadalq_s16(vpaddlq_s16(a), b);
}

/* q8_0 (Q4 0) or q4_0 (Q4 1) weights against q8_0 activation blocks. */
FORCE void k_q(const int Q4, const int MR, const int NT, float *out, size_t os, const char *w, size_t ws,
               const char *x, size_t xs, size_t n) {
    float32x4_t acc[4][4];
    acc_zero(MR, NT, acc);
    for (size_t b = 0; b < n / QK32; b++) {
        for (int r = 0; r < MR; r++) {
            int8x16_t w0, w1;
            float dw;
            if (Q4) {
                const BlockQ4_0 *wb = (const BlockQ4_0 *)(w + r * ws) + b;
                uint8x16_t q = vld1q_u8(wb->qs);
                w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), vdupq_n_s8(8));
                w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
                dw = f16_to_f32(wb->d);
            } else {
                const BlockQ8_0 *wb = (const BlockQ8_0 *)(w + r * ws) + b;
                w0 = vld1q_s8(wb->qs), w1 = vld1q_s8(wb->qs + 16);
                dw = f16_to_f32(wb->d);
            }
            for (int t = 0; t < NT; t++) {
                const BlockQ8_0 *xb = (const BlockQ8_0 *)(x + t * xs) + b;
                int32x4_t s = dot32(w0, w1, vld1q_s8(xb->qs), vld1q_s8(xb->qs + 16));
                acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(s), dw * f16_to_f32(xb->d));
            }
        }
    }
    acc_out(MR, NT, acc, out, os);
}
FORCE void k_q8_0(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    k_q(0, MR, NT, out, os, w, ws, x, xs, n);
}
FORCE void k_q4_0(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    k_q(1, MR, NT, out, os, w, ws, x, xs, n);
}
TILE_FNS(tile_q8_0, k_q8_0)
TILE_FNS(tile_q4_0, k_q4_0)

/* Σ of a 16-element int8 half times another, as 4 int32 lanes (exact). */
FORCE int32x4_t dot16(int8x16_t w, int8x16_t x) {
    return vpaddlq_s16(vmlal_s8(vmull_s8(vget_low_s8(w), vget_low_s8(x)), vget_high_s8(w), vget_high_s8(x)));
}

/* q4_K (Q5 0) and q5_K (Q5 1) against q8_0 blocks: per 32-block sb of a
 * super-block, with u its 4- (5-) bit values,
 *   acc = fma(float(Σu·xq), d_x·(d·sc), acc);  acc = fma(float(Σxq), −d_x·(dmin·mn), acc)
 * (4 lanes each), then the lanes' sum. */
FORCE void k_kq(const int Q5, const int MR, const int NT, float *out, size_t os, const char *w, size_t ws,
                const char *x, size_t xs, size_t n) {
    float32x4_t acc[4][4];
    acc_zero(MR, NT, acc);
    for (size_t i = 0; i < n / QK_K; i++) {
        for (int r = 0; r < MR; r++) {
            const uint8_t *scales, *qs, *qh = NULL;
            uint16_t d16, dmin16;
            if (Q5) {
                const BlockQ5_K *wb = (const BlockQ5_K *)(w + r * ws) + i;
                scales = wb->scales, qs = wb->qs, qh = wb->qh, d16 = wb->d, dmin16 = wb->dmin;
            } else {
                const BlockQ4_K *wb = (const BlockQ4_K *)(w + r * ws) + i;
                scales = wb->scales, qs = wb->qs, d16 = wb->d, dmin16 = wb->dmin;
            }
            float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
            uint8x16_t h0 = vdupq_n_u8(0), h1 = vdupq_n_u8(0);
            if (Q5) h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
            for (int sb = 0; sb < 8; sb++) {
                int sc, mn;
                kern_scale_min_k4(sb, scales, &sc, &mn);
                uint8x16_t q0 = vld1q_u8(qs + 32 * (sb / 2)), q1 = vld1q_u8(qs + 32 * (sb / 2) + 16);
                uint8x16_t u0 = sb & 1 ? vshrq_n_u8(q0, 4) : vandq_u8(q0, vdupq_n_u8(15));
                uint8x16_t u1 = sb & 1 ? vshrq_n_u8(q1, 4) : vandq_u8(q1, vdupq_n_u8(15));
                if (Q5) {
                    uint8x16_t bit = vdupq_n_u8((uint8_t)(1u << sb));
                    u0 = vorrq_u8(u0, vandq_u8(vceqq_u8(vandq_u8(h0, bit), bit), vdupq_n_u8(16)));
                    u1 = vorrq_u8(u1, vandq_u8(vceqq_u8(vandq_u8(h1, bit), bit), vdupq_n_u8(16)));
                }
                int8x16_t w0 = vreinterpretq_s8_u8(u0), w1 = vreinterpretq_s8_u8(u1);
                for (int t = 0; t < NT; t++) {
                    const BlockQ8_0 *xb = (const BlockQ8_0 *)(x + t * xs) + 8 * i + sb;
                    int8x16_t x0 = vld1q_s8(xb->qs), x1 = vld1q_s8(xb->qs + 16);
                    float dx = f16_to_f32(xb->d);
                    int32x4_t sx = vpaddlq_s16(vaddq_s16(vpaddlq_s8(x0), vpaddlq_s8(x1)));
                    acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(dot32(w0, w1, x0, x1)), dx * (d * (float)sc));
                    acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(sx), -(dx * (dmin * (float)mn)));
                }
            }
        }
    }
    acc_out(MR, NT, acc, out, os);
}
FORCE void k_q4_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    k_kq(0, MR, NT, out, os, w, ws, x, xs, n);
}
FORCE void k_q5_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    k_kq(1, MR, NT, out, os, w, ws, x, xs, n);
}
TILE_FNS(tile_q4_K, k_q4_K)
TILE_FNS(tile_q5_K, k_q5_K)

/* q6_K against q8_0 blocks: per 32-block g of a 128-element half, q = u − 32
 * (int8), per 16-element half e of the block
 *   acc = fma(float(Σq·xq), d·d_x·sc_e, acc)   then the lanes' sum. */
FORCE void k_q6_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    float32x4_t acc[4][4];
    acc_zero(MR, NT, acc);
    const uint8x16_t low = vdupq_n_u8(15), three = vdupq_n_u8(3);
    for (size_t i = 0; i < n / QK_K; i++) {
        for (int r = 0; r < MR; r++) {
            const BlockQ6_K *wb = (const BlockQ6_K *)(w + r * ws) + i;
            float d = f16_to_f32(wb->d);
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = wb->ql + 64 * h, *qh = wb->qh + 32 * h;
                for (int g = 0; g < 4; g++) {
                    int8x16_t q[2];
                    for (int e = 0; e < 2; e++) {
                        uint8x16_t lo = vld1q_u8(ql + 16 * e + (g & 1 ? 32 : 0));
                        uint8x16_t v = g & 2 ? vshrq_n_u8(lo, 4) : vandq_u8(lo, low);
                        uint8x16_t hb = vandq_u8(vshlq_u8(vld1q_u8(qh + 16 * e), vdupq_n_s8((int8_t)(-2 * g))), three);
                        q[e] = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(v, vshlq_n_u8(hb, 4))), vdupq_n_s8(32));
                    }
                    const int8_t *sc = wb->scales + 8 * h + 2 * g;
                    for (int t = 0; t < NT; t++) {
                        const BlockQ8_0 *xb = (const BlockQ8_0 *)(x + t * xs) + 8 * i + 4 * (size_t)h + (size_t)g;
                        float ddx = d * f16_to_f32(xb->d);
                        for (int e = 0; e < 2; e++)
                            acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(dot16(q[e], vld1q_s8(xb->qs + 16 * e))),
                                                    ddx * (float)sc[e]);
                    }
                }
            }
        }
    }
    acc_out(MR, NT, acc, out, os);
}
TILE_FNS(tile_q6_K, k_q6_K)

/* ---- q2_K, q3_K, iq4_nl, iq4_xs: generic.c's bits --------------------------
 * Per block of 32 the exact integer sum (int8 codes times xq by dot16/dot32,
 * the lanes added: integer, exact), the block's fp32 term written as
 * generic.c writes it, added to the element's sum in block order: the same
 * operations as the generic table's dot, so the same bits. */

/* Σ of a 16-element half: int. */
FORCE int sum16(int8x16_t w, int8x16_t x) { return vaddvq_s32(dot16(w, x)); }

/* One super-block of q2_K (Q3 0) or q3_K (Q3 1) codes of a row, as 8 blocks
 * of two 16-element halves, and its 16 per-half scales (q2_K: and mins). */
typedef struct {
    int8x16_t q[8][2];
    int sc[16], mn[16];
    float d, dmin;
} CodesK23;

FORCE void codes_k23(const int Q3, CodesK23 *c, const char *row, size_t i) {
    const uint8_t *qs;
    uint8x16_t hm[2] = {vdupq_n_u8(0), vdupq_n_u8(0)};
    if (Q3) {
        const BlockQ3_K *wb = (const BlockQ3_K *)row + i;
        int8_t sc[QK_K / 16];
        scales_q3_K(sc, wb);
        for (int s = 0; s < 16; s++) c->sc[s] = sc[s], c->mn[s] = 0;
        qs = wb->qs, c->d = f16_to_f32(wb->d), c->dmin = 0;
        hm[0] = vld1q_u8(wb->hmask), hm[1] = vld1q_u8(wb->hmask + 16);
    } else {
        const BlockQ2_K *wb = (const BlockQ2_K *)row + i;
        for (int s = 0; s < 16; s++) c->sc[s] = wb->scales[s] & 0xf, c->mn[s] = wb->scales[s] >> 4;
        qs = wb->qs, c->d = f16_to_f32(wb->d), c->dmin = f16_to_f32(wb->dmin);
    }
    for (int j = 0; j < 2; j++)
        for (int e = 0; e < 2; e++) { /* block 4j + k, half e: bits 2k of qs[32j + 16e ..] */
            uint8x16_t q = vld1q_u8(qs + 32 * j + 16 * e);
            for (int k = 0; k < 4; k++) {
                uint8x16_t u = vandq_u8(vshlq_u8(q, vdupq_n_s8((int8_t)(-2 * k))), vdupq_n_u8(3));
                if (Q3) { /* bit b of hmask[l] set: q, else q − 4 */
                    int b = 4 * j + k;
                    u = vorrq_u8(u, vandq_u8(vshlq_u8(hm[e], vdupq_n_s8((int8_t)(2 - b))), vdupq_n_u8(4)));
                    c->q[b][e] = vsubq_s8(vreinterpretq_s8_u8(u), vdupq_n_s8(4));
                } else {
                    c->q[4 * j + k][e] = vreinterpretq_s8_u8(u);
                }
            }
        }
}

FORCE void k_q23_K(const int Q3, const int MR, const int NT, float *out, size_t os, const char *w, size_t ws,
                   const char *x, size_t xs, size_t n) {
    float acc[4][4] = {{0}};
    for (size_t i = 0; i < n / QK_K; i++) {
        for (int r = 0; r < MR; r++) {
            CodesK23 c;
            codes_k23(Q3, &c, w + r * ws, i);
            for (int t = 0; t < NT; t++) {
                const BlockQ8_0 *xb = (const BlockQ8_0 *)(x + t * xs) + 8 * i;
                for (int b = 0; b < 8; b++, xb++) {
                    int8x16_t x0 = vld1q_s8(xb->qs), x1 = vld1q_s8(xb->qs + 16);
                    int sumi = c.sc[2 * b] * sum16(c.q[b][0], x0) + c.sc[2 * b + 1] * sum16(c.q[b][1], x1);
                    float dx = f16_to_f32(xb->d);
                    if (Q3) { /* generic.c's dot_q3_K */
                        acc[r][t] += c.d * dx * (float)sumi;
                    } else { /* dot_q2_K */
                        int summ = c.mn[2 * b] * vaddlvq_s8(x0) + c.mn[2 * b + 1] * vaddlvq_s8(x1);
                        acc[r][t] += c.d * dx * (float)sumi - c.dmin * dx * (float)summ;
                    }
                }
            }
        }
    }
    for (int r = 0; r < MR; r++)
        for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
FORCE void k_q2_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    k_q23_K(0, MR, NT, out, os, w, ws, x, xs, n);
}
FORCE void k_q3_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    k_q23_K(1, MR, NT, out, os, w, ws, x, xs, n);
}
TILE_FNS(tile_q2_K, k_q2_K)
TILE_FNS(tile_q3_K, k_q3_K)

/* The levels of a 32-block from its 16 index bytes: elements 0..15 (low
 * nibbles) in *lo, 16..31 (high) in *hi, by table lookup. */
FORCE void iq4_levels(const uint8_t *qs, int8x16_t *lo, int8x16_t *hi) {
    const int8x16_t tbl = vld1q_s8(kvalues_iq4nl);
    uint8x16_t q = vld1q_u8(qs);
    *lo = vqtbl1q_s8(tbl, vandq_u8(q, vdupq_n_u8(15))), *hi = vqtbl1q_s8(tbl, vshrq_n_u8(q, 4));
}

/* iq4_nl: per block (d_w·d_x)·sumi (generic.c's dot_iq4_nl). */
FORCE void k_iq4_nl(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                    size_t xs, size_t n) {
    float acc[4][4] = {{0}};
    for (size_t b = 0; b < n / QK32; b++)
        for (int r = 0; r < MR; r++) {
            const BlockIQ4_NL *wb = (const BlockIQ4_NL *)(w + r * ws) + b;
            int8x16_t lo, hi;
            iq4_levels(wb->qs, &lo, &hi);
            for (int t = 0; t < NT; t++) {
                const BlockQ8_0 *xb = (const BlockQ8_0 *)(x + t * xs) + b;
                int sumi = vaddvq_s32(dot32(lo, hi, vld1q_s8(xb->qs), vld1q_s8(xb->qs + 16)));
                acc[r][t] += f16_to_f32(wb->d) * f16_to_f32(xb->d) * (float)sumi;
            }
        }
    for (int r = 0; r < MR; r++)
        for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
TILE_FNS(tile_iq4_nl, k_iq4_nl)

/* iq4_xs: per 32-block (d·d_x)·(sc·sumi) (generic.c's dot_iq4_xs). */
FORCE void k_iq4_xs(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                    size_t xs, size_t n) {
    float acc[4][4] = {{0}};
    for (size_t i = 0; i < n / QK_K; i++)
        for (int r = 0; r < MR; r++) {
            const BlockIQ4_XS *wb = (const BlockIQ4_XS *)(w + r * ws) + i;
            int8x16_t lo[8], hi[8];
            int8_t sc[QK_K / 32];
            scales_iq4_xs(sc, wb);
            for (int s = 0; s < 8; s++) iq4_levels(wb->qs + 16 * s, &lo[s], &hi[s]);
            float d = f16_to_f32(wb->d);
            for (int t = 0; t < NT; t++) {
                const BlockQ8_0 *xb = (const BlockQ8_0 *)(x + t * xs) + 8 * i;
                for (int s = 0; s < 8; s++, xb++) {
                    int sumi = vaddvq_s32(dot32(lo[s], hi[s], vld1q_s8(xb->qs), vld1q_s8(xb->qs + 16)));
                    acc[r][t] += d * f16_to_f32(xb->d) * (float)(sc[s] * sumi);
                }
            }
        }
    for (int r = 0; r < MR; r++)
        for (int t = 0; t < NT; t++) out[(size_t)t * os + (size_t)r] = acc[r][t];
}
TILE_FNS(tile_iq4_xs, k_iq4_xs)

/* ---- attention ------------------------------------------------------------ */

static float vdot(const float *a, const float *b, int n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), vld1q_f32(b + i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void vaxpy(float *out, float s, const float *x, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(out + i), vld1q_f32(x + i), s));
    for (; i < n; i++) out[i] += s * x[i];
}

static float vdot_f16(const float *a, const uint16_t *h, int n) {
    float32x4_t s0 = vdupq_n_f32(0), s1 = vdupq_n_f32(0);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = vfmaq_f32(s0, vld1q_f32(a + i), load_f16(h, (size_t)i));
        s1 = vfmaq_f32(s1, vld1q_f32(a + i + 4), load_f16(h, (size_t)i + 4));
    }
    float s = vaddvq_f32(vaddq_f32(s0, s1));
    for (; i < n; i++) s += a[i] * f16_to_f32(h[i]);
    return s;
}

static void vaxpy_f16(float *out, float s, const uint16_t *h, int n) {
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vfmaq_n_f32(vld1q_f32(out + i), load_f16(h, (size_t)i), s));
    for (; i < n; i++) out[i] += s * f16_to_f32(h[i]);
}

/* Starts from the generic table: types without a NEON kernel keep theirs
 * (and the quantized tiles read the generic table's q8_0 activation blocks). */
void kern_fill_neon(Kern *k) {
    kern_fill_generic(k);
    k->name = "neon";
    k->mm[DT_F32] = (KernDot){DT_F32, NULL, NULL, 4, 3, tile_f32};
    k->mm[DT_F16] = (KernDot){DT_F32, NULL, NULL, 4, 3, tile_f16};
    k->mm[DT_BF16] = (KernDot){DT_F32, NULL, NULL, 4, 3, tile_bf16};
    k->fast[DT_BF16] = (KernDot){DT_BF16, kern_bf16_act_bytes, kern_bf16_act, 4, 3, tile_bf16}; /* x bf16-rounded */
    k->mm[DT_Q8_0] = (KernDot){DT_Q8_0, k->mm[DT_Q8_0].act_bytes, k->mm[DT_Q8_0].act_quant, 4, 3, tile_q8_0};
    k->mm[DT_Q4_0] = (KernDot){DT_Q8_0, k->mm[DT_Q4_0].act_bytes, k->mm[DT_Q4_0].act_quant, 4, 3, tile_q4_0};
    k->mm[DT_Q4_K] = (KernDot){DT_Q8_0, k->mm[DT_Q4_K].act_bytes, k->mm[DT_Q4_K].act_quant, 4, 3, tile_q4_K};
    k->mm[DT_Q5_K] = (KernDot){DT_Q8_0, k->mm[DT_Q5_K].act_bytes, k->mm[DT_Q5_K].act_quant, 4, 3, tile_q5_K};
    k->mm[DT_Q6_K] = (KernDot){DT_Q8_0, k->mm[DT_Q6_K].act_bytes, k->mm[DT_Q6_K].act_quant, 4, 3, tile_q6_K};
    k->mm[DT_Q2_K] = (KernDot){DT_Q8_0, k->mm[DT_Q2_K].act_bytes, k->mm[DT_Q2_K].act_quant, 4, 2, tile_q2_K};
    k->mm[DT_Q3_K] = (KernDot){DT_Q8_0, k->mm[DT_Q3_K].act_bytes, k->mm[DT_Q3_K].act_quant, 4, 2, tile_q3_K};
    k->mm[DT_IQ4_NL] = (KernDot){DT_Q8_0, k->mm[DT_IQ4_NL].act_bytes, k->mm[DT_IQ4_NL].act_quant, 4, 2, tile_iq4_nl};
    k->mm[DT_IQ4_XS] = (KernDot){DT_Q8_0, k->mm[DT_IQ4_XS].act_bytes, k->mm[DT_IQ4_XS].act_quant, 4, 2, tile_iq4_xs};
    k->dot_f32 = vdot;
    k->axpy_f32 = vaxpy;
    k->dot_f16 = vdot_f16;
    k->axpy_f16 = vaxpy_f16;
}
#endif
