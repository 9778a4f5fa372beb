/* cmd_ppl — mistral perplexity: how well a model predicts a text.
 *
 * The text is encoded (BOS first) and cut into windows of --ctx tokens
 * (default 256); each window starts a fresh sequence, and every token after a
 * window's first is scored by the logits of the tokens before it:
 *   PPL = exp( mean over scored tokens of -log softmax(logits)[token] ). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/util.h"
#include "gen/generate.h"

#define PPL_DEFAULT_CTX 256

/* -log p(target) under softmax(logits), in double. */
static double nll(const float *logits, int n, int target) {
    float mx = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    return log(sum) - ((double)logits[target] - mx);
}

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
    int *seq = xcalloc((size_t)chunk, sizeof(int));
    long *pos = xmalloc((size_t)chunk * sizeof(long));
    double total = 0;
    long scored = 0;
    double t0 = now_seconds();
    for (int w = 0; w + 1 < ids.n; w += ctx_len) {
        int n = ids.n - w < ctx_len ? ids.n - w : ctx_len;
        kvcache_reset(&ctx.seqs[0]);
        for (int s = 0; s < n; s += chunk) { /* feed the window in chunks */
            int k = n - s < chunk ? n - s : chunk;
            for (int i = 0; i < k; i++) pos[i] = s + i;
            Batch b = {.n = k, .token = ids.v + w + s, .seq = seq, .pos = pos};
            if (forward(&ctx, &b, logits)) die("%s", err_msg());
            for (int i = 0; i < k && s + i + 1 < n; i++, scored++)
                total += nll(logits + (size_t)i * V, V, ids.v[w + s + i + 1]);
        }
    }
    double dt = now_seconds() - t0;
    printf("perplexity: %.4f over %ld tokens (%d tokens, windows of %d)\n", exp(total / scored), scored,
           ids.n, ctx_len);
    fprintf(stderr, "%.1f tok/s\n", (double)ids.n / (dt > 0 ? dt : 1e-9));
    free(logits), free(seq), free(pos);
    intvec_free(&ids);
    context_free(&ctx);
    tokenizer_free(&tok);
    model_free(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}
