/* jsontext — the rules of JSON's lexical pieces that the JSON Schema
 * compiler assembles: whitespace, strings (any, counted, formats), numbers
 * (integer ranges exact by digit-range rules, numbers with integer
 * bounds), any JSON value, and the compact spelling of a given value (enum,
 * const). Internal to grammar/jsonschema.c.
 *
 * Whitespace: JSON whitespace (at most ws_max bytes) goes only where
 * jsontext_ws() is placed: after '{' '[' ',' ':', keys and member values;
 * in compact mode (ws_max 0) nowhere. */
#ifndef GRAMMAR_JSONTEXT_H
#define GRAMMAR_JSONTEXT_H

#include <stdint.h>

#include "base/vec.h"
#include "grammar/charclass.h"
#include "grammar/grammar.h"

struct cJSON;

#define JSONTEXT_MAX_REPEAT 10000 /* the largest count a length bound may unroll */

typedef struct {
    Grammar *g; /* view */
    int ws_max;
    int ws, jchar, string, value, object, array, number, integer, any_char; /* made on first use; -1 */
    int frac_any, digits, int_part;
    int count; /* for rule names */
    CharCache cache;
} JsonText;

void jsontext_init(JsonText *t, Grammar *g, int ws_max);
void jsontext_free(JsonText *t);

/* Appends the whitespace symbol (nothing in compact mode). */
void jsontext_ws(JsonText *t, SymVec *seq);

/* Any JSON value / object / array / string, as rules. */
int jsontext_value(JsonText *t);
int jsontext_object(JsonText *t);
int jsontext_array(JsonText *t);
int jsontext_string(JsonText *t);

/* One character of a string's content in any JSON spelling (raw, short
 * escape, \uXXXX, a surrogate pair as one character). */
int jsontext_char(JsonText *t);

/* A string of min..max characters (max -1: no bound). Returns the rule, or
 * -1 with err set when max - min or min passes JSONTEXT_MAX_REPEAT. */
int jsontext_string_len(JsonText *t, long min, long max);

/* A string in a format: date-time, date, time, email, uuid, ipv4, ipv6.
 * Returns the rule, or -1 with err set for another format. */
int jsontext_format(JsonText *t, const char *format);

/* Wraps a content rule in quotes: "\"" content "\"". */
int jsontext_quoted(JsonText *t, int content);

/* Bounds of a number; an absent side has has_* = 0. */
typedef struct {
    int has_lo, has_hi, lo_excl, hi_excl;
    double lo, hi;
} JsonBounds;

/* Integers in the bounds, exactly (no leading zeros, no "-0"). Bounds past
 * +-2^53 are an error (they are not exact as doubles). Returns the rule, or
 * -1 with err set. */
int jsontext_integer(JsonText *t, const JsonBounds *b);
/* Numbers in the bounds, exactly. Unbounded: any JSON number. With a
 * bound: bounds within +-2^53 (else an error), integers or fractions, each
 * taken as its shortest decimal spelling (the schema's text); the number
 * is written without exponent, and its text compared as a decimal (a text
 * of more than 15 significant digits beside a bound may round, as a double,
 * to the other side). Returns the rule, or -1 with err set. */
int jsontext_number(JsonText *t, const JsonBounds *b);

/* Appends v's compact JSON spelling (no whitespace; numbers as the shortest
 * decimal that reads back, integers below 2^53 without fraction). Returns
 * 0, or -1 with err set for a number JSON cannot spell (infinite). */
int jsontext_dump(ByteBuf *out, const struct cJSON *v);

/* Appends the JSON string spelling of the NUL-terminated UTF-8 s (the one
 * jsontext_dump writes: \" \\ \b \f \n \r \t, \u00XX, the rest raw). */
void jsontext_dump_string(ByteBuf *out, const char *s);

/* A rule matching exactly the text s[0..n). */
int jsontext_literal(JsonText *t, const char *s, size_t n);

#endif
