/* batch — several prompts in one forward call, then decoded together.
 *
 *   cc batch.c $(pkg-config --cflags --libs mistral) -o batch
 *   ./batch MODEL N "prompt one" "prompt two" ...
 *
 * The prompts are tokenized, fed together in ONE mistral_decode call (each
 * in its own sequence: the block-diagonal batch), then every step decodes
 * one greedy token of each unfinished prompt, again in one call. Each
 * prompt's continuation is printed after a line "--- i": exactly the text
 * it gets alone, since a token's result does not depend on its batch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mistral.h>

#define MAX_PROMPTS 16
#define MAX_TOKENS 1024

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "batch: %s: %s: %s\n", what, mistral_status_name(rc), mistral_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc - 3 > MAX_PROMPTS) {
        fprintf(stderr, "usage: %s MODEL N PROMPT... (at most %d prompts)\n", argv[0], MAX_PROMPTS);
        return 2;
    }
    int n_new = atoi(argv[2]), np = argc - 3, rc;
    MistralModel *m;
    if ((rc = mistral_model_open(&m, argv[1], NULL))) return fail("open", rc);
    MistralInfo info;
    mistral_model_info(m, &info);
    MistralContextParams cp = mistral_context_default_params();
    cp.n_seq = np;
    MistralContext *ctx;
    if ((rc = mistral_context_new(&ctx, m, &cp))) return fail("context", rc);

    /* all prompts, one call; logits only for each prompt's last token */
    static int tokens[MAX_PROMPTS * MAX_TOKENS], seq[MAX_PROMPTS * MAX_TOKENS];
    static unsigned char want[MAX_PROMPTS * MAX_TOKENS];
    static int out[MAX_PROMPTS][MAX_TOKENS];
    int n = 0, n_out[MAX_PROMPTS] = {0}, done[MAX_PROMPTS] = {0};
    for (int p = 0; p < np; p++) {
        int k;
        if ((rc = mistral_tokenize(m, argv[3 + p], -1, 1, tokens + n, MAX_TOKENS, &k))) return fail("tokenize", rc);
        for (int i = 0; i < k; i++) seq[n + i] = p, want[n + i] = i == k - 1;
        n += k;
    }
    float *logits = malloc((size_t)np * info.n_vocab * sizeof(float));
    if ((rc = mistral_decode(ctx, n, tokens, seq, NULL, want, logits))) return fail("decode", rc);

    /* then one token of every unfinished prompt per call */
    for (int step = 0; step < n_new; step++) {
        int live = 0;
        for (int p = 0, row = 0; p < np; p++) {
            if (done[p]) continue;
            int tok = argmax(logits + (size_t)row++ * info.n_vocab, info.n_vocab);
            if (tok == info.eos) { done[p] = 1; continue; }
            out[p][n_out[p]++] = tok;
            if (n_out[p] == n_new) { done[p] = 1; continue; }
            tokens[live] = tok, seq[live] = p, live++;
        }
        if (!live) break;
        if ((rc = mistral_decode(ctx, live, tokens, seq, NULL, NULL, logits))) return fail("decode", rc);
    }
    static char text[1 << 16];
    for (int p = 0; p < np; p++) {
        size_t len;
        if ((rc = mistral_detokenize(m, out[p], n_out[p], text, sizeof text, &len))) return fail("detokenize", rc);
        printf("--- %d\n%s\n", p, text);
    }
    free(logits);
    mistral_context_free(ctx);
    mistral_model_close(m);
    return 0;
}
