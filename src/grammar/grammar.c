/* grammar — the byte-level grammar, its builders and its oracle (grammar.h). */
#include "grammar/grammar.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

/* ------------------------------------------------------------- building -- */

void grammar_init(Grammar *g) {
    memset(g, 0, sizeof *g);
    g->start = -1;
}

void grammar_free(Grammar *g) {
    for (int r = 0; r < g->n_rules; r++) {
        free(g->rules[r].name);
        intvec_free(&g->rules[r].alts);
    }
    free(g->rules);
    free(g->alts);
    free(g->syms);
    free(g->sets);
    free(g->set_hash);
    free(g->nullable);
    grammar_init(g);
}

#define GROW(p, n, cap)                                                   \
    do {                                                                  \
        if ((n) == (cap)) {                                               \
            (cap) = (cap) ? 2 * (cap) : 16;                               \
            (p) = xrealloc((p), (size_t)(cap) * sizeof *(p));             \
        }                                                                 \
    } while (0)

int grammar_rule(Grammar *g, const char *fmt, ...) {
    CHECK(!g->finished);
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    GROW(g->rules, g->n_rules, g->cap_rules);
    Rule *r = &g->rules[g->n_rules];
    memset(r, 0, sizeof *r);
    r->name = xstrdup(name);
    return g->n_rules++;
}

void grammar_alt(Grammar *g, int rule, const Sym *seq, int n) {
    CHECK(!g->finished && rule >= 0 && rule < g->n_rules && n >= 0);
    while (g->n_syms + n > g->cap_syms) {
        g->cap_syms = g->cap_syms ? 2 * g->cap_syms : 64;
        g->syms = xrealloc(g->syms, (size_t)g->cap_syms * sizeof *g->syms);
    }
    if (n) memcpy(g->syms + g->n_syms, seq, (size_t)n * sizeof *seq);
    GROW(g->alts, g->n_alts, g->cap_alts);
    g->alts[g->n_alts] = (Alt){rule, g->n_syms, n};
    intvec_push(&g->rules[rule].alts, g->n_alts++);
    g->n_syms += n;
}

int grammar_find(const Grammar *g, const char *name) {
    for (int r = 0; r < g->n_rules; r++)
        if (!strcmp(g->rules[r].name, name)) return r;
    return -1;
}

void byteset_add(ByteSet *s, int b) { s->w[b >> 5] |= 1u << (b & 31); }

void byteset_add_range(ByteSet *s, int lo, int hi) {
    for (int b = lo; b <= hi; b++) byteset_add(s, b);
}

static uint32_t set_hash(const ByteSet *s) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 8; i++) h = (h ^ s->w[i]) * 16777619u;
    return h;
}

Sym grammar_bytes(Grammar *g, const ByteSet *s) {
    if (2 * (g->n_sets + 1) > g->set_hash_cap) { /* rehash at half full */
        int cap = g->set_hash_cap ? 2 * g->set_hash_cap : 64;
        int *h = xcalloc((size_t)cap, sizeof *h);
        for (int i = 0; i < g->n_sets; i++) {
            uint32_t k = set_hash(&g->sets[i]) & (uint32_t)(cap - 1);
            while (h[k]) k = (k + 1) & (uint32_t)(cap - 1);
            h[k] = i + 1;
        }
        free(g->set_hash);
        g->set_hash = h, g->set_hash_cap = cap;
    }
    uint32_t k = set_hash(s) & (uint32_t)(g->set_hash_cap - 1);
    for (; g->set_hash[k]; k = (k + 1) & (uint32_t)(g->set_hash_cap - 1))
        if (!memcmp(&g->sets[g->set_hash[k] - 1], s, sizeof *s)) return (Sym){SYM_BYTES, g->set_hash[k] - 1};
    GROW(g->sets, g->n_sets, g->cap_sets);
    g->sets[g->n_sets] = *s;
    g->set_hash[k] = g->n_sets + 1;
    return (Sym){SYM_BYTES, g->n_sets++};
}

Sym grammar_byte(Grammar *g, int b) {
    ByteSet s = {{0}};
    byteset_add(&s, b);
    return grammar_bytes(g, &s);
}

