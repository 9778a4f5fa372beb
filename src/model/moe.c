#include "model/moe.h"

#include <string.h>

#include "kern/matmul.h"
#include "kern/ops.h"

/* The threaded, dispatched matmul with the context's pool and scratch. */
#define MATMUL(out, x, w, n) matmul_ex(ctx->kern, ctx->pool, (out), (x), (w), (n), ctx->ws.qx)

void ffn_forward(Context *ctx, float *out, const float *x, const FFNWeights *f, int n, float *hb1, float *hb2) {
    MATMUL(hb1, x, &f->w1, n);
    MATMUL(hb2, x, &f->w3, n);
    silu_mul(hb1, hb1, hb2, n * f->w1.rows);
    MATMUL(out, hb1, &f->w2, n);
}

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

void moe_forward(Context *ctx, float *out, const float *x, const LayerWeights *lw, const Config *c, int n,
                 int e_lo, int e_hi, Workspace *ws) {
    int dim = c->dim, k = c->n_active;
    MATMUL(ws->gate, x, &lw->gate, n);
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
        ffn_forward(ctx, ws->ye, ws->xe, &lw->experts[e], m, ws->hb1, ws->hb2);
        for (int i = 0; i < m; i++) {
            int t = ws->rows[i] / k;
            axpy(out + (size_t)t * dim, ws->route_w[ws->rows[i]], ws->ye + (size_t)i * dim, dim);
        }
    }
}
