/* gbnf — llama.cpp's GBNF grammar files compiled into a Grammar, so that
 * grammars written for llama.cpp work as they are.
 *
 * The syntax (llama.cpp grammars/README.md and its parser):
 *   name ::= alternatives      names [a-zA-Z0-9_-]+; `root` is the start
 *   a b | c                    sequences and alternation
 *   "text"                     literal, escapes \n \r \t \\ \" \[ \] \xHH
 *                              \uHHHH \UHHHHHHHH (code points, as UTF-8)
 *   [a-z_] [^\n]               character classes over code points, negated
 *                              with ^ (\- and \^ are accepted there too)
 *   .                          any character
 *   ( ... )                    groups
 *   x* x+ x? x{m} x{m,} x{m,n} repetition of the preceding element (a whole
 *                              literal, class, group or name); m, n at most
 *                              GBNF_MAX_REPEAT
 *   # comment                  to the end of the line
 *   <[123]>                    control token 123 (a SYM_SPECIAL)
 *   <name>                     the control token whose text is <name>, when
 *                              opt->token resolves it (else an error)
 * A rule ends at a newline, except inside parentheses and after `|`.
 * Not supported (an error): negated tokens !<...> (our grammar has no
 * "any token but"), a rule defined twice (llama.cpp keeps the last one).
 * Errors are one line: "gbnf: line L col C: what" (undefined rules at their
 * first use, missing root, bad escapes, unbalanced parentheses...).
 * Parentheses nest at most GBNF_MAX_DEPTH deep (the parser's recursion);
 * one grammar adds at most GBNF_MAX_RULES rules. */
#ifndef GRAMMAR_GBNF_H
#define GRAMMAR_GBNF_H

#include <stddef.h>

#include "grammar/grammar.h"

#define GBNF_MAX_DEPTH 100
#define GBNF_MAX_REPEAT 10000
#define GBNF_MAX_RULES 200000

typedef struct {
    /* <name> tokens: the id of the control token spelled text[0..len)
     * (angle brackets included), or -1 when it is not one. May be NULL. */
    int (*token)(void *user, const char *text, size_t len);
    void *user;
    /* Prepended to every rule name, to embed the grammar among other
     * rules; NULL: none. */
    const char *prefix;
} GbnfOptions;

/* Compiles text[0..len) into g's rules. Returns the root rule, or -1 with
 * err set (rules made before the error stay in g). opt may be NULL. */
int gbnf_rule(Grammar *g, const char *text, size_t len, const GbnfOptions *opt);

/* The same as g's start rule, and finishes g. Returns 0, or -1. */
int gbnf_compile(Grammar *g, const char *text, size_t len, const GbnfOptions *opt);

#endif
