/* test_dialects — Anthropic's Messages and OpenAI's Responses requests
 * without HTTP: each encodes into exactly the prompt tokens of the
 * equivalent OpenAI chat request (tool calls and results included), a
 * reply that calls a tool (token sequences the tiny models cannot write)
 * renders as tool_use blocks / function_call items, and the 400s name the
 * dialect's fields. Uses Mistral's v3 tokenizer from ../shared (skipped
 * where absent). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "harness.h"
#include "server/anthropic.h"
#include "server/fim.h"
#include "server/responses.h"
#include "tok/chat.h"
#include "tok/tokfile.h"
#include "tok/toolcalls.h"

#define V3 "../shared/tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3"

static Tokenizer tok;
static ApiConfig cfg;

/* The dialect's request encodes to the chat request's prompt. */
static void same_prompt(const ApiDialect *d, const char *body, const char *chat, const char *what) {
    ApiRequest q, want;
    ApiError e;
    EXPECT(d->parse(&q, body, strlen(body), &cfg, &e) == 0, "%s: %s", what, e.message);
    EXPECT(api_parse(&want, 1, chat, strlen(chat), &cfg, &e) == 0, "%s (chat): %s", what, e.message);
    EXPECT(q.n_prompt == want.n_prompt && !memcmp(q.prompt, want.prompt, (size_t)q.n_prompt * sizeof(int)),
           "%s: %d tokens, the chat request's %d", what, q.n_prompt, want.n_prompt);
    EXPECT(!q.p.grammar == !want.p.grammar, "%s: a grammar in one only", what);
    api_request_free(&q), api_request_free(&want);
}

#define TOOLS_CHAT "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"w\", " \
                   "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}]"

