/* anthropic — Anthropic's Messages API over the engine (anthropic.h). */
#include "server/anthropic.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

static const char *const fields[] = {"model", "messages", "system", "max_tokens", "metadata", "stop_sequences",
                                     "stream", "temperature", "top_k", "top_p", "tools", "tool_choice", "thinking",
                                     NULL};
static const char *const count_fields[] = {"model", "messages", "system", "tools", "tool_choice", "thinking", NULL};
/* api_parse's names for the fields it checks, as Anthropic names them */
static const char *const renames[][2] = {{"stop", "stop_sequences"}, {"parallel_tool_calls", "tool_choice"}, {NULL, NULL}};

static const char *const text_types[] = {"text", NULL};
static const char *const text_extra[] = {"cache_control", "citations", NULL};

/* ---- requests ------------------------------------------------------------------ */

/* A tool_result's content: a string, text blocks, or nothing. */
static int tool_result(ByteBuf *b, const Json *blk, const char *where, ApiError *e) {
    static const char *const keys[] = {"type", "tool_use_id", "content", "is_error", "cache_control", NULL};
    if (api_only_fields(blk, where, keys, e)) return -1;
    const Json *content = json_get(blk, "content"), *err = json_get(blk, "is_error");
    if (!json_is_null(err) && err->type != JSON_TRUE && err->type != JSON_FALSE)
        return api_error(e, 400, where, "'%s.is_error' must be true or false", where);
    jw_open(b, NULL, '{');
    jw_str(b, "role", "tool", 4);
    if (!dialect_call_id(b, "tool_call_id", json_get(blk, "tool_use_id")))
        return api_error(e, 400, where, "'%s.tool_use_id' must be a string", where);
    jw_key(b, "content");
    if (json_is_null(content)) json_dump_str(b, "", 0, 0);
    else if (dialect_content(b, content, text_types, text_extra, where, e)) return -1;
    jw_close(b, '}');
    return 0;
}

static int tool_use(ByteBuf *b, const Json *blk, const char *where, ApiError *e) {
    static const char *const keys[] = {"type", "id", "name", "input", "cache_control", NULL};
    if (api_only_fields(blk, where, keys, e)) return -1;
    const Json *name = json_get(blk, "name"), *input = json_get(blk, "input");
    if (!name || name->type != JSON_STR) return api_error(e, 400, where, "'%s.name' must be a string", where);
    if (!input || input->type != JSON_OBJ) return api_error(e, 400, where, "'%s.input' must be an object", where);
    ByteBuf args = {0};
    json_dump(&args, input, 0);
    jw_open(b, NULL, '{');
    if (!dialect_call_id(b, "id", json_get(blk, "id"))) {
        bytebuf_free(&args);
        return api_error(e, 400, where, "'%s.id' must be a string", where);
    }
    jw_str(b, "type", "function", 8);
    jw_open(b, "function", '{');
    jw_str(b, "name", name->s, name->len);
    jw_str(b, "arguments", args.p, args.n);
    jw_close(b, '}'), jw_close(b, '}');
    bytebuf_free(&args);
    return 0;
}

/* One Anthropic message as OpenAI messages: a user's tool_result blocks
 * become tool messages (first, as Anthropic orders them), its text one user
 * message; an assistant's text is its content, its tool_use blocks its
 * tool_calls. last: the final message (an assistant's is continued). */
