/* generate — requests to the end on one Context, through the scheduler. */
#include "gen/generate.h"

#include <math.h>
#include <stdlib.h>

#include "base/util.h"

long generate_context_size(const GenRequest *reqs, int n_req) {
    long most = 1;
    for (int r = 0; r < n_req; r++)
        if ((long)reqs[r].n_prompt + reqs[r].max_new > most)
            most = (long)reqs[r].n_prompt + reqs[r].max_new;
    return most;
}

/* The guides of the requests that have a grammar (guides[r].bits == NULL:
 * none), and the worker that prepares their masks when any has one and
 * !opt->sync_masks (*worker stays zeroed otherwise). */
static int start_guides(Guide *guides, GuideWorker *worker, const GenRequest *reqs, int n_req,
                        const GenOptions *opt) {
    int any = 0;
    for (int r = 0; r < n_req; r++) {
        if (!reqs[r].grammar) continue;
        if (!opt->vocab) return err_set("request %d has a grammar but no vocabulary was given", r);
        if (guide_init(&guides[r], reqs[r].grammar, opt->vocab)) return -1;
        any = 1;
    }
    return any && !opt->sync_masks ? guide_worker_init(worker) : 0;
}

/* Row `row` of the step's logits, of guided request r: masked (tokens the
 * tokenizer lacks too), sampled, and the guide advanced by the pick. */
static int sample_guided(Guide *g, Sampler *s, float *logits, int V, int r, int *id) {
    for (int t = g->c.v->n_vocab; t < V; t++) logits[t] = -INFINITY;
    if (guide_apply(g, logits) == 0) return err_set("request %d: its grammar allows no next token", r);
    *id = sampler_sample(s, logits);
    return guide_accept(g, *id);
}

/* Request r's text is complete and nothing can continue it: it ends. Unless
 * it already has (its EOS, max_new, the callback's word), the tokenizer's
 * EOS is emitted as its last token, so that callers see one kind of end. */
static void end_guided(Sched *s, int r, const Guide *g, GenEmit emit, void *ud) {
    if (s->seqs[r].state == SEQ_DONE) return;
    int eos = g->c.v->eos;
    if (!g->c.ended && eos >= 0 && emit) emit(ud, r, eos);
    sched_stop(s, r);
}

int generate(Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *opt, GenEmit emit,
             void *ud) {
    int V = ctx->model->cfg.n_vocab;
    if (n_req > ctx->n_seq) return err_set("%d requests for %d sequences", n_req, ctx->n_seq);
    Sched s;
    sched_init(&s, n_req, opt->chunk_size, 0, opt->eos);
    Sampler *samplers = xcalloc((size_t)n_req, sizeof *samplers);
    Guide *guides = xcalloc((size_t)n_req, sizeof *guides);
    Guide **next = xcalloc((size_t)n_req, sizeof *next); /* the guides of a step's rows */
    GuideWorker worker = {0};
    SchedBatch b = {0};
    float *logits = NULL;
    int *ids = xmalloc((size_t)n_req * sizeof *ids), rc = -1;
    if (start_guides(guides, &worker, reqs, n_req, opt)) goto done;
    for (int r = 0; r < n_req; r++) {
        const GenRequest *q = &reqs[r];
        if (sampler_init(&samplers[r], &opt->sampler, V)) goto done;
        if (!q->append) kvcache_reset(&ctx->seqs[r]);
        if (q->n_prompt < 1) {
            err_set("request %d: empty prompt", r);
            goto done;
        }
        if (sched_start(&s, r, q->prompt, q->n_prompt, q->max_new, ctx->seqs[r].n_pos)) goto done;
    }
    logits = xmalloc((size_t)n_req * V * sizeof *logits);
    while (sched_next_batch(&s, &b, 0) > 0) {
        Batch fb = {.n = b.n, .token = b.token, .seq = b.seq, .pos = b.pos, .want = b.want};
        /* the masks of this step's samples while the model runs it */
        for (int i = 0; i < b.n_want; i++) next[i] = guides[b.owner[i]].bits ? &guides[b.owner[i]] : NULL;
        guide_prepare_async(&worker, next, b.n_want);
        int failed = forward(ctx, &fb, logits);
        guide_wait(&worker);
        if (failed) goto done;
        for (int i = 0; i < b.n_want; i++) {
            int r = b.owner[i];
            float *row = logits + (size_t)i * V;
            if (!next[i]) ids[i] = sampler_sample(&samplers[r], row);
            else if (sample_guided(next[i], &samplers[r], row, V, r, &ids[i])) goto done;
        }
        sched_accept(&s, &b, ids, emit, ud);
        for (int i = 0; i < b.n_want; i++) /* a finished sentence ends its request, as EOS does */
            if (next[i] && guide_done(next[i])) end_guided(&s, b.owner[i], next[i], emit, ud);
    }
    rc = 0;
done:
    guide_worker_free(&worker); /* first: it may still hold guides */
    for (int r = 0; r < n_req; r++) sampler_free(&samplers[r]), guide_free(&guides[r]); /* zeroed ones too */
    free(samplers), free(guides), free(next), free(logits), free(ids);
    sched_batch_free(&b);
    sched_free(&s);
    return rc;
}
