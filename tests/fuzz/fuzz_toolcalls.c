/* fuzz_toolcalls — libFuzzer target: assistant replies read back as tool calls.
 *
 * The bytes are a model's reply twice over: as text after [TOOL_CALLS]
 * (encoded, EOS appended), and as raw ids (two bytes each, modulo the
 * vocabulary, so that [TOOL_CALLS], EOS and byte pieces fall anywhere). Each
 * is read in every format with the tokenizers found under $MISTRAL_SHARED
 * (default ../shared)/tokenizers/mistral. toolcalls_parse must return 0 with
 * valid UTF-8 content, calls with a name, arguments that json.loads reads as
 * an object and re-dumps unchanged, and 9-letter/digit ids, or plain content;
 * never crash or leak. Seeds: tests/fuzz/corpus/fuzz_toolcalls. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"
#include "fuzz_tokenizers.h"
#include "tok/toolcalls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tokenizer toks[3];
static int n_toks = -1;


static void check(const Tokenizer *t, const int *ids, int n) {
    static const int formats[] = {CHAT_V1, CHAT_V2, CHAT_V3, CHAT_V7, CHAT_TEKKEN};
    for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) {
        ToolCalls out;
        int rc = toolcalls_parse(t, formats[f], ids, n, (uint64_t)n, &out);
        if (rc != 0) {
            if (formats[f] != CHAT_TEKKEN || t->kind == TOK_TEKKEN || out.content) __builtin_trap();
            continue;
        }
        if (!out.content || !utf8_valid(out.content, out.content_len, NULL)) __builtin_trap();
        if (out.n_content_ids < 0 || out.n_content_ids > n) __builtin_trap();
        for (int k = 0; k < out.n_calls; k++) {
            const ChatToolCall *c = &out.calls[k];
            Arena a = {0};
            Json v;
            ByteBuf b = {0};
            if (!c->name || !chat_call_id_ok(c->id) ||
                json_parse(&v, &a, c->arguments, strlen(c->arguments), JSON_PY_MAX_DEPTH, NULL) || v.type != JSON_OBJ)
                __builtin_trap();
            json_dump(&b, &v, 0);
            if (b.n != strlen(c->arguments) || memcmp(b.p, c->arguments, b.n)) __builtin_trap();
            bytebuf_free(&b);
            arena_free(&a);
        }
        toolcalls_free(&out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (n_toks < 0) n_toks = fuzz_load_tokenizers(toks, "fuzz_toolcalls");
    if (size > 4096) size = 4096;
    for (int k = 0; k < n_toks; k++) {
        const Tokenizer *t = &toks[k];
        IntVec ids = {0};
        int tc = tokenizer_special(t, "[TOOL_CALLS]");
        if (tc >= 0) intvec_push(&ids, tc);
        if (tokenizer_encode(t, (const char *)data, size, 0, &ids) == 0) {
            intvec_push(&ids, t->eos);
            check(t, ids.v, ids.n);
        }
        ids.n = 0;
        for (size_t i = 0; i + 1 < size; i += 2) intvec_push(&ids, (data[i] | data[i + 1] << 8) % t->n_vocab);
        check(t, ids.v, ids.n);
        intvec_free(&ids);
    }
    return 0;
}
