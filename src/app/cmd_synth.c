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
 * once (7B at q8_0: about 7.7 GB).
 *
 * Random weights give flat logits, where any rounding flips the argmax, so
 * a quantized copy rarely picks what the original picks. --sharpen S makes
 * the model predictable, for benchmarks of speculative decoding at a chosen
 * agreement: the embeddings are scaled up (sqrt(dim) times) so that the
 * current token dominates the residual stream, and each output row i gets
 * S / sqrt(dim) times the unit embedding direction of the token pi^-1(i) (pi a
 * seeded permutation): the next token's logit then stands about S above the
 * others (which are about N(0, 1)), so larger S means a quantized copy
 * agrees more often. The embedding rows come from a generator seeded per
 * row, so the output rows can remake them. */
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
    /* rows that fit the 256-element blocks of the k-quants (the quantizer benchmarks) */
    {"tiny-k", 256, 4, 8, 2, 768, 256, 0, 0, 0, 10000.0},
    {"tiny-k-moe", 256, 4, 8, 2, 768, 256, 0, 4, 2, 10000.0},
};

/* uniform in [-1, 1) */
static float rng_unit(uint64_t *s) { return (float)((double)(splitmix64(s) >> 11) * 0x1.0p-52 - 1.0); }

/* One tensor to make when the writer reaches it: rows x cols (x n_mats)
 * weights of type t, or a norm vector of cols (rows 0). */
typedef struct Synth Synth;
typedef enum { FILL_PLAIN, FILL_EMBED, FILL_OUTPUT } FillKind; /* the last two: --sharpen */

typedef struct {
    Synth *s;
    int rows, cols, n_mats;
    DType type;
    FillKind kind;
} Pending;

struct Synth {
    GGUFWriter w;
    Pending *pend; /* owns [cap_pend]; the writer holds pointers into it */
    int n_pend, cap_pend;
    uint64_t rng;
    DType type;
    size_t bytes;
    float sharpen;   /* --sharpen S (0: off) */
    uint64_t seed;   /* of the per-row embedding generators */
    int *perm_inv;   /* owns [n_vocab] with sharpen: pi^-1 */
};

static Pending *pending(Synth *s, int rows, int cols, int n_mats, DType t) {
    if (s->n_pend == s->cap_pend) die("synth: more tensors than planned");
    Pending *p = &s->pend[s->n_pend++];
    *p = (Pending){s, rows, cols, n_mats, t, FILL_PLAIN};
    return p;
}

static const char *gguf_name(const char *native, char *buf, size_t cap) {
    int e;
    if (names_native_to_gguf(buf, cap, native, &e)) die("synth: no GGUF name for %s", native);
    return buf;
}

static int fill_vec(void *ud, void *dst, size_t nbytes) {
    Pending *p = ud;
    float *v = dst;
    (void)nbytes;
    for (int i = 0; i < p->cols; i++) v[i] = 1.0f + 0.01f * rng_unit(&p->s->rng);
    return 0;
}

static void add_vec(Synth *s, const char *native, int n) {
    char name[128];
    int64_t dims[1] = {n};
    s->bytes += (size_t)n * sizeof(float);
    gguf_writer_add_tensor_fill(&s->w, gguf_name(native, name, sizeof name), DT_F32, 1, dims, fill_vec,
                                pending(s, 0, n, 0, DT_F32));
}

/* Embedding row r under --sharpen: its own generator, so that the output
 * rows can make it again; scaled so that each element is about +-sqrt(3). */
static void embed_row(const Synth *s, int r, float *row, int cols) {
    uint64_t g = s->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(r + 1));
    float scale = sqrtf(3.0f);
    for (int c = 0; c < cols; c++) row[c] = scale * rng_unit(&g);
}

static int fill_mat(void *ud, void *dst, size_t nbytes) {
    Pending *p = ud;
    const DTypeTraits *tr = dtype_traits(p->type);
    size_t rb = dtype_bytes(p->type, (size_t)p->cols);
    float *row = xmalloc((size_t)p->cols * sizeof *row), *e = xmalloc((size_t)p->cols * sizeof *e);
    float scale = sqrtf(3.0f / (float)p->cols);
    (void)nbytes;
    for (size_t r = 0; r < (size_t)p->rows * (size_t)(p->n_mats ? p->n_mats : 1); r++) {
        if (p->kind == FILL_EMBED) {
            embed_row(p->s, (int)r, row, p->cols);
        } else {
            for (int c = 0; c < p->cols; c++) row[c] = scale * rng_unit(&p->s->rng);
        }
        if (p->kind == FILL_OUTPUT) { /* + S / sqrt(dim) along the unit embedding of pi^-1(r) */
            embed_row(p->s, p->s->perm_inv[r], e, p->cols);
            double n2 = 0;
            for (int c = 0; c < p->cols; c++) n2 += (double)e[c] * e[c];
            float k = (float)(p->s->sharpen / sqrt((double)p->cols) / sqrt(n2 > 0 ? n2 : 1));
            for (int c = 0; c < p->cols; c++) row[c] += k * e[c];
        }
        tr->quantize((char *)dst + r * rb, row, (size_t)p->cols);
    }
    free(row), free(e);
    return 0;
}

