/* anthropic — Anthropic's Messages API (POST /v1/messages, and
 * /v1/messages/count_tokens) over the engine, the way Claude Code and the
 * @anthropic-ai/sdk client speak it.
 *
 * Request: model, messages (user and assistant, content a string or blocks:
 * text, tool_use, tool_result with string or text-block content and
 * is_error), system (a string or text blocks), max_tokens (required),
 * temperature (0..1), top_p, top_k, stop_sequences (at most 4), stream,
 * tools ({name, description, input_schema}), tool_choice ({"type": "auto" |
 * "any" | "tool" (with "name") | "none"}, disable_parallel_tool_use),
 * metadata (user_id: taken and not used, as Anthropic documents it), thinking
 * ({"type": "disabled"} only), cache_control on blocks and tools (the
 * server's prefix cache reuses prompts without being asked). Anything else,
 * and blocks of other types (image, document, thinking ...), is a 400 naming
 * it. A last assistant message is continued (Anthropic's prefill: chat's
 * "prefix": true). is_error is not shown to the model (Mistral's formats
 * have no place for it). Tool-use ids that are not 9 letters and digits
 * (Anthropic's "toolu_...") are hashed to such ids (dialect_call_id), the
 * same in a tool_use and its tool_result.
 *
 * A max_tokens past the context's room is taken as the room; a reply that
 * fills it ends with stop_reason "model_context_window_exceeded".
 *
 * Response: {"id": "msg_...", "type": "message", "role": "assistant",
 * "content": [text block, tool_use blocks], "stop_reason": "end_turn" |
 * "max_tokens" | "stop_sequence" | "tool_use" |
 * "model_context_window_exceeded", "stop_sequence", "usage": {"input_tokens"
 * (the whole prompt), "output_tokens"}}; streamed as message_start, ping,
 * content_block_start / content_block_delta (text_delta, input_json_delta)
 * / content_block_stop per block, message_delta (stop_reason, usage),
 * message_stop; a reply cut by the server stopping ends with an "error"
 * event instead. Errors: {"type": "error", "error": {"type", "message"}}. */
#ifndef SERVER_ANTHROPIC_H
#define SERVER_ANTHROPIC_H

#include "server/dialect.h"

extern const ApiDialect anthropic_dialect;

/* /v1/messages/count_tokens: the prompt's tokens of a request (max_tokens
 * not needed) into *n. 0, or -1 with e. */
int anthropic_count_tokens(const char *body, size_t len, const ApiConfig *cfg, int *n, ApiError *e);

#endif
