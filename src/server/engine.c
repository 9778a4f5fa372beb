/* engine — continuous batching for the server (see engine.h). */
#include "server/engine.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "dist/pipeline.h"

struct EngineReq {
    int *prompt; /* owns [n_prompt] */
    int n_prompt;
    EngineParams p;
    pthread_cond_t cv;   /* signalled with each event (under the engine's mutex) */
    EngineEvent *ev;     /* owns: events not yet taken, [head, n_ev) */
    int n_ev, cap_ev, head;
    int running;         /* choices in slots */
    int ended;           /* choices that sent their last event */
    int queued;          /* waiting in the queue */
    int engine_holds, http_holds;
    int cancelled;
    int cached;
    double admitted;     /* now_seconds() when it got its slots; 0 while it waits */
};

/* A slot: one sequence of the context and what runs in it. */
struct Slot {
    EngineReq *req;   /* view: NULL when free */
    int choice;
    Sampler sampler;
    Stream stream;
    IntVec gen;       /* tokens this choice generated */
    IntVec hist;      /* tokens in the cache, positions [0, n_pos): for prefix reuse */
    int in_calls;     /* past [TOOL_CALLS]: no more text */
    Guide guide;      /* owns, when guided: the request's grammar over this choice's text */
    int guided;
    int forking;      /* choice 0 of n > 1, prefilling the prompt but its last token for all */
    int waiting;      /* a choice > 0 waiting for that prefill (fork_choices) */
};

void engine_event_free(EngineEvent *ev) {
    free(ev->text), free(ev->ids);
    memset(ev, 0, sizeof *ev);
}

static void params_free(EngineParams *p) {
    for (int i = 0; i < p->n_stop; i++) free(p->stops[i]);
    if (p->grammar) grammar_free(p->grammar), free(p->grammar);
    p->n_stop = 0, p->grammar = NULL;
}

EngineReq *engine_req_new(const int *prompt, int n_prompt, EngineParams *p) {
    EngineReq *r = xcalloc(1, sizeof *r);
    r->prompt = xmalloc((size_t)(n_prompt > 0 ? n_prompt : 1) * sizeof(int));
    if (n_prompt > 0) memcpy(r->prompt, prompt, (size_t)n_prompt * sizeof(int));
    r->n_prompt = n_prompt;
    r->p = *p;
    p->n_stop = 0, p->grammar = NULL; /* the stop texts and the grammar are r's now */
    pthread_cond_init(&r->cv, NULL);
    r->http_holds = 1;
    return r;
}

static void req_free(EngineReq *r) {
    for (int i = r->head; i < r->n_ev; i++) engine_event_free(&r->ev[i]);
    free(r->ev), free(r->prompt);
    params_free(&r->p);
    pthread_cond_destroy(&r->cv);
    free(r);
}

/* Under the lock: hands ev to r's reader. */
static void req_push(EngineReq *r, EngineEvent *ev) {
    if (r->head > 0 && r->head == r->n_ev) r->head = r->n_ev = 0;
    if (r->n_ev == r->cap_ev) r->ev = xrealloc(r->ev, (size_t)(r->cap_ev = r->cap_ev ? 2 * r->cap_ev : 16) * sizeof *r->ev);
    r->ev[r->n_ev++] = *ev;
    memset(ev, 0, sizeof *ev);
    pthread_cond_signal(&r->cv);
}

/* Under the lock: the engine lets go of r once nothing of it runs or waits. */
static void req_engine_done(EngineReq *r) {
    if (r->running || r->queued || !r->engine_holds) return;
    r->engine_holds = 0;
    if (!r->http_holds) req_free(r);
}

/* ---- slots ------------------------------------------------------------------ */

/* Tokens a prompt can reuse from slot s: the common prefix of the slot's
 * history, at most n - 1 (one token must be fed for logits), while the cache
 * still holds what position L needs. */
static int reusable(const Engine *e, int s, const int *prompt, int n) {
    const IntVec *h = &e->slots[s].hist;
    int L = 0;
    while (L < h->n && L < n - 1 && h->v[L] == prompt[L]) L++;
    while (L > 0 && !kvcache_can_rewind(&e->ctx->seqs[s], L)) L--;
    return L;
}

/* ---- the prompt cache on disk (promptcache.h) ----------------------------------------- */

static int slot_open(const Engine *e, int s); /* below, with the slots it guards */

/* Under the lock: saves slot s's state (its history) before the slot keeps
 * only `keep` tokens of it (0: at shutdown, or when a file replaces it). */
static void pcache_keep(Engine *e, int s, int keep) {
    const IntVec *h = &e->slots[s].hist;
    int n = h->n;
    while (n > keep && !kvcache_can_rewind(&e->ctx->seqs[s], n)) n--;
    if (n > keep) promptcache_save(e->pcache, h->v, n, &e->ctx->seqs[s]);
}

