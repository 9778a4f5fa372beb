/* mistral synth — a random-weight model of a named shape as a llama.cpp GGUF
 * file (architecture llama, llama.cpp's names and metadata as quantize
 * writes them, stacked experts for MoE), so that anyone can benchmark
 * without downloading weights. With --tokenizer the file carries that
 * tokenizer's metadata (llama.cpp will not load a model without one).
 *
 * Weights: uniform in ±sqrt(3/cols) (variance 1/cols) from a seeded
 * splitmix64, made row by row in fp32 and written with the type's quantize
 * (kern/dtype.h); norms 1 ± 0.01; the MoE router stays f32. Every 2-D
 * weight gets the --type's base type (no k-quant mixes). The GGUF writer
 * holds every tensor until it writes, so the whole output is in memory
 * once (7B at q8_0: about 7.7 GB). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/commands.h"
#include "base/util.h"
#include "model/names.h"
#include "model/quantize.h"
#include "tok/tokenizer.h"
#include "tok/tokfile.h"
#include "tok/tokgguf.h"

typedef struct {
    const char *name;
    int dim, n_layers, n_heads, n_kv_heads, hidden_dim, n_vocab, window, n_experts, n_active;
    double rope_theta;
} Shape;

static const Shape shapes[] = {
    {"tiny", 64, 2, 4, 2, 160, 256, 0, 0, 0, 10000.0},
    {"1b", 2048, 16, 16, 4, 7168, 32000, 4096, 0, 0, 10000.0},
    {"7b", 4096, 32, 32, 8, 14336, 32768, 4096, 0, 0, 1000000.0},
    {"8x7b", 4096, 32, 32, 8, 14336, 32000, 0, 8, 2, 1000000.0},
    {"moe-small", 1024, 8, 8, 2, 2048, 32000, 0, 8, 2, 1000000.0},
    {"tiny-moe", 64, 2, 4, 2, 160, 256, 0, 4, 2, 10000.0},
};

/* uniform in [-1, 1) */
static float rng_unit(uint64_t *s) { return (float)((double)(splitmix64(s) >> 11) * 0x1.0p-52 - 1.0); }

typedef struct {
    GGUFWriter w;
    void **bufs;
    int n_bufs, cap_bufs;
    uint64_t rng;
    DType type;
    size_t bytes;
} Synth;

static void *keep(Synth *s, size_t n) {
    if (s->n_bufs == s->cap_bufs) {
        s->cap_bufs = s->cap_bufs ? 2 * s->cap_bufs : 64;
        void **nb = realloc(s->bufs, (size_t)s->cap_bufs * sizeof *nb);
        if (!nb) die("out of memory");
        s->bufs = nb;
    }
    void *p = xmalloc(n ? n : 1);
    s->bufs[s->n_bufs++] = p;
    s->bytes += n;
    return p;
}

static const char *gguf_name(const char *native, char *buf, size_t cap) {
    int e;
    if (names_native_to_gguf(buf, cap, native, &e)) die("synth: no GGUF name for %s", native);
    return buf;
}

static void add_vec(Synth *s, const char *native, int n) {
    char name[128];
    float *v = keep(s, (size_t)n * sizeof *v);
    for (int i = 0; i < n; i++) v[i] = 1.0f + 0.01f * rng_unit(&s->rng);
    int64_t dims[1] = {n};
    gguf_writer_add_tensor(&s->w, gguf_name(native, name, sizeof name), DT_F32, 1, dims, v);
}

/* n_mats stacked matrices of rows x cols in type t (n_mats 0: a plain 2-D). */
static void add_mat(Synth *s, const char *native, int rows, int cols, int n_mats, DType t) {
    char name[128];
    const DTypeTraits *tr = dtype_traits(t);
    if (cols % tr->block)
        die("synth: %s has rows of %d elements, not a multiple of %s's block of %d", native,
            cols, tr->name, tr->block);
    size_t rb = dtype_bytes(t, (size_t)cols);
    int nm = n_mats ? n_mats : 1;
    char *data = keep(s, rb * (size_t)rows * (size_t)nm);
    float *row = xmalloc((size_t)cols * sizeof *row);
    float scale = sqrtf(3.0f / (float)cols);
    for (size_t r = 0; r < (size_t)rows * (size_t)nm; r++) {
        for (int c = 0; c < cols; c++) row[c] = scale * rng_unit(&s->rng);
        tr->quantize(data + r * rb, row, (size_t)cols);
    }
    free(row);
    int64_t dims[3] = {cols, rows, nm};
    gguf_writer_add_tensor(&s->w, gguf_name(native, name, sizeof name), t, n_mats ? 3 : 2, dims,
                           data);
}

