/* fuzz_openai — libFuzzer target: the server's request parser on arbitrary
 * bytes, as /v1/chat/completions, /v1/completions, /v1/messages
 * (anthropic.h), /v1/responses (responses.h) and /v1/fim/completions
 * (fim.h) bodies.
 *
 * Each parser must accept or refuse with a 400 and a message (never crash,
 * leak or hang); an accepted request must hold a prompt that fits the
 * context, in-range sampling values and token ids of the vocabulary, and its
 * response (a few synthetic events, streaming and not) must be built
 * without fault. The tokenizer is $MISTRAL_SHARED (default
 * ../shared)/tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3
 * (chat format v3) when present; the chat endpoint is only parsed otherwise.
 * Seeds: tests/fuzz/corpus/fuzz_openai. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "server/anthropic.h"
#include "server/fim.h"
#include "server/openai.h"
#include "server/responses.h"
#include "tok/chat.h"
#include "tok/tokfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tokenizer tok;
static int have_tok = -1;

static void setup(void) {
    const char *env = getenv("MISTRAL_SHARED");
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3",
             env && *env ? env : "../shared");
    have_tok = tokenizer_load(&tok, path) == 0;
    if (!have_tok) fprintf(stderr, "fuzz_openai: %s not loaded: nothing to fuzz\n", path);
}

static void respond(const ApiDialect *d, const ApiRequest *q, const ApiConfig *cfg) {
    for (int sse = 0; sse < 2; sse++) {
        ApiResponse r;
        api_response_init(&r, q, cfg, "model", -1);
        ByteBuf out = {0};
        for (int c = 0; c < q->p.n; c++) {
            int ids[2] = {q->prompt[0], q->prompt[q->n_prompt - 1]};
            EngineEvent ev = {.choice = c, .token = ids[0], .text = "a\xc3\xa9", .len = 3, .logprob = -0.5f, .n_top = 1,
                              .top_id = {ids[1]}, .top_lp = {-1.5f}};
            d->event(&r, &ev, sse, &out);
            EngineEvent end = {.choice = c, .token = -1, .text = "", .finish = FINISH_LENGTH, .ids = ids, .n_ids = 2};
            d->event(&r, &end, sse, &out);
        }
        d->finish(&r, sse, &out);
        if (!out.n) __builtin_trap();
        bytebuf_free(&out);
        api_response_free(&r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (have_tok < 0) setup();
    if (!have_tok) return 0;
    ApiConfig cfg = {.tok = &tok, .chat_format = CHAT_V3, .n_ctx = 512, .temperature = 0};
    const ApiDialect *all[] = {&openai_completions_dialect, &openai_chat_dialect, &anthropic_dialect, &responses_dialect,
                               &fim_dialect};
    for (int k = 0; k < 5; k++) {
        ApiRequest q;
        ApiError e;
        if (all[k]->parse(&q, (const char *)data, size, &cfg, &e)) {
            if (e.status != 400 || !e.message[0]) __builtin_trap();
            continue;
        }
        if (q.n_prompt < 1 || q.n_prompt >= cfg.n_ctx || q.p.max_new < 1 || q.n_prompt + q.p.max_new - 1 > cfg.n_ctx)
            __builtin_trap();
        for (int i = 0; i < q.n_prompt; i++)
            if (q.prompt[i] < 0 || q.prompt[i] >= tok.n_vocab) __builtin_trap();
        if (q.p.n < 1 || q.p.sp.temperature < 0 || q.p.sp.temperature > 2 || q.p.n_stop > ENGINE_MAX_STOPS ||
            q.p.top_logprobs > ENGINE_MAX_TOP)
            __builtin_trap();
        if (q.p.n <= 4) respond(all[k], &q, &cfg);
        api_request_free(&q);
    }
    return 0;
}
