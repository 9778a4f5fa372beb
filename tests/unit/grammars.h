/* grammars — JSON-like grammars built with the builder API (grammar.h), for
 * the constraint tests and bench/mask_bench.c (header-only: static
 * functions). The JSON Schema compiler will make such grammars from schemas;
 * these are written by hand. */
#ifndef TESTS_GRAMMARS_H
#define TESTS_GRAMMARS_H

#include <string.h>

#include "grammar/grammar.h"

/* A rule matching the literal s. */
static inline Sym gr_lit(Grammar *g, const char *s) {
    SymVec seq = {0};
    grammar_literal(g, &seq, s, strlen(s));
    int r = grammar_rule(g, "lit-%d", g->n_rules);
    grammar_alt(g, r, seq.v, seq.n);
    symvec_free(&seq);
    return sym_rule(r);
}

/* A rule matching the sequence seq[0..n). */
static inline Sym gr_seq(Grammar *g, const char *name, const Sym *seq, int n) {
    int r = grammar_rule(g, "%s", name);
    grammar_alt(g, r, seq, n);
    return sym_rule(r);
}

/* A rule matching one of the symbols alts[0..n). */
static inline Sym gr_alt(Grammar *g, const char *name, const Sym *alts, int n) {
    int r = grammar_rule(g, "%s", name);
    for (int i = 0; i < n; i++) grammar_alt(g, r, &alts[i], 1);
    return sym_rule(r);
}

static inline Sym gr_range(Grammar *g, int lo, int hi) {
    ByteSet s = {{0}};
    byteset_add_range(&s, lo, hi);
    return grammar_bytes(g, &s);
}

static inline Sym gr_opt(Grammar *g, Sym x) { return sym_rule(grammar_repeat(g, "opt", x, 0, 1)); }

/* JSON's pieces, shared by both grammars. */
typedef struct {
    Sym ws, string, number, integer;
} JsonParts;

static inline JsonParts gr_json_parts(Grammar *g) {
    JsonParts p;
    ByteSet wsb = {{0}};
    byteset_add(&wsb, ' '), byteset_add(&wsb, '\t'), byteset_add(&wsb, '\n'), byteset_add(&wsb, '\r');
    p.ws = sym_rule(grammar_repeat(g, "ws", grammar_bytes(g, &wsb), 0, -1));
    /* string ::= "\"" char* "\"" ; char ::= [^"\\\x00-\x1F] | "\\" escape */
    static const uint32_t not_plain[][2] = {{'"', '"'}, {'\\', '\\'}, {0, 0x1F}};
    int plain = grammar_utf8_class(g, "plain", not_plain, 3, 1);
    ByteSet esc = {{0}};
    for (const char *e = "\"\\/bfnrt"; *e; e++) byteset_add(&esc, *e);
    ByteSet hex = {{0}};
    byteset_add_range(&hex, '0', '9'), byteset_add_range(&hex, 'a', 'f'), byteset_add_range(&hex, 'A', 'F');
    Sym h = grammar_bytes(g, &hex);
    Sym uesc[] = {grammar_byte(g, 'u'), h, h, h, h};
    Sym escapes[] = {grammar_bytes(g, &esc), gr_seq(g, "uescape", uesc, 5)};
    Sym escaped[] = {grammar_byte(g, '\\'), gr_alt(g, "escape", escapes, 2)};
    Sym chr[] = {sym_rule(plain), gr_seq(g, "escaped", escaped, 2)};
    Sym chars = sym_rule(grammar_repeat(g, "chars", gr_alt(g, "char", chr, 2), 0, -1));
    Sym str[] = {grammar_byte(g, '"'), chars, grammar_byte(g, '"')};
    p.string = gr_seq(g, "string", str, 3);
    /* integer ::= "-"? ("0" | [1-9] [0-9]*) ; number ::= integer ("." [0-9]+)? ([eE] [+-]? [0-9]+)? */
    Sym digits = sym_rule(grammar_repeat(g, "digits", gr_range(g, '0', '9'), 1, -1));
    Sym nonzero[] = {gr_range(g, '1', '9'), sym_rule(grammar_repeat(g, "digits0", gr_range(g, '0', '9'), 0, -1))};
    Sym intpart[] = {grammar_byte(g, '0'), gr_seq(g, "nonzero", nonzero, 2)};
    Sym integer[] = {gr_opt(g, grammar_byte(g, '-')), gr_alt(g, "intpart", intpart, 2)};
    p.integer = gr_seq(g, "integer", integer, 2);
    Sym frac[] = {grammar_byte(g, '.'), digits};
    ByteSet e = {{0}}, sign = {{0}};
    byteset_add(&e, 'e'), byteset_add(&e, 'E'), byteset_add(&sign, '+'), byteset_add(&sign, '-');
    Sym exp[] = {grammar_bytes(g, &e), gr_opt(g, grammar_bytes(g, &sign)), digits};
    Sym number[] = {p.integer, gr_opt(g, gr_seq(g, "frac", frac, 2)), gr_opt(g, gr_seq(g, "exp", exp, 3))};
    p.number = gr_seq(g, "number", number, 3);
    return p;
}

