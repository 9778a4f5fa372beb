#include "kern/dtype.h"

#include <string.h>

#include "base/util.h"
#include "kern/quant.h"

float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1); /* round to nearest even */
    return (uint16_t)(u >> 16);
}

uint16_t f32_to_bf16_act(float f) {
    uint16_t h = f32_to_bf16(f);
    return (h & 0x7f80u) ? h : (uint16_t)(h & 0x8000u);
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu, u;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13); /* inf / NaN */
    } else if (exp != 0) {
        u = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        u = sign;
    } else { /* subnormal: normalize */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while (!(man & 0x400u));
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00; /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00; /* rounds to inf */
    if (a < 0x38800000u) { /* subnormal or zero in f16 */
        if (a < 0x33000001u) return sign;
        uint32_t e = a >> 23, m = (a & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t half = 1u << (shift - 1), rest = m & ((1u << shift) - 1);
        uint32_t r = m >> shift;
        if (rest > half || (rest == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = a + 0xfffu + ((a >> 13) & 1) - (112u << 23);
    return sign | (uint16_t)(r >> 13);
}

/* ---- float types: conversion and reference dot -------------------------- */

static void f32_to_float(float *out, const void *src, size_t n) { memcpy(out, src, n * 4); }

static float f32_dot(const void *row, const float *x, size_t n) {
    const float *w = row;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)w[i] * x[i];
    return (float)s;
}

/* The 16-bit float types differ only in how one element converts. */
#define HALF_KERNELS(t)                                                      \
    static void t##_row_to_float(float *out, const void *src, size_t n) {    \
        const unsigned char *p = src;                                        \
        for (size_t i = 0; i < n; i++) {                                     \
            uint16_t h;                                                      \
            memcpy(&h, p + 2 * i, 2);                                        \
            out[i] = t##_to_f32(h);                                          \
        }                                                                    \
    }                                                                        \
    static float t##_dot(const void *row, const float *x, size_t n) {        \
        const unsigned char *p = row;                                        \
        double s = 0;                                                        \
        for (size_t i = 0; i < n; i++) {                                     \
            uint16_t h;                                                      \
            memcpy(&h, p + 2 * i, 2);                                        \
            s += (double)t##_to_f32(h) * x[i];                               \
        }                                                                    \
        return (float)s;                                                     \
    }

HALF_KERNELS(f16)
HALF_KERNELS(bf16)

static void f32_from_float(void *out, const float *src, size_t n) { memcpy(out, src, n * 4); }

static void f16_from_float(void *out, const float *src, size_t n) {
    unsigned char *p = out;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = f32_to_f16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

static void bf16_from_float(void *out, const float *src, size_t n) {
    unsigned char *p = out;
    for (size_t i = 0; i < n; i++) {
        uint16_t h = f32_to_bf16(src[i]);
        memcpy(p + 2 * i, &h, 2);
    }
}

#define QUANT(t) dequantize_row_##t, dot_row_##t, quantize_row_##t, quantize_row_##t##_imat
#define QUANT_NO_IMAT(t) dequantize_row_##t, dot_row_##t, quantize_row_##t, NULL
#define READ_ONLY(t) dequantize_row_##t, dot_row_##t, NULL, NULL

static const DTypeTraits traits[DT_COUNT] = {
    [DT_F32] = {"F32", 0, 1, 4, f32_to_float, f32_dot, f32_from_float, NULL},
    [DT_F16] = {"F16", 1, 1, 2, f16_row_to_float, f16_dot, f16_from_float, NULL},
    [DT_BF16] = {"BF16", 30, 1, 2, bf16_row_to_float, bf16_dot, bf16_from_float, NULL},
    [DT_Q8_0] = {"q8_0", 8, QK32, sizeof(BlockQ8_0), QUANT_NO_IMAT(q8_0)},
    [DT_Q4_0] = {"q4_0", 2, QK32, sizeof(BlockQ4_0), QUANT(q4_0)},
    [DT_Q4_1] = {"q4_1", 3, QK32, sizeof(BlockQ4_1), QUANT(q4_1)},
    [DT_Q5_0] = {"q5_0", 6, QK32, sizeof(BlockQ5_0), QUANT(q5_0)},
    [DT_Q5_1] = {"q5_1", 7, QK32, sizeof(BlockQ5_1), QUANT(q5_1)},
    [DT_Q4_K] = {"q4_K", 12, QK_K, sizeof(BlockQ4_K), QUANT(q4_K)},
    [DT_Q5_K] = {"q5_K", 13, QK_K, sizeof(BlockQ5_K), QUANT(q5_K)},
    [DT_Q6_K] = {"q6_K", 14, QK_K, sizeof(BlockQ6_K), QUANT(q6_K)},
    [DT_Q2_K] = {"q2_K", 10, QK_K, sizeof(BlockQ2_K), QUANT(q2_K)},
    [DT_Q3_K] = {"q3_K", 11, QK_K, sizeof(BlockQ3_K), QUANT(q3_K)},
    [DT_IQ4_NL] = {"iq4_nl", 20, QK32, sizeof(BlockIQ4_NL), QUANT(iq4_nl)},
    [DT_IQ4_XS] = {"iq4_xs", 23, QK_K, sizeof(BlockIQ4_XS), QUANT(iq4_xs)},
    [DT_TQ1_0] = {"tq1_0", 34, QK_K, sizeof(BlockTQ1_0), READ_ONLY(tq1_0)},
    [DT_TQ2_0] = {"tq2_0", 35, QK_K, sizeof(BlockTQ2_0), READ_ONLY(tq2_0)},
};

const DTypeTraits *dtype_traits(DType t) {
    CHECK(t >= 0 && t < DT_COUNT);
    return &traits[t];
}

size_t dtype_bytes(DType t, size_t n) {
    const DTypeTraits *tr = dtype_traits(t);
    return n / (size_t)tr->block * (size_t)tr->bytes;
}

int dtype_from_ggml(uint32_t ggml_type, DType *out) {
    for (int t = 0; t < DT_COUNT; t++)
        if (traits[t].gguf_type >= 0 && (uint32_t)traits[t].gguf_type == ggml_type) {
            *out = (DType)t;
            return 0;
        }
    return -1;
}