static void test_anthropic(void) {
    same_prompt(&anthropic_dialect,
                "{\"model\": \"m\", \"max_tokens\": 10, \"system\": \"Be brief.\", \"messages\": [{\"role\": \"user\", "
                "\"content\": \"Hi\"}]}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": "
                "\"Hi\"}], \"max_tokens\": 10}",
                "system and user");
    same_prompt(&anthropic_dialect,
                "{\"model\": \"m\", \"max_tokens\": 10, \"system\": [{\"type\": \"text\", \"text\": \"Be brief.\", "
                "\"cache_control\": {\"type\": \"ephemeral\"}}], \"tools\": [{\"name\": \"get_weather\", \"description\": "
                "\"w\", \"input_schema\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}], "
                "\"tool_choice\": {\"type\": \"any\"}, \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", "
                "\"text\": \"Weather?\"}]}, {\"role\": \"assistant\", \"content\": [{\"type\": \"tool_use\", \"id\": "
                "\"abcDEF123\", \"name\": \"get_weather\", \"input\": {\"city\": \"Paris\", \"n\": 1.5}}]}, {\"role\": "
                "\"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"abcDEF123\", \"content\": "
                "\"sunny\"}, {\"type\": \"text\", \"text\": \"And tomorrow?\"}]}]}",
                "{\"messages\": [{\"role\": \"system\", \"content\": [{\"type\": \"text\", \"text\": \"Be brief.\"}]}, "
                "{\"role\": \"user\", \"content\": \"Weather?\"}, {\"role\": \"assistant\", \"tool_calls\": [{\"id\": "
                "\"abcDEF123\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": "
                "\"{\\\"city\\\":\\\"Paris\\\",\\\"n\\\":1.5}\"}}]}, {\"role\": \"tool\", \"tool_call_id\": \"abcDEF123\", "
                "\"content\": \"sunny\"}, {\"role\": \"user\", \"content\": \"And tomorrow?\"}], " TOOLS_CHAT
                ", \"tool_choice\": \"required\", \"max_tokens\": 10}",
                "tool_use and tool_result, tool_choice any");
    /* ids that are not 9 letters and digits pair the same way once hashed */
    ApiRequest a, b;
    ApiError e;
    const char *toolu = "{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", "
                        "\"content\": [{\"type\": \"tool_use\", \"id\": \"toolu_01A\", \"name\": \"f\", \"input\": {}}]}, "
                        "{\"role\": \"user\", \"content\": [{\"type\": \"tool_result\", \"tool_use_id\": \"toolu_01A\", "
                        "\"content\": [{\"type\": \"text\", \"text\": \"ok\"}]}]}]}";
    EXPECT(anthropic_dialect.parse(&a, toolu, strlen(toolu), &cfg, &e) == 0, "toolu ids: %s", e.message);
    api_request_free(&a);
    /* a last assistant message is continued (no EOS after it) */
    const char *pre = "{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"assistant\", "
                      "\"content\": \"Once\"}]}";
    EXPECT(anthropic_dialect.parse(&a, pre, strlen(pre), &cfg, &e) == 0, "prefill: %s", e.message);
    EXPECT(a.prompt[a.n_prompt - 1] != tok.eos, "prefill: no EOS at the end");
    api_request_free(&a);
    /* max_tokens past the context: the room, and what was asked kept */
    const char *big = "{\"max_tokens\": 100000, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}";
    EXPECT(anthropic_dialect.parse(&a, big, strlen(big), &cfg, &e) == 0 && a.max_asked == 100000 &&
               a.p.max_new == cfg.n_ctx - a.n_prompt + 1,
           "clamped max_tokens: %s", e.message);
    api_request_free(&a);
    int n = 0;
    const char *count = "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}";
    EXPECT(anthropic_count_tokens(count, strlen(count), &cfg, &n, &e) == 0 && n > 2, "count_tokens: %s", e.message);
    (void)b;

    static const struct {
        const char *body, *param, *says;
    } bad[] = {
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}", "max_tokens", "required"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"frob\": 1}", "frob", "frob"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": 1.5}", "temperature",
         "between 0 and 1"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\"}]}]}", "messages",
         "\"image\""},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"system\", \"content\": \"x\"}]}", "messages", "role"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop_sequences\": [\"a\", \"b\", "
         "\"c\", \"d\", \"e\"]}", "stop_sequences", "at most"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"stop_sequences\": [1]}",
         "stop_sequences", "strings"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"thinking\": {\"type\": \"enabled\", "
         "\"budget_tokens\": 1024}}", "thinking", "not supported"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": [{\"type\": "
         "\"web_search_20250305\", \"name\": \"web_search\"}]}", "tools", "custom"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": [{\"name\": \"f\", "
         "\"input_schema\": {\"type\": \"object\"}}], \"tool_choice\": {\"type\": \"tool\", \"name\": \"g\"}}", "tool_choice",
         "not in 'tools'"},
        {"{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tool_choice\": {\"type\": \"any\"}}",
         "tool_choice", "needs 'tools'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        EXPECT(anthropic_dialect.parse(&a, bad[i].body, strlen(bad[i].body), &cfg, &e) == -1 && e.status == 400 &&
                   !strcmp(e.param, bad[i].param) && strstr(e.message, bad[i].says),
               "%s: status %d param '%s' (%s)", bad[i].body, e.status, e.param, e.message);
    }
    char *s = anthropic_dialect.error_json(&e);
    EXPECT(!strncmp(s, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":", 64), "shape: %s", s);
    free(s);
}

