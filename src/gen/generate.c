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
    Drafter *d = opt->drafter;
    if (n_req > ctx->n_seq) return err_set("%d requests for %d sequences", n_req, ctx->n_seq);
    if (d && d->n_seq < n_req) return err_set("%d requests for a drafter of %d sequences", n_req, d->n_seq);
    if (d && ctx->draft_room < d->k_max)
        return err_set("drafts of up to %d tokens need room in the KV cache (context_set_draft_room: %d)", d->k_max,
                       ctx->draft_room);
    Sched s;
    sched_init(&s, n_req, opt->chunk_size, 0, opt->eos);
    Sampler *samplers = xcalloc((size_t)n_req, sizeof *samplers);
    Guide *guides = xcalloc((size_t)n_req, sizeof *guides);
    Guide **rowg = NULL, **prep = NULL; /* the guides of a step's rows; of its first rows */
    GuideWorker worker = {0};
    SchedBatch b = {0};
    float *logits = NULL;
    int *ids = NULL, *open = xcalloc((size_t)n_req, sizeof *open), rc = -1, cap = 0;
    if (start_guides(guides, &worker, reqs, n_req, opt)) goto done;
    for (int r = 0; r < n_req; r++) {
        const GenRequest *q = &reqs[r];
        if (sampler_init(&samplers[r], &opt->sampler, V)) goto done;
        sampler_prime(&samplers[r], q->prompt, q->n_prompt); /* the repeat penalty's window */
        if (!q->append) kvcache_reset(&ctx->seqs[r]);
        if (q->n_prompt < 1) {
            err_set("request %d: empty prompt", r);
            goto done;
        }
        if (sched_start(&s, r, q->prompt, q->n_prompt, q->max_new, ctx->seqs[r].n_pos)) goto done;
        if (d) drafter_begin(d, r, q->append);
    }
    for (;;) {
        if (d && drafter_draft(d, &s)) goto done;
        if (sched_next_batch(&s, &b, 0) == 0) break;
        if (b.n_want > cap) { /* rows: one per request, more with drafts */
            cap = b.n_want;
            logits = xrealloc(logits, (size_t)cap * V * sizeof *logits);
            ids = xrealloc(ids, (size_t)cap * sizeof *ids);
            rowg = xrealloc(rowg, (size_t)cap * sizeof *rowg), prep = xrealloc(prep, (size_t)cap * sizeof *prep);
        }
        Batch fb = {.n = b.n, .token = b.token, .seq = b.seq, .pos = b.pos, .want = b.want};
        /* the masks of this step's first samples while the model runs it
         * (a later row's mask depends on the picks before it) */
        for (int i = 0; i < b.n_want; i++) {
            int r = b.owner[i];
            rowg[i] = guides[r].bits ? &guides[r] : NULL;
            prep[i] = i == 0 || b.owner[i - 1] != r ? rowg[i] : NULL;
        }
        for (int t = 0; t < b.n; t++) open[b.seq[t]] = 1;
        guide_prepare_async(&worker, prep, b.n_want);
        int failed = forward(ctx, &fb, logits);
        guide_wait(&worker);
        if (failed) goto done;
        /* verify: each request's rows in order, while its pick is the next draft */
        for (int i = 0; i < b.n_want; i++) {
            int r = b.owner[i];
            float *row = logits + (size_t)i * V;
            if (!open[r]) {
                ids[i] = SCHED_UNUSED;
                continue;
            }
            if (!rowg[i]) ids[i] = sampler_sample(&samplers[r], row);
            else if (sample_guided(rowg[i], &samplers[r], row, V, r, &ids[i])) goto done;
            if (ids[i] != b.next[i] || ids[i] == opt->eos || (rowg[i] && guide_done(rowg[i]))) open[r] = 0;
        }
        sched_accept(&s, &b, ids, emit, ud);
        if (d && drafter_settle(d, ctx, &s, &b)) goto done;
        for (int i = 0; i < b.n_want; i++) /* a finished sentence ends its request, as EOS does */
            if (rowg[i] && guide_done(rowg[i])) end_guided(&s, b.owner[i], rowg[i], emit, ud);
    }
    rc = 0;
done:
    guide_worker_free(&worker); /* first: it may still hold guides */
    for (int r = 0; r < n_req; r++) sampler_free(&samplers[r]), guide_free(&guides[r]); /* zeroed ones too */
    free(samplers), free(guides), free(rowg), free(prep), free(logits), free(ids), free(open);
    sched_batch_free(&b);
    sched_free(&s);
    return rc;
}
