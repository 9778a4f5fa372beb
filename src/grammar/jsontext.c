/* jsontext — JSON's lexical pieces as grammar rules (jsontext.h). */
#include "grammar/jsontext.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "grammar/regex.h"

#define EXACT_MAX 9007199254740992.0 /* 2^53: every integer up to it is a double */

void jsontext_init(JsonText *t, Grammar *g, int ws_max) {
    memset(t, 0, sizeof *t);
    t->g = g;
    t->ws_max = ws_max;
    t->ws = t->jchar = t->string = t->value = t->object = t->array = t->number = t->integer = t->any_char = -1;
    t->frac_any = t->digits = t->int_part = -1;
}

void jsontext_free(JsonText *t) { charcache_free(&t->cache); }

static Sym chars(Grammar *g, const char *set) {
    ByteSet s = {{0}};
    for (; *set; set++) byteset_add(&s, (unsigned char)*set);
    return grammar_bytes(g, &s);
}

static Sym byte_range(Grammar *g, int lo, int hi) {
    ByteSet s = {{0}};
    byteset_add_range(&s, lo, hi);
    return grammar_bytes(g, &s);
}

static void lit(Grammar *g, SymVec *seq, const char *s) { grammar_literal(g, seq, s, strlen(s)); }

void jsontext_ws(JsonText *t, SymVec *seq) {
    if (!t->ws_max) return;
    if (t->ws < 0) t->ws = grammar_repeat(t->g, "ws", chars(t->g, " \t\n\r"), 0, t->ws_max);
    symvec_push(seq, sym_rule(t->ws));
}

static int digits(JsonText *t) { /* [0-9]* */
    if (t->digits < 0) t->digits = grammar_repeat(t->g, "digits", byte_range(t->g, '0', '9'), 0, -1);
    return t->digits;
}

/* ---------------------------------------------------------------- strings -- */

int jsontext_char(JsonText *t) {
    if (t->jchar >= 0) return t->jchar;
    Grammar *g = t->g;
    static const uint32_t raw[][2] = {{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x10FFFF}};
    int r = grammar_rule(g, "char");
    Sym s = sym_rule(grammar_utf8_class(g, "char-raw", raw, 3, 0));
    grammar_alt(g, r, &s, 1);
    Sym hex = chars(g, "0123456789abcdefABCDEF");
    Sym esc[] = {grammar_byte(g, '\\'), chars(g, "\"\\/bfnrt")};
    grammar_alt(g, r, esc, 2);
    Sym u1[] = {grammar_byte(g, '\\'), grammar_byte(g, 'u'), chars(g, "0123456789abcABCefEF"), hex, hex, hex};
    grammar_alt(g, r, u1, 6); /* \uXXXX outside the surrogates */
    Sym u2[] = {grammar_byte(g, '\\'), grammar_byte(g, 'u'), chars(g, "dD"), byte_range(g, '0', '7'), hex, hex};
    grammar_alt(g, r, u2, 6);
    Sym pair[] = {grammar_byte(g, '\\'), grammar_byte(g, 'u'), chars(g, "dD"), chars(g, "89abAB"), hex, hex,
                  grammar_byte(g, '\\'), grammar_byte(g, 'u'), chars(g, "dD"), chars(g, "cdefCDEF"), hex, hex};
    grammar_alt(g, r, pair, 12); /* a surrogate pair: one character */
    return t->jchar = r;
}

int jsontext_quoted(JsonText *t, int content) {
    int r = grammar_rule(t->g, "string-%d", ++t->count);
    Sym q = grammar_byte(t->g, '"'), seq[] = {q, sym_rule(content), q};
    grammar_alt(t->g, r, seq, 3);
    return r;
}

int jsontext_string(JsonText *t) {
    if (t->string < 0) {
        int body = grammar_repeat(t->g, "chars", sym_rule(jsontext_char(t)), 0, -1);
        t->string = jsontext_quoted(t, body);
    }
    return t->string;
}

