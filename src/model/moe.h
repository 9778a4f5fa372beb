/* moe — the sparse mixture of experts: routes each token to its top-k
 * experts, each a dense feed-forward block (model/ffn.h). */
#ifndef MODEL_MOE_H
#define MODEL_MOE_H

#include "model/model.h"

/* out (n, dim) = Σ over each token's top-k experts e of weight_e · expert_e(x),
 * with g = gate · x, the top-k of the raw logits g, weights = softmax over
 * those k (DESIGN.md §1), for layer l of model. Only experts in [e_lo, e_hi)
 * are computed: the result is then this process's partial sum. Experts are
 * visited in index order, as the reference accumulates them, each once for
 * all the tokens routed to it (a prefill chunk reads each expert once).
 * The matmuls run with env; ws gives the gate logits, routes and gathered
 * rows (model.h).
 *
 * With the model's expert cache (model->experts), experts come from it: the
 * ones this batch uses are read ahead in the order they are visited, and
 * when resid (the residual stream going into this block) is given, layer
 * l_next's router is applied to it to predict and read ahead that layer's
 * experts. Returns 0, or -1 with err set when an expert cannot be read. */
int moe_forward(const MatmulEnv *env, float *out, const float *x, const Model *model, int l, int n, int e_lo,
                int e_hi, Workspace *ws, const float *resid, int l_next);

#endif
