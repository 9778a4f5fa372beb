/* regex — ECMAScript-flavoured patterns compiled into grammar rules
 * (regex.h). A recursive-descent parser builds the rules as it reads:
 * an alternation is a rule, a quantified atom a grammar_repeat rule, a class
 * a charclass rule; recursion happens only at groups, bounded by
 * REGEX_MAX_DEPTH. */
#include "grammar/regex.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"
#include "grammar/charclass.h"
#include "grammar/lenbound.h"

#define REGEX_MAX_RULES 200000 /* rules one pattern may add (repetition unrolls) */

typedef struct {
    Grammar *g;
    const char *s;
    size_t n, i;
    int flags, depth, count, first_rule;
    const char *name;
    int any_star; /* (?:[\s\S])*, for REGEX_SEARCH; -1 until made */
    CharCache cache;
    IntVec atoms; /* the rules that match one character (class rules), for lenbound */
} Re;

static int fail(Re *r, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(Re *r, size_t at, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set("regex: offset %zu: %s", at, msg);
}

static int new_rule(Re *r) { return grammar_rule(r->g, "%s-%d", r->name, ++r->count); }

static int peek(const Re *r, size_t k) { return r->i + k < r->n ? (unsigned char)r->s[r->i + k] : -1; }

static Sym set_sym(Re *r, CharSet *set) {
    charset_norm(set);
    char name[300];
    snprintf(name, sizeof name, "%s-%d", r->name, ++r->count);
    int rule = charset_rule(r->g, &r->cache, name, set, (r->flags & REGEX_JSON) != 0);
    intvec_push(&r->atoms, rule);
    return sym_rule(rule);
}

/* One literal character into frag: its UTF-8 bytes, or (JSON) its spellings. */
static void emit_char(Re *r, SymVec *frag, uint32_t c) {
    if ((r->flags & REGEX_JSON) && (c < 0x20 || c == '"' || c == '\\' || c == '/')) {
        CharSet one = {0};
        charset_add(&one, c, c);
        symvec_push(frag, set_sym(r, &one));
        charset_free(&one);
        return;
    }
    unsigned char b[4];
    grammar_literal(r->g, frag, (const char *)b, (size_t)utf8_encode(c, b));
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* k hex digits at the cursor into *v; 0, or -1 when they are not there. */
static int read_hex(Re *r, int k, uint32_t *v) {
    *v = 0;
    for (int j = 0; j < k; j++) {
        int h = hex_value(peek(r, (size_t)j));
        if (h < 0) return -1;
        *v = *v << 4 | (uint32_t)h;
    }
    r->i += (size_t)k;
    return 0;
}

/* \u escapes after the "\u": HHHH (a surrogate pair \uHHHH\uHHHH as one
 * character) or {H...}. */
static int read_unicode(Re *r, size_t at, uint32_t *cp) {
    if (peek(r, 0) == '{') {
        r->i++;
        uint32_t v = 0;
        int k = 0;
        for (int h; (h = hex_value(peek(r, 0))) >= 0; r->i++, k++)
            if ((v = v << 4 | (uint32_t)h) > 0x10FFFF) return fail(r, at, "\\u{...} escape past U+10FFFF");
        if (!k || peek(r, 0) != '}') return fail(r, at, "bad \\u{...} escape");
        r->i++;
        *cp = v;
    } else if (read_hex(r, 4, cp)) {
        return fail(r, at, "bad \\u escape (4 hex digits expected)");
    }
    if (*cp >= 0xD800 && *cp <= 0xDBFF && peek(r, 0) == '\\' && peek(r, 1) == 'u') {
        size_t save = r->i;
        uint32_t lo;
        r->i += 2;
        if (!read_hex(r, 4, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            return 0;
        }
        r->i = save;
    }
    if (*cp >= 0xD800 && *cp <= 0xDFFF) return fail(r, at, "lone surrogate \\u%04X (UTF-8 text cannot hold it)", *cp);
    return 0;
}

/* An escape after its backslash: a character (returns 0, *cp) or a class
 * (returns 1, added to *set), or -1 with err set. */
static int parse_escape(Re *r, int in_class, uint32_t *cp, CharSet *set) {
    size_t at = r->i - 1;
    if (r->i >= r->n) return fail(r, at, "pattern ends with a backslash");
    int c = (unsigned char)r->s[r->i++];
    switch (c) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S': {
        CharSet t = {0};
        if (c == 'd' || c == 'D') charset_add_digit(&t);
        if (c == 'w' || c == 'W') charset_add_word(&t);
        if (c == 's' || c == 'S') charset_add_space(&t);
        if (c < 'a') charset_negate(&t);
        charset_add_set(set, &t);
        charset_free(&t);
        return 1;
    }
    case 'b':
        if (in_class) return *cp = 8, 0;
        return fail(r, at, "\\b (word boundary) is not supported");
    case 'B': return fail(r, at, "\\B (word boundary) is not supported");
    case 'n': return *cp = '\n', 0;
    case 'r': return *cp = '\r', 0;
    case 't': return *cp = '\t', 0;
    case 'v': return *cp = '\v', 0;
    case 'f': return *cp = '\f', 0;
    case '0':
        if (peek(r, 0) >= '0' && peek(r, 0) <= '9') return fail(r, at, "octal escapes are not supported");
        return *cp = 0, 0;
    case 'c': {
        int l = peek(r, 0);
        if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z'))) return fail(r, at, "\\c must be followed by a letter");
        r->i++;
        return *cp = (uint32_t)(l % 32), 0;
    }
    case 'x':
        if (read_hex(r, 2, cp)) return fail(r, at, "bad \\x escape (2 hex digits expected)");
        return 0;
    case 'u': return read_unicode(r, at, cp);
    case 'p': case 'P': return fail(r, at, "Unicode property escapes (\\%c{...}) are not supported", c);
    case 'k':
        if (peek(r, 0) == '<') return fail(r, at, "named backreferences (\\k<...>) are not supported");
        return *cp = 'k', 0;
    default:
        if (c >= '1' && c <= '9') return fail(r, at, "backreferences (\\%c) are not supported", c);
        r->i--; /* an identity escape: the character itself */
        int len = charclass_decode(r->s + r->i, r->n - r->i, cp);
        if (!len) return fail(r, r->i, "invalid UTF-8");
        r->i += (size_t)len;
        return 0;
    }
}

/* [...] after the '[' is seen: the class into *set (not normalized). */
static int parse_class(Re *r, CharSet *set) {
    size_t at = r->i++;
    int negate = peek(r, 0) == '^';
    if (negate) r->i++;
    for (;;) {
        if (r->i >= r->n) return fail(r, at, "unterminated character class");
        if (r->s[r->i] == ']') {
            r->i++;
            break;
        }
        uint32_t lo, hi;
        int k;
        if (r->s[r->i] == '\\') {
            r->i++;
            if ((k = parse_escape(r, 1, &lo, set)) < 0) return -1;
            if (k == 1) continue; /* a class escape: a following '-' is a literal (Annex B) */
        } else {
            if (!(k = charclass_decode(r->s + r->i, r->n - r->i, &lo))) return fail(r, r->i, "invalid UTF-8");
            r->i += (size_t)k;
        }
        if (peek(r, 0) == '-' && peek(r, 1) != ']' && peek(r, 1) >= 0) {
            size_t dash = r->i++;
            CharSet rhs = {0};
            if (r->s[r->i] == '\\') {
                r->i++;
                k = parse_escape(r, 1, &hi, &rhs);
                if (k < 0) return charset_free(&rhs), -1;
                if (k == 1) { /* [a-\d]: a, '-', the class (Annex B) */
                    charset_add(set, lo, lo), charset_add(set, '-', '-'), charset_add_set(set, &rhs);
                    charset_free(&rhs);
                    continue;
                }
            } else {
                if (!(k = charclass_decode(r->s + r->i, r->n - r->i, &hi))) return fail(r, r->i, "invalid UTF-8");
                r->i += (size_t)k;
            }
            if (hi < lo) return fail(r, dash, "range out of order in character class");
            charset_add(set, lo, hi);
        } else {
            charset_add(set, lo, lo);
        }
    }
    if (negate) charset_negate(set);
    return 0;
}

/* {m}, {m,} or {m,n} at s[j] ('{'): 1 with *m, *n (n -1: none; counts
 * saturate at 1000000) and *end past the '}', or 0 when it is not one. */
static int scan_braces(const Re *r, size_t j, long *m, long *n, size_t *end) {
    long *v = m;
    *m = *n = -1;
    for (j++; j < r->n; j++) {
        char c = r->s[j];
        if (c >= '0' && c <= '9') {
            *v = (*v < 0 ? 0 : *v) * 10 + (c - '0');
            if (*v > 1000000) *v = 1000000;
        } else if (c == ',' && v == m && *m >= 0) {
            v = n;
        } else {
            break;
        }
    }
    if (*m < 0 || j >= r->n || r->s[j] != '}') return 0;
    if (v == m) *n = *m;
    *end = j + 1;
    return 1;
}

/* 1 when a quantifier starts at the cursor. */
static int at_quant(const Re *r) {
    int c = peek(r, 0);
    long m, n;
    size_t end;
    return c == '*' || c == '+' || c == '?' || (c == '{' && scan_braces(r, r->i, &m, &n, &end));
}

/* A quantifier at the cursor: 1 with *min, *max (max -1: none), 0 when
 * there is none (a '{' that starts no quantifier is a literal), -1. */
static int parse_quant(Re *r, int *min, int *max) {
    int c = peek(r, 0);
    size_t at = r->i, end;
    long m, n;
    if (c == '*' || c == '+' || c == '?') {
        r->i++;
        *min = c == '+', *max = c == '?' ? 1 : -1;
    } else if (c == '{' && scan_braces(r, r->i, &m, &n, &end)) {
        if (m > REGEX_MAX_REPEAT || n > REGEX_MAX_REPEAT)
            return fail(r, at, "repetition count past %d", REGEX_MAX_REPEAT);
        if (n >= 0 && n < m) return fail(r, at, "{%ld,%ld}: the maximum is below the minimum", m, n);
        r->i = end;
        *min = (int)m, *max = (int)n;
    } else {
        return 0;
    }
    if (peek(r, 0) == '?') r->i++; /* lazy: the same language */
    return 1;
}

static int parse_alt(Re *r, int top);

/* One atom (a character, class, group) into frag; -1 on error. */
static int parse_atom(Re *r, SymVec *frag) {
    int c = peek(r, 0);
    size_t at = r->i;
    if (at_quant(r)) return fail(r, at, "nothing to repeat before '%c'", c);
    if (c == '(') {
        r->i++;
        if (peek(r, 0) == '?') {
            int d = peek(r, 1), e = peek(r, 2);
            if (d == ':') {
                r->i += 2;
            } else if (d == '=' || d == '!' || (d == '<' && (e == '=' || e == '!'))) {
                return fail(r, at, "lookaround assertions are not supported");
            } else if (d == '<') {
                size_t j = r->i + 2;
                while (j < r->n && r->s[j] != '>') j++;
                if (j >= r->n || j == r->i + 2) return fail(r, at, "bad group name");
                r->i = j + 1;
            } else {
                return fail(r, at, "unknown group (?%c", d < 0 ? ' ' : d);
            }
        }
        if (r->depth >= REGEX_MAX_DEPTH) return fail(r, at, "groups nested deeper than %d", REGEX_MAX_DEPTH);
        r->depth++;
        int rule = parse_alt(r, 0);
        r->depth--;
        if (rule < 0) return -1;
        if (peek(r, 0) != ')') return fail(r, at, "unmatched '('");
        r->i++;
        symvec_push(frag, sym_rule(rule));
        return 0;
    }
    CharSet set = {0};
    uint32_t cp;
    int k = 0;
    if (c == '[') {
        k = parse_class(r, &set) < 0 ? -1 : 1;
    } else if (c == '.') {
        r->i++;
        charset_add_dot(&set);
        k = 1;
    } else if (c == '\\') {
        r->i++;
        k = parse_escape(r, 0, &cp, &set);
    } else {
        int len = charclass_decode(r->s + r->i, r->n - r->i, &cp);
        if (!len) return fail(r, r->i, "invalid UTF-8");
        r->i += (size_t)len;
    }
    if (k == 1) symvec_push(frag, set_sym(r, &set));
    if (k == 0) emit_char(r, frag, cp);
    charset_free(&set);
    return k < 0 ? -1 : 0;
}

static int any_star(Re *r) {
    if (r->any_star < 0) {
        CharSet all = {0};
        charset_add(&all, 0, CHARSET_MAX);
        Sym any = set_sym(r, &all);
        charset_free(&all);
        char name[300];
        snprintf(name, sizeof name, "%s-any", r->name);
        r->any_star = grammar_repeat(r->g, name, any, 0, -1);
    }
    return r->any_star;
}

/* A sequence of quantified atoms up to '|', ')' or the end, into seq. At
 * the top level, the anchors ^ (first) and $ (last) and REGEX_SEARCH's
 * padding. */
static int parse_seq(Re *r, SymVec *seq, int top) {
    int search = top && (r->flags & REGEX_SEARCH);
    if (top && peek(r, 0) == '^') r->i++;
    else if (search) symvec_push(seq, sym_rule(any_star(r)));
    int end_anchor = 0;
    while (r->i < r->n && r->s[r->i] != '|' && r->s[r->i] != ')') {
        size_t at = r->i;
        if (r->s[r->i] == '^') return fail(r, at, "anchor '^' is supported only at the start of the pattern");
        if (r->s[r->i] == '$') {
            r->i++;
            if (!top || (r->i < r->n && r->s[r->i] != '|'))
                return fail(r, at, "anchor '$' is supported only at the end of the pattern");
            end_anchor = 1;
            break;
        }
        SymVec frag = {0};
        if (parse_atom(r, &frag) < 0) return symvec_free(&frag), -1;
        int min = 0, max = 0, q = parse_quant(r, &min, &max);
        if (q < 0) return symvec_free(&frag), -1;
        if (q == 1) {
            Sym x = frag.v[0];
            if (frag.n != 1) {
                int w = new_rule(r);
                grammar_alt(r->g, w, frag.v, frag.n);
                x = sym_rule(w);
            }
            char name[300];
            snprintf(name, sizeof name, "%s-%d", r->name, ++r->count);
            frag.n = 0;
            symvec_push(&frag, sym_rule(grammar_repeat(r->g, name, x, min, max)));
            if (at_quant(r))
                return symvec_free(&frag), fail(r, r->i, "nothing to repeat (a quantifier after a quantifier)");
            if (r->g->n_rules - r->first_rule > REGEX_MAX_RULES)
                return symvec_free(&frag), fail(r, at, "pattern too large (repetitions unroll past %d rules)", REGEX_MAX_RULES);
        }
        for (int k = 0; k < frag.n; k++) symvec_push(seq, frag.v[k]);
        symvec_free(&frag);
    }
    if (search && !end_anchor) symvec_push(seq, sym_rule(any_star(r)));
    return 0;
}

/* Alternatives up to ')' or the end: a new rule (top: named r->name). */
static int parse_alt(Re *r, int top) {
    int rule = top ? grammar_rule(r->g, "%s", r->name) : new_rule(r);
    for (;;) {
        SymVec seq = {0};
        if (parse_seq(r, &seq, top) < 0) return symvec_free(&seq), -1;
        grammar_alt(r->g, rule, seq.v, seq.n);
        symvec_free(&seq);
        if (peek(r, 0) != '|') break;
        r->i++;
    }
    return rule;
}

static int parse(Grammar *g, const char *name, const char *re, size_t len, int flags, long min, long max) {
    Re r = {.g = g, .s = re, .n = len, .flags = flags, .name = name, .any_star = -1, .first_rule = g->n_rules};
    int rule = parse_alt(&r, 1);
    if (rule >= 0 && r.i < r.n) rule = fail(&r, r.i, "unmatched ')'");
    if (rule >= 0 && (min > 0 || max >= 0)) rule = lenbound_rule(g, name, rule, r.atoms.v, r.atoms.n, min, max);
    charcache_free(&r.cache);
    intvec_free(&r.atoms);
    return rule;
}

int regex_rule(Grammar *g, const char *name, const char *re, size_t len, int flags) {
    return parse(g, name, re, len, flags, 0, -1);
}

int regex_rule_len(Grammar *g, const char *name, const char *re, size_t len, int flags, long min, long max) {
    return parse(g, name, re, len, flags, min, max);
}

int regex_compile(Grammar *g, const char *re, size_t len) {
    int root = regex_rule(g, "root", re, len, 0);
    if (root < 0) return -1;
    g->start = root;
    return grammar_finish(g);
}
