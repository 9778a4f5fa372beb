/* toolcall — tool_choice as a grammar (toolcall.h). */
#include "grammar/toolcall.h"

#include <stdio.h>
#include <string.h>

#include "base/json.h"
#include "base/util.h"
#include "tok/chat.h"

int toolcall_any_text(Grammar *g) {
    ByteSet all;
    memset(&all, 0xff, sizeof all);
    return grammar_repeat(g, "tc-text", grammar_bytes(g, &all), 0, -1);
}

static void lit(Grammar *g, SymVec *seq, const char *s) { grammar_literal(g, seq, s, strlen(s)); }

/* An optional space: json.dumps' separators, or none. */
static Sym space(Grammar *g) {
    int r = grammar_find(g, "tc-space");
    if (r < 0) {
        Sym sp = grammar_byte(g, ' ');
        r = grammar_rule(g, "tc-space");
        grammar_alt(g, r, NULL, 0);
        grammar_alt(g, r, &sp, 1);
    }
    return sym_rule(r);
}

/* The arguments' schema as an object's: "type": "object" added where there
 * is no type; another type is an error. */
static int object_schema(const ToolCallTool *t, ByteBuf *out) {
    const char *s = t->parameters ? t->parameters : "{}";
    size_t n = t->parameters ? t->len : 2;
    Arena a = {0};
    Json v;
    int rc = -1;
    if (json_parse(&v, &a, s, n, JSON_PY_MAX_DEPTH, NULL) || v.type != JSON_OBJ) {
        err_set("tools[%d].function.parameters: json schema: : must be a JSON object", t->index);
        goto done;
    }
    const Json *type = json_get(&v, "type");
    if (type) {
        int ok = type->type == JSON_STR && !strcmp(type->s, "object");
        ok |= type->type == JSON_ARR && type->n == 1 && type->item[0].type == JSON_STR && !strcmp(type->item[0].s, "object");
        if (!ok) {
            err_set("tools[%d].function.parameters: json schema: /type: the arguments of a call must be an object "
                    "(type \"object\")", t->index);
            goto done;
        }
        bytebuf_push(out, s, n);
    } else {
        bytebuf_push(out, "{\"type\": \"object\"", 17);
        if (v.n) bytebuf_putc(out, ',');
        const char *brace = memchr(s, '{', n); /* an object: the text's first '{' opens it */
        bytebuf_push(out, brace + 1, n - (size_t)(brace + 1 - s));
    }
    rc = 0;
done:
    arena_free(&a);
    return rc;
}

/* {"name": "f", "arguments": ARGS(, "id": "abcdefghi")} for tool t. */
static int call_rule(Grammar *g, const ToolCallSpec *s, const ToolCallTool *t, int id) {
    ByteBuf schema = {0};
    if (object_schema(t, &schema)) return -1;
    JsonSchemaOptions jo = {.strict = t->strict, .whitespace = s->whitespace};
    int args = jsonschema_rule(g, schema.p, schema.n, &jo);
    bytebuf_free(&schema);
    if (args < 0) {
        char why[400];
        snprintf(why, sizeof why, "%s", err_msg());
        return err_set("tools[%d].function.parameters: %s", t->index, why);
    }
    SymVec seq = {0};
    char head[96];
    snprintf(head, sizeof head, "\"%s\",", t->name);
    lit(g, &seq, "{\"name\":");
    symvec_push(&seq, space(g));
    lit(g, &seq, head);
    symvec_push(&seq, space(g));
    lit(g, &seq, "\"arguments\":");
    symvec_push(&seq, space(g));
    symvec_push(&seq, sym_rule(args));
    if (id >= 0) symvec_push(&seq, sym_rule(id));
    lit(g, &seq, "}");
    int r = grammar_rule(g, "tc-call-%s", t->name);
    grammar_alt(g, r, seq.v, seq.n);
    symvec_free(&seq);
    return r;
}

/* v3+: an optional `, "id": "` 9 letters and digits `"`. */
static int id_rule(Grammar *g) {
    ByteSet alnum = {0};
    byteset_add_range(&alnum, 'a', 'z'), byteset_add_range(&alnum, 'A', 'Z'), byteset_add_range(&alnum, '0', '9');
    SymVec seq = {0};
    lit(g, &seq, ",");
    symvec_push(&seq, space(g));
    lit(g, &seq, "\"id\":");
    symvec_push(&seq, space(g));
    lit(g, &seq, "\"");
    for (int i = 0; i < 9; i++) symvec_push(&seq, grammar_bytes(g, &alnum));
    lit(g, &seq, "\"");
    int r = grammar_rule(g, "tc-id");
    grammar_alt(g, r, NULL, 0);
    grammar_alt(g, r, seq.v, seq.n);
    symvec_free(&seq);
    return r;
}

/* [TOOL_CALLS] [call(, call)*] */
static int calls_rule(Grammar *g, const ToolCallSpec *s) {
    if (s->n_tools < 1) return err_set("tool calls: no function to call");
    int id = s->format >= CHAT_V3 ? id_rule(g) : -1;
    int call = grammar_rule(g, "tc-call");
    for (int i = 0; i < s->n_tools; i++) {
        int r = call_rule(g, s, &s->tools[i], id);
        if (r < 0) return -1;
        Sym x = sym_rule(r);
        grammar_alt(g, call, &x, 1);
    }
    SymVec seq = {0};
    int more = -1;
    if (s->parallel) { /* (", " call)* */
        lit(g, &seq, ",");
        symvec_push(&seq, space(g));
        symvec_push(&seq, sym_rule(call));
        int one = grammar_rule(g, "tc-next");
        grammar_alt(g, one, seq.v, seq.n);
        seq.n = 0;
        more = grammar_repeat(g, "tc-more", sym_rule(one), 0, -1);
    }
    symvec_push(&seq, sym_special(s->start_token));
    symvec_push(&seq, space(g));
    lit(g, &seq, "[");
    symvec_push(&seq, sym_rule(call));
    if (more >= 0) symvec_push(&seq, sym_rule(more));
    lit(g, &seq, "]");
    int r = grammar_rule(g, "tc-calls");
    grammar_alt(g, r, seq.v, seq.n);
    symvec_free(&seq);
    return r;
}

int toolcall_rule(Grammar *g, const ToolCallSpec *s) {
    if (s->format != CHAT_V2 && s->format != CHAT_V3 && s->format != CHAT_V7)
        return err_set("tool calls: chat format %d has no tool calls (v2, v3 or v7)", s->format);
    if (s->start_token < 0) return err_set("tool calls: the tokenizer has no [TOOL_CALLS] token");
    int content = s->content >= 0 ? s->content : toolcall_any_text(g);
    int root = grammar_rule(g, "tc-reply");
    Sym c = sym_rule(content);
    if (s->mode == TOOLCALL_NONE) {
        grammar_alt(g, root, &c, 1);
        return root;
    }
    int calls = calls_rule(g, s);
    if (calls < 0) return -1;
    Sym k = sym_rule(calls);
    if (s->mode == TOOLCALL_AUTO) {
        grammar_alt(g, root, &c, 1);
        if (s->format >= CHAT_V7) grammar_alt(g, root, (Sym[]){c, k}, 2);
        else grammar_alt(g, root, &k, 1);
    } else {
        grammar_alt(g, root, &k, 1);
    }
    return root;
}

int toolcall_compile(Grammar *g, const ToolCallSpec *s) {
    int r = toolcall_rule(g, s);
    if (r < 0) return -1;
    g->start = r;
    return grammar_finish(g);
}