/* Under the lock, before a choice of r takes slot *best at *best_L tokens
 * of the slot's own prefix: a file restoring more of the prompt goes into
 * the open slot with the shortest history (saved first), which becomes
 * *best; else the slot's history past *best_L is saved before it is cut. */
static void pcache_admit(Engine *e, const EngineReq *r, int *best, int *best_L) {
    PromptCache *pc = e->pcache;
    int entry, L = promptcache_find(pc, r->prompt, r->n_prompt - 1, &entry);
    if (L > *best_L) {
        int s = -1;
        for (int i = 0; i < e->o.n_slots; i++)
            if (slot_open(e, i) && (s < 0 || e->slots[i].hist.n < e->slots[s].hist.n)) s = i;
        promptcache_touch(pc, entry); /* the save's evictions take it last */
        pcache_keep(e, s, 0);
        L = promptcache_find(pc, r->prompt, r->n_prompt - 1, &entry); /* in case they took it */
        if (L > *best_L) {
            IntVec *h = &e->slots[s].hist;
            h->n = 0;
            if (promptcache_load(pc, entry, r->prompt, L, &e->ctx->seqs[s]) == 0) {
                for (int i = 0; i < L; i++) intvec_push(h, r->prompt[i]);
                *best = s, *best_L = L;
                return;
            }
            if (s == *best) *best_L = 0; /* a bad file emptied it */
        }
    }
    promptcache_missed(pc);
    pcache_keep(e, *best, *best_L);
}

/* Frees slot s (its history stays, for the next prompt that shares it). */
static void slot_free(Engine *e, int s) {
    Slot *sl = &e->slots[s];
    EngineReq *r = sl->req;
    /* the cache holds the prompt's fed tokens and every generated one but the
     * last (rank 0's positions: the other ranks follow it): the scheduler's
     * position, the tokens it accepted; what a cache holds past it (a step's
     * drafts, were it never rewound) is no history */
    for (int i = 0; i < sl->gen.n; i++) intvec_push(&sl->hist, sl->gen.v[i]);
    long keep = e->ctx->seqs[s].n_pos < e->sched.seqs[s].pos ? e->ctx->seqs[s].n_pos : e->sched.seqs[s].pos;
    if (sl->hist.n > keep) sl->hist.n = (int)keep;
    sampler_free(&sl->sampler);
    stream_free(&sl->stream);
    if (sl->guided) guide_free(&sl->guide);
    sl->gen.n = 0, sl->req = NULL, sl->in_calls = 0, sl->guided = 0, sl->forking = sl->waiting = 0;
    sched_stop(&e->sched, s);
    e->st.busy_slots--;
    r->running--;
    req_engine_done(r);
}

/* A closing event's speculation counts: slot s's drafter stats, and this
 * step's `drafted` and `accepted` not yet counted there. */
static void spec_counts(const Engine *e, int s, EngineEvent *ev, long drafted, long accepted) {
    const Drafter *d = e->o.drafter;
    if (!d) return;
    ev->spec = 1;
    ev->drafted = d->seqs[s].stats.drafted + drafted;
    ev->accepted = d->seqs[s].stats.accepted + accepted;
}

/* Under the lock: ends slot s's choice now (the engine stops, or its step
 * failed): a closing event with what it generated, and the slot freed. */
static void choice_abort(Engine *e, int s, Finish why) {
    Slot *sl = &e->slots[s];
    if (sl->forking) /* the choices waiting for its prompt end with it (first: they hold the request) */
        for (int t = 0; t < e->o.n_slots; t++)
            if (e->slots[t].req == sl->req && e->slots[t].waiting) choice_abort(e, t, why);
    EngineEvent ev = {.choice = sl->choice, .token = -1, .finish = why, .text = xstrdup("")};
    spec_counts(e, s, &ev, 0, 0);
    ev.ids = xmalloc((size_t)(sl->gen.n ? sl->gen.n : 1) * sizeof(int));
    memcpy(ev.ids, sl->gen.v, (size_t)sl->gen.n * sizeof(int));
    ev.n_ids = sl->gen.n;
    sl->req->ended++;
    req_push(sl->req, &ev);
    slot_free(e, s);
}

/* Under the lock: choice c of r takes slot s (its cache and history set). */
static void choice_init(Engine *e, int s, EngineReq *r, int c) {
    Slot *sl = &e->slots[s];
    SamplerParams sp = r->p.sp;
    sp.seed += (uint64_t)c;
    sl->req = r, sl->choice = c;
    CHECK(sampler_init(&sl->sampler, &sp, e->model->cfg.n_vocab) == 0); /* checked at submit */
    sampler_prime(&sl->sampler, r->prompt, r->n_prompt); /* the repeat penalty's window */
    if (r->p.grammar) CHECK(guide_init(&sl->guide, r->p.grammar, r->p.vocab) == 0); /* checked at submit */
    sl->guided = r->p.grammar != NULL;
    stream_init(&sl->stream, e->tok, (const char *const *)r->p.stops, r->p.n_stop);
    r->running++;
    e->st.busy_slots++;
    e->st.prompt_tokens += r->n_prompt;
}

