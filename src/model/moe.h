/* moe — the feed-forward block: dense SwiGLU, and the sparse mixture of
 * experts that routes each token to its top-k experts. */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include "model/model.h"

/* out (n, dim) = w2( silu(w1 x) * (w3 x) ) for x (n, dim).
 * hb1, hb2: scratch (n, hidden_dim). The matmuls use ctx's kernels, pool and
 * quantization scratch (ctx->ws.qx). */
void ffn_forward(Context *ctx, float *out, const float *x, const FFNWeights *f, int n, float *hb1, float *hb2);

/* out (n, dim) = Σ over each token's top-k experts e of weight_e · expert_e(x),
 * with g = gate · x, the top-k of the raw logits g, weights = softmax over
 * those k (DESIGN.md §1). Only experts in [e_lo, e_hi) are computed: the
 * result is then this process's partial sum. Experts are visited in index
 * order, as the reference accumulates them. */
void moe_forward(Context *ctx, float *out, const float *x, const LayerWeights *lw, const Config *c, int n,
                 int e_lo, int e_hi, Workspace *ws);

#endif
