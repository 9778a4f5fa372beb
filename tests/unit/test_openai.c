/* test_openai — the server's OpenAI layer without HTTP: request bodies to
 * engine parameters (and the 400s), engine events to responses and stream
 * chunks, and a reply that calls tools (token sequences the tiny models
 * cannot write) read back as tool_calls. Uses Mistral's v3 tokenizer from
 * ../shared (skipped where absent). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "harness.h"
#include "server/openai.h"
#include "tok/chat.h"
#include "tok/tokfile.h"

#define V3 "../shared/tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3"

static Tokenizer tok;
static ApiConfig cfg;

static int parse(ApiRequest *q, int chat, const char *body, ApiError *e) {
    return api_parse(q, chat, body, strlen(body), &cfg, e);
}

static void test_requests(void) {
    ApiRequest q;
    ApiError e;
    EXPECT(parse(&q, 1, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 9, \"n\": 2, "
                        "\"temperature\": 0.5, \"seed\": 3, \"stop\": [\"a\", \"bc\"], \"logprobs\": true, "
                        "\"top_logprobs\": 4, \"stream\": true, \"stream_options\": {\"include_usage\": true}}",
                 &e) == 0, "%s", e.message);
    EXPECT(q.chat && q.stream && q.include_usage && q.p.max_new == 9 && q.p.n == 2 && q.p.sp.seed == 3 &&
               q.p.n_stop == 2 && !strcmp(q.p.stops[1], "bc") && q.p.top_logprobs == 4 && q.p.sp.temperature == 0.5f,
           "parsed fields");
    /* the prompt is chat_encode's */
    ChatRequest cr;
    const char *msgs = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}";
    IntVec ids = {0};
    EXPECT(chat_parse(&cr, msgs, strlen(msgs), "t") == 0 && chat_encode(&tok, CHAT_V3, &cr, &ids) == 0, "encode");
    EXPECT(ids.n == q.n_prompt && !memcmp(ids.v, q.prompt, (size_t)ids.n * sizeof(int)), "prompt ids");
    chat_free(&cr), intvec_free(&ids);
    api_request_free(&q);

    static const struct {
        int chat;
        const char *body, *param;
    } bad[] = {
        {1, "{\"messages\": [], \"frobnicate\": 1}", "frobnicate"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"hot\"}", "temperature"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": 3}", "temperature"},
        {1, "{\"messages\": [{\"role\": \"wizard\", \"content\": \"x\"}]}", "messages"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"response_format\": {\"type\": \"json_object\"}}",
         "response_format"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream_options\": {\"include_usage\": true}}",
         "stream_options"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}", "top_logprobs"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 0}", "max_tokens"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 100000}", "max_tokens"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_completion_tokens\": 100000}",
         "max_completion_tokens"},
        {0, "{\"prompt\": \"x\", \"max_tokens\": 100000}", "max_tokens"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"presence_penalty\": 0.5}", "presence_penalty"},
        {0, "{\"prompt\": [1, 2, 99999999]}", "prompt"},
        {0, "{\"prompt\": [\"a\", \"b\"]}", "prompt"},
        {0, "{\"prompt\": \"bad \xff byte\"}", ""}, /* the body is not JSON (not UTF-8) */
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": \"a\\u0000b\"}", "stop"},
        {0, "{\"prompt\": \"x\", \"echo\": true}", "echo"},
        {0, "{\"prompt\": \"x\", \"logprobs\": 50}", "logprobs"},
        {0, "[1, 2]", ""},
        {0, "{\"prompt\": ", ""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT(parse(&q, bad[i].chat, bad[i].body, &e) == -1 && e.status == 400 && !strcmp(e.param, bad[i].param),
               "%s: status %d param '%s' (%s)", bad[i].body, e.status, e.param, e.message);
    }
    /* one parse, Python's rules: a repeated key takes its last value (as the chat
     * encoding reads the same document), an integer's digits are exact, NaN is
     * read (and refused as out of range), a prompt's NUL is text */
    EXPECT(parse(&q, 1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 5, "
                        "\"seed\": 9007199254740993, \"max_tokens\": 7}", &e) == 0 &&
               q.p.max_new == 7 && q.p.sp.seed == 9007199254740993ull,
           "repeated key, exact seed: %s", e.message);
    api_request_free(&q);
    EXPECT(parse(&q, 1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": NaN}", &e) == -1 &&
               !strcmp(e.param, "temperature"),
           "NaN temperature: %s", e.message);
    EXPECT(parse(&q, 0, "{\"prompt\": \"a\\u0000b\"}", &e) == 0 && q.n_prompt > 2, "NUL in a prompt: %s", e.message);
    api_request_free(&q);

    /* a prompt over the context */
    char *big = xmalloc(40000);
    strcpy(big, "{\"prompt\": \"");
    for (int i = 0; i < 3000; i++) strcat(big, "word ");
    strcat(big, "\"}");
    EXPECT(parse(&q, 0, big, &e) == -1 && e.code && !strcmp(e.code, "context_length_exceeded"), "long prompt: %s",
           e.message);
    free(big);
}

