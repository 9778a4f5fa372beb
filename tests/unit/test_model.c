/* test_model — the forward pass against the reference's golden vectors, and
 * the properties the engine promises: chunking and batching never change a
 * token's result, the rolling cache never grows, bad batches are refused. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "gen/generate.h"
#include "harness.h"
#include "kern/ops.h"
#include "model/model.h"
#include "model/prepare.h"

#define DATA "tests/data"


static cJSON *load_json(const char *path) {
    char *text = read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    cJSON *j = cJSON_Parse(text);
    free(text);
    if (!j) {
        fprintf(stderr, "bad JSON in %s\n", path);
        exit(1);
    }
    return j;
}

static int *json_ints(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int *v = xmalloc((size_t)*n * sizeof(int) + 1);
    for (int i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(a, i)->valueint;
    return v;
}

/* max |row - golden row| */
static double row_diff(const float *x, const cJSON *row, int n) {
    double worst = 0;
    if (cJSON_GetArraySize(row) != n) return INFINITY;
    int i = 0;
    for (const cJSON *e = row->child; e; e = e->next, i++) {
        double d = fabs((double)x[i] - e->valuedouble);
        if (!(d <= worst)) worst = d; /* NaN counts as the worst */
    }
    return worst;
}

/* Feeds tokens to sequence seq of ctx in chunks of `chunk`; logits of every
 * token into out (n, vocab). Returns 0 or -1. */
static int prefill(Context *ctx, int seq, const int *tok, int n, int chunk, float *out) {
    int V = ctx->model->cfg.n_vocab;
    int *seqs = xmalloc((size_t)n * sizeof(int));
    long *pos = xmalloc((size_t)n * sizeof(long));
    int rc = 0;
    for (int s = 0; s < n && rc == 0; s += chunk) {
        int k = n - s < chunk ? n - s : chunk;
        for (int i = 0; i < k; i++) seqs[i] = seq, pos[i] = ctx->seqs[seq].n_pos + i;
        Batch b = {.n = k, .token = tok + s, .seq = seqs, .pos = pos};
        rc = forward(ctx, &b, out + (size_t)s * V);
    }
    free(seqs), free(pos);
    return rc;
}

/* The whole model packed for the default table (what the CLI runs). */
static void prepare_all(Model *m) {
    ModelShare all = model_share_all(m);
    CHECK(model_prepare(m, &all, kern_get(), NULL) == 0);
}

/* The KV cache type and thread count of check_golden's contexts. */
static DType kv_type = DT_F32;
static int kv_threads = 1;

static int ctx_init(Context *ctx, const Model *m, int n_seq, long n_ctx) {
    if (context_init(ctx, m, n_seq, n_ctx)) return -1;
    if (kv_type != DT_F32 && context_set_kv_type(ctx, kv_type)) return -1;
    return context_set_threads(ctx, kv_threads);
}

typedef struct {
    int *ids[8];
    int n[8];
} Got;

static int collect(void *ud, int req, int token) {
    Got *g = ud;
    g->ids[req][g->n[req]++] = token;
    return 0;
}

