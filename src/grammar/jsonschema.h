/* jsonschema — JSON Schema compiled into a Grammar: the texts it accepts
 * are JSON values valid under the schema (response_format json_schema,
 * tool arguments), and json_object mode (any object) and any JSON value.
 *
 * Keywords (drafts 4 to 2020-12):
 *   type (one or an array)          supported; no type: every type
 *   properties, required            supported (order below)
 *   additionalProperties            supported: default allowed (the spec),
 *                                   false with strict; a schema too
 *   enum, const                     supported (any JSON values, compact)
 *   anyOf, oneOf                    supported. oneOf compiles as anyOf:
 *                                   exact when its branches are provably
 *                                   disjoint (types, const/enum values, a
 *                                   property both require with disjoint
 *                                   schemas, number bounds); with strict,
 *                                   other oneOfs are an error, without it
 *                                   a value matching two is not refused
 *   allOf, $ref beside keywords     supported where the schemas merge: types
 *                                   intersect, properties/required/items
 *                                   combine, bounds take the tighter, enums
 *                                   intersect, an anyOf is distributed;
 *                                   otherwise an error (two patterns...)
 *   $ref, $defs, definitions        local refs ("#", "#/$defs/x", any JSON
 *                                   pointer); recursion becomes a recursive
 *                                   rule; remote refs are an error
 *   items, prefixItems, minItems,   supported (items as an array and
 *   maxItems, additionalItems       additionalItems: draft 4-7 tuples)
 *   minLength, maxLength            supported (characters: code points; an
 *                                   escape is one); with pattern: exact
 *                                   (the pattern's language intersected
 *                                   with the bound); not with format
 *   pattern                         supported (grammar/regex.h, unanchored
 *                                   as the spec says: ^...$ to anchor)
 *   format                          date-time, date, time, email, uuid,
 *                                   ipv4, ipv6; another format is an error
 *   minimum, maximum,               integer and number: exact, bounds
 *   exclusiveMinimum/Maximum        within +-2^53, fractional ones too (a
 *                                   bounded number is written without
 *                                   exponent; its text is compared as a
 *                                   decimal with the bound's shortest
 *                                   decimal spelling)
 *   title, description, default,    ignored (annotations), as are keywords
 *   examples, $schema, $id,         JSON Schema does not define
 *   $comment, readOnly, writeOnly,
 *   deprecated, $anchor, contentMediaType, contentEncoding
 *   multipleOf, uniqueItems,        an error naming keyword and JSON pointer
 *   patternProperties, propertyNames, ("json schema: /properties/tags:
 *   dependentRequired, dependencies, uniqueItems is not supported"), except
 *   dependentSchemas, if/then/else,  where it constrains nothing (uniqueItems
 *   not, contains, minContains,     false, minProperties <= the required
 *   maxContains, minProperties,     count, maxProperties >= the properties
 *   maxProperties, unevaluated*,    that can appear)
 *   $dynamicRef, $recursiveRef
 *
 * Output shape. Objects: the properties in the order `properties` lists
 * them (then required names it does not list), each optional one may be
 * skipped; additional properties (when allowed) come after them, with keys
 * that differ from every declared name (duplicate additional keys are not
 * prevented). Strings: valid JSON strings (escapes, no raw control
 * characters). Numbers: JSON syntax (no leading zeros, no '+'). enum and
 * const values: their compact spelling only.
 * Whitespace: compact by default (`{"a":1,"b":[2,3]}`); opt->whitespace = n
 * allows up to n JSON whitespace bytes (1..1024) after each '{' '[' ','
 * ':', key and member value inside objects and arrays (so before ':' ',' '}'
 * ']' too), none before or after the whole value: bounded, so a model
 * cannot loop on whitespace.
 *
 * Bounds: schemas nest at most JSONSCHEMA_MAX_DEPTH deep (the compiler's
 * recursion; $ref targets are compiled from a work list, not recursively);
 * counts that unroll (minItems, maxItems - minItems, string lengths) at most
 * 10000; a schema adds at most JSONSCHEMA_MAX_RULES rules.
 * Errors are one line: "json schema: <JSON pointer>: <what>". */
#ifndef GRAMMAR_JSONSCHEMA_H
#define GRAMMAR_JSONSCHEMA_H

#include <stddef.h>

#include "grammar/grammar.h"

#define JSONSCHEMA_MAX_DEPTH 64
#define JSONSCHEMA_MAX_RULES 500000

typedef struct {
    int strict;     /* additionalProperties defaults to false */
    int whitespace; /* 0: compact; n: up to n whitespace bytes after each token */
} JsonSchemaOptions;

/* Compiles schema[0..len) (JSON) into a new rule of g; opt may be NULL
 * (compact, not strict). Returns the rule, or -1 with err set (rules made
 * before the error stay in g, unreferenced). */
int jsonschema_rule(Grammar *g, const char *schema, size_t len, const JsonSchemaOptions *opt);

/* The same as g's start rule, and finishes g. Returns 0, or -1. */
int jsonschema_compile(Grammar *g, const char *schema, size_t len, const JsonSchemaOptions *opt);

/* Any JSON object (json_object mode) or any JSON value, as g's start rule;
 * finishes g. Returns 0, or -1. */
enum { JSONSCHEMA_ANY_VALUE, JSONSCHEMA_ANY_OBJECT };
int jsonschema_compile_any(Grammar *g, int what, const JsonSchemaOptions *opt);

#endif
