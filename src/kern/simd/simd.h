/* simd — what only the instruction-set files of the kernel table share
 * (the table itself and its contract: kern/kern.h). The x86 tables' own
 * layouts (activation rows and packed weight groups) are types in
 * x86_layout.h, with a table of who writes and who reads each. */
#ifndef KERN_SIMD_H
#define KERN_SIMD_H

#include "kern/kern.h"

/* q4_K/q5_K's 6-bit scale and min of sub-block j (kern/quant.c's packing). */
static inline void kern_scale_min_k4(int j, const unsigned char *q, int *sc, int *mn) {
    if (j < 4) {
        *sc = q[j] & 63, *mn = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
        *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

/* Streamed attention (Kern.attn) is one driver, here in generic.c, around
 * two block kernels of each ISA, for heads h < gs (gs <= ATTN_GROUP) over nb
 * (<= ATTN_BLOCK) keys or values: rows[j] + off starts row j's head.
 *   AttnScoresFn: s[h][j] = (q_h · k_j) · scale        (d < hd),
 *                 mx[h] = max_j s[h][j]
 *   AttnWsumFn:   out_h[d] = c[h]·out_h[d] + Σ_j p[h][j]·v_j[d],
 *                 c == NULL: out_h[d] = Σ_j p[h][j]·v_j[d] (out not read)
 * rows[nb .. nb + ahead) are the next block's: a kernel may prefetch them.
 * Each element is computed by the same operations whatever gs and nb are. */
typedef void (*AttnScoresFn)(float s[][ATTN_BLOCK], float *mx, const float *const *q, int gs,
                             const void *const *rows, int nb, int ahead, int off, int hd, float scale);
typedef void (*AttnWsumFn)(float *const *out, const float *c, const float p[][ATTN_BLOCK], int gs,
                           const void *const *rows, int nb, int ahead, int off, int hd);
/* x[j] = e^(x[j] - m) for j < n (x[j] <= m), returns Σ_j x[j] (fp32):
 * the same bits for the same x, n and m. */
typedef float (*AttnExpFn)(float *x, int n, float m);
/* Kern.attn through those kernels: the online softmax's bookkeeping (rescale
 * factors, running sums) in scalar fp32 per block and head, exp through ex
 * (NULL: libm's expf, in key order). */
void kern_attn_stream(AttnScoresFn scores, AttnWsumFn wsum, AttnExpFn ex, float *out, const float *q, int g,
                      const void *const *k, const void *const *v, int n, int off, int hd, float scale);

/* BF16 weights' activations (act DT_BF16) in the layout the generic, avx2
 * and neon tiles read: each value rounded to bf16 (f32_to_bf16_act), stored
 * as the fp32 it equals, n of them. */
size_t kern_bf16_act_bytes(size_t n);
void kern_bf16_act(void *dst, const float *x, size_t n);

/* Fillers, one per ISA file (internal to dispatch.c). */
void kern_fill_generic(Kern *k);
void kern_fill_avx2(Kern *k);
/* avx2_k2.c: the issue-21 types' tiles into the avx2 table k (called by
 * kern_fill_avx2, after its activation layouts are set). */
void kern_fill_avx2_k2(Kern *k);
void kern_fill_avx512(Kern *k);
/* avx512_k2.c: the VNNI tiles of those types' packed groups into the avx512
 * table k (called by kern_fill_avx512, after kern_fill_avx2). */
void kern_fill_avx512_k2(Kern *k);
void kern_fill_neon(Kern *k);

#endif