void symvec_push(SymVec *v, Sym s) {
    GROW(v->v, v->n, v->cap);
    v->v[v->n++] = s;
}

void symvec_free(SymVec *v) {
    free(v->v);
    memset(v, 0, sizeof *v);
}

void grammar_literal(Grammar *g, SymVec *seq, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) symvec_push(seq, grammar_byte(g, (unsigned char)s[i]));
}

/* ---- UTF-8 classes: code point ranges -> byte-range sequences ----
 * A range whose code points all encode to the same length is split until
 * every byte position spans a full range independently (the standard
 * construction, as in RE2 and Rust's regex-syntax): then [lo, hi] is the
 * product of the byte ranges [enc(lo)[i], enc(hi)[i]]. */

static void utf8_split(Grammar *g, int rule, uint32_t lo, uint32_t hi) {
    static const uint32_t ends[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    for (int i = 0; i < 3; i++) /* one encoded length at a time */
        if (lo <= ends[i] && hi > ends[i]) {
            utf8_split(g, rule, lo, ends[i]);
            utf8_split(g, rule, ends[i] + 1, hi);
            return;
        }
    unsigned char a[4], b[4];
    int n = utf8_encode(lo, a);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1; /* the low i continuation bytes */
        if ((lo & ~m) != (hi & ~m)) {
            if (lo & m) {
                utf8_split(g, rule, lo, lo | m);
                utf8_split(g, rule, (lo | m) + 1, hi);
                return;
            }
            if ((hi & m) != m) {
                utf8_split(g, rule, lo, (hi & ~m) - 1);
                utf8_split(g, rule, hi & ~m, hi);
                return;
            }
        }
    }
    utf8_encode(hi, b);
    Sym seq[4];
    for (int i = 0; i < n; i++) {
        ByteSet s = {{0}};
        byteset_add_range(&s, a[i], b[i]);
        seq[i] = grammar_bytes(g, &s);
    }
    grammar_alt(g, rule, seq, n);
}

static int cmp_range(const void *x, const void *y) {
    const uint32_t *a = x, *b = y;
    return a[0] < b[0] ? -1 : a[0] > b[0];
}

int grammar_utf8_class(Grammar *g, const char *name, const uint32_t (*ranges)[2], int n, int negate) {
    /* normalize: ordered, clipped to U+10FFFF, merged */
    uint32_t(*r)[2] = xmalloc(((size_t)n + 2) * sizeof *r);
    int m = 0;
    for (int i = 0; i < n; i++) {
        uint32_t lo = ranges[i][0] < ranges[i][1] ? ranges[i][0] : ranges[i][1];
        uint32_t hi = ranges[i][0] < ranges[i][1] ? ranges[i][1] : ranges[i][0];
        if (lo > 0x10FFFF) continue;
        if (hi > 0x10FFFF) hi = 0x10FFFF;
        r[m][0] = lo, r[m][1] = hi, m++;
    }
    qsort(r, (size_t)m, sizeof *r, cmp_range);
    int k = 0;
    for (int i = 0; i < m; i++) {
        if (k && r[i][0] <= r[k - 1][1] + 1) {
            if (r[i][1] > r[k - 1][1]) r[k - 1][1] = r[i][1];
        } else {
            r[k][0] = r[i][0], r[k][1] = r[i][1], k++;
        }
    }
    if (negate) { /* the gaps between the merged ranges */
        uint32_t(*c)[2] = xmalloc(((size_t)k + 1) * sizeof *c);
        int j = 0;
        uint32_t next = 0;
        for (int i = 0; i < k; i++) {
            if (r[i][0] > next) c[j][0] = next, c[j][1] = r[i][0] - 1, j++;
            next = r[i][1] + 1;
        }
        if (next <= 0x10FFFF) c[j][0] = next, c[j][1] = 0x10FFFF, j++;
        free(r);
        r = c, k = j;
    }
    int rule = grammar_rule(g, "%s", name);
    for (int i = 0; i < k; i++) { /* minus the surrogates */
        uint32_t lo = r[i][0], hi = r[i][1];
        if (lo < 0xD800 && hi >= 0xD800) utf8_split(g, rule, lo, 0xD7FF);
        if (hi > 0xDFFF && lo <= 0xDFFF) utf8_split(g, rule, 0xE000, hi);
        if (hi < 0xD800 || lo > 0xDFFF) utf8_split(g, rule, lo, hi);
    }
    free(r);
    return rule;
}

