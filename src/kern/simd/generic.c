/* generic — portable kernels: the fallback and the tests' second oracle.
 * Float dots accumulate in fp32 (8 interleaved partial sums, summed in the
 * same tree as avx2.c, so the two differ only by FMA's missing rounding);
 * q8 dots (every quantized type) sum int·int8 per block of 32 exactly, then
 * Σ_b (d_w·d_x)·sumi in fp32; the types with a min (q4_1, q5_1, and the
 * K-quants' per-sub-block mins) add (m·d_x)·Σxq per block. The types read
 * but not written (q2_K, q3_K, iq4_nl, iq4_xs, tq1_0, tq2_0) decode a
 * super-block to integer codes (kern/quant.h) and sum those the same way. */
#include <math.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"

static float dot8(const float *a, const float *b, size_t n, float (*wa)(const void *, size_t),
                  const void *wrow) {
    float acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += (wa ? wa(wrow, i + l) : a[i + l]) * b[i + l];
    float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += (wa ? wa(wrow, i) : a[i]) * b[i];
    return s;
}

static float elem_f16(const void *w, size_t i) { return f16_to_f32(((const uint16_t *)w)[i]); }
static float elem_bf16(const void *w, size_t i) { return bf16_to_f32(((const uint16_t *)w)[i]); }

static float dot_f32(const void *row, const void *x, size_t n) { return dot8(row, x, n, NULL, NULL); }
static float dot_f16(const void *row, const void *x, size_t n) { return dot8(NULL, x, n, elem_f16, row); }
/* kern.h's DT_BF16 activations (the fast dot of BF16 weights), one element: x bf16-rounded (kern_bf16_act),
 * pair p = (2p, 2p+1) into chain p mod 2, the odd product first; an odd n's
 * last pair is (w, x) and (0, 0), and adds 0·0 first, as the packed tiles'
 * zero padding does. Products of two bf16 values are exact in fp32, so each
 * `+=` is the one rounding of a fused multiply-add. */
static float dot_bf16(const void *row, const void *x, size_t n) { return dot8(NULL, x, n, elem_bf16, row); }
static float dot_bf16x(const void *row, const void *xa, size_t n) {
    const float *x = xa;
    float a[2] = {0, 0};
    for (size_t i = 0; i < n; i += 2) {
        float *c = &a[(i / 2) % 2];
        *c += i + 1 < n ? elem_bf16(row, i + 1) * x[i + 1] : 0.0f * 0.0f;
        *c += elem_bf16(row, i) * x[i];
    }
    return a[0] + a[1];
}

size_t kern_bf16_act_bytes(size_t n) { return n * sizeof(float); }
void kern_bf16_act(void *dst, const float *x, size_t n) {
    float *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = bf16_to_f32(f32_to_bf16_act(x[i]));
}

static float dot_q8_0(const void *row, const void *xq, size_t n) {
    const BlockQ8_0 *w = row, *x = xq;
    float s = 0;
    for (size_t b = 0; b < n / QK32; b++) {
        int sumi = 0;
        for (int i = 0; i < QK32; i++) sumi += w[b].qs[i] * x[b].qs[i];
        s += f16_to_f32(w[b].d) * f16_to_f32(x[b].d) * (float)sumi;
    }
    return s;
}

static float dot_q4_0(const void *row, const void *xq, size_t n) {
    const BlockQ4_0 *w = row;
    const BlockQ8_0 *x = xq;
    float s = 0;
    for (size_t b = 0; b < n / QK32; b++) {
        int sumi = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            sumi += ((w[b].qs[j] & 15) - 8) * x[b].qs[j];
            sumi += ((w[b].qs[j] >> 4) - 8) * x[b].qs[j + 16];
        }
        s += f16_to_f32(w[b].d) * f16_to_f32(x[b].d) * (float)sumi;
    }
    return s;
}

/* One super-block of q4_K, or of q5_K (qh != NULL: the fifth bit of element
 * l of sub-block sb at bit sb of qh[l]), against its 8 q8_0 blocks, into *s. */
