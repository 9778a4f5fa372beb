/* dialect — what the server's other APIs share: Anthropic's Messages
 * (anthropic.h), OpenAI's Responses (responses.h) and Mistral's FIM (fim.h).
 *
 * A dialect reads its request and writes it again as the OpenAI chat
 * request it means (messages, tools, tool_choice, sampling), which
 * api_parse reads like any other: one chat encoding, one set of checks, one
 * tool-call grammar for every API, so equivalent requests give the same
 * prompt tokens whichever API they came through. Engine events come back
 * through ApiResponse (text, ids, calls read back: a dialect hands every
 * event to api_response_event with sse 0, so the text is kept), and the
 * dialect renders them in its own shape (ApiDialect, openai.h). */
#ifndef SERVER_DIALECT_H
#define SERVER_DIALECT_H

#include "base/json.h"
#include "base/vec.h"
#include "server/openai.h"

/* ---- writing the OpenAI request ----------------------------------------- */

/* 1 when v is the string lit. */
int dialect_is(const Json *v, const char *lit);

/* JSON text built by appending: "key": before a value (with a comma when
 * the object already has members), strings as json.dumps writes them. */
void jw_key(ByteBuf *b, const char *key);
void jw_str(ByteBuf *b, const char *key, const char *s, size_t n);
/* A value as it was given (json.dumps of it). */
void jw_json(ByteBuf *b, const char *key, const Json *v);
void jw_open(ByteBuf *b, const char *key, char bracket);
void jw_close(ByteBuf *b, char bracket);

/* A tool-call id as chat_encode takes it: id itself when it already is one
 * (chat_call_id_ok); otherwise 9 letters and digits hashed from it, so a
 * client's "toolu_..." or "call_..." ids pair calls and results the same
 * way (0 when id is no string). */
int dialect_call_id(ByteBuf *b, const char *key, const Json *id);

/* The text of a content given as a string or as a list of text blocks
 * {"type": <text_type>, "text": ...} (keys other than type and text must be
 * in extra), as an OpenAI content: a string, or the list of {"type":
 * "text", "text"} chunks. 0, or -1 with e naming `where`. */
int dialect_content(ByteBuf *b, const Json *v, const char *const *text_types, const char *const *extra,
                    const char *where, ApiError *e);

/* Reads a request body: a JSON object (base/json, in a) whose keys are all
 * in fields. 0, or -1 with e (400). */
int dialect_read(Json *root, Arena *a, const char *body, size_t len, const char *const *fields, ApiError *e);

/* Appends root's fields that are given (not null) under new names:
 * {from, to} pairs, NULL ended. */
void dialect_copy(ByteBuf *b, const Json *root, const char *const (*pairs)[2]);

/* One text block (as above) appended as a {"type": "text", "text"} chunk. */
int dialect_text_block(ByteBuf *b, const Json *blk, const char *const *text_types, const char *const *extra,
                       const char *where, ApiError *e);

/* Parses the rewritten request b (NUL-terminated; a chat request, or a
 * completion one when chat is 0) with api_parse_flags; an
 * error's param is renamed by renames ({openai, dialect} pairs, NULL
 * ended) so it names the dialect's field. */
int dialect_parse(ApiRequest *q, int chat, const ByteBuf *b, const ApiConfig *cfg, int flags,
                  const char *const (*renames)[2], ApiError *e);

/* ---- rendering ------------------------------------------------------------ */

/* "event: name\ndata: {...}\n\n" (frees o). */
void dialect_sse(ByteBuf *out, const char *name, struct cJSON *o);
/* prefix + 24 hex digits, unique enough for a response id. */
void dialect_id(char *out, size_t n, const char *prefix, const void *salt);
/* The stop text that ended choice c (FINISH_STOP by one of the request's
 * stops, not EOS nor a complete grammar), or NULL. */
const char *dialect_stop_text(const ApiResponse *r, const ApiChoice *c);
/* The choice's content: what was read back before its calls, or its text. */
void dialect_content_of(const ApiChoice *c, const char **text, size_t *len);

#endif