static void test_responses(void) {
    same_prompt(&responses_dialect, "{\"model\": \"m\", \"input\": \"Hi\", \"instructions\": \"Be brief.\"}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi\"}]}",
                "instructions and a string");
    same_prompt(&responses_dialect,
                "{\"model\": \"m\", \"tools\": [{\"type\": \"function\", \"name\": \"get_weather\", \"description\": \"w\", "
                "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}], \"tool_choice\": "
                "{\"type\": \"function\", \"name\": \"get_weather\"}, \"input\": [{\"role\": \"developer\", \"content\": \"S\"}, "
                "{\"type\": \"message\", \"role\": \"user\", \"content\": [{\"type\": \"input_text\", \"text\": \"Weather?\"}]}, "
                "{\"type\": \"function_call\", \"call_id\": \"abcDEF123\", \"name\": \"get_weather\", \"arguments\": "
                "\"{\\\"city\\\": \\\"Paris\\\"}\"}, {\"type\": \"function_call_output\", \"call_id\": \"abcDEF123\", "
                "\"output\": \"sunny\"}, {\"role\": \"user\", \"content\": \"And tomorrow?\"}]}",
                "{\"messages\": [{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": [{\"type\": "
                "\"text\", \"text\": \"Weather?\"}]}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": "
                "\"abcDEF123\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"arguments\": "
                "\"{\\\"city\\\": \\\"Paris\\\"}\"}}]}, {\"role\": \"tool\", \"tool_call_id\": \"abcDEF123\", \"content\": "
                "\"sunny\"}, {\"role\": \"user\", \"content\": \"And tomorrow?\"}], " TOOLS_CHAT
                ", \"tool_choice\": {\"type\": \"function\", \"function\": {\"name\": \"get_weather\"}}}",
                "function_call and function_call_output");
    static const struct {
        const char *body, *param, *says;
    } bad[] = {
        {"{\"input\": [{\"type\": \"reasoning\", \"summary\": []}]}", "input", "\"reasoning\""},
        {"{\"input\": \"x\", \"tools\": [{\"type\": \"web_search\"}]}", "tools", "\"web_search\""},
        {"{\"input\": \"x\", \"max_output_tokens\": 100000}", "max_output_tokens", "context"},
        {"{\"input\": \"x\", \"previous_response_id\": \"resp_nope\"}", "previous_response_id", "resp_nope"},
        {"{\"input\": \"x\", \"truncation\": \"auto\"}", "truncation", "disabled"},
        {"{\"input\": \"x\", \"seed\": 1}", "seed", "seed"},
        {"{\"input\": [{\"role\": \"user\", \"content\": [{\"type\": \"input_image\"}]}]}", "input[0].content[0]",
         "\"input_image\""},
    };
    ApiRequest q;
    ApiError e;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(responses_dialect.parse(&q, bad[i].body, strlen(bad[i].body), &cfg, &e) == -1 && e.status == 400 &&
                   !strcmp(e.param, bad[i].param) && strstr(e.message, bad[i].says),
               "%s: status %d param '%s' (%s)", bad[i].body, e.status, e.param, e.message);
}

/* A reply that calls get_weather, through a dialect's events. */
static char *call_reply(const ApiDialect *d, const char *body, int sse) {
    ApiRequest q;
    ApiError e;
    EXPECT(d->parse(&q, body, strlen(body), &cfg, &e) == 0, "%s", e.message);
    const char *call = "[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]";
    IntVec ids = {0};
    intvec_push(&ids, toolcalls_start_id(&tok, CHAT_V3));
    EXPECT(tokenizer_encode(&tok, call, strlen(call), 0, &ids) == 0, "encode");
    ApiResponse r;
    api_response_init(&r, &q, &cfg, "m", toolcalls_start_id(&tok, CHAT_V3));
    dialect_id(r.id, sizeof r.id, d->id_prefix, &r);
    ByteBuf out = {0};
    for (int i = 0; i < ids.n; i++) {
        EngineEvent ev = {.choice = 0, .token = ids.v[i], .text = "", .finish = i == ids.n - 1 ? FINISH_STOP : FINISH_NONE,
                          .ids = ids.v, .n_ids = ids.n};
        d->event(&r, &ev, sse, &out);
    }
    d->finish(&r, sse, &out);
    bytebuf_push(&out, "", 0);
    api_response_free(&r), api_request_free(&q), intvec_free(&ids);
    return out.p;
}

static void test_calls_out(void) {
    const char *msg = "{\"max_tokens\": 50, \"tools\": [{\"name\": \"get_weather\", \"input_schema\": {\"type\": \"object\"}}], "
                      "\"messages\": [{\"role\": \"user\", \"content\": \"Weather?\"}]}";
    char *s = call_reply(&anthropic_dialect, msg, 0);
    cJSON *o = cJSON_Parse(s), *b = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "content"), 0);
    EXPECT(o && !strcmp(cJSON_GetObjectItem(o, "stop_reason")->valuestring, "tool_use") &&
               !strcmp(cJSON_GetObjectItem(b, "type")->valuestring, "tool_use") &&
               !strcmp(cJSON_GetObjectItem(b, "id")->valuestring, "abcDEF123") &&
               !strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "input"), "city")->valuestring, "Paris"),
           "anthropic tool_use: %s", s);
    cJSON_Delete(o), free(s);
    s = call_reply(&anthropic_dialect, msg, 1);
    EXPECT(strstr(s, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
                     "{\"type\":\"tool_use\",\"id\":\"abcDEF123\",\"name\":\"get_weather\",\"input\":{}}}") &&
               strstr(s, "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \\\"Paris\\\"}\"}") &&
               strstr(s, "\"stop_reason\":\"tool_use\"") && strstr(s, "event: message_stop"),
           "anthropic stream: %s", s);
    free(s);
    const char *resp = "{\"tools\": [{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"type\": "
                       "\"object\"}}], \"input\": \"Weather?\"}";
    s = call_reply(&responses_dialect, resp, 0);
    o = cJSON_Parse(s), b = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "output"), 0);
    EXPECT(o && cJSON_GetArraySize(cJSON_GetObjectItem(o, "output")) == 1 &&
               !strcmp(cJSON_GetObjectItem(b, "type")->valuestring, "function_call") &&
               !strcmp(cJSON_GetObjectItem(b, "call_id")->valuestring, "abcDEF123") &&
               !strcmp(cJSON_GetObjectItem(b, "arguments")->valuestring, "{\"city\": \"Paris\"}"),
           "responses function_call: %s", s);
    cJSON_Delete(o), free(s);
    s = call_reply(&responses_dialect, resp, 1);
    EXPECT(strstr(s, "event: response.function_call_arguments.done") && strstr(s, "event: response.completed") &&
               !strstr(s, "response.output_text.delta"),
           "responses stream: %s", s);
    free(s);
}