static int message(ByteBuf *b, const Json *m, int i, int last, ApiError *e) {
    static const char *const keys[] = {"role", "content", NULL};
    char where[64];
    snprintf(where, sizeof where, "messages[%d]", i);
    if (!m || m->type != JSON_OBJ) return api_error(e, 400, "messages", "'%s' must be an object", where);
    if (api_only_fields(m, where, keys, e)) return -1;
    const Json *role = json_get(m, "role"), *content = json_get(m, "content");
    int user = dialect_is(role, "user");
    if (!user && !dialect_is(role, "assistant"))
        return api_error(e, 400, "messages", "'%s.role' must be \"user\" or \"assistant\"", where);
    if (content && content->type == JSON_STR) {
        jw_open(b, NULL, '{');
        jw_str(b, "role", user ? "user" : "assistant", user ? 4 : 9);
        jw_json(b, "content", content);
        if (last && !user) jw_key(b, "prefix"), bytebuf_push(b, "true", 4);
        jw_close(b, '}');
        return 0;
    }
    if (!content || content->type != JSON_ARR)
        return api_error(e, 400, "messages", "'%s.content' must be a string or a list of content blocks", where);
    ByteBuf text = {0}, calls = {0}; /* the text blocks, as a list; the calls */
    int n_text = 0, rc = 0;
    jw_open(&text, NULL, '['), jw_open(&calls, NULL, '[');
    for (int k = 0; k < content->n && !rc; k++) {
        const Json *blk = &content->item[k], *type = json_get(blk, "type");
        char bw[96];
        snprintf(bw, sizeof bw, "%s.content[%d]", where, k);
        if (dialect_is(type, "text")) {
            rc = dialect_text_block(&text, blk, text_types, text_extra, bw, e);
            n_text++;
        } else if (user && dialect_is(type, "tool_result")) {
            rc = tool_result(b, blk, bw, e);
        } else if (!user && dialect_is(type, "tool_use")) {
            rc = tool_use(&calls, blk, bw, e);
        } else if (type && type->type == JSON_STR) {
            rc = api_error(e, 400, "messages", "'%s': content blocks of type \"%.40s\" are not supported%s", bw, type->s,
                           dialect_is(type, "tool_use") || dialect_is(type, "tool_result") ? " in this role" : "");
        } else {
            rc = api_error(e, 400, "messages", "'%s' must be a content block with a \"type\"", bw);
        }
    }
    jw_close(&text, ']'), jw_close(&calls, ']');
    int has_calls = calls.n > 2;
    if (!rc && (n_text || has_calls || !content->n)) {
        jw_open(b, NULL, '{');
        jw_str(b, "role", user ? "user" : "assistant", user ? 4 : 9);
        jw_key(b, "content");
        if (n_text) bytebuf_push(b, text.p, text.n);
        else bytebuf_push(b, has_calls ? "null" : "\"\"", has_calls ? 4 : 2);
        if (has_calls) jw_key(b, "tool_calls"), bytebuf_push(b, calls.p, calls.n);
        if (last && !user) jw_key(b, "prefix"), bytebuf_push(b, "true", 4);
        jw_close(b, '}');
    }
    bytebuf_free(&text), bytebuf_free(&calls);
    return rc;
}

static int tools(ByteBuf *b, const Json *v, ApiError *e) {
    static const char *const keys[] = {"name", "description", "input_schema", "cache_control", "type", NULL};
    if (v->type != JSON_ARR) return api_error(e, 400, "tools", "'tools' must be a list");
    jw_open(b, "tools", '[');
    for (int i = 0; i < v->n; i++) {
        const Json *t = &v->item[i], *type = json_get(t, "type"), *name = json_get(t, "name");
        const Json *desc = json_get(t, "description"), *schema = json_get(t, "input_schema");
        char where[32];
        snprintf(where, sizeof where, "tools[%d]", i);
        if (t->type != JSON_OBJ) return api_error(e, 400, "tools", "'%s' must be an object", where);
        if (!json_is_null(type) && !dialect_is(type, "custom"))
            return api_error(e, 400, "tools", "'%s.type' \"%.40s\": only custom tools (with an input_schema) are supported",
                             where, type->type == JSON_STR ? type->s : "?");
        if (api_only_fields(t, where, keys, e)) return -1;
        if (!name || name->type != JSON_STR) return api_error(e, 400, "tools", "'%s.name' must be a string", where);
        if (!schema || schema->type != JSON_OBJ)
            return api_error(e, 400, "tools", "'%s.input_schema' must be a JSON Schema object", where);
        if (!json_is_null(desc) && desc->type != JSON_STR)
            return api_error(e, 400, "tools", "'%s.description' must be a string", where);
        jw_open(b, NULL, '{');
        jw_str(b, "type", "function", 8);
        jw_open(b, "function", '{');
        jw_json(b, "name", name);
        if (!json_is_null(desc)) jw_json(b, "description", desc);
        jw_json(b, "parameters", schema);
        jw_close(b, '}'), jw_close(b, '}');
    }
    jw_close(b, ']');
    return 0;
}

