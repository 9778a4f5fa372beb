/* charclass — sets of Unicode code points, and the grammar rule that reads
 * one character of a set: as raw UTF-8 text, or as a character of a JSON
 * string's content (escaped where JSON requires it).
 *
 * The three constraint frontends share it: the regex compiler (classes,
 * `.`, \d \w \s), GBNF (classes, `.`), JSON Schema (string characters, keys
 * that must differ from the declared ones).
 *
 * JSON spelling (json = 1): a character c of the set is read as
 *   c raw (UTF-8)        when c is not '"', '\\' or a control (< U+0020);
 *   \" \\                for '"' and '\\';
 *   \/                   for '/' (besides the raw '/');
 *   \b \f \n \r \t       for those controls, and \u00XX (hex digits of either
 *                        case) for every control.
 * Every spelling decodes to c, so every accepted text is valid JSON whose
 * decoded characters are in the set; other valid spellings (\u0041 for
 * 'A') are not read: the model writes characters the plain way. */
#ifndef GRAMMAR_CHARCLASS_H
#define GRAMMAR_CHARCLASS_H

#include <stddef.h>
#include <stdint.h>

#include "grammar/grammar.h"

#define CHARSET_MAX 0x10FFFF

typedef struct {
    uint32_t (*r)[2]; /* owns [n] ranges lo..hi inclusive; sorted, disjoint, not adjacent after charset_norm */
    int n, cap;
} CharSet;

void charset_add(CharSet *s, uint32_t lo, uint32_t hi); /* lo..hi (any order); clipped to CHARSET_MAX */
void charset_add_set(CharSet *s, const CharSet *o);
void charset_norm(CharSet *s);   /* sorts and merges */
void charset_negate(CharSet *s); /* complement within 0..CHARSET_MAX (normalizes) */
int charset_has(const CharSet *s, uint32_t c); /* s normalized */
void charset_free(CharSet *s);   /* accepts a zeroed set */

/* The sets of \d, \w, \s as ECMAScript defines them (\d \w ASCII; \s the
 * Unicode white space and line terminators), and `.` (every character but
 * the line terminators \n \r U+2028 U+2029); appended to s. */
void charset_add_digit(CharSet *s);
void charset_add_word(CharSet *s);
void charset_add_space(CharSet *s);
void charset_add_dot(CharSet *s);

/* Rules already made for a set, so that the same class (`.` in a long
 * pattern) is one rule. */
typedef struct {
    CharSet *sets; /* owns [n] normalized copies */
    int *rule, *json;
    int n, cap;
} CharCache;

void charcache_free(CharCache *c);

/* A rule matching one character of s (normalized), raw (json = 0) or in
 * its JSON spellings (json = 1, above); the same set and mode give the same
 * rule when cache is not NULL. An empty set gives a rule with no
 * alternative (it matches nothing). Rules are named name, name-raw. */
int charset_rule(Grammar *g, CharCache *cache, const char *name, const CharSet *s, int json);

/* Decodes the UTF-8 character at s[0..n): returns its length (1..4) and sets
 * *cp, or 0 when the bytes there are not valid UTF-8. */
int charclass_decode(const char *s, size_t n, uint32_t *cp);

#endif
