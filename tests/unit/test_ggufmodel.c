/* test_ggufmodel — models in one GGUF file: each tiny checkpoint rewritten
 * as llama.cpp lays it out (llama.* metadata, blk.N.* names, stacked or
 * per-expert MoE tensors) gives the native logits, bitwise for F32 and within
 * measured bounds for F16/BF16/Q8_0; the quantized types on a wider model,
 * those we cannot write as random blocks; malformed files are one-line
 * errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "harness.h"
#include "model/ggufmodel.h"
#include "model/model.h"
#include "model/names.h"
#include "model/prepare.h"
#include "randblocks.h"
#include "tok/tokfile.h"
#include "tok/tokgguf.h"

/* ---- writing a model as GGUF --------------------------------------------- */

enum { PER_EXPERT = 1, NO_WINDOW = 2 };

typedef struct {
    const char *drop_key;    /* metadata key left out */
    const char *arch;        /* general.architecture (default "llama") */
    const char *drop_tensor; /* GGUF tensor name left out */
    const char *bad_shape;   /* GGUF tensor name written with one row too few */
} Damage;

typedef struct {
    GGUFWriter w;
    void *bufs[4096];
    int n_bufs;
    DType dt;
    const Damage *dmg;
    int twin; /* types without a quantizer: their random blocks' values as f32 */
} Out;

static int keep_key(const Out *o, const char *key) { return !o->dmg || !o->dmg->drop_key || strcmp(o->dmg->drop_key, key); }

/* rows x cols floats of m (or of vec when m is NULL) converted to o->dt
 * (f32 where the row length does not fit the type's block) as tensor name. */
static void add_rows(Out *o, const char *name, const float *x, int rows, int cols, int n_stack, int is_vec) {
    if (o->dmg && o->dmg->drop_tensor && !strcmp(o->dmg->drop_tensor, name)) return;
    DType dt = is_vec || cols % dtype_traits(o->dt)->block ? DT_F32 : o->dt;
    size_t total = (size_t)rows * cols * n_stack;
    void *buf = xmalloc(dtype_bytes(dt, total));
    if (!dtype_traits(dt)->quantize) { /* random blocks of x's rms, seeded by the name: the same in every file */
        double ss = 0;
        for (size_t i = 0; i < total; i++) ss += (double)x[i] * x[i];
        uint64_t seed = 0xcbf29ce484222325ull;
        for (const char *c = name; *c; c++) seed = (seed ^ (unsigned char)*c) * 0x100000001b3ull;
        test_random_blocks(buf, dt, total, (float)sqrt(ss / (double)total), &seed);
        if (o->twin) {
            float *f = xmalloc(total * sizeof *f);
            dtype_traits(dt)->to_float(f, buf, total);
            free(buf);
            buf = f, dt = DT_F32;
        }
    } else {
        for (size_t r = 0; r < (size_t)rows * n_stack; r++)
            dtype_traits(dt)->quantize((char *)buf + dtype_bytes(dt, r * cols), x + r * cols, (size_t)cols);
    }
    o->bufs[o->n_bufs++] = buf;
    int shrink = o->dmg && o->dmg->bad_shape && !strcmp(o->dmg->bad_shape, name);
    int64_t dims[3] = {cols, rows - shrink, n_stack};
    if (is_vec) dims[0] = rows - shrink;
    CHECK(gguf_writer_add_tensor(&o->w, name, dt, is_vec ? 1 : n_stack > 1 ? 3 : 2, dims, buf) == 0);
}

static float *to_f32(const Mat *m) {
    float *x = xmalloc((size_t)m->rows * m->cols * sizeof(float));
    for (int r = 0; r < m->rows; r++)
        dtype_traits(m->dtype)->to_float(x + (size_t)r * m->cols, mat_row(m, r), (size_t)m->cols);
    return x;
}

static void add_mat(Out *o, const char *native, const Mat *m) {
    char name[300];
    int e;
    CHECK(names_native_to_gguf(name, sizeof name, native, &e) == 0);
    float *x = to_f32(m);
    add_rows(o, name, x, m->rows, m->cols, 1, 0);
    free(x);
}

