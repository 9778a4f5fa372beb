/* quant_imat — the quantizers that take an importance matrix: what
 * llama-quantize writes with --imatrix for q4_0, q4_1, q5_0, q5_1, q2_K,
 * q3_K, q4_K, q5_K and q6_K (iq4_nl and iq4_xs: kern/quant_k2.c).
 *
 * qw[0..n) weighs each column of the row (one value per column: the mean of
 * the squared input that column meets, model/imatrix.h). The fits minimize
 *   Σ w_i · (x_i - q_i)²,   w_i = qw_i · sqrt(σ² + x_i²)
 * (q6_K: w_i = qw_i), σ² the row's (q4_0 ... q5_1) or the super-block's
 * mean square (q3_K, q4_K, q5_K: twice that). They follow ggml/src/
 * ggml-quants.c (MIT, the ggml authors): quantize_row_*_impl with
 * make_qx_quants (weights given), make_qkx3_quants and make_qp_quants. As
 * in kern/quant.c every float operation is kept in ggml's order, in fp32,
 * without FMA contraction, so the blocks are ggml's bit for bit on finite
 * input (tests/unit/test_quant_imat.c; bench/quant_ggml.c against a ggml
 * build). qw NULL: the unweighted quantizer (kern/quant.h), as ggml's
 * quantize_* call the _ref ones then. */
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

/* ---- the fits ------------------------------------------------------------ */

/* x[i] ≈ scale·(L[i] - nmax), L in 0..2·nmax-1, minimizing Σ w·(x - scale·l)²:
 * rounding at -nmax/max, then 18 more trial scales -(nmax + 0.1·is)/max
 * (ggml's make_qx_quants, rmse_type 1, weights given). Returns the scale. */
