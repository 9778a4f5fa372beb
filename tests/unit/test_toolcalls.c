/* test_toolcalls — assistant replies read back as content and tool calls.
 *
 * Round trips through the writer: requests with assistant tool calls are
 * encoded by chat_encode, the assistant message's ids (up to its EOS) are
 * read back by toolcalls_parse, and the names, arguments and ids must be
 * the request's, for v2, v3, v7 and Tekken with the real tokenizers in
 * $MISTRAL_SHARED (default ../shared)/tokenizers/mistral. Then what a model
 * may do wrong: a reply cut anywhere, garbage, JSON of the wrong shape. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "harness.h"
#include "tok/toolcalls.h"

static const char *shared;
static Tokenizer tok_v1, tok_v3, tok_v7, tok_tek;
static int have_v1, have_v3, have_v7, have_tek;

static void add_text(const Tokenizer *t, const char *s, IntVec *out) {
    EXPECT(tokenizer_encode(t, s, strlen(s), 0, out) == 0, "%s", err_msg());
}

static void add_special(const Tokenizer *t, const char *name, IntVec *out) {
    int id = tokenizer_special(t, name);
    EXPECT(id >= 0, "no %s", name);
    intvec_push(out, id);
}

/* A reply as a model writes it: content, [TOOL_CALLS] and the text of each
 * part (NULL ends the list), EOS. */
static void make_reply(const Tokenizer *t, const char *content, const char *const *parts, IntVec *out) {
    out->n = 0;
    if (content) add_text(t, content, out);
    for (int i = 0; parts && parts[i]; i++) add_special(t, "[TOOL_CALLS]", out), add_text(t, parts[i], out);
    intvec_push(out, t->eos);
}

static char *decode_text(const Tokenizer *t, const int *ids, int n) {
    ByteBuf b = {0};
    bytebuf_push(&b, "", 0);
    EXPECT(tokenizer_decode_text(t, ids, n, &b) == 0, "%s", err_msg());
    return b.p;
}