/* n_mats stacked matrices of rows x cols in type t (n_mats 0: a plain 2-D). */
static void add_mat_kind(Synth *s, const char *native, int rows, int cols, int n_mats, DType t, FillKind kind) {
    char name[128];
    const DTypeTraits *tr = dtype_traits(t);
    if (cols % tr->block)
        die("synth: %s has rows of %d elements, not a multiple of %s's block of %d", native,
            cols, tr->name, tr->block);
    int64_t dims[3] = {cols, rows, n_mats ? n_mats : 1};
    s->bytes += dtype_bytes(t, (size_t)cols) * (size_t)rows * (size_t)(n_mats ? n_mats : 1);
    Pending *p = pending(s, rows, cols, n_mats, t);
    p->kind = kind;
    gguf_writer_add_tensor_fill(&s->w, gguf_name(native, name, sizeof name), t, n_mats ? 3 : 2, dims, fill_mat, p);
}

static void add_mat(Synth *s, const char *native, int rows, int cols, int n_mats, DType t) {
    add_mat_kind(s, native, rows, cols, n_mats, t, FILL_PLAIN);
}

int cmd_synth(const Options *o) {
    if (o->n_args != 1) usage_error(o->cmd, "%s", "give one output path: mistral synth OUT.gguf");
    if (!o->shape) usage_error(o->cmd, "%s", "missing --shape (tiny, 1b, 7b, 8x7b, moe-small, tiny-moe, tiny-k, tiny-k-moe)");
    if (!o->type) usage_error(o->cmd, "%s", "missing --type (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)");
    const Shape *sh = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(o->shape, shapes[i].name)) sh = &shapes[i];
    if (!sh) usage_error(o->cmd, "unknown --shape \"%s\" (tiny, 1b, 7b, 8x7b, moe-small, tiny-moe, tiny-k, tiny-k-moe)", o->shape);
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
    if (!(o->sharpen >= 0 && o->sharpen <= 1000)) usage_error(o->cmd, "--sharpen %g: give a number in [0, 1000]", o->sharpen);
    s.sharpen = (float)o->sharpen;
    s.seed = o->seed * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull; /* leaves s.rng as it was */
    s.cap_pend = 3 + 10 * c->n_layers; /* embeddings, norm, output; at most 10 per layer */
    s.pend = xcalloc((size_t)s.cap_pend, sizeof *s.pend);
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
    if (s.sharpen > 0) { /* a seeded permutation (Fisher-Yates), stored inverted */
        int *perm = xmalloc((size_t)c->n_vocab * sizeof *perm);
        uint64_t g = s.seed + 1;
        for (int i = 0; i < c->n_vocab; i++) perm[i] = i;
        for (int i = c->n_vocab - 1; i > 0; i--) {
            int j = (int)(splitmix64(&g) % (uint64_t)(i + 1)), x = perm[i];
            perm[i] = perm[j], perm[j] = x;
        }
        s.perm_inv = xmalloc((size_t)c->n_vocab * sizeof *s.perm_inv);
        for (int i = 0; i < c->n_vocab; i++) s.perm_inv[perm[i]] = i;
        free(perm);
    }
    add_mat_kind(&s, "tok_embeddings.weight", c->n_vocab, dim, 0, t, s.sharpen > 0 ? FILL_EMBED : FILL_PLAIN);
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
    add_mat_kind(&s, "output.weight", c->n_vocab, dim, 0, t, s.sharpen > 0 ? FILL_OUTPUT : FILL_PLAIN);

    FILE *fp = fopen(o->args[0], "wb");
    if (!fp) die("cannot write %s", o->args[0]);
    int rc = gguf_writer_write(&s.w, fp);
    if (fclose(fp) && !rc) rc = err_set("%s: write failed", o->args[0]);
    free(s.pend), free(s.perm_inv);
    gguf_writer_free(&s.w);
    tokenizer_free(&tok);
    free(c->window);
    if (rc) die("%s", err_msg());
    fprintf(stderr, "synth: wrote %s: shape %s, %s, %.1f MB of tensors\n", o->args[0], sh->name,
            o->type, (double)s.bytes / 1e6);
    return 0;
}
