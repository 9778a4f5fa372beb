#include "model/moe.h"

#include <string.h>

#include "kern/matmul.h"
#include "kern/ops.h"
#include "model/experts.h"
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

/* The experts in [e_lo, e_hi) that ws->route names for n tokens, in index
 * order, into ws->used; returns how many. */
static int experts_used(Workspace *ws, int n, int k, int n_experts, int e_lo, int e_hi) {
    memset(ws->used, 0, (size_t)n_experts * sizeof *ws->used);
    for (int i = 0; i < n * k; i++) ws->used[ws->route[i]] = 1;
    int m = 0;
    for (int e = e_lo; e < e_hi; e++)
        if (ws->used[e]) ws->used[m++] = e;
    return m;
}

/* Layer l's router applied to the residual stream resid (n tokens) as it
 * stands before an earlier layer's feed-forward: the experts it names are
 * read ahead. Uses ws->xe, ws->gate and ws->route. */
static void predict(Context *ctx, int l, const float *resid, int n) {
    const Model *m = ctx->model;
    Workspace *ws = &ctx->ws;
    const Config *c = &m->cfg;
    const LayerWeights *lw = &m->w.layers[l];
    for (int t = 0; t < n; t++)
        rmsnorm(ws->xe + (size_t)t * c->dim, resid + (size_t)t * c->dim, lw->ffn_norm, c->dim, c->norm_eps);
    matmul(&ctx->mm, ws->gate, ws->xe, &lw->gate, n);
    for (int t = 0; t < n; t++)
        route(ws->route + t * c->n_active, ws->route_w + t * c->n_active, ws->gate + (size_t)t * c->n_experts,
              c->n_experts, c->n_active);
    int u = experts_used(ws, n, c->n_active, c->n_experts, ctx->expert_lo, ctx->expert_hi);
    expcache_predict(m->experts, l, ws->used, u);
}

int moe_forward(Context *ctx, float *out, const float *x, int n, int l, const float *resid, int l_next) {
    const MatmulEnv *env = &ctx->mm;
    const Model *model = ctx->model;
    Workspace *ws = &ctx->ws;
    int e_lo = ctx->expert_lo, e_hi = ctx->expert_hi;
    const Config *c = &model->cfg;
    const LayerWeights *lw = &model->w.layers[l];
    ExpertCache *cache = model->experts;
    int dim = c->dim, k = c->n_active;
    if (cache && resid && l_next < c->n_layers) /* first, so that its reads queue behind this layer's */
        predict(ctx, l_next, resid, n);
    matmul(env, ws->gate, x, &lw->gate, n);
    for (int t = 0; t < n; t++)
        route(ws->route + t * k, ws->route_w + t * k, ws->gate + (size_t)t * c->n_experts, c->n_experts, k);
    if (cache) expcache_will_use(cache, l, ws->used, experts_used(ws, n, k, c->n_experts, e_lo, e_hi));
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
        const FFNWeights *f = cache ? expcache_acquire(cache, l, e) : &lw->experts[e];
        if (!f) return -1;
        ffn_forward(env, ws->ye, ws->xe, f, m, ws->hb1, ws->hb2);
        if (cache) expcache_release(cache, l, e);
        for (int i = 0; i < m; i++) {
            int t = ws->rows[i] / k;
            axpy(out + (size_t)t * dim, ws->route_w[ws->rows[i]], ws->ye + (size_t)i * dim, dim);
        }
    }
    return 0;
}