static int id_alnum9(const char *id) {
    if (strlen(id) != 9) return 0;
    for (int i = 0; i < 9; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') || (id[i] >= '0' && id[i] <= '9')))
            return 0;
    return 1;
}

/* ---------------------------------------------------------- round trips -- */

/* The calls of the round trips: unicode, escapes, nested objects, arguments
 * given as an object and as a string, three calls. */
#define CALLS                                                                                                   \
    "[{\"id\": \"a1B2c3D4e\", \"type\": \"function\", \"function\": {\"name\": \"get_weather\", "               \
    "\"arguments\": {\"city\": \"Z\xc3\xbcrich \xf0\x9f\x8c\xa7\", \"days\": 3, \"note\": \"a \\\"b\\\"\\n\\u00e9\"}}}, " \
    "{\"id\": \"Zz9Yy8Xx7\", \"function\": {\"name\": \"book-trip_2\", \"arguments\": "                          \
    "{\"who\": {\"name\": \"\xe6\x9d\x8e\", \"tags\": [1, 2.50, {\"k\": null, \"t\": true}]}, \"e\": {}}}}, "     \
    "{\"id\": \"000000000\", \"function\": {\"name\": \"noop\", \"arguments\": \"{\\\"x\\\":1e2,\\\"y\\\":[]}\"}}]"
#define RESULTS                                                                                                 \
    "{\"role\": \"tool\", \"tool_call_id\": \"a1B2c3D4e\", \"name\": \"get_weather\", \"content\": \"rain\"}, "  \
    "{\"role\": \"tool\", \"tool_call_id\": \"Zz9Yy8Xx7\", \"name\": \"book-trip_2\", \"content\": \"ok\"}, "     \
    "{\"role\": \"tool\", \"tool_call_id\": \"000000000\", \"name\": \"noop\", \"content\": \"{}\"}"

static const char *const want_args[3] = {
    "{\"city\": \"Z\xc3\xbcrich \xf0\x9f\x8c\xa7\", \"days\": 3, \"note\": \"a \\\"b\\\"\\n\xc3\xa9\"}",
    "{\"who\": {\"name\": \"\xe6\x9d\x8e\", \"tags\": [1, 2.5, {\"k\": null, \"t\": true}]}, \"e\": {}}",
    "{\"x\": 100.0, \"y\": []}"};

/* Encodes a request [user, assistant(content, CALLS), results], takes the
 * assistant message's ids (after the last [/INST], through its EOS) and
 * reads them back. */
static void round_trip(const Tokenizer *t, int format, const char *content, const char *what) {
    char json[4096];
    snprintf(json, sizeof json,
             "{\"messages\": [{\"role\": \"user\", \"content\": \"Weather in Z\xc3\xbcrich?\"}, "
             "{\"role\": \"assistant\", \"content\": %s%s%s, \"tool_calls\": " CALLS "}, " RESULTS "]}",
             content ? "\"" : "", content ? content : "null", content ? "\"" : "");
    ChatRequest r;
    IntVec ids = {0};
    if (chat_parse(&r, json, strlen(json), what)) {
        EXPECT(0, "%s: %s", what, err_msg());
        return;
    }
    int rc = chat_encode(t, format, &r, &ids);
    EXPECT(rc == 0, "%s: %s", what, err_msg());
    int tc = toolcalls_start_id(t, format), at = -1, from = 0, eos = -1;
    for (int i = 0; i < ids.n && at < 0; i++)
        if (ids.v[i] == tc) at = i;
    for (int i = 0; i < at; i++)
        if (ids.v[i] == tokenizer_special(t, "[/INST]")) from = i + 1;
    for (int i = at; at >= 0 && i < ids.n && eos < 0; i++)
        if (ids.v[i] == t->eos) eos = i;
    EXPECT(!rc && at >= 0 && eos > at, "%s: no [TOOL_CALLS] ... EOS in the encoding", what);
    if (rc || at < 0 || eos < 0) goto done;
    ToolCalls out;
    EXPECT(toolcalls_parse(t, format, ids.v + from, eos + 1 - from, 42, &out) == 0, "%s: %s", what, err_msg());
    EXPECT(out.n_calls == 3, "%s: %d calls", what, out.n_calls);
    EXPECT(out.n_content_ids == at - from, "%s: %d content ids, want %d", what, out.n_content_ids, at - from);
    EXPECT(!strcmp(out.content, content ? content : ""), "%s: content \"%s\"", what, out.content);
    const ChatToolCall *want = r.msg[1].calls;
    for (int k = 0; k < out.n_calls && k < 3; k++) {
        const ChatToolCall *got = &out.calls[k];
        EXPECT(!strcmp(got->name, want[k].name), "%s: call %d name %s", what, k, got->name);
        EXPECT(!strcmp(got->arguments, want[k].arguments), "%s: call %d arguments %s vs %s", what, k,
               got->arguments, want[k].arguments);
        EXPECT(!strcmp(got->arguments, want_args[k]), "%s: call %d arguments %s", what, k, got->arguments);
        if (chat_format_resolve(t, format) >= CHAT_V3)
            EXPECT(!strcmp(got->id, want[k].id), "%s: call %d id %s, want %s", what, k, got->id, want[k].id);
        else /* v2 writes no ids: drawn ones */
            EXPECT(id_alnum9(got->id) && strcmp(got->id, want[k].id), "%s: call %d id %s", what, k, got->id);
    }
    /* and encoded again, the parsed calls give the very same ids */
    if (out.n_calls == 3) {
        ChatMessage m = r.msg[1];
        m.calls = out.calls;
        if (chat_format_resolve(t, format) < CHAT_V3)
            for (int k = 0; k < 3; k++) m.calls[k].id = want[k].id;
        ChatRequest r2 = r;
        ChatMessage msgs[5];
        memcpy(msgs, r.msg, sizeof msgs);
        msgs[1] = m;
        r2.msg = msgs;
        IntVec again = {0};
        EXPECT(chat_encode(t, format, &r2, &again) == 0, "%s: %s", what, err_msg());
        EXPECT(again.n == ids.n && !memcmp(again.v, ids.v, (size_t)ids.n * sizeof *ids.v),
               "%s: re-encoded calls differ", what);
        intvec_free(&again);
    }
    toolcalls_free(&out);
done:
    intvec_free(&ids);
    chat_free(&r);
}

static void test_round_trips(void) {
    if (have_v3) {
        round_trip(&tok_v3, CHAT_V2, NULL, "v2");
        round_trip(&tok_v3, CHAT_V3, NULL, "v3");
    }
    if (have_v7) {
        round_trip(&tok_v7, CHAT_V7, NULL, "v7");
        round_trip(&tok_v7, CHAT_V7, "Let me check both. \xe2\x9c\x93", "v7 with content");
    }
    if (have_tek) {
        EXPECT(chat_format_resolve(&tok_tek, CHAT_TEKKEN) == CHAT_V3, "tekken_240718 is v3");
        round_trip(&tok_tek, CHAT_TEKKEN, NULL, "tekken");
        round_trip(&tok_tek, CHAT_V7, "Sure.", "tekken as v7 with content");
    }
}

/* ------------------------------------------------- what a model may do -- */

/* Every cut of a reply before its list closes is plain content: the whole
 * text, which begins with the text before [TOOL_CALLS] (what a server may
 * have streamed). */
static void test_truncated(const Tokenizer *t, int format, const char *what) {
    static const char *const parts[] = {"[{\"name\": \"f\", \"arguments\": {\"q\": \"\xc3\xa9t\xc3\xa9\"}, "
                                        "\"id\": \"abcdefghi\"}]", NULL};
    IntVec ids = {0};
    make_reply(t, "Hi \xf0\x9f\x98\x80", parts, &ids);
    int at = toolcalls_start_id(t, format), first = 0, closed = ids.n - 1; /* the ids through "]" */
    while (ids.v[first] != at) first++;
    char *head = decode_text(t, ids.v, first);
    for (int cut = first + 1; cut <= ids.n; cut++) {
        ToolCalls out;
        EXPECT(toolcalls_parse(t, format, ids.v, cut, 1, &out) == 0, "%s", err_msg());
        if (cut < closed) {
            char *all = decode_text(t, ids.v, cut);
            EXPECTQ(out.n_calls == 0 && out.content_len == strlen(all) && !strcmp(out.content, all),
                    "%s cut at %d: %d calls, content \"%s\"", what, cut, out.n_calls, out.content);
            EXPECTQ(!strncmp(out.content, head, strlen(head)), "%s cut at %d: \"%s\" does not begin with \"%s\"",
                    what, cut, out.content, head);
            free(all);
        } else {
            EXPECTQ(out.n_calls == 1 && !strcmp(out.content, head) && !strcmp(out.calls[0].id, "abcdefghi") &&
                        !strcmp(out.calls[0].arguments, "{\"q\": \"\xc3\xa9t\xc3\xa9\"}"),
                    "%s cut at %d (complete): %d calls", what, cut, out.n_calls);
        }
        toolcalls_free(&out);
    }
    free(head);
    intvec_free(&ids);
}

/* Replies that are not a list of {"name": str, "arguments": {...}}. */
static void test_malformed(const Tokenizer *t, int format, const char *what) {
    static const char *const bad[] = {
        "Sure! I will call it now.",
        "{\"name\": \"f\", \"arguments\": {}}",
        "[{\"name\": \"f\", \"arguments\": \"{}\"}]",
        "[{\"arguments\": {}}]",
        "[{\"name\": 3, \"arguments\": {}}]",
        "[{\"name\": \"f\\u0000\", \"arguments\": {}}]",
        "[{\"name\": \"f\", \"arguments\": {}, \"id\": 5}]",
        "[{\"name\": \"f\", \"arguments\": {}, \"id\": null}]",
        "[{\"name\": \"f\", \"arguments\": {}}] and more",
        "[{\"name\": \"f\", \"arguments\": {},}]",
        "[{\"name\": \"f\", \"arguments\": {}}, 7]",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *parts[] = {bad[i], NULL};
        IntVec ids = {0};
        make_reply(t, "Hello.", parts, &ids);
        ToolCalls out;
        EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 1, &out) == 0, "%s", err_msg());
        char *all = decode_text(t, ids.v, ids.n);
        EXPECT(out.n_calls == 0 && !strcmp(out.content, all), "%s: %s: %d calls, content \"%s\"", what, bad[i],
               out.n_calls, out.content);
        EXPECT(out.n_content_ids < ids.n && toolcalls_is_start(t, format, ids.v[out.n_content_ids]),
               "%s: n_content_ids %d", what, out.n_content_ids);
        free(all);
        toolcalls_free(&out);
        intvec_free(&ids);
    }
    /* a second part that is bad spoils the first one too */
    const char *parts[] = {"[{\"name\": \"f\", \"arguments\": {}}]", "oops", NULL};
    IntVec ids = {0};
    make_reply(t, NULL, parts, &ids);
    ToolCalls out;
    EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 1, &out) == 0 && out.n_calls == 0, "%s: two parts", what);
    toolcalls_free(&out);
    intvec_free(&ids);
}