static float fit_signed_w(int n, int nmax, const float *x, int8_t *L, const float *w) {
    float amax, max = group_signed_max(x, n, &amax);
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = MAX(-nmax, MIN(nmax - 1, nearest_int(iscale * x[i])));
        L[i] = (int8_t)(l + nmax);
        sumlx += w[i] * x[i] * l;
        suml2 += w[i] * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = MAX(-nmax, MIN(nmax - 1, nearest_int(iscale * x[i])));
            sumlx += w[i] * x[i] * l;
            suml2 += w[i] * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + MAX(-nmax, MIN(nmax - 1, nearest_int(iscale * x[i]))));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* x[i] ≈ scale·L[i] - the_min, L in 0..nmax, minimizing Σ w·(x - ...)²
 * over the start scale (max - min)/nmax and nstep+1 trial scales, each with
 * its least-squares (scale, min) (ggml's make_qkx3_quants, squared error).
 * Returns the scale; *the_min >= 0. Laux: n bytes of scratch. */
static float fit_scale_min_w(int n, int nmax, const float *x, const float *w, uint8_t *L, float *the_min,
                             uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max <= min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)MAX(0, MIN(nmax, l));
        float diff = scale * L[i] + min - x[i];
        best += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = MAX(0, MIN(nmax, nearest_int(iscale * (x[i] - min))));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                err += w[i] * (diff * diff);
            }
            if (err < best) {
                memcpy(L, Laux, (size_t)n);
                best = err;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* The sub-block scales (or mins) x[0..n) >= 0 as scale·L[i], L in 0..nmax,
 * weighted by w: 9 trial scales around max/nmax, then up to 5 passes moving
 * single L where that raises the fit (ggml's make_qp_quants). Returns the
 * scale. */
static float fit_positive_w(int n, int nmax, const float *x, uint8_t *L, const float *w) {
    float max = 0;
    for (int i = 0; i < n; i++) max = MAX(max, x[i]);
    if (!max) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max, scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)nearest_int(iscale * x[i]);
    for (int i = 0; i < n; i++) {
        float diff = x[i] - scale * L[i];
        best += w[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        float iscale_is = (0.1f * is + nmax) / max, scale_is = 1 / iscale_is, err = 0;
        for (int i = 0; i < n; i++) {
            int l = MIN(nmax, nearest_int(iscale_is * x[i]));
            float diff = x[i] - scale_is * l;
            err += w[i] * diff * diff;
        }
        if (err < best) {
            best = err;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = MIN(nmax, nearest_int(iscale * x[i]));
        L[i] = (uint8_t)l;
        sumlx += w[i] * x[i] * l;
        suml2 += w[i] * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float slx = sumlx - w[i] * x[i] * L[i], sl2 = suml2 - w[i] * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = MIN(nmax, nearest_int(x[i] * sl2 / slx));
                if (new_l != L[i]) {
                    slx += w[i] * x[i] * new_l;
                    sl2 += w[i] * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return sumlx / suml2;
}

/* w[j] = qw[j]·sqrt(sigma2 + x[j]²), j < n. */
static void weigh(float *w, const float *qw, const float *x, int n, float sigma2) {
    for (int j = 0; j < n; j++) w[j] = qw[j] * sqrtf(sigma2 + x[j] * x[j]);
}

static float mean_square(const float *x, size_t n) {
    float s = 0;
    for (size_t j = 0; j < n; j++) s += x[j] * x[j];
    return s / (float)n;
}

/* ---- the 32-element types ------------------------------------------------ */

/* 5-bit quants L[0..32): low nibbles in qs (j low, j+16 high), fifth bits
 * in qh (bit j = element j). */
static void pack5(uint8_t qs[16], uint8_t qh[4], const uint8_t *L) {
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((L[j] & 0x0f) | (L[j + 16] & 0x0f) << 4);
        h |= (uint32_t)((L[j] & 0x10u) >> 4) << j;
        h |= (uint32_t)((L[j + 16] & 0x10u) >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(h >> 8 * k);
}

/* q4_0 and q5_0: a signed fit per block (L in 0..2·nmax-1). */
void quantize_row_q4_0_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q4_0(out, x, n);
        return;
    }
    BlockQ4_0 *y = out;
    float w[QK32], sigma2 = mean_square(x, n);
    int8_t L[QK32];
    for (size_t ib = 0; ib < n / QK32; ib++) {
        const float *xb = x + QK32 * ib;
        weigh(w, qw + QK32 * ib, xb, QK32, sigma2);
        y[ib].d = f32_to_f16(fit_signed_w(QK32, 8, xb, L, w));
        for (int j = 0; j < 16; j++) y[ib].qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
    }
}

void quantize_row_q5_0_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q5_0(out, x, n);
        return;
    }
    BlockQ5_0 *y = out;
    float w[QK32], sigma2 = mean_square(x, n);
    int8_t L[QK32];
    for (size_t ib = 0; ib < n / QK32; ib++) {
        const float *xb = x + QK32 * ib;
        weigh(w, qw + QK32 * ib, xb, QK32, sigma2);
        y[ib].d = f32_to_f16(fit_signed_w(QK32, 16, xb, L, w));
        pack5(y[ib].qs, y[ib].qh, (const uint8_t *)L);
    }
}

/* q4_1 and q5_1: a (scale, min) fit per block of 32 with codes 0..nmax;
 * each block's fp16 scale, -min and codes go to out through put. */
static void quantize_scale_min_imat(const float *x, size_t n, const float *qw, int nmax,
                                    void (*put)(void *out, size_t ib, float d, float min, const uint8_t *L), void *out) {
    float w[QK32], sigma2 = mean_square(x, n), min;
    uint8_t L[QK32], Laux[QK32];
    for (size_t ib = 0; ib < n / QK32; ib++) {
        const float *xb = x + QK32 * ib;
        weigh(w, qw + QK32 * ib, xb, QK32, sigma2);
        float d = fit_scale_min_w(QK32, nmax, xb, w, L, &min, Laux, -0.9f, 0.05f, 36);
        put(out, ib, d, min, L);
    }
}

static void put_q4_1(void *out, size_t ib, float d, float min, const uint8_t *L) {
    BlockQ4_1 *y = (BlockQ4_1 *)out + ib;
    y->d = f32_to_f16(d);
    y->m = f32_to_f16(-min);
    for (int j = 0; j < 16; j++) y->qs[j] = (uint8_t)(L[j] | L[j + 16] << 4);
}

static void put_q5_1(void *out, size_t ib, float d, float min, const uint8_t *L) {
    BlockQ5_1 *y = (BlockQ5_1 *)out + ib;
    y->d = f32_to_f16(d);
    y->m = f32_to_f16(-min);
    pack5(y->qs, y->qh, L);
}

void quantize_row_q4_1_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) quantize_row_q4_1(out, x, n);
    else quantize_scale_min_imat(x, n, qw, 15, put_q4_1, out);
}

void quantize_row_q5_1_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) quantize_row_q5_1(out, x, n);
    else quantize_scale_min_imat(x, n, qw, 31, put_q5_1, out);
}

/* ---- q2_K ---------------------------------------------------------------- */

