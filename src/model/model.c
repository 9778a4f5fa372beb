/* model — contexts (one rolling KV cache per sequence) and the forward pass. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "kern/matmul.h"
#include "kern/ops.h"
#include "model/ffn.h"
#include "model/moe.h"

/* ---- context ------------------------------------------------------------- */

int context_init(Context *ctx, const Model *m, int n_seq, long n_ctx) {
    memset(ctx, 0, sizeof *ctx);
    if (n_seq < 1) return err_set("need at least one sequence, got %d", n_seq);
    ctx->model = m;
    ctx->seqs = xcalloc((size_t)n_seq, sizeof(KVCache));
    for (int s = 0; s < n_seq; s++, ctx->n_seq++)
        if (kvcache_init(&ctx->seqs[s], &m->cfg, n_ctx, DT_F32, 0)) {
            context_free(ctx);
            return -1;
        }
    ctx->n_ctx = n_ctx;
    ctx->kv_type = DT_F32;
    ctx->expert_hi = m->cfg.n_experts;
    ctx->mm.kern = kern_get();
    return 0;
}

/* Makes every cache afresh with type t and `room` draft slots. */
static int remake_caches(Context *ctx, DType t, int room) {
    for (int s = 0; s < ctx->n_seq; s++) {
        kvcache_free(&ctx->seqs[s]);
        if (kvcache_init(&ctx->seqs[s], &ctx->model->cfg, ctx->n_ctx, t, room)) return -1;
    }
    ctx->kv_type = t, ctx->draft_room = room;
    return 0;
}

int context_set_kv_type(Context *ctx, DType t) {
    if (t != DT_F32 && t != DT_F16) return err_set("KV cache type %s: must be f32 or f16", dtype_traits(t)->name);
    return remake_caches(ctx, t, ctx->draft_room);
}

int context_set_draft_room(Context *ctx, int k) {
    if (k < 0 || k > CONTEXT_MAX_DRAFT_ROOM)
        return err_set("room for %d drafted tokens: must be in [0, %d]", k, CONTEXT_MAX_DRAFT_ROOM);
    return remake_caches(ctx, ctx->kv_type, k);
}

void context_set_kern(Context *ctx, const Kern *k) { ctx->mm.kern = k; }
void context_set_fast(Context *ctx, int on) { ctx->mm.fast = on != 0; }

static void drop_pool(Context *ctx) {
    if (ctx->mm.pool && !ctx->pool_view) pool_free(ctx->mm.pool), free(ctx->mm.pool);
    ctx->mm.pool = NULL, ctx->pool_view = 0;
}

void context_share_threads(Context *ctx, const Context *owner) {
    drop_pool(ctx);
    ctx->mm.pool = owner->mm.pool, ctx->pool_view = owner->mm.pool != NULL;
}

int context_set_threads(Context *ctx, int n) {
    drop_pool(ctx);
    if (n == 0) n = pool_cpus();
    if (n <= 1) return 0;
    ctx->mm.pool = xmalloc(sizeof *ctx->mm.pool);
    if (pool_init(ctx->mm.pool, n)) {
        free(ctx->mm.pool), ctx->mm.pool = NULL;
        return -1;
    }
    return 0;
}

void context_free(Context *ctx) {
    for (int s = 0; s < ctx->n_seq; s++) kvcache_free(&ctx->seqs[s]);
    free(ctx->seqs);
    free(ctx->ws.block);
    drop_pool(ctx);
    memset(ctx, 0, sizeof *ctx);
}

/* Lays the workspace's arrays out from base (NULL: only measures) for n
 * tokens, `keys` keys per thread on `threads` threads and qx_bytes of
 * quantized activations, each on a 64-byte boundary; returns the bytes. */
