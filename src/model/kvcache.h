/* kvcache — the rolling-buffer key/value cache of one sequence.
 *
 * Layer l keeps cap[l] slots; position p lives in slot p % cap[l]. A layer
 * with window W <= n_ctx keeps W + room slots (memory O(W), not O(context));
 * a layer with full attention or a wider window keeps n_ctx slots, and the
 * sequence may then not pass n_ctx positions (max_pos). Keys are stored after
 * RoPE, as fp32 or fp16 (the type rounds every key and value the same way,
 * wherever it is read from).
 *
 * room is for speculative decoding (gen/draft.h): a step writes up to room
 * drafted positions past the last real one before they are verified; with
 * W + room slots none of them overwrote a key the window of the next real
 * position needs, so going back over a rejected draft (kvcache_rewind) leaves
 * exactly the keys plain decoding would have. Attention always reads the
 * window (W keys), never the room.
 *
 * A layer's keys are head-major, (n_kv_heads, cap, head_dim), and so are its
 * values: attention reads one kv head's keys at a time, and that head's rows
 * are then one contiguous stream (position-major rows of all heads made each
 * pass read a slice of every row, strided; measured: bench/RESULTS.md, "a
 * head-major KV cache"). */
#ifndef MODEL_KVCACHE_H
#define MODEL_KVCACHE_H

#include <stddef.h>

#include "kern/dtype.h"
#include "model/config.h"

typedef struct {
    int n_layers;
    int n_kv_heads;
    int head_dim;
    DType type;     /* DT_F32 or DT_F16 */
    size_t row;     /* bytes of one slot's key (or value) of one head: head_dim elements */
    int *cap;       /* owns [n_layers]: slots per layer */
    int *window;    /* owns [n_layers]: keys a token sees per layer (0: all before it) */
    int room;       /* slots beyond the window in each rolling layer (drafts) */
    char **k, **v;  /* owns [n_layers] -> views into block: (n_kv_heads, cap[l], head_dim) */
    char *block;    /* owns: every layer's keys and values, one allocation */
    size_t bytes;   /* size of block */
    long n_pos;     /* positions held: the next token's position */
    long max_pos;   /* positions it can ever hold (LONG_MAX when every layer rolls) */
} KVCache;

/* n_ctx: the most positions the sequence needs (bounds the full-attention
 * layers); type DT_F32 or DT_F16; room: extra slots per rolling layer (0:
 * none; see above). Returns 0 or -1 with err set. */
int kvcache_init(KVCache *kv, const Config *c, long n_ctx, DType type, int room);
void kvcache_free(KVCache *kv);
/* Forgets every position (the memory is kept). */
void kvcache_reset(KVCache *kv);
/* 1 when the cache can go back to holding positions [0, p): in every layer
 * the keys the token at p will see, from max(0, p - window + 1) (from 0 with
 * full attention), are still in their slots (slots of positions below
 * n_pos - cap were reused). Going back one position is always possible. */
int kvcache_can_rewind(const KVCache *kv, long p);
/* Goes back to [0, p). 0, or -1 with err set when it cannot. */
int kvcache_rewind(KVCache *kv, long p);

/* dst takes src's positions [0, src->n_pos): the slots they occupy, and
 * n_pos (a prompt prefilled once, forked into other sequences). Both must
 * come from the same kvcache_init arguments (one Context's caches); the
 * same keys in the same slots give every later token the same bits as if
 * dst had been fed the tokens itself. 0, or -1 with err set. */
int kvcache_copy(KVCache *dst, const KVCache *src);

/* Head h's key (value) in layer l's slot `slot` (a position modulo cap[l]). */
static inline char *kvcache_k(const KVCache *kv, int l, int h, long slot) {
    return kv->k[l] + ((size_t)h * (size_t)kv->cap[l] + (size_t)slot) * kv->row;
}
static inline char *kvcache_v(const KVCache *kv, int l, int h, long slot) {
    return kv->v[l] + ((size_t)h * (size_t)kv->cap[l] + (size_t)slot) * kv->row;
}

#endif
