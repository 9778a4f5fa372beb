/* stream — the text of generated tokens as it becomes certain.
 *
 * Each token is decoded with everything before it (a SentencePiece piece's
 * leading space and byte-fallback tokens depend on their neighbours), and
 * the new text is released only when it is final: never half of a UTF-8
 * character, never bytes that may still turn out to be the start of a stop
 * text. When a stop text appears, the text before it is released and the
 * rest is dropped. The CLI prints the deltas; the server sends them as
 * stream chunks. */
#ifndef GEN_STREAM_H
#define GEN_STREAM_H

#include <stddef.h>

#include "base/vec.h"
#include "tok/tokenizer.h"

typedef struct {
    const Tokenizer *tok;     /* view */
    const char *const *stops; /* view [n_stop]: non-empty stop texts */
    int n_stop;
    IntVec ids;               /* tokens so far */
    ByteBuf text;             /* their decoded bytes */
    size_t sent;              /* bytes of text already released */
    int stopped;              /* a stop text appeared */
} Stream;

void stream_init(Stream *s, const Tokenizer *tok, const char *const *stops, int n_stop);
void stream_free(Stream *s);
/* Adds a token and appends the newly certain text to out. Returns 1 once a
 * stop text has appeared (then or before), 0 otherwise, -1 with err set when
 * the tokenizer cannot decode the ids. */
int stream_push(Stream *s, int token, ByteBuf *out);
/* Appends the rest (held-back bytes; invalid UTF-8 as U+FFFD). 0 or -1. */
int stream_finish(Stream *s, ByteBuf *out);

#endif
