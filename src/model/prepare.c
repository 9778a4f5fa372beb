#include "model/prepare.h"

#include <stdio.h>

#include "base/util.h"
#include "kern/matmul.h"
#include "model/experts.h"

/* w's mapped rows leave resident memory once packed (see mapfile_drop). */
static void pack(Model *m, Mat *w, const Kern *k, Pool *pool) {
    if (w->packed || !mat_pack(w, k, pool)) return;
    size_t bytes = dtype_bytes(w->dtype, (size_t)w->cols) * (size_t)w->rows;
    /* the tied output shares its rows with the embeddings, read per token */
    if (w->data == m->w.tok_embeddings.data) return;
    mapfile_drop(&m->gguf.map, w->data, bytes);
    for (int i = 0; i < m->ts.n_files; i++) mapfile_drop(&m->ts.files[i].map, w->data, bytes);
}

static void pack_ffn(Model *m, FFNWeights *f, const Kern *k, Pool *pool) {
    pack(m, &f->w1, k, pool), pack(m, &f->w2, k, pool), pack(m, &f->w3, k, pool);
}

ModelShare model_share_all(const Model *m) {
    return (ModelShare){.layer_hi = m->cfg.n_layers, .expert_hi = m->cfg.n_experts, .output = 1, .pack = 1};
}

static size_t mat_bytes(const Mat *w, const Kern *k, int pack) {
    size_t b = pack ? mat_packed_bytes(w, k) : 0;
    return b ? b : dtype_bytes(w->dtype, (size_t)w->cols) * (size_t)w->rows;
}

static size_t ffn_bytes(const FFNWeights *f, const Kern *k, int pack) {
    return mat_bytes(&f->w1, k, pack) + mat_bytes(&f->w2, k, pack) + mat_bytes(&f->w3, k, pack);
}

size_t model_resident_bytes(const Model *m, const ModelShare *s, const Kern *k) {
    const Config *c = &m->cfg;
    size_t b = 2 * (size_t)c->dim * sizeof(float) * (size_t)(s->layer_hi - s->layer_lo); /* norms */
    b += dtype_bytes(m->w.tok_embeddings.dtype, (size_t)c->dim) * (size_t)c->n_vocab;
    if (s->output && m->w.output.data != m->w.tok_embeddings.data) b += mat_bytes(&m->w.output, k, s->pack);
    for (int l = s->layer_lo; l < s->layer_hi; l++) {
        const LayerWeights *lw = &m->w.layers[l];
        b += mat_bytes(&lw->wq, k, s->pack) + mat_bytes(&lw->wk, k, s->pack) + mat_bytes(&lw->wv, k, s->pack) +
             mat_bytes(&lw->wo, k, s->pack);
        if (!c->n_experts) {
            b += ffn_bytes(&lw->ffn, k, s->pack);
            continue;
        }
        b += mat_bytes(&lw->gate, k, s->pack);
        if (!s->mem_limit)
            for (int e = s->expert_lo; e < s->expert_hi; e++) b += ffn_bytes(&lw->experts[e], k, s->pack);
    }
    return b;
}

/* n bytes for people: "7.50 GB", "361.5 MB", "12.3 KB" (buf of 32). */
static const char *human(char *buf, double n) {
    if (n >= 1e9) snprintf(buf, 32, "%.2f GB", n / 1e9);
    else if (n >= 1e6) snprintf(buf, 32, "%.1f MB", n / 1e6);
    else snprintf(buf, 32, "%.1f KB", n / 1e3);
    return buf;
}

/* The expert cache for share s: what mem_limit leaves after the dense part. */
static int open_cache(Model *m, const ModelShare *s, const Kern *k) {
    if (!m->cfg.n_experts) return err_set("--mem-limit streams a mixture's experts from disk; this model has none");
    if (m->experts) return 0;
    size_t dense = model_resident_bytes(m, s, k), one = expcache_expert_bytes(m, k, s->pack);
    char a[32], b[32], c[32], d[32];
    if (s->mem_limit < dense + one)
        return err_set("--mem-limit %s is too small: the dense part of the model takes %s and one expert %s; "
                       "give at least %s (%zu bytes)", human(a, (double)s->mem_limit), human(b, (double)dense),
                       human(c, (double)one), human(d, (double)(dense + one)), dense + one);
    ExpertCacheParams p = {.bytes = s->mem_limit - dense, .layer_lo = s->layer_lo, .layer_hi = s->layer_hi,
                           .expert_lo = s->expert_lo, .expert_hi = s->expert_hi, .pack = s->pack,
                           .buffered = s->buffered, .no_predict = s->no_predict};
    return expcache_open(&m->experts, m, k, &p);
}

int model_prepare(Model *m, const ModelShare *s, const Kern *k, Pool *pool) {
    const Config *c = &m->cfg;
    if (s->layer_lo < 0 || s->layer_lo > s->layer_hi || s->layer_hi > c->n_layers)
        return err_set("layers [%d, %d) of a model of %d", s->layer_lo, s->layer_hi, c->n_layers);
    if (s->expert_lo < 0 || s->expert_lo > s->expert_hi || s->expert_hi > c->n_experts)
        return err_set("experts [%d, %d) of a model of %d", s->expert_lo, s->expert_hi, c->n_experts);
    if (s->mem_limit && open_cache(m, s, k)) return -1;
    if (!s->pack) return 0;
    for (int l = s->layer_lo; l < s->layer_hi; l++) {
        LayerWeights *lw = &m->w.layers[l];
        pack(m, &lw->wq, k, pool), pack(m, &lw->wk, k, pool), pack(m, &lw->wv, k, pool), pack(m, &lw->wo, k, pool);
        if (c->n_experts) {
            pack(m, &lw->gate, k, pool);
            for (int e = s->expert_lo; e < s->expert_hi && !m->experts; e++) pack_ffn(m, &lw->experts[e], k, pool);
        } else {
            pack_ffn(m, &lw->ffn, k, pool);
        }
    }
    if (s->output) pack(m, &m->w.output, k, pool);
    return 0;
}

static void unpack_ffn(FFNWeights *f) { mat_unpack(&f->w1), mat_unpack(&f->w2), mat_unpack(&f->w3); }

void model_unpack(Model *m) {
    expcache_close(m->experts);
    m->experts = NULL;
    if (!m->w.layers) return;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        LayerWeights *lw = &m->w.layers[l];
        mat_unpack(&lw->wq), mat_unpack(&lw->wk), mat_unpack(&lw->wv), mat_unpack(&lw->wo), mat_unpack(&lw->gate);
        unpack_ffn(&lw->ffn);
        if (lw->experts)
            for (int e = 0; e < m->cfg.n_experts; e++) unpack_ffn(&lw->experts[e]);
    }
    mat_unpack(&m->w.output);
}
