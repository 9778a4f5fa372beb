/* mistral bench — prompt processing and generation speed, as llama-bench
 * measures them, and decode's share of the memory read bandwidth.
 *
 *   pp: a prefill of p random token ids (one sequence; one forward call, or
 *       calls of --chunk-size tokens)
 *   tg: n single-token forward calls after d positions (-d, default 0) were
 *       prefilled untimed, like llama-bench -d: with window W the cache
 *       holds at most W positions, so tg at depth 4W runs as fast as at W
 * Each is run once to warm up, then r times (pp on a fresh context, tg from
 * the same depth); mean ± sd of tok/s. Bandwidth: read-only passes over
 * buffers of 0.5-2 GiB on the same thread pool, the best (kern/membw.h,
 * bench/matmul_bench.c's method). Decode's fraction:
 * bytes read per token (every Mat, counting n_active of n_experts experts,
 * one row of the embeddings; plus the keys and values attention reads at
 * the tg positions) × tg tok/s ÷ bandwidth.
 *
 * With --mem-limit, bench holds what generate holds: the probes (memory
 * bandwidth, then the disk's) run after the model is prepared and before
 * any forward call, when the expert cache's slots hold nothing yet, in
 * buffers no larger than those slots together; a probe that needs more
 * than that is skipped, and the output says so.
 *
 * With --draft MODEL or --lookup N (and --draft-max K), bench also runs
 * greedy generation of n tokens after a prompt (-f FILE's text, else 64
 * random tokens repeating a 16-token phrase), plain and speculative on the
 * same context, each once to warm up and then r times: decode tok/s (from
 * the first token on) of both, the speed-up, and the drafted and accepted
 * tokens (the tokens themselves are the same: gen/draft.h).
 *
 * Peaks (kern/peak.h): fp32 FMA GFLOP/s and int8 dot GOP/s of the table's
 * widest chains, on one thread and on the pool. Prefill's fraction: the
 * operations per prompt token (2 per weight a token meets in every Mat,
 * n_active of n_experts experts, the output head once per prefill, plus
 * attention's q·k and p·v at the prompt's positions) × pp tok/s ÷ the peak
 * of the weights' arithmetic: the FMA peak where most matrix weights are
 * F32, F16 or BF16, the int8 peak where most are quantized. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "kern/membw.h"
#include "kern/peak.h"
#include "base/pool.h"
#include "base/util.h"
#include "gen/generate.h"
#include "gen/sched.h"
#include "tok/tokfile.h"

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

/* Weights a token meets, counted by whether they are floats (F32, F16, BF16). */
static void mat_weights(const Mat *m, double share, double *flt, double *quant) {
    if (!m->data) return;
    double n = (double)m->rows * (double)m->cols * share;
    if (m->dtype == DT_F32 || m->dtype == DT_F16 || m->dtype == DT_BF16) *flt += n;
    else *quant += n;
}

/* Operations (2 per multiply-add) per token of a p-token prefill from
 * position 0, and whether most of the matrix weights are quantized. */
static double prefill_ops_per_token(const Model *m, long p, int *quantized) {
    const Config *c = &m->cfg;
    double flt = 0, quant = 0;
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *L = &m->w.layers[l];
        const Mat *att[4] = {&L->wq, &L->wk, &L->wv, &L->wo};
        for (int i = 0; i < 4; i++) mat_weights(att[i], 1, &flt, &quant);
        if (c->n_experts) {
            mat_weights(&L->gate, 1, &flt, &quant);
            for (int x = 0; x < c->n_experts; x++) {
                double share = (double)c->n_active / c->n_experts;
                mat_weights(&L->experts[x].w1, share, &flt, &quant);
                mat_weights(&L->experts[x].w2, share, &flt, &quant);
                mat_weights(&L->experts[x].w3, share, &flt, &quant);
            }
        } else {
            mat_weights(&L->ffn.w1, 1, &flt, &quant), mat_weights(&L->ffn.w2, 1, &flt, &quant);
            mat_weights(&L->ffn.w3, 1, &flt, &quant);
        }
    }
    mat_weights(&m->w.output, p > 0 ? 1.0 / (double)p : 0, &flt, &quant);
    *quantized = quant > flt;
    double keys = 0; /* attention: q·k and p·v over the keys each position sees */
    for (long pos = 0; pos < p; pos++)
        for (int l = 0; l < c->n_layers; l++) {
            long w = c->window[l];
            keys += (double)(w > 0 && w < pos + 1 ? w : pos + 1);
        }
    double attn = p > 0 ? 2.0 * 2.0 * keys * c->n_heads * c->head_dim / (double)p : 0;
    return 2 * (flt + quant) + attn;
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

