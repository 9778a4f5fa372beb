/* responses — OpenAI's Responses API over the engine (responses.h). */
#include "server/responses.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"

static const char *const fields[] = {"model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls",
                                     "max_output_tokens", "temperature", "top_p", "stream", "text",
                                     "previous_response_id", "store", "metadata", "user", "truncation", "include",
                                     "reasoning", NULL};
static const char *const renames[][2] = {{"max_tokens", "max_output_tokens"}, {"messages", "input"},
                                         {"response_format", "text"}, {NULL, NULL}};

/* ---- the store ------------------------------------------------------------------ */

typedef struct {
    char id[64];
    time_t at;
    char *conv; /* owns: the conversation, a JSON list of OpenAI chat messages */
    size_t size;
} Stored;

struct ResponseStore {
    pthread_mutex_t mu;
    Stored item[RESPONSES_KEEP]; /* oldest first */
    int n;
    size_t bytes;
};

ResponseStore *responses_store_new(void) {
    ResponseStore *st = xcalloc(1, sizeof *st);
    pthread_mutex_init(&st->mu, NULL);
    return st;
}

void responses_store_free(ResponseStore *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->item[i].conv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Forgets the oldest (under the lock). */
static void drop_oldest(ResponseStore *st) {
    st->bytes -= st->item[0].size;
    free(st->item[0].conv);
    memmove(st->item, st->item + 1, (size_t)--st->n * sizeof *st->item);
}

static void expire(ResponseStore *st, time_t now) {
    while (st->n && now - st->item[0].at > RESPONSES_TTL_S) drop_oldest(st);
}

/* Takes conv over. */
static void store_put(ResponseStore *st, const char *id, char *conv) {
    size_t size = strlen(conv);
    if (size > RESPONSES_KEEP_BYTES) {
        free(conv);
        return;
    }
    pthread_mutex_lock(&st->mu);
    time_t now = time(NULL);
    expire(st, now);
    while (st->n && (st->n == RESPONSES_KEEP || st->bytes + size > RESPONSES_KEEP_BYTES)) drop_oldest(st);
    Stored *s = &st->item[st->n++];
    snprintf(s->id, sizeof s->id, "%s", id);
    s->at = now, s->conv = conv, s->size = size;
    st->bytes += size;
    pthread_mutex_unlock(&st->mu);
}

/* A copy of the conversation stored as id, or NULL. */
static char *store_get(ResponseStore *st, const char *id, size_t len) {
    char *conv = NULL;
    pthread_mutex_lock(&st->mu);
    expire(st, time(NULL));
    for (int i = 0; i < st->n && !conv; i++)
        if (strlen(st->item[i].id) == len && !memcmp(st->item[i].id, id, len)) conv = xstrdup(st->item[i].conv);
    pthread_mutex_unlock(&st->mu);
    return conv;
}

/* ---- requests ------------------------------------------------------------------ */

/* An assistant turn not written yet: function_call items join the message before them. */
typedef struct {
    ByteBuf content; /* a content value, or empty */
    ByteBuf calls;   /* the tool_calls list's items */
} Pending;

static void flush(ByteBuf *b, Pending *p) {
    if (!p->content.n && !p->calls.n) return;
    jw_open(b, NULL, '{');
    jw_str(b, "role", "assistant", 9);
    jw_key(b, "content");
    if (p->content.n) bytebuf_push(b, p->content.p, p->content.n);
    else bytebuf_push(b, "null", 4);
    if (p->calls.n) {
        jw_open(b, "tool_calls", '[');
        bytebuf_push(b, p->calls.p, p->calls.n);
        jw_close(b, ']');
    }
    jw_close(b, '}');
    p->content.n = p->calls.n = 0;
}

static int message_item(ByteBuf *b, Pending *p, const Json *it, const char *where, ApiError *e) {
    static const char *const keys[] = {"type", "role", "content", "id", "status", NULL};
    static const char *const in_types[] = {"input_text", NULL}, *const out_types[] = {"output_text", NULL};
    static const char *const out_extra[] = {"annotations", "logprobs", NULL};
    if (api_only_fields(it, where, keys, e)) return -1;
    const Json *role = json_get(it, "role"), *content = json_get(it, "content");
    int assistant = dialect_is(role, "assistant");
    const char *r = assistant ? "assistant" : dialect_is(role, "user") ? "user"
                                          : dialect_is(role, "system") || dialect_is(role, "developer") ? "system"
                                                                                        : NULL;
    if (!r)
        return api_error(e, 400, "input", "'%s.role' must be \"user\", \"assistant\", \"system\" or \"developer\"", where);
    char w[96];
    snprintf(w, sizeof w, "%s.content", where);
    flush(b, p);
    if (assistant) return dialect_content(&p->content, content, out_types, out_extra, w, e);
    jw_open(b, NULL, '{');
    jw_str(b, "role", r, strlen(r));
    jw_key(b, "content");
    if (dialect_content(b, content, in_types, NULL, w, e)) return -1;
    jw_close(b, '}');
    return 0;
}

static int call_item(ByteBuf *b, Pending *p, const Json *it, int output, const char *where, ApiError *e) {
    static const char *const call_keys[] = {"type", "call_id", "name", "arguments", "id", "status", NULL};
    static const char *const out_keys[] = {"type", "call_id", "output", "id", "status", NULL};
    if (api_only_fields(it, where, output ? out_keys : call_keys, e)) return -1;
    const Json *name = json_get(it, "name"), *args = json_get(it, "arguments"), *out = json_get(it, "output");
    if (output) {
        flush(b, p);
        if (!out || out->type != JSON_STR) return api_error(e, 400, "input", "'%s.output' must be a string", where);
        jw_open(b, NULL, '{');
        jw_str(b, "role", "tool", 4);
        if (!dialect_call_id(b, "tool_call_id", json_get(it, "call_id")))
            return api_error(e, 400, "input", "'%s.call_id' must be a string", where);
        jw_str(b, "content", out->s, out->len);
        jw_close(b, '}');
        return 0;
    }
    if (!name || name->type != JSON_STR) return api_error(e, 400, "input", "'%s.name' must be a string", where);
    if (!args || args->type != JSON_STR) return api_error(e, 400, "input", "'%s.arguments' must be a string", where);
    ByteBuf *c = &p->calls;
    jw_open(c, NULL, '{');
    if (!dialect_call_id(c, "id", json_get(it, "call_id")))
        return api_error(e, 400, "input", "'%s.call_id' must be a string", where);
    jw_str(c, "type", "function", 8);
    jw_open(c, "function", '{');
    jw_str(c, "name", name->s, name->len);
    jw_str(c, "arguments", args->s, args->len);
    jw_close(c, '}'), jw_close(c, '}');
    return 0;
}

/* The input as OpenAI chat messages (list items, no brackets) appended to conv. */
static int input(ByteBuf *conv, const Json *v, ApiError *e) {
    if (v && v->type == JSON_STR) {
        jw_open(conv, NULL, '{');
        jw_str(conv, "role", "user", 4);
        jw_str(conv, "content", v->s, v->len);
        jw_close(conv, '}');
        return 0;
    }
    if (!v || v->type != JSON_ARR) return api_error(e, 400, "input", "'input' must be a string or a list of items");
    Pending p = {0};
    int rc = 0;
    for (int i = 0; i < v->n && !rc; i++) {
        const Json *it = &v->item[i], *type = json_get(it, "type");
        char where[32];
        snprintf(where, sizeof where, "input[%d]", i);
        if (it->type != JSON_OBJ) rc = api_error(e, 400, "input", "'%s' must be an object", where);
        else if (json_is_null(type) || dialect_is(type, "message")) rc = message_item(conv, &p, it, where, e);
        else if (dialect_is(type, "function_call")) rc = call_item(conv, &p, it, 0, where, e);
        else if (dialect_is(type, "function_call_output")) rc = call_item(conv, &p, it, 1, where, e);
        else if (type->type == JSON_STR)
            rc = api_error(e, 400, "input", "'%s': items of type \"%.40s\" are not supported", where, type->s);
        else rc = api_error(e, 400, "input", "'%s.type' must be a string", where);
    }
    if (!rc) flush(conv, &p);
    bytebuf_free(&p.content), bytebuf_free(&p.calls);
    return rc;
}

static int tools(ByteBuf *b, const Json *v, ApiError *e) {
    static const char *const keys[] = {"type", "name", "description", "parameters", "strict", NULL};
    if (v->type != JSON_ARR) return api_error(e, 400, "tools", "'tools' must be a list");
    jw_open(b, "tools", '[');
    for (int i = 0; i < v->n; i++) {
        const Json *t = &v->item[i], *type = json_get(t, "type");
        char where[32];
        snprintf(where, sizeof where, "tools[%d]", i);
        if (!dialect_is(type, "function"))
            return api_error(e, 400, "tools", "'%s.type' %s%.40s%s: only function tools are supported", where,
                             type && type->type == JSON_STR ? "\"" : "", type && type->type == JSON_STR ? type->s : "",
                             type && type->type == JSON_STR ? "\"" : "(missing)");
        if (api_only_fields(t, where, keys, e)) return -1;
        jw_open(b, NULL, '{');
        jw_str(b, "type", "function", 8);
        jw_open(b, "function", '{');
        for (int k = 1; keys[k]; k++) /* the same fields, one level down */
            if (json_get(t, keys[k])) jw_json(b, keys[k], json_get(t, keys[k]));
        jw_close(b, '}'), jw_close(b, '}');
    }
    jw_close(b, ']');
    return 0;
}

static int tool_choice(ByteBuf *b, const Json *v, ApiError *e) {
    if (v->type == JSON_STR) {
        jw_json(b, "tool_choice", v);
        return 0;
    }
    const Json *name = json_get(v, "name");
    if (v->type != JSON_OBJ || !dialect_is(json_get(v, "type"), "function") || !name || name->type != JSON_STR)
        return api_error(e, 400, "tool_choice",
                         "'tool_choice' must be \"auto\", \"none\", \"required\" or {\"type\": \"function\", \"name\": ...}");
    if (api_only_fields(v, "tool_choice", (const char *const[]){"type", "name", NULL}, e)) return -1;
    jw_open(b, "tool_choice", '{');
    jw_str(b, "type", "function", 8);
    jw_open(b, "function", '{');
    jw_json(b, "name", name);
    jw_close(b, '}'), jw_close(b, '}');
    return 0;
}

/* text.format as chat's response_format. */
static int text_format(ByteBuf *b, const Json *v, ApiError *e) {
    static const char *const schema_keys[] = {"type", "name", "schema", "strict", "description", NULL};
    if (v->type != JSON_OBJ || api_only_fields(v, "text", (const char *const[]){"format", NULL}, e))
        return e->status ? -1 : api_error(e, 400, "text", "'text' must be an object");
    const Json *f = json_get(v, "format");
    if (json_is_null(f)) return 0;
    if (f->type != JSON_OBJ) return api_error(e, 400, "text", "'text.format' must be an object");
    const Json *type = json_get(f, "type");
    jw_open(b, "response_format", '{');
    if (dialect_is(type, "json_schema")) {
        if (api_only_fields(f, "text.format", schema_keys, e)) return -1;
        jw_str(b, "type", "json_schema", 11);
        jw_open(b, "json_schema", '{');
        for (int k = 1; schema_keys[k]; k++)
            if (json_get(f, schema_keys[k])) jw_json(b, schema_keys[k], json_get(f, schema_keys[k]));
        jw_close(b, '}');
    } else {
        if (api_only_fields(f, "text.format", (const char *const[]){"type", NULL}, e)) return -1;
        if (!json_is_null(type)) jw_json(b, "type", type);
    }
    jw_close(b, '}');
    return 0;
}

/* Fields taken only at the setting that asks for nothing. */
static int neutral(const Json *root, ApiError *e) {
    const Json *v = json_get(root, "truncation");
    if (!json_is_null(v) && !dialect_is(v, "disabled"))
        return api_error(e, 400, "truncation", "'truncation' is not supported (only \"disabled\")");
    v = json_get(root, "include");
    if (!json_is_null(v) && !(v->type == JSON_ARR && !v->n))
        return api_error(e, 400, "include", "'include' is not supported (only [])");
    if (!json_is_null(json_get(root, "reasoning")))
        return api_error(e, 400, "reasoning", "'reasoning' is not supported: this model does not reason");
    v = json_get(root, "metadata");
    if (!json_is_null(v) && v->type != JSON_OBJ) return api_error(e, 400, "metadata", "'metadata' must be an object");
    v = json_get(root, "user");
    if (!json_is_null(v) && v->type != JSON_STR) return api_error(e, 400, "user", "'user' must be a string");
    v = json_get(root, "store");
    if (!json_is_null(v) && v->type != JSON_TRUE && v->type != JSON_FALSE)
        return api_error(e, 400, "store", "'store' must be true or false");
    return 0;
}

static cJSON *to_cjson(const Json *v) {
    ByteBuf b = {0};
    json_dump(&b, v, 0);
    cJSON *o = cJSON_ParseWithLength(b.p, b.n);
    bytebuf_free(&b);
    return o ? o : cJSON_CreateNull();
}

/* What the response repeats of the request, its defaults filled in. */
static cJSON *echo(const Json *root, const ApiRequest *q) {
    cJSON *o = cJSON_CreateObject();
    static const char *const keys[] = {"instructions", "max_output_tokens", "metadata", "parallel_tool_calls",
                                       "previous_response_id", "store", "tool_choice", "tools", "text", "truncation",
                                       "user", NULL};
    cJSON *defaults = cJSON_Parse("{\"instructions\":null,\"max_output_tokens\":null,\"metadata\":{},"
                                  "\"parallel_tool_calls\":true,\"previous_response_id\":null,\"store\":true,"
                                  "\"tool_choice\":\"auto\",\"tools\":[],\"text\":{\"format\":{\"type\":\"text\"}},"
                                  "\"truncation\":\"disabled\",\"user\":null}");
    for (int i = 0; keys[i]; i++) {
        const Json *v = json_get(root, keys[i]);
        cJSON_AddItemToObject(o, keys[i], json_is_null(v) ? cJSON_DetachItemFromObject(defaults, keys[i]) : to_cjson(v));
    }
    cJSON_Delete(defaults);
    cJSON_AddNumberToObject(o, "temperature", q->p.sp.temperature);
    cJSON_AddNumberToObject(o, "top_p", q->p.sp.top_p < 1e-6f ? 0 : q->p.sp.top_p);
    cJSON_AddNullToObject(o, "reasoning");
    return o;
}

/* The request as OpenAI chat into b; the conversation without instructions into conv. */
static int translate(ByteBuf *b, ByteBuf *conv, const Json *root, const ApiConfig *cfg, ApiError *e) {
    if (neutral(root, e)) return -1;
    const Json *prev = json_get(root, "previous_response_id"), *ins = json_get(root, "instructions"), *v;
    jw_open(conv, NULL, '[');
    if (!json_is_null(prev)) {
        char *old = prev->type == JSON_STR && cfg->responses ? store_get(cfg->responses, prev->s, prev->len) : NULL;
        if (!old)
            return api_error(e, 400, "previous_response_id", "previous response '%.64s' is not stored here%s",
                             prev->type == JSON_STR ? prev->s : "?", " (or no longer: they are kept for an hour)");
        bytebuf_push(conv, old + 1, strlen(old) - 2); /* its items */
        free(old);
    }
    if (input(conv, json_get(root, "input"), e)) return -1;
    jw_close(conv, ']');
    jw_open(b, NULL, '{');
    jw_open(b, "messages", '[');
    if (!json_is_null(ins)) {
        if (ins->type != JSON_STR) return api_error(e, 400, "instructions", "'instructions' must be a string");
        jw_open(b, NULL, '{');
        jw_str(b, "role", "system", 6);
        jw_json(b, "content", ins);
        jw_close(b, '}');
    }
    if (conv->n > 2) jw_key(b, NULL), bytebuf_push(b, conv->p + 1, conv->n - 2);
    jw_close(b, ']');
    if (!json_is_null(v = json_get(root, "tools")) && tools(b, v, e)) return -1;
    if (!json_is_null(v = json_get(root, "tool_choice")) && tool_choice(b, v, e)) return -1;
    if (!json_is_null(v = json_get(root, "text")) && text_format(b, v, e)) return -1;
    static const char *const same[][2] = {{"max_output_tokens", "max_tokens"}, {"temperature", "temperature"},
                                          {"top_p", "top_p"}, {"stream", "stream"},
                                          {"parallel_tool_calls", "parallel_tool_calls"}, {NULL, NULL}};
    dialect_copy(b, root, same);
    jw_close(b, '}');
    return 0;
}

static int parse(ApiRequest *q, const char *body, size_t len, const ApiConfig *cfg, ApiError *e) {
    memset(q, 0, sizeof *q);
    memset(e, 0, sizeof *e);
    Arena a = {0};
    Json root;
    ByteBuf b = {0}, conv = {0};
    int rc = -1;
    if (!dialect_read(&root, &a, body, len, fields, e) && !translate(&b, &conv, &root, cfg, e)) {
        bytebuf_push(&b, "", 0);
        rc = dialect_parse(q, 1, &b, cfg, 0, renames, e);
    }
    if (!rc) {
        q->echo = echo(&root, q);
        bytebuf_push(&conv, "", 0);
        q->conv = conv.p, conv.p = NULL;
    }
    arena_free(&a);
    bytebuf_free(&b), bytebuf_free(&conv);
    return rc;
}

/* ---- responses ------------------------------------------------------------------- */

static const char *status_of(const ApiChoice *c) {
    return c->finish == FINISH_LENGTH ? "incomplete"
           : c->finish == FINISH_CANCELLED || c->finish == FINISH_ERROR ? "failed"
                                                                         : "completed";
}

/* The output's items: a message when there is text or no call, then the calls. */
static int has_message(const ApiChoice *c) {
    const char *text;
    size_t n;
    dialect_content_of(c, &text, &n);
    return n || !(c->has_calls && c->calls.n_calls);
}

static cJSON *text_part(const char *text, size_t n) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "output_text");
    cJSON_AddItemToObject(o, "text", api_json_text(text, n));
    cJSON_AddArrayToObject(o, "annotations");
    cJSON_AddArrayToObject(o, "logprobs");
    return o;
}

