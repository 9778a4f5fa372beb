/* grammar — a context-free grammar over bytes: the one form every
 * constraint language compiles to (JSON Schema, GBNF, regular expressions,
 * the chat formats' tool calls), and the recognizer that is its oracle.
 *
 * A grammar is a list of rules; a rule matches any of its alternatives; an
 * alternative is a sequence of symbols, each one of
 *   SYM_RULE     another rule (any recursion, left recursion included);
 *   SYM_BYTES    one byte from a set (text is compiled to bytes: a UTF-8
 *                character class becomes byte sequences, grammar_utf8_class);
 *   SYM_SPECIAL  one control token of the tokenizer ([TOOL_CALLS], [ARGS]),
 *                an atomic symbol, never its spelling.
 * What a grammar reads is a sequence of ints: 0..255 a byte,
 * GRAMMAR_SPECIAL + id the control token id.
 *
 * Building: grammar_rule() makes an empty rule, grammar_alt() adds one
 * alternative given whole. A frontend builds the sub-rules a sequence needs
 * first, then the sequence (an alternative's symbols are stored contiguous,
 * so nesting never interleaves them). grammar_finish() checks the grammar
 * and computes what the recognizers need; after it the grammar is read-only
 * and may be shared between threads.
 *
 * Every rule must be productive (derive some finite input) once finished:
 * grammar_finish drops the alternatives that cannot end and fails, naming
 * the rule, when the start rule then matches nothing. So a live parse state
 * is always a viable prefix: some continuation completes it. */
#ifndef GRAMMAR_GRAMMAR_H
#define GRAMMAR_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "base/vec.h"

#define GRAMMAR_SPECIAL 256 /* input value of control token id: GRAMMAR_SPECIAL + id */

typedef struct {
    uint32_t w[8]; /* bit b: byte b is in the set */
} ByteSet;

typedef enum { SYM_RULE, SYM_BYTES, SYM_SPECIAL } SymKind;

typedef struct {
    int kind; /* SymKind */
    int arg;  /* SYM_RULE: rule index; SYM_BYTES: index into sets; SYM_SPECIAL: token id */
} Sym;

typedef struct {
    Sym *v; /* owns */
    int n, cap;
} SymVec;

typedef struct {
    int rule;     /* the rule it belongs to */
    int sym, n;   /* its symbols: syms[sym .. sym + n) */
} Alt;

typedef struct {
    char *name;  /* owns; for messages and grammar_print (frontends keep it unique) */
    IntVec alts; /* indices into alts, in the order added */
} Rule;

typedef struct {
    Rule *rules;
    int n_rules, cap_rules;
    Alt *alts;
    int n_alts, cap_alts;
    Sym *syms;
    int n_syms, cap_syms;
    ByteSet *sets; /* interned: one index per distinct set */
    int n_sets, cap_sets;
    int *set_hash; /* owns; open addressing over sets (index + 1, 0 empty) */
    int set_hash_cap;
    int start;               /* the rule a whole input matches; -1 until set */
    unsigned char *nullable; /* owns [n_rules]: the rule matches the empty input (grammar_finish) */
    int finished;
} Grammar;

/* ------------------------------------------------------------- building -- */

void grammar_init(Grammar *g);
/* Frees g; accepts a zeroed or half-built grammar. */
void grammar_free(Grammar *g);

/* A new rule with no alternatives (it matches nothing until one is added);
 * the name is printf-formatted. Returns its index. */
int grammar_rule(Grammar *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Adds the alternative seq[0..n) to rule (n == 0: the empty input). */
void grammar_alt(Grammar *g, int rule, const Sym *seq, int n);
/* The first rule named name, or -1. (Linear: for frontends' checks.) */
int grammar_find(const Grammar *g, const char *name);

void byteset_add(ByteSet *s, int b);
void byteset_add_range(ByteSet *s, int lo, int hi); /* lo..hi inclusive */
static inline int byteset_has(const ByteSet *s, int b) { return (s->w[b >> 5] >> (b & 31)) & 1; }

/* Symbols. grammar_bytes interns the set (the same set, the same index). */
Sym grammar_bytes(Grammar *g, const ByteSet *s);
Sym grammar_byte(Grammar *g, int b);
static inline Sym sym_rule(int rule) { return (Sym){SYM_RULE, rule}; }
static inline Sym sym_special(int token) { return (Sym){SYM_SPECIAL, token}; }

void symvec_push(SymVec *v, Sym s);
void symvec_free(SymVec *v);
/* Appends one SYM_BYTES symbol per byte of s[0..n). */
void grammar_literal(Grammar *g, SymVec *seq, const char *s, size_t n);

/* A rule matching one character, UTF-8 encoded, whose code point is in one
 * of ranges[0..n) (pairs lo, hi inclusive, any order, may overlap), or with
 * negate in none of them; surrogates (U+D800..U+DFFF) are never matched.
 * Returns the rule (one alternative per byte-range sequence). */
int grammar_utf8_class(Grammar *g, const char *name, const uint32_t (*ranges)[2], int n, int negate);
/* A rule matching x repeated min..max times (max < 0: no bound). Returns
 * the rule. Unbounded repetition is left-recursive (linear for Earley). */
int grammar_repeat(Grammar *g, const char *name, Sym x, int min, int max);

/* Checks every reference, drops the alternatives that cannot end (they use a
 * rule that derives nothing finite), computes nullable. Returns 0, or -1
 * with err set (no start rule; the start rule matches nothing). */
int grammar_finish(Grammar *g);

/* Appends g in llama.cpp's GBNF syntax (one rule per line; root first),
 * for messages, debugging and tests. */
void grammar_print(const Grammar *g, ByteBuf *out);

/* ----------------------------------------------------------- the oracle -- */

/* An Earley recognizer (Aycock-Horspool for empty rules) over the whole
 * input: the simple, slow, exact oracle the fast matcher is tested against.
 * Returns GRAMMAR_MATCH when in[0..n) is a sentence of g, GRAMMAR_PREFIX
 * when it is a proper viable prefix (some continuation makes a sentence),
 * GRAMMAR_DEAD otherwise. g must be finished. */
enum { GRAMMAR_DEAD = 0, GRAMMAR_PREFIX = 1, GRAMMAR_MATCH = 2 };
int grammar_recognize(const Grammar *g, const int *in, int n);
/* The same over bytes (no control tokens). */
int grammar_recognize_bytes(const Grammar *g, const void *bytes, size_t n);

#endif
