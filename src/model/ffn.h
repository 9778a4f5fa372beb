/* ffn — the dense feed-forward block (SwiGLU): a dense layer's, and each
 * expert's of a mixture (model/moe.h). */
#ifndef MODEL_FFN_H
#define MODEL_FFN_H

#include "kern/matmul.h"
#include "model/weights.h"

/* out (n, dim) = w2( silu(w1 x) * (w3 x) ) for x (n, dim), the matmuls run
 * with env (its scratch sized for hidden_dim columns of n rows).
 * hb1, hb2: scratch (n, hidden_dim). */
void ffn_forward(const MatmulEnv *env, float *out, const float *x, const FFNWeights *f, int n, float *hb1,
                 float *hb2);

#endif