static cJSON *message_item_json(const ApiResponse *r, const char *status, int with_part) {
    const ApiChoice *c = &r->ch[0];
    cJSON *o = cJSON_CreateObject();
    char id[64];
    snprintf(id, sizeof id, "msg_%s", r->id + 5);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", "message");
    cJSON_AddStringToObject(o, "status", status);
    cJSON_AddStringToObject(o, "role", "assistant");
    cJSON *content = cJSON_AddArrayToObject(o, "content");
    if (with_part) {
        const char *text;
        size_t n;
        dialect_content_of(c, &text, &n);
        cJSON_AddItemToArray(content, text_part(text, n));
    }
    return o;
}

static cJSON *call_item_json(const ApiResponse *r, int i, int done) {
    const ChatToolCall *call = &r->ch[0].calls.calls[i];
    cJSON *o = cJSON_CreateObject();
    char id[64];
    snprintf(id, sizeof id, "fc_%s_%d", r->id + 5, i);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "type", "function_call");
    cJSON_AddStringToObject(o, "status", done ? "completed" : "in_progress");
    cJSON_AddStringToObject(o, "call_id", call->id);
    cJSON_AddStringToObject(o, "name", call->name);
    cJSON_AddStringToObject(o, "arguments", done ? call->arguments : "");
    return o;
}

