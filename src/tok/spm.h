/* spm — SentencePiece BPE tokenizers (Mistral's tokenizer.model, .v1, .v3,
 * .v7, and stories260K's), encoding and decoding exactly as the sentencepiece
 * library does.
 *
 * The model file is a protobuf ModelProto (sentencepiece_model.proto):
 * pieces (piece, score, type), trainer_spec (model_type, byte_fallback,
 * split_digits, unk/bos/eos/pad ids ...) and normalizer_spec
 * (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces). A
 * hand-written wire-format reader checks every length against the buffer.
 *
 * Encoding (BPE): normalize (collapse whitespace only when the model says so;
 * add the dummy-prefix space; spaces become U+2581 "▁"), match user-defined
 * pieces in the raw text first, split into characters, merge the adjacent
 * pair whose merged piece has the highest score until none can merge, and
 * emit unknown characters as byte pieces <0xAB> when byte_fallback is on
 * (otherwise unk). Control pieces ([INST], </s>, ...) are never produced
 * from text. */
#ifndef TOK_SPM_H
#define TOK_SPM_H

#include <stddef.h>

#include "base/vec.h"

/* Piece types, as sentencepiece numbers them. */
enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER_DEFINED = 4, SPM_UNUSED = 5,
       SPM_BYTE = 6 };

typedef struct {
    int add_dummy_prefix;         /* default 1 */
    int remove_extra_whitespaces; /* default 1 (stories260K); Mistral's models: 0 */
    int byte_fallback;
    int split_digits;
    int unk, bos, eos, pad;       /* ids, -1 when absent */
} SpmOptions;

typedef struct {
    int n;                 /* pieces = vocabulary size */
    char **piece;          /* owns [n]: NUL-terminated UTF-8, "▁" for space */
    float *score;          /* owns [n] */
    unsigned char *type;   /* owns [n]: SPM_* */
    SpmOptions opt;
    void *index;           /* owns: piece -> id lookup and byte-piece table (private) */
} Spm;

/* Reads a tokenizer.model file. 0, or -1 with err naming the file and problem. */
int spm_load(Spm *s, const char *path);
/* Parses a ModelProto in memory (`where` names it in errors). */
int spm_parse(Spm *s, const void *buf, size_t len, const char *where);
/* Builds from arrays (GGUF's tokenizer.ggml.* metadata): pieces are copied. */
int spm_init(Spm *s, int n, const char *const *pieces, const float *scores,
             const int *types, const SpmOptions *opt);
void spm_free(Spm *s);

/* Appends the ids of text[0..len) (valid UTF-8, no BOS) to out. 0 or -1. */
int spm_encode(const Spm *s, const char *text, size_t len, IntVec *out);
/* Appends the bytes of ids to out as sentencepiece's DecodeIds does, before
 * its final UTF-8 check: control pieces give nothing, "▁" is a space, byte
 * pieces give their byte, unknown gives " ⁇ ", the dummy-prefix space of the
 * first piece is dropped. The bytes may be invalid UTF-8 (a byte piece cut
 * off): utf8_replace_invalid() then gives what sentencepiece prints.
 * Ids outside the vocabulary are an error (-1). */
int spm_decode(const Spm *s, const int *ids, int n, ByteBuf *out);
/* The id of the piece spelled exactly `piece` (any type), or -1. */
int spm_piece_id(const Spm *s, const char *piece);

#endif