/* Runs one choice's ids through a response as engine events. */
static char *respond(const ApiRequest *q, const int *ids, int n, int sse) {
    ApiResponse r;
    api_response_init(&r, q, &cfg, "m", toolcalls_start_id(&tok, CHAT_V3));
    ByteBuf out = {0};
    Stream s;
    stream_init(&s, &tok, NULL, 0);
    int in_calls = 0;
    for (int i = 0; i < n; i++) {
        ByteBuf d = {0};
        int last = i == n - 1, eos = ids[i] == tok.eos;
        if (ids[i] == toolcalls_start_id(&tok, CHAT_V3)) in_calls = 1;
        if (!in_calls && !eos) stream_push(&s, ids[i], &d);
        if (last && !in_calls) stream_finish(&s, &d);
        bytebuf_push(&d, "", 0);
        EngineEvent ev = {.choice = 0, .token = ids[i], .text = d.p, .len = d.n - 0, .finish = last ? FINISH_STOP : FINISH_NONE,
                          .ids = (int *)ids, .n_ids = eos ? n - 1 : n};
        api_response_event(&r, &ev, sse, &out);
        bytebuf_free(&d);
    }
    api_response_finish(&r, sse, &out);
    stream_free(&s);
    api_response_free(&r);
    bytebuf_push(&out, "", 0);
    return out.p;
}

static void test_tool_calls(void) {
    ApiRequest q;
    ApiError e;
    EXPECT(parse(&q, 1, "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Paris?\"}], \"tools\": [{\"type\": "
                        "\"function\", \"function\": {\"name\": \"get_weather\", \"parameters\": {\"type\": \"object\"}}}], "
                        "\"tool_choice\": \"auto\"}",
                 &e) == 0, "%s", e.message);
    const char *call = "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]";
    IntVec ids = {0};
    intvec_push(&ids, toolcalls_start_id(&tok, CHAT_V3));
    EXPECT(tokenizer_encode(&tok, call, strlen(call), 0, &ids) == 0, "encode");
    intvec_push(&ids, tok.eos);
    char *body = respond(&q, ids.v, ids.n, 0);
    cJSON *o = cJSON_Parse(body);
    cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "choices"), 0), *m = cJSON_GetObjectItem(ch, "message");
    cJSON *tc = cJSON_GetArrayItem(cJSON_GetObjectItem(m, "tool_calls"), 0), *f = cJSON_GetObjectItem(tc, "function");
    EXPECT(f && !strcmp(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "tool_calls") &&
               !strcmp(cJSON_GetObjectItem(tc, "id")->valuestring, "abcDEF123") &&
               !strcmp(cJSON_GetObjectItem(f, "name")->valuestring, "get_weather") &&
               !strcmp(cJSON_GetObjectItem(f, "arguments")->valuestring, "{\"city\": \"Paris\"}") &&
               cJSON_IsNull(cJSON_GetObjectItem(m, "content")),
           "tool call response: %s", body);
    cJSON_Delete(o), free(body);
    body = respond(&q, ids.v, ids.n, 1);
    EXPECT(strstr(body, "\"tool_calls\":[{\"index\":0,\"id\":\"abcDEF123\",\"type\":\"function\"") &&
               strstr(body, "\"finish_reason\":\"tool_calls\"") && strstr(body, "data: [DONE]"),
           "tool call stream: %s", body);
    free(body);
    /* cut short (max_tokens): the text comes back as content, finish "stop" */
    body = respond(&q, ids.v, ids.n / 2, 0);
    EXPECT(strstr(body, "\"finish_reason\":\"stop\"") && strstr(body, "get_weather") && !strstr(body, "tool_calls"),
           "truncated call: %s", body);
    free(body);
    /* plain text: no calls */
    IntVec plain = {0};
    EXPECT(tokenizer_encode(&tok, "It is sunny \xc3\xa9.", 15, 0, &plain) == 0, "encode");
    intvec_push(&plain, tok.eos);
    body = respond(&q, plain.v, plain.n, 0);
    EXPECT(strstr(body, "\"content\":\"It is sunny \xc3\xa9.\"") && strstr(body, "\"finish_reason\":\"stop\""), "plain: %s",
           body);
    free(body);
    intvec_free(&plain), intvec_free(&ids);
    api_request_free(&q);
}

int main(void) {
    if (access(V3, R_OK)) {
        printf("test_openai: %s absent: skipped\n", V3);
        return test_done("test_openai");
    }
    EXPECT(tokenizer_load(&tok, V3) == 0, "%s", err_msg());
    cfg = (ApiConfig){.tok = &tok, .chat_format = CHAT_V3, .n_ctx = 2048, .temperature = 0};
    test_requests();
    test_tool_calls();
    tokenizer_free(&tok);
    return test_done("test_openai");
}
