/* ops — the model's elementwise and attention kernels, scalar reference.
 * Pure functions on raw pointers: output first, then inputs, then sizes;
 * no allocation (callers pass scratch). */
#ifndef KERN_OPS_H
#define KERN_OPS_H

#include <stddef.h>

#include "kern/kern.h"

/* out[i] = x[i] * rsqrt(mean(x²) + eps) * w[i], i < n (out may be x). */
void rmsnorm(float *out, const float *x, const float *w, int n, float eps);

/* RoPE inverse frequencies as the reference computes them in fp32:
 * inv_freq[i] = 1 / theta^((2i)/head_dim), i < head_dim/2. */
void rope_freqs(float *inv_freq, int head_dim, double theta);

/* Rotates x (n_heads vectors of head_dim) for position pos: each interleaved
 * pair (x[2i], x[2i+1]) is multiplied, as a complex number, by
 * e^{i·pos·inv_freq[i]}; the angle is the fp32 product, as in the reference. */
void rope(float *x, int n_heads, int head_dim, long pos, const float *inv_freq);

/* The same rotation for weights stored in Hugging Face's half-split order:
 * the pair i is (x[i], x[i + head_dim/2]). */
void rope_half(float *x, int n_heads, int head_dim, long pos, const float *inv_freq);

/* In place: x[i] = exp(x[i] - max) / Σ exp(x - max), i < n. */
void softmax(float *x, int n);

/* SwiGLU gate: out[i] = silu(a[i]) * b[i], silu(a) = a / (1 + e^-a). */
void silu_mul(float *out, const float *a, const float *b, int n);

/* One query head over n keys:
 *   out[d] = Σ_j p_j · v_j[off + d],  p = softmax_j(scale · q·k_j[off..off+hd))
 * k[j], v[j] point at key/value vectors (all kv heads); off selects the head.
 * scores is scratch of n floats. n >= 1. */
void attention(float *out, const float *q, const float *const *k, const float *const *v,
               int n, int off, int head_dim, float scale, float *scores);

/* The g query heads q_h = q + h·head_dim (h < g) that share one kv head,
 * through kernel table kt's streamed attention (Kern.attn: one pass over
 * the keys, an online softmax, fp32 sums): out_h = attention(q_h, ...) to
 * ~1e-6 relative. k[j], v[j] point at rows of type kv (DT_F32 or DT_F16),
 * off counts elements. Each head's output is the same bits whatever g and
 * whatever else runs; it depends on the keys only through k, v and n. */
void attention_group(const Kern *kt, float *out, const float *q, int g, const void *const *k, const void *const *v,
                     DType kv, int n, int off, int head_dim, float scale);

/* out[i] += x[i] */
void add(float *out, const float *x, int n);
/* out[i] += a * x[i] */
void axpy(float *out, float a, const float *x, int n);

/* Index of the largest x[i] (the first on ties, like torch.argmax). */
int argmax(const float *x, int n);

#endif
