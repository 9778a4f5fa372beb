/* toolcalls — an assistant reply read back as content and tool calls. The
 * reference is mistral-common's experimental/tools.py (v2 to v7: each part
 * from a [TOOL_CALLS] on is tokenizer.decode(part, IGNORE) then json.loads; a
 * list of dicts with "name" and a dict "arguments"; id = get("id", "null"))
 * and experimental/app/routers.py (content = decode(ids before it, IGNORE)). */
#include "tok/toolcalls.h"

#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"

typedef struct {
    const Tokenizer *t;
    Arena *a;            /* the output's */
    ChatToolCall *calls; /* owns [n] (moved into the arena at the end) */
    int n, cap;
} Reader;

/* One call of the list; 1 when it is not what mistral-common accepts
 * (ToolCall(id=str, function=FunctionCall(name=str, arguments=dict))). */
static int read_call(Reader *r, const Json *c) {
    const Json *name = json_get(c, "name"), *args = json_get(c, "arguments"), *id = json_get(c, "id");
    if (!name || name->type != JSON_STR || memchr(name->s, 0, name->len)) return 1;
    if (!args || args->type != JSON_OBJ || (id && id->type != JSON_STR)) return 1;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 4;
        r->calls = xrealloc(r->calls, (size_t)r->cap * sizeof *r->calls);
    }
    ChatToolCall *tc = &r->calls[r->n++];
    ByteBuf b = {0};
    json_dump(&b, args, 0);
    tc->name = arena_strndup(r->a, name->s, name->len);
    tc->arguments = arena_strndup(r->a, b.p, b.n);
    bytebuf_free(&b);
    /* NULL: one is drawn once every call is known (see draw_ids) */
    tc->id = id && !memchr(id->s, 0, id->len) && chat_call_id_ok(id->s) ? arena_strndup(r->a, id->s, id->len) : NULL;
    return 0;
}

/* One part: [TOOL_CALLS] and the ids up to the next one. 0, 1 when
 * malformed, -1 when the ids do not decode. */
static int read_part(Reader *r, const int *ids, int n) {
    ByteBuf text = {0};
    if (tokenizer_decode_text(r->t, ids, n, &text)) return -1;
    Arena tmp = {0};
    Json v;
    int bad = json_parse(&v, &tmp, text.p ? text.p : "", text.n, JSON_PY_MAX_DEPTH, NULL) || v.type != JSON_ARR;
    for (int k = 0; !bad && k < v.n; k++) bad = read_call(r, &v.item[k]);
    arena_free(&tmp);
    bytebuf_free(&text);
    return bad;
}

/* The calls without a usable id get 9 letters and digits (what formats v3+
 * accept and OpenAI clients echo back), each unlike every other id here. */
static void draw_ids(Reader *r, uint64_t seed) {
    static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    for (int k = 0; k < r->n; k++) {
        if (r->calls[k].id) continue;
        char id[10] = {0};
        int clash = 1;
        while (clash) {
            for (int i = 0; i < 9; i++) id[i] = alnum[splitmix64(&seed) % 62];
            clash = 0;
            for (int j = 0; j < r->n && !clash; j++) clash = r->calls[j].id && !strcmp(r->calls[j].id, id);
        }
        r->calls[k].id = arena_strndup(r->a, id, 9);
    }
}

int toolcalls_start_id(const Tokenizer *t, int format) {
    int fmt = chat_format_resolve(t, format);
    return fmt >= CHAT_V2 ? tokenizer_special(t, "[TOOL_CALLS]") : -1;
}

int toolcalls_is_start(const Tokenizer *t, int format, int id) {
    return id >= 0 && id == toolcalls_start_id(t, format);
}

int toolcalls_parse(const Tokenizer *t, int format, const int *ids, int n, uint64_t seed, ToolCalls *out) {
    memset(out, 0, sizeof *out);
    if (chat_format_resolve(t, format) < 0) return -1;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return err_set("tool calls: id %d at %d is outside the vocabulary (%d)", ids[i], i, t->n_vocab);
    int start = toolcalls_start_id(t, format), first = 0;
    while (first < n && (start < 0 || ids[first] != start)) first++;
    Reader r = {t, &out->arena, NULL, 0, 0};
    int bad = 0;
    for (int i = first, j; i < n && !bad; i = j) {
        for (j = i + 1; j < n && ids[j] != start;) j++;
        bad = read_part(&r, ids + i, j - i);
    }
    ByteBuf text = {0};
    if (bad < 0 || tokenizer_decode_text(t, ids, bad ? n : first, &text)) {
        free(r.calls);
        bytebuf_free(&text);
        toolcalls_free(out);
        return -1;
    }
    out->content = arena_strndup(&out->arena, text.p, text.n);
    out->content_len = text.n;
    out->n_content_ids = first;
    bytebuf_free(&text);
    if (!bad && r.n) {
        draw_ids(&r, seed);
        out->calls = arena_alloc(&out->arena, (size_t)r.n * sizeof *out->calls);
        memcpy(out->calls, r.calls, (size_t)r.n * sizeof *out->calls);
        out->n_calls = r.n;
    }
    free(r.calls);
    return 0;
}

void toolcalls_free(ToolCalls *tc) {
    arena_free(&tc->arena);
    memset(tc, 0, sizeof *tc);
}
