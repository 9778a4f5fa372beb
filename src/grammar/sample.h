/* sample — random sentences of a grammar: the property tests and fuzz
 * targets walk a compiled constraint to make outputs it must accept (and
 * that the constraint's own checker must accept too). */
#ifndef GRAMMAR_SAMPLE_H
#define GRAMMAR_SAMPLE_H

#include <stdint.h>

#include "base/vec.h"
#include "grammar/grammar.h"

/* Appends to out a random sentence of the finished grammar g (ints as
 * grammar_recognize reads them: bytes, GRAMMAR_SPECIAL + id). The first
 * `budget` rule expansions pick alternatives and bytes at random (rng is a
 * splitmix64 state); after them every rule takes the alternative that ends
 * soonest, so the walk always ends. Returns 0, or -1 (out holds a partial
 * sentence) when the sentence would pass max_len ints. */
int grammar_sample(const Grammar *g, uint64_t *rng, int budget, int max_len, IntVec *out);

#endif
