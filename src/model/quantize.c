/* quantize — a model to a llama.cpp GGUF file of one file type.
 *
 * Type rules (llama.cpp src/llama-quant.cpp, llama_tensor_get_type and
 * llama_model_quantize_impl, for the file types we write; the low-bit ones
 * as of llama.cpp 007dbbf, 2026):
 *   - 1-D tensors (the norms) are F32; ffn_gate_inp (the MoE router) is F32
 *     (llama.cpp never quantizes it; convert_hf_to_gguf writes it F32).
 *   - f32, f16, bf16: every other weight in that type; no further rules.
 *   - the quantized schemes start every other weight at the scheme's base
 *     type (q2_K for q2_k, q3_K for q3_k_s/m/l, iq4_nl, iq4_xs), then:
 *     output.weight (token_embd.weight when the model has no output.weight):
 *       q8_0 if its rows do not fit the base type's block, else q6_K unless
 *       the base is q8_0;
 *     attn_v: q2_k: q4_K if n_heads/n_kv_heads >= 4, else q3_K;
 *       q3_k_m: q5_K on layers 0, 1, else q4_K; q3_k_l: q5_K;
 *       iq4_nl, iq4_xs: q5_K if n_heads/n_kv_heads >= 4;
 *       q4_k_m, q5_k_m: q6_K on layers where use_more_bits(l, n);
 *       q4_k (Q4_K_S): q5_K on layers 0..3; 8 experts: q8_0 (all schemes);
 *     attn_k: 8 experts: q8_0;
 *     ffn_down(_exps): q2_k: q3_K; q3_k_m: q5_K on layers l < n/16, else
 *       q4_K; q3_k_l: q5_K; q4_k_m, q5_k_m: q6_K where use_more_bits(l, n);
 *       iq4_nl, iq4_xs: q5_K on layers l < n/8 without an importance
 *       matrix; q4_k (Q4_K_S): q5_K on layers l < n/8; q4_0 with an
 *       importance matrix: q4_1 on layers l < n/8;
 *     attn_output: 8 experts: q5_K for q2_k, q3_k_s, q3_k_m, iq4_nl, iq4_xs,
 *       q4_k, q4_k_m (not q3_k_l); dense: q2_k: q3_K, q3_k_m: q4_K,
 *       q3_k_l: q5_K;
 *     use_more_bits(l, n) = l < n/8 || l >= 7n/8 || (l - n/8) % 3 == 2.
 *   - fallback, when the row length is not a multiple of the chosen type's
 *     block (K-quants, iq4_xs: 256): q4_K -> q5_0, q5_K -> q5_1, q6_K ->
 *     q8_0, q2_K, q3_K -> q4_0 (older llama.cpp: iq4_nl), iq4_xs ->
 *     iq4_nl, then f16 if that still does not fit. For q8_0 and q4_0
 *     llama-quantize stops with "Unsupported tensor size"; we fall back to
 *     f16 as llama.cpp's convert_hf_to_gguf does for rows its quantizer
 *     cannot take.
 * (llama.cpp's 70B-model and Falcon rules do not apply here.) Checked
 * against llama.cpp (c392e50, Feb 2025) out of the tree: from the same f32
 * GGUF, llama-quantize writes the same type and the same bytes
 * for every tensor, for each file type here but f32/f16/bf16 and the six
 * low-bit ones (whose quantizers were compared with ggml's directly, see
 * kern/quant_k2.c); with an importance matrix, the same bytes for every
 * low-bit type too, dense and MoE (bench/quant_quality.sh, bench/RESULTS.md),
 * but where rows fall back: c392e50 sends q2_K/q3_K to iq4_nl, 007dbbf and
 * we to q4_0. */
#include "model/quantize.h"

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/util.h"
#include "model/names.h"

/* ---- schemes and type rules ------------------------------------------------ */

