/* guide — one generated sequence under a constraint: before each sample the
 * logits of the tokens the constraint forbids become -inf (so the sampler,
 * greedy or seeded, stays what it is and picks among the allowed), after it
 * the constraint advances by the sampled token.
 *
 * A token is allowed exactly when the text stays a viable prefix of the
 * grammar (grammar/constraint.h); EOS only where the text is complete. A
 * token that adds no bytes is allowed once while the text is empty, not
 * again (it could not change the text, and a model fond of it would never
 * start). The mask depends only on the tokens so far, so a guided sequence gets the same
 * tokens alone or in any batch, at any thread count or chunking.
 *
 * guide_prepare computes the next mask; it may run on another thread while
 * the model computes the step's logits (one thread at a time per Guide).
 * guide_apply uses it (computing it first when nobody did). A GuideWorker is
 * that other thread: guide_prepare_async hands it the guides of the next
 * sample, guide_wait waits for them. The mask is a function of the guide's
 * state alone, so where it was computed never changes a token. */
#ifndef GEN_GUIDE_H
#define GEN_GUIDE_H

#include <pthread.h>
#include <stdint.h>

#include "grammar/constraint.h"

typedef struct {
    Constraint c;   /* owns */
    uint32_t *bits; /* owns [c.words]: the mask of the current state */
    int have;       /* bits are the current state's mask */
} Guide;

/* A guide at the start of the text, over finished grammar gr and vocabulary
 * v (views that must outlive it). 0, or -1 with err set. guide_free accepts
 * a zeroed or half-built guide. */
int guide_init(Guide *g, const Grammar *gr, const Vocab *v);
void guide_free(Guide *g);

/* Computes the mask of the current state (nothing when it is there). */
void guide_prepare(Guide *g);
/* logits[0..n_vocab) of forbidden tokens become -INFINITY. Returns the
 * number of allowed tokens (0 only after EOS). */
int guide_apply(Guide *g, float *logits);
/* Advances by token t (the sampler's pick). 0, or -1 with err set when t
 * is forbidden (the guide is unchanged). */
int guide_accept(Guide *g, int t);
/* 1 when the sequence must end: EOS was accepted, or the text is complete
 * and nothing can continue it. */
int guide_done(Guide *g);

/* One persistent thread that prepares masks while the caller runs the
 * model; it sleeps on a condition variable between jobs (no busy-waiting). */
typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;   /* a job was posted, a job finished, or stop */
    Guide **jobs;        /* owns [cap]: the posted guides (views) */
    int n_jobs, cap;
    int busy;            /* a job was posted and is not finished */
    int stop, started;
} GuideWorker;

/* Starts the thread. 0, or -1 with err set. guide_worker_free joins it and
 * accepts a zeroed or half-built worker. */
int guide_worker_init(GuideWorker *w);
void guide_worker_free(GuideWorker *w);
/* Hands gs[0..n) to the worker's thread, which calls guide_prepare on each
 * (NULL entries are skipped); until guide_wait returns the caller leaves
 * them alone. One job at a time: waits for the previous one first. w NULL:
 * nothing (guide_apply prepares the masks then). */
void guide_prepare_async(GuideWorker *w, Guide *const *gs, int n);
/* Returns when the posted job is finished (at once when none is; w may be
 * NULL). */
void guide_wait(GuideWorker *w);

#endif