int grammar_repeat(Grammar *g, const char *name, Sym x, int min, int max) {
    CHECK(min >= 0 && (max < 0 || max >= min));
    SymVec seq = {0};
    int rule = grammar_rule(g, "%s", name);
    if (max < 0) { /* rule ::= x{min} | rule x */
        for (int i = 0; i < min; i++) symvec_push(&seq, x);
        grammar_alt(g, rule, seq.v, seq.n);
        Sym more[2] = {sym_rule(rule), x};
        grammar_alt(g, rule, more, 2);
    } else { /* rule ::= x{min} opt(max - min); opt(k) ::= "" | x opt(k - 1) */
        int tail = -1;
        for (int k = 1; k <= max - min; k++) {
            int opt = grammar_rule(g, "%s-opt%d", name, k);
            grammar_alt(g, opt, NULL, 0);
            Sym s[2] = {x, sym_rule(tail)};
            grammar_alt(g, opt, s, tail < 0 ? 1 : 2);
            tail = opt;
        }
        for (int i = 0; i < min; i++) symvec_push(&seq, x);
        if (tail >= 0) symvec_push(&seq, sym_rule(tail));
        grammar_alt(g, rule, seq.v, seq.n);
    }
    symvec_free(&seq);
    return rule;
}

/* ------------------------------------------------------------ finishing -- */

/* Fixpoint: a rule has the property when one of its alternatives has only
 * symbols that do (terminals count as `terminal`, rules as their flag). */
static void fixpoint(const Grammar *g, unsigned char *flag, int terminal) {
    memset(flag, 0, (size_t)g->n_rules);
    for (int changed = 1; changed;) {
        changed = 0;
        for (int a = 0; a < g->n_alts; a++) {
            const Alt *alt = &g->alts[a];
            if (flag[alt->rule]) continue;
            int ok = 1;
            for (int i = 0; i < alt->n && ok; i++) {
                const Sym *s = &g->syms[alt->sym + i];
                ok = s->kind == SYM_RULE ? flag[s->arg] : terminal;
            }
            if (ok) flag[alt->rule] = 1, changed = 1;
        }
    }
}

int grammar_finish(Grammar *g) {
    if (g->start < 0 || g->start >= g->n_rules) return err_set("grammar: no start rule");
    for (int i = 0; i < g->n_syms; i++) {
        const Sym *s = &g->syms[i];
        CHECK(s->kind != SYM_RULE || (s->arg >= 0 && s->arg < g->n_rules));
        CHECK(s->kind != SYM_BYTES || (s->arg >= 0 && s->arg < g->n_sets));
        CHECK(s->kind != SYM_SPECIAL || s->arg >= 0);
    }
    unsigned char *productive = xmalloc((size_t)g->n_rules + 1);
    fixpoint(g, productive, 1);
    if (!productive[g->start]) {
        free(productive);
        return err_set("grammar: rule '%s' matches nothing (it never ends)", g->rules[g->start].name);
    }
    for (int r = 0; r < g->n_rules; r++) { /* drop the alternatives that cannot end */
        IntVec *alts = &g->rules[r].alts;
        int k = 0;
        for (int i = 0; i < alts->n; i++) {
            const Alt *alt = &g->alts[alts->v[i]];
            int ok = 1;
            for (int j = 0; j < alt->n && ok; j++)
                ok = g->syms[alt->sym + j].kind != SYM_RULE || productive[g->syms[alt->sym + j].arg];
            if (ok) alts->v[k++] = alts->v[i];
        }
        alts->n = k;
    }
    free(productive);
    g->nullable = xmalloc((size_t)g->n_rules + 1);
    fixpoint(g, g->nullable, 0);
    g->finished = 1;
    return 0;
}

/* ------------------------------------------------------------- printing -- */