int jsontext_string_len(JsonText *t, long min, long max) {
    if (min > JSONTEXT_MAX_REPEAT || (max >= 0 && max - min > JSONTEXT_MAX_REPEAT))
        return err_set("string lengths past %d are not supported", JSONTEXT_MAX_REPEAT);
    if (min == 0 && max < 0) return jsontext_string(t);
    char name[32];
    snprintf(name, sizeof name, "chars-%d", ++t->count);
    return jsontext_quoted(t, grammar_repeat(t->g, name, sym_rule(jsontext_char(t)), (int)min, (int)max));
}

/* RFC 3339 (date, full-time, date-time: the days each month has, February
 * 29 in leap years; a leap second :60 only at 23:59 UTC, spelled with Z or
 * an offset of 00:00 — a subset: 05:29:60+05:30, valid, is refused), a
 * dot-atom e-mail address with a domain of labels, RFC 4122 uuid (either
 * case), dotted-quad ipv4 without leading zeros, RFC 4291 ipv6 text (with ::
 * and a trailing ipv4). */
#define LEAP_YEAR "(\\d\\d(0[48]|[2468][048]|[13579][26])|([02468][048]|[13579][26])00)"
#define MONTH_DAY "((0[13578]|1[02])-(0[1-9]|[12]\\d|3[01])|(0[469]|11)-(0[1-9]|[12]\\d|30)|02-(0[1-9]|1\\d|2[0-8]))"
#define DATE "(\\d{4}-" MONTH_DAY "|" LEAP_YEAR "-02-29)"
#define FRAC "(\\.\\d+)?"
#define OFFSET "([Zz]|[+-]([01]\\d|2[0-3]):[0-5]\\d)"
#define TIME "(([01]\\d|2[0-3]):[0-5]\\d:[0-5]\\d" FRAC OFFSET "|23:59:60" FRAC "([Zz]|[+-]00:00))"
#define OCTET "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)"
#define IPV4 "(" OCTET "\\.){3}" OCTET
#define ATEXT "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
#define LABEL "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
#define H16 "[0-9a-fA-F]{1,4}"
#define LS32 "(" H16 ":" H16 "|" IPV4 ")"
static const struct {
    const char *name, *re;
} formats[] = {
    {"date-time", "^" DATE "[Tt]" TIME "$"},
    {"date", "^" DATE "$"},
    {"time", "^" TIME "$"},
    {"email", "^" ATEXT "+(\\." ATEXT "+)*@(" LABEL "\\.)+" LABEL "$"},
    {"uuid", "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"},
    {"ipv4", "^" IPV4 "$"},
    {"ipv6", "^((" H16 ":){6}" LS32 "|::(" H16 ":){5}" LS32 "|(" H16 ")?::(" H16 ":){4}" LS32 "|((" H16
             ":){0,1}" H16 ")?::(" H16 ":){3}" LS32 "|((" H16 ":){0,2}" H16 ")?::(" H16 ":){2}" LS32 "|((" H16
             ":){0,3}" H16 ")?::" H16 ":" LS32 "|((" H16 ":){0,4}" H16 ")?::" LS32 "|((" H16 ":){0,5}" H16
             ")?::" H16 "|((" H16 ":){0,6}" H16 ")?::)$"},
};

int jsontext_format(JsonText *t, const char *format) {
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(format, formats[i].name)) {
            char name[64];
            snprintf(name, sizeof name, "format-%s-%d", format, ++t->count);
            int r = regex_rule(t->g, name, formats[i].re, strlen(formats[i].re), REGEX_JSON);
            CHECK(r >= 0);
            return jsontext_quoted(t, r);
        }
    return err_set("format '%s' is not supported (date-time, date, time, email, uuid, ipv4, ipv6 are)", format);
}

/* ------------------------------------------------------------ any value -- */

int jsontext_value(JsonText *t) {
    if (t->value >= 0) return t->value;
    Grammar *g = t->g;
    t->value = grammar_rule(g, "value");
    int obj = jsontext_object(t), arr = jsontext_array(t);
    Sym alts[] = {sym_rule(obj), sym_rule(arr), sym_rule(jsontext_string(t)), sym_rule(jsontext_number(t, NULL))};
    for (int i = 0; i < 4; i++) grammar_alt(g, t->value, &alts[i], 1);
    static const char *words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        SymVec seq = {0};
        lit(g, &seq, words[i]);
        grammar_alt(g, t->value, seq.v, seq.n);
        symvec_free(&seq);
    }
    return t->value;
}

