/* outputs — structured outputs of the OpenAI API: response_format (text,
 * json_object, json_schema) and, for chat, tools with tool_choice and
 * parallel_tool_calls, compiled into the one grammar a request's replies
 * follow (grammar/compile.h, grammar/toolcall.h).
 *
 *   response_format  {"type": "text"}: nothing; {"type": "json_object"}: a
 *                    JSON object; {"type": "json_schema", "json_schema":
 *                    {"name", "description", "schema", "strict"}}: a JSON
 *                    value valid under schema (strict: additionalProperties
 *                    false where a schema does not say)
 *   tool_choice      "auto" (the default with tools): content or calls;
 *                    "none": content only (the tools are still shown);
 *                    "required" or Mistral's "any": calls only;
 *                    {"type": "function", "function": {"name": f}}: a call
 *                    of f only
 *   parallel_tool_calls  false: exactly one call in a reply's calls
 * Calls are written in the chat format's syntax and arguments follow their
 * function's parameters (with the function's "strict"). With tools and
 * response_format together the format is the content's: "auto" is content
 * under the format or calls, "none" the content alone; "required" and a
 * named function write calls only. A format whose tokenizer has no
 * [TOOL_CALLS] (v1) has no calls: "required" or a named function is a 400
 * there, "none" and "auto" leave the reply free.
 *
 * JSON may hold API_JSON_WHITESPACE whitespace bytes after each token
 * ({"a": 1, "b": [2]}: the spacing Mistral's models write). */
#ifndef SERVER_OUTPUTS_H
#define SERVER_OUTPUTS_H

#include "base/json.h"
#include "grammar/grammar.h"
#include "server/openai.h"

#define API_JSON_WHITESPACE 1

/* Reads the request's response_format (and, when chat, tools, tool_choice
 * and parallel_tool_calls) and compiles what they ask for. *out: a
 * finished grammar the caller owns (grammar_free, then free), or NULL when
 * the reply is free. 0, or -1 with e filled (a 400 naming the field and,
 * for a schema, the JSON pointer in it). */
int api_parse_outputs(const Json *root, int chat, const ApiConfig *cfg, Grammar **out, ApiError *e);

#endif
