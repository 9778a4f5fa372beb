/* test_api — the public header, used as an outside program would. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "mistral.h"

static int count(void *ud, int prompt, int token) {
    int *n = ud;
    n[prompt]++;
    return token < 0;
}

int main(void) {
    EXPECT(mistral_model_open("tests/data/tiny/nope", -1) == NULL && strstr(mistral_error(), "nope"),
           "missing model: %s", mistral_error());
    MistralModel *m = mistral_model_open("tests/data/tiny/moe_sw8_f32", -1);
    EXPECT(m != NULL, "%s", mistral_error());
    if (!m) return test_done("test_api");
    MistralInfo info = mistral_model_info(m);
    EXPECT(info.dim == 64 && info.n_layers == 2 && info.n_experts == 4 && info.n_active == 2 &&
               info.n_vocab == 256, "info");
    EXPECT(mistral_model_window(m, 0) == 8 && mistral_model_window(m, 9) == -1, "window");

    MistralContext *ctx = mistral_context_new(m, 2, 64);
    EXPECT(ctx != NULL, "%s", mistral_error());
    int toks[3] = {1, 5, 9}, seq[3] = {0, 0, 0};
    long pos[3] = {0, 1, 2};
    float *lg = malloc(3 * 256 * sizeof(float));
    EXPECT(mistral_decode(ctx, 3, toks, seq, pos, NULL, lg) == 0, "%s", mistral_error());
    EXPECT(mistral_seq_pos(ctx, 0) == 3 && mistral_seq_pos(ctx, 1) == 0, "positions");
    EXPECT(mistral_decode(ctx, 3, toks, seq, pos, NULL, lg) == -1, "replayed positions accepted");
    mistral_seq_reset(ctx, 0);
    EXPECT(mistral_seq_pos(ctx, 0) == 0, "reset");

    int a[] = {1, 147, 186, 149, 240}, b[] = {1, 2, 3};
    const int *prompts[] = {a, b};
    int lens[] = {5, 3}, got[2] = {0, 0};
    MistralGenParams gp = mistral_gen_defaults();
    EXPECT(mistral_generate(ctx, 2, prompts, lens, 7, &gp, count, got) == 0, "%s", mistral_error());
    EXPECT(got[0] == 7 && got[1] == 7, "generated %d and %d tokens", got[0], got[1]);
    free(lg);
    mistral_context_free(ctx);
    mistral_model_close(m);
    return test_done("test_api");
}
