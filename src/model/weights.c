#include "model/weights.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/hf.h"

/* ---- the safetensors source ----------------------------------------------- */

static int ts_find(const WeightSource *src, const char *native, Tensor *out, char *name, size_t cap) {
    if (src->hf_names) hf_tensor_name(name, cap, native);
    else snprintf(name, cap, "%s", native);
    const Tensor *t = tensorset_find(src->ctx, name);
    if (!t) return 1;
    *out = *t;
    return 0;
}

WeightSource weights_source_tensorset(const TensorSet *ts, int hf_names) {
    return (WeightSource){.find = ts_find, .ctx = ts, .hf_names = hf_names, .where = ts->where};
}

/* ---- binding ----------------------------------------------------------------- */

/* Finds a tensor of the given shape (cols == 0: a vector of `rows`), given
 * its native name. */
static int get(const WeightSource *src, Tensor *t, int rows, int cols, const char *fmt, ...) {
    char native[256], name[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(native, sizeof native, fmt, ap);
    va_end(ap);
    memset(t, 0, sizeof *t);
    int rc = src->find(src, native, t, name, sizeof name);
    if (rc < 0) return -1;
    if (rc > 0) return err_set("%s: missing tensor \"%s\"", src->where, name);
    const char *path = t->path;
    if (t->dtype < 0)
        return err_set("%s: tensor \"%s\" has dtype %s; supported: F32, F16, BF16, q8_0, q4_0, "
                       "q4_1, q5_0, q5_1, q4_K, q5_K, q6_K", path, name, t->dtype_name);
    int ok = cols ? (t->ndim == 2 && t->shape[0] == rows && t->shape[1] == cols)
                  : (t->ndim == 1 && t->shape[0] == rows);
    if (!ok) {
        char got[128] = "", want[64];
        for (int i = 0; i < t->ndim; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "",
                     (long long)t->shape[i]);
        if (cols) snprintf(want, sizeof want, "%d, %d", rows, cols);
        else snprintf(want, sizeof want, "%d", rows);
        return err_set("%s: tensor \"%s\" has shape [%s], expected [%s]", path, name, got, want);
    }
    const DTypeTraits *tr = dtype_traits((DType)t->dtype);
    if ((cols ? cols : rows) % tr->block)
        return err_set("%s: tensor \"%s\" is %s, whose rows must be a multiple of %d elements, "
                       "but has rows of %d", path, name, tr->name, tr->block, cols ? cols : rows);
    return 0;
}

#define GET_MAT(m, r, c, ...)                                                         \
    do {                                                                              \
        Tensor t_;                                                                    \
        if (get(src, &t_, r, c, __VA_ARGS__)) return -1;                              \
        (m) = (Mat){.data = t_.data, .dtype = (DType)t_.dtype, .rows = r, .cols = c}; \
    } while (0)

#define GET_VEC(v, n, ...)                                                   \
    do {                                                                     \
        Tensor t_;                                                           \
        if (get(src, &t_, n, 0, __VA_ARGS__)) return -1;                     \
        (v) = xmalloc((size_t)(n) * sizeof(float));                          \
        dtype_traits((DType)t_.dtype)->to_float((v), t_.data, (size_t)(n));  \
    } while (0)

static int bind_ffn(FFNWeights *f, const Config *c, const WeightSource *src, const char *prefix) {
    GET_MAT(f->w1, c->hidden_dim, c->dim, "%sw1.weight", prefix);
    GET_MAT(f->w2, c->dim, c->hidden_dim, "%sw2.weight", prefix);
    GET_MAT(f->w3, c->hidden_dim, c->dim, "%sw3.weight", prefix);
    return 0;
}

static int bind_layer(LayerWeights *lw, const Config *c, const WeightSource *src, int l) {
    int q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
    GET_VEC(lw->attention_norm, c->dim, "layers.%d.attention_norm.weight", l);
    GET_VEC(lw->ffn_norm, c->dim, "layers.%d.ffn_norm.weight", l);
    GET_MAT(lw->wq, q, c->dim, "layers.%d.attention.wq.weight", l);
    GET_MAT(lw->wk, kv, c->dim, "layers.%d.attention.wk.weight", l);
    GET_MAT(lw->wv, kv, c->dim, "layers.%d.attention.wv.weight", l);
    GET_MAT(lw->wo, c->dim, q, "layers.%d.attention.wo.weight", l);
    char prefix[96];
    if (!c->n_experts) {
        snprintf(prefix, sizeof prefix, "layers.%d.feed_forward.", l);
        return bind_ffn(&lw->ffn, c, src, prefix);
    }
    GET_MAT(lw->gate, c->n_experts, c->dim, "layers.%d.feed_forward.gate.weight", l);
    lw->experts = xcalloc((size_t)c->n_experts, sizeof(FFNWeights));
    for (int e = 0; e < c->n_experts; e++) {
        snprintf(prefix, sizeof prefix, "layers.%d.feed_forward.experts.%d.", l, e);
        if (bind_ffn(&lw->experts[e], c, src, prefix)) return -1;
    }
    return 0;
}

int weights_bind(Weights *w, const Config *c, const WeightSource *src) {
    memset(w, 0, sizeof *w);
    GET_MAT(w->tok_embeddings, c->n_vocab, c->dim, "tok_embeddings.weight");
    w->layers = xcalloc((size_t)c->n_layers, sizeof(LayerWeights));
    for (int l = 0; l < c->n_layers; l++)
        if (bind_layer(&w->layers[l], c, src, l)) return -1;
    GET_VEC(w->norm, c->dim, "norm.weight");
    Tensor probe;
    char probe_name[300];
    int rc = src->find(src, "output.weight", &probe, probe_name, sizeof probe_name);
    if (rc < 0) return -1;
    if (rc == 0)
        GET_MAT(w->output, c->n_vocab, c->dim, "output.weight");
    else
        w->output = w->tok_embeddings; /* tied embeddings */
    return 0;
}

void weights_free(Weights *w, const Config *c) {
    if (w->layers)
        for (int l = 0; l < c->n_layers; l++) {
            free(w->layers[l].attention_norm);
            free(w->layers[l].ffn_norm);
            free(w->layers[l].experts);
        }
    free(w->layers);
    free(w->norm);
    memset(w, 0, sizeof *w);
}