/* The response object; at a stream's start, in progress with no output. */
static cJSON *response_json(const ApiResponse *r, int start) {
    const ApiChoice *c = &r->ch[0];
    cJSON *o = cJSON_CreateObject(), *item;
    cJSON_AddStringToObject(o, "id", r->id);
    cJSON_AddStringToObject(o, "object", "response");
    cJSON_AddNumberToObject(o, "created_at", (double)r->created);
    const char *status = start ? "in_progress" : status_of(c);
    cJSON_AddStringToObject(o, "status", status);
    if (!strcmp(status, "failed")) {
        cJSON *err = cJSON_AddObjectToObject(o, "error");
        cJSON_AddStringToObject(err, "code", "server_error");
        cJSON_AddStringToObject(err, "message", c->finish == FINISH_CANCELLED ? "the server is shutting down"
                                                                            : "the reply failed (out of memory)");
    } else {
        cJSON_AddNullToObject(o, "error");
    }
    if (!strcmp(status, "incomplete")) {
        cJSON *d = cJSON_AddObjectToObject(o, "incomplete_details");
        cJSON_AddStringToObject(d, "reason", "max_output_tokens");
    } else {
        cJSON_AddNullToObject(o, "incomplete_details");
    }
    cJSON_AddStringToObject(o, "model", r->model);
    cJSON *out = cJSON_AddArrayToObject(o, "output");
    if (!start) {
        if (has_message(c)) cJSON_AddItemToArray(out, message_item_json(r, "completed", 1));
        for (int i = 0; c->has_calls && i < c->calls.n_calls; i++) cJSON_AddItemToArray(out, call_item_json(r, i, 1));
    }
    cJSON_ArrayForEach(item, r->q->echo) cJSON_AddItemToObject(o, item->string, cJSON_Duplicate(item, 1));
    if (start) {
        cJSON_AddNullToObject(o, "usage");
    } else {
        cJSON *u = cJSON_AddObjectToObject(o, "usage"), *d;
        cJSON_AddNumberToObject(u, "input_tokens", r->q->n_prompt);
        d = cJSON_AddObjectToObject(u, "input_tokens_details");
        cJSON_AddNumberToObject(d, "cached_tokens", r->cached);
        cJSON_AddNumberToObject(u, "output_tokens", c->n_ids);
        d = cJSON_AddObjectToObject(u, "output_tokens_details");
        cJSON_AddNumberToObject(d, "reasoning_tokens", 0);
        cJSON_AddNumberToObject(u, "total_tokens", r->q->n_prompt + c->n_ids);
    }
    return o;
}

