/* chat — mistral-common's chat encoding. The reference is mistral-common's
 * src/mistral_common: protocol/instruct/validator.py (MistralRequestValidator,
 * V3, V5), normalize.py (InstructRequestNormalizer, V7) and
 * tokens/tokenizers/instruct.py (InstructTokenizerV1, V2, V3, V7). */
#include "tok/chat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"

/* -------------------------------------------------------- request parse -- */

/* json.dumps(s, ensure_ascii=False), as mistral-common writes every string. */
static void dump_cstr(ByteBuf *b, const char *s) { json_dump_str(b, s, strlen(s), 0); }

/* What mistral-common makes of tool-call arguments and (v2/v3) tool results:
 * json.dumps(json.loads(s)) when s parses, the string itself otherwise, {}
 * for "". NULL (err set) where json.loads raises something else. */
static const char *canon_json(Arena *a, const char *s, size_t n) {
    if (n == 0) return "{}";
    Json v;
    int fatal;
    ByteBuf b = {0};
    if (json_parse(&v, a, s, n, JSON_PY_MAX_DEPTH, &fatal) == 0) json_dump(&b, &v, 0);
    else if (fatal) return NULL;
    else json_dump_str(&b, s, n, 0);
    const char *r = arena_strndup(a, b.p, b.n);
    bytebuf_free(&b);
    return r;
}

/* re.match(r"^[a-zA-Z0-9<extra>]{lo,hi}$", s); Python's $ also matches
 * before a final "\n". */
static int name_ok(const char *s, int underscore_dash, size_t lo, size_t hi) {
    size_t n = strlen(s);
    if (n && s[n - 1] == '\n') n--;
    if (n < lo || n > hi) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 (underscore_dash && (c == '_' || c == '-'));
        if (!ok) return 0;
    }
    return 1;
}

typedef struct {
    Arena *a;
    const char *where;
    int i; /* message index, for errors */
} Ctx;

/* A string field (no NUL: our strings are C strings). NULL when absent/null. */
static int get_str(Ctx *c, const Json *o, const char *key, const char **out) {
    const Json *v = json_get(o, key);
    *out = NULL;
    if (json_is_null(v)) return 0;
    if (v->type != JSON_STR) return err_set("%s: messages[%d].%s must be a string", c->where, c->i, key);
    if (memchr(v->s, 0, v->len)) return err_set("%s: messages[%d].%s holds a NUL character", c->where, c->i, key);
    *out = v->s;
    return 0;
}

static const char *const role_names[] = {"system", "user", "assistant", "tool"};

/* content: a string or a list of text chunks, joined with "\n\n" (empty
 * ones skipped), as the normalizer aggregates them. */
static int parse_content(Ctx *c, const Json *m, ChatMessage *msg) {
    const Json *v = json_get(m, "content");
    if (json_is_null(v)) {
        if (msg->role == CHAT_ASSISTANT) return 0;
        return err_set("%s: messages[%d]: a %s message needs a content (a string or a list of text chunks)",
                       c->where, c->i, role_names[msg->role]);
    }
    if (v->type == JSON_STR) {
        if (get_str(c, m, "content", &msg->content)) return -1;
        msg->content_set = v->len > 0;
        return 0;
    }
    if (v->type != JSON_ARR)
        return err_set("%s: messages[%d].content must be a string or a list of text chunks", c->where, c->i);
    ByteBuf b = {0};
    bytebuf_push(&b, "", 0);
    for (int k = 0; k < v->n; k++) {
        const Json *ch = &v->item[k], *type = json_get(ch, "type"), *text = json_get(ch, "text");
        if (!type || type->type != JSON_STR || strcmp(type->s, "text")) {
            bytebuf_free(&b);
            if (type && type->type == JSON_STR)
                return err_set("%s: messages[%d].content[%d]: chunk type \"%.40s\" is not supported (text only)",
                               c->where, c->i, k, type->s);
            return err_set("%s: messages[%d].content[%d] must be {\"type\": \"text\", \"text\": ...}", c->where,
                           c->i, k);
        }
        if (!text || text->type != JSON_STR || memchr(text->s, 0, text->len)) {
            bytebuf_free(&b);
            return err_set("%s: messages[%d].content[%d].text must be a string (no NUL)", c->where, c->i, k);
        }
        if (text->len && b.n) bytebuf_push(&b, "\n\n", 2);
        bytebuf_push(&b, text->s, text->len);
    }
    msg->content = arena_strndup(c->a, b.p, b.n);
    msg->content_set = v->n > 0;
    bytebuf_free(&b);
    return 0;
}

