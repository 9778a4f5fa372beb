/* cmd_ppl — mistral perplexity: how well a model predicts a text.
 *
 * The text is encoded (BOS first) and cut into windows of --ctx tokens
 * (default 256); each window starts a fresh sequence, and every token after a
 * window's first is scored by the logits of the tokens before it:
 *   PPL = exp( mean over scored tokens of -log softmax(logits)[token] ).
 * With --kl-base MODEL0, MODEL0 runs on the same windows and each scored
 * position adds KL(p0 || p) = Σ_v p0(v)·(log p0(v) - log p(v)) of the
 * next-token distributions; the mean is printed, with how often the two
 * models' most likely tokens agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/util.h"
#include "gen/generate.h"

#define PPL_DEFAULT_CTX 256

/* log softmax(logits) into lp[0..n), in double. */
static void log_softmax(double *lp, const float *logits, int n) {
    float mx = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    double ls = log(sum);
    for (int i = 0; i < n; i++) lp[i] = (double)logits[i] - mx - ls;
}

static int argmax_d(const double *v, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

/* The model --kl-base names: its own context on the same windows. */
typedef struct {
    Model m;
    Context ctx;
    float *logits;
    double kl, kl2, top_same;
} Base;

int cmd_perplexity(const Options *o) {
    if (!!o->prompt + !!o->prompt_file != 1) usage_error(o->cmd, "%s", "give -f FILE or -p TEXT");
    Model m;
    load_model(&m, o);
    Tokenizer tok;
    load_tokenizer(&tok, o);
    size_t len;
    char *text = o->prompt ? xstrdup(o->prompt) : slurp(o->prompt_file, &len);
    if (o->prompt) len = strlen(text);
    IntVec ids = {0};
    if (tokenizer_encode(&tok, text, len, 1, &ids)) die("%s: %s", o->prompt ? "-p" : o->prompt_file, err_msg());
    free(text);
    int ctx_len = o->ctx ? (int)o->ctx : PPL_DEFAULT_CTX;
    if (ids.n < 2) die("the text is too short to score (%d tokens)", ids.n);
    check_vocab(ids.v, ids.n, m.cfg.n_vocab, "text");
    Context ctx;
    if (context_init(&ctx, &m, 1, ctx_len)) die("%s", err_msg());
    setup_context(&ctx, o, o->threads);
    prepare_model(&m, &ctx, o, NULL);
    int V = m.cfg.n_vocab, chunk = o->chunk_size > 0 ? (int)o->chunk_size : GEN_DEFAULT_CHUNK;
    float *logits = xmalloc((size_t)chunk * V * sizeof(float));
    double *lp = xmalloc((size_t)V * sizeof(double)), *lq = xmalloc((size_t)V * sizeof(double));
    Base *base = NULL;
    if (o->kl_base) {
        base = xcalloc(1, sizeof *base);
        if (model_load(&base->m, o->kl_base, NULL)) die("%s", err_msg());
        if (base->m.cfg.n_vocab != V)
            die("--kl-base %s: %d tokens in its vocabulary, the model has %d", o->kl_base, base->m.cfg.n_vocab, V);
        if (context_init(&base->ctx, &base->m, 1, ctx_len)) die("%s", err_msg());
        setup_context(&base->ctx, o, o->threads);
        prepare_model(&base->m, &base->ctx, o, NULL);
        base->logits = xmalloc((size_t)chunk * V * sizeof(float));
    }
    int *seq = xcalloc((size_t)chunk, sizeof(int));
    long *pos = xmalloc((size_t)chunk * sizeof(long));
    double total = 0;
    long scored = 0;
    double t0 = now_seconds();
    for (int w = 0; w + 1 < ids.n; w += ctx_len) {
        int n = ids.n - w < ctx_len ? ids.n - w : ctx_len;
        kvcache_reset(&ctx.seqs[0]);
        if (base) kvcache_reset(&base->ctx.seqs[0]);
        for (int s = 0; s < n; s += chunk) { /* feed the window in chunks */
            int k = n - s < chunk ? n - s : chunk;
            for (int i = 0; i < k; i++) pos[i] = s + i;
            Batch b = {.n = k, .token = ids.v + w + s, .seq = seq, .pos = pos};
            if (forward(&ctx, &b, logits)) die("%s", err_msg());
            if (base && forward(&base->ctx, &b, base->logits)) die("--kl-base: %s", err_msg());
            for (int i = 0; i < k && s + i + 1 < n; i++, scored++) {
                log_softmax(lq, logits + (size_t)i * V, V);
                total -= lq[ids.v[w + s + i + 1]];
                if (!base) continue;
                /* KL(base || model) = Σ p_base (log p_base - log p_model) */
                log_softmax(lp, base->logits + (size_t)i * V, V);
                double kl = 0;
                for (int v = 0; v < V; v++) kl += exp(lp[v]) * (lp[v] - lq[v]);
                base->kl += kl, base->kl2 += kl * kl;
                base->top_same += argmax_d(lp, V) == argmax_d(lq, V);
            }
        }
    }
    double dt = now_seconds() - t0;
    printf("perplexity: %.4f over %ld tokens (%d tokens, windows of %d)\n", exp(total / scored), scored,
           ids.n, ctx_len);
    if (base) {
        double mean = base->kl / scored, var = base->kl2 / scored - mean * mean;
        printf("KL divergence from %s: %.6f +/- %.6f (mean over %ld tokens); same top token: %.2f%%\n",
               o->kl_base, mean, var > 0 && scored > 1 ? sqrt(var / (scored - 1)) : 0.0, scored,
               100.0 * base->top_same / scored);
        free(base->logits);
        context_free(&base->ctx);
        model_free(&base->m);
        free(base);
    }
    free(lp), free(lq);
    fprintf(stderr, "%.1f tok/s\n", (double)ids.n / (dt > 0 ? dt : 1e-9));
    free(logits), free(seq), free(pos);
    intvec_free(&ids);
    context_free(&ctx);
    tokenizer_free(&tok);
    model_free(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}