static int tool_choice(ByteBuf *b, const Json *v, ApiError *e) {
    static const char *const keys[] = {"type", "name", "disable_parallel_tool_use", NULL};
    if (v->type != JSON_OBJ) return api_error(e, 400, "tool_choice", "'tool_choice' must be an object with a \"type\"");
    if (api_only_fields(v, "tool_choice", keys, e)) return -1;
    const Json *type = json_get(v, "type"), *name = json_get(v, "name"), *dp = json_get(v, "disable_parallel_tool_use");
    if (dialect_is(type, "tool")) {
        if (!name || name->type != JSON_STR)
            return api_error(e, 400, "tool_choice", "'tool_choice' of type \"tool\" needs a 'name'");
        jw_open(b, "tool_choice", '{');
        jw_str(b, "type", "function", 8);
        jw_open(b, "function", '{');
        jw_json(b, "name", name);
        jw_close(b, '}'), jw_close(b, '}');
    } else {
        static const char *const from[] = {"auto", "any", "none"}, *const to[] = {"auto", "required", "none"};
        int k = 0;
        while (k < 3 && !dialect_is(type, from[k])) k++;
        if (k == 3)
            return api_error(e, 400, "tool_choice", "'tool_choice.type' must be \"auto\", \"any\", \"tool\" or \"none\"");
        if (!json_is_null(name)) return api_error(e, 400, "tool_choice", "'tool_choice.name' goes with type \"tool\" only");
        jw_str(b, "tool_choice", to[k], strlen(to[k]));
    }
    if (!json_is_null(dp)) {
        if (dp->type != JSON_TRUE && dp->type != JSON_FALSE)
            return api_error(e, 400, "tool_choice", "'tool_choice.disable_parallel_tool_use' must be true or false");
        jw_key(b, "parallel_tool_calls");
        bytebuf_push(b, dp->type == JSON_TRUE ? "false" : "true", dp->type == JSON_TRUE ? 5 : 4);
    }
    return 0;
}

/* Fields api_parse checks as they are, once Anthropic's own rules hold. */
static int sampling(ByteBuf *b, const Json *root, int count, ApiError *e) {
    const Json *v = json_get(root, "max_tokens");
    if (!count) {
        if (json_is_null(v)) return api_error(e, 400, "max_tokens", "'max_tokens' is required");
        jw_json(b, "max_tokens", v);
    }
    v = json_get(root, "temperature");
    if (!json_is_null(v)) {
        if ((v->type == JSON_INT || v->type == JSON_FLOAT) && (v->type == JSON_INT ? strtod(v->s, NULL) : v->num) > 1)
            return api_error(e, 400, "temperature", "'temperature' must be between 0 and 1");
        jw_json(b, "temperature", v);
    }
    static const char *const same[][2] = {{"top_p", "top_p"}, {"top_k", "top_k"}, {"stream", "stream"}, {NULL, NULL}};
    if (!count) dialect_copy(b, root, same);
    v = json_get(root, "stop_sequences");
    if (!json_is_null(v)) {
        if (v->type != JSON_ARR) return api_error(e, 400, "stop_sequences", "'stop_sequences' must be a list of strings");
        if (v->n > ENGINE_MAX_STOPS)
            return api_error(e, 400, "stop_sequences", "'stop_sequences' may hold at most %d strings here", ENGINE_MAX_STOPS);
        jw_json(b, "stop", v);
    }
    v = json_get(root, "metadata"); /* {"user_id": ...}: for Anthropic's abuse detection; nothing here */
    if (!json_is_null(v) && (v->type != JSON_OBJ || api_only_fields(v, "metadata", (const char *const[]){"user_id", NULL}, e)))
        return e->status ? -1 : api_error(e, 400, "metadata", "'metadata' must be an object");
    v = json_get(root, "thinking");
    if (!json_is_null(v) && !dialect_is(json_get(v, "type"), "disabled"))
        return api_error(e, 400, "thinking", "'thinking' is not supported (only {\"type\": \"disabled\"})");
    return 0;
}

/* The request rewritten as an OpenAI chat request into b. */
static int translate(ByteBuf *b, const char *body, size_t len, int count, ApiError *e) {
    Arena a = {0};
    Json root;
    int rc = -1;
    if (dialect_read(&root, &a, body, len, count ? count_fields : fields, e)) goto done;
    const Json *msgs = json_get(&root, "messages"), *sys = json_get(&root, "system"), *v;
    if (!msgs || msgs->type != JSON_ARR || !msgs->n) {
        api_error(e, 400, "messages", "'messages' must be a non-empty list");
        goto done;
    }
    jw_open(b, NULL, '{');
    jw_open(b, "messages", '[');
    if (!json_is_null(sys)) {
        jw_open(b, NULL, '{');
        jw_str(b, "role", "system", 6);
        jw_key(b, "content");
        if (dialect_content(b, sys, text_types, text_extra, "system", e)) goto done;
        jw_close(b, '}');
    }
    for (int i = 0; i < msgs->n; i++)
        if (message(b, &msgs->item[i], i, i == msgs->n - 1, e)) goto done;
    jw_close(b, ']');
    if (!json_is_null(v = json_get(&root, "tools")) && tools(b, v, e)) goto done;
    if (!json_is_null(v = json_get(&root, "tool_choice")) && tool_choice(b, v, e)) goto done;
    if (sampling(b, &root, count, e)) goto done;
    jw_close(b, '}');
    bytebuf_push(b, "", 0);
    rc = 0;
done:
    arena_free(&a);
    return rc;
}

