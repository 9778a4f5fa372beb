/* matmul — activations times a weight matrix of any dtype. */
#ifndef KERN_MATMUL_H
#define KERN_MATMUL_H

#include "kern/dtype.h"

/* out[t][r] = Σ_c x[t][c] · w[r][c]   for t < n, r < w->rows, c < w->cols
 * x: (n, w->cols) fp32; out: (n, w->rows). Each weight row is read once for
 * all n tokens. Every output element is computed the same way whatever n is,
 * so a token's result does not depend on what else is in the batch. */
void matmul(float *out, const float *x, const Mat *w, int n);

/* out[c] = row r of w as fp32 (an embedding lookup). */
void mat_get_row(float *out, const Mat *w, int r);

#endif
