/* lenbound — a regular rule intersected with a bound on its length in
 * characters (lenbound.h): the rule unfolded into an NFA over its
 * one-character symbols, the epsilon moves closed, then the product with a
 * character counter written back as right-linear rules, one per reachable
 * (state, count). */
#include "grammar/lenbound.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define LENBOUND_MAX_STATES 100000    /* NFA states one pattern may unfold into */
#define LENBOUND_MAX_PRODUCT 2000000L /* NFA states x (counter values) */

typedef struct {
    int from, to;
    Sym sym; /* kind -1: an epsilon move */
    int w;   /* characters it reads: 1, or 0 for a UTF-8 continuation byte */
} Edge;

typedef struct {
    Edge *e; /* owns */
    int n, cap, states;
} Nfa;

typedef struct {
    Sym sym;
    int from, to;
} Task;

static void edge(Nfa *a, int from, int to, Sym sym, int w) {
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->e = xrealloc(a->e, (size_t)a->cap * sizeof *a->e);
    }
    a->e[a->n++] = (Edge){from, to, sym, w};
}

static const Sym EPS = {-1, 0};

static void push(Task **t, int *n, int *cap, Task x) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *t = xrealloc(*t, (size_t)*cap * sizeof **t);
    }
    (*t)[(*n)++] = x;
}

/* Paths from `from` to `to` spell the symbol's language; a work list, not
 * recursion (a{0,9999} unfolds 9999 rules deep). A rule's alternatives
 * that start with the rule itself (grammar_repeat's left recursion) loop
 * on the rule's end; any other recursion unfolds until the state bound. */
static int unfold(Nfa *a, const Grammar *g, const unsigned char *atom, Sym top, int from, int to) {
    Task *todo = NULL;
    int n = 0, cap = 0, rc = 0;
    push(&todo, &n, &cap, (Task){top, from, to});
    while (n && !rc) {
        Task t = todo[--n];
        if (t.sym.kind == SYM_BYTES) {
            const ByteSet *s = &g->sets[t.sym.arg];
            int cont = 0, other = 0;
            for (int b = 0; b < 256; b++)
                if (byteset_has(s, b)) *(b >= 0x80 && b < 0xC0 ? &cont : &other) = 1;
            if (cont && other) {
                rc = err_set("a byte set both starts and continues characters (cannot count characters)");
                break;
            }
            edge(a, t.from, t.to, t.sym, other);
            continue;
        }
        if (t.sym.kind != SYM_RULE) {
            rc = err_set("a control token in a pattern");
            break;
        }
        int r = t.sym.arg;
        if (atom[r]) {
            edge(a, t.from, t.to, t.sym, 1);
            continue;
        }
        int s = a->states++, e = a->states++; /* the rule's own ends, so that its loops stay its own */
        edge(a, t.from, s, EPS, 0);
        edge(a, e, t.to, EPS, 0);
        const Rule *rule = &g->rules[r];
        for (int k = 0; k < rule->alts.n; k++) {
            const Alt *alt = &g->alts[rule->alts.v[k]];
            const Sym *seq = &g->syms[alt->sym];
            int i = 0, at = s;
            if (alt->n && seq[0].kind == SYM_RULE && seq[0].arg == r) i = 1, at = e; /* r ::= r x...: a loop on e */
            if (i == alt->n) {
                if (!i) edge(a, s, e, EPS, 0);
                continue;
            }
            for (; i < alt->n; i++) {
                int next = i + 1 == alt->n ? e : a->states++;
                push(&todo, &n, &cap, (Task){seq[i], at, next});
                at = next;
            }
        }
        if (a->states > LENBOUND_MAX_STATES) rc = err_set("the pattern unfolds past %d states", LENBOUND_MAX_STATES);
    }
    free(todo);
    return rc;
}

/* For each state, the states its epsilon moves reach (itself included), as
 * lists: off[q] .. off[q + 1) in *out. */