static int parse(ApiRequest *q, const char *body, size_t len, const ApiConfig *cfg, ApiError *e) {
    ByteBuf b = {0};
    memset(q, 0, sizeof *q);
    memset(e, 0, sizeof *e);
    int rc = translate(&b, body, len, 0, e);
    if (!rc) rc = dialect_parse(q, 1, &b, cfg, API_PARSE_CLAMP, renames, e);
    bytebuf_free(&b);
    return rc;
}

int anthropic_count_tokens(const char *body, size_t len, const ApiConfig *cfg, int *n, ApiError *e) {
    ByteBuf b = {0};
    ApiRequest q;
    memset(e, 0, sizeof *e);
    int rc = translate(&b, body, len, 1, e);
    if (!rc) rc = dialect_parse(&q, 1, &b, cfg, API_PARSE_COUNT, renames, e);
    bytebuf_free(&b);
    if (rc) return -1;
    *n = q.n_prompt;
    api_request_free(&q);
    return 0;
}

/* ---- responses ------------------------------------------------------------------- */

static const char *stop_reason(const ApiResponse *r, const ApiChoice *c, const char **seq) {
    *seq = NULL;
    if (c->has_calls && c->calls.n_calls) return "tool_use";
    if (c->finish == FINISH_LENGTH)
        return r->q->max_asked > r->q->p.max_new ? "model_context_window_exceeded" : "max_tokens";
    if ((*seq = dialect_stop_text(r, c))) return "stop_sequence";
    return "end_turn";
}

static cJSON *usage(const ApiResponse *r, int start) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "input_tokens", r->q->n_prompt);
    cJSON_AddNumberToObject(u, "cache_creation_input_tokens", 0);
    cJSON_AddNumberToObject(u, "cache_read_input_tokens", 0);
    cJSON_AddNumberToObject(u, "output_tokens", start ? 0 : r->ch[0].n_ids);
    return u;
}

static cJSON *text_block(const char *text, size_t n) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "text");
    cJSON_AddItemToObject(o, "text", api_json_text(text, n));
    return o;
}

static cJSON *tool_block(const ChatToolCall *call, int empty) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "tool_use");
    cJSON_AddStringToObject(o, "id", call->id);
    cJSON_AddStringToObject(o, "name", call->name);
    cJSON_AddItemToObject(o, "input", empty ? cJSON_CreateObject() : cJSON_CreateRaw(call->arguments));
    return o;
}

static cJSON *event(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

static cJSON *block_event(const char *type, int index) {
    cJSON *o = event(type);
    cJSON_AddNumberToObject(o, "index", index);
    return o;
}

/* The message; streaming's message_start holds it empty. */
static cJSON *message_json(const ApiResponse *r, int start) {
    const ApiChoice *c = &r->ch[0];
    cJSON *o = cJSON_CreateObject(), *content;
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "type", "message");
    cJSON_AddStringToObject(o, "role", "assistant");
    cJSON_AddStringToObject(o, "model", r->model);
    content = cJSON_AddArrayToObject(o, "content");
    const char *seq = NULL;
    if (start) {
        cJSON_AddNullToObject(o, "stop_reason");
    } else {
        const char *text;
        size_t n;
        dialect_content_of(c, &text, &n);
        if (n) cJSON_AddItemToArray(content, text_block(text, n));
        for (int i = 0; c->has_calls && i < c->calls.n_calls; i++)
            cJSON_AddItemToArray(content, tool_block(&c->calls.calls[i], 0));
        cJSON_AddStringToObject(o, "stop_reason", stop_reason(r, c, &seq));
    }
    if (seq) cJSON_AddStringToObject(o, "stop_sequence", seq);
    else cJSON_AddNullToObject(o, "stop_sequence");
    cJSON_AddItemToObject(o, "usage", usage(r, start));
    return o;
}

/* choice.started bits, streaming: the message started; the text block (index 0) is open */
enum { STARTED = 1, TEXT_OPEN = 2 };

