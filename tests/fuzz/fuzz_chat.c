/* fuzz_chat — libFuzzer target: chat requests on arbitrary bytes.
 *
 * chat_parse must accept or refuse with an error line; an accepted request is
 * encoded in every format with the tokenizers found under $MISTRAL_SHARED
 * (default ../shared)/tokenizers/mistral (the v3 SentencePiece model, the v7
 * one and tekken_240718.json, each when present), and must encode or refuse
 * with an error line, leaving the output as it was. The first 256 bytes are
 * also one chat turn (system prompt | user text, split at the first NUL).
 * And the bytes are tool-call arguments and a tool result, whose Python-style
 * JSON re-serialization must be stable. Never crash or leak.
 * Build as `make fuzz` does (the library's sources, -lcjson -lpcre2-8 -lm);
 * good seeds: the sample.json files of ../shared/tokenizers/chat. */
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
#include "tok/chat.h"
#include "tok/tokfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static Tokenizer toks[3];
static int n_toks = -1;


static void check_encode(const Tokenizer *t, int format, const ChatRequest *r) {
    IntVec out = {0};
    intvec_push(&out, -7);
    err_set("%s", "");
    if (chat_encode(t, format, r, &out) == 0) {
        if (out.n < 2 || out.v[1] != t->bos) __builtin_trap();
        for (int i = 1; i < out.n; i++)
            if (out.v[i] < 0 || out.v[i] >= t->n_vocab) __builtin_trap();
    } else if (out.n != 1 || out.v[0] != -7 || err_msg()[0] == 0) {
        __builtin_trap();
    }
    intvec_free(&out);
}

/* A request whose tool-call arguments and tool result are the text s. */
static char *request_with_args(const char *s, size_t n) {
    ByteBuf q = {0};
    json_dump_str(&q, s, n, 0);
    const char *head = "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", "
                       "\"tool_calls\": [{\"id\": \"abcdefghi\", \"function\": {\"name\": \"f\", \"arguments\": ";
    const char *mid = "}}]}, {\"role\": \"tool\", \"tool_call_id\": \"abcdefghi\", \"content\": ";
    ByteBuf r = {0};
    bytebuf_push(&r, head, strlen(head));
    bytebuf_push(&r, q.p, q.n);
    bytebuf_push(&r, mid, strlen(mid));
    bytebuf_push(&r, q.p, q.n);
    bytebuf_push(&r, "}]}", 3);
    bytebuf_free(&q);
    return r.p;
}

/* The bytes as tool-call arguments (Python's json.loads/json.dumps round
 * trip): what comes out must come out again unchanged when fed back. */
static void check_args(const uint8_t *data, size_t size) {
    if (!utf8_valid((const char *)data, size, NULL) || memchr(data, 0, size)) return;
    char *req = request_with_args((const char *)data, size);
    ChatRequest r, r2;
    if (chat_parse(&r, req, strlen(req), "args") == 0) {
        const char *canon = r.msg[1].calls[0].arguments;
        char *req2 = request_with_args(canon, strlen(canon));
        if (chat_parse(&r2, req2, strlen(req2), "args2") != 0) __builtin_trap();
        if (strcmp(r2.msg[1].calls[0].arguments, canon)) __builtin_trap();
        if (r.msg[2].content_json && strcmp(r.msg[2].content_json, canon) && size) __builtin_trap();
        for (int k = 0; k < n_toks; k++) check_encode(&toks[k], k ? CHAT_V2 : CHAT_V3, &r);
        chat_free(&r2);
        free(req2);
        chat_free(&r);
    }
    free(req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (n_toks < 0) n_toks = fuzz_load_tokenizers(toks, "fuzz_chat");
    check_args(data, size);
    ChatRequest r;
    err_set("%s", "");
    if (chat_parse(&r, (const char *)data, size, "fuzz") == 0) {
        if (r.n_msg < 1 || !r.msg || !r.arena) __builtin_trap();
        static const int formats[] = {CHAT_V1, CHAT_V2, CHAT_V3, CHAT_V7, CHAT_TEKKEN};
        for (int k = 0; k < n_toks; k++)
            for (size_t f = 0; f < sizeof formats / sizeof formats[0]; f++) check_encode(&toks[k], formats[f], &r);
        chat_free(&r);
    } else if (err_msg()[0] == 0 || r.arena || r.msg) {
        __builtin_trap();
    }
    /* the first bytes as a chat turn, "system\0user" (short: BPE on long raw
     * bytes would take the fuzzer's time away from the requests) */
    if (size > 256) size = 256;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    const char *user = s + strlen(s) < s + size ? s + strlen(s) + 1 : s;
    const char *system = user == s ? NULL : s;
    for (int k = 0; k < n_toks; k++)
        for (int format = CHAT_V1; format <= CHAT_V7; format++) {
            if (format > CHAT_V3 && format < CHAT_V7) continue;
            IntVec out = {0};
            if (chat_encode_turn(&toks[k], format, system, user, size & 1, &out) != 0 && out.n) __builtin_trap();
            intvec_free(&out);
        }
    free(s);
    return 0;
}