static const QuantScheme schemes[] = {
    {"f32", FTYPE_ALL_F32, DT_F32},   {"f16", FTYPE_F16, DT_F16},
    {"bf16", FTYPE_BF16, DT_BF16},    {"q8_0", FTYPE_Q8_0, DT_Q8_0},
    {"q4_0", FTYPE_Q4_0, DT_Q4_0},    {"q4_k", FTYPE_Q4_K_S, DT_Q4_K},
    {"q5_k", FTYPE_Q5_K_S, DT_Q5_K},  {"q6_k", FTYPE_Q6_K, DT_Q6_K},
    {"q4_k_m", FTYPE_Q4_K_M, DT_Q4_K}, {"q5_k_m", FTYPE_Q5_K_M, DT_Q5_K},
    /* llama-quantize's names for q4_k and q5_k (its "Q4_K" is Q4_K_M) */
    {"q4_k_s", FTYPE_Q4_K_S, DT_Q4_K}, {"q5_k_s", FTYPE_Q5_K_S, DT_Q5_K},
    {"q2_k", FTYPE_Q2_K, DT_Q2_K},     {"q3_k_s", FTYPE_Q3_K_S, DT_Q3_K},
    {"q3_k_m", FTYPE_Q3_K_M, DT_Q3_K}, {"q3_k_l", FTYPE_Q3_K_L, DT_Q3_K},
    {"iq4_nl", FTYPE_IQ4_NL, DT_IQ4_NL}, {"iq4_xs", FTYPE_IQ4_XS, DT_IQ4_XS},
};
#define N_SCHEMES (sizeof schemes / sizeof schemes[0])

const char *quant_scheme_names(void) {
    return "f32, f16, bf16, q8_0, q4_0, q4_k (= q4_k_s), q5_k (= q5_k_s), q6_k, q4_k_m, q5_k_m, q2_k, "
           "q3_k_s, q3_k_m, q3_k_l, iq4_nl, iq4_xs";
}

/* llama.cpp's file types that are refused: the first group llama-quantize
 * itself refuses without an importance matrix (tools/quantize), the others
 * we do not write (the iq3 types need ggml's grids, which we do not carry;
 * tq1_0 and tq2_0 are read only). */
static const char *const needs_imatrix[] = {"iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq2_m", "q2_k_s"};
static const char *const not_written[] = {"iq3_xxs", "iq3_xs", "iq3_s", "iq3_m", "tq1_0", "tq2_0"};

const QuantScheme *quant_scheme_find(const char *name) {
    for (size_t i = 0; i < N_SCHEMES; i++)
        if (!strcasecmp(name, schemes[i].name)) return &schemes[i];
    for (size_t i = 0; i < sizeof needs_imatrix / sizeof needs_imatrix[0]; i++)
        if (!strcasecmp(name, needs_imatrix[i])) {
            err_set("%s is not written by mistral quantize: it needs ggml's codebooks and an importance matrix "
                    "(llama-quantize refuses it without one too)", needs_imatrix[i]);
            return NULL;
        }
    for (size_t i = 0; i < sizeof not_written / sizeof not_written[0]; i++)
        if (!strcasecmp(name, not_written[i])) {
            err_set("%s is not written by mistral quantize (known: %s)", not_written[i], quant_scheme_names());
            return NULL;
        }
    err_set("unknown type \"%.40s\" (known: %s)", name, quant_scheme_names());
    return NULL;
}

static int is_float(DType t) { return t == DT_F32 || t == DT_F16 || t == DT_BF16; }

static int use_more_bits(int l, int n) {
    return l < n / 8 || l >= 7 * n / 8 || (l - n / 8) % 3 == 2;
}

static int fits(DType t, int64_t row_len) { return row_len % dtype_traits(t)->block == 0; }

DType quant_tensor_type(const QuantScheme *s, const char *name, int layer, int n_layers,
                        int n_experts, int n_gqa, int64_t row_len, int has_output, int *fallback) {
    return quant_tensor_type_imat(s, name, layer, n_layers, n_experts, n_gqa, row_len, has_output, 0, fallback);
}

