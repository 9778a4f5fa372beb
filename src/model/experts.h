/* experts — a mixture's experts streamed from the model file into a cache
 * of a fixed size (--mem-limit), for models larger than memory.
 *
 * The dense part of the model stays resident; each expert's three matrices
 * (w1, w2, w3) live on disk and are read, when needed, into one of the
 * cache's slots (all the same size: one expert each), packed for the kernel
 * table as they arrive — the same bytes model_prepare would make, so results
 * are bit for bit those of a model held in memory. Reads are large preads
 * of the file (O_DIRECT where the file system takes it: the page cache is
 * not used, so a memory cgroup's limit covers only what we hold).
 *
 * Two I/O threads do the reads, in this order: what a forward call waits
 * for, then what it will use next in this layer (a prefill's waves: each
 * expert read once per chunk while the previous one computes), then what
 * the router of a later layer predicts from the current hidden state
 * (moe.h) — when guessing pays: the measured accuracy times the time a
 * right guess saves against the disk time a wrong one costs. The two
 * threads share an expert's three matrices before starting another, so one
 * missing expert is read at the disk's full speed. A slot being computed
 * with is pinned; otherwise the expert whose next use is expected furthest
 * away is evicted (layers ahead in the cyclic order, plus a pass per
 * expected miss from its running use frequency: experts.c victim()), never
 * one read ahead and not yet used by a read ahead.
 *
 * The cache is the one mutable part of a prepared model: it is shared by
 * every context running the model and locks itself. */
#ifndef MODEL_EXPERTS_H
#define MODEL_EXPERTS_H

#include <stddef.h>
#include <stdint.h>

#include "kern/kern.h"
#include "model/weights.h"

struct Model;

typedef struct ExpertCache ExpertCache;

typedef struct {
    size_t bytes;             /* the budget: as many one-expert slots as fit */
    int layer_lo, layer_hi;   /* the layers [lo, hi) this process runs */
    int expert_lo, expert_hi; /* and their experts [lo, hi) */
    int pack;                 /* 1: pack for the kernel table as read; 0: rows as in the file */
    int buffered;             /* 1: read through the page cache (no O_DIRECT) */
    int no_predict;           /* 1: no reads ahead for predictions (measuring) */
} ExpertCacheParams;

typedef struct {
    int slots;             /* experts the budget holds */
    size_t slot_bytes;     /* bytes of one */
    int direct;            /* reads bypass the page cache (O_DIRECT) */
    uint64_t needed;       /* (layer, expert) pairs the forward calls' routes named (will_use):
                              a call of k tokens reads each of its experts once for all k */
    uint64_t uses;         /* expert computations (acquires) */
    uint64_t hits;         /* ... that found it resident */
    uint64_t late;         /* ... that found it being read ahead and waited */
    uint64_t misses;       /* ... that had to ask for it */
    uint64_t reads;        /* experts read from disk */
    uint64_t bytes_read;   /* bytes read from the file (cancelled reads' too) */
    uint64_t cancelled;    /* reads for a prediction stopped when it missed */
    double read_seconds;   /* time with at least one read (and its packing) in flight */
    uint64_t ahead;        /* experts read ahead (predicted or waves) */
    uint64_t ahead_used;   /* ... used before being evicted */
    uint64_t routed;       /* (layer, expert) pairs a batch routed to */
    uint64_t predicted;    /* ... that a prediction from an earlier layer named */
    uint64_t guesses;      /* experts predicted in all */
    uint64_t guesses_read; /* ... that were read ahead (when guessing pays: experts.c) */
} ExpertStats;

/* Opens the files of m's experts and sets up the slots for p's share with
 * table k (as model_prepare would pack them). Reads nothing yet. Returns 0,
 * or -1 with err set: a budget below one expert (err names the minimum), a
 * model without experts, a file that cannot be opened. */
int expcache_open(ExpertCache **out, const struct Model *m, const Kern *k, const ExpertCacheParams *p);
/* Stops the I/O threads and frees; accepts NULL. */
void expcache_close(ExpertCache *c);

/* Bytes of one expert in a slot (packed or as rows), for budgets. */
size_t expcache_expert_bytes(const struct Model *m, const Kern *k, int pack);

/* Layer l's batch uses these experts, in this order (the order moe_forward
 * visits them): the ones not resident are read ahead in that order, and a
 * prediction made for l is scored. */
void expcache_will_use(ExpertCache *c, int l, const int *experts, int n);
/* A prediction: layer l will probably use these experts; read them ahead
 * after everything will_use asked for. */
void expcache_predict(ExpertCache *c, int l, const int *experts, int n);
/* Expert e of layer l, resident and pinned until expcache_release: waits for
 * its read. NULL with err set when the file could not be read (a file that
 * shrank: the error names it; the cache stays failed). */
const FFNWeights *expcache_acquire(ExpertCache *c, int l, int e);
void expcache_release(ExpertCache *c, int l, int e);

/* The counters since open or the last reset. */
void expcache_stats(ExpertCache *c, ExpertStats *s);
/* a += b's counters (the sizes are b's). */
void expstats_add(ExpertStats *a, const ExpertStats *b);
void expcache_reset_stats(ExpertCache *c);
/* Bytes per second this cache's reads get from the disk: about `bytes` of
 * whole expert matrices spread over the file, read as the I/O threads read
 * them, two at once (base/diskprobe.h; with the page cache dropped for them
 * when reads are buffered). Its two read buffers, each the size of an I/O
 * thread's (the largest matrix of an expert), must fit in `room` bytes.
 * Run it while no forward call uses the cache. -1 with err set: no room
 * (err says how much it needs), or the reads failed. */
double expcache_read_bandwidth(ExpertCache *c, size_t bytes, size_t room);

#endif