/* Per 16-element sub-block a (scale, min) fit, L in 0..3; the 16 scales
 * and the 16 mins each fitted to 4 bits (fit_positive_w, weighted by the
 * sub-blocks' total weight); the quants recomputed with the stored values. */
void quantize_row_q2_K_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q2_K(out, x, n);
        return;
    }
    BlockQ2_K *y = out;
    uint8_t L[QK_K], Laux[16], Ls[QK_K / 16], Lm[QK_K / 16];
    float mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16], w[16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, qw += QK_K) {
        float sigma2 = mean_square(x, QK_K);
        for (int j = 0; j < QK_K / 16; j++) {
            weigh(w, qw + 16 * j, x + 16 * j, 16, sigma2);
            sw[j] = 0;
            for (int l = 0; l < 16; l++) sw[j] += w[l];
            scales[j] = fit_scale_min_w(16, 3, x + 16 * j, w, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36);
        }
        float dm = fit_positive_w(QK_K / 16, 15, scales, Ls, sw);
        float mm = fit_positive_w(QK_K / 16, 15, mins, Lm, sw);
        y[i].d = f32_to_f16(dm);
        y[i].dmin = f32_to_f16(mm);
        dm = f16_to_f32(y[i].d);
        mm = f16_to_f32(y[i].dmin);
        for (int j = 0; j < QK_K / 16; j++) y[i].scales[j] = (uint8_t)(Ls[j] | Lm[j] << 4);
        for (int j = 0; j < QK_K / 16; j++) {
            float d = dm * (y[i].scales[j] & 0xf);
            if (!d) continue;
            float m = mm * (y[i].scales[j] >> 4);
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (uint8_t)MAX(0, MIN(3, nearest_int((x[16 * j + ii] + m) / d)));
        }
        for (int j = 0; j < QK_K; j += 128)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 4 + l] = (uint8_t)(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6);
    }
}

/* ---- q3_K ---------------------------------------------------------------- */

/* Per 16-element sub-block a signed fit (L in -4..3); the 16 scales fitted
 * to 6 signed bits (fit_signed_w, weighted by the sub-blocks' total weight);
 * the quants recomputed. */
void quantize_row_q3_K_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q3_K(out, x, n);
        return;
    }
    BlockQ3_K *y = out;
    int8_t L[QK_K], Ls[QK_K / 16];
    float scales[QK_K / 16], w[16], sw[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, qw += QK_K) {
        float sigma2 = 2 * mean_square(x, QK_K);
        for (int j = 0; j < QK_K / 16; j++) {
            weigh(w, qw + 16 * j, x + 16 * j, 16, sigma2);
            float sumw = 0;
            for (int l = 0; l < 16; l++) sumw += w[l];
            sw[j] = sumw;
            scales[j] = fit_signed_w(16, 4, x + 16 * j, L + 16 * j, w);
        }
        uint8_t *sc = y[i].scales;
        memset(sc, 0, 12);
        float d_block = fit_signed_w(QK_K / 16, 32, scales, Ls, sw);
        for (int j = 0; j < QK_K / 16; j++) {
            int l = Ls[j];
            if (j < 8) sc[j] = (uint8_t)(l & 0xf);
            else sc[j - 8] |= (uint8_t)((l & 0xf) << 4);
            sc[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
        y[i].d = f32_to_f16(d_block);
        for (int j = 0; j < QK_K / 16; j++) {
            int s = j < 8 ? sc[j] & 0xf : sc[j - 8] >> 4;
            s = (s | (sc[8 + j % 4] >> (2 * (j / 4)) & 3) << 4) - 32;
            float d = f16_to_f32(y[i].d) * s;
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(MAX(-4, MIN(3, nearest_int(x[16 * j + ii] / d))) + 4);
        }
        memset(y[i].hmask, 0, QK_K / 8);
        uint8_t U[QK_K];
        for (int j = 0; j < QK_K; j++) {
            int l = L[j];
            if (l > 3) {
                y[i].hmask[j % 32] |= (uint8_t)(1u << (j / 32));
                l -= 4;
            }
            U[j] = (uint8_t)l;
        }
        for (int j = 0; j < QK_K; j += 128)
            for (int l = 0; l < 32; l++)
                y[i].qs[j / 4 + l] = (uint8_t)(U[j + l] | U[j + l + 32] << 2 | U[j + l + 64] << 4 | U[j + l + 96] << 6);
    }
}

/* ---- q4_K, q5_K ---------------------------------------------------------- */

/* Per 32-element sub-block a (scale, min) fit, L in 0..nmax; the 8 scales
 * and 8 mins fitted to 6 bits (fit_positive_w); the quants recomputed.
 * clamp: the 6-bit codes are clamped to 63 before packing (ggml's q5_K
 * does, its q4_K does not; they differ only on codes that wrapped). */
static void k4_scales_w(const float *x, const float *qw, int nmax, int clamp, uint8_t *L, uint16_t *d_out, uint16_t *dmin_out,
                        uint8_t scales_out[12]) {
    uint8_t Laux[32], Ls[QK_K / 32], Lm[QK_K / 32];
    float w[32], sw[QK_K / 32], mins[QK_K / 32], scales[QK_K / 32];
    float sigma2 = 2 * mean_square(x, QK_K);
    for (int j = 0; j < QK_K / 32; j++) {
        weigh(w, qw + 32 * j, x + 32 * j, 32, sigma2);
        float sumw = 0;
        for (int l = 0; l < 32; l++) sumw += w[l];
        sw[j] = sumw;
        scales[j] = fit_scale_min_w(32, nmax, x + 32 * j, w, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36);
    }
    float d_block = fit_positive_w(QK_K / 32, 63, scales, Ls, sw);
    float m_block = fit_positive_w(QK_K / 32, 63, mins, Lm, sw);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t ls = clamp ? MIN(63, Ls[j]) : Ls[j], lm = clamp ? MIN(63, Lm[j]) : Lm[j];
        pack_scale_min_k4(scales_out, j, ls, lm);
    }
    *d_out = f32_to_f16(d_block);
    *dmin_out = f32_to_f16(m_block);
    for (int j = 0; j < QK_K / 32; j++) {
        uint8_t sc, m;
        if (j < 4) sc = scales_out[j] & 63, m = scales_out[j + 4] & 63;
        else
            sc = (uint8_t)((scales_out[j + 4] & 0xf) | (scales_out[j - 4] >> 6) << 4),
            m = (uint8_t)((scales_out[j + 4] >> 4) | (scales_out[j] >> 6) << 4);
        float d = f16_to_f32(*d_out) * sc;
        if (!d) continue;
        float dm = f16_to_f32(*dmin_out) * m;
        for (int ii = 0; ii < 32; ii++)
            L[32 * j + ii] = (uint8_t)MAX(0, MIN(nmax, nearest_int((x[32 * j + ii] + dm) / d)));
    }
}

