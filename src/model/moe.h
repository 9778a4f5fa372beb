/* moe — the sparse mixture of experts: routes each token to its top-k
 * experts, each a dense feed-forward block (model/ffn.h). */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include "model/model.h"

/* out (n, dim) = Σ over each token's top-k experts e of weight_e · expert_e(x),
 * with g = gate · x, the top-k of the raw logits g, weights = softmax over
 * those k (DESIGN.md §1). Only experts in [e_lo, e_hi) are computed: the
 * result is then this process's partial sum. Experts are visited in index
 * order, as the reference accumulates them. The matmuls run with env;
 * ws gives the gate logits, routes and gathered rows (model.h). */
void moe_forward(const MatmulEnv *env, float *out, const float *x, const LayerWeights *lw, const Config *c, int n,
                 int e_lo, int e_hi, Workspace *ws);

#endif
