/* constraint — a grammar over a tokenizer's vocabulary: which tokens may come
 * next (a bitmask over the vocabulary), and advancing by the chosen one.
 *
 * Exact: a token is allowed iff the text with its bytes appended (the bytes
 * it adds, as vocab.h defines them) is still a viable prefix of the grammar
 * — every one of its bytes keeps the parse alive, so a token that runs past
 * a complete match is allowed only where the grammar goes on. A control
 * token is allowed only where the grammar reads it (SYM_SPECIAL); EOS only
 * where the text so far is a sentence, and it ends the constraint (a
 * grammar's SYM_SPECIAL of the EOS id is never read). A token whose bytes
 * are empty (SentencePiece's "▁" at the start) is allowed as the first token
 * only: another changes nothing, and a model must not stall on it.
 *
 * How a mask is computed: the vocabulary's trie is walked depth-first, the
 * parse state of each node one memoized step (matcher.h) from its parent's;
 * a dead node's subtree is skipped, and a subtree whose bytes all step a
 * state to itself (a string's contents) is taken whole. Masks are cached by
 * the parse state: a state's mask is computed once.
 *
 * One thread at a time per Constraint; the Grammar and Vocab it views are
 * read-only and may be shared. */
#ifndef GRAMMAR_CONSTRAINT_H
#define GRAMMAR_CONSTRAINT_H

#include <stdint.h>

#include "grammar/grammar.h"
#include "grammar/matcher.h"
#include "grammar/vocab.h"

typedef struct {
    const Vocab *v;    /* view */
    Matcher m;         /* owns */
    int words;         /* (n_vocab + 31) / 32: a mask's uint32 words */
    int started;       /* the text has bytes */
    IntVec before;     /* owns: the ids accepted while the text was still empty */
    int strip;         /* the next token adds its start form */
    int ended;         /* EOS was accepted */
    IntVec controls;   /* owns: the control tokens the grammar reads (EOS left out) */
    int32_t *walk;     /* owns [max depth + 1]: the walk's states by depth */
    /* masks by state: key (state * 2 + form) -> a slot of `bits` */
    int *cache_key;    /* owns [cache_cap]: key + 1, 0 empty (open addressing) */
    int *cache_slot;   /* owns [cache_cap] */
    int cache_cap, n_cached, max_cached;
    uint32_t *cache_bits; /* owns [max_cached * words] */
    struct {
        long hits, walks;     /* masks from the cache, masks walked */
        long nodes, skipped;  /* trie nodes stepped, subtrees taken whole */
    } stats;
} Constraint;

/* A constraint of finished grammar g over vocabulary v (both views that must
 * outlive it), at the start of the text. 0, or -1 with err set. Free with
 * constraint_free (accepts a zeroed or half-built one). */
int constraint_init(Constraint *c, const Grammar *g, const Vocab *v);
void constraint_free(Constraint *c);
/* Back to the start of the text (what was learned is kept). */
void constraint_reset(Constraint *c);

/* Writes the allowed next tokens to bits[0 .. (n_vocab + 31) / 32): token t
 * is bit t % 32 of bits[t / 32]. All zero after EOS. */
void constraint_mask(Constraint *c, uint32_t *bits);
/* The same by brute force: every token's bytes stepped from the state now,
 * one token at a time, no trie, no cache (the oracle of constraint_mask;
 * the matcher's steps have their own, matcher_step_uncached). */
void constraint_mask_slow(Constraint *c, uint32_t *bits);
/* Advances by token t. 0, or -1 with err set when t is not allowed (the
 * constraint is unchanged then). */
int constraint_accept(Constraint *c, int t);
/* 1 when the text so far is a sentence of the grammar (EOS is allowed). */
int constraint_complete(const Constraint *c);
/* 1 when generation must stop: EOS was accepted, or the text is complete
 * and no byte or control token can continue it. */
int constraint_done(Constraint *c);

#endif