/* Checks checkpoint `name` of set dir (dir/golden/name.json, dir/tiny/name). */
static void check_golden(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/golden/%s.json", dir, name);
    cJSON *g = load_json(path);
    snprintf(path, sizeof path, "%s/tiny/%s", dir, name);
    Model m;
    if (model_load(&m, path, NULL)) {
        EXPECT(0, "%s", err_msg());
        cJSON_Delete(g);
        return;
    }
    prepare_all(&m);
    /* an fp16 cache rounds every key and value by up to 2^-11 relative */
    double tol = strstr(name, "bf16") ? 2e-2 : kv_type == DT_F16 ? 5e-3 : 1e-3, worst = 0;
    int V = m.cfg.n_vocab;
    const cJSON *cases = cJSON_GetObjectItem(g, "cases");
    int n_cases = cJSON_GetArraySize(cases);
    GenRequest reqs[8];
    for (int ci = 0; ci < n_cases; ci++) {
        const cJSON *c = cJSON_GetArrayItem(cases, ci);
        int P, T;
        int *prompt = json_ints(cJSON_GetObjectItem(c, "prompt"), &P);
        int *greedy = json_ints(cJSON_GetObjectItem(c, "greedy_tokens"), &T);
        CHECK(n_cases <= 8 && T <= 64);
        Context ctx;
        CHECK(ctx_init(&ctx, &m, 1, P + T) == 0);
        float *one = xmalloc((size_t)(P + T) * V * sizeof(float));

        /* one-shot prefill, every row */
        EXPECT(prefill(&ctx, 0, prompt, P, P, one) == 0, "%s", err_msg());
        const cJSON *rows = cJSON_GetObjectItem(c, "prefill_logits");
        for (int t = 0; t < P; t++) {
            double d = row_diff(one + (size_t)t * V, cJSON_GetArrayItem(rows, t), V);
            EXPECT(d <= tol, "%s case %d prefill row %d: max diff %g", name, ci, t, d);
            if (d > worst) worst = d;
        }
        /* decode the greedy tokens one at a time */
        EXPECT(argmax(one + (size_t)(P - 1) * V, V) == greedy[0], "%s case %d first token", name, ci);
        rows = cJSON_GetObjectItem(c, "decode_logits");
        for (int t = 0; t < T; t++) {
            float *lg = one + (size_t)(P + t) * V;
            EXPECT(prefill(&ctx, 0, &greedy[t], 1, 1, lg) == 0, "%s", err_msg());
            double d = row_diff(lg, cJSON_GetArrayItem(rows, t), V);
            EXPECT(d <= tol, "%s case %d decode step %d: max diff %g", name, ci, t, d);
            if (d > worst) worst = d;
            if (t + 1 < T)
                EXPECT(argmax(lg, V) == greedy[t + 1], "%s case %d greedy step %d", name, ci, t + 1);
        }
        /* chunked prefill: the golden chunk sizes and more, all bitwise equal
         * to one-shot (a token's computation never depends on its batch) */
        int sizes[] = {1, 2, 3, 4, 5, 7, 8, 12, 64};
        float *ch = xmalloc((size_t)P * V * sizeof(float));
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            Context c2;
            CHECK(ctx_init(&c2, &m, 1, P) == 0);
            if (kv_type == DT_F16) CHECK(context_set_threads(&c2, 2) == 0); /* threads change nothing */
            EXPECT(prefill(&c2, 0, prompt, P, sizes[k], ch) == 0, "%s", err_msg());
            EXPECT(memcmp(ch, one, (size_t)P * V * sizeof(float)) == 0,
                   "%s case %d: chunk size %d differs from one-shot prefill", name, ci, sizes[k]);
            char key[16];
            snprintf(key, sizeof key, "%d", sizes[k]);
            const cJSON *gc = cJSON_GetObjectItem(cJSON_GetObjectItem(c, "chunked"), key);
            if (gc) {
                double d = row_diff(ch + (size_t)(P - 1) * V,
                                    cJSON_GetObjectItem(gc, "prefill_logits_last"), V);
                EXPECT(d <= tol, "%s case %d chunk %d last row: max diff %g", name, ci, sizes[k], d);
            }
            context_free(&c2);
        }
        free(ch), free(one);
        context_free(&ctx);
        free(greedy);
        reqs[ci] = (GenRequest){.prompt = prompt, .n_prompt = P, .max_new = T};
    }

    /* every prompt together in one batch, whole and chunked (prefill chunks of
     * some sequences then share calls with decode tokens of others) */
    const cJSON *batched = cJSON_GetObjectItem(g, "batched_generate_tokens");
    int chunks[] = {0, 3};
    for (int k = 0; k < 2; k++) {
        Context ctx;
        CHECK(ctx_init(&ctx, &m, n_cases, generate_context_size(reqs, n_cases)) == 0);
        Got got;
        memset(&got, 0, sizeof got);
        for (int r = 0; r < n_cases; r++) got.ids[r] = xmalloc(64 * sizeof(int));
        GenOptions go = {.chunk_size = chunks[k], .sampler = {.top_p = 1}, .eos = -1};
        EXPECT(generate(&ctx, reqs, n_cases, &go, collect, &got) == 0, "%s", err_msg());
        for (int r = 0; r < n_cases; r++) {
            int n;
            int *want = json_ints(cJSON_GetArrayItem(batched, r), &n);
            EXPECT(got.n[r] == n && memcmp(got.ids[r], want, n * sizeof(int)) == 0,
                   "%s batched generate (chunk %d): prompt %d differs", name, chunks[k], r);
            free(want), free(got.ids[r]);
        }
        context_free(&ctx);
    }
    for (int r = 0; r < n_cases; r++) free((void *)reqs[r].prompt);
    fprintf(stderr, "  %-18s max |logit - golden| = %.2g (tolerance %.0g)%s\n", name, worst, tol,
            kv_type == DT_F16 ? ", fp16 KV cache" : "");
    model_free(&m);
    cJSON_Delete(g);
}