static size_t workspace_layout(Workspace *ws, char *base, const Config *c, size_t n, size_t keys, size_t threads,
                               size_t qx_bytes) {
    size_t qd = (size_t)c->n_heads * c->head_dim, kvd = (size_t)c->n_kv_heads * c->head_dim;
    size_t d = (size_t)c->dim, hid = (size_t)c->hidden_dim, k = (size_t)c->n_active;
    size_t rows = k ? n * k : n; /* an expert sees at most n tokens */
    size_t off = 0;
#define PLACE(field, count)                                                                                    \
    ((void)(base && (ws->field = (void *)(base + off))), off += ((count) * sizeof *ws->field + 63) / 64 * 64)
    PLACE(h, n * d), PLACE(xb, n * d), PLACE(o, n * d), PLACE(ffn_out, n * d);
    PLACE(q, n * qd), PLACE(att, n * qd), PLACE(k, n * kvd), PLACE(v, n * kvd);
    PLACE(k16, n * kvd), PLACE(v16, n * kvd), PLACE(run_pos, n);
    PLACE(hb1, rows * hid), PLACE(hb2, rows * hid), PLACE(xe, rows * d), PLACE(ye, rows * d), PLACE(rows, rows);
    PLACE(gate, n * (size_t)c->n_experts + 1), PLACE(used, (size_t)c->n_experts + 1), PLACE(route, n * k + 1), PLACE(route_w, n * k + 1);
    PLACE(kp, keys * threads), PLACE(vp, keys * threads);
    PLACE(qx, qx_bytes);
#undef PLACE
    return off;
}

/* Room for n tokens, `keys` keys per thread on `threads` threads, with
 * kern's activation layouts (a caller may change the table between calls).
 * Returns 0, or -1 with err set when the memory is short. */
static int workspace_reserve(Workspace *ws, const Config *c, const Kern *kern, int n, int keys, int threads) {
    if (n < ws->cap_tokens) n = ws->cap_tokens;
    if (keys < ws->cap_keys) keys = ws->cap_keys;
    if (threads < ws->cap_threads) threads = ws->cap_threads;
    /* quantized activations for the widest matmul input (dim, q_dim or
     * hidden_dim columns) of all rows, in any weight type's layout */
    size_t qd = (size_t)c->n_heads * c->head_dim, wide = (size_t)c->dim > qd ? (size_t)c->dim : qd;
    if ((size_t)c->hidden_dim > wide) wide = (size_t)c->hidden_dim;
    size_t qrows = (size_t)n * (size_t)(c->n_active > 1 ? c->n_active : 1);
    size_t qx_bytes = matmul_scratch_max((int)((wide + 31) / 32 * 32), (int)qrows, kern);
    if (ws->block && n == ws->cap_tokens && keys == ws->cap_keys && threads == ws->cap_threads &&
        qx_bytes <= ws->qx_bytes)
        return 0;
    if (qx_bytes < ws->qx_bytes) qx_bytes = ws->qx_bytes;
    size_t bytes = workspace_layout(ws, NULL, c, (size_t)n, (size_t)keys, (size_t)threads, qx_bytes);
    void *block = aligned_alloc(64, bytes);
    if (!block)
        return err_nomem("out of memory: %.1f MB of activations for a batch of %d tokens", bytes / 1e6, n);
    free(ws->block);
    ws->block = block;
    workspace_layout(ws, block, c, (size_t)n, (size_t)keys, (size_t)threads, qx_bytes);
    ws->cap_tokens = n, ws->cap_keys = keys, ws->cap_threads = threads, ws->qx_bytes = qx_bytes;
    return 0;
}

/* ---- forward ------------------------------------------------------------- */

/* The per-token steps between the matrix products (norms, RoPE, the cache
 * writes, the residual adds) split over the pool by tokens: each token's
 * result is computed alone, so any split gives the same bits. On one
 * thread they were 1-4% of a prefill (with silu_mul, ffn.c): enough to
 * keep two threads under 1.9x one. */
typedef struct {
    Context *ctx;
    const Batch *b;
    int l;
    float *h;           /* the residual stream */
    const float *norm;  /* rmsnorm weights (norm_rows) */
    const float *delta; /* added to h (add_rows) */
    void (*fn)(void *job, int t0, int t1);
} TokenJob;

/* Elements below which a per-token step stays on the calling thread. */
#define TOKENS_MIN_PARALLEL (1l << 14)

static void token_part(void *arg, int ith, int nth) {
    TokenJob *j = arg;
    int t0 = (int)((long)j->b->n * ith / nth), t1 = (int)((long)j->b->n * (ith + 1) / nth);
    if (t0 < t1) j->fn(j, t0, t1);
}

/* j->fn over the batch's tokens, on the pool when there are enough elements. */
static void per_token(TokenJob *j, void (*fn)(void *, int, int), long elems_per_token) {
    j->fn = fn;
    if ((long)j->b->n * elems_per_token < TOKENS_MIN_PARALLEL || j->b->n < 2) fn(j, 0, j->b->n);
    else pool_run(j->ctx->mm.pool, token_part, j);
}

