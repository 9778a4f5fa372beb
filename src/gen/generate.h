/* generate — a fixed set of requests run to the end on one Context: the
 * scheduler (sched.h) builds each step, forward() runs it, one seeded
 * sampler per request picks the next token. Every request gets exactly the
 * tokens it would get alone.
 *
 * A request with a grammar is guided (gen/guide.h): each sample is taken
 * among the tokens that keep its text a viable prefix of the grammar, EOS
 * only where the text is a sentence, and the request ends where the guide
 * is done: at a sampled EOS, or where the text is complete and nothing can
 * continue it (then the tokenizer's EOS is emitted after the last token, as
 * if sampled, so callers see one kind of end). The mask of a request's
 * next sample depends only on its tokens so far, so it is computed on a
 * helper thread while forward() runs the step (GenOptions.sync_masks: on
 * the sampling thread instead); the tokens are the same either way.
 *
 * Speculative decoding (GenOptions.drafter, gen/draft.h): each decoding step
 * feeds the last token and up to k drafted ones; the rows are sampled in
 * order with the request's sampler (and guide: its masks are then applied
 * one row after the other, the guide advancing only with emitted picks)
 * while each pick equals the next draft (gen/sched.h), and the cache goes
 * back over the rejected drafts. The tokens are exactly plain decoding's,
 * greedy or seeded; only the number of forward calls changes. The context
 * needs room for the drafts: context_set_draft_room(ctx, drafter->k_max). */
#ifndef GEN_GENERATE_H
#define GEN_GENERATE_H

#include "gen/draft.h"
#include "gen/guide.h"
#include "gen/sampler.h"
#include "gen/sched.h"
#include "model/model.h"

typedef struct {
    const int *prompt; /* view [n_prompt] */
    int n_prompt;      /* >= 1 */
    int max_new;       /* tokens to generate */
    int append;        /* 1: continue the sequence's cache (a chat turn); 0: start over */
    const Grammar *grammar; /* view: the output is a sentence of this finished grammar
                               (GenOptions.vocab); NULL: unconstrained */
} GenRequest;

typedef struct {
    int chunk_size; /* prompt tokens per forward call; 0: GEN_DEFAULT_CHUNK */
    SamplerParams sampler;
    int eos; /* stop a request when it samples this id (emitted first); -1: never */
    const Vocab *vocab; /* view: the tokenizer's vocabulary, for requests with a grammar */
    int sync_masks;     /* 1: masks on the sampling thread, not overlapped with forward() */
    Drafter *drafter;   /* view: speculative decoding, request r drafted as its sequence r
                           (its stats: drafter->seqs[r].stats); NULL: plain decoding */
} GenOptions;

/* Positions the context needs for these requests (the longest prompt + new). */
long generate_context_size(const GenRequest *reqs, int n_req);

/* Runs requests 0..n_req-1 in sequences 0..n_req-1 of ctx (each reset
 * first unless it has `append`). The last sampled token is not fed back.
 * Returns 0, or -1 with err set (a grammar without opt->vocab, ...). */
int generate(Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *opt, GenEmit emit,
             void *ud);

#endif