static void add_vec(Out *o, const char *native, const float *v, int n) {
    char name[300];
    int e;
    CHECK(names_native_to_gguf(name, sizeof name, native, &e) == 0);
    add_rows(o, name, v, n, 1, 1, 1);
}

/* Expert matrices j (0: w1, 1: w2, 2: w3) of layer l: stacked, or one per expert. */
static void add_experts(Out *o, const Model *m, int l, int j, int per_expert) {
    const Config *c = &m->cfg;
    static const char *const w[] = {"w1", "w2", "w3"}, *const gg[] = {"ffn_gate", "ffn_down", "ffn_up"};
    const Mat *m0 = &(&m->w.layers[l].experts[0].w1)[j];
    size_t sz = (size_t)m0->rows * m0->cols;
    float *x = xmalloc(sz * c->n_experts * sizeof(float));
    for (int e = 0; e < c->n_experts; e++) {
        float *xe = to_f32(&(&m->w.layers[l].experts[e].w1)[j]);
        memcpy(x + e * sz, xe, sz * sizeof(float));
        free(xe);
        if (per_expert) {
            char name[300];
            snprintf(name, sizeof name, "blk.%d.%s.%d.weight", l, gg[j], e);
            add_rows(o, name, x + e * sz, m0->rows, m0->cols, 1, 0);
        }
    }
    if (!per_expert) {
        char native[128], name[300];
        int e;
        snprintf(native, sizeof native, "layers.%d.feed_forward.experts.0.%s.weight", l, w[j]);
        CHECK(names_native_to_gguf(name, sizeof name, native, &e) == 0);
        add_rows(o, name, x, m0->rows, m0->cols, c->n_experts, 0);
    }
    free(x);
}

static void add_metadata(Out *o, const Model *m, int flags) {
    const Config *c = &m->cfg;
    GGUFWriter *w = &o->w;
    gguf_writer_add_string(w, "general.architecture", o->dmg && o->dmg->arch ? o->dmg->arch : "llama");
    const struct { const char *key; int v; } u[] = {
        {"llama.embedding_length", c->dim}, {"llama.block_count", c->n_layers},
        {"llama.feed_forward_length", c->hidden_dim}, {"llama.attention.head_count", c->n_heads},
        {"llama.attention.head_count_kv", c->n_kv_heads}, {"llama.attention.key_length", c->head_dim},
        {"llama.vocab_size", c->n_vocab}, {"llama.expert_count", c->n_experts},
        {"llama.expert_used_count", c->n_active},
    };
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if (keep_key(o, u[i].key)) gguf_writer_add_u32(w, u[i].key, (uint32_t)u[i].v);
    if (keep_key(o, "llama.attention.layer_norm_rms_epsilon"))
        gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    gguf_writer_add_f32(w, "llama.rope.freq_base", (float)c->rope_theta);
    int uniform = 1;
    for (int l = 1; l < c->n_layers; l++) uniform &= c->window[l] == c->window[0];
    if (!uniform) /* per-layer windows: mistral quantize's key */
        gguf_writer_add_array(w, "mistral.attention.sliding_window", GGUF_I32, c->window, (uint64_t)c->n_layers);
    else if (c->window[0] && !(flags & NO_WINDOW))
        gguf_writer_add_u32(w, "llama.attention.sliding_window", (uint32_t)c->window[0]);
}

static const Tokenizer *with_tokenizer; /* written into the next files when set */