static void norm_rows(void *arg, int t0, int t1) {
    TokenJob *j = arg;
    const Config *c = &j->ctx->model->cfg;
    for (int t = t0; t < t1; t++)
        rmsnorm(j->ctx->ws.xb + (size_t)t * c->dim, j->h + (size_t)t * c->dim, j->norm, c->dim, c->norm_eps);
}

static void add_rows(void *arg, int t0, int t1) {
    TokenJob *j = arg;
    size_t dim = (size_t)j->ctx->model->cfg.dim;
    add(j->h + (size_t)t0 * dim, j->delta + (size_t)t0 * dim, (int)((size_t)(t1 - t0) * dim));
}

static void rope_rows(void *arg, int t0, int t1) {
    TokenJob *j = arg;
    const Model *m = j->ctx->model;
    const Config *c = &m->cfg;
    Workspace *ws = &j->ctx->ws;
    int hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    void (*rotary)(float *, int, int, long, const float *) = c->rope_half ? rope_half : rope;
    for (int t = t0; t < t1; t++) {
        rotary(ws->q + (size_t)t * qd, c->n_heads, hd, j->b->pos[t], m->inv_freq);
        rotary(ws->k + (size_t)t * kvd, c->n_kv_heads, hd, j->b->pos[t], m->inv_freq);
    }
}

/* The batch's keys and values into the cache, after the attention. */
static void cache_rows(void *arg, int t0, int t1) {
    TokenJob *j = arg;
    Context *ctx = j->ctx;
    const Config *c = &ctx->model->cfg;
    Workspace *ws = &ctx->ws;
    int kvd = c->n_kv_heads * c->head_dim, l = j->l;
    for (int t = t0; t < t1; t++) {
        const KVCache *kv = &ctx->seqs[j->b->seq[t]];
        /* a chunk longer than the cache: token t + cap (its sequence's
         * positions are consecutive in the batch) takes the same slot, and
         * only the last one is written, whichever thread has it */
        if (t + kv->cap[l] < j->b->n && j->b->seq[t + kv->cap[l]] == j->b->seq[t]) continue;
        int f16 = kv->type == DT_F16;
        const char *k = f16 ? (const char *)(ws->k16 + (size_t)t * kvd) : (const char *)(ws->k + (size_t)t * kvd);
        const char *v = f16 ? (const char *)(ws->v16 + (size_t)t * kvd) : (const char *)(ws->v + (size_t)t * kvd);
        long slot = j->b->pos[t] % kv->cap[l];
        for (int kh = 0; kh < c->n_kv_heads; kh++) /* head-major: one row per head */
            memcpy(kvcache_k(kv, l, kh, slot), k + (size_t)kh * kv->row, kv->row),
            memcpy(kvcache_v(kv, l, kh, slot), v + (size_t)kh * kv->row, kv->row);
    }
}

int forward_begin(Context *ctx, const Batch *b) {
    const Config *c = &ctx->model->cfg;
    if (b->n < 1) return err_set("empty batch");
    int keys = 1;
    for (int t = 0; t < b->n; t++) {
        int s = b->seq[t];
        if (b->token[t] < 0 || b->token[t] >= c->n_vocab)
            return err_input("token id %d is outside the vocabulary (0..%d)", b->token[t], c->n_vocab - 1);
        if (s < 0 || s >= ctx->n_seq) return err_set("sequence %d does not exist (the context has %d)", s, ctx->n_seq);
        const KVCache *kv = &ctx->seqs[s];
        int starts_run = t == 0 || b->seq[t - 1] != s;
        long want = starts_run ? kv->n_pos : b->pos[t - 1] + 1;
        if (starts_run)
            for (int u = 0; u < t; u++)
                if (b->seq[u] == s) return err_set("sequence %d is split in the batch", s);
        if (b->pos[t] != want)
            return err_set("sequence %d: token at position %ld, expected %ld", s, b->pos[t], want);
        if (b->pos[t] >= kv->max_pos)
            return err_context_full("sequence %d: position %ld is past the context of %ld tokens", s, b->pos[t],
                                    kv->max_pos);
        for (int l = 0; l < c->n_layers; l++)
            if (kv->cap[l] > keys) keys = kv->cap[l];
    }
    if (workspace_reserve(&ctx->ws, c, ctx->mm.kern, b->n, keys, pool_threads(ctx->mm.pool))) return -1;
    ctx->mm.scratch = ctx->ws.qx;
    for (int t = 0; t < b->n; t++)
        ctx->ws.run_pos[t] = (t == 0 || b->seq[t - 1] != b->seq[t]) ? b->pos[t]
                                                                    : ctx->ws.run_pos[t - 1];
    return 0;
}

