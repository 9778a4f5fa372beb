/* toolcall — an assistant reply under OpenAI's tool_choice, as a grammar:
 * content, or tool calls in the chat format's own syntax (exactly what
 * tok/toolcalls.c reads back), each call's arguments valid under its
 * function's `parameters` JSON Schema (grammar/jsonschema.h).
 *
 * Formats v2, v3 and v7 (and Tekken files of those versions) write calls as
 * mistral-common does (tok/chat.c dump_calls):
 *   [TOOL_CALLS] [{"name": "f", "arguments": {...}}, {"name": ...}]
 * [TOOL_CALLS] is the tokenizer's control token (SYM_SPECIAL, never its
 * spelling: toolcalls.c splits the ids at the token, and a tokenizer without
 * it has no tool calls at all); the list is JSON, a space optional after
 * [TOOL_CALLS], ',' and ':' (json.dumps' ", " and compact JSON read back the
 * same); "name" then "arguments", then for v3 and later optionally "id": 9
 * letters and digits (the model's id, which toolcalls.c keeps). The list is
 * the reply's end: toolcalls.c reads everything from [TOOL_CALLS] on as one
 * JSON list, so after ']' nothing may follow (the reply ends there).
 *
 * Modes (OpenAI's tool_choice):
 *   NONE      content only: [TOOL_CALLS] is never allowed
 *   AUTO      content, or calls; v7 messages hold both, so there content
 *             may come before [TOOL_CALLS] (v2/v3: one or the other)
 *   REQUIRED  calls only ("required", Mistral's "any"; a named function:
 *             give only that tool)
 * A list holds one call or more; with parallel 0 exactly one.
 *
 * Arguments: toolcalls.c reads a call only when its arguments are a JSON
 * object, so a schema without "type" gets "type": "object", and one whose
 * type is anything else is an error. A tool without parameters takes any
 * object (strict: only {}). */
#ifndef GRAMMAR_TOOLCALL_H
#define GRAMMAR_TOOLCALL_H

#include <stddef.h>

#include "grammar/grammar.h"
#include "grammar/jsonschema.h"

typedef enum { TOOLCALL_NONE, TOOLCALL_AUTO, TOOLCALL_REQUIRED } ToolCallMode;

typedef struct {
    const char *name;       /* view: the function name, NUL-terminated JSON-safe
                               ([a-zA-Z0-9_-]{1,64}, as chat_parse checks) */
    const char *parameters; /* view [len]: its JSON Schema; NULL: any object */
    size_t len;
    int strict;             /* the function's "strict": additionalProperties false */
    int index;              /* its place in the request's tools, for errors */
} ToolCallTool;

typedef struct {
    int format;               /* CHAT_V2, CHAT_V3 or CHAT_V7 (chat_format_resolve'd) */
    int start_token;          /* the [TOOL_CALLS] control token's id */
    ToolCallMode mode;
    const ToolCallTool *tools; /* view [n_tools]: the functions a call may name */
    int n_tools;
    int parallel;             /* 0: a list holds exactly one call */
    int content;              /* the content: a rule of g (response_format), or -1: any text */
    int whitespace;           /* the arguments' JSON whitespace (jsonschema.h) */
} ToolCallSpec;

/* Adds the reply's rule to g (which may already hold s->content) and
 * returns it; -1 with err set: "tools[i].function.parameters: json schema:
 * <pointer>: <what>", an arguments schema that is not an object's, no
 * tools for calls, a format without tool calls. */
int toolcall_rule(Grammar *g, const ToolCallSpec *s);

/* The same as g's start rule, and finishes g. 0, or -1 with err set. */
int toolcall_compile(Grammar *g, const ToolCallSpec *s);

/* A rule matching any bytes (free text; control tokens excluded). */
int toolcall_any_text(Grammar *g);

#endif
