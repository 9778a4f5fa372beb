/* tokfile — a tokenizer from a file of any kind: SentencePiece
 * (tokenizer.model, .v1, .v3, .v7), Tekken (tekken.json) or a GGUF model's
 * tokenizer.ggml.* metadata (tok/tokgguf.h), and finding a model's file.
 *
 * The one place that knows every kind: tokgguf depends on tokenizer (it maps
 * a Tokenizer to and from GGUF metadata), tokenizer knows nothing of GGUF,
 * and this file, above both, picks the reader by the file. */
#ifndef TOK_TOKFILE_H
#define TOK_TOKFILE_H

#include "tok/tokenizer.h"

/* Loads a tokenizer file: a GGUF file (*.gguf or the GGUF magic) its
 * tokenizer.ggml.* metadata (tok/tokgguf.h), *.json is Tekken, anything
 * else SentencePiece.
 * 0, or -1 with err naming the file and the problem. */
int tokenizer_load(Tokenizer *t, const char *path);

/* The tokenizer file of a model directory, in Mistral's order of preference:
 * *.model.v7, *.model.v3, *.model.v2, *.model.v1, tokenizer.model, then
 * tekken.json; for a .gguf model file, the file itself. Returns a path the
 * caller frees, or NULL with err set. */
char *tokenizer_find(const char *dir);

#endif
