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
#include "grammar/grammar.h"
#include "base/utf8.h"
#include "server/openai.h"
#include "tok/chat.h"
#include "tok/toolcalls.h"
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
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}", "stop"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stream_options\": {\"include_usage\": true}}",
         "stream_options"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"top_logprobs\": 2}", "top_logprobs"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 0}", "max_tokens"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_tokens\": 100000}", "max_tokens"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"max_completion_tokens\": 100000}",
         "max_completion_tokens"},
        {0, "{\"prompt\": \"x\", \"max_tokens\": 100000}", "max_tokens"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"presence_penalty\": 2.5}", "presence_penalty"},
        {0, "{\"prompt\": \"x\", \"frequency_penalty\": -2.01}", "frequency_penalty"},
        {0, "{\"prompt\": \"x\", \"frequency_penalty\": \"1\"}", "frequency_penalty"},
        {0, "{\"prompt\": \"x\", \"repeat_penalty\": -1}", "repeat_penalty"},
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"repeat_last_n\": 1.5}", "repeat_last_n"},
        {0, "{\"prompt\": [1, 2, 99999999]}", "prompt"},
        {0, "{\"prompt\": [\"a\", \"b\"]}", "prompt"},
        {0, "{\"prompt\": \"bad \xff byte\"}", ""}, /* the body is not JSON (not UTF-8) */
        {1, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop\": \"a\\u0000b\"}", "stop"},
        {0, "{\"prompt\": \"x\", \"echo\": true}", "echo"},
        {0, "{\"prompt\": \"x\", \"logprobs\": 50}", "logprobs"},
        {0, "[1, 2]", ""},
        {0, "{\"prompt\": ", ""},
        {0, "{\"prompt\": \"x\", \"stream\": true, \"stream_options\": {\"include_usage\": true, \"x\": 1}}",
         "stream_options"},
        {0, "{\"prompt\": \"x\", \"max_tokens\": 05}", ""},
        {0, "{\"prompt\": \"x\", \"max_tokens\": 1.}", ""},
        {0, "{\"prompt\": \"x\x01\"}", ""}, /* a raw control character */
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
    /* stop texts: at most API_MAX_STOP_BYTES each */
    char stop[API_MAX_STOP_BYTES + 64];
    for (int k = 0; k <= 1; k++) {
        snprintf(stop, sizeof stop, "{\"prompt\": \"x\", \"stop\": [\"%0*d\"]}", API_MAX_STOP_BYTES + k, 0);
        int rc = parse(&q, 0, stop, &e);
        EXPECT(k ? rc == -1 && !strcmp(e.param, "stop") : rc == 0, "a stop of %d bytes: %s", API_MAX_STOP_BYTES + k,
               rc ? e.message : "accepted");
        api_request_free(&q);
    }
    /* an error never carries invalid UTF-8, whatever it quotes */
    api_error(&e, 400, NULL, "bad '%s'", "a\xff\xc3(");
    EXPECT(utf8_valid(e.message, strlen(e.message), NULL) && !strcmp(e.message, "bad 'a\xef\xbf\xbd\xef\xbf\xbd('"),
           "sanitized: %s", e.message);

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

/* ---- structured outputs ------------------------------------------------------ */

#define USER "\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]"
#define TOOLS                                                                                                   \
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"add\", \"parameters\": {\"type\": "        \
    "\"object\", \"properties\": {\"a\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 9}}, \"required\": "  \
    "[\"a\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"ping\"}}]"

/* Whether the reply [TOOL_CALLS] (when calls) then text is a sentence of q's
 * grammar (GRAMMAR_MATCH), a prefix or dead. */
static int recognize(const ApiRequest *q, int calls, const char *text) {
    IntVec in = {0};
    if (calls) intvec_push(&in, GRAMMAR_SPECIAL + tokenizer_special(&tok, "[TOOL_CALLS]"));
    for (const char *p = text; *p; p++) intvec_push(&in, (unsigned char)*p);
    int r = grammar_recognize(q->p.grammar, in.v, in.n);
    intvec_free(&in);
    return r;
}

/* The ids of [TOOL_CALLS] text, read back by toolcalls.c: its call count. */
static int calls_read_back(const char *text) {
    IntVec ids = {0};
    intvec_push(&ids, tokenizer_special(&tok, "[TOOL_CALLS]"));
    EXPECT(tokenizer_encode(&tok, text, strlen(text), 0, &ids) == 0, "encode");
    ToolCalls tc;
    EXPECT(toolcalls_parse(&tok, CHAT_V3, ids.v, ids.n, 1, &tc) == 0, "%s", err_msg());
    int n = tc.n_calls;
    toolcalls_free(&tc), intvec_free(&ids);
    return n;
}

