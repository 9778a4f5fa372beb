/* pack — packed copies of a model's matrices, made once under a lock. */
#include "model/pack.h"

#include <pthread.h>

#include "kern/matmul.h"

static pthread_mutex_t pack_lock = PTHREAD_MUTEX_INITIALIZER;

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

void model_pack_layer(const Model *cm, int l, const Kern *k, Pool *pool, int e_lo, int e_hi) {
    Model *m = (Model *)cm; /* the packed copies are the one mutable part */
    pthread_mutex_lock(&pack_lock);
    if (l == m->cfg.n_layers) {
        pack(m, &m->w.output, k, pool);
    } else {
        LayerWeights *lw = &m->w.layers[l];
        pack(m, &lw->wq, k, pool), pack(m, &lw->wk, k, pool), pack(m, &lw->wv, k, pool), pack(m, &lw->wo, k, pool);
        if (m->cfg.n_experts) {
            pack(m, &lw->gate, k, pool);
            for (int e = e_lo; e < e_hi; e++) pack_ffn(m, &lw->experts[e], k, pool);
        } else {
            pack_ffn(m, &lw->ffn, k, pool);
        }
    }
    pthread_mutex_unlock(&pack_lock);
}

static void unpack_ffn(FFNWeights *f) { mat_unpack(&f->w1), mat_unpack(&f->w2), mat_unpack(&f->w3); }

void model_unpack(Model *m) {
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
