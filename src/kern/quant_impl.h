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

/* Fits x[i] ≈ scale·L[i] - the_min with L in 0..nmax, minimizing the
 * weighted squared error (use_mad: the weighted absolute error) over a grid
 * of nstep+1 candidate scales (ggml's make_qkx2_quants). Returns the scale;
 * *the_min >= 0. Laux: n bytes of scratch. */
float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                       uint8_t *Laux, float rmin, float rdelta, int nstep, int use_mad);

#endif
