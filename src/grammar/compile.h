/* compile — one entry for every constraint language: what the CLI's flags
 * (--json-schema, --json, --grammar, --regex), the library's constraint and
 * the server's response_format name, compiled into a finished Grammar. */
#ifndef GRAMMAR_COMPILE_H
#define GRAMMAR_COMPILE_H

#include <stddef.h>

#include "grammar/grammar.h"
#include "tok/tokenizer.h"

typedef enum {
    CONSTRAINT_NONE,        /* no constraint */
    CONSTRAINT_JSON_SCHEMA, /* text: a JSON Schema (grammar/jsonschema.h) */
    CONSTRAINT_JSON_OBJECT, /* any JSON object (text unused) */
    CONSTRAINT_JSON_VALUE,  /* any JSON value (text unused) */
    CONSTRAINT_GBNF,        /* text: a grammar in llama.cpp's GBNF (grammar/gbnf.h) */
    CONSTRAINT_REGEX,       /* text: a regular expression the whole output matches */
} ConstraintKind;

typedef struct {
    ConstraintKind kind;
    const char *text; /* view [len] */
    size_t len;
    int strict;       /* JSON Schema: additionalProperties defaults to false */
    int whitespace;   /* JSON: 0 compact; n: up to n whitespace bytes between tokens */
} ConstraintSpec;

/* Compiles s into g (initialized here; the caller frees it, also on
 * failure). tok resolves GBNF's <name> control tokens (by their spelling,
 * with or without the angle brackets: <[TOOL_CALLS]> and <</s>> both name a
 * token); it may be NULL. Returns 0, or -1 with err set (what and where). */
int grammar_compile(Grammar *g, const ConstraintSpec *s, const Tokenizer *tok);

/* The kind named by name ("json_schema", "json_object", "json", "gbnf",
 * "regex"), or -1. */
int constraint_kind_from_name(const char *name);

#endif