/* A slot a new choice may take: free, and not in a step still out (a
 * cancelled choice's last step, through the pipeline). */
static int slot_open(const Engine *e, int s) { return !e->slots[s].req && !e->sched.seqs[s].inflight; }

/* ---- n > 1: the prompt prefilled once --------------------------------------------- */

/* Choice 0 of a request with n > 1 choices prefills the prompt but its last
 * token (max_new 0: nothing sampled); the other choices wait in their slots.
 * Then each of them takes a copy of choice 0's cache (kvcache_copy), and
 * every choice feeds the last prompt token itself: a copied cache gives a
 * token the bits a prefill of its own would, so each choice samples from the
 * same logits as before, with its own seed (sp.seed + choice). Not through
 * MPI (a plan): the other ranks' caches are theirs. */
static int forks(const Engine *e, const EngineReq *r) { return r->p.n > 1 && !e->o.plan; }

/* Under the lock: slot p (choice 0, forking) holds its prompt but the last
 * token: the waiting choices copy its cache, and all start decoding. */
static void fork_choices(Engine *e, int p) {
    EngineReq *r = e->slots[p].req;
    int at = r->n_prompt - 1;
    for (int s = 0; s < e->o.n_slots; s++) {
        Slot *sl = &e->slots[s];
        if (s != p && (sl->req != r || !sl->waiting)) continue;
        if (s != p) {
            CHECK(kvcache_copy(&e->ctx->seqs[s], &e->ctx->seqs[p]) == 0); /* one context's caches */
            sl->hist.n = 0;
            for (int i = 0; i < r->n_prompt; i++) intvec_push(&sl->hist, r->prompt[i]);
            if (e->o.drafter) drafter_begin(e->o.drafter, s, 0), drafter_commit(e->o.drafter, s, r->prompt, at);
            e->st.forked_tokens += at;
            sl->waiting = 0;
        }
        sl->forking = 0;
        CHECK(sched_start(&e->sched, s, r->prompt + at, 1, r->p.max_new, at) == 0);
    }
}

/* Under the lock, after a step: the forking prompts that are in. */
static void fork_ready(Engine *e) {
    for (int s = 0; s < e->o.n_slots; s++)
        if (e->slots[s].forking && e->sched.seqs[s].state == SEQ_DONE && !e->sched.seqs[s].inflight)
            fork_choices(e, s);
}

/* A slot for a waiting choice: the open one with the shortest history (its
 * cache is overwritten; the others keep theirs for later prompts). */
static int fork_slot(const Engine *e) {
    int best = -1;
    for (int s = 0; s < e->o.n_slots; s++)
        if (slot_open(e, s) && (best < 0 || e->slots[s].hist.n < e->slots[best].hist.n)) best = s;
    return best;
}

/* Under the lock: moves waiting requests into free slots, oldest first (a
 * request with n choices waits for n free slots). */
static void admit(Engine *e) {
    while (e->n_queue > 0) {
        EngineReq *r = e->queue[0];
        int free_slots = 0;
        for (int s = 0; s < e->o.n_slots; s++) free_slots += slot_open(e, s);
        if (r->p.n > free_slots) return;
        memmove(e->queue, e->queue + 1, (size_t)--e->n_queue * sizeof *e->queue);
        r->queued = 0;
        e->st.queue_depth = e->n_queue;
        int fork = forks(e, r), parent = -1;
        for (int c = 0; c < r->p.n; c++) {
            if (fork && c > 0) { /* fork_choices starts it */
                int s = fork_slot(e);
                CHECK(s >= 0); /* n slots were open */
                Slot *sl = &e->slots[s];
                if (e->pcache) pcache_keep(e, s, 0); /* its state to disk before the copy replaces it */
                kvcache_reset(&e->ctx->seqs[s]);
                sl->hist.n = 0, sl->waiting = 1;
                choice_init(e, s, r, c);
                if (e->o.drafter) drafter_begin(e->o.drafter, s, 0); /* its stats, should it end now */
                continue;
            }
            int best = -1, best_L = -1;
            for (int s = 0; s < e->o.n_slots; s++) {
                if (!slot_open(e, s)) continue;
                int L = reusable(e, s, r->prompt, r->n_prompt);
                if (L > best_L) best = s, best_L = L;
            }
            if (e->pcache) pcache_admit(e, r, &best, &best_L);
            Slot *sl = &e->slots[best];
            KVCache *kv = &e->ctx->seqs[best];
            if (best_L > 0) kvcache_rewind(kv, best_L);
            else kvcache_reset(kv);
            sl->hist.n = best_L;
            for (int i = best_L; i < r->n_prompt; i++) intvec_push(&sl->hist, r->prompt[i]);
            choice_init(e, best, r, c);
            if (e->o.drafter) { /* its text: what the cache holds */
                drafter_begin(e->o.drafter, best, 0);
                drafter_commit(e->o.drafter, best, sl->hist.v, best_L);
            }
            if (fork) { /* all but the last token, for every choice */
                sl->forking = 1, parent = best;
                if (best_L < r->n_prompt - 1)
                    CHECK(sched_start(&e->sched, best, r->prompt + best_L, r->n_prompt - 1 - best_L, 0, best_L) == 0);
            } else {
                CHECK(sched_start(&e->sched, best, r->prompt + best_L, r->n_prompt - best_L, r->p.max_new, best_L) == 0);
            }
            e->st.cached_tokens += best_L;
            if (c == 0) r->cached = best_L, r->admitted = now_seconds();
        }
        if (parent >= 0 && r->cached == r->n_prompt - 1) fork_choices(e, parent); /* nothing to prefill */
    }
}

