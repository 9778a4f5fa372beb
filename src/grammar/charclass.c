/* charclass — code point sets and their rules (charclass.h). */
#include "grammar/charclass.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

void charset_add(CharSet *s, uint32_t lo, uint32_t hi) {
    if (lo > hi) {
        uint32_t t = lo;
        lo = hi, hi = t;
    }
    if (lo > CHARSET_MAX) return;
    if (hi > CHARSET_MAX) hi = CHARSET_MAX;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->r = xrealloc(s->r, (size_t)s->cap * sizeof *s->r);
    }
    s->r[s->n][0] = lo, s->r[s->n][1] = hi;
    s->n++;
}

void charset_add_set(CharSet *s, const CharSet *o) {
    for (int i = 0; i < o->n; i++) charset_add(s, o->r[i][0], o->r[i][1]);
}

static int cmp_range(const void *x, const void *y) {
    const uint32_t *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

void charset_norm(CharSet *s) {
    if (!s->n) return;
    qsort(s->r, (size_t)s->n, sizeof *s->r, cmp_range);
    int k = 0;
    for (int i = 0; i < s->n; i++) {
        if (k && s->r[i][0] <= s->r[k - 1][1] + 1) {
            if (s->r[i][1] > s->r[k - 1][1]) s->r[k - 1][1] = s->r[i][1];
        } else {
            s->r[k][0] = s->r[i][0], s->r[k][1] = s->r[i][1], k++;
        }
    }
    s->n = k;
}

void charset_negate(CharSet *s) {
    charset_norm(s);
    CharSet c = {0};
    uint32_t next = 0;
    for (int i = 0; i < s->n; i++) {
        if (s->r[i][0] > next) charset_add(&c, next, s->r[i][0] - 1);
        next = s->r[i][1] + 1;
    }
    if (next <= CHARSET_MAX) charset_add(&c, next, CHARSET_MAX);
    charset_free(s);
    *s = c;
}

int charset_has(const CharSet *s, uint32_t c) {
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (c < s->r[mid][0]) hi = mid - 1;
        else if (c > s->r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

void charset_free(CharSet *s) {
    free(s->r);
    memset(s, 0, sizeof *s);
}

void charset_add_digit(CharSet *s) { charset_add(s, '0', '9'); }

void charset_add_word(CharSet *s) {
    charset_add(s, 'a', 'z'), charset_add(s, 'A', 'Z'), charset_add(s, '0', '9'), charset_add(s, '_', '_');
}

/* ECMAScript WhiteSpace and LineTerminator (ECMA-262 22.2.2.9, \s). */
void charset_add_space(CharSet *s) {
    static const uint32_t r[][2] = {{0x09, 0x0D}, {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680},
                                    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F},
                                    {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) charset_add(s, r[i][0], r[i][1]);
}

void charset_add_dot(CharSet *s) {
    charset_add(s, 0, 0x09), charset_add(s, 0x0B, 0x0C), charset_add(s, 0x0E, 0x2027);
    charset_add(s, 0x202A, CHARSET_MAX);
}

/* ---------------------------------------------------------------- rules -- */

void charcache_free(CharCache *c) {
    for (int i = 0; i < c->n; i++) charset_free(&c->sets[i]);
    free(c->sets), free(c->rule), free(c->json);
    memset(c, 0, sizeof *c);
}

static int same_set(const CharSet *a, const CharSet *b) {
    return a->n == b->n && (!a->n || !memcmp(a->r, b->r, (size_t)a->n * sizeof *a->r));
}

/* A literal spelling (ASCII bytes) as one alternative of rule. */
static void alt_text(Grammar *g, int rule, const char *text) {
    SymVec seq = {0};
    grammar_literal(g, &seq, text, strlen(text));
    grammar_alt(g, rule, seq.v, seq.n);
    symvec_free(&seq);
}

static void add_hex_digit(ByteSet *b, int d) {
    byteset_add(b, "0123456789abcdef"[d]);
    if (d >= 10) byteset_add(b, "0123456789ABCDEF"[d]);
}

/* The JSON spellings of the set's characters (charclass.h). */
static void json_alts(Grammar *g, int rule, const char *name, const CharSet *s) {
    CharSet raw = {0};
    charset_add_set(&raw, s);
    CharSet bad = {0};
    charset_add(&bad, 0, 0x1F), charset_add(&bad, '"', '"'), charset_add(&bad, '\\', '\\');
    charset_negate(&bad); /* the characters JSON allows raw */
    CharSet keep = {0};   /* raw ∩ allowed, by a merge of the two sorted lists */
    charset_norm(&raw);
    for (int i = 0, j = 0; i < raw.n && j < bad.n;) {
        uint32_t lo = raw.r[i][0] > bad.r[j][0] ? raw.r[i][0] : bad.r[j][0];
        uint32_t hi = raw.r[i][1] < bad.r[j][1] ? raw.r[i][1] : bad.r[j][1];
        if (lo <= hi) charset_add(&keep, lo, hi);
        if (raw.r[i][1] < bad.r[j][1]) i++;
        else j++;
    }
    if (keep.n) {
        char sub[300];
        snprintf(sub, sizeof sub, "%s-raw", name);
        Sym r = sym_rule(grammar_utf8_class(g, sub, (const uint32_t(*)[2])keep.r, keep.n, 0));
        grammar_alt(g, rule, &r, 1);
    }
    charset_free(&raw), charset_free(&bad), charset_free(&keep);
    if (charset_has(s, '"')) alt_text(g, rule, "\\\"");
    if (charset_has(s, '\\')) alt_text(g, rule, "\\\\");
    if (charset_has(s, '/')) alt_text(g, rule, "\\/");
    static const struct {
        int c;
        const char *esc;
    } shorts[] = {{'\b', "\\b"}, {'\f', "\\f"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}};
    for (size_t i = 0; i < sizeof shorts / sizeof *shorts; i++)
        if (charset_has(s, (uint32_t)shorts[i].c)) alt_text(g, rule, shorts[i].esc);
    for (int hi = 0; hi < 2; hi++) { /* \u00XX: "\u00" [hi] [lows] */
        ByteSet lows = {{0}};
        int any = 0;
        for (int lo = 0; lo < 16; lo++)
            if (charset_has(s, (uint32_t)(hi * 16 + lo))) add_hex_digit(&lows, lo), any = 1;
        if (!any) continue;
        SymVec seq = {0};
        grammar_literal(g, &seq, hi ? "\\u001" : "\\u000", 5);
        symvec_push(&seq, grammar_bytes(g, &lows));
        grammar_alt(g, rule, seq.v, seq.n);
        symvec_free(&seq);
    }
}

int charset_rule(Grammar *g, CharCache *cache, const char *name, const CharSet *s, int json) {
    if (cache)
        for (int i = 0; i < cache->n; i++)
            if (cache->json[i] == json && same_set(&cache->sets[i], s)) return cache->rule[i];
    int rule;
    if (json) {
        rule = grammar_rule(g, "%s", name);
        json_alts(g, rule, name, s);
    } else {
        rule = grammar_utf8_class(g, name, (const uint32_t(*)[2])s->r, s->n, 0);
    }
    if (cache) {
        if (cache->n == cache->cap) {
            cache->cap = cache->cap ? 2 * cache->cap : 8;
            cache->sets = xrealloc(cache->sets, (size_t)cache->cap * sizeof *cache->sets);
            cache->rule = xrealloc(cache->rule, (size_t)cache->cap * sizeof *cache->rule);
            cache->json = xrealloc(cache->json, (size_t)cache->cap * sizeof *cache->json);
        }
        CharSet *c = &cache->sets[cache->n];
        memset(c, 0, sizeof *c);
        charset_add_set(c, s);
        cache->rule[cache->n] = rule, cache->json[cache->n] = json;
        cache->n++;
    }
    return rule;
}

int charclass_decode(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)s;
    int len = utf8_seq_len(p, n);
    if (!len) return 0;
    uint32_t c = len == 1 ? p[0] : len == 2 ? p[0] & 0x1Fu : len == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
    for (int i = 1; i < len; i++) c = c << 6 | (p[i] & 0x3Fu);
    *cp = c;
    return len;
}