static void print_byte(ByteBuf *out, int b, int in_class) {
    char tmp[8];
    if (b == '"' || b == '\\' || (in_class && (b == ']' || b == '-' || b == '^')))
        snprintf(tmp, sizeof tmp, "\\%c", b);
    else if (b >= 0x20 && b < 0x7F)
        snprintf(tmp, sizeof tmp, "%c", b);
    else if (b == '\n' || b == '\r' || b == '\t')
        snprintf(tmp, sizeof tmp, "\\%c", b == '\n' ? 'n' : b == '\r' ? 'r' : 't');
    else
        snprintf(tmp, sizeof tmp, "\\x%02X", b);
    bytebuf_push(out, tmp, strlen(tmp));
}

static int single_byte(const ByteSet *s) {
    int b = -1;
    for (int i = 0; i < 256; i++)
        if (byteset_has(s, i)) {
            if (b >= 0) return -1;
            b = i;
        }
    return b;
}

static void print_set(ByteBuf *out, const ByteSet *s) {
    bytebuf_putc(out, '[');
    for (int b = 0; b < 256;) {
        if (!byteset_has(s, b)) {
            b++;
            continue;
        }
        int e = b;
        while (e + 1 < 256 && byteset_has(s, e + 1)) e++;
        print_byte(out, b, 1);
        if (e > b) bytebuf_putc(out, '-'), print_byte(out, e, 1);
        b = e + 1;
    }
    bytebuf_putc(out, ']');
}

static void print_rule(const Grammar *g, int r, ByteBuf *out) {
    const Rule *rule = &g->rules[r];
    bytebuf_push(out, rule->name, strlen(rule->name));
    bytebuf_push(out, " ::=", 4);
    for (int i = 0; i < rule->alts.n; i++) {
        const Alt *alt = &g->alts[rule->alts.v[i]];
        if (i) bytebuf_push(out, " |", 2);
        if (!alt->n) bytebuf_push(out, " \"\"", 3);
        for (int j = 0; j < alt->n;) {
            const Sym *s = &g->syms[alt->sym + j];
            bytebuf_putc(out, ' ');
            int b = s->kind == SYM_BYTES ? single_byte(&g->sets[s->arg]) : -1;
            if (b >= 0) { /* a run of single bytes prints as one literal */
                bytebuf_putc(out, '"');
                for (; j < alt->n && g->syms[alt->sym + j].kind == SYM_BYTES &&
                       (b = single_byte(&g->sets[g->syms[alt->sym + j].arg])) >= 0;
                     j++)
                    print_byte(out, b, 0);
                bytebuf_putc(out, '"');
                continue;
            }
            char tmp[32];
            if (s->kind == SYM_RULE)
                bytebuf_push(out, g->rules[s->arg].name, strlen(g->rules[s->arg].name));
            else if (s->kind == SYM_BYTES)
                print_set(out, &g->sets[s->arg]);
            else
                snprintf(tmp, sizeof tmp, "<[%d]>", s->arg), bytebuf_push(out, tmp, strlen(tmp));
            j++;
        }
    }
    bytebuf_putc(out, '\n');
}

void grammar_print(const Grammar *g, ByteBuf *out) {
    if (g->start >= 0) print_rule(g, g->start, out);
    for (int r = 0; r < g->n_rules; r++)
        if (r != g->start) print_rule(g, r, out);
    if (!out->p) bytebuf_push(out, "", 0);
}

/* ----------------------------------------------------------- the oracle -- */

typedef struct {
    int alt, dot, origin;
} Item;

typedef struct {
    Item *v;
    int n, cap;
} ItemSet;

typedef struct { /* the items of one set, for duplicates */
    int *slot; /* index + 1 into the set, 0 empty */
    int cap;
} ItemHash;

static uint32_t item_hash(Item it) {
    return ((uint32_t)it.alt * 2654435761u) ^ ((uint32_t)it.dot * 40503u) ^ ((uint32_t)it.origin * 97u);
}

