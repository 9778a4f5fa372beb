/* constraint — token masks from the matcher and the vocabulary's trie
 * (constraint.h). */
#include "grammar/constraint.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* The mask cache's size: masks of this many bytes in all, at most. */
#define CACHE_BYTES (64u << 20)
#define MAX_CACHED 16384 /* and at most this many */
/* Past this many states, the matcher drops what it only tried (at accept). */
#define MAX_STATES 200000

int constraint_init(Constraint *c, const Grammar *g, const Vocab *v) {
    memset(c, 0, sizeof *c);
    c->v = v;
    if (matcher_init(&c->m, g)) return -1;
    c->words = (v->n_vocab + 31) / 32;
    for (int i = 0; i < c->m.n_special; i++) {
        int t = c->m.special[i];
        if (t >= 0 && t < v->n_vocab && v->control[t] && t != v->eos) intvec_push(&c->controls, t);
    }
    int depth = v->mid.max_depth > v->start.max_depth ? v->mid.max_depth : v->start.max_depth;
    c->walk = xmalloc(((size_t)depth + 2) * sizeof *c->walk);
    c->max_cached = (int)(CACHE_BYTES / ((size_t)c->words * 4));
    if (c->max_cached > MAX_CACHED) c->max_cached = MAX_CACHED;
    if (c->max_cached < 4) c->max_cached = 4;
    c->cache_cap = 16;
    while (c->cache_cap < 2 * c->max_cached) c->cache_cap *= 2;
    c->cache_key = xcalloc((size_t)c->cache_cap, sizeof *c->cache_key);
    c->cache_slot = xmalloc((size_t)c->cache_cap * sizeof *c->cache_slot);
    constraint_reset(c);
    return 0;
}

void constraint_free(Constraint *c) {
    matcher_free(&c->m);
    intvec_free(&c->before), intvec_free(&c->controls);
    free(c->walk), free(c->cache_key), free(c->cache_slot), free(c->cache_bits);
    memset(c, 0, sizeof *c);
}

void constraint_reset(Constraint *c) {
    matcher_reset(&c->m);
    c->started = 0, c->ended = 0, c->before.n = 0;
    c->strip = vocab_strips(c->v, NULL, 0);
}

static void cache_clear(Constraint *c) {
    memset(c->cache_key, 0, (size_t)c->cache_cap * sizeof *c->cache_key);
    c->n_cached = 0;
}

/* The form the next token adds: 1 start, 0 mid. */
static int form_now(const Constraint *c) { return !c->started && c->strip; }

/* ------------------------------------------------------------ the walk -- */

static void set_tokens(uint32_t *bits, const int32_t *tok, uint32_t lo, uint32_t hi) {
    for (uint32_t k = lo; k < hi; k++) bits[tok[k] >> 5] |= 1u << (tok[k] & 31);
}

/* Whether a's bytes (its ASCII bytes: words 0..3) are all in b. */
static int subset(const ByteSet *a, const ByteSet *b, int words) {
    uint32_t out = 0;
    for (int w = 0; w < words; w++) out |= a->w[w] & ~b->w[w];
    return out == 0;
}

/* Whether every byte string below node i keeps state s alive: its bytes
 * all step s to itself, or its ASCII bytes do, it is valid UTF-8 (read from
 * a character boundary) and every character of 2..4 bytes steps s back to
 * itself. */
static int subtree_loops(Matcher *m, const VocabTrie *t, uint32_t i, int s) {
    const ByteSet *sub = &t->sets[t->set[i]], *loop = matcher_loop(m, s);
    return subset(sub, loop, 8) || (t->utf8[i] && subset(sub, loop, 4) && m->states[s].utf8_loop);
}

/* Marks the tokens of trie t whose bytes keep state s alive: preorder, a
 * node's state one step from its parent's (walk[depth - 1]). */
static void walk_trie(Constraint *c, const VocabTrie *t, int s, uint32_t *bits) {
    Matcher *m = &c->m;
    int32_t *walk = c->walk;
    const unsigned char *byte = t->byte, *col = m->byte_col;
    const uint16_t *depth = t->depth;
    const uint32_t *next = t->next, *ord = t->ord;
    walk[0] = s;
    set_tokens(bits, t->tokens, ord[0], ord[1]); /* empty forms: the text is unchanged */
    for (uint32_t i = 1, n = (uint32_t)t->n_nodes; i < n;) {
        int ps = walk[depth[i] - 1], ns = matcher_step(m, ps, col[byte[i]]);
        if (ns == MATCHER_DEAD) {
            i = next[i];
            continue;
        }
        /* a subtree whose every byte steps ns to itself is alive throughout */
        if (t->set[i] >= 0 && (ns == ps || m->states[ns].loop_known) && subtree_loops(m, t, i, ns)) {
            set_tokens(bits, t->tokens, ord[i], ord[next[i]]);
            i = next[i];
            c->stats.skipped++;
            continue;
        }
        c->stats.nodes++;
        walk[depth[i]] = ns;
        set_tokens(bits, t->tokens, ord[i], ord[i + 1]);
        i++;
    }
}

/* While the text is empty, a token that adds no bytes (SentencePiece's "▁")
 * is allowed only first: after one, another changes nothing (a tokenizer
 * that drops extra whitespace drops every leading "▁"), and a model could
 * pick it forever and never start the text. */
