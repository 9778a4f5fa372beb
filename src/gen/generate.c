/* generate — requests to the end on one Context, through the scheduler. */
#include "gen/generate.h"

#include <stdlib.h>

#include "base/util.h"

long generate_context_size(const GenRequest *reqs, int n_req) {
    long most = 1;
    for (int r = 0; r < n_req; r++)
        if ((long)reqs[r].n_prompt + reqs[r].max_new > most)
            most = (long)reqs[r].n_prompt + reqs[r].max_new;
    return most;
}

int generate(Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *opt, GenEmit emit,
             void *ud) {
    int V = ctx->model->cfg.n_vocab;
    if (n_req > ctx->n_seq) return err_set("%d requests for %d sequences", n_req, ctx->n_seq);
    Sched s;
    sched_init(&s, n_req, opt->chunk_size, 0, opt->eos);
    Sampler *samplers = xcalloc((size_t)n_req, sizeof *samplers);
    SchedBatch b = {0};
    float *logits = NULL;
    int *ids = xmalloc((size_t)n_req * sizeof *ids), rc = -1;
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
        if (forward(ctx, &fb, logits)) goto done;
        for (int i = 0; i < b.n_want; i++)
            ids[i] = sampler_sample(&samplers[b.owner[i]], logits + (size_t)i * V);
        sched_accept(&s, &b, ids, emit, ud);
    }
    rc = 0;
done:
    for (int r = 0; r < n_req; r++) sampler_free(&samplers[r]); /* zeroed ones too */
    free(samplers), free(logits), free(ids);
    sched_batch_free(&b);
    sched_free(&s);
    return rc;
}
