#include "model/kvcache.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int kvcache_init(KVCache *kv, const Config *c, long n_ctx, DType type, int room) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx < 1) return err_set("context of %ld tokens: must be at least 1", n_ctx);
    if (type != DT_F32 && type != DT_F16) return err_set("KV cache type must be f32 or f16");
    if (room < 0 || room > (1 << 20)) return err_set("KV cache room for %d drafted tokens: must be in [0, 2^20]", room);
    kv->n_layers = c->n_layers;
    kv->n_kv_heads = c->n_kv_heads;
    kv->head_dim = c->head_dim;
    kv->type = type;
    kv->row = dtype_bytes(type, (size_t)c->head_dim);
    kv->cap = xmalloc((size_t)c->n_layers * sizeof(int));
    kv->window = xmalloc((size_t)c->n_layers * sizeof(int));
    kv->room = room;
    kv->max_pos = LONG_MAX;
    size_t slots = 0;
    for (int l = 0; l < c->n_layers; l++) {
        int w = c->window[l];
        kv->window[l] = w > 0 ? w : 0;
        if (w > 0 && w <= n_ctx) {
            kv->cap[l] = w + room;
        } else {
            kv->cap[l] = (int)(n_ctx < INT_MAX ? n_ctx : INT_MAX);
            kv->max_pos = n_ctx;
        }
        slots += (size_t)kv->cap[l];
    }
    if (size_mul(slots, 2 * (size_t)c->n_kv_heads * kv->row, &kv->bytes) || kv->bytes > ((size_t)1 << 46)) {
        free(kv->cap), free(kv->window);
        memset(kv, 0, sizeof *kv);
        return err_set("KV cache for a context of %ld tokens is too large", n_ctx);
    }
    kv->block = calloc(kv->bytes ? kv->bytes : 1, 1); /* may be huge: fail with a message */
    if (!kv->block) {
        size_t bytes = kv->bytes;
        free(kv->cap), free(kv->window);
        memset(kv, 0, sizeof *kv);
        return err_nomem("cannot allocate a KV cache of %zu bytes for %ld positions", bytes, n_ctx);
    }
    kv->k = xmalloc((size_t)c->n_layers * sizeof(char *));
    kv->v = xmalloc((size_t)c->n_layers * sizeof(char *));
    char *p = kv->block;
    for (int l = 0; l < c->n_layers; l++) {
        size_t n = (size_t)kv->cap[l] * (size_t)c->n_kv_heads * kv->row;
        kv->k[l] = p;
        kv->v[l] = p + n;
        p += 2 * n;
    }
    return 0;
}

void kvcache_free(KVCache *kv) {
    free(kv->cap);
    free(kv->window);
    free(kv->k);
    free(kv->v);
    free(kv->block);
    memset(kv, 0, sizeof *kv);
}

void kvcache_reset(KVCache *kv) { kv->n_pos = 0; }

int kvcache_can_rewind(const KVCache *kv, long p) {
    if (p < 0 || p > kv->n_pos) return 0;
    /* position j's slot was reused by j + cap once n_pos passed it: slots of
     * positions below n_pos - cap hold later keys. The token at p sees the
     * keys from lo = max(0, p - window + 1) on (from 0 with full attention). */
    for (int l = 0; l < kv->n_layers; l++) {
        long w = kv->window[l], lo = w > 0 && p - w + 1 > 0 ? p - w + 1 : 0;
        if (p + 1 < kv->n_pos && lo < kv->n_pos - kv->cap[l]) return 0;
    }
    return 1;
}

int kvcache_rewind(KVCache *kv, long p) {
    if (!kvcache_can_rewind(kv, p))
        return err_set("cannot go back to position %ld of %ld: %s", p, kv->n_pos,
                       p < 0 || p > kv->n_pos ? "not a position the sequence holds"
                                              : "the rolling cache has already reused those slots");
    kv->n_pos = p;
    return 0;
}

int kvcache_copy(KVCache *dst, const KVCache *src) {
    if (dst == src) return 0;
    int same = dst->n_layers == src->n_layers && dst->n_kv_heads == src->n_kv_heads && dst->type == src->type &&
               dst->row == src->row && dst->room == src->room && dst->max_pos == src->max_pos;
    for (int l = 0; same && l < src->n_layers; l++)
        same = dst->cap[l] == src->cap[l] && dst->window[l] == src->window[l];
    if (!same) return err_set("KV cache copy: the caches differ in shape");
    /* slot p % cap holds position p: the first min(n_pos, cap) slots of each
     * head are the ones written (all of them once the layer has rolled) */
    for (int l = 0; l < src->n_layers; l++) {
        long used = src->n_pos < src->cap[l] ? src->n_pos : src->cap[l];
        for (int h = 0; h < src->n_kv_heads; h++) {
            memcpy(kvcache_k(dst, l, h, 0), kvcache_k(src, l, h, 0), (size_t)used * src->row);
            memcpy(kvcache_v(dst, l, h, 0), kvcache_v(src, l, h, 0), (size_t)used * src->row);
        }
    }
    dst->n_pos = src->n_pos;
    return 0;
}
