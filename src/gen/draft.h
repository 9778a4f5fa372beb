/* draft — drafters for speculative decoding: cheap guesses of the next few
 * tokens of a sequence, which the model then checks all at once (one
 * forward call for the last token and k drafts; gen/sched.h says how the
 * rows are verified). A drafter only proposes: a wrong guess costs time,
 * never a token, since every emitted token is the pick plain decoding
 * would make from the same logits with the same sampler state.
 *
 * Kinds:
 *   - DRAFT_MODEL: a second, smaller model with the same vocabulary (its
 *     own Context); it drafts greedily, one token per forward call, from its
 *     own cache, which it feeds with the tokens it has not seen (the prompt
 *     first) and rewinds to what the target accepted;
 *   - DRAFT_LOOKUP: prompt lookup: the longest n-gram (n from N down to 1)
 *     that ends the text (prompt + generated) and occurred before; the
 *     tokens that followed its most recent occurrence (continued
 *     periodically where they run out) are the draft;
 *   - DRAFT_CALL: a caller's function (tests force chosen wrong drafts).
 *
 * A drafter keeps, per sequence, the sequence's text (the tokens its cache
 * holds: drafter_commit), how many tokens to draft next and the counts of
 * drafted and accepted tokens (DraftStats). The number drafted adapts: it
 * falls to one more than the drafts accepted after a rejection and doubles
 * after a step that accepted all, within [1, k_max].
 *
 * Sequence s of a drafter is sequence s of the Context it drafts for (and
 * of the draft model's Context). One thread at a time. */
#ifndef GEN_DRAFT_H
#define GEN_DRAFT_H

#include "base/vec.h"
#include "gen/sched.h"
#include "model/model.h"
#include "tok/tokenizer.h"

/* --draft-max defaults. */
#define DRAFT_DEFAULT_MAX_MODEL 8
#define DRAFT_DEFAULT_MAX_LOOKUP 4

typedef enum { DRAFT_MODEL, DRAFT_LOOKUP, DRAFT_CALL } DraftKind;

/* What speculation did for one sequence (a request), or in all. */
typedef struct {
    long steps;    /* steps that carried drafts */
    long drafted;  /* drafted tokens fed to the model */
    long accepted; /* drafted tokens that were emitted */
} DraftStats;

/* DRAFT_CALL: up to k tokens that may continue text[0..n) of sequence seq
 * into out; returns how many (0..k). */
typedef int (*DraftFn)(void *ud, int seq, const int *text, int n, int k, int *out);

typedef struct {
    IntVec text;      /* owns: the tokens the sequence's cache holds */
    IntVec fed;       /* owns: DRAFT_MODEL: the tokens the draft model's cache holds */
    int k;            /* tokens to draft next step */
    DraftStats stats; /* since drafter_begin */
} DraftSeq;

typedef struct Drafter {
    DraftKind kind;
    int k_max;       /* the most tokens drafted per step (--draft-max) */
    int n_seq;
    DraftSeq *seqs;  /* owns [n_seq] */
    Context *ctx;    /* DRAFT_MODEL: view: the draft model's context (n_seq sequences) */
    int lookup_n;    /* DRAFT_LOOKUP: the longest n-gram */
    DraftFn fn;      /* DRAFT_CALL */
    void *fn_ud;
    DraftStats total; /* every sequence, since drafter_init */
    float *logits;   /* owns: DRAFT_MODEL scratch (n_seq, n_vocab) */
} Drafter;

/* A drafter over the draft model's context dctx (its n_seq sequences; the
 * caller keeps it alive and owns it). Makes dctx's caches afresh with room
 * for k_max drafts. 0, or -1 with err set. */
int drafter_init_model(Drafter *d, Context *dctx, int k_max);
/* Prompt lookup with n-grams of at most n tokens, for n_seq sequences. */
int drafter_init_lookup(Drafter *d, int n, int n_seq, int k_max);
/* The caller's function fn drafts, for n_seq sequences. */
int drafter_init_fn(Drafter *d, DraftFn fn, void *ud, int n_seq, int k_max);
/* Accepts a zeroed or half-built drafter. */
void drafter_free(Drafter *d);

/* Sequence seq starts over (append 0: its text is forgotten, its stats
 * zeroed) or goes on (append 1: a chat's next turn). */
void drafter_begin(Drafter *d, int seq, int append);
/* tokens[0..n) entered seq's cache after its text. */
void drafter_commit(Drafter *d, int seq, const int *tokens, int n);
/* Drafts for n sequences at once: seqs[i]'s text followed by last[i] (the
 * token its next step feeds) gets up to want[i] tokens in
 * out[i * k_max ...], got[i] of them. 0, or -1 with err set (the draft
 * model's forward call failed). */
int drafter_propose(Drafter *d, int n, const int *seqs, const int *last, const int *want, int *out, int *got);
/* Step result of seq: `drafted` tokens were fed, `accepted` of them
 * emitted. Counts them and adapts the next step's length. */
void drafter_result(Drafter *d, int seq, int drafted, int accepted);
/* How many tokens seq should draft next (at most k_max). */
int drafter_want(const Drafter *d, int seq);

/* With the scheduler (sequence s of sched, of the drafter and of the target
 * context are one sequence): what generate() does around each step, and a
 * server's engine can do the same.
 *
 * Before sched_next_batch: drafts for every sequence that may take some
 * (sched_draft_room; at most drafter_want), set with sched_set_draft. 0, or
 * -1 with err set. */
int drafter_draft(Drafter *d, Sched *sched);
/* After sched_accept(b): what entered each of b's sequences' caches is
 * committed, the target context's caches go back over the rejected drafts
 * (to SchedSeq.pos), and each drafted sequence's result is counted
 * (drafter_result). 0, or -1 with err set (a cache that could not go back:
 * the context lacks room for the drafts, context_set_draft_room). */
int drafter_settle(Drafter *d, Context *ctx, const Sched *sched, const SchedBatch *b);

/* 0 when draft can draft for target: the same n_vocab and, where both have
 * a tokenizer (NULL: none), the same pieces, BOS and EOS. Else -1 with err
 * naming the first difference. */
int draft_check_vocab(const Model *target, const Tokenizer *ttok, const Model *draft, const Tokenizer *dtok);

#endif
