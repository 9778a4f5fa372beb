/* mistral bench — prompt processing and generation speed, as llama-bench
 * measures them, and decode's share of the memory read bandwidth.
 *
 *   pp: one forward call of p random token ids (one sequence, chunk = p)
 *   tg: n single-token forward calls from an empty cache
 * Each is run once to warm up, then r times on a fresh context; mean ± sd of
 * tok/s. Bandwidth: a read-only pass over a 1 GiB buffer on the same thread
 * pool, best of 3 (bench/matmul_bench.c's method). Decode's fraction:
 * bytes of weights read per token (every Mat, counting n_active of
 * n_experts experts, one row of the embeddings) × tg tok/s ÷ bandwidth. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "base/membw.h"
#include "base/pool.h"
#include "base/util.h"

static double mat_bytes(const Mat *m) {
    return m->data ? (double)m->rows * (double)dtype_bytes(m->dtype, (size_t)m->cols) : 0;
}

static double bytes_per_token(const Model *m) {
    const Config *c = &m->cfg;
    double b = (double)dtype_bytes(m->w.tok_embeddings.dtype, (size_t)c->dim) + mat_bytes(&m->w.output);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *L = &m->w.layers[l];
        b += mat_bytes(&L->wq) + mat_bytes(&L->wk) + mat_bytes(&L->wv) + mat_bytes(&L->wo);
        if (c->n_experts) {
            double e = 0;
            for (int x = 0; x < c->n_experts; x++)
                e += mat_bytes(&L->experts[x].w1) + mat_bytes(&L->experts[x].w2) +
                     mat_bytes(&L->experts[x].w3);
            b += mat_bytes(&L->gate) + e * c->n_active / c->n_experts;
        } else {
            b += mat_bytes(&L->ffn.w1) + mat_bytes(&L->ffn.w2) + mat_bytes(&L->ffn.w3);
        }
    }
    return b;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void new_context(Context *ctx, const Model *m, long n_ctx, int threads) {
    if (context_init(ctx, m, 1, n_ctx)) die("%s", err_msg());
    if (context_set_threads(ctx, threads)) die("%s", err_msg());
}

/* Seconds for one prefill of p tokens. */
static double run_pp(const Model *m, long n_ctx, int threads, const int *tok, int p, float *logits) {
    Context ctx;
    new_context(&ctx, m, n_ctx, threads);
    int *seq = xcalloc((size_t)p, sizeof *seq);
    long *pos = xmalloc((size_t)p * sizeof *pos);
    unsigned char *want = xcalloc((size_t)p, 1);
    for (int i = 0; i < p; i++) pos[i] = i;
    want[p - 1] = 1;
    Batch b = {p, tok, seq, pos, want};
    double t0 = now_seconds();
    if (forward(&ctx, &b, logits)) die("%s", err_msg());
    double dt = now_seconds() - t0;
    free(seq), free(pos), free(want);
    context_free(&ctx);
    return dt;
}

/* Seconds for n single-token decode steps from an empty cache. */
static double run_tg(const Model *m, long n_ctx, int threads, const int *tok, int n, float *logits) {
    Context ctx;
    new_context(&ctx, m, n_ctx, threads);
    double t0 = now_seconds();
    for (int i = 0; i < n; i++) {
        int seq = 0;
        long pos = i;
        Batch b = {1, &tok[i], &seq, &pos, NULL};
        if (forward(&ctx, &b, logits)) die("%s", err_msg());
    }
    double dt = now_seconds() - t0;
    context_free(&ctx);
    return dt;
}

static void stats(const double *x, int n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

int cmd_bench(const Options *o) {
    long p = 512;
    if (o->prompt) {
        char *end;
        p = strtol(o->prompt, &end, 10);
        if (*end || end == o->prompt || p < 0 || p > (1L << 20))
            usage_error(o->cmd, "-p expects a token count, got \"%.40s\"", o->prompt);
    }
    long n = o->n_new, reps = o->reps > 0 ? o->reps : 3;
    Model m;
    load_model(&m, o);
    const Config *c = &m.cfg;
    long n_ctx = (p > n ? p : n) + 1;
    int *tok = xmalloc((size_t)(n_ctx) * sizeof *tok);
    uint64_t rs = 12345;
    for (long i = 0; i < n_ctx; i++) tok[i] = (int)(rng_next(&rs) % (uint64_t)c->n_vocab);
    float *logits = xmalloc((size_t)c->n_vocab * sizeof *logits);

    Context ctx0;
    new_context(&ctx0, &m, 1, (int)o->threads);
    int threads = pool_threads(ctx0.pool);
    double bw = membw_read_gbs(ctx0.pool, (size_t)1 << 30, 3);
    context_free(&ctx0);

    double *pp = xcalloc((size_t)reps, sizeof *pp), *tg = xcalloc((size_t)reps, sizeof *tg);
    if (p > 0) {
        run_pp(&m, n_ctx, threads, tok, (int)p, logits);
        for (long r = 0; r < reps; r++) pp[r] = (double)p / run_pp(&m, n_ctx, threads, tok, (int)p, logits);
    }
    if (n > 0) {
        run_tg(&m, n_ctx, threads, tok, (int)n, logits);
        for (long r = 0; r < reps; r++) tg[r] = (double)n / run_tg(&m, n_ctx, threads, tok, (int)n, logits);
    }
    double pp_m = 0, pp_sd = 0, tg_m = 0, tg_sd = 0;
    if (p > 0) stats(pp, (int)reps, &pp_m, &pp_sd);
    if (n > 0) stats(tg, (int)reps, &tg_m, &tg_sd);
    double bpt = bytes_per_token(&m);
    double frac = bw > 0 ? bpt * tg_m / (bw * 1e9) : 0;

    if (o->json) {
        printf("{\"model\": \"%s\", \"threads\": %d, \"bytes_per_token\": %.0f, "
               "\"reps\": %ld, \"pp\": {\"n\": %ld, \"tok_s\": %.3f, \"sd\": %.3f}, "
               "\"tg\": {\"n\": %ld, \"tok_s\": %.3f, \"sd\": %.3f}, "
               "\"bandwidth_gb_s\": %.2f, \"decode_bandwidth_fraction\": %.4f}\n",
               o->model, threads, bpt, reps, p, pp_m, pp_sd, n, tg_m, tg_sd, bw, frac);
    } else {
        printf("model: %s\n", o->model);
        printf("threads: %d, repetitions: %ld, weights read per token: %.3f GB\n", threads, reps,
               bpt / 1e9);
        printf("| test   |          tok/s |\n|--------|----------------|\n");
        if (p > 0) printf("| pp%-4ld | %7.2f ± %5.2f |\n", p, pp_m, pp_sd);
        if (n > 0) printf("| tg%-4ld | %7.2f ± %5.2f |\n", n, tg_m, tg_sd);
        printf("memory read bandwidth (%d threads, 1 GiB, best of 3): %.2f GB/s\n", threads, bw);
        printf("decode: %.2f GB/s of weights = %.1f%% of the bandwidth\n", bpt * tg_m / 1e9,
               100 * frac);
    }
    free(pp), free(tg), free(tok), free(logits);
    model_free(&m);
    return 0;
}
