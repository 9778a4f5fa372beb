/* kvcache — the rolling-buffer key/value cache of one sequence.
 *
 * Layer l keeps cap[l] slots; position p lives in slot p % cap[l]. A layer
 * with window W <= n_ctx keeps W slots (memory O(W), not O(context)); a layer
 * with full attention or a wider window keeps n_ctx slots, and the sequence
 * may then not pass n_ctx positions (max_pos). Keys are stored after RoPE, as fp32 or fp16 (the type rounds
 * every key and value the same way, wherever it is read from). */
#ifndef MODEL_KVCACHE_H
#define MODEL_KVCACHE_H

#include <stddef.h>

#include "kern/dtype.h"
#include "model/config.h"

typedef struct {
    int n_layers;
    int kv_dim;     /* n_kv_heads * head_dim */
    DType type;     /* DT_F32 or DT_F16 */
    size_t row;     /* bytes of one slot's keys (or values): kv_dim elements */
    int *cap;       /* owns [n_layers]: slots per layer */
    char **k, **v;  /* owns [n_layers] -> views into block: (cap[l], kv_dim) */
    char *block;    /* owns: every layer's keys and values, one allocation */
    size_t bytes;   /* size of block */
    long n_pos;     /* positions held: the next token's position */
    long max_pos;   /* positions it can ever hold (LONG_MAX when every layer rolls) */
} KVCache;

/* n_ctx: the most positions the sequence needs (bounds the full-attention
 * layers); type DT_F32 or DT_F16. Returns 0 or -1 with err set. */
int kvcache_init(KVCache *kv, const Config *c, long n_ctx, DType type);
void kvcache_free(KVCache *kv);
/* Forgets every position (the memory is kept). */
void kvcache_reset(KVCache *kv);
/* 1 when the cache can go back to holding positions [0, p): every key the
 * token at p will need is still in its slot (no layer has wrapped past it;
 * going back one position is always possible). */
int kvcache_can_rewind(const KVCache *kv, long p);
/* Goes back to [0, p). 0, or -1 with err set when it cannot. */
int kvcache_rewind(KVCache *kv, long p);

static inline void *kvcache_k(const KVCache *kv, int l, long pos) {
    return kv->k[l] + (size_t)(pos % kv->cap[l]) * kv->row;
}
static inline void *kvcache_v(const KVCache *kv, int l, long pos) {
    return kv->v[l] + (size_t)(pos % kv->cap[l]) * kv->row;
}

#endif