static int parse_calls(Ctx *c, const Json *m, ChatMessage *msg) {
    const Json *v = json_get(m, "tool_calls");
    if (json_is_null(v)) return 0;
    if (v->type != JSON_ARR) return err_set("%s: messages[%d].tool_calls must be a list", c->where, c->i);
    msg->calls = arena_alloc(c->a, (size_t)(v->n ? v->n : 1) * sizeof *msg->calls);
    for (int k = 0; k < v->n; k++) {
        const Json *call = &v->item[k], *fn = json_get(call, "function"), *type = json_get(call, "type");
        ChatToolCall *tc = &msg->calls[k];
        if (call->type != JSON_OBJ || !fn || fn->type != JSON_OBJ)
            return err_set("%s: messages[%d].tool_calls[%d] needs a \"function\" object", c->where, c->i, k);
        if (!json_is_null(type) && (type->type != JSON_STR || strcmp(type->s, "function")))
            return err_set("%s: messages[%d].tool_calls[%d].type must be \"function\"", c->where, c->i, k);
        if (get_str(c, call, "id", &tc->id) || get_str(c, fn, "name", &tc->name)) return -1;
        if (!tc->id) tc->id = "null";
        if (!tc->name) return err_set("%s: messages[%d].tool_calls[%d] has no function name", c->where, c->i, k);
        if (!name_ok(tc->name, 1, 1, 64))
            return err_set("%s: messages[%d]: function name \"%.80s\" must be 1 to 64 of a-z, A-Z, 0-9, _ and -",
                           c->where, c->i, tc->name);
        const Json *args = json_get(fn, "arguments");
        if (json_is_null(args)) tc->arguments = "{}";
        else if (args->type == JSON_STR) tc->arguments = canon_json(c->a, args->s, args->len);
        else if (args->type == JSON_OBJ) { /* FunctionCall: json.dumps(dict), normalized again */
            ByteBuf b = {0};
            json_dump(&b, args, 0);
            tc->arguments = arena_strndup(c->a, b.p, b.n);
            bytebuf_free(&b);
        } else
            return err_set("%s: messages[%d].tool_calls[%d].function.arguments must be a string or an object",
                           c->where, c->i, k);
        if (!tc->arguments) {
            char why[200];
            snprintf(why, sizeof why, "%s", err_msg());
            return err_set("%s: messages[%d].tool_calls[%d] arguments: %s", c->where, c->i, k, why);
        }
        msg->n_calls++;
    }
    return 0;
}

static int parse_message(Ctx *c, const Json *m, ChatMessage *msg) {
    if (m->type != JSON_OBJ) return err_set("%s: messages[%d] must be an object", c->where, c->i);
    const Json *role = json_get(m, "role");
    if (json_is_null(role)) return err_set("%s: messages[%d] has no role", c->where, c->i);
    if (role->type != JSON_STR) return err_set("%s: messages[%d].role must be a string", c->where, c->i);
    int r = 0;
    while (r < 4 && strcmp(role->s, role_names[r])) r++;
    if (r == 4 || role->len != strlen(role->s))
        return err_set("%s: messages[%d]: unknown chat role \"%.40s\"", c->where, c->i, role->s);
    msg->role = (ChatRole)r;
    if (parse_content(c, m, msg)) return -1;
    if (msg->role == CHAT_ASSISTANT) {
        const Json *prefix = json_get(m, "prefix");
        if (!json_is_null(prefix) && prefix->type != JSON_TRUE && prefix->type != JSON_FALSE)
            return err_set("%s: messages[%d].prefix must be true or false", c->where, c->i);
        msg->prefix = prefix && prefix->type == JSON_TRUE;
        return parse_calls(c, m, msg);
    }
    if (msg->role != CHAT_TOOL) return 0;
    if (get_str(c, m, "name", &msg->name) || get_str(c, m, "tool_call_id", &msg->tool_call_id)) return -1;
    if (msg->name && !name_ok(msg->name, 1, 1, 64))
        return err_set("%s: messages[%d]: tool name \"%.80s\" must be 1 to 64 of a-z, A-Z, 0-9, _ and -",
                       c->where, c->i, msg->name);
    msg->content_json = canon_json(c->a, msg->content, strlen(msg->content));
    return 0;
}

