/* responses — OpenAI's Responses API (POST /v1/responses) over the engine,
 * the way the openai client's `responses.create` and Codex-style agents
 * speak it.
 *
 * Request: model, input (a string: one user message; or items: messages
 * {"role": user | assistant | system | developer, "content": a string or
 * input_text / output_text parts}, function_call {call_id, name,
 * arguments}, function_call_output {call_id, output}), instructions (a
 * system message first; not carried over by previous_response_id, as
 * OpenAI documents), tools ([{"type": "function", name, description,
 * parameters, strict}]), tool_choice ("auto", "none", "required",
 * {"type": "function", "name"}), parallel_tool_calls, max_output_tokens,
 * temperature, top_p, stream, text ({"format": text | json_object |
 * json_schema {name, schema, strict, description}}: chat's
 * response_format), previous_response_id, store, metadata and user
 * (repeated in the response), truncation ("disabled" only), include ([]
 * only), reasoning (null only). Any other field, item type or tool type is
 * a 400 naming it. A function_call following an assistant message joins it
 * (one assistant turn with content and calls, as the model wrote it);
 * call ids that are not 9 letters and digits are hashed to such ids
 * (dialect_call_id).
 *
 * Response: {"id": "resp_...", "object": "response", "status":
 * "completed" | "incomplete" (max_output_tokens) | "failed", "output":
 * [message {content: [output_text]} when there is text or no call,
 * function_call items], "usage": {input_tokens, output_tokens,
 * total_tokens, ...}, and the request's settings}. Streamed as
 * response.created, response.in_progress, then per item
 * response.output_item.added, for a message response.content_part.added,
 * response.output_text.delta..., response.output_text.done,
 * response.content_part.done, for a call
 * response.function_call_arguments.delta and .done, then
 * response.output_item.done; last response.completed (or
 * response.incomplete, response.failed). Every event has its
 * sequence_number. Errors are OpenAI's.
 *
 * Stored responses (store: true, the default): the conversation a response
 * ends (its input, what previous_response_id brought, its output) is kept
 * in memory so a later request can continue it with previous_response_id:
 * at most RESPONSES_KEEP responses and RESPONSES_KEEP_BYTES bytes of
 * conversation, each for RESPONSES_TTL_S seconds; past these the oldest is
 * forgotten (a request naming it is a 400). */
#ifndef SERVER_RESPONSES_H
#define SERVER_RESPONSES_H

#include "server/dialect.h"

#define RESPONSES_KEEP 256
#define RESPONSES_KEEP_BYTES (64u << 20)
#define RESPONSES_TTL_S 3600

extern const ApiDialect responses_dialect;

/* The stored responses (thread-safe). */
typedef struct ResponseStore ResponseStore;
ResponseStore *responses_store_new(void);
void responses_store_free(ResponseStore *st);

#endif