/* Under the lock: ends the choices of requests the client left. */
static void reap_cancelled(Engine *e) {
    for (int s = 0; s < e->o.n_slots; s++)
        if (e->slots[s].req && e->slots[s].req->cancelled) slot_free(e, s);
    for (int i = 0; i < e->n_queue;) {
        EngineReq *r = e->queue[i];
        if (!r->cancelled) {
            i++;
            continue;
        }
        memmove(e->queue + i, e->queue + i + 1, (size_t)(--e->n_queue - i) * sizeof *e->queue);
        r->queued = 0;
        req_engine_done(r);
    }
    e->st.queue_depth = e->n_queue;
}

/* ---- one step ------------------------------------------------------------------ */

/* log-softmax of row (n) at the sampled token, and the top k alternatives. */
static void logprobs(const float *row, int n, int token, int k, EngineEvent *ev) {
    float mx = row[0];
    for (int i = 1; i < n; i++)
        if (row[i] > mx) mx = row[i];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)row[i] - mx);
    float lse = mx + (float)log(sum);
    ev->logprob = row[token] - lse;
    ev->n_top = 0;
    for (int j = 0; j < k && j < n; j++) { /* k small: selection by scans */
        int best = -1;
        for (int i = 0; i < n; i++) {
            int taken = 0;
            for (int q = 0; q < j && !taken; q++) taken = ev->top_id[q] == i;
            if (!taken && (best < 0 || row[i] > row[best])) best = i;
        }
        ev->top_id[j] = best, ev->top_lp[j] = row[best] - lse, ev->n_top++;
    }
}

typedef struct {
    Engine *e;
    const float *logits; /* the step's rows, in owner order */
    int *row_of;         /* [n_slots]: a slot's next logits row (its rows are consecutive) */
    const unsigned char *refused, *done; /* [rows]: the row's pick refused by the guide;
                                            completing the guide's text */
    const int *drafted;  /* [n_slots]: drafts in the slot's step */
    int *emitted;        /* [n_slots]: tokens emitted in this step */
} Accept;

/* sched_accept's callback, under the lock: one sampled token of slot s. */
static int on_token(void *ud, int s, int token) {
    Accept *a = ud;
    Engine *e = a->e;
    Slot *sl = &e->slots[s];
    EngineReq *r = sl->req;
    int V = e->model->cfg.n_vocab, row = a->row_of[s]++;
    e->st.generated_tokens++;
    a->emitted[s]++;
    EngineEvent ev = {.choice = sl->choice, .token = token};
    if (r->p.top_logprobs >= 0) logprobs(a->logits + (size_t)row * V, V, token, r->p.top_logprobs, &ev);
    int eos = !r->p.ignore_eos && token == e->tok->eos;
    /* the mask allowed token, so the guide took it (when it was sampled);
     * should it not have (no token was allowed), only this choice ends */
    int refused = sl->guided && a->refused[row];
    int complete = sl->guided && !refused && a->done[row];
    ByteBuf text = {0};
    int stopped = 0;
    if (!eos && !refused) {
        intvec_push(&sl->gen, token);
        if (token == e->o.tool_calls_id) sl->in_calls = 1;
        if (!sl->in_calls) stopped = stream_push(&sl->stream, token, &text) == 1;
    }
    Finish why = refused                      ? FINISH_ERROR
                 : eos || stopped || complete ? FINISH_STOP
                 : sl->gen.n >= r->p.max_new  ? FINISH_LENGTH
                                              : FINISH_NONE;
    if (why == FINISH_NONE) {
        ev.text = text.p ? text.p : xstrdup(""), ev.len = text.n;
        req_push(r, &ev);
        return 0;
    }
    /* the closing event carries this token too */
    EngineEvent tail = ev;
    tail.text = NULL;
    memset(&ev, 0, sizeof ev);
    if (!stopped) {
        ByteBuf rest = {0};
        if (!sl->in_calls) stream_finish(&sl->stream, &rest);
        if (rest.n) bytebuf_push(&text, rest.p, rest.n);
        bytebuf_free(&rest);
    }
    tail.finish = why;
    tail.text = text.p ? text.p : xstrdup(""), tail.len = text.n;
    tail.ids = xmalloc((size_t)(sl->gen.n ? sl->gen.n : 1) * sizeof(int));
    memcpy(tail.ids, sl->gen.v, (size_t)sl->gen.n * sizeof(int));
    tail.n_ids = sl->gen.n;
    spec_counts(e, s, &tail, a->drafted[s], a->drafted[s] ? a->emitted[s] - 1 : 0);
    r->ended++;
    req_push(r, &tail);
    return 1;
}