/* open ws "close" | open ws items close, items ::= item ws | items "," ws item ws */
static int container(JsonText *t, const char *name, int open, int close, int item) {
    Grammar *g = t->g;
    int r = grammar_rule(g, "%s", name), items = grammar_rule(g, "%s-items", name);
    SymVec seq = {0};
    symvec_push(&seq, sym_rule(item)), jsontext_ws(t, &seq);
    grammar_alt(g, items, seq.v, seq.n);
    seq.n = 0;
    symvec_push(&seq, sym_rule(items)), symvec_push(&seq, grammar_byte(g, ',')), jsontext_ws(t, &seq);
    symvec_push(&seq, sym_rule(item)), jsontext_ws(t, &seq);
    grammar_alt(g, items, seq.v, seq.n);
    seq.n = 0;
    symvec_push(&seq, grammar_byte(g, open)), jsontext_ws(t, &seq), symvec_push(&seq, grammar_byte(g, close));
    grammar_alt(g, r, seq.v, seq.n);
    seq.n--;
    symvec_push(&seq, sym_rule(items)), symvec_push(&seq, grammar_byte(g, close));
    grammar_alt(g, r, seq.v, seq.n);
    symvec_free(&seq);
    return r;
}

int jsontext_object(JsonText *t) {
    if (t->object >= 0) return t->object;
    int member = grammar_rule(t->g, "member");
    t->object = container(t, "object", '{', '}', member);
    SymVec seq = {0};
    symvec_push(&seq, sym_rule(jsontext_string(t))), jsontext_ws(t, &seq), symvec_push(&seq, grammar_byte(t->g, ':'));
    jsontext_ws(t, &seq), symvec_push(&seq, sym_rule(jsontext_value(t)));
    grammar_alt(t->g, member, seq.v, seq.n);
    symvec_free(&seq);
    return t->object;
}

int jsontext_array(JsonText *t) {
    if (t->array < 0) {
        int item = grammar_rule(t->g, "element");
        t->array = container(t, "array", '[', ']', item);
        Sym v = sym_rule(jsontext_value(t));
        grammar_alt(t->g, item, &v, 1);
    }
    return t->array;
}

/* ---------------------------------------------------------------- numbers -- */

static const char nines[] = "99999999999999999999", zeros[] = "00000000000000000000";

/* Adds to rule pre + the numerals of a..b, decimal strings of n digits
 * (a <= b): a common first digit, or the lower edge, the full middle
 * digits, the upper edge. Recursion: one level per digit (n <= 17). */
static void digit_range(JsonText *t, int rule, SymVec *pre, const char *a, const char *b, int n) {
    Grammar *g = t->g;
    int keep = pre->n;
    if (n == 0) {
        grammar_alt(g, rule, pre->v, pre->n);
        return;
    }
    if (a[0] == b[0]) {
        symvec_push(pre, grammar_byte(g, a[0]));
        digit_range(t, rule, pre, a + 1, b + 1, n - 1);
        pre->n = keep;
        return;
    }
    int a_zero = !strncmp(a + 1, zeros, (size_t)n - 1), b_nine = !strncmp(b + 1, nines, (size_t)n - 1);
    int mid_lo = a_zero ? a[0] : a[0] + 1, mid_hi = b_nine ? b[0] : b[0] - 1;
    if (!a_zero) {
        symvec_push(pre, grammar_byte(g, a[0]));
        digit_range(t, rule, pre, a + 1, nines, n - 1);
        pre->n = keep;
    }
    if (mid_lo <= mid_hi) {
        symvec_push(pre, byte_range(g, mid_lo, mid_hi));
        for (int i = 1; i < n; i++) symvec_push(pre, byte_range(g, '0', '9'));
        grammar_alt(g, rule, pre->v, pre->n);
        pre->n = keep;
    }
    if (!b_nine) {
        symvec_push(pre, grammar_byte(g, b[0]));
        digit_range(t, rule, pre, zeros, b + 1, n - 1);
        pre->n = keep;
    }
}

static int ndigits(uint64_t x) {
    int n = 1;
    while (x >= 10) x /= 10, n++;
    return n;
}

