/* quant_k2 — the quantizers of q2_K, q3_K, iq4_nl and iq4_xs: what
 * llama-quantize writes for them without an importance matrix (and, for
 * iq4_nl and iq4_xs, with one: the _imat variants).
 *
 * They follow ggml/src/ggml-quants.c (MIT, the ggml authors):
 * quantize_row_q2_K_ref with make_qkx2_quants (absolute error),
 * quantize_row_q3_K_ref with make_q3_quants, and quantize_row_iq4_nl_impl as
 * quantize_iq4_nl and quantize_iq4_xs call it with no importance weights
 * (7 trial scales each side). That last is what llama-quantize writes for
 * iq4_nl; ggml's quantize_row_iq4_nl_ref (no trial scales, used for
 * activations) is a different, cruder fit. As in kern/quant.c, every float
 * operation is kept in ggml's order, in fp32, without FMA contraction, so
 * that the blocks are ggml's bit for bit on finite input; where ggml would
 * convert an out-of-range value to a narrower integer (only on non-finite
 * input) a clamped value is used. Block layouts: kern/quant.h.
 *
 * tests/data/quant/ref.bin holds ggml's bytes for them (ggml d99724f,
 * 2026-08); out of the tree, 400 rows of 16384 per type (normal, uniform,
 * sparse, outlier, positive data, scales 1e-4..1e4) also gave ggml's bytes
 * exactly. */
#include <math.h>
#include <string.h>

#include "kern/dtype.h"
#include "kern/quant.h"
#include "kern/quant_impl.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* q2_K and q3_K put the 2-bit quants L[0..256) four a byte: element
 * 128h + 32j + l at bits 2j of qs[32h + l]. */
static void pack_q2(uint8_t qs[QK_K / 4], const uint8_t *L) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
}

/* ---- q2_K ---------------------------------------------------------------- */

/* Per 16-element sub-block a (scale, min) fit with L in 0..3 weighted by
 * |x| (absolute error); scales and mins quantized to 4 bits against the
 * super-block's largest; the quants recomputed with the stored values. */
void quantize_row_q2_K(void *out, const float *x, size_t n) {
    BlockQ2_K *y = out;
    uint8_t L[QK_K], Laux[16];
    float weights[16], mins[QK_K / 16], scales[QK_K / 16];
    const float q4scale = 15.f;
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
            scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, 1);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            float iscale = q4scale / max_scale;
            for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = (uint8_t)nearest_int(iscale * scales[j]);
            y[i].d = f32_to_f16(max_scale / q4scale);
        } else {
            memset(y[i].scales, 0, sizeof y[i].scales);
            y[i].d = f32_to_f16(0.f);
        }
        if (max_min > 0) {
            float iscale = q4scale / max_min;
            for (int j = 0; j < QK_K / 16; j++)
                y[i].scales[j] |= (uint8_t)((unsigned)nearest_int(iscale * mins[j]) << 4);
            y[i].dmin = f32_to_f16(max_min / q4scale);
        } else {
            y[i].dmin = f32_to_f16(0.f);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            float d = f16_to_f32(y[i].d) * (y[i].scales[j] & 0xf);
            if (!d) continue; /* keeps make_qkx2_quants' L */
            float dm = f16_to_f32(y[i].dmin) * (y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++) {
                int l = nearest_int((x[16 * j + ii] + dm) / d);
                L[16 * j + ii] = (uint8_t)MAX(0, MIN(3, l));
            }
        }
        pack_q2(y[i].qs, L);
    }
}

/* ---- q3_K ---------------------------------------------------------------- */

