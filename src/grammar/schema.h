/* schema — the JSON Schema compiler's shared state and helpers, between
 * jsonschema.c (the walk and the types) and schemamerge.c (allOf and
 * applicators merged into one node). Internal to those two files. */
#ifndef GRAMMAR_SCHEMA_H
#define GRAMMAR_SCHEMA_H

#include <cjson/cJSON.h>

#include "base/vec.h"
#include "grammar/grammar.h"
#include "grammar/jsontext.h"

/* JSON types as bits; "number" is T_NUM | T_INT. */
enum { T_NULL = 1, T_BOOL = 2, T_OBJ = 4, T_ARR = 8, T_STR = 16, T_INT = 32, T_NUM = 64, T_ALL = 127 };

typedef struct {
    const cJSON *node; /* view: the target */
    int rule;
    char *path; /* owns: the target's JSON pointer */
} SchemaRef;

typedef struct {
    Grammar *g; /* view */
    JsonText t;
    int strict;
    cJSON *root;     /* owns */
    cJSON *owned;    /* owns: an array of the nodes schema_merge made */
    SchemaRef *refs; /* owns [n_refs] */
    int n_refs, cap_refs;
    ByteBuf path; /* the JSON pointer of the node being compiled */
    int depth, first_rule;
} SchemaCtx;

/* err_set("json schema: <path>: <message>"); returns -1. */
int schema_fail(SchemaCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The node a local $ref names, or NULL with err set. */
const cJSON *schema_resolve(SchemaCtx *c, const char *ref);
/* -1 with err set when s has a keyword that is not supported (and not
 * trivially satisfied). */
int schema_check_keywords(SchemaCtx *c, const cJSON *s);
/* The T_ bits of a "type" value (NULL: T_ALL), or -1 with err set. */
int schema_type_bits(SchemaCtx *c, const cJSON *type);
/* The T_ bit of a JSON value (a number with no fraction is T_INT). */
int schema_value_type(const cJSON *v);
/* The item count of an array node (0 for anything else). */
int schema_count(const cJSON *a);

/* s (an object schema) with its applicators merged (schemamerge.c): a
 * node without allOf and $ref, and with at most an anyOf whose branches are
 * {"allOf": [...]} still to merge; or a false schema. The node lives in
 * c->owned. NULL with err set when the parts cannot be merged. */
const cJSON *schema_merge(SchemaCtx *c, const cJSON *s);

/* In strict mode, -1 with err set unless the branches of the oneOf list
 * are provably pairwise disjoint (no value valid under two: by type,
 * const/enum values, a property both require whose schemas are disjoint,
 * number bounds) among the values of the types `beside` allows (the node
 * holding the oneOf beside other keywords; NULL: every type), so that
 * compiling them as anyOf is exact; 0 otherwise (without strict, oneOf is
 * compiled as anyOf). */
int schema_oneof_check(SchemaCtx *c, const cJSON *list, const cJSON *beside);

#endif