/* Numerals (no leading zeros) of lo..hi, or lo.. without has_hi. */
static int uint_range(JsonText *t, uint64_t lo, int has_hi, uint64_t hi) {
    Grammar *g = t->g;
    int r = grammar_rule(g, "uint-%d", ++t->count);
    int last = has_hi ? ndigits(hi) : ndigits(lo);
    uint64_t p = 1; /* 10^(L-1) */
    for (int L = 1; L <= last; L++, p *= 10) {
        uint64_t a = L == 1 ? 0 : p, b = p * 10 - 1;
        if (a < lo) a = lo;
        if (has_hi && b > hi) b = hi;
        if (a > b) continue;
        char sa[24], sb[24];
        snprintf(sa, sizeof sa, "%llu", (unsigned long long)a);
        snprintf(sb, sizeof sb, "%llu", (unsigned long long)b);
        SymVec pre = {0};
        digit_range(t, r, &pre, sa, sb, L);
        symvec_free(&pre);
    }
    if (!has_hi) { /* every numeral longer than lo's */
        SymVec seq = {0};
        symvec_push(&seq, byte_range(g, '1', '9'));
        for (int i = 0; i < last; i++) symvec_push(&seq, byte_range(g, '0', '9'));
        symvec_push(&seq, sym_rule(digits(t)));
        grammar_alt(g, r, seq.v, seq.n);
        symvec_free(&seq);
    }
    return r;
}

static int check_bound(double x) {
    if (!(fabs(x) <= EXACT_MAX)) return err_set("bound %g is past 2^53 (not exact)", x);
    return 0;
}

int jsontext_integer(JsonText *t, const JsonBounds *b) {
    Grammar *g = t->g;
    if (!b || (!b->has_lo && !b->has_hi)) {
        if (t->integer < 0) {
            int ip = t->int_part = grammar_rule(g, "int");
            Sym zero = grammar_byte(g, '0'), nz[] = {byte_range(g, '1', '9'), sym_rule(digits(t))};
            grammar_alt(g, ip, &zero, 1);
            grammar_alt(g, ip, nz, 2);
            t->integer = grammar_rule(g, "integer"); /* int | "-" [1-9] digits: no "-0" */
            Sym pos = sym_rule(ip), neg[] = {grammar_byte(g, '-'), nz[0], nz[1]};
            grammar_alt(g, t->integer, &pos, 1);
            grammar_alt(g, t->integer, neg, 3);
        }
        return t->integer;
    }
    if ((b->has_lo && check_bound(b->lo)) || (b->has_hi && check_bound(b->hi))) return -1;
    long long lo = 0, hi = 0;
    if (b->has_lo) lo = (long long)(b->lo_excl ? floor(b->lo) + 1 : ceil(b->lo));
    if (b->has_hi) hi = (long long)(b->hi_excl ? ceil(b->hi) - 1 : floor(b->hi));
    if (b->has_lo && b->has_hi && lo > hi) return err_set("no integer is within the bounds");
    int r = grammar_rule(g, "integer-%d", ++t->count);
    if (!b->has_hi || hi >= 0) {
        Sym s = sym_rule(uint_range(t, b->has_lo && lo > 0 ? (uint64_t)lo : 0, b->has_hi, (uint64_t)hi));
        grammar_alt(g, r, &s, 1);
    }
    if (!b->has_lo || lo < 0) { /* "-" and the magnitudes */
        uint64_t mlo = b->has_hi && hi < 0 ? (uint64_t)-hi : 1;
        Sym s[] = {grammar_byte(g, '-'), sym_rule(uint_range(t, mlo, b->has_lo, b->has_lo ? (uint64_t)-lo : 0))};
        grammar_alt(g, r, s, 2);
    }
    return r;
}

static int fractions(JsonText *t) { /* ("." [0-9]+)? */
    Grammar *g = t->g;
    if (t->frac_any >= 0) return t->frac_any;
    t->frac_any = grammar_rule(g, "frac-any");
    grammar_alt(g, t->frac_any, NULL, 0);
    Sym s[] = {grammar_byte(g, '.'), byte_range(g, '0', '9'), sym_rule(digits(t))};
    grammar_alt(g, t->frac_any, s, 3);
    return t->frac_any;
}