/* Writes m to path as GGUF in type dt. */
static void write_gguf(const Model *m, const char *path, DType dt, int flags, const Damage *dmg) {
    const Config *c = &m->cfg;
    const Weights *wt = &m->w;
    Out *o = xcalloc(1, sizeof *o);
    o->dt = dt, o->dmg = dmg;
    gguf_writer_init(&o->w);
    add_metadata(o, m, flags);
    if (with_tokenizer) CHECK(tokenizer_to_gguf(with_tokenizer, &o->w) == 0);
    add_mat(o, "tok_embeddings.weight", &wt->tok_embeddings);
    add_vec(o, "norm.weight", wt->norm, c->dim);
    if (wt->output.data != wt->tok_embeddings.data) add_mat(o, "output.weight", &wt->output);
    char n[128];
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *lw = &wt->layers[l];
#define MAT(field, s) (snprintf(n, sizeof n, "layers.%d." s, l), add_mat(o, n, &lw->field))
        snprintf(n, sizeof n, "layers.%d.attention_norm.weight", l), add_vec(o, n, lw->attention_norm, c->dim);
        snprintf(n, sizeof n, "layers.%d.ffn_norm.weight", l), add_vec(o, n, lw->ffn_norm, c->dim);
        MAT(wq, "attention.wq.weight");
        MAT(wk, "attention.wk.weight");
        MAT(wv, "attention.wv.weight");
        MAT(wo, "attention.wo.weight");
        if (!c->n_experts) {
            MAT(ffn.w1, "feed_forward.w1.weight");
            MAT(ffn.w2, "feed_forward.w2.weight");
            MAT(ffn.w3, "feed_forward.w3.weight");
        } else {
            MAT(gate, "feed_forward.gate.weight");
            for (int j = 0; j < 3; j++) add_experts(o, m, l, j, flags & PER_EXPERT);
        }
#undef MAT
    }
    FILE *fp = fopen(path, "wb");
    CHECK(fp);
    CHECK(gguf_writer_write(&o->w, fp) == 0);
    fclose(fp);
    gguf_writer_free(&o->w);
    for (int i = 0; i < o->n_bufs; i++) free(o->bufs[i]);
    free(o);
}

/* ---- running ---------------------------------------------------------------- */

static const int prompt[12] = {1, 7, 59, 43, 68, 108, 65, 32, 54, 17, 100, 3}; /* < 128 */

/* Logits of every position of the prompt (caller frees), or NULL. */
/* The prompt's logits: in one forward call (chunk 0) or `chunk` tokens per
 * call, on `threads` threads, with packed weights or not (repack). */
static float *logits_ex(const char *model, int *n_vocab, int chunk, int threads, int repack) {
    Model m;
    if (model_load(&m, model, NULL)) {
        EXPECT(0, "%s", err_msg());
        return NULL;
    }
    int seq[12] = {0};
    long pos[12];
    for (int i = 0; i < 12; i++) pos[i] = i;
    Context ctx;
    CHECK(context_init(&ctx, &m, 1, 64) == 0);
    CHECK(context_set_threads(&ctx, threads) == 0);
    ModelShare all = model_share_all(&m);
    all.pack = repack;
    CHECK(model_prepare(&m, &all, ctx.mm.kern, ctx.mm.pool) == 0);
    *n_vocab = m.cfg.n_vocab;
    float *out = xmalloc(12 * (size_t)m.cfg.n_vocab * sizeof(float));
    int rc = 0, step = chunk ? chunk : 12;
    for (int i = 0; i < 12 && rc == 0; i += step) {
        Batch b = {.n = 12 - i < step ? 12 - i : step, .token = prompt + i, .seq = seq, .pos = pos + i};
        rc = forward(&ctx, &b, out + (size_t)i * m.cfg.n_vocab);
    }
    EXPECT(rc == 0, "%s", err_msg());
    context_free(&ctx);
    model_free(&m);
    if (rc) free(out);
    return rc ? NULL : out;
}

static float *logits_of(const char *model, int *n_vocab) { return logits_ex(model, n_vocab, 0, 1, 1); }

/* n greedy ids after the prompt [bos] (caller gives ids[n]). */
static void greedy(const char *model, int bos, int n, int *ids) {
    Model m;
    CHECK(model_load(&m, model, NULL) == 0);
    Context ctx;
    CHECK(context_init(&ctx, &m, 1, n + 1) == 0);
    float *lg = xmalloc((size_t)m.cfg.n_vocab * sizeof(float));
    int tok = bos, seq = 0;
    for (int i = 0; i < n; i++) {
        long pos = i;
        Batch b = {.n = 1, .token = &tok, .seq = &seq, .pos = &pos};
        CHECK(forward(&ctx, &b, lg) == 0);
        int best = 0;
        for (int v = 1; v < m.cfg.n_vocab; v++)
            if (lg[v] > lg[best]) best = v;
        ids[i] = tok = best;
    }
    free(lg);
    context_free(&ctx);
    model_free(&m);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= w)) w = fabs(a[i] - b[i]);
    return w;
}