/* A guided slot's row: the tokens its grammar forbids, and those past the
 * tokenizer's vocabulary (a model's padding rows), become -inf. */
static void guide_row(Slot *sl, float *row, int V) {
    int allowed = guide_apply(&sl->guide, row);
    for (int t = sl->guide.c.v->n_vocab; t < V; t++) row[t] = -INFINITY;
    if (allowed == 0) row[0] = 0; /* nothing allowed (never, by guide.h): any pick, refused in on_token */
}

/* One step in flight: its batch and (through the pipeline) its message. */
typedef struct {
    SchedBatch b;
    PipeFlight pf;
    Guide **guides; /* owns [rows]: the guides of the step's rows (views; NULL unguided) */
    double launched; /* now_seconds() at its launch */
    int spec_m;      /* sequences asked to draft for it (0: a plain step) */
    int spec_D;      /* sequences decoding in it */
    double spec_s;   /* seconds its drafting took */
} Flight;

/* Hands the masks of flight f's guided rows to the worker, which computes
 * them while the step's forward runs (a row's mask depends only on its
 * choice's tokens so far, which the step cannot change). */
static void step_prepare_masks(Engine *e, Flight *f, GuideWorker *w) {
    for (int i = 0; i < f->b.n_want; i++) { /* a slot's first row: the later ones follow its picks */
        Slot *sl = &e->slots[f->b.owner[i]];
        f->guides[i] = sl->guided && (i == 0 || f->b.owner[i - 1] != f->b.owner[i]) ? &sl->guide : NULL;
    }
    guide_prepare_async(w, f->guides, f->b.n_want);
}

/* Starts a step: the local forward call, or stage 0 and the send on. */
static int step_launch(Engine *e, Flight *f, float *logits) {
    Batch fb = {.n = f->b.n, .token = f->b.token, .seq = f->b.seq, .pos = f->b.pos, .want = f->b.want};
    f->launched = now_seconds();
    if (e->o.plan) return pipeline_launch(e->ctx, e->o.plan, &f->pf, &fb, 1);
    return forward(e->ctx, &fb, logits);
}

/* The step's logits rows (already there for a local step). */
static int step_collect(Engine *e, Flight *f, float *logits) {
    if (!e->o.plan) return 0;
    size_t bytes = (size_t)f->b.n_want * e->model->cfg.n_vocab * sizeof(float);
    return pipeline_collect(e->ctx, e->o.plan, &f->pf, logits, bytes);
}

/* What sampling a step leaves for sched_accept and on_token. */
typedef struct {
    int *ids;                        /* [rows]: the picks, SCHED_UNUSED after a rejected draft */
    unsigned char *refused, *done;   /* [rows]: see Accept */
    int *row_of, *drafted, *emitted; /* [n_slots]: see Accept */
    float *row;                      /* [V]: scratch */
} Picks;

/* Samples b's rows: each slot's in order, with its sampler and guide (the
 * guide advanced by each pick, so the next row's mask follows it), while
 * each pick equals the draft fed after it and the choice goes on; the rows
 * after are not sampled (gen/sched.h), so the sampler draws as plain
 * decoding does. */
static void step_sample(Engine *e, const SchedBatch *b, const float *logits, Picks *p) {
    int V = e->model->cfg.n_vocab, open = 0;
    for (int i = 0; i < b->n_want; i++) {
        int s = b->owner[i];
        Slot *sl = &e->slots[s];
        if (i == 0 || b->owner[i - 1] != s) p->row_of[s] = i, p->drafted[s] = -1, p->emitted[s] = 0, open = sl->req != NULL;
        p->drafted[s]++;
        p->refused[i] = p->done[i] = 0;
        if (!open) {
            p->ids[i] = SCHED_UNUSED;
            continue;
        }
        memcpy(p->row, logits + (size_t)i * V, (size_t)V * sizeof(float)); /* logprobs read the raw row */
        if (sl->guided) guide_row(sl, p->row, V);
        int id = p->ids[i] = sampler_sample(&sl->sampler, p->row);
        if (sl->guided) {
            p->refused[i] = guide_accept(&sl->guide, id) != 0;
            p->done[i] = !p->refused[i] && guide_done(&sl->guide);
        }
        if (id != b->next[i] || p->refused[i] || p->done[i] || (!sl->req->p.ignore_eos && id == e->tok->eos)) open = 0;
    }
}