DType quant_tensor_type_imat(const QuantScheme *s, const char *name, int layer, int n_layers,
                             int n_experts, int n_gqa, int64_t row_len, int has_output, int has_imatrix,
                             int *fallback) {
    if (fallback) *fallback = 0;
    if (strstr(name, "ffn_gate_inp")) return DT_F32;
    if (is_float(s->base)) return s->base;
    DType t = s->base;
    int f = s->ftype, iq4 = f == FTYPE_IQ4_NL || f == FTYPE_IQ4_XS;
    int is_output = !strcmp(name, "output.weight");
    if (is_output || (!has_output && !strcmp(name, "token_embd.weight"))) {
        if (!fits(s->base, row_len)) t = DT_Q8_0;
        else if (s->base != DT_Q8_0) t = DT_Q6_K;
    } else if (!strcmp(name, "token_embd.weight")) {
        /* the base type */
    } else if (strstr(name, "attn_v.weight")) {
        if (f == FTYPE_Q2_K) t = n_gqa >= 4 ? DT_Q4_K : DT_Q3_K;
        else if (f == FTYPE_Q3_K_M) t = layer < 2 ? DT_Q5_K : DT_Q4_K;
        else if (f == FTYPE_Q3_K_L) t = DT_Q5_K;
        else if (iq4 && n_gqa >= 4) t = DT_Q5_K;
        else if ((f == FTYPE_Q4_K_M || f == FTYPE_Q5_K_M) && use_more_bits(layer, n_layers)) t = DT_Q6_K;
        else if (f == FTYPE_Q4_K_S && layer < 4) t = DT_Q5_K;
        if (n_experts == 8) t = DT_Q8_0;
    } else if (strstr(name, "attn_k.weight")) {
        if (n_experts == 8) t = DT_Q8_0;
    } else if (strstr(name, "ffn_down")) {
        if (f == FTYPE_Q2_K) t = DT_Q3_K;
        else if (f == FTYPE_Q3_K_M) t = layer < n_layers / 16 ? DT_Q5_K : DT_Q4_K;
        else if (f == FTYPE_Q3_K_L) t = DT_Q5_K;
        else if (f == FTYPE_Q4_K_M) t = use_more_bits(layer, n_layers) ? DT_Q6_K : t;
        else if (iq4 && layer < n_layers / 8 && !has_imatrix) t = DT_Q5_K;
        else if (f == FTYPE_Q5_K_M && use_more_bits(layer, n_layers)) t = DT_Q6_K;
        else if (f == FTYPE_Q4_K_S && layer < n_layers / 8) t = DT_Q5_K;
        else if (f == FTYPE_Q4_0 && has_imatrix && layer < n_layers / 8) t = DT_Q4_1;
    } else if (strstr(name, "attn_output.weight")) {
        if (n_experts == 8) {
            if (f == FTYPE_Q2_K || f == FTYPE_Q3_K_S || f == FTYPE_Q3_K_M || iq4 || f == FTYPE_Q4_K_S ||
                f == FTYPE_Q4_K_M)
                t = DT_Q5_K;
        } else if (f == FTYPE_Q2_K) {
            t = DT_Q3_K;
        } else if (f == FTYPE_Q3_K_M) {
            t = DT_Q4_K;
        } else if (f == FTYPE_Q3_K_L) {
            t = DT_Q5_K;
        }
    }
    if (fits(t, row_len)) return t;
    if (fallback) *fallback = 1;
    switch (t) {
    case DT_Q4_K: t = DT_Q5_0; break;
    case DT_Q5_K: t = DT_Q5_1; break;
    case DT_Q6_K: t = DT_Q8_0; break;
    case DT_Q2_K:
    case DT_Q3_K: t = DT_Q4_0; break;
    case DT_IQ4_XS: t = DT_IQ4_NL; break;
    default: t = DT_F16; break;
    }
    return fits(t, row_len) ? t : DT_F16;
}

/* ---- metadata ------------------------------------------------------------ */

/* llama.cpp's n_ctx_train: params.json has no maximum position; Mistral's
 * models are trained at 32768 or more, and a window longer than that is
 * taken as the context. */
#define CONTEXT_LENGTH 32768

