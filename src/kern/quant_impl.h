/* quant_impl — what kern/quant.c and kern/quant_k2.c share: ggml's rounding
 * and its scale-and-min fit. Not a public header. */
#ifndef KERN_QUANT_IMPL_H
#define KERN_QUANT_IMPL_H

#include <stdint.h>
#include <string.h>

/* A group whose largest |x| is below this quantizes to zeros (ggml's value). */
#define GROUP_MAX_EPS 1e-15f

/* Round to nearest, ties to even, for |f| <= 2^22 (ggml's nearest_int: the
 * magic number moves the integer into the low mantissa bits). Larger or
 * non-finite f give garbage, as in ggml, but no undefined behaviour. */
static inline int nearest_int(float f) {
    float v = f + 12582912.f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The element of x[0..n) of the largest magnitude, with its sign (the first
 * of equals); *amax gets the magnitude. */
static inline float group_signed_max(const float *x, int n, float *amax) {
    float max = 0, a = 0;
    for (int i = 0; i < n; i++) {
        float ax = x[i] < 0 ? -x[i] : x[i];
        if (ax > a) {
            a = ax;
            max = x[i];
        }
    }
    *amax = a;
    return max;
}

/* l_i = clamp(round(iscale·x_i), -nmax, nmax - 1) for each i, and the sums
 * Σ w·x·l and Σ w·l² with weights w = x², in index order (the first pass of
 * ggml's make_qx_quants and make_q3_quants); L[i] = l_i + offset where L is
 * not NULL. */
static inline void round_signed_fit(int n, int nmax, const float *x, float iscale, int8_t *L, int offset,
                                    float *sumlx, float *suml2) {
    float slx = 0, sl2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
        if (L) L[i] = (int8_t)(l + offset);
        float w = x[i] * x[i];
        slx += w * x[i] * l;
        sl2 += w * l * l;
    }
    *sumlx = slx, *suml2 = sl2;
}

/* Stores sub-block j's 6-bit scale ls and min lm in the 12 scale bytes of
 * a Q4_K/Q5_K block (sub-blocks 0-3 in the low 6 bits of bytes j and j+4,
 * 4-7 split: low nibbles in byte j+4, high 2 bits on top of bytes j-4 and
 * j); scales_out is filled in order of j. */
static inline void pack_scale_min_k4(uint8_t *scales_out, int j, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        scales_out[j] = ls;
        scales_out[j + 4] = lm;
    } else {
        scales_out[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
        scales_out[j - 4] |= (uint8_t)((ls >> 4) << 6);
        scales_out[j] |= (uint8_t)((lm >> 4) << 6);
    }
}

/* Fits x[i] ≈ scale·L[i] - the_min with L in 0..nmax, minimizing the
 * weighted squared error (use_mad: the weighted absolute error) over a grid
 * of nstep+1 candidate scales (ggml's make_qkx2_quants). Returns the scale;
 * *the_min >= 0. Laux: n bytes of scratch. */
float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                       uint8_t *Laux, float rmin, float rdelta, int nstep, int use_mad);

#endif
