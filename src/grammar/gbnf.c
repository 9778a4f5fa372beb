/* gbnf — llama.cpp's GBNF into grammar rules (gbnf.h). A recursive-descent
 * parser that follows llama.cpp's (parse_space, parse_sequence...): rules
 * are made as they are read, names are resolved through a hash table and
 * checked at the end. Recursion happens only at parentheses. */
#include "grammar/gbnf.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"
#include "grammar/charclass.h"

typedef struct {
    char *name; /* owns */
    int rule, defined;
    size_t first_use; /* offset of the first reference, for "undefined" */
} Name;

typedef struct {
    Grammar *g;
    const char *s;
    size_t n, i;
    const GbnfOptions *opt;
    Name *names; /* owns [n_names] */
    int n_names, cap_names;
    int *slot; /* owns: open addressing, index + 1 into names */
    int cap_slot;
    int depth, count, first_rule;
    const char *rule_name; /* the rule being read, for sub-rule names */
    CharCache cache;
} Gb;

static int fail_at(Gb *b, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_at(Gb *b, size_t at, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = 1;
    size_t col = 1;
    for (size_t k = 0; k < at && k < b->n; k++) {
        if (b->s[k] == '\n') line++, col = 1;
        else col++;
    }
    return err_set("gbnf: line %d col %zu: %s", line, col, msg);
}

static int peek(const Gb *b, size_t k) { return b->i + k < b->n ? (unsigned char)b->s[b->i + k] : -1; }

static int is_word(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }

/* Spaces, tabs and comments; newlines too when newline_ok. */
static void skip_space(Gb *b, int newline_ok) {
    while (b->i < b->n) {
        char c = b->s[b->i];
        if (c == '#') {
            while (b->i < b->n && b->s[b->i] != '\n' && b->s[b->i] != '\r') b->i++;
        } else if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
            b->i++;
        } else {
            break;
        }
    }
}

/* ---- names ---- */

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t k = 0; k < n; k++) h = (h ^ (unsigned char)s[k]) * 16777619u;
    return h;
}

/* The entry of name s[0..n), made (with its rule) on first sight. */
static Name *name_get(Gb *b, const char *s, size_t n, size_t at) {
    if (2 * (b->n_names + 1) > b->cap_slot) {
        int cap = b->cap_slot ? 2 * b->cap_slot : 64;
        int *slot = xcalloc((size_t)cap, sizeof *slot);
        for (int k = 0; k < b->n_names; k++) {
            uint32_t h = name_hash(b->names[k].name, strlen(b->names[k].name)) & (uint32_t)(cap - 1);
            while (slot[h]) h = (h + 1) & (uint32_t)(cap - 1);
            slot[h] = k + 1;
        }
        free(b->slot);
        b->slot = slot, b->cap_slot = cap;
    }
    uint32_t h = name_hash(s, n) & (uint32_t)(b->cap_slot - 1);
    for (; b->slot[h]; h = (h + 1) & (uint32_t)(b->cap_slot - 1)) {
        Name *x = &b->names[b->slot[h] - 1];
        if (strlen(x->name) == n && !memcmp(x->name, s, n)) return x;
    }
    if (b->n_names == b->cap_names) {
        b->cap_names = b->cap_names ? 2 * b->cap_names : 32;
        b->names = xrealloc(b->names, (size_t)b->cap_names * sizeof *b->names);
    }
    Name *x = &b->names[b->n_names];
    x->name = xmalloc(n + 1);
    memcpy(x->name, s, n), x->name[n] = 0;
    x->rule = grammar_rule(b->g, "%s%s", b->opt->prefix ? b->opt->prefix : "", x->name);
    x->defined = 0, x->first_use = at;
    b->slot[h] = ++b->n_names;
    return x;
}

/* ---- characters ---- */

static int hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One character (an escape or UTF-8) at the cursor into *cp; in_class
 * allows \- and \^. */