/* ---- cases ---------------------------------------------------------------- */

static const char *tmp;

static void check_model(const char *name, int flags, DType dt, double tol) {
    char native[256], path[600];
    snprintf(native, sizeof native, "tests/data/%s/%s", strchr(name, '/') ? "conformance" : "tiny", name);
    name = strrchr(native, '/') + 1;
    snprintf(path, sizeof path, "%s/%s_%s%s.gguf", tmp, name, dtype_traits(dt)->name,
             flags & PER_EXPERT ? "_per_expert" : "");
    Model m;
    CHECK(model_load(&m, native, NULL) == 0);
    write_gguf(&m, path, dt, flags, NULL);
    model_free(&m);
    int V, V2;
    float *want = logits_of(native, &V), *got = logits_of(path, &V2);
    if (want && got) {
        double d = max_diff(want, got, 12 * (size_t)V);
        EXPECT(V == V2 && d <= tol, "%s: max logit diff %g > %g", path, d, tol);
        if (getenv("VERBOSE")) fprintf(stderr, "%s: max logit diff %g\n", path, d);
    }
    if (dt == DT_Q8_0 && !strcmp(name, "dense_sw8_f32")) {
        int a[16], b[16];
        greedy(native, 1, 16, a);
        greedy(path, 1, 16, b);
        EXPECT(!memcmp(a, b, sizeof a), "%s: greedy ids differ from the native model's", path);
    }
    free(want), free(got);
}

/* model_load fails with a message holding every string of `want`; the CLI
 * exits 1 with one line naming them too. */
static void expect_bad(const char *label, const Damage *dmg, const char *want1, const char *want2) {
    char path[600];
    snprintf(path, sizeof path, "%s/bad_%s.gguf", tmp, label);
    Model m;
    CHECK(model_load(&m, "tests/data/tiny/moe_sw8_f32", NULL) == 0);
    write_gguf(&m, path, DT_F32, 0, dmg);
    model_free(&m);
    if (!strcmp(label, "type")) { /* patch blk.0.attn_q.weight from f32 (0) to i32 (26): same size */
        size_t len;
        char *buf = read_file(path, &len);
        CHECK(buf);
        const char *nm = "blk.0.attn_q.weight";
        char *p = NULL;
        for (size_t i = 0; i + strlen(nm) <= len && !p; i++)
            if (!memcmp(buf + i, nm, strlen(nm))) p = buf + i;
        CHECK(p);
        p += strlen(nm) + 4 + 2 * 8; /* n_dims, two dims */
        CHECK(p[0] == 0);
        p[0] = 26;
        CHECK(test_write_file(path, buf, len) == 0);
        free(buf);
    }
    int rc = model_load(&m, path, NULL);
    const char *e = err_msg();
    EXPECT(rc == -1 && strstr(e, path) && strstr(e, want1) && (!want2 || strstr(e, want2)),
           "%s: %s", label, e);
    char cmd[800], *err = NULL;
    snprintf(cmd, sizeof cmd, "./build/mistral logits -m %s --tokens 1", path);
    int st = test_run(cmd, NULL, &err);
    if (getenv("VERBOSE")) fprintf(stderr, "%s: %s", label, err ? err : "(none)\n");
    EXPECT(st == 1 && err && strstr(err, want1) && strchr(err, '\n') == err + strlen(err) - 1,
           "%s via the CLI: status %d, stderr %s", label, st, err ? err : "");
    free(err);
}

/* A random model wide enough for the k-quants' 256-element blocks (dim and
 * hidden_dim 256, 2 layers, vocab 128), written in type dt (twin: Out.twin). */
