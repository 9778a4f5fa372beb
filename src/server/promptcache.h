/* promptcache — the server's prompt cache on disk (--prompt-cache DIR).
 *
 * A file holds one sequence's KV state for the tokens [0, n) it was fed:
 * for every layer the keys and values of the positions the token at n (and
 * any after it) can still see, from first(n) = max(0, n - window + 1) (0
 * with full attention) up to n. Positions, not slots, so a file restores
 * into a cache of any room or context size. A file is restored into a
 * cache as positions [0, L) for a prompt that starts with its first L
 * tokens, where L = n, or any L <= n when every layer keeps all n (full
 * attention, or n below every window): then first(L) >= first(n) and the
 * file holds every key the token at L needs. The bytes are the cache's own,
 * so a restored cache is the one a fresh prefill leaves, and the logits
 * after it are bit-identical.
 *
 * Files are keyed by a fingerprint of everything that changes a key or a
 * value (the weights as dist/shard.h fingerprints them: config, windows,
 * sampled bytes of every matrix; which matrices are packed; the KV type;
 * the kernel table; the bf16 fast dots; this format's version) and by the tokens. Layout (host byte
 * order, the magic tells a foreign one):
 *
 *   PCacheHeader                                  72 bytes
 *   int32  tokens[n_tokens]
 *   uint32 first[n_layers]                        first position kept per layer
 *   payload: per layer l, K then V, each (n_kv_heads, n_tokens - first[l], row_bytes)
 *
 * with three checksums: the header's, the tokens' and first's, the
 * payload's. Everything is checked before it is trusted: on the directory
 * scan (magic, version, header checksum, fingerprint, shapes, the file's
 * size, the tokens' checksum) and again on every load (and then the payload
 * checksum); a file that fails is ignored with one line on stderr (removed
 * when its header says it is this model's: it is damaged), never trusted.
 * Writes go to a temporary file renamed into place, so a crash leaves no
 * half file under a cache name (and a torn one fails its checksums).
 *
 * The directory holds at most `limit` bytes of this model's files: a save
 * evicts the least recently used (restored or saved; the files' mtimes
 * carry the order across restarts). Not thread-safe: the engine thread
 * alone calls it. */
#ifndef SERVER_PROMPTCACHE_H
#define SERVER_PROMPTCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "model/kvcache.h"
#include "model/model.h"

#define PCACHE_VERSION 1

typedef struct {
    char magic[8];          /* PCACHE_MAGIC */
    uint32_t version;       /* PCACHE_VERSION */
    uint32_t n_tokens;      /* positions [0, n_tokens) */
    uint64_t fingerprint;   /* promptcache_fingerprint of the model and context */
    uint32_t n_layers, n_kv_heads;
    uint32_t row_bytes;     /* one head's key (or value) at one position */
    uint32_t kv_type;       /* DType: DT_F32 or DT_F16 */
    uint64_t payload_bytes;
    uint64_t token_sum;     /* over tokens[] and first[] */
    uint64_t payload_sum;   /* over the payload */
    uint64_t header_sum;    /* over this header with header_sum = 0 */
} PCacheHeader;
_Static_assert(sizeof(PCacheHeader) == 72, "the file header is 72 bytes");

typedef struct {
    long hits;          /* prompts restored from a file */
    long misses;        /* prompts that looked and found no file longer than a slot's own prefix */
    long long read_bytes, written_bytes;
    int files;          /* this model's files in the directory */
    long long bytes;    /* their size */
} PromptCacheStats;

typedef struct PromptCache PromptCache;

/* The files' checksum of n bytes at p, continued from h (start: PCACHE_SUM_SEED);
 * public so that tests and the fuzz target can forge well-formed files. */
#define PCACHE_SUM_SEED 0x6a09e667f3bcc909ULL
uint64_t promptcache_checksum(uint64_t h, const void *p, size_t n);
/* What keys files for ctx's model and settings. */
uint64_t promptcache_fingerprint(const Context *ctx);

/* Opens (creates when missing) directory dir for ctx's model, at most limit
 * bytes of files; scans what it holds. NULL with err set when dir cannot be
 * made or read. */
PromptCache *promptcache_open(const char *dir, size_t limit, const Context *ctx);
void promptcache_close(PromptCache *pc);

/* The longest prefix of prompt[0..max) a file can restore (0: none), and
 * the file's index in *entry. */
int promptcache_find(const PromptCache *pc, const int *prompt, int max, int *entry);
/* Restores file `entry` into kv as positions [0, L) holding prompt[0..L)
 * (L from promptcache_find): 0 (a hit), or -1 when the file fails its
 * checks (logged, dropped; kv is then empty). */
int promptcache_load(PromptCache *pc, int entry, const int *prompt, int L, KVCache *kv);
/* Marks file `entry` used now (least recently used files are evicted first). */
void promptcache_touch(PromptCache *pc, int entry);
/* Counts a lookup that restored nothing. */
void promptcache_missed(PromptCache *pc);
/* Saves kv's positions [0, n) holding tokens[0..n) (kv must still hold the
 * keys the token at n sees: kvcache_can_rewind(kv, n)), unless a file
 * already restores them; evicts the least recently used files to stay
 * within the limit. 0, or -1 (logged: the disk, or a state larger than the
 * limit). */
int promptcache_save(PromptCache *pc, const int *tokens, int n, const KVCache *kv);

PromptCacheStats promptcache_stats(const PromptCache *pc);

#endif
