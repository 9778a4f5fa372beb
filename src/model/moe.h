/* moe — the sparse mixture of experts: routes each token to its top-k
 * experts, each a dense feed-forward block (model/ffn.h). */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include "model/model.h"

/* out (n, dim) = Σ over each token's top-k experts e of weight_e · expert_e(x),
 * with g = gate · x, the top-k of the raw logits g, weights = softmax over
 * those k (DESIGN.md §1): layer l's feed-forward over the n tokens of a
 * batch in ctx. Everything the call needs beyond its data comes from the
 * context: the model, the experts it computes ([expert_lo, expert_hi): the
 * result is then this process's partial sum), the matmul environment and
 * the workspace (the gate logits, routes and gathered rows; model.h).
 * Experts are visited in index order, as the reference accumulates them,
 * each once for all the tokens routed to it (a prefill chunk reads each
 * expert once).
 *
 * With the model's expert cache (model->experts), experts come from it: the
 * ones this batch uses are read ahead in the order they are visited, and
 * when resid (the residual stream going into this block) is given, layer
 * l_next's router is applied to it to predict and read ahead that layer's
 * experts. Returns 0, or -1 with err set when an expert cannot be read. */
int moe_forward(Context *ctx, float *out, const float *x, int n, int l, const float *resid, int l_next);

#endif
