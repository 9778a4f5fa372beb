/* tokgguf — tokenizers in GGUF metadata (tokenizer.ggml.*), both ways, as
 * llama.cpp's convert_hf_to_gguf.py writes them:
 *
 *   SentencePiece: model "llama", pre "default", tokens (pieces, "▁" for
 *     space), scores (f32), token_type (i32: 1 normal, 2 unknown, 3 control,
 *     4 user-defined, 5 unused, 6 byte: sentencepiece's own numbering),
 *     bos/eos/unk_token_id, add_bos_token true, add_eos_token false,
 *     add_space_prefix (sentencepiece's add_dummy_prefix; default true),
 *     remove_extra_whitespaces (written only when true; default false).
 *   Tekken: model "gpt2", pre "tekken", tokens (the special tokens' names,
 *     then every rank's bytes in GPT-2's byte-to-unicode spelling),
 *     token_type (3 control for the special tokens, 1 normal), merges ("a b"
 *     in that spelling: every split of every token into two tokens, in
 *     Hugging Face's tiktoken conversion order), bos/eos/unk ids, add_bos
 *     true, add_eos false. The leading control tokens are the special ones;
 *     rank = id - their number; the split pattern is Tekken's. Tekken's
 *     config.version has no llama.cpp key: it goes in mistral.tokenizer.version
 *     (absent: v7 when there is a [SYSTEM_PROMPT] special token, else v3), as does a SentencePiece file's ".vN" (absent: "", chat
 *     format v1). Merges are not read back: ranks give the same merges. */
#ifndef TOK_TOKGGUF_H
#define TOK_TOKGGUF_H

#include "format/gguf.h"
#include "tok/tokenizer.h"

/* The tokenizer of f's metadata. t->path is f's path. 0, or -1 with err
 * naming the file and the key. */
int tokenizer_from_gguf(Tokenizer *t, const GGUFFile *f);
/* Adds t's tokenizer.ggml.* metadata to w. 0, or -1 with err set. */
int tokenizer_to_gguf(const Tokenizer *t, GGUFWriter *w);

#endif