/* A bound >= 0 as a decimal: the shortest spelling that reads back as the
 * double (the schema's own text for every bound written with at most 17
 * digits), split into the integer part and the fraction's digits (no
 * trailing zeros; a double's fraction has at most 1074 of them). */
typedef struct {
    uint64_t ip;
    char frac[1100];
    int nf;
} Dec;

static void dec_of(double x, Dec *d) {
    char buf[40];
    for (int p = 0; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p, x);
        if (strtod(buf, NULL) == x) break;
    }
    char mant[24];
    int nm = 0, e = 0;
    for (const char *c = buf; *c; c++) {
        if (*c >= '0' && *c <= '9') mant[nm++] = *c;
        else if (*c == 'e') {
            e = atoi(c + 1);
            break;
        }
    }
    /* x = 0.mant * 10^(e + 1) */
    d->ip = 0, d->nf = 0;
    for (int i = 0; i < e + 1; i++) d->ip = d->ip * 10 + (uint64_t)(i < nm ? mant[i] - '0' : 0);
    for (int i = e + 1; i < nm; i++) d->frac[d->nf++] = i < 0 ? '0' : mant[i];
    while (d->nf && d->frac[d->nf - 1] == '0') d->nf--;
}

/* One side of the numbers y >= 0 a rule is built for: y >= lo (> when
 * excl), y <= hi when has_hi. */
typedef struct {
    Dec lo, hi;
    int lo_excl, has_hi, hi_excl;
} Side;

/* The fraction digits after a fixed integer part: rules F(i, tl, th) of
 * the digit strings s that may follow the first i digits of the fraction
 * when those equal lo's (tl) and hi's (th): with them, 0.s >= 0.lo[i..]
 * (> when excl) when tl, 0.s <= 0.hi[i..] (< when excl) when th. Past both
 * bounds' digits (i >= L) a state repeats itself, so the rules are memoized
 * on min(i, L): at most 8 (L + 1) rules, each digit one step (the integer
 * ranges' digit_range idea, for strings of any length). */
typedef struct {
    JsonText *t;
    const Side *s;
    int L;
    int *memo; /* [(L + 1) * 8]: rule + 1, 0 not made, -1 empty */
} Frac;

static int frac_rule(Frac *f, int i, int tl, int th, int nonempty);

/* Whether the empty rest satisfies state (i, tl, th): the value 0. */
static int frac_empty_ok(const Frac *f, int i, int tl, int th) {
    const Side *s = f->s;
    if (tl && (i < s->lo.nf || s->lo_excl)) return 0; /* 0 >= (>) a nonzero rest */
    if (th && s->hi_excl && i >= s->hi.nf) return 0;  /* 0 < an empty rest */
    return 1;
}

static int frac_make(Frac *f, int i, int tl, int th, int nonempty, int rule) {
    Grammar *g = f->t->g;
    const Side *s = f->s;
    int n_alts = 0;
    if (!nonempty && frac_empty_ok(f, i, tl, th)) grammar_alt(g, rule, NULL, 0), n_alts++;
    int a = tl && i < s->lo.nf ? s->lo.frac[i] : '0', b = !th ? '9' : i < s->hi.nf ? s->hi.frac[i] : '0';
    int next = i + 1 < f->L ? i + 1 : f->L;
    for (int d = a; d <= b; d++) {
        int tl2 = tl && d == a, th2 = th && d == b;
        if (!tl2 && !th2) { /* the digits strictly inside: any rest */
            int hi = th ? b - 1 : b;
            Sym seq[] = {byte_range(g, d, hi), sym_rule(digits(f->t))};
            grammar_alt(g, rule, seq, 2), n_alts++;
            d = hi;
            continue;
        }
        int rest = frac_rule(f, next, tl2, th2, 0);
        if (rest < 0) continue;
        Sym seq[] = {grammar_byte(g, d), sym_rule(rest)};
        grammar_alt(g, rule, seq, 2), n_alts++;
    }
    return n_alts;
}