/* The conversation this response ends, for previous_response_id. */
static void store(const ApiResponse *r) {
    const ApiChoice *c = &r->ch[0];
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(r->q->echo, "store");
    if (!r->cfg->responses || !r->q->conv || cJSON_IsFalse(st) || !strcmp(status_of(c), "failed")) return;
    ByteBuf b = {0};
    const char *text;
    size_t n;
    dialect_content_of(c, &text, &n);
    bytebuf_push(&b, r->q->conv, strlen(r->q->conv) - 1); /* without its ']' */
    jw_open(&b, NULL, '{');
    jw_str(&b, "role", "assistant", 9);
    if (n || !(c->has_calls && c->calls.n_calls)) jw_str(&b, "content", text, n);
    else jw_key(&b, "content"), bytebuf_push(&b, "null", 4);
    if (c->has_calls && c->calls.n_calls) {
        jw_open(&b, "tool_calls", '[');
        for (int i = 0; i < c->calls.n_calls; i++) {
            const ChatToolCall *call = &c->calls.calls[i];
            jw_open(&b, NULL, '{');
            jw_str(&b, "id", call->id, strlen(call->id));
            jw_str(&b, "type", "function", 8);
            jw_open(&b, "function", '{');
            jw_str(&b, "name", call->name, strlen(call->name));
            jw_str(&b, "arguments", call->arguments, strlen(call->arguments));
            jw_close(&b, '}'), jw_close(&b, '}');
        }
        jw_close(&b, ']');
    }
    jw_close(&b, '}'), jw_close(&b, ']');
    bytebuf_push(&b, "", 0);
    store_put(r->cfg->responses, r->id, b.p);
}