static void text_delta(ByteBuf *out, ApiChoice *c, const char *text, size_t n) {
    if (!n) return;
    if (!(c->started & TEXT_OPEN)) {
        cJSON *o = block_event("content_block_start", 0);
        cJSON_AddItemToObject(o, "content_block", text_block("", 0));
        dialect_sse(out, "content_block_start", o);
        c->started |= TEXT_OPEN;
    }
    cJSON *o = block_event("content_block_delta", 0), *d = cJSON_AddObjectToObject(o, "delta");
    cJSON_AddStringToObject(d, "type", "text_delta");
    cJSON_AddItemToObject(d, "text", api_json_text(text, n));
    dialect_sse(out, "content_block_delta", o);
}

/* A stream's end: the rest of the text, the tool_use blocks, message_delta and message_stop. */
static void stream_end(ApiResponse *r, ApiChoice *c, size_t streamed, ByteBuf *out) {
    if (c->finish == FINISH_CANCELLED || c->finish == FINISH_ERROR) {
        cJSON *o = event("error"), *err = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(err, "type", c->finish == FINISH_CANCELLED ? "overloaded_error" : "api_error");
        cJSON_AddStringToObject(err, "message", c->finish == FINISH_CANCELLED ? "the server is shutting down"
                                                                              : "the reply failed (out of memory)");
        dialect_sse(out, "error", o);
        return;
    }
    const char *text, *seq;
    size_t n;
    dialect_content_of(c, &text, &n);
    if (n > streamed) text_delta(out, c, text + streamed, n - streamed);
    int index = 0;
    if (c->started & TEXT_OPEN) dialect_sse(out, "content_block_stop", block_event("content_block_stop", index++));
    for (int i = 0; c->has_calls && i < c->calls.n_calls; i++, index++) {
        const ChatToolCall *call = &c->calls.calls[i];
        cJSON *o = block_event("content_block_start", index), *d;
        cJSON_AddItemToObject(o, "content_block", tool_block(call, 1));
        dialect_sse(out, "content_block_start", o);
        o = block_event("content_block_delta", index), d = cJSON_AddObjectToObject(o, "delta");
        cJSON_AddStringToObject(d, "type", "input_json_delta");
        cJSON_AddStringToObject(d, "partial_json", call->arguments);
        dialect_sse(out, "content_block_delta", o);
        dialect_sse(out, "content_block_stop", block_event("content_block_stop", index));
    }
    cJSON *o = event("message_delta"), *d = cJSON_AddObjectToObject(o, "delta");
    cJSON_AddStringToObject(d, "stop_reason", stop_reason(r, c, &seq));
    if (seq) cJSON_AddStringToObject(d, "stop_sequence", seq);
    else cJSON_AddNullToObject(d, "stop_sequence");
    cJSON_AddItemToObject(o, "usage", usage(r, 0));
    dialect_sse(out, "message_delta", o);
    dialect_sse(out, "message_stop", event("message_stop"));
}

static void on_event(ApiResponse *r, const EngineEvent *ev, int sse, ByteBuf *out) {
    ApiChoice *c = &r->ch[ev->choice];
    size_t streamed = c->text.n; /* the text is kept (not streamed by api_response_event) */
    api_response_event(r, ev, 0, NULL);
    if (!sse) return;
    if (!(c->started & STARTED)) {
        cJSON *o = event("message_start");
        cJSON_AddItemToObject(o, "message", message_json(r, 1));
        dialect_sse(out, "message_start", o);
        dialect_sse(out, "ping", event("ping"));
        c->started |= STARTED;
    }
    if (ev->finish == FINISH_NONE) text_delta(out, c, ev->text, ev->len);
    else stream_end(r, c, streamed, out);
}

static void finish(ApiResponse *r, int sse, ByteBuf *out) {
    if (sse) return; /* message_stop went out with the last event */
    cJSON *o = message_json(r, 0);
    char *s = cJSON_PrintUnformatted(o);
    bytebuf_push(out, s, strlen(s));
    free(s);
    cJSON_Delete(o);
}

static char *error_json(const ApiError *e) {
    const char *type = e->status == 401   ? "authentication_error"
                       : e->status == 403 ? "permission_error"
                       : e->status == 404 ? "not_found_error"
                       : e->status == 413 ? "request_too_large"
                       : e->status == 429 ? "rate_limit_error"
                       : e->status == 503 ? "overloaded_error"
                       : e->status >= 500 ? "api_error"
                                          : "invalid_request_error";
    cJSON *o = event("error"), *err = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(err, "type", type);
    cJSON_AddStringToObject(err, "message", e->message);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

const ApiDialect anthropic_dialect = {.parse = parse, .event = on_event, .finish = finish, .error_json = error_json,
                                      .id_prefix = "msg_"};
