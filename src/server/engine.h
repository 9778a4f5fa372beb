/* engine — the server's one engine thread: continuous batching of many
 * requests over the rolling KV caches of one Context.
 *
 * Slots are the Context's sequences. A request (a prompt and how to sample
 * it, n choices) waits in a queue until it has a free slot per choice, then
 * runs in the scheduler (gen/sched.h) with every other running request:
 * each step is one forward call holding every decoding sequence's next token
 * and as many prompt tokens of new ones as the step's token budget leaves,
 * so a long prompt delays running streams by one small step at a time
 * (prompts alone are fed in whole chunks). With max_itl_ms the step's
 * prompt tokens are those its fitted cost leaves under that target
 * (gen/stepcost.h; every step's time is measured for the fit). Tokens go back to the
 * request as events (text deltas that never split a UTF-8 character or show
 * text that may still become a stop text, log-probabilities) through a
 * queue the HTTP thread waits on. A finished or cancelled request frees its
 * slots at once.
 *
 * A slot remembers the tokens its cache holds: a request whose prompt starts
 * with them (the next turn of a chat, a shared system prompt) reuses that
 * prefix while the rolling cache still holds every key it needs
 * (kvcache_can_rewind), and prefills only the rest.
 *
 * A request with n > 1 choices prefills its prompt once: choice 0 feeds it
 * but its last token, the other choices copy that cache (kvcache_copy) and
 * each feeds the last token itself, so every choice samples what it would
 * have alone (EngineStats.forked_tokens counts the positions copied).
 *
 * A request with a grammar (structured outputs) gives each choice a Guide
 * (gen/guide.h): before its token is sampled the tokens the grammar forbids
 * get -inf (tokens past the tokenizer's vocabulary too), after it the guide
 * advances; a choice whose text is complete and cannot go on ends there
 * (FINISH_STOP). A mask depends only on the choice's own tokens.
 *
 * Speculative decoding (EngineOptions.drafter: a draft model or prompt
 * lookup, gen/draft.h; on rank 0 with a plan): sequence s of the drafter is slot
 * s. Before a step the engine asks server/specrule.h whether drafting pays
 * for the whole batch. With t(n) the step time of n batch tokens (a + b n,
 * fitted over the recent steps), and per sequence asked to draft x drafted
 * tokens fed, y accepted and c seconds of drafting (recent averages), a
 * step of D decoding sequences, m of which may draft, and P(n) prompt
 * tokens beside n decode tokens drafts when
 *     (D + m y) / (t(D + m x + P(D + m x)) + m c)  >  D / t(D + P(D)),
 * that is, when the batch's expected tokens per second rise. A large batch,
 * or a model whose step time grows with every token, decodes plain (a
 * probe every SPECRULE_PROBE declined steps keeps the estimates fresh;
 * draft_always: every step drafts). A drafted slot's rows are sampled in
 * order with its sampler (and guide: a row's mask after the picks before
 * it) while each pick equals the next draft, exactly as gen/generate.c
 * does, and its cache goes back over the rejected drafts before anything
 * else reads it; a slot's history (for prefix reuse) is the tokens the
 * engine accepted, never what a cache was last written with. Each choice's
 * closing event counts its drafted and accepted tokens; EngineStats the
 * server's.
 *
 * With a prompt cache (EngineOptions.prompt_cache, server/promptcache.h) a
 * slot's state also goes to disk before the slot is taken for a prompt
 * that keeps less of it, and every slot's at shutdown; a prompt that a file
 * restores further than any slot's own prefix is restored into the open
 * slot with the shortest history. Files are read and written on the engine
 * thread between steps.
 *
 * Every token's result is independent of the batch it rides in, so a
 * request's tokens (greedy, or sampled with a seed) are the same alone or
 * under any load, and with speculation or without. */
#ifndef SERVER_ENGINE_H
#define SERVER_ENGINE_H

#include <pthread.h>

#include "base/vec.h"
#include "dist/pipeline.h"
#include "gen/draft.h"
#include "gen/guide.h"
#include "gen/sampler.h"
#include "gen/sched.h"
#include "gen/stream.h"
#include "grammar/grammar.h"
#include "grammar/vocab.h"
#include "model/model.h"
#include "server/promptcache.h"
#include "server/specrule.h"
#include "tok/tokenizer.h"

#define ENGINE_MAX_STOPS 4
#define ENGINE_MAX_TOP 20

/* Why a choice ended: EOS or a stop text, max_new, the engine stopping,
 * or its step failing (memory). */
typedef enum { FINISH_NONE, FINISH_STOP, FINISH_LENGTH, FINISH_CANCELLED, FINISH_ERROR } Finish;

typedef struct {
    int max_new;      /* tokens to generate per choice, >= 1 */
    SamplerParams sp; /* choice i samples with seed sp.seed + i */
    int n;            /* choices, >= 1 */
    char *stops[ENGINE_MAX_STOPS]; /* owns: stop texts */
    int n_stop;
    int top_logprobs; /* -1: no log-probabilities; 0..ENGINE_MAX_TOP: the chosen token's and that many alternatives */
    int ignore_eos;
    Grammar *grammar;   /* owns: what every choice's text follows (finished; shared by
                           the n choices, freed with the request); NULL: free text */
    const Vocab *vocab; /* view: grammar's vocabulary (the server's, outliving the engine) */
} EngineParams;

