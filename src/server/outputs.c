/* outputs — response_format and tool_choice into a grammar (outputs.h). */
#include "server/outputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/compile.h"
#include "grammar/jsonschema.h"
#include "grammar/toolcall.h"
#include "tok/chat.h"
#include "tok/toolcalls.h"

static int is_str(const Json *v, const char *lit) {
    return v && v->type == JSON_STR && v->len == strlen(lit) && !memcmp(v->s, lit, v->len);
}

/* ---- response_format ------------------------------------------------------- */

typedef struct {
    ConstraintKind kind; /* NONE, JSON_OBJECT or JSON_SCHEMA */
    ByteBuf schema;      /* JSON_SCHEMA: the schema's text */
    int strict;
} Format;

static int parse_format(const Json *root, Format *f, ApiError *e) {
    static const char *const keys[] = {"type", "json_schema", NULL};
    static const char *const schema_keys[] = {"name", "description", "schema", "strict", NULL};
    const Json *v = json_get(root, "response_format");
    f->kind = CONSTRAINT_NONE;
    if (json_is_null(v)) return 0;
    if (v->type != JSON_OBJ) return api_error(e, 400, "response_format", "'response_format' must be an object");
    if (api_only_fields(v, "response_format", keys, e)) return -1;
    const Json *type = json_get(v, "type"), *js = json_get(v, "json_schema");
    if (is_str(type, "text")) return 0;
    if (is_str(type, "json_object")) {
        f->kind = CONSTRAINT_JSON_OBJECT;
        return 0;
    }
    if (!is_str(type, "json_schema"))
        return api_error(e, 400, "response_format",
                         "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"%s%.40s%s",
                         type && type->type == JSON_STR ? ", not \"" : "", type && type->type == JSON_STR ? type->s : "",
                         type && type->type == JSON_STR ? "\"" : "");
    if (json_is_null(js) || js->type != JSON_OBJ)
        return api_error(e, 400, "response_format", "'response_format.json_schema' must be an object with a 'schema'");
    if (api_only_fields(js, "response_format.json_schema", schema_keys, e)) return -1;
    const Json *name = json_get(js, "name"), *schema = json_get(js, "schema"), *strict = json_get(js, "strict");
    if (!json_is_null(name) && name->type != JSON_STR)
        return api_error(e, 400, "response_format", "'response_format.json_schema.name' must be a string");
    if (json_is_null(schema) || (schema->type != JSON_OBJ && schema->type != JSON_TRUE))
        return api_error(e, 400, "response_format", "'response_format.json_schema.schema' must be a JSON Schema object");
    if (!json_is_null(strict) && strict->type != JSON_TRUE && strict->type != JSON_FALSE)
        return api_error(e, 400, "response_format", "'response_format.json_schema.strict' must be true or false");
    f->kind = CONSTRAINT_JSON_SCHEMA;
    f->strict = strict && strict->type == JSON_TRUE;
    json_dump(&f->schema, schema, 0);
    return 0;
}

/* ---- tools and tool_choice -------------------------------------------------- */

typedef struct {
    ToolCallMode mode;
    const char *named; /* a named function; NULL otherwise */
    int parallel;
    const Json *tools; /* NULL when there are none */
} Choice;