/* ---- speculation ---------------------------------------------------------------- */

/* Before a step (flight f): drafts for the slots that may take some (those
 * decoding and not in flight), when the rule (or draft_always) says so.
 * Outside the lock: only the engine thread touches the scheduler, the
 * drafter and the contexts. */
static void spec_draft(Engine *e, Flight *f) {
    Drafter *d = e->o.drafter;
    int D = 0, m = 0;
    long prefill = 0;
    f->spec_m = 0, f->spec_D = 0, f->spec_s = 0;
    for (int s = 0; s < e->o.n_slots; s++) {
        const SchedSeq *q = &e->sched.seqs[s];
        if (q->inflight) continue;
        if (q->state == SEQ_DECODE) D++, m += sched_draft_room(&e->sched, s) > 0 && drafter_want(d, s) > 0;
        else if (q->state == SEQ_PREFILL) prefill += q->n_prompt - q->fed;
    }
    f->spec_D = D;
    if (!m || !(e->o.draft_always || specrule_decide(&e->rule, D, m, e->o.batch_tokens, prefill))) return;
    f->spec_m = m;
    double t0 = now_seconds();
    if (drafter_draft(d, &e->sched)) /* the draft model's step failed (memory): a plain step */
        for (int s = 0; s < e->o.n_slots; s++) sched_set_draft(&e->sched, s, NULL, 0);
    f->spec_s = now_seconds() - t0;
}

/* Under the lock, after sched_accept of flight f, `seconds` from its launch
 * to its picks: the caches back over the rejected drafts (this rank's; the
 * other ranks' go back where a sequence's next batch starts), the
 * drafter's texts and counts, the server's counters and the rule's
 * measurements. */
static void spec_settle(Engine *e, const Flight *f, double seconds) {
    Drafter *d = e->o.drafter;
    DraftStats before = d->total;
    double t0 = now_seconds();
    CHECK(drafter_settle(d, e->ctx, &e->sched, &f->b) == 0); /* the context has room for k_max drafts */
    double settle = now_seconds() - t0;
    long fed = d->total.drafted - before.drafted, acc = d->total.accepted - before.accepted;
    e->st.drafted += fed, e->st.accepted += acc, e->st.spec_steps += fed > 0;
    specrule_step(&e->rule, f->b.n, seconds);
    if (f->spec_m) specrule_spec(&e->rule, f->spec_m, fed, acc, f->spec_s);
    /* useful rows: tokens emitted and prompt tokens fed (drafts displace prompts, whose prefill must come) */
    specrule_outcome(&e->rule, f->spec_D, f->spec_m > 0, f->spec_D + acc + f->b.n_prompt, f->spec_s + seconds + settle);
}

/* ---- the engine thread ----------------------------------------------------------- */

