/* toolcalls — an assistant reply's generated ids read back as content and
 * tool calls: the inverse of what chat_encode writes for an assistant message
 * (tok/chat.h), following mistral-common's own decoder
 * (experimental/tools.py: _split_content_and_tool_calls, _decode_tool_calls;
 * experimental/app/routers.py: detokenize_to_assistant_message).
 *
 * What the model writes, per format:
 *   v1      no tool calls: the reply is all content, never parsed
 *   v2      content, or [TOOL_CALLS] then a JSON list
 *           [{"name": ..., "arguments": {...}}, ...]; no call ids
 *   v3, v7  the same list, each call with "id": 9 letters/digits;
 *           v7 may put content before [TOOL_CALLS] (v2/v3 requests cannot
 *           hold both in one message, but a reply is read as it comes)
 *   tekken  the Tekken file's version (v3 for tekken_240718, else v7)
 * The ids are split at every [TOOL_CALLS]: what comes before the first is the
 * content, each part from a [TOOL_CALLS] on is decoded as text (special
 * tokens such as [TOOL_CALLS] and EOS give nothing: SpecialTokenPolicy.IGNORE)
 * and read with json.loads; its calls, in order, join the list.
 *
 * Malformed output: a part that is not JSON (a reply cut by max_tokens, or
 * garbage), not a list, an item that is not an object with a string "name"
 * (no NUL) and an object "arguments", or an "id" that is not a string, makes
 * the whole reply plain content (all ids decoded as text, [TOOL_CALLS]
 * giving nothing) with no calls. mistral-common raises there; a server has
 * nothing better to return than the text, so this is not an error. */
#ifndef TOK_TOOLCALLS_H
#define TOK_TOOLCALLS_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "tok/chat.h"
#include "tok/tokenizer.h"

typedef struct {
    const char *content; /* the text before the first [TOOL_CALLS] (the whole reply
                            when no calls were read), as tokenizer_decode_text gives
                            it; NUL-terminated, "" when none; may hold NUL bytes */
    size_t content_len;
    ChatToolCall *calls; /* [n_calls]; each id, name and arguments as below */
    int n_calls;
    int n_content_ids;   /* ids before the first [TOOL_CALLS] (n when there is none) */
    Arena arena;         /* owns content, calls and their strings */
} ToolCalls;

/* Reads the generated ids[0..n) of one assistant reply (EOS at the end or
 * not) in `format` (CHAT_*; CHAT_TEKKEN as chat_encode resolves it).
 * For each call:
 *   name       the function name, as written
 *   arguments  json.dumps(arguments, ensure_ascii=False): ", " and ": "
 *              separators, key order kept, non-ASCII as it is. This is the
 *              form chat_encode writes (ChatToolCall.arguments), so the call
 *              sent back by a client re-encodes to the very ids the model
 *              generated, and parse(encode(call)) == call byte for byte. It is
 *              a JSON object's text, which is what an OpenAI client's
 *              json.loads(arguments) expects; mistral-common's FunctionCall
 *              holds json.dumps(arguments) (ASCII-escaped): the same object.
 *   id         the model's, when it wrote one chat_encode accepts back
 *              (chat_call_id_ok: v3+ models write them); otherwise 9 letters
 *              and digits drawn from `seed` (the same seed gives the same
 *              ids), unlike any other id of the reply.
 * out is zeroed first and owns what it holds (toolcalls_free).
 * Returns 0, also for malformed output (see above). -1 with err set only for
 * the caller's mistakes: an unknown format (or a Tekken version chat_encode
 * does not handle), an id outside the vocabulary; out is then zeroed.
 *
 * Streaming: text before [TOOL_CALLS] may be streamed as it comes (the
 * server's Stream); at [TOOL_CALLS] (toolcalls_is_start) stop streaming and
 * keep the ids; at the end call toolcalls_parse on all the reply's ids. With
 * calls, flush the stream (stream_finish) and send the calls; without
 * (malformed), content begins with every complete character streamed so far,
 * so send content from the streamed byte count on. */
int toolcalls_parse(const Tokenizer *t, int format, const int *ids, int n, uint64_t seed, ToolCalls *out);

/* Frees; accepts a zeroed ToolCalls. */
void toolcalls_free(ToolCalls *tc);

/* The id of [TOOL_CALLS] when `format` reads tool calls (v2 and later) and
 * the tokenizer has it; -1 otherwise (v1, an unknown format). */
int toolcalls_start_id(const Tokenizer *t, int format);

/* 1 when id is where the format's tool calls begin (see toolcalls_start_id). */
int toolcalls_is_start(const Tokenizer *t, int format, int id);

#endif