/* What the HTTP side gets, per token of a choice. */
typedef struct {
    int choice;
    int token;        /* -1 for a choice's closing event without a new token */
    char *text;       /* owns: the choice's new certain text (NUL-terminated; may be "") */
    size_t len;
    float logprob;    /* log p(token) under the model (temperature 1) */
    int n_top;
    int top_id[ENGINE_MAX_TOP];
    float top_lp[ENGINE_MAX_TOP];
    Finish finish;    /* set on the choice's last event */
    int *ids;         /* owns, on the last event: every token the choice generated */
    int n_ids;
    int spec;         /* on the last event: the engine speculates; then the choice's */
    long drafted, accepted; /* drafted tokens fed and drafted tokens emitted */
} EngineEvent;

void engine_event_free(EngineEvent *ev);

typedef struct EngineReq EngineReq;

typedef struct {
    int n_slots;         /* (from the context) sequences run at once (--parallel) */
    long n_ctx;          /* (from the context) positions per slot (--ctx) */
    int batch_tokens;    /* tokens per step while sequences decode (--batch-tokens) */
    int max_itl_ms;      /* > 0: prompt tokens per step from the measured step times, so
                            that a step with decoding sequences takes about this long
                            (gen/stepcost.h; at least the waiting prompts' share of
                            batch_tokens; --max-itl-ms); 0: batch_tokens */
    int chunk;           /* prompt tokens per sequence per step (0: GEN_DEFAULT_CHUNK) */
    int queue;           /* requests that may wait for a slot (--queue) */
    int tool_calls_id;   /* [TOOL_CALLS]: after it a choice streams no text; -1: none */
    const PipelinePlan *plan; /* NULL: steps run here; else through the MPI ranks
                                        (rank 0: this engine; one step in flight per stage) */
    Drafter *drafter;    /* view: speculative decoding, sequence s drafted as slot s (the
                            context has room for drafter->k_max drafts, and so do the
                            other ranks' with a plan); NULL: none */
    int draft_always;    /* 1: draft at every step, not by the rule (tests) */
    const char *prompt_cache;  /* a directory: slots' states saved and restored (promptcache.h); NULL: none */
    size_t prompt_cache_size;  /* its bound in bytes */
} EngineOptions;

typedef struct {
    PromptCacheStats pc; /* zero without a prompt cache */
    long requests, prompt_tokens, generated_tokens, cached_tokens;
    int queue_depth, busy_slots, n_slots;
    double decode_tps; /* tokens sampled per second over recent steps */
    long drafted, accepted, spec_steps; /* drafted tokens fed, emitted; steps that drafted */
    long forked_tokens; /* prompt positions choices > 0 copied from choice 0's cache */
} EngineStats;

typedef struct Slot Slot;

typedef struct {
    const Model *model;
    const Tokenizer *tok;
    EngineOptions o;
    Context *ctx;     /* view: the caller's, prepared (kernel table, threads, KV type) */
    Sched sched;
    Slot *slots;      /* owns [n_slots] */
    EngineReq **queue; /* owns [o.queue]: waiting requests, oldest first */
    int n_queue;
    pthread_t thread;
    pthread_mutex_t mu; /* everything shared with the HTTP threads */
    pthread_cond_t wake;
    int started, quit;
    EngineStats st;
    SpecRule rule;    /* when to draft (engine thread only) */
    PromptCache *pcache; /* owns: the prompt cache on disk (engine thread only); NULL: none */
} Engine;

/* Starts the engine thread on ctx (its sequences are the slots; the caller
 * keeps it, and frees it after engine_free). Returns 0, or -1 with err set. */
int engine_start(Engine *e, Context *ctx, const Tokenizer *tok, const EngineOptions *o);
/* Stops the thread: running and waiting requests end with FINISH_CANCELLED
 * (their readers get closing events); new ones are refused. */
void engine_stop(Engine *e);
/* Frees everything (after engine_stop, once no reader waits on it). */
void engine_free(Engine *e);

/* A request: copies the prompt; p's stop texts and grammar are taken over
 * (p's copies must not be freed). */
EngineReq *engine_req_new(const int *prompt, int n_prompt, EngineParams *p);
/* Queues r, checked whole before any of it runs (a bad token would fail
 * the step of every request beside it). Returns 0; -1 with err set when r
 * cannot run here (an empty prompt or an id outside the vocabulary:
 * ERR_INPUT; longer than the context: ERR_CONTEXT_FULL; too many choices),
 * -2 when the queue is full, -3 when the engine is stopping. On failure the
 * caller still owns r. */
int engine_submit(Engine *e, EngineReq *r);
/* The next event of r: 1 (ev filled; the caller frees it), 0 when none came
 * within timeout_ms, -1 when every choice has ended. */
int engine_next(Engine *e, EngineReq *r, EngineEvent *ev, int timeout_ms);
/* The HTTP side is done with r (after the last event, or early: the client
 * went away, which cancels r's choices within a step). r is freed once the
 * engine is done with it too. */
void engine_release(Engine *e, EngineReq *r);
/* Prompt tokens r reused from a slot's cache (choice 0's), once it runs. */
int engine_req_cached(Engine *e, EngineReq *r);
/* now_seconds() when r got its slots (its queue wait ends); 0 while it waits. */
double engine_req_admitted(Engine *e, EngineReq *r);

EngineStats engine_stats(Engine *e);

#endif