static void write_wide(const char *path, DType dt, int twin) {
    enum { D = 256, L = 2, V = 128 };
    static float x[D * D]; /* the largest: D rows of D */
    unsigned long long r = 42;
    Out *o = xcalloc(1, sizeof *o);
    o->dt = dt, o->twin = twin;
    gguf_writer_init(&o->w);
    GGUFWriter *w = &o->w;
    gguf_writer_add_string(w, "general.architecture", "llama");
    gguf_writer_add_u32(w, "llama.embedding_length", D);
    gguf_writer_add_u32(w, "llama.block_count", L);
    gguf_writer_add_u32(w, "llama.feed_forward_length", D);
    gguf_writer_add_u32(w, "llama.attention.head_count", 4);
    gguf_writer_add_u32(w, "llama.attention.head_count_kv", 2);
    gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf_writer_add_u32(w, "llama.vocab_size", V);
    static const char *const mats[] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_down", "ffn_up"};
    static const int rows[] = {D, D / 2, D / 2, D, D, D, D};
    char name[64];
    for (int t = -1; t < L * 9; t++) {
        int l = t < 0 ? 0 : t / 9, k = t < 0 ? 0 : t % 9, n = t < 0 ? V : k < 7 ? rows[k] : 1;
        for (int i = 0; i < n * D; i++) { /* uniform in +-1/sqrt(D); norms near 1 */
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            float u = (float)((r >> 40) / 16777216.0) * 2 - 1;
            x[i] = k >= 7 ? 1 + 0.1f * u : u / 16;
        }
        if (t < 0) snprintf(name, sizeof name, "token_embd.weight");
        else if (k < 7) snprintf(name, sizeof name, "blk.%d.%s.weight", l, mats[k]);
        else snprintf(name, sizeof name, "blk.%d.%s.weight", l, k == 7 ? "attn_norm" : "ffn_norm");
        add_rows(o, name, x, n == 1 ? D : n, n == 1 ? 1 : D, 1, n == 1);
    }
    for (int i = 0; i < D; i++) x[i] = 1;
    add_rows(o, "output_norm.weight", x, D, 1, 1, 1);
    FILE *fp = fopen(path, "wb");
    CHECK(fp && gguf_writer_write(&o->w, fp) == 0);
    fclose(fp);
    gguf_writer_free(&o->w);
    for (int i = 0; i < o->n_bufs; i++) free(o->bufs[i]);
    free(o);
}

/* The k-quants and the 32-blocks on the wide model, against its f32 file. */
static void check_kquants(void) {
    static const DType types[] = {DT_Q4_K, DT_Q5_K, DT_Q6_K, DT_Q4_0, DT_Q4_1, DT_Q5_0, DT_Q5_1, DT_Q8_0};
    /* measured max |logit diff| (its logits are within +-1.8): q4_K 0.30, q5_K 0.13,
     * q6_K 0.088, q4_0 0.34, q4_1 0.32, q5_0 0.14, q5_1 0.15, q8_0 0.022; bounds 1.5x */
    static const double tol[] = {0.45, 0.2, 0.13, 0.5, 0.5, 0.21, 0.22, 0.033};
    char ref[600], path[600];
    snprintf(ref, sizeof ref, "%s/wide_f32.gguf", tmp);
    write_wide(ref, DT_F32, 0);
    int V, V2;
    float *want = logits_of(ref, &V);
    double maxabs = 0;
    for (size_t i = 0; want && i < 12 * (size_t)V; i++)
        if (fabs(want[i]) > maxabs) maxabs = fabs(want[i]);
    if (getenv("VERBOSE")) fprintf(stderr, "wide model: max |logit| %g\n", maxabs);
    for (size_t i = 0; i < sizeof types / sizeof types[0] && want; i++) {
        snprintf(path, sizeof path, "%s/wide_%s.gguf", tmp, dtype_traits(types[i])->name);
        write_wide(path, types[i], 0);
        float *got = logits_of(path, &V2);
        double d = got ? max_diff(want, got, 12 * (size_t)V) : 1e30;
        EXPECT(d <= tol[i], "%s: max logit diff %g > %g", path, d, tol[i]);
        if (getenv("VERBOSE")) fprintf(stderr, "%s: max logit diff %g\n", path, d);
        /* packed weights (where the kernel table has a layout for the type):
         * chunked and threaded equal one-shot bit for bit; unpacked differs
         * by the order of fp32 additions only */
        float *chunked = got ? logits_ex(path, &V2, 5, 2, 1) : NULL, *plain = got ? logits_ex(path, &V2, 0, 1, 0) : NULL;
        EXPECT(chunked && !memcmp(got, chunked, 12 * (size_t)V * sizeof(float)), "%s: chunked + 2 threads differ from one-shot", path);
        double dp = plain ? max_diff(got, plain, 12 * (size_t)V) : 1e30;
        EXPECT(dp <= 1e-4, "%s: packed vs unpacked weights: max logit diff %g", path, dp);
        if (getenv("VERBOSE")) fprintf(stderr, "%s: packed vs unpacked %g\n", path, dp);
        free(got), free(chunked), free(plain);
    }
    free(want);
}