static int parse_char(Gb *b, uint32_t *cp, int in_class) {
    size_t at = b->i;
    if (b->s[b->i] != '\\') {
        int len = charclass_decode(b->s + b->i, b->n - b->i, cp);
        if (!len) return fail_at(b, at, "invalid UTF-8");
        b->i += (size_t)len;
        return 0;
    }
    int c = peek(b, 1), digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    b->i += 2;
    if (digits) {
        uint32_t v = 0;
        for (int k = 0; k < digits; k++) {
            int h = hex_digit(peek(b, 0));
            if (h < 0) return fail_at(b, at, "\\%c needs %d hex digits", c, digits);
            v = v << 4 | (uint32_t)h, b->i++;
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return fail_at(b, at, "code point U+%X is not a character", v);
        return *cp = v, 0;
    }
    switch (c) {
    case 'n': return *cp = '\n', 0;
    case 'r': return *cp = '\r', 0;
    case 't': return *cp = '\t', 0;
    case '\\': case '"': case '[': case ']': return *cp = (uint32_t)c, 0;
    case '-': case '^':
        if (in_class) return *cp = (uint32_t)c, 0;
        break;
    }
    if (c < 0) return fail_at(b, at, "the text ends inside an escape");
    return fail_at(b, at, "unknown escape '\\%c'", c);
}

static void push_utf8(Gb *b, SymVec *seq, uint32_t c) {
    unsigned char u[4];
    grammar_literal(b->g, seq, (const char *)u, (size_t)utf8_encode(c, u));
}

static Sym class_sym(Gb *b, CharSet *set) {
    charset_norm(set);
    char name[300];
    snprintf(name, sizeof name, "%s%s-%d", b->opt->prefix ? b->opt->prefix : "", b->rule_name, ++b->count);
    return sym_rule(charset_rule(b->g, &b->cache, name, set, 0));
}

/* [...] after the '[': into seq. */
static int parse_class(Gb *b, SymVec *seq) {
    size_t at = b->i++;
    CharSet set = {0};
    int negate = peek(b, 0) == '^';
    if (negate) b->i++;
    for (;;) {
        if (b->i >= b->n) return charset_free(&set), fail_at(b, at, "unterminated character class");
        if (b->s[b->i] == ']') break;
        uint32_t lo, hi;
        if (parse_char(b, &lo, 1)) return charset_free(&set), -1;
        hi = lo;
        if (peek(b, 0) == '-' && peek(b, 1) != ']' && peek(b, 1) >= 0) {
            b->i++;
            if (parse_char(b, &hi, 1)) return charset_free(&set), -1;
            if (hi < lo) return charset_free(&set), fail_at(b, at, "range out of order in character class");
        }
        charset_add(&set, lo, hi);
    }
    b->i++;
    if (negate) charset_negate(&set);
    symvec_push(seq, class_sym(b, &set));
    charset_free(&set);
    return 0;
}

/* <[id]> or <name>, at the '<'. */
static int parse_token(Gb *b, SymVec *seq) {
    size_t at = b->i;
    if (peek(b, 1) == '[') {
        b->i += 2;
        long id = 0;
        int k = 0;
        for (; peek(b, 0) >= '0' && peek(b, 0) <= '9'; b->i++, k++)
            if ((id = id * 10 + (peek(b, 0) - '0')) > INT_MAX - GRAMMAR_SPECIAL) return fail_at(b, at, "token id too large");
        if (!k || peek(b, 0) != ']' || peek(b, 1) != '>') return fail_at(b, at, "expected <[digits]>");
        b->i += 2;
        symvec_push(seq, sym_special((int)id));
        return 0;
    }
    size_t end = b->i + 1;
    while (end < b->n && b->s[end] != '>' && b->s[end] != '\n') end++;
    if (end >= b->n || b->s[end] != '>') return fail_at(b, at, "expected '>' after a token");
    size_t len = end + 1 - at;
    if (!b->opt->token) return fail_at(b, at, "token %.*s needs a vocabulary to resolve it", (int)len, b->s + at);
    int id = b->opt->token(b->opt->user, b->s + at, len);
    if (id < 0) return fail_at(b, at, "%.*s is not one control token", (int)len, b->s + at);
    b->i = end + 1;
    symvec_push(seq, sym_special(id));
    return 0;
}

static int parse_alternates(Gb *b, int rule, int nested);

/* {m}, {m,}, {m,n} after the '{' is seen, as llama.cpp reads them. */
static int parse_braces(Gb *b, int nested, int *min, int *max) {
    size_t at = b->i++;
    long v[2] = {-1, -1};
    skip_space(b, nested);
    for (int k = 0; k < 2; k++) {
        if (peek(b, 0) >= '0' && peek(b, 0) <= '9') {
            v[k] = 0;
            for (; peek(b, 0) >= '0' && peek(b, 0) <= '9'; b->i++)
                if ((v[k] = v[k] * 10 + (peek(b, 0) - '0')) > GBNF_MAX_REPEAT)
                    return fail_at(b, at, "repetition count past %d", GBNF_MAX_REPEAT);
            skip_space(b, nested);
        } else if (k == 0) {
            return fail_at(b, at, "expected a number after '{'");
        }
        if (k == 0 && peek(b, 0) == '}') {
            v[1] = v[0];
            break;
        }
        if (k == 0 && peek(b, 0) != ',') return fail_at(b, at, "expected ',' or '}' in {m,n}");
        if (k == 0) b->i++, skip_space(b, nested);
    }
    if (peek(b, 0) != '}') return fail_at(b, at, "expected '}'");
    b->i++;
    if (v[1] >= 0 && v[1] < v[0]) return fail_at(b, at, "{%ld,%ld}: the maximum is below the minimum", v[0], v[1]);
    *min = (int)v[0], *max = (int)v[1];
    return 0;
}

static int parse_sequence(Gb *b, SymVec *seq, int nested) {
    int last = -1; /* where the last element starts in seq */
    while (b->i < b->n) {
        int c = peek(b, 0);
        size_t at = b->i;
        int start = seq->n;
        if (c == '"') {
            b->i++;
            while (peek(b, 0) != '"') {
                uint32_t cp;
                if (b->i >= b->n) return fail_at(b, at, "unterminated literal");
                if (parse_char(b, &cp, 0)) return -1;
                push_utf8(b, seq, cp);
            }
            b->i++;
        } else if (c == '[') {
            if (parse_class(b, seq)) return -1;
        } else if (c == '<') {
            if (parse_token(b, seq)) return -1;
        } else if (c == '!') {
            return fail_at(b, at, "negated tokens (!<...>) are not supported");
        } else if (is_word(c)) {
            size_t e = b->i;
            while (e < b->n && is_word((unsigned char)b->s[e])) e++;
            symvec_push(seq, sym_rule(name_get(b, b->s + b->i, e - b->i, at)->rule));
            b->i = e;
        } else if (c == '(') {
            if (b->depth >= GBNF_MAX_DEPTH) return fail_at(b, at, "parentheses nested deeper than %d", GBNF_MAX_DEPTH);
            b->i++;
            skip_space(b, 1);
            int sub = grammar_rule(b->g, "%s%s-%d", b->opt->prefix ? b->opt->prefix : "", b->rule_name, ++b->count);
            b->depth++;
            int rc = parse_alternates(b, sub, 1);
            b->depth--;
            if (rc) return -1;
            if (peek(b, 0) != ')') return fail_at(b, at, "'(' without its ')'");
            b->i++;
            symvec_push(seq, sym_rule(sub));
        } else if (c == '.') {
            b->i++;
            CharSet all = {0};
            charset_add(&all, 0, CHARSET_MAX);
            symvec_push(seq, class_sym(b, &all));
            charset_free(&all);
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            int min = c == '+', max = c == '?' ? 1 : -1;
            if (c == '{') {
                if (parse_braces(b, nested, &min, &max)) return -1;
            } else {
                b->i++;
            }
            if (last < 0) return fail_at(b, at, "'%c' repeats nothing", c);
            int k = seq->n - last;
            Sym x;
            if (k == 1) {
                x = seq->v[last];
            } else { /* a literal of several bytes, or "": one rule */
                int w = grammar_rule(b->g, "%s%s-%d", b->opt->prefix ? b->opt->prefix : "", b->rule_name, ++b->count);
                grammar_alt(b->g, w, k ? seq->v + last : NULL, k);
                x = sym_rule(w);
            }
            char name[300];
            snprintf(name, sizeof name, "%s%s-%d", b->opt->prefix ? b->opt->prefix : "", b->rule_name, ++b->count);
            seq->n = last;
            symvec_push(seq, sym_rule(grammar_repeat(b->g, name, x, min, max)));
            if (b->g->n_rules - b->first_rule > GBNF_MAX_RULES)
                return fail_at(b, at, "grammar too large (repetitions unroll past %d rules)", GBNF_MAX_RULES);
            skip_space(b, nested);
            continue;
        } else {
            break;
        }
        last = start;
        skip_space(b, nested);
    }
    return 0;
}

static int parse_alternates(Gb *b, int rule, int nested) {
    for (;;) {
        SymVec seq = {0};
        int rc = parse_sequence(b, &seq, nested);
        if (!rc) grammar_alt(b->g, rule, seq.v, seq.n);
        symvec_free(&seq);
        if (rc) return -1;
        if (peek(b, 0) != '|') return 0;
        b->i++;
        skip_space(b, 1);
    }
}

static int parse_rule(Gb *b) {
    size_t at = b->i, e = b->i;
    while (e < b->n && is_word((unsigned char)b->s[e])) e++;
    if (e == at) return fail_at(b, at, "expected a rule name");
    Name *x = name_get(b, b->s + at, e - at, at);
    int rule = x->rule;
    if (x->defined) return fail_at(b, at, "rule '%s' is defined twice", x->name);
    x->defined = 1;
    b->rule_name = x->name;
    b->i = e;
    skip_space(b, 0);
    if (b->n - b->i < 3 || memcmp(b->s + b->i, "::=", 3)) return fail_at(b, b->i, "expected '::=' after '%s'", b->rule_name);
    b->i += 3;
    skip_space(b, 1);
    if (parse_alternates(b, rule, 0)) return -1;
    if (peek(b, 0) == '\r') b->i += peek(b, 1) == '\n' ? 2 : 1;
    else if (peek(b, 0) == '\n') b->i++;
    else if (b->i < b->n) return fail_at(b, b->i, "unexpected '%c' (expected the end of the line)", b->s[b->i]);
    skip_space(b, 1);
    return 0;
}

int gbnf_rule(Grammar *g, const char *text, size_t len, const GbnfOptions *opt) {
    GbnfOptions none = {0};
    Gb b = {.g = g, .s = text, .n = len, .opt = opt ? opt : &none, .first_rule = g->n_rules};
    int root = -1;
    skip_space(&b, 1);
    while (b.i < b.n)
        if (parse_rule(&b)) goto done;
    for (int k = 0; k < b.n_names; k++)
        if (!b.names[k].defined) {
            fail_at(&b, b.names[k].first_use, "undefined rule '%s'", b.names[k].name);
            goto done;
        }
    Name *r = NULL;
    for (int k = 0; k < b.n_names && !r; k++)
        if (!strcmp(b.names[k].name, "root")) r = &b.names[k];
    if (!r) {
        err_set("gbnf: the grammar has no 'root' rule");
        goto done;
    }
    root = r->rule;
done:
    for (int k = 0; k < b.n_names; k++) free(b.names[k].name);
    free(b.names), free(b.slot);
    charcache_free(&b.cache);
    return root;
}

int gbnf_compile(Grammar *g, const char *text, size_t len, const GbnfOptions *opt) {
    int root = gbnf_rule(g, text, len, opt);
    if (root < 0) return -1;
    g->start = root;
    return grammar_finish(g);
}