/* What is read as mistral-common reads it: parts joined, an empty list,
 * extra keys, ids kept or drawn. */
static void test_accepted(const Tokenizer *t, int format, const char *what) {
    const char *parts[] = {" [{\"name\": \"a\", \"arguments\": {}, \"id\": \"null\", \"extra\": 1}]\n",
                           "[{\"name\": \"b\", \"arguments\": {\"x\": 1, \"x\": 2}, \"id\": \"call_1\"}, "
                           "{\"id\": \"B0B0B0B0B\", \"name\": \"c\", \"arguments\": {}, \"name\": \"d\"}]",
                           "[]", NULL};
    IntVec ids = {0};
    make_reply(t, "x", parts, &ids);
    ToolCalls out, again;
    EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 7, &out) == 0, "%s", err_msg());
    EXPECT(out.n_calls == 3 && !strcmp(out.content, "x"), "%s: %d calls, content \"%s\"", what, out.n_calls,
           out.content);
    if (out.n_calls == 3) {
        EXPECT(!strcmp(out.calls[0].name, "a") && !strcmp(out.calls[1].name, "b") && !strcmp(out.calls[2].name, "d"),
               "%s: names", what);
        EXPECT(!strcmp(out.calls[1].arguments, "{\"x\": 2}"), "%s: %s", what, out.calls[1].arguments);
        EXPECT(!strcmp(out.calls[2].id, "B0B0B0B0B"), "%s: kept id %s", what, out.calls[2].id);
        for (int k = 0; k < 2; k++) /* "null" and "call_1" cannot go back to the model: drawn */
            EXPECT(id_alnum9(out.calls[k].id) && chat_call_id_ok(out.calls[k].id), "%s: id %s", what, out.calls[k].id);
        EXPECT(strcmp(out.calls[0].id, out.calls[1].id), "%s: drawn ids differ", what);
        /* the same seed, the same ids; another seed, others */
        EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 7, &again) == 0 && again.n_calls == 3, "again");
        if (again.n_calls == 3)
            EXPECT(!strcmp(again.calls[0].id, out.calls[0].id) && !strcmp(again.calls[1].id, out.calls[1].id),
                   "%s: seeded ids", what);
        toolcalls_free(&again);
        EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 8, &again) == 0 && again.n_calls == 3, "again");
        if (again.n_calls == 3) EXPECT(strcmp(again.calls[0].id, out.calls[0].id), "%s: seed 8 = seed 7", what);
        toolcalls_free(&again);
    }
    toolcalls_free(&out);
    /* no calls at all: the list is empty, the content stays */
    const char *empty[] = {"[]", NULL};
    make_reply(t, "Nothing to call.", empty, &ids);
    EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 7, &out) == 0 && out.n_calls == 0 &&
               !strcmp(out.content, "Nothing to call."), "%s: empty list: \"%s\"", what, out.content);
    toolcalls_free(&out);
    /* no [TOOL_CALLS]: all content, EOS gives nothing */
    make_reply(t, "Just text.", NULL, &ids);
    EXPECT(toolcalls_parse(t, format, ids.v, ids.n, 7, &out) == 0 && out.n_calls == 0 &&
               out.n_content_ids == ids.n && !strcmp(out.content, "Just text."), "%s: plain: \"%s\"", what,
           out.content);
    toolcalls_free(&out);
    intvec_free(&ids);
}