static void *engine_main(void *arg) {
    Engine *e = arg;
    int V = e->model->cfg.n_vocab, n = e->o.n_slots;
    Drafter *d = e->o.drafter;
    /* as many steps in flight as pipeline stages (1 here alone) */
    int depth = e->o.plan ? e->o.plan->n_stages : 1, head = 0, busy = 0;
    int rows = n * (1 + (d ? d->k_max : 0)); /* logits rows of a step, at most */
    Flight *fl = xcalloc((size_t)depth, sizeof *fl);
    for (int i = 0; i < depth; i++) fl[i].guides = xcalloc((size_t)rows, sizeof *fl[i].guides);
    GuideWorker worker = {0};
    GuideWorker *w = guide_worker_init(&worker) ? NULL : &worker; /* none: masks in line */
    float *logits = xmalloc((size_t)rows * V * sizeof(float));
    Picks pk = {.ids = xmalloc((size_t)rows * sizeof(int)), .refused = xmalloc((size_t)rows),
                .done = xmalloc((size_t)rows), .row_of = xcalloc((size_t)n, sizeof(int)),
                .drafted = xcalloc((size_t)n, sizeof(int)), .emitted = xcalloc((size_t)n, sizeof(int)),
                .row = xmalloc((size_t)V * sizeof(float))};
    pthread_mutex_lock(&e->mu);
    while (!e->quit) {
        reap_cancelled(e);
        admit(e);
        /* launch while a flight is free: each of about 1/depth of the sequences */
        while (busy < depth) {
            Flight *f = &fl[(head + busy) % depth];
            if (d) { /* its drafts first */
                pthread_mutex_unlock(&e->mu);
                spec_draft(e, f);
                pthread_mutex_lock(&e->mu);
            }
            int per = depth > 1 ? (sched_active(&e->sched) + depth - 1) / depth : 0;
            int nt = sched_next_batch(&e->sched, &f->b, per);
            if (nt == 0) break;
            pthread_mutex_unlock(&e->mu); /* only this thread touches the context and the flights */
            step_prepare_masks(e, f, w);
            int rc = step_launch(e, f, logits);
            pthread_mutex_lock(&e->mu);
            if (rc) { /* memory for the step's activations ran out */
                guide_wait(w); /* before a choice's guide can go */
                sched_abandon(&e->sched, &f->b);
                for (int t = 0; t < nt; t++)
                    if (e->slots[f->b.seq[t]].req) choice_abort(e, f->b.seq[t], FINISH_ERROR);
                break;
            }
            busy++;
        }
        if (busy == 0) {
            /* a request queued while spec_draft had the lock let go was
             * signalled to no one: admit it instead of sleeping */
            if (sched_active(&e->sched) == 0 && e->n_queue == 0) pthread_cond_wait(&e->wake, &e->mu);
            continue;
        }
        Flight *f = &fl[head];
        pthread_mutex_unlock(&e->mu);
        double t0 = now_seconds();
        CHECK(step_collect(e, f, logits) == 0); /* MPI's own errors end the job */
        guide_wait(w);
        step_sample(e, &f->b, logits, &pk);
        double t1 = now_seconds(), dt = t1 - t0;
        pthread_mutex_lock(&e->mu);
        long before = e->st.generated_tokens;
        Accept a = {e, logits, pk.row_of, pk.refused, pk.done, pk.drafted, pk.emitted};
        sched_accept(&e->sched, &f->b, pk.ids, on_token, &a);
        if (d) spec_settle(e, f, t1 - f->launched);
        for (int i = 0; i < f->b.n_want; i++) { /* choices that ended in this step */
            int s = f->b.owner[i];
            if (e->slots[s].req && e->sched.seqs[s].state == SEQ_DONE) slot_free(e, s);
        }
        /* the step's time as its streams saw it: for the prompt budget (gen/stepcost.h) */
        stepcost_observe(&e->sched.cost, f->b.n - f->b.n_prompt, f->b.n_prompt, now_seconds() - f->launched);
        fork_ready(e);
        head = (head + 1) % depth, busy--;
        long made = e->st.generated_tokens - before;
        if (made && dt > 0) {
            double tps = made / (d ? t1 - f->launched : dt);
            e->st.decode_tps = e->st.decode_tps ? 0.9 * e->st.decode_tps + 0.1 * tps : tps;
        }
    }
    pthread_mutex_unlock(&e->mu);
    /* the steps still out come back before the other ranks stop */
    for (; busy > 0; busy--, head = (head + 1) % depth) step_collect(e, &fl[head], logits);
    guide_worker_free(w ? w : &worker); /* first: it may still hold guides */
    if (e->o.plan) pipeline_stop(e->o.plan);
    pthread_mutex_lock(&e->mu);
    /* stopping: every running choice ends (its stream closes cleanly) */
    for (int s = 0; s < e->o.n_slots; s++)
        if (e->slots[s].req) choice_abort(e, s, FINISH_CANCELLED);
    while (e->n_queue > 0) {
        EngineReq *r = e->queue[--e->n_queue];
        r->queued = 0;
        for (int c = 0; c < r->p.n; c++) {
            EngineEvent ev = {.choice = c, .token = -1, .finish = FINISH_CANCELLED, .text = xstrdup("")};
            r->ended++;
            req_push(r, &ev);
        }
        req_engine_done(r);
    }
    for (int s = 0; e->pcache && s < e->o.n_slots; s++) pcache_keep(e, s, 0); /* every slot's state to disk */
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < depth; i++) sched_batch_free(&fl[i].b), pipeline_flight_free(&fl[i].pf), free(fl[i].guides);
    free(fl), free(logits), free(pk.ids), free(pk.refused), free(pk.done), free(pk.row_of), free(pk.drafted);
    free(pk.emitted), free(pk.row);
    return NULL;
}

/* ---- the engine's life ------------------------------------------------------------ */

int engine_start(Engine *e, Context *ctx, const Tokenizer *tok, const EngineOptions *o) {
    memset(e, 0, sizeof *e);
    e->model = ctx->model, e->ctx = ctx, e->tok = tok, e->o = *o;
    e->o.n_slots = ctx->n_seq, e->o.n_ctx = ctx->n_ctx;
    o = &e->o; /* the context's sizes from here on */
    if (o->queue < 0 || o->batch_tokens < 1) return err_set("serve: need --queue >= 0 and --batch-tokens >= 1");
    if (o->drafter && (o->drafter->n_seq < o->n_slots || ctx->draft_room < o->drafter->k_max))
        return err_set("serve: speculation needs a drafter per slot and room for its drafts");
    if (o->prompt_cache && o->plan) return err_set("serve: --prompt-cache does not work over MPI yet");
    if (o->prompt_cache && !(e->pcache = promptcache_open(o->prompt_cache, o->prompt_cache_size, ctx))) return -1;
    specrule_init(&e->rule);
    sched_init(&e->sched, o->n_slots, o->chunk, o->batch_tokens, -1);
    e->sched.max_step = o->max_itl_ms > 0 ? o->max_itl_ms / 1000.0 : 0;
    e->slots = xcalloc((size_t)o->n_slots, sizeof *e->slots);
    e->queue = xcalloc((size_t)o->queue + (size_t)o->n_slots, sizeof *e->queue);
    e->st.n_slots = o->n_slots;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->wake, NULL);
    if (pthread_create(&e->thread, NULL, engine_main, e)) {
        engine_free(e);
        return err_set("serve: cannot start the engine thread");
    }
    e->started = 1;
    return 0;
}