/* Tool: {"type": "function", "function": {"name", "description", "parameters"}}
 * (Tool.model_dump without "strict"). */
static int parse_tools(Ctx *c, const Json *tools, ChatRequest *r) {
    if (json_is_null(tools)) return 0;
    if (tools->type != JSON_ARR) return err_set("%s: tools must be a list", c->where);
    if (tools->n == 0) return 0;
    ByteBuf b = {0};
    bytebuf_putc(&b, '[');
    for (int k = 0; k < tools->n; k++) {
        const Json *tool = &tools->item[k], *type = json_get(tool, "type"), *fn = json_get(tool, "function");
        const Json *name = json_get(fn, "name"), *desc = json_get(fn, "description"), *params = json_get(fn, "parameters");
        const char *bad = NULL;
        if (tool->type != JSON_OBJ || !fn || fn->type != JSON_OBJ) bad = "needs a \"function\" object";
        else if (!json_is_null(type) && (type->type != JSON_STR || strcmp(type->s, "function"))) bad = "type must be \"function\"";
        else if (!name || name->type != JSON_STR) bad = "needs a function name";
        else if (!name_ok(name->s, 1, 1, 64) || memchr(name->s, 0, name->len))
            bad = "function name must be 1 to 64 of a-z, A-Z, 0-9, _ and -";
        else if (!json_is_null(desc) && desc->type != JSON_STR) bad = "description must be a string";
        else if (!json_is_null(params) && params->type != JSON_OBJ) bad = "parameters must be an object";
        if (bad) {
            bytebuf_free(&b);
            return err_set("%s: tools[%d]: %s", c->where, k, bad);
        }
        if (k) bytebuf_push(&b, ", ", 2);
        bytebuf_push(&b, "{\"type\": \"function\", \"function\": {\"name\": ", 42);
        json_dump(&b, name, 0);
        bytebuf_push(&b, ", \"description\": ", 17);
        if (json_is_null(desc)) bytebuf_push(&b, "\"\"", 2);
        else json_dump(&b, desc, 0);
        bytebuf_push(&b, ", \"parameters\": ", 16);
        if (json_is_null(params)) bytebuf_push(&b, "{}", 2);
        else json_dump(&b, params, 0);
        bytebuf_push(&b, "}}", 2);
    }
    bytebuf_putc(&b, ']');
    r->tools_json = arena_strndup(c->a, b.p, b.n);
    bytebuf_free(&b);
    return 0;
}

