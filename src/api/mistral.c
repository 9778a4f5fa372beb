/* api — the public API (include/mistral.h) over the model and gen layers. */
#include "mistral.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "gen/generate.h"
#include "model/model.h"
#include "model/prepare.h"

struct MistralModel {
    Model model;
};

struct MistralContext {
    Context ctx;
};

const char *mistral_error(void) { return err_msg(); }

MistralModel *mistral_model_open(const char *path, int sliding_window) {
    MistralModel *m = xcalloc(1, sizeof *m);
    ModelOptions opt = {.sliding_window = sliding_window};
    if (model_load(&m->model, path, &opt)) {
        free(m);
        return NULL;
    }
    /* the whole model, packed for the default table on every CPU */
    Pool pool;
    int threaded = pool_init(&pool, 0) == 0;
    ModelShare all = model_share_all(&m->model);
    model_prepare(&m->model, &all, kern_get(), threaded ? &pool : NULL); /* cannot fail for all */
    if (threaded) pool_free(&pool);
    return m;
}

void mistral_model_close(MistralModel *m) {
    if (!m) return;
    model_free(&m->model);
    free(m);
}

MistralInfo mistral_model_info(const MistralModel *m) {
    const Config *c = &m->model.cfg;
    return (MistralInfo){.dim = c->dim, .n_layers = c->n_layers, .head_dim = c->head_dim,
                         .hidden_dim = c->hidden_dim, .n_heads = c->n_heads,
                         .n_kv_heads = c->n_kv_heads, .n_vocab = c->n_vocab,
                         .n_experts = c->n_experts, .n_active = c->n_active,
                         .rope_theta = c->rope_theta, .norm_eps = c->norm_eps};
}

int mistral_model_window(const MistralModel *m, int layer) {
    const Config *c = &m->model.cfg;
    return layer >= 0 && layer < c->n_layers ? c->window[layer] : -1;
}

MistralContext *mistral_context_new(MistralModel *m, int n_seq, long n_ctx) {
    MistralContext *ctx = xcalloc(1, sizeof *ctx);
    if (context_init(&ctx->ctx, &m->model, n_seq, n_ctx)) {
        free(ctx);
        return NULL;
    }
    return ctx;
}

void mistral_context_free(MistralContext *ctx) {
    if (!ctx) return;
    context_free(&ctx->ctx);
    free(ctx);
}

long mistral_seq_pos(const MistralContext *ctx, int seq) {
    return seq >= 0 && seq < ctx->ctx.n_seq ? ctx->ctx.seqs[seq].n_pos : -1;
}

void mistral_seq_reset(MistralContext *ctx, int seq) {
    if (seq >= 0 && seq < ctx->ctx.n_seq) kvcache_reset(&ctx->ctx.seqs[seq]);
}

int mistral_decode(MistralContext *ctx, int n, const int *tokens, const int *seq,
                   const long *pos, const unsigned char *want, float *logits) {
    Batch b = {.n = n, .token = tokens, .seq = seq, .pos = pos, .want = want};
    return forward(&ctx->ctx, &b, logits);
}

MistralGenParams mistral_gen_defaults(void) {
    return (MistralGenParams){.temperature = 0, .top_p = 1, .eos = -1};
}

int mistral_generate(MistralContext *ctx, int n_prompts, const int *const *prompts,
                     const int *n_prompt, int max_new, const MistralGenParams *p,
                     int (*emit)(void *ud, int prompt, int token), void *ud) {
    if (n_prompts < 1) return err_set("no prompts");
    GenRequest *reqs = xmalloc((size_t)n_prompts * sizeof *reqs);
    for (int i = 0; i < n_prompts; i++)
        reqs[i] = (GenRequest){.prompt = prompts[i], .n_prompt = n_prompt[i], .max_new = max_new};
    GenOptions go = {.chunk_size = p->chunk_size,
                     .sampler = {.temperature = p->temperature, .top_p = p->top_p,
                                 .top_k = p->top_k, .min_p = p->min_p, .seed = p->seed},
                     .eos = p->eos};
    int rc = generate(&ctx->ctx, reqs, n_prompts, &go, emit, ud);
    free(reqs);
    return rc;
}
