/* chat — chat requests encoded exactly as mistral-common encodes them
 * (MistralTokenizer.encode_chat_completion(request).tokens), token for token.
 *
 * A request is OpenAI-style JSON: {"messages": [...], "tools": [...],
 * "continue_final_message": bool}. Messages have a role (system, user,
 * assistant, tool) and a content (a string, or a list of {"type": "text",
 * "text": ...} chunks); assistants may have "tool_calls" ([{"id", "function":
 * {"name", "arguments"}}]) and "prefix"; tool messages "tool_call_id" and
 * "name". Other keys (model, temperature, ...) are ignored.
 *
 * Formats (mistral-common's InstructTokenizerV1/V2/V3/V7):
 *   v1  <s>"[INST] {system\n\n}{user} [/INST]"{assistant}</s>... as plain text
 *   v2  [INST]..[/INST] control tokens; the system prompts are joined with
 *       "\n\n" and prepended to the LAST user message; [AVAILABLE_TOOLS] goes
 *       right before the last user message; tool calls and results before
 *       the last user message are dropped; a run of tool results is one
 *       [TOOL_RESULTS] list (the golden v2 encodings of parallel calls)
 *   v3  v2, but the whole tool history is kept, with call ids
 *   v7  system messages stay where they are, as [SYSTEM_PROMPT]..[/SYSTEM_PROMPT];
 *       tool results are [TOOL_RESULTS]id[TOOL_CONTENT]content[/TOOL_RESULTS]
 * The same layouts serve SentencePiece and Tekken tokenizers (the classes do
 * not depend on the tokenizer; only the text encoding does: SentencePiece
 * puts its dummy-prefix "▁" before every piece of text, Tekken does not).
 * "tekken" means the format named by tekken.json's config.version ("v3" in
 * tekken_240718; later files say "v7", or v11/v13, which are not handled
 * here), as MistralTokenizer.from_file picks it.
 *
 * Tool-call arguments and tool results (v2/v3) are re-serialized as Python's
 * json.dumps(json.loads(s), ensure_ascii=False) writes them: ", " and ": "
 * separators, key order kept (a repeated key keeps its first place and its
 * last value), floats as Python's repr, non-ASCII kept; a string that is not
 * JSON stays a JSON string; an empty one becomes {} (base/json.h does the
 * reading and writing). */
#ifndef TOK_CHAT_H
#define TOK_CHAT_H

#include <stddef.h>

#include "base/arena.h"
#include "base/json.h"
#include "base/vec.h"
#include "tok/tokenizer.h"

/* Formats: the numbers are mistral-common's versions. */
enum { CHAT_V1 = 1, CHAT_V2 = 2, CHAT_V3 = 3, CHAT_V7 = 7, CHAT_TEKKEN = 100 };

typedef enum { CHAT_SYSTEM, CHAT_USER, CHAT_ASSISTANT, CHAT_TOOL } ChatRole;

/* Every string below is NUL-terminated UTF-8 that lives in the request's arena. */
typedef struct {
    const char *id;        /* "null" when the request has none (mistral-common's default) */
    const char *name;      /* function name */
    const char *arguments; /* the arguments as json.dumps writes them (see above) */
} ChatToolCall;

typedef struct {
    ChatRole role;
    const char *content;      /* text chunks joined with "\n\n"; NULL when null (assistant only) */
    int content_set;          /* the content is truthy: a non-empty string or chunk list */
    const char *content_json; /* tool: content re-serialized for v2/v3; NULL when Python's
                                 json.loads would raise something else than a decode error */
    const char *name;         /* tool: or NULL */
    const char *tool_call_id; /* tool: or NULL */
    ChatToolCall *calls;      /* assistant: [n_calls] */
    int n_calls;
    int prefix;               /* assistant: "prefix": true (a start to continue; no EOS) */
} ChatMessage;

typedef struct {
    ChatMessage *msg; /* [n_msg], n_msg >= 1 */
    int n_msg;
    const char *tools_json; /* the tools as mistral-common dumps them; NULL when none or [] */
    int continue_final;     /* "continue_final_message": true */
    Arena *arena;           /* owns every array and string above (chat_parse); NULL when
                               they live in the caller's arena (chat_parse_json) */
} ChatRequest;

