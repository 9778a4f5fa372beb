/* model — a loaded Mistral/Mixtral checkpoint and its forward pass.
 *
 * forward() takes a batch of tokens from several sequences: each token
 * carries its sequence and position, and attends only to its own sequence's
 * keys inside its window (the reference's block-diagonal masks). A batch may
 * mix prefill chunks of some sequences with single decode tokens of others.
 * The pieces (embed, layers over a range, head) are public so that the
 * distribution layer can run a stage of the pipeline and move activations.
 *
 * A model is loaded (model_load), then prepared once by its owner for the
 * share it runs (model/prepare.h: packed layouts); from then on it is
 * read-only: contexts only read it, and several may share it. */
#ifndef MODEL_MODEL_H
#define MODEL_MODEL_H

#include <stdint.h>

#include "format/gguf.h"
#include "format/tensorset.h"
#include "model/config.h"
#include "model/kvcache.h"
#include "model/weights.h"
#include "base/pool.h"
#include "kern/kern.h"
#include "kern/matmul.h"

typedef struct Model {
    Config cfg;
    Weights w;       /* views into ts or gguf */
    TensorSet ts;    /* owns the safetensors mappings (native and HF layouts) */
    GGUFFile gguf;   /* owns the mapping of a .gguf model (gguf.version > 0) */
    int hf;          /* loaded from the Hugging Face layout */
    float *inv_freq; /* owns (head_dim / 2): RoPE frequencies */
    /* owns: the experts streamed from disk (--mem-limit; model_prepare),
     * or NULL: every expert resident. The one mutable part of a prepared
     * model; it locks itself. */
    struct ExpertCache *experts;
} Model;

/* How a model is loaded; zeroed fields (but sliding_window: -1) keep the
 * model's own. Applied in this order, so the config never changes after
 * model_load. */
typedef struct {
    int sliding_window; /* < 0: the model's own; 0: full attention; > 0: W for every layer */
    int full_window;    /* > 0: layers with full attention get this window (a rolling
                           context, as chat runs) */
    int max_window;     /* > 0: wider windows (and full attention) narrow to this */
} ModelOptions;

/* Loads a model directory: Mistral's native layout (params.json +
 * consolidated.safetensors) or Hugging Face's (config.json +
 * model.safetensors or shards with model.safetensors.index.json); or one
 * GGUF file (a regular file named *.gguf or starting with the GGUF magic;
 * see ggufmodel.h).
 * opt may be NULL. Returns 0, or -1 with err naming the file and problem. */
int model_load(Model *m, const char *dir, const ModelOptions *opt);
void model_free(Model *m);

/* One forward call's tokens. Tokens of one sequence must be contiguous in the
 * batch and at consecutive positions starting at that sequence's n_pos. */
typedef struct {
    int n;                     /* tokens */
    const int *token;          /* [n] ids */
    const int *seq;            /* [n] sequence (cache) index */
    const long *pos;           /* [n] positions */
    const unsigned char *want; /* [n] 1: compute logits for this token; NULL: all */
} Batch;

/* Activations and scratch for one call, owned by a Context: every array a
 * view into one allocation (block), sized by forward_begin for the batch
 * (workspace_reserve in model.c lists the arrays and their sizes once) and
 * grown, never shrunk, as batches need. Nothing in it outlives a call. */
typedef struct {
    void *block;                         /* owns: the arrays below */
    int cap_tokens, cap_keys, cap_threads;
    size_t qx_bytes;
    float *h, *xb, *q, *k, *v, *att, *o; /* (n, dim | q_dim | kv_dim) */
    float *hb1, *hb2, *ffn_out;          /* (n, hidden_dim), (n, dim) */
    float *gate;                         /* (n, n_experts) */
    int *route;                          /* (n, n_active) experts chosen per token */
    float *route_w;                      /* (n, n_active) their weights */
    int *rows;                           /* (n) tokens routed to one expert */
    int *used;                           /* (n_experts) the experts a batch uses */
    float *xe, *ye;                      /* (n, dim) gathered expert inputs/outputs */
    uint16_t *k16, *v16;                 /* (n, kv_dim) the batch's keys/values in an fp16 cache's type */
    const void **kp, **vp;               /* (cap_keys) key/value pointers, per thread */
    long *run_pos;                       /* (n) position of the first token of its run */
    unsigned char *qx;                   /* (qx_bytes) activations quantized for matmul */
} Workspace;