static int frac_rule(Frac *f, int i, int tl, int th, int nonempty) {
    if (!tl && !th) { /* any digits */
        if (!nonempty) return digits(f->t);
        int r = grammar_rule(f->t->g, "frac-%d", ++f->t->count);
        Sym seq[] = {byte_range(f->t->g, '0', '9'), sym_rule(digits(f->t))};
        grammar_alt(f->t->g, r, seq, 2);
        return r;
    }
    int *m = &f->memo[((i * 2 + tl) * 2 + th) * 2 + nonempty];
    if (*m) return *m > 0 ? *m - 1 : -1;
    if (i == f->L && th && (f->s->hi_excl || (tl && f->s->lo_excl))) return *m = -1; /* past both: 0.s must be < 0 or both = and > 0 */
    int r = grammar_rule(f->t->g, "frac-%d", ++f->t->count);
    *m = r + 1; /* before the recursion: at i == L a state refers to itself */
    if (!frac_make(f, i, tl, th, nonempty, r)) *m = -1, r = -1;
    return r;
}

/* Adds to rule the numerals y >= 0 within s, written with '-' when neg:
 * the integer parts strictly inside take any fraction; the edge ones
 * (lo's and hi's integer parts) take the fractions the walk allows. */
static void side_alts(JsonText *t, int rule, int neg, const Side *s) {
    Grammar *g = t->g;
    if (s->has_hi) {
        int c = s->lo.ip != s->hi.ip ? (s->lo.ip < s->hi.ip ? -1 : 1) : 0;
        for (int i = 0; !c && i < (s->lo.nf > s->hi.nf ? s->lo.nf : s->hi.nf); i++)
            c = (i < s->lo.nf ? s->lo.frac[i] : '0') - (i < s->hi.nf ? s->hi.frac[i] : '0');
        if (c > 0 || (c == 0 && (s->lo_excl || s->hi_excl))) return; /* empty */
    }
    Frac f = {t, s, s->lo.nf > s->hi.nf ? s->lo.nf : s->hi.nf, NULL};
    f.memo = xcalloc((size_t)(f.L + 1) * 8, sizeof *f.memo);
    SymVec seq = {0};
    char num[24];
    uint64_t m_lo = s->lo.ip + 1;
    if (!s->has_hi || (s->hi.ip > 0 && m_lo <= s->hi.ip - 1)) { /* inside */
        if (neg) symvec_push(&seq, grammar_byte(g, '-'));
        symvec_push(&seq, sym_rule(uint_range(t, m_lo, s->has_hi, s->has_hi ? s->hi.ip - 1 : 0)));
        symvec_push(&seq, sym_rule(fractions(t)));
        grammar_alt(g, rule, seq.v, seq.n);
    }
    int same = s->has_hi && s->lo.ip == s->hi.ip;
    for (int edge = 0; edge < 2; edge++) { /* 0: lo's integer part, 1: hi's */
        if (edge == 1 && (!s->has_hi || same)) break;
        int tl = edge == 0, th = edge == 1 || same;
        snprintf(num, sizeof num, "%llu", (unsigned long long)(edge ? s->hi.ip : s->lo.ip));
        if (frac_empty_ok(&f, 0, tl, th)) { /* no fraction */
            seq.n = 0;
            if (neg) symvec_push(&seq, grammar_byte(g, '-'));
            lit(g, &seq, num);
            grammar_alt(g, rule, seq.v, seq.n);
        }
        int fr = frac_rule(&f, 0, tl, th, 1);
        if (fr >= 0) {
            seq.n = 0;
            if (neg) symvec_push(&seq, grammar_byte(g, '-'));
            lit(g, &seq, num);
            symvec_push(&seq, grammar_byte(g, '.'));
            symvec_push(&seq, sym_rule(fr));
            grammar_alt(g, rule, seq.v, seq.n);
        }
    }
    symvec_free(&seq);
    free(f.memo);
}

