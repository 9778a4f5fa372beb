/* mistral bench — prompt processing and generation speed, as llama-bench
 * measures them, and decode's share of the memory read bandwidth.
 *
 *   pp: a prefill of p random token ids (one sequence; one forward call, or
 *       calls of --chunk-size tokens)
 *   tg: n single-token forward calls after d positions (-d, default 0) were
 *       prefilled untimed, like llama-bench -d: with window W the cache
 *       holds at most W positions, so tg at depth 4W runs as fast as at W
 * Each is run once to warm up, then r times (pp on a fresh context, tg from
 * the same depth); mean ± sd of tok/s. Bandwidth: a read-only pass over a 1 GiB buffer on the same thread
 * pool, best of 3 (bench/matmul_bench.c's method). Decode's fraction:
 * bytes read per token (every Mat, counting n_active of n_experts experts,
 * one row of the embeddings; plus the keys and values attention reads at
 * the tg positions) × tg tok/s ÷ bandwidth. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "kern/membw.h"
#include "base/pool.h"
#include "base/util.h"
#include "gen/generate.h"

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

/* Mean bytes of keys and values attention reads per token at positions
 * [d, d + n) of a cache of type kv. */
static double kv_bytes_per_token(const Model *m, long d, long n, DType kv) {
    const Config *c = &m->cfg;
    double row = (double)dtype_bytes(kv, (size_t)(c->n_kv_heads * c->head_dim)), b = 0;
    for (long p = d; p < d + n; p++)
        for (int l = 0; l < c->n_layers; l++) {
            long w = c->window[l];
            b += 2 * row * (double)(w > 0 && w < p + 1 ? w : p + 1);
        }
    return n > 0 ? b / (double)n : 0;
}

/* The expert cache's counters over the timed part of runs (with --mem-limit). */
static void cache_begin(const Model *m) {
    if (m->experts) expcache_reset_stats(m->experts);
}

static void cache_end(const Model *m, ExpertStats *sum) {
    if (!m->experts || !sum) return;
    ExpertStats s;
    expcache_stats(m->experts, &s);
    expstats_add(sum, &s);
}

static void new_context(Context *ctx, const Model *m, long n_ctx, int threads, const Options *o) {
    if (context_init(ctx, m, 1, n_ctx)) die("%s", err_msg());
    setup_context(ctx, o, threads);
}

/* Positions [from, from + n) of sequence 0, `chunk` tokens per forward call
 * (logits of the last token only). */
static void feed(Context *ctx, const int *tok, long from, long n, long chunk, float *logits) {
    for (long s = from; s < from + n; s += chunk) {
        int k = (int)(from + n - s < chunk ? from + n - s : chunk);
        int *seq = xcalloc((size_t)k, sizeof *seq);
        long *pos = xmalloc((size_t)k * sizeof *pos);
        unsigned char *want = xcalloc((size_t)k, 1);
        for (int i = 0; i < k; i++) pos[i] = s + i;
        want[k - 1] = 1;
        Batch b = {k, tok + s, seq, pos, want};
        if (forward(ctx, &b, logits)) die("%s", err_msg());
        free(seq), free(pos), free(want);
    }
}

/* Seconds for one prefill of p tokens (in chunks of --chunk-size, default
 * all p in one call). */
static double run_pp(const Model *m, long n_ctx, int threads, const int *tok, int p, float *logits,
                     const Options *o, ExpertStats *es) {
    Context ctx;
    new_context(&ctx, m, n_ctx, threads, o);
    cache_begin(m);
    double t0 = now_seconds();
    feed(&ctx, tok, 0, p, o->chunk_size > 0 ? o->chunk_size : p, logits);
    double dt = now_seconds() - t0;
    cache_end(m, es);
    context_free(&ctx);
    return dt;
}

/* n single-token decode steps after d prefilled positions, r + 1 times
 * (the first a warm-up); tg[i] = tok/s of run i + 1. The depth is prefilled
 * once and each run goes back to it, unless a rolling window has reused the
 * slots it needs: then every run prefills a fresh context. */