int cmd_synth(const Options *o) {
    if (o->n_args != 1) usage_error(o->cmd, "%s", "give one output path: mistral synth OUT.gguf");
    if (!o->shape) usage_error(o->cmd, "%s", "missing --shape (tiny, 1b, 7b, 8x7b, moe-small, tiny-moe)");
    if (!o->type) usage_error(o->cmd, "%s", "missing --type (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
    const Shape *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(o->shape, shapes[i].name)) sh = &shapes[i];
    if (!sh) usage_error(o->cmd, "unknown --shape \"%s\" (tiny, 1b, 7b, 8x7b, moe-small, tiny-moe)", o->shape);
    const QuantScheme *qs = quant_scheme_find(o->type);
    if (!qs) usage_error(o->cmd, "%s", err_msg());
    DType t = qs->base;
    if (!dtype_traits(t)->quantize) die("synth: cannot write type %s", o->type);

    Model m;
    memset(&m, 0, sizeof m);
    Config *c = &m.cfg;
    c->dim = sh->dim;
    c->n_layers = sh->n_layers;
    c->n_heads = sh->n_heads;
    c->n_kv_heads = sh->n_kv_heads;
    c->head_dim = sh->dim / sh->n_heads;
    c->hidden_dim = sh->hidden_dim;
    c->n_vocab = sh->n_vocab;
    c->norm_eps = 1e-5f;
    c->rope_theta = sh->rope_theta;
    c->n_experts = sh->n_experts;
    c->n_active = sh->n_active;
    c->window = xcalloc((size_t)c->n_layers, sizeof *c->window);
    for (int l = 0; l < c->n_layers; l++) c->window[l] = sh->window;

    Synth s;
    memset(&s, 0, sizeof s);
    s.rng = o->seed * 0x2545f4914f6cdd1dull + 1;
    s.type = t;
    gguf_writer_init(&s.w);
    char gname[64];
    snprintf(gname, sizeof gname, "synth-%s-%s", sh->name, o->type);
    Tokenizer tok;
    memset(&tok, 0, sizeof tok);
    if (o->tokenizer) {
        if (tokenizer_load(&tok, o->tokenizer)) die("%s", err_msg());
        /* the test shapes take any tokenizer's vocabulary (a tiny MoE that speaks text) */
        if (!strncmp(sh->name, "tiny", 4)) c->n_vocab = tok.n_vocab;
        if (tok.n_vocab != c->n_vocab)
            die("synth: %s has %d tokens, shape %s needs %d", o->tokenizer, tok.n_vocab, sh->name, c->n_vocab);
    }
    quantize_add_metadata(&s.w, &m, qs, gname);
    if (o->tokenizer && tokenizer_to_gguf(&tok, &s.w)) die("%s", err_msg());

    int dim = c->dim, hd = c->head_dim, qd = c->n_heads * hd, kvd = c->n_kv_heads * hd;
    int hid = c->hidden_dim;
    if (dim >= 1024)
        fprintf(stderr, "synth: building %s (%s) in memory before writing it\n", sh->name, o->type);
    add_mat(&s, "tok_embeddings.weight", c->n_vocab, dim, 0, t);
    char nm[128];
    for (int l = 0; l < c->n_layers; l++) {
#define N(suffix) (snprintf(nm, sizeof nm, "layers.%d.%s", l, suffix), nm)
        add_vec(&s, N("attention_norm.weight"), dim);
        add_mat(&s, N("attention.wq.weight"), qd, dim, 0, t);
        add_mat(&s, N("attention.wk.weight"), kvd, dim, 0, t);
        add_mat(&s, N("attention.wv.weight"), kvd, dim, 0, t);
        add_mat(&s, N("attention.wo.weight"), dim, qd, 0, t);
        add_vec(&s, N("ffn_norm.weight"), dim);
        if (c->n_experts) {
            add_mat(&s, N("feed_forward.gate.weight"), c->n_experts, dim, 0, DT_F32);
            add_mat(&s, N("feed_forward.experts.0.w1.weight"), hid, dim, c->n_experts, t);
            add_mat(&s, N("feed_forward.experts.0.w2.weight"), dim, hid, c->n_experts, t);
            add_mat(&s, N("feed_forward.experts.0.w3.weight"), hid, dim, c->n_experts, t);
        } else {
            add_mat(&s, N("feed_forward.w1.weight"), hid, dim, 0, t);
            add_mat(&s, N("feed_forward.w2.weight"), dim, hid, 0, t);
            add_mat(&s, N("feed_forward.w3.weight"), hid, dim, 0, t);
        }
#undef N
    }
    add_vec(&s, "norm.weight", dim);
    add_mat(&s, "output.weight", c->n_vocab, dim, 0, t);

    FILE *fp = fopen(o->args[0], "wb");
    if (!fp) die("cannot write %s", o->args[0]);
    int rc = gguf_writer_write(&s.w, fp);
    if (fclose(fp) && !rc) rc = err_set("%s: write failed", o->args[0]);
    for (int i = 0; i < s.n_bufs; i++) free(s.bufs[i]);
    free(s.bufs);
    gguf_writer_free(&s.w);
    tokenizer_free(&tok);
    free(c->window);
    if (rc) die("%s", err_msg());
    fprintf(stderr, "synth: wrote %s: shape %s, %s, %.1f MB of tensors\n", o->args[0], sh->name,
            o->type, (double)s.bytes / 1e6);
    return 0;
}