static void k4_super(float *s, uint16_t d16, uint16_t dmin16, const uint8_t *scales, const uint8_t *qs,
                     const uint8_t *qh, const BlockQ8_0 *x) {
    float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
    for (int sb = 0; sb < 8; sb++) {
        const uint8_t *q = qs + 32 * (sb / 2);
        int sc, mn, sumi = 0, sumx = 0;
        kern_scale_min_k4(sb, scales, &sc, &mn);
        for (int l = 0; l < 32; l++) {
            int v = sb & 1 ? q[l] >> 4 : q[l] & 15;
            if (qh) v |= (qh[l] >> sb & 1) << 4;
            sumi += v * x[sb].qs[l], sumx += x[sb].qs[l];
        }
        float dx = f16_to_f32(x[sb].d);
        *s += dx * (d * (float)sc) * (float)sumi - dx * (dmin * (float)mn) * (float)sumx;
    }
}

static float dot_q4_K(const void *row, const void *xq, size_t n) {
    const BlockQ4_K *w = row;
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++) k4_super(&s, w[i].d, w[i].dmin, w[i].scales, w[i].qs, NULL, (const BlockQ8_0 *)xq + 8 * i);
    return s;
}

static float dot_q5_K(const void *row, const void *xq, size_t n) {
    const BlockQ5_K *w = row;
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++) k4_super(&s, w[i].d, w[i].dmin, w[i].scales, w[i].qs, w[i].qh, (const BlockQ8_0 *)xq + 8 * i);
    return s;
}

static float dot_q6_K(const void *row, const void *xq, size_t n) {
    const BlockQ6_K *w = row;
    const BlockQ8_0 *x = xq;
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = f16_to_f32(w[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[i].ql + 64 * h, *qh = w[i].qh + 32 * h;
            const int8_t *sc = w[i].scales + 8 * h;
            for (int g = 0; g < 4; g++, x++) { /* 32 elements: ql nibble g/2 of half g%2, qh bits 2g */
                int sumi = 0;
                for (int l = 0; l < 32; l++) {
                    int lo = g & 1 ? ql[l + 32] : ql[l];
                    int q = ((g & 2 ? lo >> 4 : lo & 15) | ((qh[l] >> (2 * g)) & 3) << 4) - 32;
                    sumi += sc[2 * g + l / 16] * q * x->qs[l];
                }
                s += d * f16_to_f32(x->d) * (float)sumi;
            }
        }
    }
    return s;
}

/* q4_1/q5_1: Σ(d·u + m)·d_x·xq = (d·d_x)·Σu·xq + (m·d_x)·Σxq per block. */
static float dot_q4_1(const void *row, const void *xq, size_t n) {
    const BlockQ4_1 *w = row;
    const BlockQ8_0 *x = xq;
    float s = 0;
    for (size_t b = 0; b < n / QK32; b++) {
        int sumi = 0, sumx = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            sumi += (w[b].qs[j] & 15) * x[b].qs[j] + (w[b].qs[j] >> 4) * x[b].qs[j + 16];
            sumx += x[b].qs[j] + x[b].qs[j + 16];
        }
        float dx = f16_to_f32(x[b].d);
        s += f16_to_f32(w[b].d) * dx * (float)sumi + f16_to_f32(w[b].m) * dx * (float)sumx;
    }
    return s;
}

/* The fifth bits of a q5 block: bit j of the little-endian u32 is element j's. */
static uint32_t qh32(const uint8_t *qh) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static float dot_q5_0(const void *row, const void *xq, size_t n) {
    const BlockQ5_0 *w = row;
    const BlockQ8_0 *x = xq;
    float s = 0;
    for (size_t b = 0; b < n / QK32; b++) {
        uint32_t qh = qh32(w[b].qh);
        int sumi = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            int lo = (w[b].qs[j] & 15) | (int)(qh >> j & 1) << 4, hi = (w[b].qs[j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
            sumi += (lo - 16) * x[b].qs[j] + (hi - 16) * x[b].qs[j + 16];
        }
        s += f16_to_f32(w[b].d) * f16_to_f32(x[b].d) * (float)sumi;
    }
    return s;
}

static float dot_q5_1(const void *row, const void *xq, size_t n) {
    const BlockQ5_1 *w = row;
    const BlockQ8_0 *x = xq;
    float s = 0;
    for (size_t b = 0; b < n / QK32; b++) {
        uint32_t qh = qh32(w[b].qh);
        int sumi = 0, sumx = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            int lo = (w[b].qs[j] & 15) | (int)(qh >> j & 1) << 4, hi = (w[b].qs[j] >> 4) | (int)(qh >> (j + 16) & 1) << 4;
            sumi += lo * x[b].qs[j] + hi * x[b].qs[j + 16];
            sumx += x[b].qs[j] + x[b].qs[j + 16];
        }
        float dx = f16_to_f32(x[b].d);
        s += f16_to_f32(w[b].d) * dx * (float)sumi + f16_to_f32(w[b].m) * dx * (float)sumx;
    }
    return s;
}