void forward_embed(Context *ctx, const Batch *b, float *h) {
    const Model *m = ctx->model;
    for (int t = 0; t < b->n; t++)
        mat_get_row(h + (size_t)t * m->cfg.dim, &m->w.tok_embeddings, b->token[t]);
}

/* Attention of every token in the batch over its own sequence's window in
 * layer l: keys before the batch come from the rolling cache, keys of the
 * batch from ws->k/v (or their fp16 copies; the cache is written only
 * afterwards, since a chunk longer than the window would overwrite slots its
 * first tokens still need). The work items are (token, kv head) pairs: the
 * query heads of one kv group go through the keys together (each key and
 * value row read once for the group), and the pairs are split across the
 * pool's threads; a head's output is computed the same way on any thread,
 * in any batch (attention_group). */
typedef struct {
    Context *ctx;
    const Batch *b;
    int l;
} AttnJob;

/* What one (token, kv head) item of attention costs: the keys the token at
 * position p sees in a window win (0: all), plus a fixed part. */
static long attend_cost(long p, int win) {
    long lo = (win > 0 && p - win + 1 > 0) ? p - win + 1 : 0;
    return p - lo + 1 + 16;
}

static void attend_part(void *arg, int ith, int nth) {
    const AttnJob *job = arg;
    Context *ctx = job->ctx;
    const Batch *b = job->b;
    const Config *c = &ctx->model->cfg;
    Workspace *ws = &ctx->ws;
    int hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd, l = job->l;
    int group = c->n_heads / c->n_kv_heads, win = c->window[l];
    float scale = (float)(1.0 / sqrt((double)hd));
    int f16 = ctx->kv_type == DT_F16;
    size_t esz = f16 ? sizeof(uint16_t) : sizeof(float);
    const char *bk = f16 ? (const char *)ws->k16 : (const char *)ws->k;
    const char *bv = f16 ? (const char *)ws->v16 : (const char *)ws->v;
    const void **kp = ws->kp + (size_t)ith * ws->cap_keys, **vp = ws->vp + (size_t)ith * ws->cap_keys;
    /* items (token, kv head), split by the keys they read, not by count:
     * under the causal mask a prompt's later tokens see more keys (an even
     * split by count gave the last of 2 threads 3x the first's work) */
    long items = (long)b->n * c->n_kv_heads, total = 0, i0 = -1, i1 = items;
    for (int t = 0; t < b->n; t++) total += attend_cost(b->pos[t], win) * c->n_kv_heads;
    long from = total * ith / nth, to = total * (ith + 1) / nth, at = 0;
    for (long i = 0; i < items; i++) { /* the items that start in [from, to) */
        if (i0 < 0 && at >= from) i0 = i;
        if (at >= to) { i1 = i; break; }
        at += attend_cost(b->pos[i / c->n_kv_heads], win);
    }
    if (i0 < 0) i0 = items;
    for (long i = i0; i < i1; i++) {
        int t = (int)(i / c->n_kv_heads), kh = (int)(i % c->n_kv_heads), nk = 0;
        /* the keys token t sees, head kh's rows */
        const KVCache *kv = &ctx->seqs[b->seq[t]];
        long p = b->pos[t], p0 = ws->run_pos[t];
        long lo = (win > 0 && p - win + 1 > 0) ? p - win + 1 : 0;
        long cap = kv->cap[l], slot = lo % cap; /* the cache's slots, without a division per key */
        const char *ck = kvcache_k(kv, l, kh, 0), *cv = kvcache_v(kv, l, kh, 0);
        for (long j = lo; j < p0 && j <= p; j++, nk++) {
            kp[nk] = ck + (size_t)slot * kv->row, vp[nk] = cv + (size_t)slot * kv->row;
            if (++slot == cap) slot = 0;
        }
        for (long j = lo > p0 ? lo : p0; j <= p; j++, nk++) { /* in this batch, `p - j` tokens before t */
            size_t u = ((size_t)(t - (p - j)) * (size_t)kvd + (size_t)kh * (size_t)hd) * esz;
            kp[nk] = bk + u, vp[nk] = bv + u;
        }
        size_t off = (size_t)t * qd + (size_t)kh * group * hd;
        attention_group(ctx->mm.kern, ws->att + off, ws->q + off, group, kp, vp, ctx->kv_type, nk, 0, hd, scale);
    }
}