/* The types read but not written (random blocks, tests/unit/randblocks.h)
 * on the wide model: the logits near those of the same weights in f32 (the
 * difference is the q8_0 rounding of the activations); chunked on 2 threads
 * equal to one-shot bit for bit; `mistral info` names the type; greedy ids
 * the same with -t 1 and -t 2 and whatever the chunk size. */
static void check_read_only(void) {
    static const DType types[] = {DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS, DT_TQ1_0, DT_TQ2_0};
    /* measured max |logit diff| vs the f32 twin: q2_K 0.014, q3_K 0.026,
     * iq4_nl 0.023, iq4_xs 0.049, tq1_0 0.029, tq2_0 0.019; bounds 1.5x */
    static const double tol[] = {0.021, 0.039, 0.035, 0.073, 0.044, 0.028};
    char path[600], twin[600], cmd[1600];
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const char *tn = dtype_traits(types[i])->name;
        snprintf(path, sizeof path, "%s/wide_%s.gguf", tmp, tn);
        snprintf(twin, sizeof twin, "%s/wide_%s_f32.gguf", tmp, tn);
        write_wide(path, types[i], 0);
        write_wide(twin, types[i], 1);
        int V, V2;
        float *got = logits_of(path, &V), *want = logits_of(twin, &V2);
        double d = got && want ? max_diff(want, got, 12 * (size_t)V) : 1e30;
        EXPECT(d <= tol[i], "%s: max logit diff %g from its f32 twin > %g", path, d, tol[i]);
        if (getenv("VERBOSE")) fprintf(stderr, "%s: max logit diff from the f32 twin %g\n", path, d);
        float *chunked = got ? logits_ex(path, &V2, 5, 2, 1) : NULL;
        EXPECT(chunked && !memcmp(got, chunked, 12 * (size_t)V * sizeof(float)), "%s: chunked + 2 threads differ from one-shot", path);
        free(got), free(want), free(chunked);

        char *info = NULL;
        snprintf(cmd, sizeof cmd, "./build/mistral info %s", path);
        EXPECT(test_run(cmd, &info, NULL) == 0 && info && strstr(info, tn), "mistral info names %s: %s", tn, info ? info : "");
        free(info);
        char *ids[3] = {NULL, NULL, NULL};
        static const char *const how[3] = {"-t 1", "-t 2 --chunk-size 3", "-t 2 --chunk-size 1"};
        for (int k = 0; k < 3; k++) {
            snprintf(cmd, sizeof cmd, "./build/mistral generate -m %s --tokens 1,7,59,43,68,108,65 -n 12 --ids --temperature 0 %s 2>/dev/null",
                     path, how[k]);
            EXPECT(test_run(cmd, &ids[k], NULL) == 0 && ids[k] && *ids[k], "%s", cmd);
        }
        EXPECT(ids[0] && ids[1] && ids[2] && !strcmp(ids[0], ids[1]) && !strcmp(ids[0], ids[2]),
               "%s: greedy ids differ with threads or chunks: %s / %s / %s", path, ids[0] ? ids[0] : "", ids[1] ? ids[1] : "",
               ids[2] ? ids[2] : "");
        if (getenv("VERBOSE")) fprintf(stderr, "%s: greedy %s", path, ids[0] ? ids[0] : "\n");
        for (int k = 0; k < 3; k++) free(ids[k]);
    }
}

