/* matcher — the incremental parse state of a finished Grammar: feed a byte
 * or a control token, undo to a mark, ask whether the input so far is a
 * sentence.
 *
 * It is an Earley parser whose sets are hash-consed into states. A state is
 * the set's items that still wait for a symbol, each (position in an
 * alternative, origin), where the origin is the state the item's rule began
 * in (another state's id, or the state itself), plus whether the start rule
 * is complete from the beginning. Two positions of the input with equal
 * states have the same future (the same continuations are sentences), so
 *   - a state is an int, and the matcher's position a stack of them: undo
 *     is a pop, a clone is a copy;
 *   - step(state, input) is a function, memoized per state: the matcher is a
 *     deterministic automaton built lazily as inputs are tried. Where the
 *     grammar is regular (strings, numbers: repetition is left-recursive)
 *     its states repeat, and a step is one table lookup; nesting adds states.
 * Right recursion (x ::= a x | "") makes a new state per repetition whose
 * step completes the whole chain (O(repetitions): Leo's items would make it
 * O(1)): still exact, never a table hit. Frontends should prefer left
 * recursion (grammar_repeat does).
 *
 * Exact: the input is a viable prefix (some continuation is a sentence) iff
 * the matcher is alive after it, and a sentence iff complete — the answers
 * of grammar_recognize. (grammar_finish made every rule productive: a
 * non-empty Earley set is a viable prefix.)
 *
 * One thread at a time: even reading (step) may add states. The automaton
 * only grows; matcher_compact starts it afresh from the input so far. */
#ifndef GRAMMAR_MATCHER_H
#define GRAMMAR_MATCHER_H

#include <stdint.h>

#include "base/vec.h"
#include "grammar/grammar.h"

#define MATCHER_DEAD (-1)

typedef struct {
    int pos;    /* grammar position: an alternative's symbol index, see Matcher.pos_* */
    int origin; /* state id the item's rule began in, or MATCHER_SELF */
} MatchItem;
#define MATCHER_SELF (-1)

typedef struct {
    int item0, n_items; /* items[item0 .. item0 + n_items), sorted */
    uint32_t hash;
    int accept;         /* the start rule is complete from the first state */
    int32_t *row;       /* owns [width] or NULL: memoized steps (MATCHER_UNKNOWN,
                           MATCHER_DEAD or a state id) */
    int loop_known;     /* loop and utf8_loop are computed */
    int utf8_loop;      /* every UTF-8 character of 2..4 bytes steps it back
                           to itself, every byte on the way alive */
    ByteSet loop;       /* the bytes that step this state to itself */
} MatchState;
#define MATCHER_UNKNOWN (-2)

typedef struct {
    const Grammar *g; /* view: finished, outlives the matcher */
    /* positions: one per (alternative, dot); pos_sym[p] is what comes next */
    int n_pos;
    Sym *pos_sym;     /* owns [n_pos]: kind -1 at an alternative's end */
    int *pos_rule;    /* owns [n_pos]: the alternative's rule */
    int *alt_pos;     /* owns [n_alts]: the position of dot 0 */
    int *special;     /* owns [n_special]: the control token ids the grammar reads, sorted */
    int n_special;
    /* columns: bytes no byte set of the grammar tells apart share one (a
     * class); then one per control token the grammar reads */
    unsigned char byte_col[256];
    unsigned char col_byte[256]; /* [n_classes]: a byte of each class */
    int n_classes;
    int width;        /* n_classes + n_special: a row's columns */
    /* the automaton */
    MatchState *states; /* owns */
    int n_states, cap_states;
    MatchItem *items;   /* owns: every state's items */
    int n_items, cap_items;
    int *table;         /* owns: open addressing over states (id + 1, 0 empty) */
    int table_cap;
    /* scratch for a step: the new set and its duplicates (stamped) */
    MatchItem *work;
    int n_work, cap_work;
    uint32_t *seen_key; /* owns [seen_cap] */
    uint32_t *seen_stamp;
    uint32_t stamp;
    int seen_cap;
    /* the position */
    IntVec stack;       /* state ids: stack.v[stack.n - 1] is now */
    IntVec input;       /* what was fed (for matcher_compact) */
} Matcher;

/* Builds the matcher of finished grammar g at its start. 0, or -1 with err
 * set (g not finished). matcher_free accepts a zeroed or half-built one. */
int matcher_init(Matcher *m, const Grammar *g);
void matcher_free(Matcher *m);
/* Back to the start (the automaton is kept). */
void matcher_reset(Matcher *m);
/* A copy with its own automaton. 0 or -1. */
int matcher_clone(Matcher *dst, const Matcher *src);

/* Feeds one input: 0..255 a byte, GRAMMAR_SPECIAL + id a control token.
 * 1 when the input so far stays a viable prefix (the matcher advanced), 0
 * when it would not (the matcher is unchanged). */
int matcher_feed(Matcher *m, int in);
/* Feeds bytes p[0..n): 1 when all keep it alive; else 0 and unchanged. */
int matcher_feed_bytes(Matcher *m, const unsigned char *p, int n);
/* A mark of the position now; matcher_undo returns to it. */
static inline int matcher_mark(const Matcher *m) { return m->stack.n; }
void matcher_undo(Matcher *m, int mark);
/* 1 when the input so far is a sentence of the grammar. */
int matcher_complete(const Matcher *m);

/* ---- the automaton, for mask computations (grammar/constraint.c) ---- */

/* The state now. */
static inline int matcher_state(const Matcher *m) { return m->stack.v[m->stack.n - 1]; }
/* The column of an input (a byte's class), or -1 for a control token the
 * grammar never reads. */
int matcher_column(const Matcher *m, int in);
static inline int matcher_byte_col(const Matcher *m, int b) { return m->byte_col[b]; }
/* The state after column col from state s, or MATCHER_DEAD. A byte's steps
 * are its class's: one memo entry per class. */
int matcher_step_slow(Matcher *m, int s, int col);
static inline int matcher_step(Matcher *m, int s, int col) {
    int32_t *row = m->states[s].row;
    int r = row ? row[col] : MATCHER_UNKNOWN;
    return r != MATCHER_UNKNOWN ? r : matcher_step_slow(m, s, col);
}
/* The same without the memo (a fresh Earley step: the memo's oracle). */
int matcher_step_uncached(Matcher *m, int s, int col);
/* The bytes that step s to s itself (and state s's utf8_loop, computed with
 * them). */
const ByteSet *matcher_loop(Matcher *m, int s);
static inline int matcher_accepts(const Matcher *m, int s) { return m->states[s].accept; }

/* Rebuilds the automaton from nothing by refeeding the input so far (frees
 * the states only tried). */
void matcher_compact(Matcher *m);

#endif