/* Parses and validates a request (len bytes of JSON; `where` names it in
 * errors). Checks what mistral-common checks for every version: the shapes
 * above, roles, the order of roles (no tool right after a user or system
 * message, no system after an assistant or tool), the last message (user or
 * tool, or an assistant with prefix / continue_final_message), the number of
 * tool results against the calls, function and tool names
 * (^[a-zA-Z0-9_-]{1,64}$). Not checked: that tool parameters are a valid
 * JSON Schema (mistral-common runs jsonschema's Draft7 check_schema).
 * Returns 0, or -1 with one error line ("unknown chat role \"x\"", ...);
 * r is zeroed on error. */
int chat_parse(ChatRequest *r, const char *json, size_t len, const char *where);
/* The same from a document already parsed (json_parse, at most
 * CHAT_MAX_DEPTH levels), for a caller that reads other fields of the same
 * request (the server: one parse, one set of rules, for all of it): r's
 * arrays are allocated in a and its strings are views into root, so r lives
 * until a (which must hold root) is freed; chat_free then only zeroes it. */
int chat_parse_json(ChatRequest *r, const Json *root, Arena *a, const char *where);
/* Frees; accepts a zeroed request. */
void chat_free(ChatRequest *r);

/* The deepest nesting of a request's JSON that chat_parse reads. */
#define CHAT_MAX_DEPTH 200

/* "v1", "v2", "v3", "v7" or "tekken" -> CHAT_*; -1 with err otherwise. */
int chat_format_from_name(const char *name);
/* The format mistral-common uses with this tokenizer: the file name's
 * version (tokenizer.model: v1; .model.v3m1: v3), or tekken.json's
 * config.version. -1 with err for versions not handled here (v11, v13 ...). */
int chat_format_default(const Tokenizer *t);

/* The format chat_encode uses for `format`: CHAT_TEKKEN becomes the
 * Tekken file's version (chat_format_default); the others stay. -1 with err
 * for an unknown number or "tekken" with a SentencePiece tokenizer. */
int chat_format_resolve(const Tokenizer *t, int format);

/* 1 when id is a tool-call id that formats v3+ accept (mistral-common's
 * ^[a-zA-Z0-9]{9}$, Python's $ allowing a final "\n"), 0 otherwise. */
int chat_call_id_ok(const char *id);

/* Appends the whole request as the model sees it, ready for the assistant's
 * reply: BOS first, exactly mistral-common's encode_chat_completion(...).tokens
 * (validation mode "test"). Checks what the format adds (v3+: call ids are
 * "null" or 9 letters/digits, tool messages have one; v1-v3: an assistant
 * message has content or tool calls, not both; v1: no tool calls or tool
 * messages, and the tools list is ignored, as mistral-common does) and needs
 * the format's control tokens. 0, or -1 with err (out unchanged). */
int chat_encode(const Tokenizer *t, int format, const ChatRequest *r, IntVec *out);

/* For a chat whose history is kept as token ids and never re-encoded:
 * appends what one new user turn adds after the previous assistant reply
 * (whose EOS the caller appended), ending with [/INST]. The first turn starts
 * with BOS and carries the system prompt (NULL or "" for none):
 *   v7:    [SYSTEM_PROMPT]system[/SYSTEM_PROMPT] before the first [INST];
 *   v1-v3: "system\n\nuser" in the first user message. For v1 that is what
 *          mistral-common does; for v2/v3 mistral-common moves the system
 *          prompt to the LAST user message, which a history that is never
 *          re-encoded cannot follow, so with a system prompt the turns of v2/v3
 *          differ from chat_encode of the same conversation.
 * Without a system prompt, turn 1 + reply + EOS + turn 2 ... equals
 * chat_encode of the conversation (replies encoded as assistant content).
 * 0, or -1 with err (out unchanged). */
int chat_encode_turn(const Tokenizer *t, int format, const char *system, const char *user,
                     int first_turn, IntVec *out);

#endif