/* ---- streaming -------------------------------------------------------------------- */

enum { STARTED = 1, TEXT_OPEN = 2 }; /* ApiChoice.started bits */

static void emit(ApiResponse *r, ByteBuf *out, const char *type, cJSON *o) {
    cJSON_AddItemToObject(o, "type", cJSON_CreateString(type));
    cJSON_AddNumberToObject(o, "sequence_number", r->seq++);
    dialect_sse(out, type, o);
}

/* An event about item output_index (and its content part 0 when part). */
static cJSON *item_event(const ApiResponse *r, int output_index, const char *item_id, int part) {
    cJSON *o = cJSON_CreateObject();
    char id[64];
    if (!item_id) snprintf(id, sizeof id, "msg_%s", r->id + 5), item_id = id;
    cJSON_AddStringToObject(o, "item_id", item_id);
    cJSON_AddNumberToObject(o, "output_index", output_index);
    if (part) cJSON_AddNumberToObject(o, "content_index", 0);
    return o;
}

static void open_message(ApiResponse *r, ApiChoice *c, ByteBuf *out) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "output_index", 0);
    cJSON_AddItemToObject(o, "item", message_item_json(r, "in_progress", 0));
    emit(r, out, "response.output_item.added", o);
    o = item_event(r, 0, NULL, 1);
    cJSON_AddItemToObject(o, "part", text_part("", 0));
    emit(r, out, "response.content_part.added", o);
    c->started |= TEXT_OPEN;
}