/* ---- Mistral's dialect: safe_prompt, prefix, FIM ------------------------------------ */

static void test_mistral(void) {
    same_prompt(&anthropic_dialect, /* any dialect with the same prompt would do: the chat path is the subject */
                "{\"max_tokens\": 5, \"system\": \"Always assist with care, respect, and truth. Respond with utmost utility "
                "yet securely. Avoid harmful, unethical, prejudiced, or negative content. Ensure replies promote fairness "
                "and positivity.\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}",
                "{\"safe_prompt\": true, \"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}",
                "safe_prompt: Mistral's system prompt first");
    same_prompt(&anthropic_dialect,
                "{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", "
                "\"content\": \"Once\"}]}",
                "{\"max_tokens\": 5, \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", "
                "\"content\": \"Once\", \"prefix\": true}]}",
                "prefix: true continues the last assistant message");
}

/* FIM ids: [BOS] [SUFFIX] encode("\u263a" + suffix)[2:] [PREFIX] encode(prompt), for every tokenizer with FIM. */
static void test_fim(void) {
    static const char *const files[] = {V3, "../shared/tokenizers/mistral/mistral_instruct_tokenizer_241114.model.v7",
                                        "../shared/tokenizers/mistral/tekken_240718.json"};
    static const char prompt[] = "def add(a, b):\n    return", suffix[] = "\n\nprint(add(1, 2))";
    for (int f = 0; f < 3; f++) {
        Tokenizer t;
        if (access(files[f], R_OK)) continue;
        EXPECT(tokenizer_load(&t, files[f]) == 0, "%s", err_msg());
        IntVec got = {0}, smiley = {0}, pre = {0};
        EXPECT(fim_encode(&t, prompt, strlen(prompt), suffix, strlen(suffix), &got) == 0, "%s: %s", files[f], err_msg());
        char s2[64] = "\xe2\x98\xba";
        strcat(s2, suffix);
        EXPECT(tokenizer_encode(&t, s2, strlen(s2), 0, &smiley) == 0 && tokenizer_encode(&t, prompt, strlen(prompt), 0, &pre) == 0,
               "encode");
        int k = 0, ok = got.n == 3 + (smiley.n - 2) + pre.n && got.v[k++] == t.bos &&
                        got.v[k++] == tokenizer_special(&t, "[SUFFIX]");
        for (int i = 2; ok && i < smiley.n; i++) ok = got.v[k++] == smiley.v[i];
        ok = ok && got.v[k++] == tokenizer_special(&t, "[PREFIX]");
        for (int i = 0; ok && i < pre.n; i++) ok = got.v[k++] == pre.v[i];
        EXPECT(ok, "%s: FIM ids", files[f]);
        /* the suffix starts without the SentencePiece dummy space; the prompt with it */
        ByteBuf text = {0};
        EXPECT(tokenizer_decode_text(&t, got.v + 2, smiley.n - 2, &text) == 0, "decode");
        bytebuf_push(&text, "", 0);
        EXPECT(!strcmp(text.p, suffix), "%s: suffix decodes to %s", files[f], text.p);
        intvec_free(&got), intvec_free(&smiley), intvec_free(&pre), bytebuf_free(&text);
        /* no suffix: nothing between the two */
        EXPECT(fim_encode(&t, prompt, strlen(prompt), "", 0, &got) == 0 && got.v[2] == tokenizer_special(&t, "[PREFIX]"),
               "empty suffix");
        intvec_free(&got);
        tokenizer_free(&t);
    }
    /* golden: prompt "def f(", suffix "return 1" ("\u263areturn 1" is 29473 31369 1575 29473 29508 in v3/v7:
     * the dummy space and the smiley dropped; 38810 1186 3004 1032 1049 in Tekken: the smiley's two byte tokens) */
    static const int golden[][9] = {{1, 13, 1575, 29473, 29508, 11, 1569, 1053, 29500},
                                    {1, 13, 1575, 29473, 29508, 11, 1569, 1053, 29500},
                                    {1, 16, 3004, 1032, 1049, 14, 3149, 1284, 1040}};
    for (int f = 0; f < 3; f++) {
        Tokenizer t;
        IntVec got = {0};
        if (access(files[f], R_OK)) continue;
        EXPECT(tokenizer_load(&t, files[f]) == 0 && fim_encode(&t, "def f(", 6, "return 1", 8, &got) == 0 && got.n == 9 &&
                   !memcmp(got.v, golden[f], sizeof golden[f]),
               "%s: golden FIM ids", files[f]);
        intvec_free(&got);
        tokenizer_free(&t);
    }
    ApiRequest q;
    ApiError e;
    const char *body = "{\"model\": \"codestral\", \"prompt\": \"def f(\", \"suffix\": \"return 1\", \"max_tokens\": 9, "
                       "\"random_seed\": 4, \"stop\": [\"\\n\\n\"], \"stream\": true}";
    EXPECT(fim_dialect.parse(&q, body, strlen(body), &cfg, &e) == 0 && q.chat && q.stream && q.p.max_new == 9 &&
               q.p.sp.seed == 4 && q.p.n_stop == 1 && q.prompt[0] == tok.bos,
           "fim request: %s", e.message);
    api_request_free(&q);
    static const char *const bad[][2] = {{"{\"suffix\": \"x\"}", "prompt"},
                                         {"{\"prompt\": \"x\", \"min_tokens\": 3}", "min_tokens"},
                                         {"{\"prompt\": \"x\", \"n\": 2}", "n"},
                                         {"{\"prompt\": \"x\", \"random_seed\": 1.5}", "random_seed"}};
    for (int i = 0; i < 4; i++)
        EXPECT(fim_dialect.parse(&q, bad[i][0], strlen(bad[i][0]), &cfg, &e) == -1 && !strcmp(e.param, bad[i][1]),
               "%s: param '%s' (%s)", bad[i][0], e.param, e.message);
}

int main(void) {
    if (access(V3, R_OK)) {
        printf("test_dialects: %s absent: skipped\n", V3);
        return test_done("test_dialects");
    }
    EXPECT(tokenizer_load(&tok, V3) == 0, "%s", err_msg());
    cfg = (ApiConfig){.tok = &tok, .chat_format = CHAT_V3, .n_ctx = 2048, .temperature = 0};
    test_anthropic();
    test_responses();
    test_calls_out();
    test_mistral();
    test_fim();
    tokenizer_free(&tok);
    return test_done("test_dialects");
}
