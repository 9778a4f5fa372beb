/* regex — regular expressions (the ECMAScript subset JSON Schema patterns
 * use) compiled into rules of a Grammar.
 *
 * Supported: literal characters (UTF-8) and escapes (\n \r \t \v \f \0
 * \cX \xHH \uHHHH \u{H...} and identity escapes such as \. \/ \\); `.`
 * (any character but \n \r U+2028 U+2029); classes [...] and [^...] with
 * ranges and \d \w \s \D \W \S inside (\b there is backspace); \d \w (ASCII,
 * as ECMAScript without the u flag) and \s (Unicode white space and line
 * terminators) and their negations; groups (...), (?:...), (?<name>...);
 * alternation; quantifiers * + ? {m} {m,} {m,n} and their lazy forms (the
 * same language); a `{` that starts no quantifier is a literal (Annex B);
 * anchors ^ at the start and $ at the end of a top-level alternative.
 * Errors (one line, "regex: offset N: ..."): backreferences (\1, \k<x>),
 * lookarounds, \b \B, \p{...}, anchors anywhere else, a quantifier on
 * nothing, {m,n} with n < m or n > REGEX_MAX_REPEAT, groups nested deeper
 * than REGEX_MAX_DEPTH (the parser's recursion is bounded by it), invalid
 * UTF-8, a lone surrogate.
 *
 * Matching semantics. Standalone (flags without REGEX_SEARCH): the whole
 * text matches the pattern, as if it were ^(?:pattern)$ (--regex).
 * REGEX_SEARCH (JSON Schema's `pattern`): patterns are not anchored, so a
 * top-level alternative without ^ may be preceded by any text and one
 * without $ followed by any text (newlines included).
 * REGEX_JSON: the rule reads the matched text as the content of a JSON
 * string (between its quotes): each character in one of its JSON spellings
 * (grammar/charclass.h), so a pattern's `"` is read as \" and a newline as
 * \n or \u000a. */
#ifndef GRAMMAR_REGEX_H
#define GRAMMAR_REGEX_H

#include <stddef.h>

#include "grammar/grammar.h"

#define REGEX_MAX_REPEAT 10000 /* the largest m, n of {m,n} */
#define REGEX_MAX_DEPTH 100    /* nested groups */

enum { REGEX_SEARCH = 1, REGEX_JSON = 2 };

/* Compiles the pattern re[0..len) into a new rule of g named name (its
 * sub-rules name-1, name-2, ...). Returns the rule, or -1 with err set
 * (rules made before the error stay in g, unreferenced). */
int regex_rule(Grammar *g, const char *name, const char *re, size_t len, int flags);

/* The same, matching only the texts of min..max characters (max -1: no
 * bound): code points, a JSON spelling of one (REGEX_JSON) being one, as
 * JSON Schema's minLength/maxLength count them. Exact: the pattern's
 * language intersected with the bound (grammar/lenbound.h), so the rules
 * grow with the pattern's size times the bound; past a limit an error. */
int regex_rule_len(Grammar *g, const char *name, const char *re, size_t len, int flags, long min, long max);

/* The standalone grammar of --regex: g (initialized, empty) gets the rule
 * "root" as its start, matching exactly the texts the whole pattern
 * matches, and is finished. Returns 0, or -1 with err set. */
int regex_compile(Grammar *g, const char *re, size_t len);

#endif
