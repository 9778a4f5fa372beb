/* quant — scalar dequantizers, reference dots and the reference quantizers of
 * llama.cpp's quantized types (layouts in quant.h); the integer codes of the
 * types read but not written.
 *
 * The quantizers follow ggml/src/ggml-quants.c (MIT, the ggml authors):
 * quantize_row_{q8_0,q4_0,q4_1,q5_0,q5_1,q4_K,q5_K,q6_K}_ref with
 * make_qkx2_quants and make_qx_quants. Every float operation is kept in the
 * same order, in fp32, without contraction into FMA, so that the output is
 * bit-identical to ggml's on finite input. Where ggml's code would convert an
 * out-of-range float to an integer (undefined behaviour, reached only on
 * non-finite or overflowing input) a clamped conversion is used instead. */
#include "kern/quant.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "base/util.h"
#include "kern/dtype.h"
#include "kern/quant_impl.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF /* GCC in ISO C mode (-std=c11) does not contract */
#endif

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline float h2f(uint16_t h) { return f16_to_f32(h); }
static inline uint16_t f2h(float f) { return f32_to_f16(f); }

/* (int8_t)v, (uint8_t)v for v whose truncation fits; a clamped value (0 for
 * NaN) where C leaves the conversion undefined. */
static inline int to_i8(float v) {
    if (v > -129.0f && v < 128.0f) return (int8_t)v;
    return v > 0 ? 127 : v < 0 ? -128 : 0;
}
static inline int to_u8(float v) {
    if (v > -1.0f && v < 256.0f) return (uint8_t)v;
    return v > 0 ? 255 : 0;
}


/* ---- dequantization ------------------------------------------------------ */

void dequantize_row_q8_0(float *out, const void *src, size_t n) {
    const BlockQ8_0 *b = src;
    for (size_t i = 0; i < n / QK32; i++, out += QK32) {
        float d = h2f(b[i].d);
        for (int j = 0; j < QK32; j++) out[j] = b[i].qs[j] * d;
    }
}

