/* tokenizer — one interface over Mistral's two tokenizer families:
 * SentencePiece (tokenizer.model, .v1, .v3, .v7) and Tekken (tekken.json). */
#ifndef TOK_TOKENIZER_H
#define TOK_TOKENIZER_H

#include <stddef.h>

#include "base/vec.h"
#include "tok/spm.h"
#include "tok/tekken.h"

typedef enum { TOK_SPM, TOK_TEKKEN } TokKind;

typedef struct {
    TokKind kind;
    Spm spm;        /* when kind == TOK_SPM */
    Tekken tek;     /* when kind == TOK_TEKKEN */
    int n_vocab;
    int bos, eos;   /* -1 when the tokenizer has none */
    char version[8]; /* "v1", "v3", "v7" from the file name, "tekken", or "" */
    char *path;     /* owns */
} Tokenizer;

/* Frees t; accepts a zeroed struct. (Loading one from a file, a GGUF
 * model's included: tok/tokfile.h.) */
void tokenizer_free(Tokenizer *t);

/* Appends [bos] (when bos and the tokenizer has one) then the ids of text.
 * Text must be valid UTF-8 (else -1 with the offset of the bad byte). */
int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int bos, IntVec *out);
/* Appends the raw bytes of ids (may be invalid UTF-8 when a character is
 * split across byte tokens; see utf8_replace_invalid). 0 or -1. */
int tokenizer_decode(const Tokenizer *t, const int *ids, int n, ByteBuf *out);
/* Appends the raw bytes of ids that continue ids whose tokenizer_decode was
 * not empty: decode(a ++ b) == decode(a) ++ decode_more(b) then, so a
 * stream decodes each new token once. 0 or -1. */
int tokenizer_decode_more(const Tokenizer *t, const int *ids, int n, ByteBuf *out);
/* Appends the text of ids exactly as the reference tokenizer returns it
 * (valid UTF-8): sentencepiece's DecodeIds, or mistral-common's Tekken decode
 * (bytes decoded with errors="replace"). 0 or -1. */
int tokenizer_decode_text(const Tokenizer *t, const int *ids, int n, ByteBuf *out);
/* Appends the bytes token id stands for in the middle of a text (a
 * SentencePiece piece with its "▁" as a space, a byte piece's byte, a
 * control token's spelling): what a log-probability listing shows. 0 or -1. */
int tokenizer_piece(const Tokenizer *t, int id, ByteBuf *out);
/* The id of a control/special token by its spelling ("[INST]"), or -1. */
int tokenizer_special(const Tokenizer *t, const char *name);

#endif
