/* simple — generate text after a prompt with libmistral.
 *
 *   cc simple.c $(pkg-config --cflags --libs mistral) -o simple
 *   ./simple MODEL "Once upon a time" [N]
 *
 * Prints exactly the text the model continues the prompt with (greedy, up
 * to N tokens, 64 by default, or until the end-of-sequence token), streamed
 * as it is generated. */
#include <stdio.h>
#include <stdlib.h>

#include <mistral.h>

static int print_text(void *ud, int seq, int token, const char *text, size_t len) {
    (void)ud, (void)seq, (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0; /* nonzero would stop here */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL PROMPT [N]\n", argv[0]);
        return 2;
    }
    MistralModel *model;
    if (mistral_model_open(&model, argv[1], NULL) != MISTRAL_OK) {
        fprintf(stderr, "simple: %s\n", mistral_error());
        return 1;
    }
    int ids[4096], n;
    MistralContext *ctx = NULL;
    int rc = mistral_tokenize(model, argv[2], -1, 1, ids, 4096, &n);
    if (rc == MISTRAL_OK) rc = mistral_context_new(&ctx, model, NULL);
    if (rc == MISTRAL_OK) {
        MistralGenParams gp = mistral_gen_default_params();
        gp.max_tokens = argc > 3 ? atoi(argv[3]) : 64;
        const int *prompts[] = {ids};
        rc = mistral_generate(ctx, 1, prompts, &n, &gp, print_text, NULL);
    }
    if (rc != MISTRAL_OK) fprintf(stderr, "simple: %s: %s\n", mistral_status_name(rc), mistral_error());
    mistral_context_free(ctx);
    mistral_model_close(model);
    return rc == MISTRAL_OK ? 0 : 1;
}
