#include "model/ffn.h"

#include "kern/ops.h"

void ffn_forward(const MatmulEnv *env, float *out, const float *x, const FFNWeights *f, int n, float *hb1,
                 float *hb2) {
    matmul(env, hb1, x, &f->w1, n);
    matmul(env, hb2, x, &f->w3, n);
    silu_mul(hb1, hb1, hb2, n * f->w1.rows);
    matmul(env, out, hb1, &f->w2, n);
}
