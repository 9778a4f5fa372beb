#include "gen/generate.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

long generate_context_size(const GenRequest *reqs, int n_req) {
    long most = 1;
    for (int r = 0; r < n_req; r++)
        if ((long)reqs[r].n_prompt + reqs[r].max_new > most)
            most = (long)reqs[r].n_prompt + reqs[r].max_new;
    return most;
}

int gen_step_batch(const Context *ctx, const GenRequest *reqs, GenProgress *ps, int r0, int r1, int chunk,
                   int *token, int *seq, long *pos, unsigned char *want, int *owner, int *n_want) {
    int n = 0;
    *n_want = 0;
    for (int r = r0; r < r1; r++) {
        GenProgress *s = &ps[r];
        if (s->done) continue;
        long p0 = ctx->seqs[r].n_pos;
        if (s->fed < reqs[r].n_prompt) {
            int take = reqs[r].n_prompt - s->fed;
            if (take > chunk) take = chunk;
            for (int i = 0; i < take; i++, n++) {
                token[n] = reqs[r].prompt[s->fed + i], seq[n] = r, pos[n] = p0 + i;
                want[n] = s->fed + i == reqs[r].n_prompt - 1;
                if (want[n]) owner[(*n_want)++] = r;
            }
            s->fed += take;
        } else {
            token[n] = s->last, seq[n] = r, pos[n] = p0, want[n] = 1, n++;
            owner[(*n_want)++] = r;
        }
    }
    return n;
}

int generate(Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *opt, GenEmit emit,
             void *ud) {
    const Config *c = &ctx->model->cfg;
    if (n_req > ctx->n_seq) return err_set("%d requests for %d sequences", n_req, ctx->n_seq);
    int chunk = opt->chunk_size > 0 ? opt->chunk_size : GEN_DEFAULT_CHUNK;
    GenProgress *rs = xcalloc((size_t)n_req, sizeof *rs);
    Sampler *samplers = xcalloc((size_t)n_req, sizeof *samplers);
    int rc = -1, cap = 0;
    for (int r = 0; r < n_req; r++) {
        if (reqs[r].n_prompt < 1) {
            err_set("request %d: empty prompt", r);
            goto done;
        }
        if (sampler_init(&samplers[r], &opt->sampler, c->n_vocab)) goto done;
        rs[r].done = reqs[r].max_new <= 0;
        if (!reqs[r].append) kvcache_reset(&ctx->seqs[r]);
        cap += reqs[r].n_prompt < chunk ? reqs[r].n_prompt : chunk;
    }
    int *token = xmalloc((size_t)cap * sizeof(int)), *seq = xmalloc((size_t)cap * sizeof(int));
    long *pos = xmalloc((size_t)cap * sizeof(long));
    unsigned char *want = xmalloc((size_t)cap);
    int *owner = xmalloc((size_t)cap * sizeof(int)); /* request of each logits row */
    float *logits = xmalloc((size_t)n_req * c->n_vocab * sizeof(float));
    for (;;) {
        /* build this step's batch */
        int n_want, n = gen_step_batch(ctx, reqs, rs, 0, n_req, chunk, token, seq, pos, want, owner, &n_want);
        if (n == 0) break;
        Batch b = {.n = n, .token = token, .seq = seq, .pos = pos, .want = want};
        if (forward(ctx, &b, logits)) goto free_batch;
        for (int i = 0; i < n_want; i++) {
            int r = owner[i];
            GenProgress *s = &rs[r];
            int tok = sampler_sample(&samplers[r], logits + (size_t)i * c->n_vocab);
            s->last = tok;
            s->n_new++;
            int stop = emit ? emit(ud, r, tok) : 0;
            if (stop || tok == opt->eos || s->n_new >= reqs[r].max_new) s->done = 1;
        }
    }
    rc = 0;
free_batch:
    free(token), free(seq), free(pos), free(want), free(owner), free(logits);
done:
    for (int r = 0; r < n_req; r++) sampler_free(&samplers[r]);
    free(samplers);
    free(rs);
    return rc;
}