static void text_delta(ApiResponse *r, ApiChoice *c, const char *text, size_t n, ByteBuf *out) {
    if (!n) return;
    if (!(c->started & TEXT_OPEN)) open_message(r, c, out);
    cJSON *o = item_event(r, 0, NULL, 1);
    cJSON_AddItemToObject(o, "delta", api_json_text(text, n));
    cJSON_AddArrayToObject(o, "logprobs");
    emit(r, out, "response.output_text.delta", o);
}

/* The stream's items closed: the message's rest and done events, then each call. */
static void stream_end(ApiResponse *r, ApiChoice *c, size_t streamed, ByteBuf *out) {
    const char *text;
    size_t n;
    dialect_content_of(c, &text, &n);
    if (n > streamed) text_delta(r, c, text + streamed, n - streamed, out);
    int index = 0;
    if (has_message(c)) {
        if (!(c->started & TEXT_OPEN)) open_message(r, c, out);
        cJSON *o = item_event(r, 0, NULL, 1);
        cJSON_AddItemToObject(o, "text", api_json_text(text, n));
        cJSON_AddArrayToObject(o, "logprobs");
        emit(r, out, "response.output_text.done", o);
        o = item_event(r, 0, NULL, 1);
        cJSON_AddItemToObject(o, "part", text_part(text, n));
        emit(r, out, "response.content_part.done", o);
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "output_index", 0);
        cJSON_AddItemToObject(o, "item", message_item_json(r, "completed", 1));
        emit(r, out, "response.output_item.done", o);
        index++;
    }
    for (int i = 0; c->has_calls && i < c->calls.n_calls; i++, index++) {
        const ChatToolCall *call = &c->calls.calls[i];
        cJSON *item = call_item_json(r, i, 0), *o = cJSON_CreateObject();
        char item_id[64];
        snprintf(item_id, sizeof item_id, "%s", cJSON_GetObjectItemCaseSensitive(item, "id")->valuestring);
        cJSON_AddNumberToObject(o, "output_index", index);
        cJSON_AddItemToObject(o, "item", item);
        emit(r, out, "response.output_item.added", o);
        o = item_event(r, index, item_id, 0);
        cJSON_AddStringToObject(o, "delta", call->arguments);
        emit(r, out, "response.function_call_arguments.delta", o);
        o = item_event(r, index, item_id, 0);
        cJSON_AddStringToObject(o, "name", call->name);
        cJSON_AddStringToObject(o, "arguments", call->arguments);
        emit(r, out, "response.function_call_arguments.done", o);
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "output_index", index);
        cJSON_AddItemToObject(o, "item", call_item_json(r, i, 1));
        emit(r, out, "response.output_item.done", o);
    }
}