/* ---- the read-only types: integer codes (kern/quant.h) against q8_0 ------ */

/* iq4_nl: q4_0 with levels: (d·d_x)·Σ kvalues_iq4nl[q]·xq per block. */
static float dot_iq4_nl(const void *row, const void *xq, size_t n) {
    const BlockIQ4_NL *w = row;
    const BlockQ8_0 *x = xq;
    float s = 0;
    for (size_t b = 0; b < n / QK32; b++) {
        int sumi = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            sumi += kvalues_iq4nl[w[b].qs[j] & 15] * x[b].qs[j];
            sumi += kvalues_iq4nl[w[b].qs[j] >> 4] * x[b].qs[j + 16];
        }
        s += f16_to_f32(w[b].d) * f16_to_f32(x[b].d) * (float)sumi;
    }
    return s;
}

/* Σ_l sc[l/16]·q[l]·xq[l] over one 32-block: scales per 16 elements
 * (sc == NULL: 1), as q6_K folds its scales into the integer sum. */
static int sum32(const int8_t *q, const int8_t *sc, const int8_t *xq) {
    int sumi = 0;
    for (int l = 0; l < 32; l++) sumi += (sc ? sc[l / 16] : 1) * q[l] * xq[l];
    return sumi;
}

/* q2_K: per 32-block, (d·d_x)·Σ sc·q·xq - (dmin·d_x)·Σ mn·xq. */
static float dot_q2_K(const void *row, const void *xq, size_t n) {
    const BlockQ2_K *w = row;
    const BlockQ8_0 *x = xq;
    int8_t q[QK_K], sc[QK_K / 16], mn[QK_K / 16];
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = f16_to_f32(w[i].d), dmin = f16_to_f32(w[i].dmin);
        codes_q2_K(q, sc, mn, &w[i]);
        for (int b = 0; b < 8; b++, x++) {
            int sumi = sum32(q + 32 * b, sc + 2 * b, x->qs), summ = 0;
            for (int l = 0; l < 32; l++) summ += mn[2 * b + l / 16] * x->qs[l];
            float dx = f16_to_f32(x->d);
            s += d * dx * (float)sumi - dmin * dx * (float)summ;
        }
    }
    return s;
}

/* q3_K, iq4_xs, tq1_0, tq2_0: per 32-block, (d·d_x)·Σ sc·q·xq (the ternary
 * types without scales; iq4_xs's scale is one per block). */
static float dot_q3_K(const void *row, const void *xq, size_t n) {
    const BlockQ3_K *w = row;
    const BlockQ8_0 *x = xq;
    int8_t q[QK_K], sc[QK_K / 16];
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = f16_to_f32(w[i].d);
        codes_q3_K(q, sc, &w[i]);
        for (int b = 0; b < 8; b++, x++) s += d * f16_to_f32(x->d) * (float)sum32(q + 32 * b, sc + 2 * b, x->qs);
    }
    return s;
}

static float dot_iq4_xs(const void *row, const void *xq, size_t n) {
    const BlockIQ4_XS *w = row;
    const BlockQ8_0 *x = xq;
    int8_t q[QK_K], sc[QK_K / 32];
    float s = 0;
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = f16_to_f32(w[i].d);
        codes_iq4_xs(q, sc, &w[i]);
        for (int b = 0; b < 8; b++, x++) s += d * f16_to_f32(x->d) * (float)(sc[b] * sum32(q + 32 * b, NULL, x->qs));
    }
    return s;
}

#define DOT_TERNARY(t, Block)                                                                              \
    static float dot_##t(const void *row, const void *xq, size_t n) {                                      \
        const Block *w = row;                                                                              \
        const BlockQ8_0 *x = xq;                                                                           \
        int8_t q[QK_K];                                                                                    \
        float s = 0;                                                                                       \
        for (size_t i = 0; i < n / QK_K; i++) {                                                            \
            float d = f16_to_f32(w[i].d);                                                                  \
            codes_##t(q, &w[i]);                                                                           \
            for (int b = 0; b < 8; b++, x++) s += d * f16_to_f32(x->d) * (float)sum32(q + 32 * b, NULL, x->qs); \
        }                                                                                                  \
        return s;                                                                                          \
    }
