/* vocab — a tokenizer's vocabulary as a constraint sees it: for each token,
 * the bytes it adds to the generated text, or that it is a control token.
 *
 * The constrained text is the generated ids' decode as gen/stream.c streams
 * it: tokenizer_decode of the ids while the text is still empty (a
 * SentencePiece piece's leading space is dropped then), tokenizer_decode_more
 * of each token after. So a token has two byte forms:
 *   mid    tokenizer_decode_more([t]): the bytes it adds to a started text;
 *   start  tokenizer_decode([t]): the bytes it adds while the text is empty
 *          and the tokenizer drops a leading space there (vocab_strips).
 * Tekken's two forms are the same; a SentencePiece piece "▁" has an empty
 * start form. Control tokens (SentencePiece CONTROL pieces, Tekken's special
 * tokens: [TOOL_CALLS], [ARGS], EOS ...) add no bytes and are atomic: a
 * grammar reads them as GRAMMAR_SPECIAL + id.
 *
 * Each form's tokens are in a byte trie laid out in preorder (VocabTrie), the
 * order a mask computation walks. A built Vocab is read-only: one serves
 * every constraint and thread of its tokenizer. */
#ifndef GRAMMAR_VOCAB_H
#define GRAMMAR_VOCAB_H

#include <stdint.h>

#include "grammar/grammar.h"
#include "tok/tokenizer.h"

/* The tokens of one form (control tokens left out) in a trie. Node 0 is the
 * root (the empty string); nodes are in preorder, children by byte, so a
 * subtree is a run of nodes [i, next[i]) and its tokens a run of `tokens`:
 * node i's own tokens (whose bytes end there) are tokens[ord[i] ..
 * ord[i + 1]), its subtree's tokens[ord[i] .. ord[next[i]]). */
typedef struct {
    int n_nodes;
    unsigned char *byte; /* owns [n_nodes]: the byte on the edge into the node */
    uint16_t *depth;     /* owns [n_nodes]: bytes from the root */
    uint32_t *next;      /* owns [n_nodes]: the first node past the subtree */
    uint32_t *ord;       /* owns [n_nodes + 1]: see above; ord[n_nodes] = n_tokens */
    int32_t *set;        /* owns [n_nodes]: index into sets of the bytes below the
                            node (every edge byte of its subtree), -1 when the
                            subtree is too small to be worth a set test */
    ByteSet *sets;       /* owns [n_sets] */
    unsigned char *utf8; /* owns [n_nodes]: 1 when every byte string below the
                            node, read from a character boundary, is the start
                            of valid UTF-8 (utf8_next) */
    int n_sets;
    int32_t *tokens;     /* owns [n_tokens]: token ids in trie order */
    int n_tokens;
    int max_depth;
} VocabTrie;

typedef struct {
    int n_vocab;
    int eos;                  /* -1 when the tokenizer has none */
    unsigned char *control;   /* owns [n_vocab]: 1 for a control token */
    uint32_t *mid_off;        /* owns [n_vocab + 1]: mid form of t is
                                 bytes[mid_off[t] .. mid_off[t + 1]) */
    unsigned char *bytes;     /* owns */
    uint32_t *start_off;      /* owns [n_vocab + 1] into start_bytes, or NULL
                                 when no token's start form differs */
    unsigned char *start_bytes; /* owns */
    int probe;                /* a token whose two forms differ, or -1 */
    VocabTrie mid, start;     /* start: built only when start_off is */
    const Tokenizer *tok;     /* view: for vocab_strips */
} Vocab;

/* Builds the view of tokenizer t (kept as a view: it must outlive v).
 * 0, or -1 with err set (a token that does not decode). */
int vocab_init(Vocab *v, const Tokenizer *t);
/* Accepts a zeroed or half-built Vocab. */
void vocab_free(Vocab *v);

/* The bytes token t adds (start form when `start`, else mid); *n gets the
 * count. NULL for a control token. */
const unsigned char *vocab_bytes(const Vocab *v, int t, int start, int *n);

/* Whether the token after ids[0..n), whose decode is empty, adds its start
 * form (1) or its mid form (0): after a space piece SentencePiece drops a
 * leading space no more (unless it removes extra whitespace). */
int vocab_strips(const Vocab *v, const int *ids, int n);

#endif