/* Any JSON value, surrounded by whitespace. Returns the start rule. */
static inline int gr_json(Grammar *g) {
    JsonParts p = gr_json_parts(g);
    int value = grammar_rule(g, "value");
    /* object ::= "{" ws ( member (ws "," ws member)* ws )? "}" ; member ::= string ws ":" ws value */
    Sym member[] = {p.string, p.ws, grammar_byte(g, ':'), p.ws, sym_rule(value)};
    Sym mem = gr_seq(g, "member", member, 5);
    int members = grammar_rule(g, "members"); /* members ::= member | members ws "," ws member */
    grammar_alt(g, members, &mem, 1);
    Sym more[] = {sym_rule(members), p.ws, grammar_byte(g, ','), p.ws, mem};
    grammar_alt(g, members, more, 5);
    Sym body[] = {sym_rule(members), p.ws};
    Sym obj[] = {grammar_byte(g, '{'), p.ws, gr_opt(g, gr_seq(g, "obody", body, 2)), grammar_byte(g, '}')};
    int elements = grammar_rule(g, "elements");
    Sym val = sym_rule(value);
    grammar_alt(g, elements, &val, 1);
    Sym emore[] = {sym_rule(elements), p.ws, grammar_byte(g, ','), p.ws, val};
    grammar_alt(g, elements, emore, 5);
    Sym abody[] = {sym_rule(elements), p.ws};
    Sym arr[] = {grammar_byte(g, '['), p.ws, gr_opt(g, gr_seq(g, "abody", abody, 2)), grammar_byte(g, ']')};
    Sym values[] = {gr_seq(g, "object", obj, 4), gr_seq(g, "array", arr, 4), p.string, p.number,
                    gr_lit(g, "true"), gr_lit(g, "false"), gr_lit(g, "null")};
    for (int i = 0; i < 7; i++) grammar_alt(g, value, &values[i], 1);
    Sym root[] = {p.ws, sym_rule(value), p.ws};
    int r = grammar_rule(g, "root");
    grammar_alt(g, r, root, 3);
    return r;
}

/* A schema-like object: fixed keys in order, a string, an integer, an array
 * of strings, an enum, a nested object with a number and an optional
 * boolean. Returns the start rule. */
static inline int gr_schema(Grammar *g) {
    JsonParts p = gr_json_parts(g);
    Sym ws = p.ws, comma[] = {ws, grammar_byte(g, ','), ws};
    Sym sep = gr_seq(g, "comma", comma, 3);
    Sym colon[] = {ws, grammar_byte(g, ':'), ws};
    Sym col = gr_seq(g, "colon", colon, 3);
    /* tags ::= "[" ws ( string (sep string)* ws )? "]" */
    Sym more[] = {sep, p.string};
    Sym list[] = {p.string, sym_rule(grammar_repeat(g, "tags-more", gr_seq(g, "tag-more", more, 2), 0, -1)), ws};
    Sym tags[] = {grammar_byte(g, '['), ws, gr_opt(g, gr_seq(g, "tag-list", list, 3)), grammar_byte(g, ']')};
    Sym kinds[] = {gr_lit(g, "\"person\""), gr_lit(g, "\"company\""), gr_lit(g, "\"place\"")};
    Sym yes_no[] = {gr_lit(g, "true"), gr_lit(g, "false")};
    Sym opt_field[] = {sep, gr_lit(g, "\"verified\""), col, gr_alt(g, "bool", yes_no, 2)};
    Sym addr[] = {grammar_byte(g, '{'), ws, gr_lit(g, "\"street\""), col, p.string, sep, gr_lit(g, "\"zip\""), col,
                  p.number, gr_opt(g, gr_seq(g, "verified", opt_field, 4)), ws, grammar_byte(g, '}')};
    Sym obj[] = {grammar_byte(g, '{'), ws,
                 gr_lit(g, "\"name\""), col, p.string, sep,
                 gr_lit(g, "\"age\""), col, p.integer, sep,
                 gr_lit(g, "\"tags\""), col, gr_seq(g, "tags", tags, 4), sep,
                 gr_lit(g, "\"kind\""), col, gr_alt(g, "kind", kinds, 3), sep,
                 gr_lit(g, "\"address\""), col, gr_seq(g, "address", addr, 12),
                 ws, grammar_byte(g, '}')};
    return gr_seq(g, "root", obj, (int)(sizeof obj / sizeof *obj)).arg;
}

#endif