static int parse_choice(const Json *root, Choice *c, ApiError *e) {
    const Json *tools = json_get(root, "tools"), *v = json_get(root, "tool_choice");
    const Json *par = json_get(root, "parallel_tool_calls");
    c->tools = tools && tools->type == JSON_ARR && tools->n > 0 ? tools : NULL; /* chat_parse checks the rest */
    c->mode = TOOLCALL_AUTO, c->named = NULL, c->parallel = 1;
    if (!json_is_null(par)) {
        if (par->type != JSON_TRUE && par->type != JSON_FALSE)
            return api_error(e, 400, "parallel_tool_calls", "'parallel_tool_calls' must be true or false");
        c->parallel = par->type == JSON_TRUE;
    }
    if (json_is_null(v) || is_str(v, "auto")) return 0;
    if (is_str(v, "none")) c->mode = TOOLCALL_NONE;
    else if (is_str(v, "required") || is_str(v, "any")) c->mode = TOOLCALL_REQUIRED;
    else if (v->type == JSON_OBJ) {
        const Json *type = json_get(v, "type"), *fn = json_get(v, "function"), *name = json_get(fn, "name");
        if ((!json_is_null(type) && !is_str(type, "function")) || !name || name->type != JSON_STR)
            return api_error(e, 400, "tool_choice",
                             "'tool_choice' as an object must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
        c->mode = TOOLCALL_REQUIRED, c->named = name->s;
    } else {
        return api_error(e, 400, "tool_choice",
                         "'tool_choice' must be \"none\", \"auto\", \"required\", \"any\" or {\"type\": \"function\", "
                         "\"function\": {\"name\": ...}}");
    }
    if (c->mode == TOOLCALL_REQUIRED && !c->tools)
        return api_error(e, 400, "tool_choice", "'tool_choice' %s%s%s needs 'tools'", c->named ? "names \"" : "\"",
                         c->named ? c->named : "required", "\"");
    if (c->named) {
        int found = 0;
        for (int i = 0; i < c->tools->n && !found; i++)
            found = is_str(json_get(json_get(&c->tools->item[i], "function"), "name"), c->named);
        if (!found)
            return api_error(e, 400, "tool_choice", "'tool_choice' names function \"%.64s\", which is not in 'tools'",
                             c->named);
    }
    return 0;
}

/* The tools a call may name (a named choice: that one), with their
 * parameters' text in bufs. */
static int collect_tools(const Choice *c, ToolCallTool *out, ByteBuf *bufs) {
    int n = 0;
    for (int i = 0; i < c->tools->n; i++) {
        const Json *fn = json_get(&c->tools->item[i], "function"), *name = json_get(fn, "name");
        const Json *params = json_get(fn, "parameters"), *strict = json_get(fn, "strict");
        if (c->named && !is_str(name, c->named)) continue;
        ToolCallTool *t = &out[n];
        *t = (ToolCallTool){.name = name->s, .strict = strict && strict->type == JSON_TRUE, .index = i};
        if (!json_is_null(params)) {
            json_dump(&bufs[n], params, 0);
            t->parameters = bufs[n].p, t->len = bufs[n].n;
        }
        n++;
    }
    return n;
}

/* ---- the grammar -------------------------------------------------------------- */

/* The grammar of format f and the calls c allows, into g. 0, or -1 with e. */
static int compile(Grammar *g, const Format *f, const Choice *c, int calls_token, const ApiConfig *cfg, ApiError *e) {
    JsonSchemaOptions jo = {.strict = f->strict, .whitespace = API_JSON_WHITESPACE};
    if (calls_token < 0) { /* the format alone */
        ConstraintSpec s = {.kind = f->kind, .text = f->schema.p, .len = f->schema.n, .strict = f->strict,
                            .whitespace = API_JSON_WHITESPACE};
        if (grammar_compile(g, &s, cfg->tok) == 0) return 0;
        return api_error(e, 400, "response_format", "response_format.json_schema.schema: %s", err_msg());
    }
    grammar_init(g);
    int content = -1;
    if (f->kind == CONSTRAINT_JSON_OBJECT) content = jsonschema_rule(g, "{\"type\": \"object\"}", 18, &jo);
    else if (f->kind == CONSTRAINT_JSON_SCHEMA) content = jsonschema_rule(g, f->schema.p, f->schema.n, &jo);
    if (f->kind != CONSTRAINT_NONE && content < 0)
        return api_error(e, 400, "response_format", "response_format.json_schema.schema: %s", err_msg());
    ToolCallTool *tools = xcalloc((size_t)c->tools->n, sizeof *tools);
    ByteBuf *bufs = xcalloc((size_t)c->tools->n, sizeof *bufs);
    int n = collect_tools(c, tools, bufs);
    ToolCallSpec ts = {.format = chat_format_resolve(cfg->tok, cfg->chat_format), .start_token = calls_token,
                       .mode = c->mode, .tools = tools, .n_tools = n, .parallel = c->parallel, .content = content,
                       .whitespace = API_JSON_WHITESPACE};
    int rc = toolcall_compile(g, &ts);
    if (rc) api_error(e, 400, "tools", "%s", err_msg());
    for (int i = 0; i < c->tools->n; i++) bytebuf_free(&bufs[i]);
    free(bufs), free(tools);
    return rc;
}

int api_parse_outputs(const Json *root, int chat, const ApiConfig *cfg, Grammar **out, ApiError *e) {
    *out = NULL;
    Format f = {0};
    Choice c = {0};
    if (parse_format(root, &f, e) || (chat && parse_choice(root, &c, e))) {
        bytebuf_free(&f.schema);
        return -1;
    }
    int calls_token = -1;
    if (c.tools) {
        calls_token = toolcalls_start_id(cfg->tok, cfg->chat_format);
        if (calls_token < 0 && c.mode == TOOLCALL_REQUIRED) {
            bytebuf_free(&f.schema);
            return api_error(e, 400, "tool_choice", "'tool_choice' asks for a tool call, but this model's chat format "
                                                    "has no tool calls (its tokenizer has no [TOOL_CALLS])");
        }
    }
    if (f.kind == CONSTRAINT_NONE && calls_token < 0) return 0;
    Grammar *g = xcalloc(1, sizeof *g);
    int rc = compile(g, &f, &c, calls_token, cfg, e);
    bytebuf_free(&f.schema);
    if (rc) {
        grammar_free(g);
        free(g);
        return -1;
    }
    *out = g;
    return 0;
}
