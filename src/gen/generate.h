/* generate — a fixed set of requests run to the end on one Context: the
 * scheduler (sched.h) builds each step, forward() runs it, one seeded
 * sampler per request picks the next token. Every request gets exactly the
 * tokens it would get alone. */
#ifndef GEN_GENERATE_H
#define GEN_GENERATE_H

#include "gen/sampler.h"
#include "gen/sched.h"
#include "model/model.h"

typedef struct {
    const int *prompt; /* view [n_prompt] */
    int n_prompt;      /* >= 1 */
    int max_new;       /* tokens to generate */
    int append;        /* 1: continue the sequence's cache (a chat turn); 0: start over */
} GenRequest;

typedef struct {
    int chunk_size; /* prompt tokens per forward call; 0: GEN_DEFAULT_CHUNK */
    SamplerParams sampler;
    int eos; /* stop a request when it samples this id (emitted first); -1: never */
} GenOptions;

/* Positions the context needs for these requests (the longest prompt + new). */
long generate_context_size(const GenRequest *reqs, int n_req);

/* Runs requests 0..n_req-1 in sequences 0..n_req-1 of ctx (each reset
 * first unless it has `append`). The last sampled token is not fed back.
 * Returns 0, or -1 with err set. */
int generate(Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *opt, GenEmit emit,
             void *ud);

#endif
