/* sched — the one scheduler: which tokens of which sequences go into the
 * next forward call, and what happens to the tokens sampled from it.
 *
 * A sequence (a slot: one rolling KV cache of a Context) is started with a
 * prompt and a token budget. Each step's batch takes, for every running
 * sequence that is not already in flight:
 *   - decoding: its last sampled token (logits wanted), then the tokens
 *     drafted for it, if any (each with logits wanted; see below);
 *   - prefilling: its next prompt chunk (at most `chunk` tokens; logits
 *     wanted only for the prompt's last token);
 * decode tokens first, then prompt chunks in the order the sequences were
 * started: while some sequences decode, only as many prompt tokens as the
 * step's budget leaves (so a long new prompt delays running streams by one
 * small step at a time: stall-free chunked prefill); when none decodes,
 * whole chunks (prefill at full speed). With a target step time
 * (Sched.max_step: the server's --max-itl-ms) the budget is what the
 * measured step costs leave beside the decode rows (gen/stepcost.h). The
 * caller runs
 * the batch (forward, or the pipeline's stages), samples one id per wanted
 * row and hands the ids back to sched_accept, which emits them and ends the
 * sequences that are done (EOS, max_new, the emit callback's word).
 *
 * Speculative decoding (gen/draft.h): before sched_next_batch the caller may
 * give a decoding sequence up to sched_draft_room() drafted tokens
 * (sched_set_draft). Its step then feeds last, d1..dk at consecutive
 * positions, every row's logits wanted. The caller verifies the rows in
 * order: it samples row 0 (p0); while p_i equals the next draft
 * (SchedBatch.next[i]) it samples row i + 1; the rows after the first pick
 * that differs get SCHED_UNUSED. sched_accept emits the picks in order
 * through the same rules as plain decoding (an EOS or the callback's word in
 * the middle ends it there) and sets the sequence's position to the first
 * row's + the picks emitted: the caller rewinds the cache to it
 * (SchedSeq.pos; kvcache_rewind). Since the rows sampled are those plain
 * decoding would sample, in the same order and from the same logits, the
 * tokens are plain decoding's. Drafts never reach past the positions plain
 * decoding writes (k <= the budget left - 1).
 *
 * Every token's result is independent of what else is in its batch, so the
 * schedule (budget, chunking, what runs beside it) never changes a
 * sequence's tokens. generate(), the MPI pipeline (several batches in
 * flight, one per stage) and the server all drive this. */
#ifndef GEN_SCHED_H
#define GEN_SCHED_H

#include "gen/stepcost.h"

/* Prompt tokens fed per forward call when no chunk size is given; chunking
 * never changes results, it only bounds the activations' memory. */
#define GEN_DEFAULT_CHUNK 512

/* The most tokens one step may draft for a sequence. */
#define SCHED_DRAFT_MAX 32
/* A row's id in sched_accept: not sampled (after a rejected draft). */
#define SCHED_UNUSED (-1)

/* Called with each new token of sequence `seq`; return nonzero to stop it. */
typedef int (*GenEmit)(void *ud, int seq, int token);

typedef enum { SEQ_IDLE, SEQ_PREFILL, SEQ_DECODE, SEQ_DONE } SeqState;

typedef struct {
    SeqState state;
    const int *prompt; /* view [n_prompt]: the caller keeps it alive until DONE */
    int n_prompt;
    int fed;           /* prompt tokens fed so far */
    long pos;          /* position of the next token fed */
    int max_new, n_new;
    int last;          /* last sampled token: fed next while decoding */
    int inflight;      /* in a batch whose ids have not come back */
    long order;        /* start order: prompt chunks go first-come first-served */
    int draft[SCHED_DRAFT_MAX]; /* drafted tokens fed after last in the next step */
    int n_draft;
    int verifying;     /* sched_accept: still taking this sequence's rows */
} SchedSeq;

typedef struct {
    int n;            /* tokens */
    int *token, *seq; /* [n] */
    long *pos;        /* [n] */
    unsigned char *want; /* [n] */
    int n_want;
    int *owner;       /* [n_want]: the sequence of each logits row, in batch order */
    int *next;        /* [n_want]: the draft fed after the row's token (its pick must
                         equal it for the next row to count), or -1: the sequence's last row */
    int n_drafted;    /* drafted tokens in the batch */
    int n_prompt;     /* prompt tokens in the batch */
    int cap;
} SchedBatch;

typedef struct {
    int n_seq;
    SchedSeq *seqs;   /* owns [n_seq] */
    int chunk;        /* prompt tokens per sequence per step */
    int budget;       /* tokens per step while sequences decode (at least budget/4
                         of them prompt tokens); 0: no limit */
    int eos;          /* a sampled eos ends its sequence (emitted first); -1: none */
    long started;
    double max_step;  /* > 0 (with budget): seconds a step with decoding sequences should
                         take; its prompt tokens come from cost (gen/stepcost.h), at
                         least the waiting prompts' share of budget, W/(W + D) of it,
                         and budget/4, at most chunk; 0: the fixed budget */
    StepCost cost;    /* the caller's measured steps (stepcost_observe), for max_step */
} Sched;

/* chunk <= 0: GEN_DEFAULT_CHUNK; budget <= 0: no limit (generate(): every
 * sequence's next chunk in each step). */
void sched_init(Sched *s, int n_seq, int chunk, int budget, int eos);
void sched_free(Sched *s);
void sched_batch_free(SchedBatch *b);

/* Starts sequence seq: feed prompt[0..n_prompt) from position pos (0 for a
 * fresh cache; the cache's n_pos to continue it), then sample up to max_new
 * tokens (max_new <= 0: none; the prompt is still fed). Returns 0, or -1
 * with err set (an empty prompt, a sequence in flight). */
int sched_start(Sched *s, int seq, const int *prompt, int n_prompt, int max_new, long pos);
/* Ends seq now (a cancelled request); an in-flight batch's id for it is
 * dropped when it comes back. */
void sched_stop(Sched *s, int seq);
/* b will never be accepted (its forward call failed): its sequences leave
 * flight (stop them, or they are fed again from where b left them). */
void sched_abandon(Sched *s, const SchedBatch *b);
/* Sequences still prefilling or decoding. */
int sched_active(const Sched *s);

/* Drafted tokens sequence seq may take in its next step: 0 unless it is
 * decoding and not in flight; at most SCHED_DRAFT_MAX and max_new - n_new - 1
 * (a draft never writes a position plain decoding would not). */
int sched_draft_room(const Sched *s, int seq);
/* Sets the drafts of seq's next step (replacing any): the first `room` of
 * tokens[0..k). Returns how many it kept. */
int sched_set_draft(Sched *s, int seq, const int *tokens, int k);

/* Fills b with the next step of at most max_seqs sequences (<= 0: any
 * number) that are running and not in flight, and marks them in flight.
 * Returns the token count (0: nothing to run now). */
int sched_next_batch(Sched *s, SchedBatch *b, int max_seqs);

/* The ids sampled for b's wanted rows (ids[i] for row i; SCHED_UNUSED for
 * rows not sampled): each is emitted and fed next, or ends its sequence;
 * b's sequences leave flight. A sequence's rows are taken in order up to
 * the first pick that differs from the next draft (b->next), its end, or an
 * unused row. Its position becomes the last taken row's + 1: with drafts,
 * the cache may hold more (rewind it to SchedSeq.pos). */
void sched_accept(Sched *s, const SchedBatch *b, const int *ids, GenEmit emit, void *ud);

#endif
