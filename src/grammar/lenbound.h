/* lenbound — a regular rule of a grammar intersected with a bound on its
 * length in characters: JSON Schema's minLength/maxLength beside a
 * pattern. Internal to grammar/regex.c.
 *
 * The rule must describe a regular language: its rules nest without
 * recursion, except alternatives that start with their own rule (the
 * left recursion grammar_repeat makes). What counts as one character: a
 * rule listed in atoms (it matches exactly one character, such as a
 * charset_rule: it is not looked into), and a byte set whose bytes start
 * characters (ASCII or a UTF-8 lead byte); a byte set of UTF-8
 * continuation bytes counts nothing. */
#ifndef GRAMMAR_LENBOUND_H
#define GRAMMAR_LENBOUND_H

#include "grammar/grammar.h"

/* A new rule (its sub-rules named name-len-N) matching exactly the texts of
 * rule that have min..max characters (max -1: no bound). Returns it, or -1
 * with err set (a rule that is not regular or unfolds too large, a byte
 * set that cannot be counted). */
int lenbound_rule(Grammar *g, const char *name, int rule, const int *atoms, int n_atoms, long min, long max);

#endif