static void test_structured(void) {
    ApiRequest q;
    ApiError e;
    static const struct {
        int chat;
        const char *body;
        int constrained;
    } good[] = {
        {1, "{" USER ", \"response_format\": {\"type\": \"text\"}}", 0},
        {1, "{" USER ", \"response_format\": null}", 0},
        {1, "{" USER ", \"response_format\": {\"type\": \"json_object\"}}", 1},
        {0, "{\"prompt\": \"x\", \"response_format\": {\"type\": \"json_object\"}}", 1},
        {1, "{" USER ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"n\", "
            "\"description\": \"d\", \"schema\": {\"type\": \"integer\"}, \"strict\": true}}}", 1},
        {1, "{" USER ", " TOOLS "}", 1},
        {1, "{" USER ", " TOOLS ", \"tool_choice\": \"none\"}", 1},
        {1, "{" USER ", " TOOLS ", \"tool_choice\": \"any\", \"parallel_tool_calls\": false}", 1},
        {1, "{" USER ", \"tool_choice\": \"auto\", \"random_seed\": 7, \"safe_prompt\": false}", 0},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        EXPECT(parse(&q, good[i].chat, good[i].body, &e) == 0, "%s: %s", good[i].body, e.message);
        EXPECT((q.p.grammar != NULL) == good[i].constrained, "%s: grammar %p", good[i].body, (void *)q.p.grammar);
        api_request_free(&q);
    }
    EXPECT(parse(&q, 1, "{" USER ", \"random_seed\": 7}", &e) == 0 && q.p.sp.seed == 7, "random_seed is the seed");
    api_request_free(&q);
    EXPECT(parse(&q, 1, "{" USER ", \"presence_penalty\": -2, \"frequency_penalty\": 1.5}", &e) == 0 &&
               q.p.sp.presence_penalty == -2 && q.p.sp.frequency_penalty == 1.5f && q.p.sp.repeat_penalty == 1 &&
               q.p.sp.repeat_last_n == 64,
           "penalties: %s", e.message);
    api_request_free(&q);
    EXPECT(parse(&q, 0, "{\"prompt\": \"x\", \"repeat_penalty\": 1.3, \"repeat_last_n\": 8}", &e) == 0 &&
               q.p.sp.repeat_penalty == 1.3f && q.p.sp.repeat_last_n == 8 && q.p.sp.presence_penalty == 0,
           "repeat penalty: %s", e.message);
    api_request_free(&q);

    /* what each form's grammar accepts */
    const char *one = " [{\"name\": \"add\", \"arguments\": {\"a\": 3}}]";
    const char *two = "[{\"name\":\"add\",\"arguments\":{\"a\":3}}, {\"name\": \"ping\", \"arguments\": {}, "
                      "\"id\": \"abcDEF123\"}]";
    EXPECT(calls_read_back(one) == 1 && calls_read_back(two) == 2, "the calls read back");
    static const struct {
        const char *choice;
        int text, one, two, bad_arg;
    } modes[] = {
        /* choice                                                 text  one  two  a=10 */
        {"\"auto\"", GRAMMAR_MATCH, GRAMMAR_MATCH, GRAMMAR_MATCH, GRAMMAR_DEAD},
        {"\"none\"", GRAMMAR_MATCH, GRAMMAR_DEAD, GRAMMAR_DEAD, GRAMMAR_DEAD},
        {"\"required\"", GRAMMAR_DEAD, GRAMMAR_MATCH, GRAMMAR_MATCH, GRAMMAR_DEAD},
        {"\"any\", \"parallel_tool_calls\": false", GRAMMAR_DEAD, GRAMMAR_MATCH, GRAMMAR_DEAD, GRAMMAR_DEAD},
        {"{\"type\": \"function\", \"function\": {\"name\": \"ping\"}}", GRAMMAR_DEAD, GRAMMAR_DEAD, GRAMMAR_DEAD,
         GRAMMAR_DEAD},
    };
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        char body[1024];
        snprintf(body, sizeof body, "{" USER ", " TOOLS ", \"tool_choice\": %s}", modes[i].choice);
        EXPECT(parse(&q, 1, body, &e) == 0 && q.p.grammar, "%s: %s", modes[i].choice, e.message);
        if (!q.p.grammar) continue;
        EXPECT(recognize(&q, 0, "It is sunny.") == modes[i].text, "%s: text", modes[i].choice);
        EXPECT(recognize(&q, 1, one) == modes[i].one, "%s: one call", modes[i].choice);
        EXPECT(recognize(&q, 1, two) == modes[i].two, "%s: two calls", modes[i].choice);
        EXPECT(recognize(&q, 1, "[{\"name\": \"add\", \"arguments\": {\"a\": 10}}]") == modes[i].bad_arg,
               "%s: an argument out of bounds", modes[i].choice);
        api_request_free(&q);
    }
    EXPECT(parse(&q, 1, "{" USER ", " TOOLS ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": "
                        "\"ping\"}}}", &e) == 0, "%s", e.message);
    EXPECT(recognize(&q, 1, "[{\"name\": \"ping\", \"arguments\": {}}]") == GRAMMAR_MATCH, "named: its call");
    api_request_free(&q);
    /* json_schema, strict; with tools: the content follows the format */
    EXPECT(parse(&q, 1, "{" USER ", " TOOLS ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": "
                        "{\"strict\": true, \"schema\": {\"properties\": {\"b\": {\"enum\": [1, 2]}}}}}}", &e) == 0,
           "%s", e.message);
    EXPECT(recognize(&q, 0, "{\"b\": 2}") == GRAMMAR_MATCH && recognize(&q, 0, "{\"b\": 3}") == GRAMMAR_DEAD &&
               recognize(&q, 0, "{\"c\": 1}") == GRAMMAR_DEAD && recognize(&q, 0, "hi") == GRAMMAR_DEAD &&
               recognize(&q, 1, one) == GRAMMAR_MATCH,
           "json_schema with tools");
    api_request_free(&q);

    static const struct {
        int chat;
        const char *body, *param, *says;
    } bad[] = {
        {1, "{" USER ", \"response_format\": {\"type\": \"xml\"}}", "response_format", "\"xml\""},
        {1, "{" USER ", \"response_format\": \"json\"}", "response_format", "must be an object"},
        {1, "{" USER ", \"response_format\": {\"type\": \"json_schema\"}}", "response_format", "json_schema"},
        {1, "{" USER ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"name\": \"x\"}}}",
         "response_format", "schema"},
        {1, "{" USER ", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"schema\": "
            "{\"properties\": {\"a\": {\"type\": \"string\", \"multipleOf\": 2}}}}}}",
         "response_format", "json schema: /properties/a: multipleOf"},
        {0, "{\"prompt\": \"x\", \"response_format\": {\"type\": \"json_schema\", \"json_schema\": {\"schema\": "
            "{\"$ref\": \"#/$defs/nope\"}}}}",
         "response_format", "json schema: "},
        {1, "{" USER ", \"response_format\": {\"type\": \"json_object\", \"extra\": 1}}", "response_format", "extra"},
        {1, "{" USER ", \"tool_choice\": \"required\"}", "tool_choice", "needs 'tools'"},
        {1, "{" USER ", " TOOLS ", \"tool_choice\": \"sometimes\"}", "tool_choice", "must be"},
        {1, "{" USER ", " TOOLS ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"nope\"}}}",
         "tool_choice", "\"nope\", which is not in 'tools'"},
        {1, "{" USER ", " TOOLS ", \"parallel_tool_calls\": 1}", "parallel_tool_calls", "true or false"},
        {1, "{" USER ", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": "
            "{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"string\", \"format\": \"color\"}}}}}]}",
         "tools", "tools[0].function.parameters: json schema: /properties/x"},
        {1, "{" USER ", \"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": "
            "{\"type\": \"string\"}}}]}",
         "tools", "must be an object"},
        {1, "{" USER ", \"safe_prompt\": \"yes\"}", "safe_prompt", "true or false"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(parse(&q, bad[i].chat, bad[i].body, &e) == -1 && e.status == 400 && !strcmp(e.param, bad[i].param) &&
                   strstr(e.message, bad[i].says),
               "%s: status %d param '%s' (%s)", bad[i].body, e.status, e.param, e.message);
    /* a format without tool calls: "required" is refused, "auto" leaves the reply free */
    ApiConfig v1 = cfg;
    v1.chat_format = CHAT_V1;
    const char *req = "{" USER ", " TOOLS ", \"tool_choice\": \"required\"}";
    EXPECT(api_parse(&q, 1, req, strlen(req), &v1, &e) == -1 && !strcmp(e.param, "tool_choice"), "v1: required");
    const char *aut = "{" USER ", " TOOLS "}";
    EXPECT(api_parse(&q, 1, aut, strlen(aut), &v1, &e) == 0 && !q.p.grammar, "v1: auto is free: %s", e.message);
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
    test_structured();
    tokenizer_free(&tok);
    return test_done("test_openai");
}