/* Bytes the probes may hold: with --mem-limit, the expert cache's slots,
 * empty until the first forward call (the dense part already holds the
 * rest of the limit); without, no bound. */
static size_t probe_room(const Model *m) {
    if (!m->experts) return SIZE_MAX;
    ExpertStats s;
    expcache_stats(m->experts, &s);
    return (size_t)s.slots * s.slot_bytes;
}

/* The bandwidth line's probe: "0.5-2 GiB, best of 9", or what the room allowed. */
static void describe_probe(char *buf, size_t n, size_t largest, size_t room) {
    int sizes = largest >= (size_t)2 << 30 ? 3 : largest >= (size_t)1 << 30 ? 2 : largest >= (size_t)512 << 20 ? 1 : 0;
    const char *why = room < ((size_t)2 << 30) ? " (what --mem-limit leaves)" : "";
    if (sizes) snprintf(buf, n, "0.5%s GiB%s, best of %d", sizes == 1 ? "" : sizes == 2 ? "-1" : "-2", why, 3 * sizes);
    else snprintf(buf, n, "%zu MiB%s, best of 3", largest >> 20, why);
}

/* "12.345" with fmt, or "null" when !ok (--json). */
static const char *json_num(char *buf, size_t n, const char *fmt, double v, int ok) {
    if (!ok) return "null";
    snprintf(buf, n, fmt, v);
    return buf;
}

