/* generate — the scheduler: feeds prompts in chunks and decodes many
 * sequences together, one forward call per step.
 *
 * Each step's batch holds, for every unfinished request, either its next
 * prompt chunk or its last sampled token, so prefill of some sequences and
 * decode of others share a call. A token's result does not depend on what
 * else is in the batch, so every request gets exactly the tokens it would get
 * alone (each has its own sampler, seeded with the same seed). */
#ifndef GEN_GENERATE_H
#define GEN_GENERATE_H

#include "gen/sampler.h"
#include "model/model.h"

/* Prompt tokens fed per forward call when no chunk size is given; chunking
 * never changes results, it only bounds the activations' memory. */
#define GEN_DEFAULT_CHUNK 512

typedef struct {
    const int *prompt; /* view [n_prompt] */
    int n_prompt;      /* >= 1 */
    int max_new;       /* tokens to generate */
    int append;        /* 1: continue the sequence's cache (a chat turn); 0: start over */
} GenRequest;

typedef struct {
    int chunk_size; /* prompt tokens per forward call; 0: GEN_DEFAULT_CHUNK */
    SamplerParams sampler;
    int eos; /* stop a request when it samples this id; -1: never */
} GenOptions;

/* Called with each new token of request `req`; return nonzero to stop it. */
typedef int (*GenEmit)(void *ud, int req, int token);

/* A request's progress in a scheduler (here and in dist/pipeline.c). */
typedef struct {
    int fed;   /* prompt tokens fed so far */
    int n_new; /* tokens generated */
    int last;  /* last sampled token, fed next */
    int done;
} GenProgress;

/* The next forward call's tokens of requests [r0, r1): for each unfinished
 * one, its next prompt chunk (at most `chunk` tokens; advances fed) or its
 * last sampled token. Writes token/seq/pos/want (sequence r = request r) and
 * owner[] (the request of each wanted token, in order; *n_want of them);
 * returns the token count. */
int gen_step_batch(const Context *ctx, const GenRequest *reqs, GenProgress *ps, int r0, int r1, int chunk,
                   int *token, int *seq, long *pos, unsigned char *want, int *owner, int *n_want);

/* Positions the context needs for these requests (the longest prompt + new). */
long generate_context_size(const GenRequest *reqs, int n_req);

/* Runs requests 0..n_req-1 in sequences 0..n_req-1 of ctx (each reset
 * first unless it has `append`). The last sampled token is not fed back.
 * Returns 0, or -1 with err set. */
int generate(Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *opt, GenEmit emit,
             void *ud);

#endif
