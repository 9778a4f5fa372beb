/* compile — every constraint language through one entry (compile.h). */
#include "grammar/compile.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/gbnf.h"
#include "grammar/jsonschema.h"
#include "grammar/regex.h"

/* GBNF's <name>: the control token spelled text, or spelled what the angle
 * brackets hold. */
static int gbnf_token(void *user, const char *text, size_t len) {
    const Tokenizer *tok = user;
    if (!tok || len > 255) return -1;
    char name[256];
    memcpy(name, text, len);
    name[len] = 0;
    int id = tokenizer_special(tok, name);
    if (id < 0 && len > 2 && name[0] == '<' && name[len - 1] == '>') {
        name[len - 1] = 0;
        id = tokenizer_special(tok, name + 1);
    }
    return id;
}

int grammar_compile(Grammar *g, const ConstraintSpec *s, const Tokenizer *tok) {
    grammar_init(g);
    JsonSchemaOptions jo = {.strict = s->strict, .whitespace = s->whitespace};
    GbnfOptions go = {.token = gbnf_token, .user = (void *)tok};
    switch (s->kind) {
    case CONSTRAINT_JSON_SCHEMA:
        return jsonschema_compile(g, s->text ? s->text : "", s->text ? s->len : 0, &jo);
    case CONSTRAINT_JSON_OBJECT:
        return jsonschema_compile_any(g, JSONSCHEMA_ANY_OBJECT, &jo);
    case CONSTRAINT_JSON_VALUE:
        return jsonschema_compile_any(g, JSONSCHEMA_ANY_VALUE, &jo);
    case CONSTRAINT_GBNF:
        return gbnf_compile(g, s->text ? s->text : "", s->text ? s->len : 0, &go);
    case CONSTRAINT_REGEX:
        return regex_compile(g, s->text ? s->text : "", s->text ? s->len : 0);
    case CONSTRAINT_NONE:
        break;
    }
    return err_set("constraint: no constraint to compile (kind %d)", (int)s->kind);
}

int constraint_kind_from_name(const char *name) {
    static const struct {
        const char *name;
        ConstraintKind kind;
    } names[] = {{"json_schema", CONSTRAINT_JSON_SCHEMA}, {"json_object", CONSTRAINT_JSON_OBJECT},
                 {"json", CONSTRAINT_JSON_VALUE},         {"gbnf", CONSTRAINT_GBNF},
                 {"regex", CONSTRAINT_REGEX}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i].name)) return (int)names[i].kind;
    return -1;
}