static void on_event(ApiResponse *r, const EngineEvent *ev, int sse, ByteBuf *out) {
    ApiChoice *c = &r->ch[ev->choice];
    size_t streamed = c->text.n;
    api_response_event(r, ev, 0, NULL);
    if (!sse) return;
    if (!(c->started & STARTED)) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "response", response_json(r, 1));
        emit(r, out, "response.created", o);
        o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "response", response_json(r, 1));
        emit(r, out, "response.in_progress", o);
        c->started |= STARTED;
    }
    if (ev->finish == FINISH_NONE) text_delta(r, c, ev->text, ev->len, out);
    else if (ev->finish != FINISH_CANCELLED && ev->finish != FINISH_ERROR) stream_end(r, c, streamed, out);
}

static void finish(ApiResponse *r, int sse, ByteBuf *out) {
    store(r);
    cJSON *o = response_json(r, 0);
    if (!sse) {
        char *s = cJSON_PrintUnformatted(o);
        bytebuf_push(out, s, strlen(s));
        free(s);
        cJSON_Delete(o);
        return;
    }
    const char *status = status_of(&r->ch[0]);
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddItemToObject(ev, "response", o);
    emit(r, out, !strcmp(status, "completed") ? "response.completed" : !strcmp(status, "failed") ? "response.failed"
                                                                                              : "response.incomplete",
         ev);
}

const ApiDialect responses_dialect = {.parse = parse, .event = on_event, .finish = finish, .error_json = api_error_json,
                                      .id_prefix = "resp_"};