/* Multiply-adds of attention below which it stays on the calling thread. */
#define ATTEND_MIN_PARALLEL (1l << 15)

static void attend(Context *ctx, const Batch *b, int l) {
    const Config *c = &ctx->model->cfg;
    Workspace *ws = &ctx->ws;
    int kvd = c->n_kv_heads * c->head_dim;
    if (ctx->kv_type == DT_F16) /* the batch's own keys, rounded as the cache will hold them */
        for (size_t i = 0; i < (size_t)b->n * (size_t)kvd; i++)
            ws->k16[i] = f32_to_f16(ws->k[i]), ws->v16[i] = f32_to_f16(ws->v[i]);
    long work = 0;
    for (int t = 0; t < b->n; t++) {
        long p = b->pos[t], win = c->window[l];
        work += (win > 0 && win < p + 1 ? win : p + 1) * (long)c->n_heads * c->head_dim;
    }
    AttnJob job = {ctx, b, l};
    if (work < ATTEND_MIN_PARALLEL) attend_part(&job, 0, 1);
    else pool_run(ctx->mm.pool, attend_part, &job);
}

int forward_layers(Context *ctx, const Batch *b, float *h, int l0, int l1) {
    const Model *m = ctx->model;
    const Config *c = &m->cfg;
    Workspace *ws = &ctx->ws;
    int n = b->n, dim = c->dim, hd = c->head_dim;
    int qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    for (int l = l0; l < l1; l++) {
        const LayerWeights *lw = &m->w.layers[l];

        /* attention: h += wo · attend(rope(wq x), rope(wk x), wv x), x = norm(h) */
        TokenJob tj = {.ctx = ctx, .b = b, .l = l, .h = h, .norm = lw->attention_norm};
        per_token(&tj, norm_rows, dim);
        matmul(&ctx->mm, ws->q, ws->xb, &lw->wq, n);
        matmul(&ctx->mm, ws->k, ws->xb, &lw->wk, n);
        matmul(&ctx->mm, ws->v, ws->xb, &lw->wv, n);
        per_token(&tj, rope_rows, qd + kvd);
        attend(ctx, b, l);
        per_token(&tj, cache_rows, 2 * kvd);
        matmul(&ctx->mm, ws->o, ws->att, &lw->wo, n);
        tj.delta = ws->o;
        per_token(&tj, add_rows, dim);

        /* feed-forward: h += ffn(norm(h)), dense or mixture of experts */
        tj.norm = lw->ffn_norm;
        per_token(&tj, norm_rows, dim);
        if (c->n_experts) {
            if (moe_forward(ctx, ws->ffn_out, ws->xb, n, l, h, l + 1 < l1 ? l + 1 : c->n_layers))
                return -1;
            if (ctx->moe_reduce) ctx->moe_reduce(ctx->moe_reduce_ud, ws->ffn_out, (size_t)n * dim);
        } else {
            ffn_forward(&ctx->mm, ws->ffn_out, ws->xb, &lw->ffn, n, ws->hb1, ws->hb2);
        }
        tj.delta = ws->ffn_out;
        per_token(&tj, add_rows, dim);
    }
    return 0;
}

void forward_commit(Context *ctx, const Batch *b) {
    for (int t = 0; t < b->n; t++) ctx->seqs[b->seq[t]].n_pos = b->pos[t] + 1;
}

int forward_head(Context *ctx, const Batch *b, const float *h, float *logits) {
    const Model *m = ctx->model;
    int dim = m->cfg.dim, n_want = 0;
    for (int t = 0; t < b->n; t++)
        if (!b->want || b->want[t])
            rmsnorm(ctx->ws.xb + (size_t)n_want++ * dim, h + (size_t)t * dim, m->w.norm, dim,
                    m->cfg.norm_eps);
    if (n_want) matmul(&ctx->mm, logits, ctx->ws.xb, &m->w.output, n_want);
    return n_want;
}

int forward(Context *ctx, const Batch *b, float *logits) {
    if (forward_begin(ctx, b)) return -1;
    forward_embed(ctx, b, ctx->ws.h);
    if (forward_layers(ctx, b, ctx->ws.h, 0, ctx->model->cfg.n_layers)) return -1;
    forward_commit(ctx, b);
    forward_head(ctx, b, ctx->ws.h, logits);
    return 0;
}
