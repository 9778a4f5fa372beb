/* tekken — Mistral's tiktoken-style tokenizer (tekken.json: Mistral NeMo and
 * later), as mistral-common's Tekkenizer encodes and decodes.
 *
 * tekken.json: {"config": {"pattern", "num_vocab_tokens",
 * "default_vocab_size", "default_num_special_tokens", "version"},
 * "vocab": [{"rank", "token_bytes" (base64), "token_str"}...],
 * "special_tokens": [{"rank", "token_str", "is_control"}...]}.
 * The vocabulary keeps the first default_vocab_size - num_special ranks;
 * id = rank + num_special; ids below num_special are special tokens (those not
 * listed are "<SPECIAL_%d>"). Text is split by the config's regex (PCRE2,
 * UTF-8 + Unicode properties), then each piece is byte-level BPE-merged by
 * rank (lowest rank first), as tiktoken does.
 *
 * The regex follows tiktoken's fancy-regex: \s is Unicode White_Space (PCRE2's
 * own \s would also take U+180E). Characters are classed by PCRE2's Unicode
 * tables (Unicode 14 for PCRE2 10.42); tiktoken builds with newer tables
 * (npm tiktoken 1.0.22: Unicode 16) split digits and letters assigned since
 * then differently — new scripts only (e.g. Kawi, Garay digits).
 *
 * A loaded Tekken is read-only: encode and decode may run on many threads. */
#ifndef TOK_TEKKEN_H
#define TOK_TEKKEN_H

#include <stddef.h>

#include "base/vec.h"

typedef struct {
    int n_vocab;        /* default_vocab_size: specials + ranks */
    int n_special;      /* default_num_special_tokens */
    int n_ranks;        /* n_vocab - n_special */
    char **special;     /* owns [n_special]: names ("<s>", "[INST]", "<SPECIAL_27>") */
    unsigned char **tok;/* owns [n_ranks]: bytes of each rank (views into impl's arena) */
    int *tok_len;       /* owns [n_ranks]: >= 1; rank b < 256 is the single byte b */
    int bos, eos, unk;  /* ids, or -1 when the file has no "<s>", "</s>", "<unk>" */
    char *version;      /* owns: config.version ("v3", "v7", ...) */
    void *impl;         /* owns: compiled regex and the bytes -> rank table (private) */
} Tekken;

/* 0, or -1 with err naming the file and the problem ("FILE: problem") and t
 * zeroed. Checked: the keys and their types, ranks 0, 1, 2 ... in order,
 * strict base64, the first 256 ranks the bytes 0..255, no two ranks with the
 * same bytes, num_vocab_tokens (when given) = the vocab's length,
 * default_vocab_size within the file, unique special names, a pattern that
 * compiles. Without "special_tokens", versions up to v7 get mistral-common's
 * 20 default names. tekken_parse reads json[0..len) (no NUL needed); where
 * names it in errors. tekken_free accepts a zeroed or freed struct. */
int tekken_load(Tekken *t, const char *path);
int tekken_parse(Tekken *t, const char *json, size_t len, const char *where);
void tekken_free(Tekken *t);

/* The split pattern of Mistral's tekken.json files (all versions so far). */
#define TEKKEN_PATTERN                                                                      \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|" \
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|" \
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Builds from arrays (GGUF's tokenizer.ggml.* metadata): n_special names
 * (ids 0..n_special-1), then n_ranks byte strings (rank i is id
 * n_special + i; the first 256 must be the bytes 0..255), all copied; the
 * split pattern is TEKKEN_PATTERN; version (NULL: "v7") as config.version.
 * 0, or -1 with err set (`where` names the source) and t zeroed. */
int tekken_init(Tekken *t, int n_special, const char *const *special, int n_ranks,
                const unsigned char *const *tok, const int *tok_len, const char *version,
                const char *where);
/* The rank whose bytes are p[0..n), or -1. */
int tekken_rank(const Tekken *t, const unsigned char *p, size_t n);

/* Appends the ids of text[0..len) (valid UTF-8, no BOS) to out. 0, or -1
 * with out unchanged (invalid UTF-8, text over INT_MAX bytes, a regex
 * limit). Special names in the text are plain text. */
int tekken_encode(const Tekken *t, const char *text, size_t len, IntVec *out);
/* Appends the bytes of ids; special tokens give nothing (mistral-common's
 * default). The bytes may be invalid UTF-8: utf8_replace_invalid() gives
 * what mistral-common returns (except where a special id splits a UTF-8
 * sequence: mistral-common replaces each side on its own). Ids outside the
 * vocabulary: -1 and nothing appended. */
int tekken_decode(const Tekken *t, const int *ids, int n, ByteBuf *out);
/* The id of a special token by name ("[INST]"), or -1. */
int tekken_special_id(const Tekken *t, const char *name);

#endif
