/* fuzz_openai — libFuzzer target: the server's request parser on arbitrary
 * bytes, as /v1/chat/completions, /v1/completions, /v1/messages
 * (anthropic.h), /v1/responses (responses.h) and /v1/fim/completions
 * (fim.h) bodies.
 *
 * Each parser must accept or refuse with a 400 and a message (never crash,
 * leak or hang); an accepted request must hold a prompt that fits the
 * context, in-range sampling values and token ids of the vocabulary, and its
 * response (a few synthetic events, streaming and not) must be built
 * without fault. Structured outputs (response_format, tools, tool_choice,
 * parallel_tool_calls): an accepted request's grammar is finished, and a
 * random sentence of it is one its Earley recognizer accepts. Each body
 * is parsed under two tokenizers of $MISTRAL_SHARED (default
 * ../shared)/tokenizers/mistral: mistral_instruct_tokenizer_240323.model.v3
 * (chat format v3: [TOOL_CALLS] [...]) and
 * mistral_instruct_tokenizer_241114.model.v7 (v7: [TOOL_CALLS]name[ARGS]),
 * when present (nothing is fuzzed otherwise).
 * Seeds: tests/fuzz/corpus/fuzz_openai; dictionary: tests/fuzz/openai.dict. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/sample.h"
#include "server/anthropic.h"
#include "server/fim.h"
#include "server/openai.h"
#include "server/responses.h"
#include "tok/chat.h"
#include "tok/tokfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tokenizer toks[2];
static const int formats[2] = {CHAT_V3, CHAT_V7};
static int have_tok = -1;

static void setup(void) {
    static const char *names[2] = {"mistral_instruct_tokenizer_240323.model.v3", "mistral_instruct_tokenizer_241114.model.v7"};
    const char *env = getenv("MISTRAL_SHARED");
    have_tok = 1;
    for (int k = 0; k < 2; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizers/mistral/%s", env && *env ? env : "../shared", names[k]);
        if (tokenizer_load(&toks[k], path)) {
            fprintf(stderr, "fuzz_openai: %s not loaded: nothing to fuzz\n", path);
            have_tok = 0;
        }
    }
}

/* A random sentence of an accepted request's grammar must be one. */
static void check_grammar(const Grammar *g, const uint8_t *data, size_t size) {
    if (!g->finished || g->start < 0 || g->start >= g->n_rules) __builtin_trap();
    uint64_t rng = size;
    for (size_t i = 0; i < size && i < 64; i++) rng = rng * 31 + data[i];
    IntVec out = {0};
    if (!grammar_sample(g, &rng, 64, 4096, &out) && grammar_recognize(g, out.v, out.n) != GRAMMAR_MATCH) __builtin_trap();
    intvec_free(&out);
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
    const ApiDialect *all[] = {&openai_completions_dialect, &openai_chat_dialect, &anthropic_dialect, &responses_dialect,
                               &fim_dialect};
    for (int k = 0; k < 2; k++) {
        const Tokenizer *tok = &toks[k];
        ApiConfig cfg = {.tok = tok, .chat_format = formats[k], .n_ctx = 512, .temperature = 0};
        for (int d = 0; d < 5; d++) {
            ApiRequest q;
            ApiError e;
            if (all[d]->parse(&q, (const char *)data, size, &cfg, &e)) {
                if (e.status != 400 || !e.message[0]) __builtin_trap();
                continue;
            }
            if (q.n_prompt < 1 || q.n_prompt >= cfg.n_ctx || q.p.max_new < 1 || q.n_prompt + q.p.max_new - 1 > cfg.n_ctx)
                __builtin_trap();
            for (int i = 0; i < q.n_prompt; i++)
                if (q.prompt[i] < 0 || q.prompt[i] >= tok->n_vocab) __builtin_trap();
            if (q.p.n < 1 || q.p.sp.temperature < 0 || q.p.sp.temperature > 2 || q.p.n_stop > ENGINE_MAX_STOPS ||
                q.p.top_logprobs > ENGINE_MAX_TOP)
                __builtin_trap();
            if (q.p.grammar) check_grammar(q.p.grammar, data, size);
            if (q.p.n <= 4) respond(all[d], &q, &cfg);
            api_request_free(&q);
        }
    }
    return 0;
}