/* MistralRequestValidator._validate_message_list_structure (every version). */
static int check_structure(const Ctx *c, const ChatRequest *r) {
    const ChatMessage *m = r->msg, *last = &m[r->n_msg - 1];
    if (r->n_msg == 1 && m[0].role != CHAT_USER && m[0].role != CHAT_SYSTEM)
        return err_set("%s: a conversation must start with a user or system message", c->where);
    if (r->n_msg > 1 && last->role == CHAT_ASSISTANT && !last->prefix && !r->continue_final)
        return err_set("%s: the last message must be a user or tool message (or an assistant message with "
                       "\"prefix\": true or continue_final_message)", c->where);
    if (r->continue_final && r->n_msg > 1 && (last->role != CHAT_ASSISTANT || last->prefix))
        return err_set("%s: continue_final_message needs a last assistant message without prefix", c->where);
    /* allowed successors: system -> user, assistant, system; user -> assistant, system, user;
     * assistant -> assistant, user, tool; tool -> assistant, tool, user */
    static const unsigned char next_ok[4] = {0x7, 0x7, 0xE, 0xE}; /* bit per role */
    int expected = 0;
    for (int i = 0; i < r->n_msg; i++) {
        if (i && !(next_ok[m[i - 1].role] >> m[i].role & 1))
            return err_set("%s: messages[%d]: unexpected role \"%s\" after role \"%s\"", c->where, i,
                           role_names[m[i].role], role_names[m[i - 1].role]);
        if (m[i].prefix && i != r->n_msg - 1)
            return err_set("%s: messages[%d]: only the last assistant message may have \"prefix\": true",
                           c->where, i);
        if (i == 0) continue; /* the validator skips the first message here */
        if (m[i].role == CHAT_TOOL) expected--;
        else if (m[i].role == CHAT_ASSISTANT) {
            if (expected)
                return err_set("%s: messages[%d]: not the same number of function calls and responses",
                               c->where, i);
            expected = m[i].n_calls;
        }
    }
    return 0;
}

/* The request's fields from its document (arrays allocated in c->a). */
static int parse_request(Ctx *c, const Json *root, ChatRequest *r) {
    if (root->type != JSON_OBJ) return err_set("%s: a chat request must be a JSON object", c->where);
    const Json *msgs = json_get(root, "messages"), *cont = json_get(root, "continue_final_message");
    if (!msgs || msgs->type != JSON_ARR || msgs->n == 0)
        return err_set("%s: \"messages\" must be a non-empty list", c->where);
    if (!json_is_null(cont) && cont->type != JSON_TRUE && cont->type != JSON_FALSE)
        return err_set("%s: continue_final_message must be true or false", c->where);
    if (!json_is_null(json_get(root, "reasoning_effort")))
        return err_set("%s: reasoning_effort is not supported by these formats", c->where);
    r->continue_final = cont && cont->type == JSON_TRUE;
    r->msg = arena_alloc(c->a, (size_t)msgs->n * sizeof *r->msg);
    memset(r->msg, 0, (size_t)msgs->n * sizeof *r->msg);
    for (c->i = 0; c->i < msgs->n; c->i++)
        if (parse_message(c, &msgs->item[c->i], &r->msg[r->n_msg++])) return -1;
    return parse_tools(c, json_get(root, "tools"), r) || check_structure(c, r) ? -1 : 0;
}

int chat_parse_json(ChatRequest *r, const Json *root, Arena *a, const char *where) {
    memset(r, 0, sizeof *r);
    Ctx c = {a, where ? where : "chat request", -1};
    if (parse_request(&c, root, r) == 0) return 0;
    memset(r, 0, sizeof *r);
    return -1;
}

int chat_parse(ChatRequest *r, const char *json, size_t len, const char *where) {
    memset(r, 0, sizeof *r);
    where = where ? where : "chat request";
    Arena *a = xcalloc(1, sizeof *a);
    size_t bad;
    Json root;
    if (!utf8_valid(json, len, &bad)) {
        err_set("%s: not valid UTF-8 (byte %zu)", where, bad);
    } else if (json_parse(&root, a, json, len, CHAT_MAX_DEPTH, NULL)) {
        char why[200];
        snprintf(why, sizeof why, "%s", err_msg());
        err_set("%s: not JSON: %s", where, why);
    } else if (chat_parse_json(r, &root, a, where) == 0) {
        r->arena = a;
        return 0;
    }
    arena_free(a), free(a);
    return -1;
}