int jsontext_number(JsonText *t, const JsonBounds *b) {
    Grammar *g = t->g;
    if (!b || (!b->has_lo && !b->has_hi)) {
        if (t->number < 0) {
            int exp = grammar_rule(g, "exp");
            grammar_alt(g, exp, NULL, 0);
            Sym e[] = {chars(g, "eE"), chars(g, "+-"), byte_range(g, '0', '9'), sym_rule(digits(t))};
            grammar_alt(g, exp, e, 4);
            Sym e2[] = {e[0], e[2], e[3]};
            grammar_alt(g, exp, e2, 3);
            jsontext_integer(t, NULL); /* makes int_part */
            int ip = t->int_part;
            t->number = grammar_rule(g, "number"); /* "-"? int frac exp ("-0.5" needs the "-0") */
            Sym s[] = {grammar_byte(g, '-'), sym_rule(ip), sym_rule(fractions(t)), sym_rule(exp)};
            grammar_alt(g, t->number, s + 1, 3);
            grammar_alt(g, t->number, s, 4);
        }
        return t->number;
    }
    if ((b->has_lo && check_bound(b->lo)) || (b->has_hi && check_bound(b->hi))) return -1;
    if (b->has_lo && b->has_hi && (b->lo > b->hi || (b->lo == b->hi && (b->lo_excl || b->hi_excl))))
        return err_set("no number is within the bounds");
    int r = grammar_rule(g, "number-%d", ++t->count);
    /* x >= 0: y = x from max(lo, 0) */
    if (!b->has_hi || b->hi > 0 || (b->hi == 0 && !b->hi_excl)) {
        Side pos = {.has_hi = b->has_hi, .hi_excl = b->hi_excl};
        if (b->has_lo && b->lo >= 0) dec_of(b->lo, &pos.lo), pos.lo_excl = b->lo_excl;
        else dec_of(0, &pos.lo);
        if (b->has_hi) dec_of(b->hi, &pos.hi);
        side_alts(t, r, 0, &pos);
    }
    /* x < 0: y = -x > 0; x <= hi is y >= -hi, x >= lo is y <= -lo */
    if (!b->has_lo || b->lo < 0) {
        Side neg = {.lo_excl = 1, .has_hi = b->has_lo, .hi_excl = b->lo_excl};
        if (b->has_hi && b->hi < 0) dec_of(-b->hi, &neg.lo), neg.lo_excl = b->hi_excl;
        else dec_of(0, &neg.lo);
        if (b->has_lo) dec_of(-b->lo, &neg.hi);
        side_alts(t, r, 1, &neg);
    }
    return r;
}

/* ------------------------------------------------------------- literals -- */

void jsontext_dump_string(ByteBuf *out, const char *s) {
    bytebuf_putc(out, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char tmp[8];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\', tmp[1] = (char)c, tmp[2] = 0;
        } else if (c < 0x20) {
            const char *e = c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
            if (e) snprintf(tmp, sizeof tmp, "%s", e);
            else snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else {
            tmp[0] = (char)c, tmp[1] = 0;
        }
        bytebuf_push(out, tmp, strlen(tmp));
    }
    bytebuf_putc(out, '"');
}

int jsontext_dump(ByteBuf *out, const cJSON *v) {
    char tmp[40];
    if (cJSON_IsNull(v)) bytebuf_push(out, "null", 4);
    else if (cJSON_IsTrue(v)) bytebuf_push(out, "true", 4);
    else if (cJSON_IsFalse(v)) bytebuf_push(out, "false", 5);
    else if (cJSON_IsString(v)) jsontext_dump_string(out, v->valuestring);
    else if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        if (!isfinite(x)) return err_set("number %g cannot be written in JSON", x);
        if (x == floor(x) && fabs(x) < EXACT_MAX) {
            snprintf(tmp, sizeof tmp, "%.0f", x);
        } else {
            for (int p = 15; p <= 17; p++) {
                snprintf(tmp, sizeof tmp, "%.*g", p, x);
                if (strtod(tmp, NULL) == x) break;
            }
        }
        bytebuf_push(out, tmp, strlen(tmp));
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        bytebuf_putc(out, obj ? '{' : '[');
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) bytebuf_putc(out, ',');
            if (obj) jsontext_dump_string(out, c->string ? c->string : ""), bytebuf_putc(out, ':');
            if (jsontext_dump(out, c)) return -1;
        }
        bytebuf_putc(out, obj ? '}' : ']');
    } else {
        return err_set("not a JSON value");
    }
    return 0;
}

int jsontext_literal(JsonText *t, const char *s, size_t n) {
    int r = grammar_rule(t->g, "literal-%d", ++t->count);
    SymVec seq = {0};
    grammar_literal(t->g, &seq, s, n);
    grammar_alt(t->g, r, seq.v, seq.n);
    symvec_free(&seq);
    return r;
}