static void drop_repeated_empty(const Constraint *c, int form, uint32_t *bits) {
    if (c->started || c->before.n == 0) return;
    const VocabTrie *t = form ? &c->v->start : &c->v->mid;
    for (uint32_t k = t->ord[0]; k < t->ord[1]; k++) bits[t->tokens[k] >> 5] &= ~(1u << (t->tokens[k] & 31));
}

/* The control tokens: EOS where complete, the others where the grammar
 * reads them. */
static void mask_controls(Constraint *c, int s, uint32_t *bits) {
    const Vocab *v = c->v;
    if (v->eos >= 0 && matcher_accepts(&c->m, s)) bits[v->eos >> 5] |= 1u << (v->eos & 31);
    for (int i = 0; i < c->controls.n; i++) {
        int t = c->controls.v[i];
        if (matcher_step(&c->m, s, matcher_column(&c->m, GRAMMAR_SPECIAL + t)) != MATCHER_DEAD)
            bits[t >> 5] |= 1u << (t & 31);
    }
}

void constraint_mask(Constraint *c, uint32_t *bits) {
    size_t size = (size_t)c->words * sizeof *bits;
    memset(bits, 0, size);
    if (c->ended) return;
    int s = matcher_state(&c->m), form = form_now(c), key = 2 * s + form;
    uint32_t h = ((uint32_t)key * 2654435761u) & (uint32_t)(c->cache_cap - 1);
    for (; c->cache_key[h]; h = (h + 1) & (uint32_t)(c->cache_cap - 1))
        if (c->cache_key[h] == key + 1) {
            memcpy(bits, c->cache_bits + (size_t)c->cache_slot[h] * (size_t)c->words, size);
            c->stats.hits++;
            drop_repeated_empty(c, form, bits);
            return;
        }
    c->stats.walks++;
    walk_trie(c, form ? &c->v->start : &c->v->mid, s, bits);
    mask_controls(c, s, bits);
    if (c->n_cached == c->max_cached) { /* full: start over */
        cache_clear(c);
        h = ((uint32_t)key * 2654435761u) & (uint32_t)(c->cache_cap - 1);
    }
    if (!c->cache_bits) c->cache_bits = xmalloc((size_t)c->max_cached * size);
    c->cache_key[h] = key + 1;
    c->cache_slot[h] = c->n_cached;
    memcpy(c->cache_bits + (size_t)c->n_cached++ * (size_t)c->words, bits, size);
    drop_repeated_empty(c, form, bits);
}

void constraint_mask_slow(Constraint *c, uint32_t *bits) {
    memset(bits, 0, (size_t)c->words * sizeof *bits);
    if (c->ended) return;
    int s = matcher_state(&c->m), form = form_now(c);
    for (int t = 0; t < c->v->n_vocab; t++) {
        if (c->v->control[t]) {
            int col = matcher_column(&c->m, GRAMMAR_SPECIAL + t);
            int ok = t == c->v->eos ? matcher_accepts(&c->m, s)
                                    : col >= 0 && matcher_step(&c->m, s, col) != MATCHER_DEAD;
            if (ok) bits[t >> 5] |= 1u << (t & 31);
            continue;
        }
        int n, at = s;
        const unsigned char *p = vocab_bytes(c->v, t, form, &n);
        if (n == 0 && !c->started && c->before.n > 0) continue; /* drop_repeated_empty */
        for (int i = 0; i < n && at != MATCHER_DEAD; i++) at = matcher_step(&c->m, at, matcher_byte_col(&c->m, p[i]));
        if (at != MATCHER_DEAD) bits[t >> 5] |= 1u << (t & 31);
    }
}

/* -------------------------------------------------------- advancing -- */

int constraint_accept(Constraint *c, int t) {
    const Vocab *v = c->v;
    if (c->ended) return err_set("constraint: token %d after the end (EOS)", t);
    if (t < 0 || t >= v->n_vocab) return err_set("constraint: token %d is outside the vocabulary", t);
    if (t == v->eos) {
        if (!matcher_complete(&c->m)) return err_set("constraint: EOS where the text is not complete");
        c->ended = 1;
        return 0;
    }
    int n;
    const unsigned char *p = vocab_bytes(v, t, form_now(c), &n);
    if (!v->control[t] && n == 0 && !c->started && c->before.n > 0)
        return err_set("constraint: token %d adds nothing to an empty text a second time", t);
    int ok = v->control[t] ? matcher_feed(&c->m, GRAMMAR_SPECIAL + t) : matcher_feed_bytes(&c->m, p, n);
    if (!ok) return err_set("constraint: token %d is not allowed here", t);
    if (!c->started && n > 0) {
        c->started = 1;
    } else if (!c->started) { /* still empty: what the next token adds may change */
        intvec_push(&c->before, t);
        c->strip = vocab_strips(v, c->before.v, c->before.n);
    }
    if (c->m.n_states > MAX_STATES) {
        matcher_compact(&c->m);
        cache_clear(c);
    }
    return 0;
}

int constraint_complete(const Constraint *c) { return c->ended || matcher_complete(&c->m); }

int constraint_done(Constraint *c) {
    if (c->ended) return 1;
    if (!matcher_complete(&c->m)) return 0;
    int s = matcher_state(&c->m);
    for (int col = 0; col < c->m.width; col++)
        if (matcher_step(&c->m, s, col) != MATCHER_DEAD) return 0;
    return 1;
}