void chat_free(ChatRequest *r) {
    if (r->arena) arena_free(r->arena), free(r->arena);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------ formats and their validation -- */

int chat_format_from_name(const char *name) {
    static const struct { const char *name; int format; } names[] = {
        {"v1", CHAT_V1}, {"v2", CHAT_V2}, {"v3", CHAT_V3}, {"v7", CHAT_V7}, {"tekken", CHAT_TEKKEN}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) return names[i].format;
    return err_set("unknown chat format \"%.40s\" (v1, v2, v3, v7 or tekken)", name);
}

/* "v3", "v3m1" (a multimodal variant) -> 3; 0 when not vN... */
static int version_number(const char *v) {
    if (!v || v[0] != 'v' || v[1] < '0' || v[1] > '9') return 0;
    long n = strtol(v + 1, NULL, 10);
    return n > 0 && n < 1000 ? (int)n : 0;
}

static int format_of_version(const char *what, const char *v) {
    int n = version_number(v);
    if (n == 1 || n == 2 || n == 3 || n == 7) return n;
    return err_set("%s: tokenizer version \"%.20s\" is not supported by the chat formats (v1, v2, v3, v7)", what,
                   v ? v : "");
}

int chat_format_default(const Tokenizer *t) {
    if (t->kind == TOK_TEKKEN) return format_of_version(t->path ? t->path : "tekken", t->tek.version);
    if (!t->version[0]) return CHAT_V1; /* tokenizer.model: mistral-common reads it as v1 */
    return format_of_version(t->path ? t->path : "tokenizer", t->version);
}

int chat_format_resolve(const Tokenizer *t, int format) {
    if (format == CHAT_TEKKEN) {
        if (t->kind != TOK_TEKKEN) return err_set("chat format \"tekken\" needs a Tekken tokenizer (tekken.json)");
        return chat_format_default(t);
    }
    if (format == CHAT_V1 || format == CHAT_V2 || format == CHAT_V3 || format == CHAT_V7) return format;
    return err_set("unknown chat format %d", format);
}

int chat_call_id_ok(const char *id) { return name_ok(id, 0, 9, 9); }

/* What the format's validator adds to chat_parse's checks. */
static int check_format(int fmt, const ChatRequest *r) {
    for (int i = 0; i < r->n_msg; i++) {
        const ChatMessage *m = &r->msg[i];
        if (m->role == CHAT_ASSISTANT && fmt < CHAT_V7 && m->content_set == (m->n_calls > 0))
            return err_set("messages[%d]: an assistant message must have either content or tool_calls, but not "
                           "both (before chat format v7)", i);
        if (fmt < CHAT_V3) continue;
        for (int k = 0; k < m->n_calls; k++)
            if (strcmp(m->calls[k].id, "null") && !chat_call_id_ok(m->calls[k].id))
                return err_set("messages[%d]: tool call id \"%.40s\" must be 9 of a-z, A-Z, 0-9", i,
                               m->calls[k].id);
        if (m->role == CHAT_TOOL && (!m->tool_call_id || !chat_call_id_ok(m->tool_call_id)))
            return err_set("messages[%d]: a tool message needs a tool_call_id of 9 of a-z, A-Z, 0-9", i);
    }
    return 0;
}

/* ------------------------------------------------------------- encoding -- */

typedef struct {
    const Tokenizer *t;
    int fmt;
    IntVec *out;
} Enc;

static int put_special(Enc *e, const char *name) {
    int id = tokenizer_special(e->t, name);
    if (id < 0)
        return err_set("%s has no %s token, which chat format v%d needs", e->t->path ? e->t->path : "the tokenizer",
                       name, e->fmt);
    intvec_push(e->out, id);
    return 0;
}

/* tokenizer.encode(s, bos=False, eos=False); "" gives nothing. */
static int put_text(Enc *e, const char *s, size_t n) {
    return n ? tokenizer_encode(e->t, s, n, 0, e->out) : 0;
}

static int put_str(Enc *e, const char *s) { return put_text(e, s, strlen(s)); }

static int put_buf(Enc *e, ByteBuf *b) {
    int rc = put_text(e, b->p ? b->p : "", b->n);
    bytebuf_free(b);
    return rc;
}

/* A message after the normalizer: runs of user messages and runs of assistant
 * messages merged, tool (and v7 system) messages one by one. */
typedef struct {
    ChatRole role;
    const char *content;        /* user, assistant: the run's joined content ("" when none) */
    const ChatMessage *m;       /* tool, system: the message */
    const ChatToolCall **calls; /* assistant: the run's calls */
    int n_calls, prefix;
} Turn;

static const char *join_contents(Arena *a, const ChatMessage *m, int n) {
    ByteBuf b = {0};
    bytebuf_push(&b, "", 0);
    for (int i = 0; i < n; i++) {
        if (!m[i].content || !m[i].content[0]) continue;
        if (b.n) bytebuf_push(&b, "\n\n", 2);
        bytebuf_push(&b, m[i].content, strlen(m[i].content));
    }
    const char *s = arena_strndup(a, b.p, b.n);
    bytebuf_free(&b);
    return s;
}

/* InstructRequestNormalizer (v1-v3) and InstructRequestNormalizerV7. */
static int normalize(Arena *a, int fmt, const ChatRequest *r, Turn **turns_out, const char **system) {
    Turn *turns = arena_alloc(a, (size_t)(r->n_msg + 1) * sizeof *turns);
    int n = 1; /* turns[0] is kept for the empty user message the normalizer may insert */
    memset(turns, 0, (size_t)(r->n_msg + 1) * sizeof *turns);
    ByteBuf sys = {0};
    for (int i = 0; i < r->n_msg; i++)
        if (r->msg[i].role == CHAT_SYSTEM && r->msg[i].content_set) {
            if (sys.p) bytebuf_push(&sys, "\n\n", 2);
            bytebuf_push(&sys, r->msg[i].content, strlen(r->msg[i].content));
        }
    *system = fmt < CHAT_V7 && sys.p ? arena_strndup(a, sys.p, sys.n) : NULL;
    bytebuf_free(&sys);
    for (int i = 0, j; i < r->n_msg; i = j) {
        const ChatMessage *m = &r->msg[i];
        for (j = i + 1; j < r->n_msg && r->msg[j].role == m->role;) j++;
        if (m->role == CHAT_SYSTEM || m->role == CHAT_TOOL) {
            if (m->role == CHAT_SYSTEM && fmt < CHAT_V7) continue;
            for (int k = i; k < j; k++) turns[n++] = (Turn){.role = m->role, .m = &r->msg[k]};
            continue;
        }
        Turn *t = &turns[n++];
        t->role = m->role;
        t->content = join_contents(a, m, j - i);
        if (m->role != CHAT_ASSISTANT) continue;
        for (int k = i; k < j; k++) t->n_calls += r->msg[k].n_calls, t->prefix |= r->msg[k].prefix;
        t->calls = arena_alloc(a, (size_t)(t->n_calls ? t->n_calls : 1) * sizeof *t->calls);
        t->n_calls = 0;
        for (int k = i; k < j; k++)
            for (int q = 0; q < r->msg[k].n_calls; q++) t->calls[t->n_calls++] = &r->msg[k].calls[q];
    }
    /* an empty user message first: v1-v3 when the first one is not a user's, v7 when there is none */
    int insert = n == 1 || (fmt < CHAT_V7 && turns[1].role != CHAT_USER);
    turns[0] = (Turn){.role = CHAT_USER, .content = ""};
    *turns_out = insert ? turns : turns + 1;
    return insert ? n : n - 1;
}

/* The tool calls as one JSON list: [{"name", "arguments"(, "id")}]. */
static void dump_calls(ByteBuf *b, int fmt, const ChatToolCall *const *calls, int n) {
    bytebuf_putc(b, '[');
    for (int k = 0; k < n; k++) {
        const ChatToolCall *tc = calls[k];
        bytebuf_push(b, k ? ", {\"name\": " : "{\"name\": ", k ? 11 : 9);
        dump_cstr(b, tc->name);
        bytebuf_push(b, ", \"arguments\": ", 15);
        bytebuf_push(b, tc->arguments, strlen(tc->arguments));
        if (fmt >= CHAT_V3 && tc->id[0] && strcmp(tc->id, "null")) {
            bytebuf_push(b, ", \"id\": ", 8);
            dump_cstr(b, tc->id);
        }
        bytebuf_putc(b, '}');
    }
    bytebuf_putc(b, ']');
}

static int enc_user(Enc *e, const Turn *u, int first, int last, const char *tools, const char *system) {
    ByteBuf b = {0};
    if (e->fmt == CHAT_V1) { /* "[INST] {content} [/INST]" as text; the system prompt in the first */
        bytebuf_push(&b, "[INST] ", 7);
        if (first && system && system[0]) bytebuf_push(&b, system, strlen(system)), bytebuf_push(&b, "\n\n", 2);
        bytebuf_push(&b, u->content, strlen(u->content));
        bytebuf_push(&b, " [/INST]", 8);
        return put_buf(e, &b);
    }
    if (last && tools &&
        (put_special(e, "[AVAILABLE_TOOLS]") || put_str(e, tools) || put_special(e, "[/AVAILABLE_TOOLS]")))
        return -1;
    if (put_special(e, "[INST]")) return -1;
    if (last && system && system[0]) bytebuf_push(&b, system, strlen(system)), bytebuf_push(&b, "\n\n", 2);
    bytebuf_push(&b, u->content, strlen(u->content));
    if (put_buf(e, &b)) return -1;
    return put_special(e, "[/INST]");
}

static int enc_assistant(Enc *e, const Turn *m, int before_last_user, int cont) {
    if (cont && m->prefix) return err_set("continue_final_message needs an assistant message without prefix");
    int has_content = m->content[0] != 0;
    if (e->fmt == CHAT_V1) {
        if (m->n_calls) return err_set("tool calls need chat format v2 or later");
        if (!has_content) return err_set("an assistant message without content");
        if (put_str(e, m->content)) return -1;
    } else {
        if (e->fmt < CHAT_V7 && m->n_calls && has_content)
            return err_set("assistant content and tool calls in one message need chat format v7");
        if (!m->n_calls && !has_content) return err_set("an assistant message without content or tool calls");
        if (e->fmt == CHAT_V2 && m->n_calls && before_last_user) return 0; /* dropped, EOS too */
        if (has_content) { /* content.rstrip(" ") */
            size_t n = strlen(m->content);
            while (n && m->content[n - 1] == ' ') n--;
            if (put_text(e, m->content, n)) return -1;
        }
        if (m->n_calls) {
            ByteBuf b = {0};
            dump_calls(&b, e->fmt, m->calls, m->n_calls);
            if (put_special(e, "[TOOL_CALLS]") || put_buf(e, &b)) return -1;
        }
    }
    if (!m->prefix && !cont) {
        if (e->t->eos < 0) return err_set("the tokenizer has no EOS token");
        intvec_push(e->out, e->t->eos);
    }
    return 0;
}

/* A tool result whose content_json is NULL (see canon_json). */
static int err_unparsed_result(void) {
    return err_set("a tool result mistral-common cannot parse (nested too deeply, a lone surrogate, or an "
                   "integer of more than 4300 digits)");
}

static int enc_tool_one(Enc *e, const ChatMessage *m, int before_last_user) {
    if (e->fmt == CHAT_V1) return err_set("tool messages need chat format v2 or later");
    if (e->fmt >= CHAT_V3 && !m->tool_call_id) return err_set("a tool message without tool_call_id");
    if (put_special(e, "[TOOL_RESULTS]")) return -1;
    if (e->fmt == CHAT_V7) {
        if (put_str(e, m->tool_call_id) || put_special(e, "[TOOL_CONTENT]") || put_str(e, m->content)) return -1;
        return put_special(e, "[/TOOL_RESULTS]");
    }
    if (!m->content_json)
        return err_unparsed_result();
    ByteBuf b = {0}; /* v3: {"content": content, "call_id": id} */
    bytebuf_push(&b, "{\"content\": ", 12);
    bytebuf_push(&b, m->content_json, strlen(m->content_json));
    bytebuf_push(&b, ", \"call_id\": ", 13);
    dump_cstr(&b, m->tool_call_id);
    bytebuf_putc(&b, '}');
    if (put_buf(e, &b)) return -1;
    return put_special(e, "[/TOOL_RESULTS]");
}

/* Tool results: one block per message, except in v2, where a run of tool
 * messages is one [TOOL_RESULTS] list (as mistral-common's v2 golden
 * encodings show: parallel_calls). m points at n consecutive tool messages. */
static int enc_tool(Enc *e, const ChatMessage *const *m, int n, int before_last_user) {
    if (e->fmt == CHAT_V2) {
        if (before_last_user) return 0;
        ByteBuf b = {0};
        bytebuf_putc(&b, '[');
        for (int i = 0; i < n; i++) {
            if (!m[i]->content_json) {
                bytebuf_free(&b);
                return err_unparsed_result();
            }
            const char *head = i ? ", {\"name\": " : "{\"name\": ";
            bytebuf_push(&b, head, strlen(head));
            if (m[i]->name) dump_cstr(&b, m[i]->name);
            else bytebuf_push(&b, "null", 4);
            bytebuf_push(&b, ", \"content\": ", 13);
            bytebuf_push(&b, m[i]->content_json, strlen(m[i]->content_json));
            bytebuf_putc(&b, '}');
        }
        bytebuf_putc(&b, ']');
        if (put_special(e, "[TOOL_RESULTS]") || put_buf(e, &b)) return -1;
        return put_special(e, "[/TOOL_RESULTS]");
    }
    for (int i = 0; i < n; i++)
        if (enc_tool_one(e, m[i], before_last_user)) return -1;
    return 0;
}

int chat_encode(const Tokenizer *t, int format, const ChatRequest *r, IntVec *out) {
    int fmt = chat_format_resolve(t, format);
    if (fmt < 0 || check_format(fmt, r)) return -1;
    Arena a = {0};
    Turn *turns;
    const char *system;
    int n = normalize(&a, fmt, r, &turns, &system), n0 = out->n, first = -1, last = -1, rc = 0;
    for (int i = 0; i < n; i++)
        if (turns[i].role == CHAT_USER) last = i, first = first < 0 ? i : first;
    Enc e = {t, fmt, out};
    if (t->bos < 0) rc = err_set("the tokenizer has no BOS token");
    else intvec_push(out, t->bos);
    for (int i = 0; i < n && !rc; i++) {
        const Turn *m = &turns[i];
        int cont = r->continue_final && i == n - 1;
        if (cont && m->role != CHAT_ASSISTANT)
            rc = err_set("cannot continue the final message: it is not an assistant message");
        else if (m->role == CHAT_USER) rc = enc_user(&e, m, i == first, i == last, r->tools_json, system);
        else if (m->role == CHAT_ASSISTANT) rc = enc_assistant(&e, m, i < last, cont);
        else if (m->role == CHAT_TOOL) {
            const ChatMessage *run[64];
            int k = 0;
            while (i + k < n && turns[i + k].role == CHAT_TOOL && k < 64) run[k] = turns[i + k].m, k++;
            rc = enc_tool(&e, run, k, i < last);
            i += k - 1;
        }
        else rc = put_special(&e, "[SYSTEM_PROMPT]") || put_str(&e, m->m->content) ||
                  put_special(&e, "[/SYSTEM_PROMPT]");
    }
    if (rc) out->n = n0;
    arena_free(&a);
    return rc ? -1 : 0;
}

int chat_encode_turn(const Tokenizer *t, int format, const char *system, const char *user, int first_turn,
                     IntVec *out) {
    int fmt = chat_format_resolve(t, format), n0 = out->n;
    if (fmt < 0) return -1;
    if (!user) return err_set("chat turn without user text");
    Enc e = {t, fmt, out};
    Turn u = {.role = CHAT_USER, .content = user};
    if (!first_turn) system = NULL;
    int rc = 0;
    if (first_turn) {
        if (t->bos < 0) return err_set("the tokenizer has no BOS token");
        intvec_push(out, t->bos);
    }
    if (fmt == CHAT_V7 && system && system[0])
        rc = put_special(&e, "[SYSTEM_PROMPT]") || put_str(&e, system) || put_special(&e, "[/SYSTEM_PROMPT]");
    /* v1 puts the system prompt in the first user message, v2/v3 in the last: here, the first */
    if (!rc) rc = enc_user(&e, &u, 1, 1, NULL, fmt == CHAT_V7 ? NULL : system);
    if (rc) out->n = n0;
    return rc ? -1 : 0;
}