/* One call holding a decode token of sequence 0 and a prefill chunk of
 * sequence 1 gives each exactly what it gets in a call of its own. */
static void check_mixed_batch(void) {
    Model m;
    CHECK(model_load(&m, DATA "/tiny/moe_sw8_f32", NULL) == 0);
    prepare_all(&m);
    int V = m.cfg.n_vocab;
    int a[12] = {1, 5, 9, 200, 31, 7, 7, 80, 3, 14, 15, 92}, b[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    Context alone, both;
    CHECK(context_init(&alone, &m, 2, 32) == 0 && context_init(&both, &m, 2, 32) == 0);
    float *ref = xmalloc(32 * (size_t)V * sizeof(float)), *got = xmalloc(32 * (size_t)V * sizeof(float));
    /* sequence 0 has 11 tokens cached; sequence 1 has 4 */
    CHECK(prefill(&alone, 0, a, 11, 11, ref) == 0 && prefill(&alone, 1, b, 4, 4, ref) == 0);
    CHECK(prefill(&both, 0, a, 11, 11, got) == 0 && prefill(&both, 1, b, 4, 4, got) == 0);
    float *r0 = ref, *r1 = ref + V;
    CHECK(prefill(&alone, 0, a + 11, 1, 1, r0) == 0);       /* decode step of 0 */
    CHECK(prefill(&alone, 1, b + 4, 6, 6, r1) == 0);        /* chunk of 6 for 1 */
    int tok[7] = {a[11], b[4], b[5], b[6], b[7], b[8], b[9]}, seq[7] = {0, 1, 1, 1, 1, 1, 1};
    long pos[7] = {11, 4, 5, 6, 7, 8, 9};
    Batch batch = {.n = 7, .token = tok, .seq = seq, .pos = pos};
    EXPECT(forward(&both, &batch, got) == 0, "%s", err_msg());
    EXPECT(memcmp(got, r0, (size_t)V * sizeof(float)) == 0, "mixed batch: decode row differs");
    EXPECT(memcmp(got + V, r1, 6 * (size_t)V * sizeof(float)) == 0, "mixed batch: chunk rows differ");
    EXPECT(both.seqs[0].n_pos == 12 && both.seqs[1].n_pos == 10, "positions not advanced");

    /* batches the engine must refuse, with a message */
    long badpos[2] = {12, 14};
    int s2[2] = {0, 0}, t2[2] = {1, 2}, s3[3] = {0, 1, 0}, t3[3] = {1, 1, 1};
    long p3[3] = {12, 10, 13};
    Batch gap = {.n = 2, .token = t2, .seq = s2, .pos = badpos};
    EXPECT(forward(&both, &gap, got) == -1 && strstr(err_msg(), "position") && err_kind() == ERR_OTHER, "gap: %s",
           err_msg());
    Batch split = {.n = 3, .token = t3, .seq = s3, .pos = p3};
    EXPECT(forward(&both, &split, got) == -1 && strstr(err_msg(), "split"), "split: %s", err_msg());
    int big[1] = {V}, s1[1] = {0};
    long p1[1] = {12};
    Batch oov = {.n = 1, .token = big, .seq = s1, .pos = p1};
    EXPECT(forward(&both, &oov, got) == -1 && strstr(err_msg(), "vocabulary") && err_kind() == ERR_INPUT, "oov: %s",
           err_msg());
    int s9[1] = {9};
    Batch noseq = {.n = 1, .token = t2, .seq = s9, .pos = p1};
    EXPECT(forward(&both, &noseq, got) == -1 && err_kind() == ERR_OTHER, "unknown sequence accepted");
    EXPECT(both.seqs[0].n_pos == 12, "a refused batch moved the sequence");
    free(ref), free(got);
    context_free(&alone), context_free(&both);

    /* full attention: the context bounds the positions */
    Model full;
    CHECK(model_load(&full, DATA "/tiny/moe_nowin_kv1_f32", NULL) == 0);
    Context small;
    CHECK(context_init(&small, &full, 1, 4) == 0);
    float *lg = xmalloc(5 * (size_t)full.cfg.n_vocab * sizeof(float));
    EXPECT(prefill(&small, 0, a, 5, 5, lg) == -1 && strstr(err_msg(), "past the context") &&
               err_kind() == ERR_CONTEXT_FULL,
           "full attention past n_ctx: %s", err_msg());
    free(lg);
    context_free(&small);
    model_free(&full);
    model_free(&m);
}

/* 2,000 decode steps on a window-8 model: the cache keeps its 8 slots per
 * layer, a second run gives the same tokens, and one-shot prefill of the whole
 * text (keys from the batch, not the cache) agrees with every decode step. */
/* A prompt long enough that the per-token steps (norms, RoPE, the cache
 * writes, the adds, SwiGLU) run split over the pool, in one call 40 times
 * the window (most tokens' cache slots are taken again later in the same
 * call): every position's logits equal one thread's bit for bit on 2 and 3
 * threads, one-shot and in chunks, for an f32 and an f16 cache. */
static void check_split_steps(void) {
    Model m;
    CHECK(model_load(&m, DATA "/tiny/dense_sw8_f32", NULL) == 0);
    prepare_all(&m);
    enum { P = 320 };
    int V = m.cfg.n_vocab, *tok = xmalloc(P * sizeof(int));
    uint64_t s = 99;
    for (int i = 0; i < P; i++) tok[i] = (int)(splitmix64(&s) % (uint64_t)V);
    float *want = xmalloc((size_t)P * V * sizeof(float)), *got = xmalloc((size_t)P * V * sizeof(float));
    for (int kv = 0; kv < 2; kv++) {
        Context one;
        CHECK(context_init(&one, &m, 1, P) == 0);
        if (kv) CHECK(context_set_kv_type(&one, DT_F16) == 0);
        CHECK(prefill(&one, 0, tok, P, P, want) == 0);
        context_free(&one);
        for (int th = 2; th <= 3; th++)
            for (int chunk = P; chunk >= 100; chunk -= 220) {
                Context c;
                CHECK(context_init(&c, &m, 1, P) == 0 && context_set_threads(&c, th) == 0);
                if (kv) CHECK(context_set_kv_type(&c, DT_F16) == 0);
                EXPECT(prefill(&c, 0, tok, P, chunk, got) == 0, "%s", err_msg());
                EXPECT(memcmp(want, got, (size_t)P * V * sizeof(float)) == 0,
                       "%s cache, %d threads, chunks of %d: logits differ from one thread's",
                       kv ? "f16" : "f32", th, chunk);
                context_free(&c);
            }
    }
    free(tok), free(want), free(got);
    model_free(&m);
}

static void check_long_run(void) {
    Model m;
    CHECK(model_load(&m, DATA "/tiny/dense_sw8_f32", NULL) == 0);
    prepare_all(&m);
    enum { P = 5, N = 2000 };
    int prompt[P] = {1, 147, 186, 149, 240};
    GenRequest req = {.prompt = prompt, .n_prompt = P, .max_new = N};
    GenOptions go = {.sampler = {.top_p = 1}, .eos = -1};
    Got run1, run2;
    memset(&run1, 0, sizeof run1), memset(&run2, 0, sizeof run2);
    run1.ids[0] = xmalloc(N * sizeof(int));
    run2.ids[0] = xmalloc(N * sizeof(int));
    Context ctx;
    CHECK(context_init(&ctx, &m, 1, P + N) == 0);
    size_t bytes = ctx.seqs[0].bytes;
    EXPECT(bytes == (size_t)m.cfg.n_layers * 8 * 2 * m.cfg.n_kv_heads * m.cfg.head_dim * sizeof(float),
           "window-8 cache holds %zu bytes", bytes);
    EXPECT(generate(&ctx, &req, 1, &go, collect, &run1) == 0, "%s", err_msg());
    EXPECT(run1.n[0] == N && ctx.seqs[0].n_pos == P + N - 1, "ran %d steps", run1.n[0]);
    EXPECT(ctx.seqs[0].bytes == bytes, "cache grew");
    for (int l = 0; l < m.cfg.n_layers; l++) EXPECT(ctx.seqs[0].cap[l] == 8, "layer %d cap", l);
    EXPECT(generate(&ctx, &req, 1, &go, collect, &run2) == 0, "%s", err_msg());
    EXPECT(memcmp(run1.ids[0], run2.ids[0], N * sizeof(int)) == 0, "second run differs");
    context_free(&ctx);

    int *all = xmalloc((P + N) * sizeof(int));
    memcpy(all, prompt, sizeof prompt);
    memcpy(all + P, run1.ids[0], N * sizeof(int));
    Context fresh;
    CHECK(context_init(&fresh, &m, 1, P + N) == 0);
    int V = m.cfg.n_vocab, bad = 0;
    float *lg = xmalloc((size_t)(P + N) * V * sizeof(float));
    EXPECT(prefill(&fresh, 0, all, P + N, P + N, lg) == 0, "%s", err_msg());
    for (int t = P - 1; t < P + N - 1; t++) bad += argmax(lg + (size_t)t * V, V) != all[t + 1];
    EXPECT(bad == 0, "one-shot prefill disagrees with decode at %d of %d steps", bad, N);
    free(lg), free(all), free(run1.ids[0]), free(run2.ids[0]);
    context_free(&fresh);
    model_free(&m);
}

static void reduce_sum(void *ud, float *x, size_t n) {
    const float *other = ud; /* the other "rank"'s partial sums, computed before */
    for (size_t i = 0; i < n; i++) x[i] += other[i];
}

/* The pieces distribution will use: layers run in two stages, and experts
 * split across two "ranks" whose partial outputs are summed, give the same
 * logits as one full forward call. */
static void check_pieces(void) {
    Model m;
    CHECK(model_load(&m, DATA "/tiny/moe_sw8_f32", NULL) == 0);
    prepare_all(&m);
    int V = m.cfg.n_vocab, dim = m.cfg.dim, L = m.cfg.n_layers, n = 6;
    int tok[6] = {1, 7, 59, 243, 68, 108}, seq[6] = {0};
    long pos[6] = {0, 1, 2, 3, 4, 5};
    Batch b = {.n = n, .token = tok, .seq = seq, .pos = pos};
    float *want = xmalloc((size_t)n * V * sizeof(float)), *got = xmalloc((size_t)n * V * sizeof(float));
    Context full, staged;
    CHECK(context_init(&full, &m, 1, 16) == 0 && context_init(&staged, &m, 1, 16) == 0);
    CHECK(forward(&full, &b, want) == 0);

    float *h = xmalloc((size_t)n * dim * sizeof(float));
    CHECK(forward_begin(&staged, &b) == 0);
    forward_embed(&staged, &b, h);
    forward_layers(&staged, &b, h, 0, 1);
    forward_layers(&staged, &b, h, 1, L);
    forward_commit(&staged, &b);
    EXPECT(forward_head(&staged, &b, h, got) == n, "head rows");
    EXPECT(memcmp(got, want, (size_t)n * V * sizeof(float)) == 0, "two stages differ from one");

    /* expert parallelism: "rank 1" computes experts [2, 4) of layer 0 and
     * keeps its partial MoE output; "rank 0" computes experts [0, 2) and its
     * reduce hook adds rank 1's part: layer 0's output must match the full one */
    Context a, c2;
    CHECK(context_init(&a, &m, 1, 16) == 0 && context_init(&c2, &m, 1, 16) == 0);
    float *ha = xmalloc((size_t)n * dim * sizeof(float)), *hb = xmalloc((size_t)n * dim * sizeof(float));
    float *part = xmalloc((size_t)n * dim * sizeof(float));
    a.expert_lo = 2, a.expert_hi = 4; /* rank 1 */
    CHECK(forward_begin(&a, &b) == 0);
    forward_embed(&a, &b, ha);
    forward_layers(&a, &b, ha, 0, 1);
    memcpy(part, a.ws.ffn_out, (size_t)n * dim * sizeof(float));
    c2.expert_lo = 0, c2.expert_hi = 2;
    c2.moe_reduce = reduce_sum, c2.moe_reduce_ud = part;
    CHECK(forward_begin(&c2, &b) == 0);
    forward_embed(&c2, &b, hb);
    forward_layers(&c2, &b, hb, 0, 1);
    float *hf = xmalloc((size_t)n * dim * sizeof(float));
    Context f2;
    CHECK(context_init(&f2, &m, 1, 16) == 0 && forward_begin(&f2, &b) == 0);
    forward_embed(&f2, &b, hf);
    forward_layers(&f2, &b, hf, 0, 1);
    double worst = 0;
    for (int i = 0; i < n * dim; i++)
        if (fabs(hf[i] - hb[i]) > worst) worst = fabs(hf[i] - hb[i]);
    EXPECT(worst < 1e-5, "experts split across two ranks: max diff %g", worst);
    free(want), free(got), free(h), free(ha), free(hb), free(hf), free(part);
    context_free(&full), context_free(&staged), context_free(&a), context_free(&c2), context_free(&f2);
    model_free(&m);
}

/* Every golden file of a set: the reference's own (data/golden) and the
 * conformance shapes made by data/conformance/make.py. */
/* model_prepare packs only the share it is given (a pipeline stage's
 * layers, an expert-parallel rank's experts) and refuses a share outside the
 * model; the logits of a share packed in two steps equal the whole's. */
static void check_prepare(void) {
    const Kern *k = kern_get();
    Model m, w;
    CHECK(model_load(&m, DATA "/tiny/moe_sw8_f32", NULL) == 0);
    int L = m.cfg.n_layers, E = m.cfg.n_experts;
    ModelShare s = {.layer_lo = 1, .layer_hi = L, .expert_lo = 2, .expert_hi = E, .pack = 1};
    ModelShare bad = s;
    bad.layer_hi = L + 1;
    EXPECT(model_prepare(&m, &bad, k, NULL) == -1 && strstr(err_msg(), "layers"), "a share past the layers");
    bad = s, bad.expert_lo = -1;
    EXPECT(model_prepare(&m, &bad, k, NULL) == -1 && strstr(err_msg(), "experts"), "a share before the experts");
    CHECK(model_prepare(&m, &s, k, NULL) == 0);
    const LayerWeights *l0 = &m.w.layers[0], *l1 = &m.w.layers[1];
    if (k->pack[l1->wq.dtype].pack) {
        EXPECT(!l0->wq.packed && l1->wq.packed && !m.w.output.packed, "layers [1, L) only");
        EXPECT(!l1->experts[1].w1.packed && l1->experts[2].w1.packed, "experts [2, E) only");
    }
    s = model_share_all(&m); /* the rest */
    CHECK(model_prepare(&m, &s, k, NULL) == 0);
    CHECK(model_load(&w, DATA "/tiny/moe_sw8_f32", NULL) == 0);
    prepare_all(&w);
    int V = m.cfg.n_vocab, tok[5] = {1, 7, 59, 243, 68}, seq[5] = {0};
    long pos[5] = {0, 1, 2, 3, 4};
    Batch b = {.n = 5, .token = tok, .seq = seq, .pos = pos};
    float *x = xmalloc(5 * (size_t)V * sizeof(float)), *y = xmalloc(5 * (size_t)V * sizeof(float));
    Context cm, cw;
    CHECK(context_init(&cm, &m, 1, 8) == 0 && context_init(&cw, &w, 1, 8) == 0);
    CHECK(forward(&cm, &b, x) == 0 && forward(&cw, &b, y) == 0);
    EXPECT(memcmp(x, y, 5 * (size_t)V * sizeof(float)) == 0, "packed in two shares differs from packed whole");
    context_free(&cm), context_free(&cw);
    free(x), free(y);
    model_free(&m), model_free(&w);
}

static void check_set(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/golden", dir);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(len - 5), e->d_name);
        check_golden(dir, name);
        n++;
    }
    closedir(d);
    EXPECT(n >= 5, "%s: only %d golden files", dir, n);
}

