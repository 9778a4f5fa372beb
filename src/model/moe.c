#include "model/moe.h"

#include <string.h>

#include "kern/matmul.h"
#include "kern/ops.h"
#include "model/ffn.h"

/* Top-k of g[0..n_experts) by value (the lower index first on ties), and
 * softmax over the chosen logits. */
static void route(int *sel, float *w, const float *g, int n_experts, int k) {
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n_experts; e++) {
            int taken = 0;
            for (int i = 0; i < j; i++) taken |= sel[i] == e;
            if (!taken && (best < 0 || g[e] > g[best])) best = e;
        }
        sel[j] = best;
        w[j] = g[best];
    }
    softmax(w, k);
}

void moe_forward(const MatmulEnv *env, float *out, const float *x, const LayerWeights *lw, const Config *c, int n,
                 int e_lo, int e_hi, Workspace *ws) {
    int dim = c->dim, k = c->n_active;
    matmul(env, ws->gate, x, &lw->gate, n);
    for (int t = 0; t < n; t++)
        route(ws->route + t * k, ws->route_w + t * k, ws->gate + (size_t)t * c->n_experts,
              c->n_experts, k);
    memset(out, 0, (size_t)n * dim * sizeof(float));
    for (int e = e_lo; e < e_hi; e++) {
        /* gather the tokens routed to e, run the expert once over all of them */
        int m = 0;
        for (int t = 0; t < n; t++)
            for (int j = 0; j < k; j++)
                if (ws->route[t * k + j] == e) {
                    ws->rows[m] = t * k + j;
                    memcpy(ws->xe + (size_t)m * dim, x + (size_t)t * dim, dim * sizeof(float));
                    m++;
                }
        if (m == 0) continue;
        ffn_forward(env, ws->ye, ws->xe, &lw->experts[e], m, ws->hb1, ws->hb2);
        for (int i = 0; i < m; i++) {
            int t = ws->rows[i] / k;
            axpy(out + (size_t)t * dim, ws->route_w[ws->rows[i]], ws->ye + (size_t)i * dim, dim);
        }
    }
}