DOT_TERNARY(tq1_0, BlockTQ1_0)
DOT_TERNARY(tq2_0, BlockTQ2_0)


static float vdot(const float *a, const float *b, int n) { return dot8(a, b, (size_t)n, NULL, NULL); }

static void vaxpy(float *out, float s, const float *x, int n) {
    for (int i = 0; i < n; i++) out[i] += s * x[i];
}

/* A tile as a loop of dots: each element is one call, whatever the tile. */
#define TILE(name, dot)                                                                               \
    static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                              \
        for (int t = 0; t < nt; t++)                                                                  \
            for (int r = 0; r < nr; r++)                                                              \
                out[(size_t)t * os + (size_t)r] = dot((const char *)w + (size_t)r * ws, (const char *)x + (size_t)t * xs, n); \
    }
TILE(tile_f32, dot_f32)
TILE(tile_f16, dot_f16)
TILE(tile_bf16, dot_bf16)
TILE(tile_bf16x, dot_bf16x)
TILE(tile_q8_0, dot_q8_0)
TILE(tile_q4_0, dot_q4_0)
TILE(tile_q4_1, dot_q4_1)
TILE(tile_q5_0, dot_q5_0)
TILE(tile_q5_1, dot_q5_1)
TILE(tile_q4_K, dot_q4_K)
TILE(tile_q5_K, dot_q5_K)
TILE(tile_q6_K, dot_q6_K)
TILE(tile_q2_K, dot_q2_K)
TILE(tile_q3_K, dot_q3_K)
TILE(tile_iq4_nl, dot_iq4_nl)
TILE(tile_iq4_xs, dot_iq4_xs)
TILE(tile_tq1_0, dot_tq1_0)
TILE(tile_tq2_0, dot_tq2_0)

/* ---- attention ------------------------------------------------------------ */

static float exp_sum(float *x, int n, float m) {
    float sum = 0;
    for (int j = 0; j < n; j++) sum += x[j] = expf(x[j] - m);
    return sum;
}

void kern_attn_stream(AttnScoresFn scores, AttnWsumFn wsum, AttnExpFn ex, float *out, const float *q, int g,
                      const void *const *k, const void *const *v, int n, int off, int hd, float scale) {
    if (!ex) ex = exp_sum;
    for (int h0 = 0; h0 < g; h0 += ATTN_GROUP) {
        int gs = g - h0 < ATTN_GROUP ? g - h0 : ATTN_GROUP;
        const float *qh[ATTN_GROUP];
        float *oh[ATTN_GROUP], m[ATTN_GROUP], l[ATTN_GROUP], c[ATTN_GROUP], s[ATTN_GROUP][ATTN_BLOCK];
        for (int h = 0; h < gs; h++) qh[h] = q + (size_t)(h0 + h) * hd, oh[h] = out + (size_t)(h0 + h) * hd;
        for (int j0 = 0; j0 < n; j0 += ATTN_BLOCK) {
            int nb = n - j0 < ATTN_BLOCK ? n - j0 : ATTN_BLOCK, left = n - j0 - nb;
            int ahead = left < ATTN_BLOCK ? left : ATTN_BLOCK;
            float bm[ATTN_GROUP];
            scores(s, bm, qh, gs, k + j0, nb, ahead, off, hd, scale);
            for (int h = 0; h < gs; h++) { /* m: the running max, l: Σ exp(score - m) */
                float mn = j0 && m[h] > bm[h] ? m[h] : bm[h];
                c[h] = j0 ? expf(m[h] - mn) : 0;
                float sum = ex(s[h], nb, mn);
                l[h] = j0 ? l[h] * c[h] + sum : sum;
                m[h] = mn;
            }
            wsum(oh, j0 ? c : NULL, (const float(*)[ATTN_BLOCK])s, gs, v + j0, nb, ahead, off, hd);
        }
        for (int h = 0; h < gs; h++) {
            float inv = 1.0f / l[h];
            for (int d = 0; d < hd; d++) oh[h][d] *= inv;
        }
    }
}