/* Fits x[i] ≈ scale·(L[i] - nmax), L in 0..2·nmax-1, weights x²: rounding at
 * -nmax/max, then up to 5 passes moving single quants to where they raise
 * the fit (ggml's make_q3_quants with do_rmse). Returns the scale. */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L) {
    float amax, max = group_signed_max(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++) L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max, sumlx, suml2;
    round_signed_fit(n, nmax, x, iscale, L, 0, &sumlx, &suml2);
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = nearest_int(x[i] * sl2 / slx);
                new_l = MAX(-nmax, MIN(nmax - 1, new_l));
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Per 16-element sub-block a signed scale (make_q3_quants, L in -4..3),
 * the 16 scales quantized to 6 bits against the largest in magnitude (which
 * maps to -32), the quants recomputed; the third bit of each quant goes to
 * hmask. */
void quantize_row_q3_K(void *out, const float *x, size_t n) {
    BlockQ3_K *y = out;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, amax = 0;
        for (int j = 0; j < QK_K / 16; j++) {
            scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
            float scale = fabsf(scales[j]);
            if (scale > amax) {
                amax = scale;
                max_scale = scales[j];
            }
        }
        uint8_t *sc = y[i].scales;
        memset(sc, 0, 12);
        if (max_scale) {
            float iscale = -32.f / max_scale;
            for (int j = 0; j < QK_K / 16; j++) {
                int l = MAX(-32, MIN(31, nearest_int(iscale * scales[j]))) + 32;
                if (j < 8) sc[j] = (uint8_t)(l & 0xf);
                else sc[j - 8] |= (uint8_t)((l & 0xf) << 4);
                sc[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[i].d = f32_to_f16(1 / iscale);
        } else {
            y[i].d = f32_to_f16(0.f);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int s = j < 8 ? sc[j] & 0xf : sc[j - 8] >> 4;
            s = (s | (sc[8 + j % 4] >> (2 * (j / 4)) & 3) << 4) - 32;
            float d = f16_to_f32(y[i].d) * s;
            if (!d) continue; /* keeps make_q3_quants' L */
            for (int ii = 0; ii < 16; ii++) {
                int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(MAX(-4, MIN(3, l)) + 4);
            }
        }
        uint8_t U[QK_K];
        memset(y[i].hmask, 0, QK_K / 8);
        for (int j = 0; j < QK_K; j++) {
            int l = L[j];
            if (l > 3) {
                y[i].hmask[j % 32] |= (uint8_t)(1u << (j / 32));
                l -= 4;
            }
            U[j] = (uint8_t)l;
        }
        pack_q2(y[i].qs, U);
    }
}

/* ---- iq4_nl, iq4_xs ------------------------------------------------------ */

/* The index of the level of kvalues_iq4nl nearest to x (ties to the upper
 * level; below the first or above the last: that one). */
static int best_index_iq4(float x) {
    const int8_t *val = kvalues_iq4nl;
    if (x <= val[0]) return 0;
    if (x >= val[15]) return 15;
    int ml = 0, mu = 15;
    while (mu - ml > 1) {
        int mav = (ml + mu) / 2;
        if (x < val[mav]) mu = mav;
        else ml = mav;
    }
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

/* One 32-element group: the scale d minimizing Σ w·(x - d·v[L])² over the
 * start max/127 and 15 trial scales (itry - 127)/max, itry = -7..7, each with
 * its nearest levels; w = x² without importance weights, else
 * qw·sqrt(sigma2 + x²). L gets the levels at the start scale; the caller
 * recomputes them. 0 for an all-zero group (L untouched). */
static float iq4_fit(const float *xb, uint8_t *L, const float *qw, float sigma2) {
    const int ntry = 7;
    const int8_t *values = kvalues_iq4nl;
    float weight[32];
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        weight[j] = qw ? qw[j] * sqrtf(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
        float ax = fabsf(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < GROUP_MAX_EPS) return 0;
    float d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < 32; j++) {
        int l = best_index_iq4(id * xb[j]);
        L[j] = (uint8_t)l;
        float q = values[l], w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; itry++) {
        id = (itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < 32; j++) {
            float q = values[best_index_iq4(id * xb[j])], w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

/* 32 indices, element j low and j+16 high nibble. */
static void pack_iq4(uint8_t qs[16], const uint8_t *L) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(L[j] | L[16 + j] << 4);
}

/* 2·Σx²/n: the spread the importance weights are scaled against. */
static float spread(const float *x, int n) {
    float s = 0;
    for (int j = 0; j < n; j++) s += x[j] * x[j];
    return s * (2.f / n);
}

/* iq4_nl: d the fitted scale (f16), the indices at 1/d in fp32. */
void quantize_row_iq4_nl(void *out, const float *x, size_t n) { quantize_row_iq4_nl_imat(out, x, n, NULL); }

void quantize_row_iq4_nl_imat(void *out, const float *x, size_t n, const float *qw) {
    BlockIQ4_NL *y = out;
    uint8_t L[32];
    for (size_t i = 0; i < n / QK32; i++, x += QK32) {
        float scale = iq4_fit(x, L, qw ? qw + QK32 * i : NULL, qw ? spread(x, QK32) : 0);
        y[i].d = f32_to_f16(scale);
        float id = scale ? 1 / scale : 0;
        for (int j = 0; j < 32; j++) L[j] = (uint8_t)best_index_iq4(id * x[j]);
        pack_iq4(y[i].qs, L);
    }
}

/* iq4_xs: the 8 groups' fitted scales quantized to 6 bits against the
 * largest in magnitude (which maps to -32), d = -max/32 (f16); each group's
 * indices at 1/(d·l) with the fp32 d. */
void quantize_row_iq4_xs(void *out, const float *x, size_t n) { quantize_row_iq4_xs_imat(out, x, n, NULL); }

void quantize_row_iq4_xs_imat(void *out, const float *x, size_t n, const float *qw) {
    BlockIQ4_XS *y = out;
    uint8_t L[32];
    float scales[QK_K / 32];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K) {
        float max_scale = 0, amax_scale = 0, sigma2 = qw ? spread(x, QK_K) : 0;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            scales[ib] = iq4_fit(x + 32 * ib, L, qw ? qw + QK_K * i + 32 * ib : NULL, sigma2);
            if (fabsf(scales[ib]) > amax_scale) {
                amax_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        float d = -max_scale / 32;
        y[i].d = f32_to_f16(d);
        float id = d ? 1 / d : 0.f;
        uint16_t scales_h = 0;
        for (int ib = 0; ib < QK_K / 32; ib++) {
            int l = MAX(-32, MIN(31, nearest_int(id * scales[ib])));
            float dl = d * l;
            float idl = dl ? 1 / dl : 0.f;
            for (int j = 0; j < 32; j++) L[j] = (uint8_t)best_index_iq4(idl * x[32 * ib + j]);
            pack_iq4(y[i].qs + 16 * ib, L);
            l += 32;
            if (ib % 2 == 0) y[i].scales_l[ib / 2] = (uint8_t)(l & 0xf);
            else y[i].scales_l[ib / 2] |= (uint8_t)((l & 0xf) << 4);
            scales_h |= (uint16_t)((l >> 4) << (2 * ib));
        }
        y[i].scales_h = scales_h;
    }
}