static void test_formats(void) {
    if (have_v1) { /* v1: no [TOOL_CALLS] in the vocabulary, nothing parsed */
        EXPECT(toolcalls_start_id(&tok_v1, CHAT_V1) == -1, "v1 start id");
        IntVec ids = {0};
        add_text(&tok_v1, "[{\"name\": \"f\", \"arguments\": {}}]", &ids);
        ToolCalls out;
        EXPECT(toolcalls_parse(&tok_v1, CHAT_V1, ids.v, ids.n, 0, &out) == 0 && out.n_calls == 0 &&
                   !strcmp(out.content, "[{\"name\": \"f\", \"arguments\": {}}]"), "v1: \"%s\"", out.content);
        toolcalls_free(&out);
        intvec_free(&ids);
    }
    if (have_v3) { /* v1 with a tokenizer that has [TOOL_CALLS]: still never parsed */
        const char *parts[] = {"[{\"name\": \"f\", \"arguments\": {}}]", NULL};
        IntVec ids = {0};
        make_reply(&tok_v3, NULL, parts, &ids);
        int tc = tokenizer_special(&tok_v3, "[TOOL_CALLS]");
        EXPECT(tc >= 0 && toolcalls_start_id(&tok_v3, CHAT_V3) == tc && toolcalls_is_start(&tok_v3, CHAT_V2, tc) &&
                   !toolcalls_is_start(&tok_v3, CHAT_V1, tc) && !toolcalls_is_start(&tok_v3, CHAT_V3, tok_v3.eos),
               "start ids");
        ToolCalls out;
        EXPECT(toolcalls_parse(&tok_v3, CHAT_V1, ids.v, ids.n, 0, &out) == 0 && out.n_calls == 0 &&
                   out.n_content_ids == ids.n, "v1 with the v3 tokenizer");
        toolcalls_free(&out);
        /* the caller's mistakes */
        EXPECT(toolcalls_parse(&tok_v3, 5, ids.v, ids.n, 0, &out) == -1 && !out.content, "format 5");
        EXPECT(toolcalls_parse(&tok_v3, CHAT_TEKKEN, ids.v, ids.n, 0, &out) == -1, "tekken with spm");
        ids.v[1] = tok_v3.n_vocab;
        EXPECT(toolcalls_parse(&tok_v3, CHAT_V3, ids.v, ids.n, 0, &out) == -1 && strstr(err_msg(), "vocabulary"),
               "%s", err_msg());
        toolcalls_free(&out);
        intvec_free(&ids);
    }
    ToolCalls zero = {0};
    toolcalls_free(&zero);
}