static void check_stories(void) {
    const char *shared = test_shared_dir();
    if (!shared) return;
    char native[512], path[600];
    snprintf(native, sizeof native, "%s/models/stories260K", shared);
    snprintf(path, sizeof path, "%s/stories260K_q8_0.gguf", tmp);
    Model m;
    CHECK(model_load(&m, native, NULL) == 0);
    Tokenizer tok;
    char tpath[600];
    snprintf(tpath, sizeof tpath, "%s/tokenizer.model", native);
    CHECK(tokenizer_load(&tok, tpath) == 0);
    with_tokenizer = &tok;
    write_gguf(&m, path, DT_Q8_0, 0, NULL);
    with_tokenizer = NULL;
    tokenizer_free(&tok);
    model_free(&m);
    /* the file alone is enough for text in and out */
    char cmd[1400], *want = NULL, *got = NULL;
    snprintf(cmd, sizeof cmd, "./build/mistral generate -m %s -p 'Once upon a time' -n 24 2>/dev/null", native);
    EXPECT(test_run(cmd, &want, NULL) == 0, "%s", cmd);
    snprintf(cmd, sizeof cmd, "./build/mistral generate -m %s -p 'Once upon a time' -n 24 2>/dev/null", path);
    EXPECT(test_run(cmd, &got, NULL) == 0, "%s", cmd);
    EXPECT(want && got && !strcmp(want, got), "stories260K q8_0 text: \"%s\" vs f32 \"%s\"",
           got ? got : "", want ? want : "");
    free(want), free(got);
    snprintf(cmd, sizeof cmd, "./build/mistral info %s", path);
    char *info = NULL;
    EXPECT(test_run(cmd, &info, NULL) == 0 && info && strstr(info, "GGUF v3") &&
               strstr(info, "SentencePiece, 512 tokens") && strstr(info, "q8_0") && strstr(info, "chat format   v1"),
           "mistral info: %s", info ? info : "");
    free(info);
    int a[40], b[40], same = 0;
    greedy(native, 1, 40, a);
    greedy(path, 1, 40, b);
    while (same < 40 && a[same] == b[same]) same++;
    EXPECT(same >= 20, "stories260K q8_0: greedy ids equal for only %d tokens", same);
    if (getenv("VERBOSE")) fprintf(stderr, "stories260K q8_0: %d of 40 greedy ids equal\n", same);
}

int main(void) {
    tmp = test_tmpdir();
    static const char *const tiny[] = {"dense_sw4096_f32", "dense_sw8_f32", "dense_sw8_bf16",
                                       "moe_nowin_kv1_f32", "moe_sw8_f32", "moe_sw8_bf16"};
    for (size_t i = 0; i < sizeof tiny / sizeof tiny[0]; i++) {
        /* measured max |logit diff| over 12 positions: f32 0 (bitwise), f16 3.7e-3,
         * bf16 3.2e-2, q8_0 0.104 (logits of these random models span about +-5) */
        check_model(tiny[i], 0, DT_F32, 0);
        check_model(tiny[i], 0, DT_F16, 1e-2);
        check_model(tiny[i], 0, DT_BF16, 5e-2);
        check_model(tiny[i], 0, DT_Q8_0, 0.15);
    }
    static const char *const conformance[] = {"tiny/dense_sw5_f16", "tiny/dense_swlist_bf16",
                                              "tiny/hd24_sw5_f32", "tiny/moe6_top3_kv1_sw5_f32",
                                              "tiny/moe8_top2_mha_f32"};
    for (size_t i = 0; i < sizeof conformance / sizeof conformance[0]; i++)
        check_model(conformance[i], 0, DT_F32, 0);
    check_model("moe_sw8_f32", PER_EXPERT, DT_F32, 0);
    check_model("moe_nowin_kv1_f32", PER_EXPERT, DT_Q8_0, 0.15);
    check_kquants();
    check_read_only();
    check_stories();

    expect_bad("key", &(Damage){.drop_key = "llama.attention.layer_norm_rms_epsilon"},
               "llama.attention.layer_norm_rms_epsilon", NULL);
    expect_bad("arch", &(Damage){.arch = "gemma"}, "general.architecture", "gemma");
    expect_bad("missing", &(Damage){.drop_tensor = "blk.1.ffn_down_exps.weight"},
               "blk.1.ffn_down.0.weight", NULL);
    expect_bad("shape", &(Damage){.bad_shape = "blk.0.attn_k.weight"}, "blk.0.attn_k.weight", "shape");
    expect_bad("type", &(Damage){0}, "blk.0.attn_q.weight", "i32");
    test_rm_rf(tmp);
    return test_done("test_ggufmodel");
}