void dequantize_row_q4_0(float *out, const void *src, size_t n) {
    const BlockQ4_0 *b = src;
    for (size_t i = 0; i < n / QK32; i++, out += QK32) {
        float d = h2f(b[i].d);
        for (int j = 0; j < QK32 / 2; j++) {
            out[j] = ((b[i].qs[j] & 0x0f) - 8) * d;
            out[j + QK32 / 2] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_row_q4_1(float *out, const void *src, size_t n) {
    const BlockQ4_1 *b = src;
    for (size_t i = 0; i < n / QK32; i++, out += QK32) {
        float d = h2f(b[i].d), m = h2f(b[i].m);
        for (int j = 0; j < QK32 / 2; j++) {
            out[j] = (b[i].qs[j] & 0x0f) * d + m;
            out[j + QK32 / 2] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

void dequantize_row_q5_0(float *out, const void *src, size_t n) {
    const BlockQ5_0 *b = src;
    for (size_t i = 0; i < n / QK32; i++, out += QK32) {
        float d = h2f(b[i].d);
        uint32_t qh = (uint32_t)b[i].qh[0] | (uint32_t)b[i].qh[1] << 8 | (uint32_t)b[i].qh[2] << 16 |
                      (uint32_t)b[i].qh[3] << 24;
        for (int j = 0; j < QK32 / 2; j++) {
            int h0 = (int)((qh >> j) << 4 & 0x10), h1 = (int)(qh >> (j + 12) & 0x10);
            out[j] = (((b[i].qs[j] & 0x0f) | h0) - 16) * d;
            out[j + QK32 / 2] = (((b[i].qs[j] >> 4) | h1) - 16) * d;
        }
    }
}

void dequantize_row_q5_1(float *out, const void *src, size_t n) {
    const BlockQ5_1 *b = src;
    for (size_t i = 0; i < n / QK32; i++, out += QK32) {
        float d = h2f(b[i].d), m = h2f(b[i].m);
        uint32_t qh = (uint32_t)b[i].qh[0] | (uint32_t)b[i].qh[1] << 8 | (uint32_t)b[i].qh[2] << 16 |
                      (uint32_t)b[i].qh[3] << 24;
        for (int j = 0; j < QK32 / 2; j++) {
            int h0 = (int)((qh >> j) << 4 & 0x10), h1 = (int)(qh >> (j + 12) & 0x10);
            out[j] = ((b[i].qs[j] & 0x0f) | h0) * d + m;
            out[j + QK32 / 2] = ((b[i].qs[j] >> 4) | h1) * d + m;
        }
    }
}

/* The 12 scale bytes of q4_K/q5_K hold 8 six-bit scales and 8 six-bit mins:
 * sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scale) and 4-7 (min);
 * sub-blocks 4-7 in the nibbles of bytes 8-11 (scale low, min high) with
 * their top two bits in the top bits of bytes 0-3 (scale) and 4-7 (min). */
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = q[j] & 63;
        *mn = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* q4_K: 64 elements share 32 bytes of qs: element l of sub-block 2k is the
 * low nibble of byte 32k+l, of sub-block 2k+1 the high nibble. */
void dequantize_row_q4_K(float *out, const void *src, size_t n) {
    const BlockQ4_K *b = src;
    for (size_t i = 0; i < n / QK_K; i++) {
        const uint8_t *q = b[i].qs;
        float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        for (int s = 0; s < 8; s += 2, q += 32) {
            uint8_t sc, mn;
            scale_min_k4(s, b[i].scales, &sc, &mn);
            float d1 = d * sc, m1 = dmin * mn;
            scale_min_k4(s + 1, b[i].scales, &sc, &mn);
            float d2 = d * sc, m2 = dmin * mn;
            for (int l = 0; l < 32; l++) *out++ = d1 * (q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *out++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

/* q5_K: as q4_K; the fifth bit of element l of sub-block s is bit s of qh[l]. */
void dequantize_row_q5_K(float *out, const void *src, size_t n) {
    const BlockQ5_K *b = src;
    for (size_t i = 0; i < n / QK_K; i++) {
        const uint8_t *ql = b[i].qs, *qh = b[i].qh;
        float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        for (int s = 0; s < 8; s += 2, ql += 32) {
            uint8_t sc, mn, u1 = (uint8_t)(1u << s), u2 = (uint8_t)(2u << s);
            scale_min_k4(s, b[i].scales, &sc, &mn);
            float d1 = d * sc, m1 = dmin * mn;
            scale_min_k4(s + 1, b[i].scales, &sc, &mn);
            float d2 = d * sc, m2 = dmin * mn;
            for (int l = 0; l < 32; l++) *out++ = d1 * ((ql[l] & 0xf) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++) *out++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* q6_K: each half of 128 elements uses 64 bytes of ql and 32 of qh: element
 * l + 32k (k = 0..3) has its low 4 bits in ql[l + 32(k&1)] (low nibble for
 * k < 2, high for k >= 2) and its high 2 bits at bit 2k of qh[l]; sub-block
 * scales go 16 elements at a time. */
void dequantize_row_q6_K(float *out, const void *src, size_t n) {
    const BlockQ6_K *b = src;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = h2f(b[i].d);
        const uint8_t *ql = b[i].ql, *qh = b[i].qh;
        const int8_t *sc = b[i].scales;
        for (int h = 0; h < 2; h++, out += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = (int8_t)((ql[l] & 0xf) | ((qh[l] >> 0 & 3) << 4)) - 32;
                int q2 = (int8_t)((ql[l + 32] & 0xf) | ((qh[l] >> 2 & 3) << 4)) - 32;
                int q3 = (int8_t)((ql[l] >> 4) | ((qh[l] >> 4 & 3) << 4)) - 32;
                int q4 = (int8_t)((ql[l + 32] >> 4) | ((qh[l] >> 6 & 3) << 4)) - 32;
                out[l] = d * sc[is] * q1;
                out[l + 32] = d * sc[is + 2] * q2;
                out[l + 64] = d * sc[is + 4] * q3;
                out[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

/* ---- the read-only types: codes, then dequantization ----------------------
 * (ggml/src/ggml-quants.c's dequantize_row_{q2_K,q3_K,iq4_nl,iq4_xs,tq1_0,
 * tq2_0}: the same layouts; each element is the same product of the same
 * fp32 factors, so the floats are ggml's bit for bit.) */

/* The 16 levels of iq4_nl and iq4_xs: an index q of 4 bits stands for
 * kvalues_iq4nl[q]·d. A file stores only indices, so a reader must use these
 * exact values: they are ggml's table of the same name (ggml-common.h), from
 * llama.cpp PR #5590 (ikawrakow, 2024-02, "IQ4_NL: 4-bit non-linear quants
 * with blocks of 32"), where they were fitted to the distribution of model
 * weights; no closed form is published, so they are data, copied as such.
 * What characterizes them (tests/unit/test_quant_k2.c checks it): 16 int8
 * levels rising from -127 to 113, the steps narrowest around zero and
 * widening outward, so that the grid is finer where weights are dense. */
const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/* q2_K and q3_K share one arrangement of the 2-bit quants: each half of 128
 * elements uses 32 bytes of qs; element 32j + l of half h (j < 4, l < 32) is
 * bits 2j, 2j+1 of qs[32h + l]. q3_K's third bit of that element is bit
 * 4h + j of hmask[l]. */
static inline int q2_bits(const uint8_t *qs, int i) { return qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32)) & 3; }

void codes_q2_K(int8_t q[QK_K], int8_t sc[QK_K / 16], int8_t mn[QK_K / 16], const BlockQ2_K *b) {
    for (int i = 0; i < QK_K; i++) q[i] = (int8_t)q2_bits(b->qs, i);
    for (int s = 0; s < QK_K / 16; s++) sc[s] = (int8_t)(b->scales[s] & 0xf), mn[s] = (int8_t)(b->scales[s] >> 4);
}

/* q3_K's 16 six-bit scales in 12 bytes: the low 4 bits of scale s are nibble
 * s/8 of byte s%8, the top 2 bits are bits 2(s/4), 2(s/4)+1 of byte 8 + s%4. */
void scales_q3_K(int8_t sc[QK_K / 16], const BlockQ3_K *b) {
    for (int s = 0; s < QK_K / 16; s++) {
        int lo = b->scales[s % 8] >> (4 * (s / 8)) & 0xf, hi = b->scales[8 + s % 4] >> (2 * (s / 4)) & 3;
        sc[s] = (int8_t)((lo | hi << 4) - 32);
    }
}

void codes_q3_K(int8_t q[QK_K], int8_t sc[QK_K / 16], const BlockQ3_K *b) {
    for (int i = 0; i < QK_K; i++) {
        int h = b->hmask[i % 32] >> (i / 32) & 1;
        q[i] = (int8_t)(q2_bits(b->qs, i) - (h ? 0 : 4));
    }
    scales_q3_K(sc, b);
}

/* iq4_xs: sub-block s of 32 is an iq4_nl block without its d (qs[16s..16s+16)),
 * its scale 6 bits: the nibble of scales_l and two bits of scales_h. */
void scales_iq4_xs(int8_t sc[QK_K / 32], const BlockIQ4_XS *b) {
    for (int s = 0; s < QK_K / 32; s++) {
        int ls = (b->scales_l[s / 2] >> (4 * (s % 2)) & 0xf) | (b->scales_h >> (2 * s) & 3) << 4;
        sc[s] = (int8_t)(ls - 32);
    }
}

void codes_iq4_xs(int8_t q[QK_K], int8_t sc[QK_K / 32], const BlockIQ4_XS *b) {
    scales_iq4_xs(sc, b);
    for (int s = 0; s < QK_K / 32; s++) {
        const uint8_t *qs = b->qs + 16 * s;
        for (int j = 0; j < 16; j++) q[32 * s + j] = kvalues_iq4nl[qs[j] & 0xf], q[32 * s + j + 16] = kvalues_iq4nl[qs[j] >> 4];
    }
}

/* tq1_0: a byte holds 5 trits u_k = t_k + 1 (0..2) as a fixed-point fraction
 * of 3^5 = 243: byte = ceil(v·256/243), v = Σ_k u_k·3^(4-k) (qh's bytes: 4
 * trits, u_4 = 0). Trit k is the integer part of 3× the fraction once it is
 * multiplied by 3^k mod 1: u_k = ((byte·3^k mod 256)·3) >> 8. Elements:
 * trit k of qs[m] (m < 32) is element 32k + m; of qs[32 + m] (m < 16),
 * element 160 + 16k + m; of qh[m] (k < 4), element 240 + 4k + m. */
static inline int8_t trit(uint8_t byte, int k) {
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    uint8_t f = (uint8_t)(byte * pow3[k]);
    return (int8_t)((f * 3 >> 8) - 1);
}

void codes_tq1_0(int8_t q[QK_K], const BlockTQ1_0 *b) {
    for (int k = 0; k < 5; k++)
        for (int m = 0; m < 32; m++) q[32 * k + m] = trit(b->qs[m], k);
    for (int k = 0; k < 5; k++)
        for (int m = 0; m < 16; m++) q[160 + 16 * k + m] = trit(b->qs[32 + m], k);
    for (int k = 0; k < 4; k++)
        for (int m = 0; m < 4; m++) q[240 + 4 * k + m] = trit(b->qh[m], k);
}

/* tq2_0: element 32j + m of half h is bits 2j, 2j+1 of qs[32h + m], minus 1. */
void codes_tq2_0(int8_t q[QK_K], const BlockTQ2_0 *b) {
    for (int i = 0; i < QK_K; i++) q[i] = (int8_t)(q2_bits(b->qs, i) - 1);
}

void dequantize_row_q2_K(float *out, const void *src, size_t n) {
    const BlockQ2_K *b = src;
    int8_t q[QK_K], sc[QK_K / 16], mn[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
        codes_q2_K(q, sc, mn, &b[i]);
        for (int s = 0; s < QK_K / 16; s++) {
            float dl = d * sc[s], ml = dmin * mn[s];
            for (int l = 0; l < 16; l++) *out++ = dl * q[16 * s + l] - ml;
        }
    }
}

void dequantize_row_q3_K(float *out, const void *src, size_t n) {
    const BlockQ3_K *b = src;
    int8_t q[QK_K], sc[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = h2f(b[i].d);
        codes_q3_K(q, sc, &b[i]);
        for (int s = 0; s < QK_K / 16; s++) {
            float dl = d * sc[s];
            for (int l = 0; l < 16; l++) *out++ = dl * q[16 * s + l];
        }
    }
}

void dequantize_row_iq4_nl(float *out, const void *src, size_t n) {
    const BlockIQ4_NL *b = src;
    for (size_t i = 0; i < n / QK32; i++, out += QK32) {
        float d = h2f(b[i].d);
        for (int j = 0; j < QK32 / 2; j++) {
            out[j] = d * kvalues_iq4nl[b[i].qs[j] & 0xf];
            out[j + QK32 / 2] = d * kvalues_iq4nl[b[i].qs[j] >> 4];
        }
    }
}

void dequantize_row_iq4_xs(float *out, const void *src, size_t n) {
    const BlockIQ4_XS *b = src;
    int8_t q[QK_K], sc[QK_K / 32];
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = h2f(b[i].d);
        codes_iq4_xs(q, sc, &b[i]);
        for (int s = 0; s < QK_K / 32; s++) {
            float dl = d * sc[s];
            for (int l = 0; l < 32; l++) *out++ = dl * q[32 * s + l];
        }
    }
}

/* The ternary types: (float)t·d, as ggml writes it. */
#define DEQUANT_TERNARY(t, Block)                                          \
    void dequantize_row_##t(float *out, const void *src, size_t n) {       \
        const Block *b = src;                                              \
        int8_t q[QK_K];                                                    \
        for (size_t i = 0; i < n / QK_K; i++) {                            \
            float d = h2f(b[i].d);                                         \
            codes_##t(q, &b[i]);                                           \
            for (int l = 0; l < QK_K; l++) *out++ = (float)q[l] * d;       \
        }                                                                  \
    }
DEQUANT_TERNARY(tq1_0, BlockTQ1_0)
DEQUANT_TERNARY(tq2_0, BlockTQ2_0)

/* ---- reference dots: one block dequantized at a time, summed in double ---- */

#define DOT_ROW(t, blk, bytes)                                              \
    float dot_row_##t(const void *row, const float *x, size_t n) {          \
        const unsigned char *p = row;                                       \
        float w[blk];                                                       \
        double s = 0;                                                       \
        for (size_t i = 0; i < n; i += (blk), p += (bytes)) {               \
            dequantize_row_##t(w, p, (blk));                                \
            for (int j = 0; j < (blk); j++) s += (double)w[j] * x[i + j];   \
        }                                                                   \
        return (float)s;                                                    \
    }

DOT_ROW(q8_0, QK32, sizeof(BlockQ8_0))
DOT_ROW(q4_0, QK32, sizeof(BlockQ4_0))
DOT_ROW(q4_1, QK32, sizeof(BlockQ4_1))
DOT_ROW(q5_0, QK32, sizeof(BlockQ5_0))
DOT_ROW(q5_1, QK32, sizeof(BlockQ5_1))
DOT_ROW(q4_K, QK_K, sizeof(BlockQ4_K))
DOT_ROW(q5_K, QK_K, sizeof(BlockQ5_K))
DOT_ROW(q6_K, QK_K, sizeof(BlockQ6_K))
DOT_ROW(q2_K, QK_K, sizeof(BlockQ2_K))
DOT_ROW(q3_K, QK_K, sizeof(BlockQ3_K))
DOT_ROW(iq4_nl, QK32, sizeof(BlockIQ4_NL))
DOT_ROW(iq4_xs, QK_K, sizeof(BlockIQ4_XS))
DOT_ROW(tq1_0, QK_K, sizeof(BlockTQ1_0))
DOT_ROW(tq2_0, QK_K, sizeof(BlockTQ2_0))

/* ---- quantizers of the 32-element types ---------------------------------- */

/* q8_0: d = max|x|/127, q = round(x/d) (half away from zero). */
void quantize_row_q8_0(void *out, const float *x, size_t n) {
    BlockQ8_0 *y = out;
    for (size_t i = 0; i < n / QK32; i++, x += QK32) {
        float amax = 0.0f;
        for (int j = 0; j < QK32; j++) amax = MAX(amax, fabsf(x[j]));
        float d = amax / ((1 << 7) - 1);
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        for (int j = 0; j < QK32; j++) y[i].qs[j] = (int8_t)to_i8(roundf(x[j] * id));
    }
}

/* The element of largest magnitude, with its sign (the first on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    return max;
}

/* q4_0: d = -max/8 with max the signed absmax, so that it maps to q = 0. */
void quantize_row_q4_0(void *out, const float *x, size_t n) {
    BlockQ4_0 *y = out;
    for (size_t i = 0; i < n / QK32; i++, x += QK32) {
        float d = signed_absmax(x, QK32) / -8;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        for (int j = 0; j < QK32 / 2; j++) {
            int q0 = MIN(15, to_i8(x[j] * id + 8.5f));
            int q1 = MIN(15, to_i8(x[j + QK32 / 2] * id + 8.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xff) | (q1 & 0xff) << 4);
        }
    }
}

/* q4_1: d = (max - min)/15, m = min, q = trunc((x - min)/d + 0.5). */
void quantize_row_q4_1(void *out, const float *x, size_t n) {
    BlockQ4_1 *y = out;
    for (size_t i = 0; i < n / QK32; i++, x += QK32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        float d = (max - min) / ((1 << 4) - 1);
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        y[i].m = f2h(min);
        for (int j = 0; j < QK32 / 2; j++) {
            int q0 = MIN(15, to_i8((x[j] - min) * id + 0.5f));
            int q1 = MIN(15, to_i8((x[j + QK32 / 2] - min) * id + 0.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0xff) | (q1 & 0xff) << 4);
        }
    }
}

static void put_u32le(uint8_t *p, uint32_t v) {
    for (int k = 0; k < 4; k++) p[k] = (uint8_t)(v >> 8 * k);
}

/* q5_0: as q4_0 with 5 bits: d = -max/16. */
void quantize_row_q5_0(void *out, const float *x, size_t n) {
    BlockQ5_0 *y = out;
    for (size_t i = 0; i < n / QK32; i++, x += QK32) {
        float d = signed_absmax(x, QK32) / -16;
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            uint8_t q0 = (uint8_t)MIN(31, to_i8(x[j] * id + 16.5f));
            uint8_t q1 = (uint8_t)MIN(31, to_i8(x[j + QK32 / 2] * id + 16.5f));
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= (uint32_t)((q0 & 0x10u) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10u) >> 4) << (j + QK32 / 2);
        }
        put_u32le(y[i].qh, qh);
    }
}

/* q5_1: as q4_1 with 5 bits: d = (max - min)/31. */
void quantize_row_q5_1(void *out, const float *x, size_t n) {
    BlockQ5_1 *y = out;
    for (size_t i = 0; i < n / QK32; i++, x += QK32) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        float d = (max - min) / ((1 << 5) - 1);
        float id = d ? 1.0f / d : 0.0f;
        y[i].d = f2h(d);
        y[i].m = f2h(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            uint8_t q0 = (uint8_t)to_u8((x[j] - min) * id + 0.5f);
            uint8_t q1 = (uint8_t)to_u8((x[j + QK32 / 2] - min) * id + 0.5f);
            y[i].qs[j] = (uint8_t)((q0 & 0x0f) | (q1 & 0x0f) << 4);
            qh |= (uint32_t)((q0 & 0x10u) >> 4) << j;
            qh |= (uint32_t)((q1 & 0x10u) >> 4) << (j + QK32 / 2);
        }
        put_u32le(y[i].qh, qh);
    }
}

/* ---- K-quant helpers (ggml's make_qkx2_quants, make_qx_quants) ----------- */

float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                       uint8_t *Laux, float rmin, float rdelta, int nstep, int use_mad) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++) L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_mad = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)MAX(0, MIN(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        best_mad += weights[i] * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = MAX(0, MIN(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float mad = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                mad += weights[i] * diff;
            }
            if (mad < best_mad) {
                for (int i = 0; i < n; i++) L[i] = Laux[i];
                best_mad = mad;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Fits x[i] ≈ scale·(L[i] - nmax) with L in 0..2·nmax-1, weights x², trying
 * 19 scales around -nmax/max (ggml's make_qx_quants with rmse_type 1 and no
 * importance weights). Returns the scale (0 for an all-zero group). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float amax, max = group_signed_max(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max, sumlx, suml2;
    round_signed_fit(n, nmax, x, iscale, L, nmax, &sumlx, &suml2);
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        round_signed_fit(n, nmax, x, iscale, NULL, 0, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + MAX(-nmax, MIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ---- K-quant quantizers -------------------------------------------------- */

/* q4_K and q5_K share everything but the bit width and the packing: per
 * 32-element sub-block a (scale, min) fit, both quantized to 6 bits against
 * the super-block's largest, then the quants recomputed with those. */
static void quantize_k4_scales(const float *x, int nmax, float rmin, int nstep, uint8_t *L,
                               uint16_t *d_out, uint16_t *dmin_out, uint8_t scales_out[12]) {
    uint8_t Laux[32];
    float weights[32], mins[QK_K / 32], scales[QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < QK_K / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                     0.1f, nstep, 0);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = MIN(63, ls);
        lm = MIN(63, lm);
        pack_scale_min_k4(scales_out, j, ls, lm);
    }
    *d_out = f2h(max_scale / 63.f);
    *dmin_out = f2h(max_min / 63.f);

    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        scale_min_k4(j, scales_out, &sc, &m);
        float d = h2f(*d_out) * sc;
        if (!d) continue; /* keeps make_qkx2_quants' L */
        float dm = h2f(*dmin_out) * m;
        for (int ii = 0; ii < 32; ii++) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)MAX(0, MIN(nmax, l));
        }
    }
}

void quantize_row_q4_K(void *out, const float *x, size_t n) {
    BlockQ4_K *y = out;
    uint8_t L[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_k4_scales(x, 15, -1.f, 20, L, &y[i].d, &y[i].dmin, y[i].scales);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

void quantize_row_q5_K(void *out, const float *x, size_t n) {
    BlockQ5_K *y = out;
    uint8_t L[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        quantize_k4_scales(x, 31, -0.5f, 15, L, &y[i].d, &y[i].dmin, y[i].scales);
        uint8_t *qh = y[i].qh, *ql = y[i].qs;
        memset(qh, 0, QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int k = 0; k < QK_K; k += 64, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[k + j], l2 = L[k + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | l2 << 4);
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

/* q6_K: per 16-element sub-block a signed scale (make_qx_quants), the 16
 * scales quantized to int8 against the largest, the quants recomputed. */
void quantize_row_q6_K(void *out, const float *x, size_t n) {
    BlockQ6_K *y = out;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            y[i].d = f2h(0.f);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = f2h(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ib++) y[i].scales[ib] = (int8_t)MIN(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; j++) {
            float d = h2f(y[i].d) * y[i].scales[j];
            if (!d) continue; /* keeps make_qx_quants' L */
            for (int ii = 0; ii < 16; ii++) {
                int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(MAX(-32, MIN(31, l)) + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf;
                int q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
                ql[l] = (uint8_t)(q1 | q3 << 4);
                ql[l + 32] = (uint8_t)(q2 | q4 << 4);
                qh[l] = (uint8_t)((L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 | (L[j + l + 64] >> 4) << 4 |
                                  (L[j + l + 96] >> 4) << 6);
            }
    }
}