int quantize_add_metadata(GGUFWriter *w, const Model *m, const QuantScheme *s, const char *name) {
    const Config *c = &m->cfg;
    int ctx = CONTEXT_LENGTH, uniform = 1;
    for (int l = 0; l < c->n_layers; l++) {
        if (c->window[l] > ctx) ctx = c->window[l];
        if (c->window[l] != c->window[0]) uniform = 0;
    }
    gguf_writer_add_string(w, "general.architecture", "llama");
    gguf_writer_add_string(w, "general.type", "model");
    gguf_writer_add_string(w, "general.name", name);
    gguf_writer_add_u32(w, "llama.block_count", (uint32_t)c->n_layers);
    gguf_writer_add_u32(w, "llama.context_length", (uint32_t)ctx);
    gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)c->dim);
    gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim);
    gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads);
    gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads);
    gguf_writer_add_f32(w, "llama.rope.freq_base", (float)c->rope_theta);
    gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c->norm_eps);
    if (c->n_experts) {
        gguf_writer_add_u32(w, "llama.expert_count", (uint32_t)c->n_experts);
        gguf_writer_add_u32(w, "llama.expert_used_count", (uint32_t)c->n_active);
    }
    if (c->head_dim * c->n_heads != c->dim) {
        gguf_writer_add_u32(w, "llama.attention.key_length", (uint32_t)c->head_dim);
        gguf_writer_add_u32(w, "llama.attention.value_length", (uint32_t)c->head_dim);
    }
    gguf_writer_add_u32(w, "general.file_type", (uint32_t)s->ftype);
    gguf_writer_add_u32(w, "llama.vocab_size", (uint32_t)c->n_vocab);
    gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)c->head_dim);
    /* llama.cpp's key (gemma2, phi3 read it; its llama ignores it). Windows
     * that differ between layers go in a key of our own, one per layer, 0 =
     * full attention. */
    if (uniform && c->window[0] > 0)
        gguf_writer_add_u32(w, "llama.attention.sliding_window", (uint32_t)c->window[0]);
    else if (!uniform) {
        uint32_t *win = xmalloc((size_t)c->n_layers * sizeof *win);
        for (int l = 0; l < c->n_layers; l++) win[l] = (uint32_t)c->window[l];
        gguf_writer_add_array(w, "mistral.attention.sliding_window", GGUF_U32, win,
                              (uint64_t)c->n_layers);
        free(win);
    }
    return gguf_writer_add_u32(w, "general.quantization_version", 2) ? -1 : (w->failed ? -1 : 0);
}

/* ---- tensors ------------------------------------------------------------- */

/* One tensor of the output: a vector, a matrix, or a stack of experts' Mats. */
typedef struct {
    char name[96];
    int layer;             /* -1: not in a layer */
    const float *vec;      /* 1-D: vec[0..n) */
    int n;
    const Mat *mat;        /* 2-D */
    const FFNWeights *experts; /* 3-D: the Mat at offset `off` of each of n_mats experts */
    size_t off;
    int n_mats;
    int head_dim;          /* > 0: HF q/k rows, put back in interleaved order */
} Src;

static const Mat *src_mat(const Src *t, int e) {
    return t->mat ? t->mat : (const Mat *)((const char *)&t->experts[e] + t->off);
}

/* The row of an HF (half-split) q/k matrix that holds interleaved row r:
 * HF row h*hd + j*hd/2 + i is interleaved row h*hd + 2i + j (llama.cpp's
 * LlamaModel.permute undone). */
static int hf_row(int r, int hd) {
    int h = r / hd, k = r % hd;
    return h * hd + (k % 2) * (hd / 2) + k / 2;
}

/* Rows [r0, r1) of m written into out as type `to`. */
typedef struct {
    char *out;
    DType to;
    const Mat *m;
    const float *qw; /* importance weights, one per column, or NULL */
    int head_dim, r0, r1;
} Rows;

static void *convert_rows(void *arg) {
    const Rows *j = arg;
    const Mat *m = j->m;
    size_t ob = dtype_bytes(j->to, (size_t)m->cols);
    const DTypeTraits *from = dtype_traits(m->dtype), *dst = dtype_traits(j->to);
    float *tmp = m->dtype == j->to ? NULL : xmalloc((size_t)m->cols * sizeof(float));
    for (int r = j->r0; r < j->r1; r++) {
        const void *row = mat_row(m, j->head_dim ? hf_row(r, j->head_dim) : r);
        if (!tmp) {
            memcpy(j->out + (size_t)r * ob, row, ob);
        } else {
            from->to_float(tmp, row, (size_t)m->cols);
            if (j->qw && dst->quantize_imat) dst->quantize_imat(j->out + (size_t)r * ob, tmp, (size_t)m->cols, j->qw);
            else dst->quantize(j->out + (size_t)r * ob, tmp, (size_t)m->cols);
        }
    }
    free(tmp);
    return NULL;
}