static void run_tg(const Model *m, long n_ctx, int threads, const int *tok, long d, int n, long r, double *tg,
                   float *logits, const Options *o, ExpertStats *es) {
    Context ctx;
    int fresh = 1;
    for (long k = 0; k <= r; k++) {
        if (fresh) {
            if (k) context_free(&ctx);
            new_context(&ctx, m, n_ctx, threads, o);
            feed(&ctx, tok, 0, d, GEN_DEFAULT_CHUNK, logits); /* the depth, untimed */
        }
        if (k) cache_begin(m);
        double t0 = now_seconds();
        for (int i = 0; i < n; i++) {
            int seq = 0;
            long pos = d + i;
            Batch b = {1, &tok[d + i], &seq, &pos, NULL};
            if (forward(&ctx, &b, logits)) die("%s", err_msg());
        }
        double dt = now_seconds() - t0;
        if (k) tg[k - 1] = (double)n / dt, cache_end(m, es);
        fresh = kvcache_rewind(&ctx.seqs[0], d) != 0;
    }
    context_free(&ctx);
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
    long n = o->n_new, reps = o->reps > 0 ? o->reps : 3, d = o->depth;
    Model m;
    load_model(&m, o);
    const Config *c = &m.cfg;
    long n_ctx = (p > d + n ? p : d + n) + 1;
    int *tok = xmalloc((size_t)(n_ctx) * sizeof *tok);
    uint64_t rs = 12345;
    for (long i = 0; i < n_ctx; i++) tok[i] = (int)(splitmix64(&rs) % (uint64_t)c->n_vocab);
    float *logits = xmalloc((size_t)c->n_vocab * sizeof *logits);

    Context ctx0;
    new_context(&ctx0, &m, 1, (int)o->threads, o);
    prepare_model(&m, &ctx0, o, NULL);
    int threads = pool_threads(ctx0.mm.pool);
    const char *ctx0_kern_name = ctx0.mm.kern->name;
    double bw = membw_probe(ctx0.mm.kern, ctx0.mm.pool);
    context_free(&ctx0);
    /* with --mem-limit: what the disk gives the expert cache's reads */
    double disk_bw = m.experts ? expcache_read_bandwidth(m.experts, (size_t)1 << 30) : 0;
    ExpertStats es_pp = {0}, es_tg = {0};

    double *pp = xcalloc((size_t)reps, sizeof *pp), *tg = xcalloc((size_t)reps, sizeof *tg);
    if (p > 0) {
        run_pp(&m, n_ctx, threads, tok, (int)p, logits, o, NULL);
        for (long r = 0; r < reps; r++) pp[r] = (double)p / run_pp(&m, n_ctx, threads, tok, (int)p, logits, o, &es_pp);
    }
    if (n > 0) {
        run_tg(&m, n_ctx, threads, tok, d, (int)n, reps, tg, logits, o, &es_tg);
    }
    double pp_m = 0, pp_sd = 0, tg_m = 0, tg_sd = 0;
    if (p > 0) stats(pp, (int)reps, &pp_m, &pp_sd);
    if (n > 0) stats(tg, (int)reps, &tg_m, &tg_sd);
    DType kvt = o->kv_type && !strcmp(o->kv_type, "f16") ? DT_F16 : DT_F32;
    double wpt = bytes_per_token(&m), kpt = kv_bytes_per_token(&m, d, n, kvt), bpt = wpt + kpt;
    double frac = bw > 0 ? bpt * tg_m / (bw * 1e9) : 0;
    size_t llc = membw_llc_bytes();
    int in_cache = llc && wpt < (double)llc; /* then decode may read faster than memory */

    if (o->json) {
        printf("{\"model\": \"%s\", \"threads\": %d, \"kv_type\": \"%s\", \"fast_bf16\": %s, \"bytes_per_token\": %.0f, "
               "\"kv_bytes_per_token\": %.0f, \"reps\": %ld, \"pp\": {\"n\": %ld, \"tok_s\": %.3f, \"sd\": %.3f}, "
               "\"tg\": {\"n\": %ld, \"depth\": %ld, \"tok_s\": %.3f, \"sd\": %.3f}, "
               "\"bandwidth_gb_s\": %.2f, \"decode_bandwidth_fraction\": %.4f, \"weights_fit_llc\": %s}\n",
               o->model, threads, kvt == DT_F16 ? "f16" : "f32", o->fast_bf16 ? "true" : "false", bpt, kpt, reps, p, pp_m, pp_sd, n, d, tg_m, tg_sd, bw, frac,
               in_cache ? "true" : "false");
        if (m.experts) {
            ExpertStats *e[2] = {&es_pp, &es_tg};
            double toks[2] = {(double)p * reps, (double)n * reps};
            printf("{\"expert_cache\": {\"slots\": %d, \"slot_bytes\": %zu, \"disk_gb_s\": %.3f, \"direct\": %s",
                   es_tg.slots ? es_tg.slots : es_pp.slots, es_tg.slot_bytes ? es_tg.slot_bytes : es_pp.slot_bytes,
                   disk_bw / 1e9, (es_tg.direct || es_pp.direct) ? "true" : "false");
            for (int i = 0; i < 2; i++) {
                const ExpertStats *s = e[i];
                double u = s->uses ? (double)s->uses : 1;
                printf(", \"%s\": {\"hit_rate\": %.4f, \"ready\": %.4f, \"late\": %.4f, \"missed\": %.4f, "
                       "\"gb_read_per_token\": %.4f, \"read_gb_s\": %.3f, \"prediction\": %.4f, \"ahead_used\": %.4f}",
                       i ? "tg" : "pp", s->reads < s->uses ? 1 - s->reads / u : 0, s->hits / u, s->late / u,
                       s->misses / u, toks[i] > 0 ? s->bytes_read / toks[i] / 1e9 : 0,
                       s->read_seconds > 0 ? s->bytes_read / s->read_seconds / 1e9 : 0,
                       s->routed ? (double)s->predicted / s->routed : 0, s->ahead ? (double)s->ahead_used / s->ahead : 0);
            }
            printf("}}\n");
        }
    } else {
        printf("model: %s\n", o->model);
        printf("threads: %d, repetitions: %ld, KV cache %s; read per token: %.3f GB of weights + %.3f GB of "
               "keys and values\n", threads, reps, kvt == DT_F16 ? "f16" : "f32", wpt / 1e9, kpt / 1e9);
        printf("| test         |          tok/s |\n|--------------|----------------|\n");
        if (p > 0) printf("| pp%-10ld | %7.2f ± %5.2f |\n", p, pp_m, pp_sd);
        if (n > 0 && d > 0) printf("| tg%ld @ d%-*ld | %7.2f ± %5.2f |\n", n, 6 - snprintf(NULL, 0, "%ld", n), d, tg_m, tg_sd);
        else if (n > 0) printf("| tg%-10ld | %7.2f ± %5.2f |\n", n, tg_m, tg_sd);
        printf("memory read bandwidth (%d threads, %s loads, 0.5-2 GiB, best of 9): %.2f GB/s\n", threads,
               ctx0_kern_name, bw);
        printf("decode: %.2f GB/s read = %.1f%% of the bandwidth%s\n", bpt * tg_m / 1e9, 100 * frac,
               in_cache ? " (the weights fit in the last-level cache: decode reads them from there)" : "");
        if (m.experts) {
            ExpertStats all = es_pp;
            expstats_add(&all, &es_tg);
            printf("expert cache (--mem-limit %.2f GB): %d experts of %.1f MB\n", o->mem_limit / 1e9, all.slots,
                   all.slot_bytes / 1e6);
            if (p > 0) print_expert_stats(stdout, "pp", &es_pp, (double)p * reps, disk_bw, pp_m);
            if (n > 0) print_expert_stats(stdout, "tg", &es_tg, (double)n * reps, disk_bw, tg_m);
        }
    }
    free(pp), free(tg), free(tok), free(logits);
    model_free(&m);
    return 0;
}