static void add_item(ItemSet *set, ItemHash *h, Item it) {
    if (2 * (set->n + 1) > h->cap) {
        free(h->slot);
        h->cap = h->cap ? 2 * h->cap : 64;
        h->slot = xcalloc((size_t)h->cap, sizeof *h->slot);
        for (int i = 0; i < set->n; i++) {
            uint32_t k = item_hash(set->v[i]) & (uint32_t)(h->cap - 1);
            while (h->slot[k]) k = (k + 1) & (uint32_t)(h->cap - 1);
            h->slot[k] = i + 1;
        }
    }
    uint32_t k = item_hash(it) & (uint32_t)(h->cap - 1);
    for (; h->slot[k]; k = (k + 1) & (uint32_t)(h->cap - 1)) {
        const Item *o = &set->v[h->slot[k] - 1];
        if (o->alt == it.alt && o->dot == it.dot && o->origin == it.origin) return;
    }
    GROW(set->v, set->n, set->cap);
    set->v[set->n] = it;
    h->slot[k] = ++set->n;
}

static int sym_matches(const Grammar *g, const Sym *s, int in) {
    if (s->kind == SYM_BYTES) return in >= 0 && in < 256 && byteset_has(&g->sets[s->arg], in);
    return s->kind == SYM_SPECIAL && in == GRAMMAR_SPECIAL + s->arg;
}

int grammar_recognize(const Grammar *g, const int *in, int n) {
    CHECK(g->finished);
    ItemSet *sets = xcalloc((size_t)n + 1, sizeof *sets);
    ItemHash h[2] = {{0}};
    const IntVec *start = &g->rules[g->start].alts;
    for (int i = 0; i < start->n; i++) add_item(&sets[0], &h[0], (Item){start->v[i], 0, 0});
    int result = GRAMMAR_DEAD, k = 0;
    for (;; k++) {
        ItemSet *cur = &sets[k];
        ItemHash *hc = &h[k & 1], *hn = &h[(k + 1) & 1];
        if (hn->slot) memset(hn->slot, 0, (size_t)hn->cap * sizeof *hn->slot);
        for (int i = 0; i < cur->n; i++) {
            Item it = cur->v[i];
            const Alt *alt = &g->alts[it.alt];
            if (it.dot == alt->n) { /* complete: advance who waited for this rule */
                if (it.origin == k) continue; /* empty: done at prediction (nullable) */
                const ItemSet *from = &sets[it.origin];
                for (int j = 0; j < from->n; j++) {
                    Item w = from->v[j];
                    const Alt *wa = &g->alts[w.alt];
                    if (w.dot < wa->n && g->syms[wa->sym + w.dot].kind == SYM_RULE &&
                        g->syms[wa->sym + w.dot].arg == alt->rule)
                        add_item(cur, hc, (Item){w.alt, w.dot + 1, w.origin});
                }
                continue;
            }
            const Sym *s = &g->syms[alt->sym + it.dot];
            if (s->kind == SYM_RULE) { /* predict */
                const IntVec *alts = &g->rules[s->arg].alts;
                for (int j = 0; j < alts->n; j++) add_item(cur, hc, (Item){alts->v[j], 0, k});
                if (g->nullable[s->arg]) add_item(cur, hc, (Item){it.alt, it.dot + 1, it.origin});
            } else if (k < n && sym_matches(g, s, in[k])) { /* scan */
                add_item(&sets[k + 1], hn, (Item){it.alt, it.dot + 1, it.origin});
            }
        }
        if (k == n) break;
        if (!sets[k + 1].n) goto done;
    }
    result = GRAMMAR_PREFIX;
    for (int i = 0; i < sets[n].n; i++) {
        Item it = sets[n].v[i];
        if (it.origin == 0 && it.dot == g->alts[it.alt].n && g->alts[it.alt].rule == g->start)
            result = GRAMMAR_MATCH;
    }
    if (n == 0 && g->nullable[g->start]) result = GRAMMAR_MATCH;
done:
    for (int i = 0; i <= n; i++) free(sets[i].v);
    free(sets);
    free(h[0].slot), free(h[1].slot);
    return result;
}

int grammar_recognize_bytes(const Grammar *g, const void *bytes, size_t n) {
    CHECK(n < (size_t)1 << 30);
    int *in = xmalloc((n + 1) * sizeof *in);
    for (size_t i = 0; i < n; i++) in[i] = ((const unsigned char *)bytes)[i];
    int r = grammar_recognize(g, in, (int)n);
    free(in);
    return r;
}