typedef struct {
    const Model *model; /* view: never written through */
    KVCache *seqs; /* owns [n_seq] */
    int n_seq;
    long n_ctx; /* positions each cache was made for */
    int expert_lo, expert_hi; /* MoE experts this process computes: [lo, hi)
                                 (model_prepare packs the same share) */
    /* When set, called on each MoE layer's partial output (n * dim floats)
     * before it joins the residual: expert parallelism sums it across ranks. */
    void (*moe_reduce)(void *ud, float *x, size_t n);
    void *moe_reduce_ud;
    DType kv_type;    /* DT_F32 or DT_F16: how the caches store keys and values */
    int draft_room;   /* slots beyond the window per rolling layer (context_set_draft_room) */
    int pool_view;    /* mm.pool is another context's (context_share_threads) */
    /* What every matmul (and attention) of this context runs with: the kernel
     * table (view; kern_get() unless context_set_kern), the threads (owns, or
     * NULL: the calling thread alone) and the scratch (view: ws.qx). */
    MatmulEnv mm;
    Workspace ws;
} Context;

/* Caches for n_seq sequences of up to n_ctx positions each (see kvcache.h:
 * sequences on models whose layers all have windows may run past n_ctx).
 * Returns 0 or -1 with err set. */
int context_init(Context *ctx, const Model *m, int n_seq, long n_ctx);
void context_free(Context *ctx);
/* Stores keys and values as t (DT_F32, the default, or DT_F16: half the
 * memory and the attention traffic; every key is rounded to fp16 once, so
 * results still do not depend on chunking or batching). Empties the caches.
 * Returns 0, or -1 with err set. */
int context_set_kv_type(Context *ctx, DType t);
/* Room for k drafted tokens (speculative decoding, gen/draft.h): every
 * rolling layer of window W keeps W + k slots, so that a step may write k
 * drafted positions past the last real one and go back over the rejected
 * ones (kvcache_rewind) with the window's keys intact. 0 (the default): W
 * slots, today's memory. Empties the caches. Returns 0, or -1 with err set. */
#define CONTEXT_MAX_DRAFT_ROOM 64
int context_set_draft_room(Context *ctx, int k);
/* on 1: BF16 weights meet activations rounded to bf16 (the kernel table's
 * fast dots, kern/kern.h: each value within 2^-8, the same bits on every
 * table, vdpbf16ps on CPUs with AVX512_BF16; the logits may leave the golden
 * files' bf16 tolerance; measured: bench/RESULTS.md, "Accuracy of the opt-in
 * roundings"); 0 (the default): exact fp32 products. Still batch-, chunk- and
 * thread-invariant. */
void context_set_fast(Context *ctx, int on);
/* Runs the matmuls and attention with table k (context_init: kern_get()). */
void context_set_kern(Context *ctx, const Kern *k);
/* Runs the matmuls on n threads (0: one per online CPU; 1: the caller
 * alone). Results do not depend on n. Returns 0, or -1 with err set. */
int context_set_threads(Context *ctx, int n);

/* Runs ctx's matmuls on owner's threads (a view: owner outlives ctx, and
 * the two never run a forward call at the same time), as a draft model's
 * context does with its target's: two pools would spin against each other. */
void context_share_threads(Context *ctx, const Context *owner);

/* The full forward pass: logits (n_want, n_vocab) for the tokens flagged in
 * b->want, in batch order. Returns 0, or -1 with err set: a bad batch
 * (checked before anything runs: an unknown token, ERR_INPUT; a position
 * past the context, ERR_CONTEXT_FULL; a missing sequence or a position out
 * of order), no memory for its activations (ERR_NOMEM), or an expert that
 * could not be read. */
int forward(Context *ctx, const Batch *b, float *logits);

/* The pieces of forward(), in order: */
int forward_begin(Context *ctx, const Batch *b); /* validates the batch, then sizes the workspace for it */
void forward_embed(Context *ctx, const Batch *b, float *h);
int forward_layers(Context *ctx, const Batch *b, float *h, int l0, int l1); /* 0, or -1 with err set (an expert
                                                                         could not be read) */
void forward_commit(Context *ctx, const Batch *b); /* advances each sequence's n_pos */
int forward_head(Context *ctx, const Batch *b, const float *h, float *logits); /* -> n_want */

#endif
