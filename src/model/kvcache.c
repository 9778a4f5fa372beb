#include "model/kvcache.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int kvcache_init(KVCache *kv, const Config *c, long n_ctx) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx < 1) return err_set("context of %ld tokens: must be at least 1", n_ctx);
    kv->n_layers = c->n_layers;
    kv->kv_dim = c->n_kv_heads * c->head_dim;
    kv->cap = xmalloc((size_t)c->n_layers * sizeof(int));
    kv->max_pos = LONG_MAX;
    size_t slots = 0;
    for (int l = 0; l < c->n_layers; l++) {
        int w = c->window[l];
        if (w > 0 && w <= n_ctx) {
            kv->cap[l] = w;
        } else {
            kv->cap[l] = (int)(n_ctx < INT_MAX ? n_ctx : INT_MAX);
            kv->max_pos = n_ctx;
        }
        slots += (size_t)kv->cap[l];
    }
    size_t floats;
    if (size_mul(slots, 2 * (size_t)kv->kv_dim, &floats) ||
        size_mul(floats, sizeof(float), &kv->bytes) || kv->bytes > ((size_t)1 << 46)) {
        free(kv->cap);
        memset(kv, 0, sizeof *kv);
        return err_set("KV cache for a context of %ld tokens is too large", n_ctx);
    }
    kv->block = calloc(floats, sizeof(float)); /* may be huge: fail with a message */
    if (!kv->block) {
        free(kv->cap);
        memset(kv, 0, sizeof *kv);
        return err_set("cannot allocate a KV cache of %zu bytes for %ld positions", floats * 4,
                       n_ctx);
    }
    kv->k = xmalloc((size_t)c->n_layers * sizeof(float *));
    kv->v = xmalloc((size_t)c->n_layers * sizeof(float *));
    float *p = kv->block;
    for (int l = 0; l < c->n_layers; l++) {
        size_t n = (size_t)kv->cap[l] * (size_t)kv->kv_dim;
        kv->k[l] = p;
        kv->v[l] = p + n;
        p += 2 * n;
    }
    return 0;
}

void kvcache_free(KVCache *kv) {
    free(kv->cap);
    free(kv->k);
    free(kv->v);
    free(kv->block);
    memset(kv, 0, sizeof *kv);
}

void kvcache_reset(KVCache *kv) { kv->n_pos = 0; }