static void stats(const double *x, int n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

/* What bench measured, for the report. */
typedef struct {
    const Options *o;
    const Model *m;
    const char *kern_name;
    int threads;
    long p, n, d, reps;
    DType kv_type;
    double pp_m, pp_sd, tg_m, tg_sd;
    double wpt, kpt;          /* bytes read per token: weights, keys and values */
    double bw;                /* memory read bandwidth, GB/s (0: not measured) */
    size_t bw_bytes, room;    /* the probe's largest buffer; the room it had */
    int in_cache;             /* the weights read per token fit in the last-level cache */
    double disk_bw;           /* --mem-limit: the disk probe's bytes/s (0: not measured) */
    char disk_skip[300];      /* ... and why not */
    ExpertStats es_pp, es_tg; /* --mem-limit: the cache's counters */
    int spec;                 /* --draft / --lookup: the speculative runs below */
    int spec_k, spec_prompt;  /* --draft-max; prompt tokens */
    double plain_m, plain_sd, spec_m, spec_sd; /* decode tok/s of generate(), plain and speculative */
    DraftStats ds;            /* over the r timed speculative runs */
    size_t peak;              /* peak resident bytes (VmHWM) */
    Peaks peaks;              /* arithmetic peaks (zero: the table has no peak loops) */
    double ppt;               /* prefill operations per token */
    int quantized;            /* most matrix weights are quantized: prefill against the int8 peak */
} Report;

/* ", \"spec\": {...}" for --json, or "" without speculation. */
static const char *spec_json(const Report *r) {
    static char buf[512];
    if (!r->spec) return "";
    const Options *o = r->o;
    snprintf(buf, sizeof buf, ", \"spec\": {\"drafter\": \"%s\", \"draft_max\": %d, \"prompt\": %d, \"n\": %ld, "
             "\"drafted\": %ld, \"accepted\": %ld, \"acceptance\": %.4f, \"plain_tok_s\": %.3f, \"plain_sd\": %.3f, "
             "\"spec_tok_s\": %.3f, \"spec_sd\": %.3f, \"speedup\": %.4f}",
             o->draft ? "model" : "lookup", r->spec_k, r->spec_prompt, r->n, r->ds.drafted, r->ds.accepted,
             r->ds.drafted ? (double)r->ds.accepted / (double)r->ds.drafted : 0.0, r->plain_m, r->plain_sd, r->spec_m,
             r->spec_sd, r->plain_m > 0 ? r->spec_m / r->plain_m : 0.0);
    return buf;
}

/* Prefill's GFLOP/s (or GOP/s) and its fraction of the relevant peak on
 * every thread (0 when not measured). */
static double pp_rate(const Report *r) { return r->ppt * r->pp_m / 1e9; }
static double pp_peak(const Report *r) { return r->quantized ? r->peaks.int8_all : r->peaks.fma_all; }
static double pp_fraction(const Report *r) { return pp_peak(r) > 0 && r->p > 0 ? pp_rate(r) / pp_peak(r) : 0; }

/* ", \"peaks\": {...}, \"prefill_...\"" for --json. */
static const char *peak_json(const Report *r) {
    static char buf[512];
    const Peaks *k = &r->peaks;
    char a[32];
    int n = 0;
    if (k->fma_how)
        n = snprintf(buf, sizeof buf, ", \"peaks\": {\"table\": \"%s\", \"threads\": %d, \"fma\": \"%s\", \"int8\": \"%s\", "
                     "\"fma_gflops_1t\": %.2f, \"fma_gflops\": %.2f, \"int8_gops_1t\": %.2f, \"int8_gops\": %.2f}",
                     r->kern_name, k->threads, k->fma_how, k->int8_how, k->fma_1, k->fma_all, k->int8_1, k->int8_all);
    else
        n = snprintf(buf, sizeof buf, ", \"peaks\": null");
    snprintf(buf + n, sizeof buf - (size_t)n, ", \"prefill_ops_per_token\": %.0f, \"prefill_peak\": \"%s\", "
             "\"prefill_peak_fraction\": %s", r->ppt, r->quantized ? "int8" : "fma",
             json_num(a, sizeof a, "%.4f", pp_fraction(r), pp_fraction(r) > 0));
    return buf;
}

static void report_json(const Report *r) {
    const Options *o = r->o;
    double bpt = r->wpt + r->kpt, frac = r->bw > 0 ? bpt * r->tg_m / (r->bw * 1e9) : 0;
    char a[32], b[32], c[32];
    printf("{\"model\": \"%s\", \"threads\": %d, \"kv_type\": \"%s\", \"fast_bf16\": %s, \"bytes_per_token\": %.0f, "
           "\"kv_bytes_per_token\": %.0f, \"reps\": %ld, \"pp\": {\"n\": %ld, \"tok_s\": %.3f, \"sd\": %.3f}, "
           "\"tg\": {\"n\": %ld, \"depth\": %ld, \"tok_s\": %.3f, \"sd\": %.3f}, "
           "\"bandwidth_gb_s\": %s, \"bandwidth_probe_bytes\": %zu, \"decode_bandwidth_fraction\": %s, "
           "\"weights_fit_llc\": %s%s, \"peak_rss_bytes\": %zu%s}\n",
           o->model, r->threads, r->kv_type == DT_F16 ? "f16" : "f32", o->fast_bf16 ? "true" : "false", bpt, r->kpt,
           r->reps, r->p, r->pp_m, r->pp_sd, r->n, r->d, r->tg_m, r->tg_sd, json_num(a, sizeof a, "%.2f", r->bw, r->bw > 0),
           r->bw_bytes, json_num(b, sizeof b, "%.4f", frac, r->bw > 0),
           r->in_cache ? "true" : "false", peak_json(r), r->peak, spec_json(r));
    if (!r->m->experts) return;
    const ExpertStats *e[2] = {&r->es_pp, &r->es_tg};
    double toks[2] = {(double)r->p * r->reps, (double)r->n * r->reps};
    printf("{\"expert_cache\": {\"slots\": %d, \"slot_bytes\": %zu, \"disk_gb_s\": %s, \"probe_room_bytes\": %zu, "
           "\"direct\": %s", r->es_tg.slots ? r->es_tg.slots : r->es_pp.slots,
           r->es_tg.slot_bytes ? r->es_tg.slot_bytes : r->es_pp.slot_bytes,
           json_num(c, sizeof c, "%.3f", r->disk_bw / 1e9, r->disk_bw > 0), r->room,
           (r->es_tg.direct || r->es_pp.direct) ? "true" : "false");
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

static void report_text(const Report *r) {
    const Options *o = r->o;
    double bpt = r->wpt + r->kpt;
    long p = r->p, n = r->n, d = r->d;
    printf("model: %s\n", o->model);
    printf("threads: %d, repetitions: %ld, KV cache %s; read per token: %.3f GB of weights + %.3f GB of "
           "keys and values\n", r->threads, r->reps, r->kv_type == DT_F16 ? "f16" : "f32", r->wpt / 1e9, r->kpt / 1e9);
    printf("| test         |          tok/s |\n|--------------|----------------|\n");
    if (p > 0) printf("| pp%-10ld | %7.2f ± %5.2f |\n", p, r->pp_m, r->pp_sd);
    if (n > 0 && d > 0) printf("| tg%ld @ d%-*ld | %7.2f ± %5.2f |\n", n, 6 - snprintf(NULL, 0, "%ld", n), d, r->tg_m, r->tg_sd);
    else if (n > 0) printf("| tg%-10ld | %7.2f ± %5.2f |\n", n, r->tg_m, r->tg_sd);
    const char *llc = r->in_cache ? " (the weights fit in the last-level cache: decode reads them from there)" : "";
    if (r->bw_bytes) {
        char how[96];
        describe_probe(how, sizeof how, r->bw_bytes, r->room);
        printf("memory read bandwidth (%d threads, %s loads, %s): %.2f GB/s\n", r->threads, r->kern_name, how, r->bw);
        printf("decode: %.2f GB/s read = %.1f%% of the bandwidth%s\n", bpt * r->tg_m / 1e9,
               100 * bpt * r->tg_m / (r->bw * 1e9), llc);
    } else {
        printf("memory read bandwidth: not measured: --mem-limit leaves the probe %zu MiB, less than the %zu MiB "
               "it reads (4x the last-level cache, at least 64 MiB)\n", r->room >> 20, membw_min_bytes() >> 20);
        printf("decode: %.2f GB/s read%s\n", bpt * r->tg_m / 1e9, llc);
    }
    const Peaks *k = &r->peaks;
    if (k->fma_how) {
        printf("arithmetic peaks (%s): fp32 FMA %.1f GFLOP/s on 1 thread, %.1f on %d (%s); int8 dot %.1f GOP/s on "
               "1 thread, %.1f on %d (%s)\n", r->kern_name, k->fma_1, k->fma_all, k->threads, k->fma_how, k->int8_1,
               k->int8_all, k->threads, k->int8_how);
        if (p > 0)
            printf("prefill: %.3f %s per token x %.2f tok/s = %.1f %s = %.1f%% of the %s peak\n", r->ppt / 1e9,
                   r->quantized ? "GOP" : "GFLOP", r->pp_m, pp_rate(r), r->quantized ? "GOP/s" : "GFLOP/s",
                   100 * pp_fraction(r), r->quantized ? "int8 dot" : "fp32 FMA");
    } else {
        printf("arithmetic peaks: not measured (the %s table has no peak loops)\n", r->kern_name);
    }
    if (r->m->experts) {
        ExpertStats all = r->es_pp;
        expstats_add(&all, &r->es_tg);
        printf("expert cache (--mem-limit %.2f GB): %d experts of %.1f MB\n", o->mem_limit / 1e9, all.slots,
               all.slot_bytes / 1e6);
        if (r->disk_skip[0]) printf("expert cache: the disk's bandwidth not measured: %s\n", r->disk_skip);
        if (p > 0) print_expert_stats(stdout, "pp", &r->es_pp, (double)p * r->reps, r->disk_bw, r->pp_m);
        if (n > 0) print_expert_stats(stdout, "tg", &r->es_tg, (double)n * r->reps, r->disk_bw, r->tg_m);
    }
    if (r->spec) {
        if (o->draft) printf("speculative decoding (--draft %s", o->draft);
        else printf("speculative decoding (--lookup %ld", o->lookup);
        printf(", --draft-max %d; greedy, %d-token prompt, %ld tokens):\n", r->spec_k, r->spec_prompt, r->n);
        printf("| decode       |          tok/s |\n|--------------|----------------|\n");
        printf("| plain        | %7.2f ± %5.2f |\n| speculative  | %7.2f ± %5.2f |\n", r->plain_m, r->plain_sd,
               r->spec_m, r->spec_sd);
        printf("drafted %ld tokens, accepted %ld (%.1f%%); speculative decode %.2fx plain\n", r->ds.drafted,
               r->ds.accepted, r->ds.drafted ? 100.0 * (double)r->ds.accepted / (double)r->ds.drafted : 0.0,
               r->plain_m > 0 ? r->spec_m / r->plain_m : 0.0);
    }
    printf("peak resident memory: %.1f MB\n", r->peak / 1e6);
}

/* ---- --draft / --lookup ------------------------------------------------------------- */

typedef struct {
    double t_first;
    int n;
} SpecRun;

static int spec_emit(void *ud, int seq, int tok) {
    SpecRun *s = ud;
    (void)seq, (void)tok;
    if (s->n++ == 0) s->t_first = now_seconds();
    return 0;
}

/* Decode tok/s of one greedy generate() of req (from its first token on). */
static double spec_gen(Context *ctx, const GenRequest *req, Drafter *d) {
    SpecRun sr = {0};
    GenOptions go = {.sampler = {.temperature = 0, .top_p = 1}, .eos = -1, .drafter = d};
    if (generate(ctx, req, 1, &go, spec_emit, &sr)) die("%s", err_msg());
    double dt = now_seconds() - sr.t_first;
    return sr.n > 1 ? (sr.n - 1) / (dt > 0 ? dt : 1e-9) : 0;
}

/* The prompt: -f FILE's text, else 64 random tokens repeating a phrase. */
static int *spec_prompt(const Options *o, const Model *m, int *n) {
    if (o->prompt_file) {
        Tokenizer tok;
        load_tokenizer(&tok, o);
        size_t len;
        char *text = slurp(o->prompt_file, &len);
        IntVec ids = {0};
        if (tokenizer_encode(&tok, text, len, 1, &ids)) die("%s: %s", o->prompt_file, err_msg());
        free(text), tokenizer_free(&tok);
        if (ids.n == 0) die("%s: the prompt is empty", o->prompt_file);
        check_vocab(ids.v, ids.n, m->cfg.n_vocab, o->prompt_file);
        *n = ids.n;
        return ids.v;
    }
    int *p = xmalloc(64 * sizeof *p);
    uint64_t rs = 777;
    for (int i = 0; i < 64; i++) p[i] = i < 16 ? (int)(splitmix64(&rs) % (uint64_t)m->cfg.n_vocab) : p[i - 16];
    *n = 64;
    return p;
}

static void run_spec(Report *r, const Model *m, int threads) {
    const Options *o = r->o;
    int n_prompt;
    int *prompt = spec_prompt(o, m, &n_prompt);
    GenRequest req = {.prompt = prompt, .n_prompt = n_prompt, .max_new = (int)r->n};
    long n_ctx = n_prompt + r->n + 1;
    Context ctx;
    new_context(&ctx, m, n_ctx, threads, o);
    Tokenizer tok; /* the draft's vocabulary is checked against it, where there is one */
    char *path = tokenizer_find(o->model);
    int have_tok = path && tokenizer_load(&tok, path) == 0;
    free(path);
    CliDraft cd;
    cli_draft_open(&cd, o, &ctx, have_tok ? &tok : NULL, n_ctx + SCHED_DRAFT_MAX + 1, (ModelOptions){0});
    if (have_tok) tokenizer_free(&tok);
    double *plain = xcalloc((size_t)r->reps, sizeof *plain), *spec = xcalloc((size_t)r->reps, sizeof *spec);
    spec_gen(&ctx, &req, NULL), spec_gen(&ctx, &req, &cd.d); /* warm-up */
    DraftStats before = cd.d.total;
    for (long i = 0; i < r->reps; i++) plain[i] = spec_gen(&ctx, &req, NULL), spec[i] = spec_gen(&ctx, &req, &cd.d);
    r->ds = (DraftStats){cd.d.total.steps - before.steps, cd.d.total.drafted - before.drafted,
                        cd.d.total.accepted - before.accepted};
    stats(plain, (int)r->reps, &r->plain_m, &r->plain_sd);
    stats(spec, (int)r->reps, &r->spec_m, &r->spec_sd);
    r->spec = 1, r->spec_k = cd.d.k_max, r->spec_prompt = n_prompt;
    free(plain), free(spec), free(prompt);
    cli_draft_close(&cd);
    context_free(&ctx);
}

int cmd_bench(const Options *o) {
    Report r = {.o = o, .p = 512, .n = o->n_new, .reps = o->reps > 0 ? o->reps : 3, .d = o->depth};
    if (o->prompt) {
        char *end;
        r.p = strtol(o->prompt, &end, 10);
        if (*end || end == o->prompt || r.p < 0 || r.p > (1L << 20))
            usage_error(o->cmd, "-p expects a token count, got \"%.40s\"", o->prompt);
    }
    long p = r.p, n = r.n, reps = r.reps, d = r.d;
    cli_draft_check(o);
    if ((o->draft || o->lookup) && n < 2) usage_error(o->cmd, "%s", "--draft and --lookup measure -n 2 or more tokens");
    Model m;
    load_model(&m, o);
    r.m = &m;
    const Config *c = &m.cfg;
    long n_ctx = (p > d + n ? p : d + n) + 1;
    int *tok = xmalloc((size_t)(n_ctx) * sizeof *tok);
    uint64_t rs = 12345;
    for (long i = 0; i < n_ctx; i++) tok[i] = (int)(splitmix64(&rs) % (uint64_t)c->n_vocab);
    float *logits = xmalloc((size_t)c->n_vocab * sizeof *logits);

    Context ctx0;
    new_context(&ctx0, &m, 1, (int)o->threads, o);
    prepare_model(&m, &ctx0, o, NULL);
    int threads = r.threads = pool_threads(ctx0.mm.pool);
    r.kern_name = ctx0.mm.kern->name;
    r.room = probe_room(&m);
    r.bw = membw_probe(ctx0.mm.kern, ctx0.mm.pool, r.room, &r.bw_bytes);
    peak_measure(ctx0.mm.kern, ctx0.mm.pool, &r.peaks);
    context_free(&ctx0);
    /* with --mem-limit: what the disk gives the expert cache's reads */
    if (m.experts && (r.disk_bw = expcache_read_bandwidth(m.experts, (size_t)1 << 30, r.room)) < 0)
        snprintf(r.disk_skip, sizeof r.disk_skip, "%s", err_msg()), r.disk_bw = 0;

    double *pp = xcalloc((size_t)reps, sizeof *pp), *tg = xcalloc((size_t)reps, sizeof *tg);
    if (p > 0) {
        run_pp(&m, n_ctx, threads, tok, (int)p, logits, o, NULL);
        for (long i = 0; i < reps; i++) pp[i] = (double)p / run_pp(&m, n_ctx, threads, tok, (int)p, logits, o, &r.es_pp);
    }
    if (n > 0) run_tg(&m, n_ctx, threads, tok, d, (int)n, reps, tg, logits, o, &r.es_tg);
    if (o->draft || o->lookup) run_spec(&r, &m, threads);
    if (p > 0) stats(pp, (int)reps, &r.pp_m, &r.pp_sd);
    if (n > 0) stats(tg, (int)reps, &r.tg_m, &r.tg_sd);
    r.kv_type = o->kv_type && !strcmp(o->kv_type, "f16") ? DT_F16 : DT_F32;
    r.wpt = bytes_per_token(&m), r.kpt = kv_bytes_per_token(&m, d, n, r.kv_type);
    r.ppt = prefill_ops_per_token(&m, p, &r.quantized);
    size_t llc = membw_llc_bytes();
    r.in_cache = llc && r.wpt < (double)llc; /* then decode may read faster than memory */
    size_t now;
    process_rss(&now, &r.peak);
    if (o->json) report_json(&r);
    else report_text(&r);
    free(pp), free(tg), free(tok), free(logits);
    model_free(&m);
    return 0;
}