#define MAX_THREADS 256

/* Writes m's rows into out as type `to`, the rows split over n_threads
 * (the result does not depend on n_threads: rows are independent). */
static void convert_mat(char *out, DType to, const Mat *m, const float *qw, int head_dim, int n_threads) {
    if (n_threads > m->rows / 16) n_threads = m->rows / 16; /* not worth a thread */
    if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
    if (n_threads < 1 || m->dtype == to) n_threads = 1;
    Rows jobs[MAX_THREADS];
    pthread_t th[MAX_THREADS];
    for (int i = 0; i < n_threads; i++)
        jobs[i] = (Rows){out, to, m, qw, head_dim, (int)((long)m->rows * i / n_threads),
                         (int)((long)m->rows * (i + 1) / n_threads)};
    int started = 1; /* job 0 runs here */
    for (; started < n_threads; started++)
        if (pthread_create(&th[started], NULL, convert_rows, &jobs[started])) break;
    convert_rows(&jobs[0]);
    for (int i = started; i < n_threads; i++) convert_rows(&jobs[i]); /* could not start */
    for (int i = 1; i < started; i++) pthread_join(th[i], NULL);
}

typedef struct {
    Src *v; /* owns [n] */
    int n, cap;
} SrcList;

/* Appends t under the GGUF name of the native name fmt, ... */
static void add(SrcList *l, Src t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(SrcList *l, Src t, const char *fmt, ...) {
    char native[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(native, sizeof native, fmt, ap);
    va_end(ap);
    int e;
    CHECK(names_native_to_gguf(t.name, sizeof t.name, native, &e) == 0);
    if (l->n == l->cap) l->v = xrealloc(l->v, (size_t)(l->cap = l->cap ? 2 * l->cap : 64) * sizeof *l->v);
    l->v[l->n++] = t;
}

/* The tensors of m in the order llama.cpp's converter writes them. */
static SrcList list_tensors(const Model *m) {
    const Config *c = &m->cfg;
    const Weights *w = &m->w;
    SrcList l = {0};
    static const struct { const char *w; size_t off; } ffn[] = {
        {"w1", offsetof(FFNWeights, w1)}, {"w2", offsetof(FFNWeights, w2)},
        {"w3", offsetof(FFNWeights, w3)}};
    add(&l, (Src){.layer = -1, .mat = &w->tok_embeddings}, "tok_embeddings.weight");
    for (int i = 0; i < c->n_layers; i++) {
        const LayerWeights *lw = &w->layers[i];
        int hd = c->rope_half ? c->head_dim : 0;
        add(&l, (Src){.layer = i, .vec = lw->attention_norm, .n = c->dim}, "layers.%d.attention_norm.weight", i);
        add(&l, (Src){.layer = i, .mat = &lw->wq, .head_dim = hd}, "layers.%d.attention.wq.weight", i);
        add(&l, (Src){.layer = i, .mat = &lw->wk, .head_dim = hd}, "layers.%d.attention.wk.weight", i);
        add(&l, (Src){.layer = i, .mat = &lw->wv}, "layers.%d.attention.wv.weight", i);
        add(&l, (Src){.layer = i, .mat = &lw->wo}, "layers.%d.attention.wo.weight", i);
        add(&l, (Src){.layer = i, .vec = lw->ffn_norm, .n = c->dim}, "layers.%d.ffn_norm.weight", i);
        if (c->n_experts) {
            add(&l, (Src){.layer = i, .mat = &lw->gate}, "layers.%d.feed_forward.gate.weight", i);
            for (int k = 0; k < 3; k++)
                add(&l, (Src){.layer = i, .experts = lw->experts, .off = ffn[k].off, .n_mats = c->n_experts},
                    "layers.%d.feed_forward.experts.0.%s.weight", i, ffn[k].w);
        } else {
            for (int k = 0; k < 3; k++)
                add(&l, (Src){.layer = i, .mat = (const Mat *)((const char *)&lw->ffn + ffn[k].off)},
                    "layers.%d.feed_forward.%s.weight", i, ffn[k].w);
        }
    }
    add(&l, (Src){.layer = -1, .vec = w->norm, .n = c->dim}, "norm.weight");
    if (w->output.data != w->tok_embeddings.data)
        add(&l, (Src){.layer = -1, .mat = &w->output}, "output.weight");
    return l;
}

/* -1 with err set when an entry of im names no tensor of the list. */
static int check_imatrix(const Imatrix *im, const SrcList *l) {
    for (int e = 0; e < im->n; e++) {
        int found = 0;
        for (int i = 0; i < l->n && !found; i++) found = !strcmp(l->v[i].name, im->e[e].name);
        if (!found)
            return err_input("importance matrix: %s is not a tensor of this model (an importance matrix of "
                             "another model?)", im->e[e].name);
    }
    return 0;
}

int quantize_add_tensors(Quantized *q, GGUFWriter *w, const Model *m, const QuantScheme *s, const Imatrix *im,
                         int n_threads, QuantProgress progress, void *ud) {
    memset(q, 0, sizeof *q);
    SrcList list = list_tensors(m);
    int n = list.n;
    const Config *c = &m->cfg;
    int has_output = m->w.output.data != m->w.tok_embeddings.data;
    q->bufs = xcalloc((size_t)n, sizeof(void *));
    int rc = im ? check_imatrix(im, &list) : 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const Src *t = &list.v[i];
        int64_t dims[3];
        DType type;
        const void *data;
        size_t nbytes;
        if (t->vec) {
            dims[0] = t->n;
            type = DT_F32;
            data = t->vec;
            nbytes = (size_t)t->n * sizeof(float);
            rc = gguf_writer_add_tensor(w, t->name, type, 1, dims, data);
        } else {
            const Mat *m0 = src_mat(t, 0);
            int n_mats = t->mat ? 1 : t->n_mats, fb;
            type = quant_tensor_type_imat(s, t->name, t->layer, c->n_layers, c->n_experts,
                                          c->n_heads / c->n_kv_heads, m0->cols, has_output, im != NULL, &fb);
            q->n_fallback += fb;
            dims[0] = m0->cols;
            dims[1] = m0->rows;
            dims[2] = n_mats;
            size_t per = dtype_bytes(type, (size_t)m0->cols) * (size_t)m0->rows;
            nbytes = per * (size_t)n_mats;
            if (t->mat && type == m0->dtype && !t->head_dim) {
                data = m0->data; /* kept as is: a view */
            } else {
                /* importance weights where a quantizer takes them (llama-quantize: any
                   tensor it quantizes; the float types and q8_0 ignore them) */
                const ImatrixEntry *ie = im && type != m0->dtype ? imatrix_find(im, t->name) : NULL;
                float *qw = NULL;
                if (ie && dtype_traits(type)->quantize_imat) {
                    qw = xmalloc((size_t)n_mats * (size_t)m0->cols * sizeof(float));
                    if (imatrix_weights(im, ie, n_mats, m0->cols, qw)) {
                        free(qw);
                        rc = -1;
                        break;
                    }
                    q->n_imatrix++;
                } else if (im && !ie && dtype_traits(type)->quantize_imat && type != m0->dtype) {
                    q->n_no_imatrix++;
                }
                char *buf = xmalloc(nbytes ? nbytes : 1);
                for (int e = 0; e < n_mats; e++)
                    convert_mat(buf + per * (size_t)e, type, src_mat(t, e),
                                qw ? qw + (size_t)e * (size_t)m0->cols : NULL, t->head_dim, n_threads);
                free(qw);
                q->bufs[q->n_bufs++] = buf;
                data = buf;
            }
            rc = gguf_writer_add_tensor(w, t->name, type, t->mat ? 2 : 3, dims, data);
        }
        q->n_type[type]++;
        q->n_tensors++;
        q->bytes += nbytes;
        if (progress && rc == 0) progress(ud, i, n, t->name, type, q->bytes);
    }
    free(list.v);
    return rc;
}

void quantize_free(Quantized *q) {
    for (int i = 0; i < q->n_bufs; i++) free(q->bufs[i]);
    free(q->bufs);
    memset(q, 0, sizeof *q);
}