/* A prompt prefilled once in sequence 0 and copied (kvcache_copy) into
 * sequences 1 (fresh) and 2 (holding another text): every later token's
 * logits are those of a fresh prefill of the whole text, bit for bit, also
 * past the window (the copy of a rolled cache) and with draft room. */
static void check_kv_copy_one(const char *path, DType type, int room) {
    Model m;
    CHECK(model_load(&m, path, NULL) == 0);
    prepare_all(&m);
    enum { P = 21, N = 6 };
    int V = m.cfg.n_vocab, text[P + N], other[7] = {1, 3, 5, 7, 9, 11, 13};
    for (int i = 0; i < P + N; i++) text[i] = (i * 37 + 11) % V;
    Context c, fresh;
    CHECK(context_init(&c, &m, 3, 64) == 0 && context_init(&fresh, &m, 1, 64) == 0);
    CHECK(context_set_kv_type(&c, type) == 0 && context_set_kv_type(&fresh, type) == 0);
    if (room) CHECK(context_set_draft_room(&c, room) == 0 && context_set_draft_room(&fresh, room) == 0);
    float *ref = xmalloc((size_t)(P + N) * V * sizeof(float)), *got = xmalloc((size_t)(P + N) * V * sizeof(float));
    CHECK(prefill(&fresh, 0, text, P + N, P + N, ref) == 0);
    CHECK(prefill(&c, 0, text, P - 1, 8, got) == 0 && prefill(&c, 2, other, 7, 7, got) == 0);
    for (int s = 1; s < 3; s++) EXPECT(kvcache_copy(&c.seqs[s], &c.seqs[0]) == 0, "%s", err_msg());
    for (int s = 0; s < 3; s++) {
        EXPECT(c.seqs[s].n_pos == P - 1, "sequence %d holds %ld positions", s, c.seqs[s].n_pos);
        CHECK(prefill(&c, s, text + P - 1, N + 1, 1 + s, got) == 0);
        EXPECT(memcmp(got, ref + (size_t)(P - 1) * V, (size_t)(N + 1) * V * sizeof(float)) == 0,
               "%s: sequence %d after the copy differs from a fresh prefill", path, s);
    }
    Context other_shape;
    CHECK(context_init(&other_shape, &m, 1, 64) == 0 && context_set_draft_room(&other_shape, room + 1) == 0);
    EXPECT(kvcache_copy(&other_shape.seqs[0], &c.seqs[0]) == -1 && strstr(err_msg(), "shape"),
           "a copy between caches of different shapes: %s", err_msg());
    free(ref), free(got);
    context_free(&c), context_free(&fresh), context_free(&other_shape);
    model_free(&m);
}

static void check_kv_copy(void) {
    check_kv_copy_one(DATA "/tiny/moe_sw8_f32", DT_F32, 0);    /* the prompt rolls the window of 8 */
    check_kv_copy_one(DATA "/tiny/dense_sw8_f32", DT_F16, 3);  /* fp16, room for drafts */
    check_kv_copy_one(DATA "/tiny/moe_nowin_kv1_f32", DT_F32, 0); /* full attention */
}

int main(void) {
    check_set(DATA);
    check_set(DATA "/conformance");
    kv_type = DT_F16; /* the same checks with an fp16 cache (and 2 threads for the chunked runs) */
    check_set(DATA);
    kv_type = DT_F32;
    check_mixed_batch();
    check_long_run();
    check_kv_copy();
    check_split_steps();
    check_pieces();
    check_prepare();
    return test_done("test_model");
}