static void closures(const Nfa *a, int **off_out, int **out) {
    int S = a->states;
    int *eps_off = xcalloc((size_t)S + 1, sizeof *eps_off), *eps = xmalloc(((size_t)a->n + 1) * sizeof *eps);
    for (int i = 0; i < a->n; i++)
        if (a->e[i].sym.kind < 0) eps_off[a->e[i].from + 1]++;
    for (int q = 0; q < S; q++) eps_off[q + 1] += eps_off[q];
    int *fill = xmalloc(((size_t)S + 1) * sizeof *fill);
    memcpy(fill, eps_off, ((size_t)S + 1) * sizeof *fill);
    for (int i = 0; i < a->n; i++)
        if (a->e[i].sym.kind < 0) eps[fill[a->e[i].from]++] = a->e[i].to;
    IntVec res = {0};
    int *off = xmalloc(((size_t)S + 1) * sizeof *off), *seen = xcalloc((size_t)S, sizeof *seen), *stack = fill;
    for (int q = 0; q < S; q++) {
        off[q] = res.n;
        int sp = 0;
        stack[sp++] = q, seen[q] = q + 1;
        while (sp) {
            int x = stack[--sp];
            intvec_push(&res, x);
            for (int j = eps_off[x]; j < eps_off[x + 1]; j++)
                if (seen[eps[j]] != q + 1) seen[eps[j]] = q + 1, stack[sp++] = eps[j];
        }
    }
    off[S] = res.n;
    free(eps_off), free(eps), free(fill), free(seen);
    *off_out = off, *out = res.v;
}

int lenbound_rule(Grammar *g, const char *name, int rule, const int *atoms, int n_atoms, long min, long max) {
    if (min < 0 || (max >= 0 && max < min)) return err_set("no text has length %ld..%ld", min, max);
    unsigned char *atom = xcalloc((size_t)g->n_rules, 1);
    for (int i = 0; i < n_atoms; i++) atom[atoms[i]] = 1;
    Nfa a = {.states = 2};
    int rc = unfold(&a, g, atom, sym_rule(rule), 0, 1);
    free(atom);
    long cap = max >= 0 ? max : min; /* counts past min saturate when there is no max */
    if (!rc && (long)a.states * (cap + 1) > LENBOUND_MAX_PRODUCT)
        rc = err_set("the pattern with a length bound of %ld is too large (%d states; at most %ld states x lengths)", cap,
                     a.states, LENBOUND_MAX_PRODUCT);
    if (rc) {
        free(a.e);
        return -1;
    }
    int *off, *clo;
    closures(&a, &off, &clo);
    /* the labelled edges grouped by source state */
    int S = a.states, *e_off = xcalloc((size_t)S + 1, sizeof *e_off), *e_idx = xmalloc(((size_t)a.n + 1) * sizeof *e_idx);
    for (int i = 0; i < a.n; i++)
        if (a.e[i].sym.kind >= 0) e_off[a.e[i].from + 1]++;
    for (int q = 0; q < S; q++) e_off[q + 1] += e_off[q];
    int *fill = xmalloc(((size_t)S + 1) * sizeof *fill);
    memcpy(fill, e_off, ((size_t)S + 1) * sizeof *fill);
    for (int i = 0; i < a.n; i++)
        if (a.e[i].sym.kind >= 0) e_idx[fill[a.e[i].from]++] = i;
    /* the product, breadth first from (start 0, count 0): rule[q * (cap + 1) + c] */
    size_t np = (size_t)S * (size_t)(cap + 1);
    int *prod = xmalloc(np * sizeof *prod);
    for (size_t i = 0; i < np; i++) prod[i] = -1;
    long *queue = xmalloc(np * sizeof *queue);
    size_t qh = 0, qt = 0;
    int made = 0;
    prod[0] = grammar_rule(g, "%s-len-%d", name, made++);
    queue[qt++] = 0;
    SymVec seq = {0};
    while (qh < qt) {
        long id = queue[qh++];
        int q = (int)(id / (cap + 1));
        long c = id % (cap + 1);
        int r = prod[id];
        int accept = 0;
        for (int k = off[q]; k < off[q + 1]; k++) {
            int p = clo[k];
            accept |= p == 1;
            for (int j = e_off[p]; j < e_off[p + 1]; j++) {
                const Edge *x = &a.e[e_idx[j]];
                long c2 = c + x->w;
                if (c2 > cap) {
                    if (max >= 0) continue; /* too long */
                    c2 = cap;
                }
                long id2 = (long)x->to * (cap + 1) + c2;
                if (prod[id2] < 0) {
                    prod[id2] = grammar_rule(g, "%s-len-%d", name, made++);
                    queue[qt++] = id2;
                }
                seq.n = 0;
                symvec_push(&seq, x->sym);
                symvec_push(&seq, sym_rule(prod[id2]));
                grammar_alt(g, r, seq.v, seq.n);
            }
        }
        if (accept && c >= min) grammar_alt(g, r, NULL, 0);
    }
    int start = prod[0];
    symvec_free(&seq);
    free(prod), free(queue), free(fill), free(e_off), free(e_idx), free(off), free(clo), free(a.e);
    return start;
}