void engine_stop(Engine *e) {
    if (e->started) {
        pthread_mutex_lock(&e->mu);
        e->quit = 1;
        pthread_cond_signal(&e->wake);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
        e->started = 0;
    }
}

void engine_free(Engine *e) {
    engine_stop(e);
    for (int s = 0; e->slots && s < e->o.n_slots; s++) intvec_free(&e->slots[s].gen), intvec_free(&e->slots[s].hist);
    free(e->slots), free(e->queue);
    e->slots = NULL, e->queue = NULL;
    sched_free(&e->sched);
    promptcache_close(e->pcache);
    e->pcache = NULL;
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->wake);
}

int engine_submit(Engine *e, EngineReq *r) {
    const Config *c = &e->model->cfg;
    if (r->n_prompt < 1) return err_input("the prompt is empty");
    if (r->p.n < 1 || r->p.n > e->o.n_slots)
        return err_set("n = %d: this server runs at most %d sequences at once (--parallel)", r->p.n, e->o.n_slots);
    if (r->p.max_new < 1) return err_set("max_tokens must be at least 1");
    for (int i = 0; i < r->n_prompt; i++)
        if (r->prompt[i] < 0 || r->prompt[i] >= c->n_vocab)
            return err_input("token id %d is outside the vocabulary (0..%d)", r->prompt[i], c->n_vocab - 1);
    if ((long)r->n_prompt + r->p.max_new - 1 > e->o.n_ctx)
        return err_context_full("the prompt (%d tokens) and max_tokens (%d) exceed the context of %ld tokens",
                                r->n_prompt, r->p.max_new, e->o.n_ctx);
    if (r->p.grammar && (!r->p.vocab || !r->p.grammar->finished || r->p.vocab->n_vocab > c->n_vocab))
        return err_set("a request's grammar needs a finished grammar and the tokenizer's vocabulary");
    Sampler probe;
    if (sampler_init(&probe, &r->p.sp, c->n_vocab)) return -1;
    sampler_free(&probe);
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (e->quit) rc = -3;
    else {
        /* choices that would still wait once the free slots take what is queued */
        int waiting = 0;
        for (int i = 0; i < e->n_queue; i++) waiting += e->queue[i]->p.n;
        if (waiting + r->p.n - (e->o.n_slots - e->st.busy_slots) > e->o.queue) rc = -2;
    }
    if (rc == 0) {
        e->queue[e->n_queue++] = r;
        r->queued = 1, r->engine_holds = 1;
        e->st.requests++;
        e->st.queue_depth = e->n_queue;
        pthread_cond_signal(&e->wake);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int engine_next(Engine *e, EngineReq *r, EngineEvent *ev, int timeout_ms) {
    pthread_mutex_lock(&e->mu);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000) until.tv_sec++, until.tv_nsec -= 1000000000;
    int got = 0;
    for (;;) {
        if (r->head < r->n_ev) {
            *ev = r->ev[r->head++];
            got = 1;
            break;
        }
        if (r->ended >= r->p.n) {
            got = -1;
            break;
        }
        if (pthread_cond_timedwait(&r->cv, &e->mu, &until) == ETIMEDOUT) break;
    }
    pthread_mutex_unlock(&e->mu);
    return got;
}

void engine_release(Engine *e, EngineReq *r) {
    pthread_mutex_lock(&e->mu);
    r->http_holds = 0;
    if (r->ended < r->p.n) r->cancelled = 1, pthread_cond_signal(&e->wake);
    if (!r->engine_holds) req_free(r);
    pthread_mutex_unlock(&e->mu);
}

int engine_req_cached(Engine *e, EngineReq *r) {
    pthread_mutex_lock(&e->mu);
    int n = r->cached;
    pthread_mutex_unlock(&e->mu);
    return n;
}

double engine_req_admitted(Engine *e, EngineReq *r) {
    pthread_mutex_lock(&e->mu);
    double t = r->admitted;
    pthread_mutex_unlock(&e->mu);
    return t;
}

EngineStats engine_stats(Engine *e) {
    pthread_mutex_lock(&e->mu);
    EngineStats st = e->st;
    if (e->pcache) st.pc = promptcache_stats(e->pcache);
    pthread_mutex_unlock(&e->mu);
    return st;
}