/* Portable block kernels: one fp32 sum per element, in key (or d) order. */
#define ATTN_GENERIC(sfx, elem)                                                                                 \
    static void attn_scores_##sfx(float s[][ATTN_BLOCK], float *mx, const float *const *q, int gs,              \
                                  const void *const *rows, int nb, int ahead, int off, int hd, float scale) {   \
        (void)ahead;                                                                                            \
        for (int j = 0; j < nb; j++)                                                                            \
            for (int h = 0; h < gs; h++) {                                                                      \
                float a = 0;                                                                                    \
                for (int d = 0; d < hd; d++) a += q[h][d] * elem(rows[j], (size_t)(off + d));                  \
                s[h][j] = a * scale;                                                                            \
                if (!j || s[h][j] > mx[h]) mx[h] = s[h][j];                                                     \
            }                                                                                                   \
    }                                                                                                           \
    static void attn_wsum_##sfx(float *const *out, const float *c, const float p[][ATTN_BLOCK], int gs,         \
                                const void *const *rows, int nb, int ahead, int off, int hd) {                  \
        (void)ahead;                                                                                            \
        for (int h = 0; h < gs; h++)                                                                            \
            for (int d = 0; d < hd; d++) {                                                                      \
                float a = c ? c[h] * out[h][d] : 0;                                                             \
                for (int j = 0; j < nb; j++) a += p[h][j] * elem(rows[j], (size_t)(off + d));                  \
                out[h][d] = a;                                                                                  \
            }                                                                                                   \
    }                                                                                                           \
    static void attn_##sfx(float *out, const float *q, int g, const void *const *k, const void *const *v, int n, \
                           int off, int hd, float scale) {                                                      \
        kern_attn_stream(attn_scores_##sfx, attn_wsum_##sfx, NULL, out, q, g, k, v, n, off, hd, scale);              \
    }
static float elem_f32(const void *w, size_t i) { return ((const float *)w)[i]; }
ATTN_GENERIC(f32, elem_f32)
ATTN_GENERIC(f16, elem_f16)

static size_t q8_bytes(size_t n) { return dtype_bytes(DT_Q8_0, n); }

static uint64_t read_lines(const void *p, size_t bytes) {
    const uint64_t *w = p;
    uint64_t a[8] = {0};
    for (size_t i = 0; i + 8 <= bytes / 8; i += 8)
        for (int k = 0; k < 8; k++) a[k] ^= w[i + k];
    return a[0] ^ a[1] ^ a[2] ^ a[3] ^ a[4] ^ a[5] ^ a[6] ^ a[7];
}

void kern_fill_generic(Kern *k) {
    k->name = "generic";
    k->read_lines = read_lines;
    k->mm[DT_F32] = (KernDot){DT_F32, NULL, NULL, 4, 1, tile_f32};
    k->mm[DT_F16] = (KernDot){DT_F32, NULL, NULL, 4, 1, tile_f16};
    k->mm[DT_BF16] = (KernDot){DT_F32, NULL, NULL, 4, 1, tile_bf16};
    k->fast[DT_BF16] = (KernDot){DT_BF16, kern_bf16_act_bytes, kern_bf16_act, 4, 1, tile_bf16x};
    k->mm[DT_Q8_0] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q8_0};
    k->mm[DT_Q4_0] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q4_0};
    k->mm[DT_Q4_1] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q4_1};
    k->mm[DT_Q5_0] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q5_0};
    k->mm[DT_Q5_1] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q5_1};
    k->mm[DT_Q4_K] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q4_K};
    k->mm[DT_Q5_K] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q5_K};
    k->mm[DT_Q6_K] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q6_K};
    /* every other table starts from this one: these stay generic there but
     * for avx2's (and so avx512's) q2_K and q3_K tiles, of these same operations */
    k->mm[DT_Q2_K] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q2_K};
    k->mm[DT_Q3_K] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_q3_K};
    k->mm[DT_IQ4_NL] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_iq4_nl};
    k->mm[DT_IQ4_XS] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_iq4_xs};
    k->mm[DT_TQ1_0] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_tq1_0};
    k->mm[DT_TQ2_0] = (KernDot){DT_Q8_0, q8_bytes, quantize_row_q8_0, 4, 1, tile_tq2_0};
    k->dot_f32 = vdot;
    k->axpy_f32 = vaxpy;
    k->attn[0] = attn_f32, k->attn[1] = attn_f16;
}