void quantize_row_q4_K_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q4_K(out, x, n);
        return;
    }
    BlockQ4_K *y = out;
    uint8_t L[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, qw += QK_K) {
        memset(y[i].scales, 0, 12);
        k4_scales_w(x, qw, 15, 0, L, &y[i].d, &y[i].dmin, y[i].scales);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | L[j + l + 32] << 4);
    }
}

void quantize_row_q5_K_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q5_K(out, x, n);
        return;
    }
    BlockQ5_K *y = out;
    uint8_t L[QK_K];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, qw += QK_K) {
        memset(y[i].scales, 0, 12);
        k4_scales_w(x, qw, 31, 1, L, &y[i].d, &y[i].dmin, y[i].scales);
        uint8_t *qh = y[i].qh, *ql = y[i].qs, m1 = 1, m2 = 2;
        memset(qh, 0, QK_K / 8);
        for (int k = 0; k < QK_K; k += 64, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[k + j], l2 = L[k + j + 32];
                if (l1 > 15) l1 -= 16, qh[j] |= m1;
                if (l2 > 15) l2 -= 16, qh[j] |= m2;
                ql[j] = (uint8_t)(l1 | l2 << 4);
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

/* ---- q6_K ---------------------------------------------------------------- */

/* Per 16-element sub-block a signed fit weighted by qw itself (L in
 * -32..31); the scales to int8 against the largest; the quants recomputed. */
void quantize_row_q6_K_imat(void *out, const float *x, size_t n, const float *qw) {
    if (!qw) {
        quantize_row_q6_K(out, x, n);
        return;
    }
    BlockQ6_K *y = out;
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (size_t i = 0; i < n / QK_K; i++, x += QK_K, qw += QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ib++) {
            float scale = fit_signed_w(16, 32, x + 16 * ib, L + 16 * ib, qw + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = f32_to_f16(1 / iscale);
        for (int ib = 0; ib < QK_K / 16; ib++) y[i].scales[ib] = (int8_t)MIN(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; j++) {
            float d = f16_to_f32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++)
                L[16 * j + ii] = (int8_t)(MAX(-32, MIN(31, nearest_int(x[16 * j + ii] / d))) + 32);
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
