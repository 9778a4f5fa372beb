/* spm — SentencePiece BPE tokenizers (Mistral's tokenizer.model, .v1, .v3,
 * .v7, and stories260K's), encoding and decoding exactly as the sentencepiece
 * library (0.1.97) does.
 *
 * The model file is a protobuf ModelProto (sentencepiece_model.proto):
 * pieces (piece, score, type), trainer_spec (model_type, byte_fallback,
 * split_digits, unk_surface, unk/bos/eos/pad piece names ...) and
 * normalizer_spec (add_dummy_prefix, remove_extra_whitespaces,
 * escape_whitespaces). A hand-written wire-format reader checks every length
 * against the buffer. Refused with an error: model types other than BPE,
 * Unicode normalization rules (a non-empty precompiled_charsmap, as in
 * nmt_nfkc models), treat_whitespace_as_suffix, escape_whitespaces = false,
 * a piece holding a NUL byte, and whatever sentencepiece itself refuses (an
 * empty or repeated piece, no or two unknown pieces, byte pieces without
 * byte_fallback or not all 256).
 * self_test_data is ignored.
 *
 * Encoding (BPE): normalize (collapse whitespace only when the model says so;
 * add the dummy-prefix space; spaces become U+2581 "▁"), match user-defined
 * pieces ([REFERENCE_DOC_0] ...) greedily (longest) and keep them whole,
 * split the rest into characters, merge the adjacent pair whose merged piece
 * (NORMAL, USER_DEFINED or UNUSED) has the highest score, leftmost on ties,
 * until none can merge, split UNUSED results back, and emit pieces that are
 * not in the vocabulary as byte pieces <0xAB> when byte_fallback is on
 * (otherwise unk, one unk for a run). Control pieces ([INST], </s>, ...) are
 * never produced from text. O(n log n): a heap of candidate merges over a
 * linked list of symbols. */
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
    int split_digits;             /* training-time only: encoding needs nothing for it */
    int unk, bos, eos, pad;       /* ids, -1 when absent; from a file: the pieces
                                     trainer_spec names ("<s>" ...) when they have the
                                     right type, as sentencepiece's bos_id() ... */
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
/* Builds from arrays (GGUF's tokenizer.ggml.* metadata): pieces are copied,
 * opt is taken as it is (byte_fallback must be on when there are byte pieces,
 * as in a file); the unknown piece is the one of type SPM_UNKNOWN; unk
 * decodes to " ⁇ ". */
int spm_init(Spm *s, int n, const char *const *pieces, const float *scores,
             const int *types, const SpmOptions *opt);
void spm_free(Spm *s);

/* Appends the ids of text[0..len) (valid UTF-8, no BOS) to out. 0 or -1. */
int spm_encode(const Spm *s, const char *text, size_t len, IntVec *out);
/* Appends the bytes of ids to out as sentencepiece's DecodeIds does, before
 * it turns invalid UTF-8 into U+FFFD: control pieces give nothing, "▁" is a
 * space, byte pieces give their byte, unknown gives trainer_spec.unk_surface
 * (" ⁇ " by default; stories260K's is the 14 characters " \342\201\207 "),
 * the leading "▁" of the first piece that is neither control nor byte is
 * dropped if nothing came before it (with remove_extra_whitespaces: of every
 * piece until some text came). The bytes may be invalid UTF-8 (a character
 * cut off), which is what a stream needs. utf8_replace_invalid() on them
 * gives what Python's bytes.decode(errors="replace") would, which is what
 * sentencepiece gives whenever the bytes are valid UTF-8; where they are not,
 * sentencepiece writes one U+FFFD per byte and does not join bytes across a
 * control piece: spm_decode_text gives exactly that.
 * Ids outside the vocabulary are an error (-1). */
int spm_decode(const Spm *s, const int *ids, int n, ByteBuf *out);
/* spm_decode of ids that continue ids whose spm_decode was not empty:
 * spm_decode(a ++ b) == spm_decode(a) ++ spm_decode_more(b) then. */
int spm_decode_more(const Spm *s, const int *ids, int n, ByteBuf *out);
/* The text sentencepiece's DecodeIds returns (valid UTF-8): as spm_decode,
 * but in each run of byte pieces every byte that does not start a valid
 * character becomes U+FFFD (<0xE4><0xBD> gives two; <0xDA></s><0x99> gives
 * two, not "ڙ"). 0 or -1. */
int spm_decode_text(const Spm *s, const int *ids, int n, ByteBuf *out);
/* The id of the piece spelled exactly `piece` (any type; where a control,
 * unknown or byte piece and another share a spelling, the former, as
 * sentencepiece's PieceToId), or -1. */
int spm_piece_id(const Spm *s, const char *piece);

#endif