int main(void) {
    const char *env = getenv("MISTRAL_SHARED");
    shared = env && *env ? env : "../shared";
    char probe[512];
    struct stat st;
    snprintf(probe, sizeof probe, "%s/tokenizers/mistral", shared);
    if (stat(probe, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (set MISTRAL_SHARED to the shared folder): no tokenizer to test with\n",
                probe);
        return test_done("test_toolcalls");
    }
    have_v1 = test_load_tokenizer(&tok_v1, shared, "tokenizer.model.v1");
    have_v3 = test_load_tokenizer(&tok_v3, shared, "mistral_instruct_tokenizer_240323.model.v3");
    have_v7 = test_load_tokenizer(&tok_v7, shared, "mistral_instruct_tokenizer_241114.model.v7");
    have_tek = test_load_tokenizer(&tok_tek, shared, "tekken_240718.json");
    test_formats();
    test_round_trips();
    const struct { Tokenizer *t; int have, format; const char *what; } cases[] = {
        {&tok_v3, have_v3, CHAT_V2, "v2"}, {&tok_v3, have_v3, CHAT_V3, "v3"},
        {&tok_v7, have_v7, CHAT_V7, "v7"}, {&tok_tek, have_tek, CHAT_TEKKEN, "tekken"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!cases[i].have) continue;
        test_truncated(cases[i].t, cases[i].format, cases[i].what);
        test_malformed(cases[i].t, cases[i].format, cases[i].what);
        test_accepted(cases[i].t, cases[i].format, cases[i].what);
    }
    if (have_v1) tokenizer_free(&tok_v1);
    if (have_v3) tokenizer_free(&tok_v3);
    if (have_v7) tokenizer_free(&tok_v7);
    if (have_tek) tokenizer_free(&tok_tek);
    return test_done("test_toolcalls");
}
