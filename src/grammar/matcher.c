/* matcher — Earley sets hash-consed into the states of a lazy automaton
 * (matcher.h). */
#include "grammar/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

#define END_OF_ALT (-1) /* pos_sym kind at an alternative's end */

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return x < y ? -1 : x > y;
}

static int cmp_item(const void *a, const void *b) {
    const MatchItem *x = a, *y = b;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    return x->origin < y->origin ? -1 : x->origin > y->origin;
}

/* ------------------------------------------------------- the work set -- */

static uint64_t item_key(MatchItem it) { return (uint64_t)(uint32_t)it.pos << 32 | (uint32_t)(it.origin + 2); }

static uint32_t key_slot(uint64_t k, int cap) {
    k *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(k >> 32) & (uint32_t)(cap - 1);
}

static void seen_insert(Matcher *m, uint64_t k) {
    uint32_t h = key_slot(k, m->seen_cap);
    while (m->seen_stamp[h] == m->stamp) h = (h + 1) & (uint32_t)(m->seen_cap - 1);
    m->seen_stamp[h] = m->stamp;
    /* the key in two halves: pos and origin */
    m->seen_key[2 * h] = (uint32_t)(k >> 32), m->seen_key[2 * h + 1] = (uint32_t)k;
}

/* Starts an empty work set. */
static void work_clear(Matcher *m) {
    m->n_work = 0;
    if (++m->stamp == 0) { /* wrapped: stamps from before could look current */
        memset(m->seen_stamp, 0, (size_t)m->seen_cap * sizeof *m->seen_stamp);
        m->stamp = 1;
    }
}

/* Adds it to the work set unless it is there. */
static void work_add(Matcher *m, int pos, int origin) {
    MatchItem it = {pos, origin};
    uint64_t k = item_key(it);
    if (2 * (m->n_work + 1) > m->seen_cap) { /* grow, and re-enter what is there */
        m->seen_cap = m->seen_cap ? 2 * m->seen_cap : 256;
        free(m->seen_key), free(m->seen_stamp);
        m->seen_key = xmalloc((size_t)m->seen_cap * 2 * sizeof *m->seen_key);
        m->seen_stamp = xcalloc((size_t)m->seen_cap, sizeof *m->seen_stamp);
        m->stamp = 1;
        for (int i = 0; i < m->n_work; i++) seen_insert(m, item_key(m->work[i]));
    }
    uint32_t h = key_slot(k, m->seen_cap);
    for (; m->seen_stamp[h] == m->stamp; h = (h + 1) & (uint32_t)(m->seen_cap - 1))
        if (m->seen_key[2 * h] == (uint32_t)(k >> 32) && m->seen_key[2 * h + 1] == (uint32_t)k) return;
    m->seen_stamp[h] = m->stamp;
    m->seen_key[2 * h] = (uint32_t)(k >> 32), m->seen_key[2 * h + 1] = (uint32_t)k;
    if (m->n_work == m->cap_work) {
        m->cap_work = m->cap_work ? 2 * m->cap_work : 256;
        m->work = xrealloc(m->work, (size_t)m->cap_work * sizeof *m->work);
    }
    m->work[m->n_work++] = it;
}

/* Completes the work set (Earley's predict and complete, empty rules as
 * Aycock and Horspool do: predicting a nullable rule also steps over it).
 * Returns whether the start rule completed from the first state. */
static int closure(Matcher *m) {
    const Grammar *g = m->g;
    int accept = 0;
    for (int i = 0; i < m->n_work; i++) {
        MatchItem it = m->work[i];
        Sym s = m->pos_sym[it.pos];
        if (s.kind == END_OF_ALT) {
            if (it.origin == MATCHER_SELF) continue; /* empty: stepped over at prediction */
            int rule = m->pos_rule[it.pos];
            if (rule == g->start && it.origin == 0) accept = 1;
            const MatchState *o = &m->states[it.origin];
            for (int j = 0; j < o->n_items; j++) {
                MatchItem w = m->items[o->item0 + j];
                Sym ws = m->pos_sym[w.pos];
                if (ws.kind == SYM_RULE && ws.arg == rule)
                    work_add(m, w.pos + 1, w.origin == MATCHER_SELF ? it.origin : w.origin);
            }
        } else if (s.kind == SYM_RULE) {
            const IntVec *alts = &g->rules[s.arg].alts;
            for (int j = 0; j < alts->n; j++) work_add(m, m->alt_pos[alts->v[j]], MATCHER_SELF);
            if (g->nullable[s.arg]) work_add(m, it.pos + 1, it.origin);
        }
    }
    return accept;
}

/* --------------------------------------------------------- the states -- */

static uint32_t state_hash(const MatchItem *it, int n, int accept) {
    uint32_t h = 2166136261u ^ (uint32_t)accept;
    for (int i = 0; i < n; i++) {
        h = (h ^ (uint32_t)it[i].pos) * 16777619u;
        h = (h ^ (uint32_t)it[i].origin) * 16777619u;
    }
    return h;
}

static void table_put(Matcher *m, int id) {
    uint32_t h = m->states[id].hash & (uint32_t)(m->table_cap - 1);
    while (m->table[h]) h = (h + 1) & (uint32_t)(m->table_cap - 1);
    m->table[h] = id + 1;
}

/* The id of the state the work set is (its waiting items, sorted), added
 * when new. */
static int intern(Matcher *m, int accept) {
    int n = 0;
    for (int i = 0; i < m->n_work; i++) /* what waits for a symbol: the rest is done */
        if (m->pos_sym[m->work[i].pos].kind != END_OF_ALT) m->work[n++] = m->work[i];
    if (n > 24) {
        qsort(m->work, (size_t)n, sizeof *m->work, cmp_item);
    } else { /* most states are small: insertion sort */
        for (int i = 1; i < n; i++) {
            MatchItem x = m->work[i];
            int j = i;
            for (; j > 0 && cmp_item(&m->work[j - 1], &x) > 0; j--) m->work[j] = m->work[j - 1];
            m->work[j] = x;
        }
    }
    uint32_t hash = state_hash(m->work, n, accept);
    if (m->table_cap) {
        for (uint32_t h = hash & (uint32_t)(m->table_cap - 1); m->table[h]; h = (h + 1) & (uint32_t)(m->table_cap - 1)) {
            const MatchState *s = &m->states[m->table[h] - 1];
            if (s->hash == hash && s->n_items == n && s->accept == accept &&
                !memcmp(m->items + s->item0, m->work, (size_t)n * sizeof *m->work))
                return m->table[h] - 1;
        }
    }
    if (m->n_states == m->cap_states) {
        m->cap_states = m->cap_states ? 2 * m->cap_states : 256;
        m->states = xrealloc(m->states, (size_t)m->cap_states * sizeof *m->states);
    }
    while (m->n_items + n > m->cap_items) {
        m->cap_items = m->cap_items ? 2 * m->cap_items : 4096;
        m->items = xrealloc(m->items, (size_t)m->cap_items * sizeof *m->items);
    }
    memcpy(m->items + m->n_items, m->work, (size_t)n * sizeof *m->work);
    int id = m->n_states++;
    m->states[id] = (MatchState){.item0 = m->n_items, .n_items = n, .hash = hash, .accept = accept};
    m->n_items += n;
    if (2 * m->n_states > m->table_cap) { /* rehash at half full */
        free(m->table);
        m->table_cap = m->table_cap ? 2 * m->table_cap : 1024;
        m->table = xcalloc((size_t)m->table_cap, sizeof *m->table);
        for (int i = 0; i < m->n_states; i++) table_put(m, i);
    } else {
        table_put(m, id);
    }
    return id;
}

/* The first state: the start rule's alternatives, predicted. Id 0. */
static void first_state(Matcher *m) {
    work_clear(m);
    const IntVec *alts = &m->g->rules[m->g->start].alts;
    for (int i = 0; i < alts->n; i++) work_add(m, m->alt_pos[alts->v[i]], MATCHER_SELF);
    closure(m);
    int id = intern(m, m->g->nullable[m->g->start]);
    CHECK(id == 0);
    m->stack.n = 0, m->input.n = 0;
    intvec_push(&m->stack, 0);
}

int matcher_step_uncached(Matcher *m, int s, int col) {
    CHECK(s >= 0 && s < m->n_states && col >= 0 && col < m->width);
    const Grammar *g = m->g;
    work_clear(m);
    const MatchState *st = &m->states[s];
    for (int i = 0; i < st->n_items; i++) { /* scan */
        MatchItem it = m->items[st->item0 + i];
        Sym sy = m->pos_sym[it.pos];
        int hit = col < m->n_classes ? sy.kind == SYM_BYTES && byteset_has(&g->sets[sy.arg], m->col_byte[col])
                                     : sy.kind == SYM_SPECIAL && sy.arg == m->special[col - m->n_classes];
        if (hit) work_add(m, it.pos + 1, it.origin == MATCHER_SELF ? s : it.origin);
    }
    if (!m->n_work) return MATCHER_DEAD;
    int accept = closure(m);
    return intern(m, accept);
}

int matcher_step_slow(Matcher *m, int s, int col) {
    int next = matcher_step_uncached(m, s, col);
    MatchState *st = &m->states[s]; /* after: interning may move the states */
    if (!st->row) {
        st->row = xmalloc((size_t)m->width * sizeof *st->row);
        for (int i = 0; i < m->width; i++) st->row[i] = MATCHER_UNKNOWN;
    }
    st->row[col] = next;
    return next;
}

/* Whether every UTF-8 character that goes on from decoder state u (q's
 * state) steps back to s at its end, every state on the way alive. The
 * grammar's byte ranges keep the states on the way few: (q, u) pairs seen
 * are not explored again (seen[], n_seen; at most 64 of them, else no). */
static int utf8_returns(Matcher *m, int s, int q, int u, int (*seen)[2], int *n_seen) {
    for (int i = 0; i < *n_seen; i++)
        if (seen[i][0] == q && seen[i][1] == u) return 1;
    if (*n_seen == 64) return 0;
    seen[*n_seen][0] = q, seen[*n_seen][1] = u, ++*n_seen;
    for (int b = 0x80; b < 256; b++) {
        int v = utf8_next(u, b);
        if (v < 0) continue;
        int r = matcher_step(m, q, m->byte_col[b]);
        if (r == MATCHER_DEAD || (v == 0 ? r != s : !utf8_returns(m, s, r, v, seen, n_seen))) return 0;
    }
    return 1;
}

const ByteSet *matcher_loop(Matcher *m, int s) {
    if (!m->states[s].loop_known) {
        ByteSet loop = {{0}};
        for (int b = 0; b < 256; b++)
            if (matcher_step(m, s, m->byte_col[b]) == s) byteset_add(&loop, b);
        int seen[64][2], n_seen = 0;
        int utf8 = utf8_returns(m, s, s, 0, seen, &n_seen);
        m->states[s].loop = loop;
        m->states[s].utf8_loop = utf8;
        m->states[s].loop_known = 1;
    }
    return &m->states[s].loop;
}

int matcher_column(const Matcher *m, int in) {
    if (in >= 0 && in < 256) return m->byte_col[in];
    int id = in - GRAMMAR_SPECIAL, lo = 0, hi = m->n_special;
    if (in < GRAMMAR_SPECIAL) return -1;
    while (lo < hi) { /* binary search in the sorted ids */
        int mid = (lo + hi) / 2;
        if (m->special[mid] < id) lo = mid + 1;
        else hi = mid;
    }
    return lo < m->n_special && m->special[lo] == id ? m->n_classes + lo : -1;
}

/* Splits the bytes by every byte set of the grammar: bytes in the same
 * sets end in one class. */
static void byte_classes(Matcher *m) {
    memset(m->byte_col, 0, sizeof m->byte_col);
    m->n_classes = 1;
    for (int k = 0; k < m->g->n_sets; k++) {
        int map[2 * 256], n = 0; /* (class, in set k) -> new class */
        for (int i = 0; i < 2 * 256; i++) map[i] = -1;
        for (int b = 0; b < 256; b++) {
            int key = 2 * m->byte_col[b] + byteset_has(&m->g->sets[k], b);
            if (map[key] < 0) map[key] = n++;
            m->byte_col[b] = (unsigned char)map[key];
        }
        m->n_classes = n;
    }
    for (int b = 255; b >= 0; b--) m->col_byte[m->byte_col[b]] = (unsigned char)b;
}

/* ------------------------------------------------------- the position -- */

int matcher_init(Matcher *m, const Grammar *g) {
    memset(m, 0, sizeof *m);
    if (!g->finished) return err_set("matcher: the grammar is not finished");
    m->g = g;
    m->alt_pos = xmalloc(((size_t)g->n_alts + 1) * sizeof *m->alt_pos);
    for (int a = 0; a < g->n_alts; a++) m->n_pos += g->alts[a].n + 1;
    m->pos_sym = xmalloc(((size_t)m->n_pos + 1) * sizeof *m->pos_sym);
    m->pos_rule = xmalloc(((size_t)m->n_pos + 1) * sizeof *m->pos_rule);
    int p = 0;
    IntVec spec = {0};
    for (int a = 0; a < g->n_alts; a++) {
        const Alt *alt = &g->alts[a];
        m->alt_pos[a] = p;
        for (int d = 0; d <= alt->n; d++, p++) {
            m->pos_sym[p] = d < alt->n ? g->syms[alt->sym + d] : (Sym){END_OF_ALT, 0};
            m->pos_rule[p] = alt->rule;
            if (d < alt->n && g->syms[alt->sym + d].kind == SYM_SPECIAL) intvec_push(&spec, g->syms[alt->sym + d].arg);
        }
    }
    if (spec.n) qsort(spec.v, (size_t)spec.n, sizeof *spec.v, cmp_int);
    for (int i = 0; i < spec.n; i++)
        if (!i || spec.v[i] != spec.v[i - 1]) spec.v[m->n_special++] = spec.v[i];
    m->special = spec.v ? spec.v : xmalloc(sizeof *m->special);
    byte_classes(m);
    m->width = m->n_classes + m->n_special;
    first_state(m);
    return 0;
}

static void free_automaton(Matcher *m) {
    for (int i = 0; i < m->n_states; i++) free(m->states[i].row);
    free(m->states), free(m->items), free(m->table);
    m->states = NULL, m->items = NULL, m->table = NULL;
    m->n_states = m->cap_states = m->n_items = m->cap_items = m->table_cap = 0;
}

void matcher_free(Matcher *m) {
    free_automaton(m);
    free(m->pos_sym), free(m->pos_rule), free(m->alt_pos), free(m->special);
    free(m->work), free(m->seen_key), free(m->seen_stamp);
    intvec_free(&m->stack), intvec_free(&m->input);
    memset(m, 0, sizeof *m);
}

void matcher_reset(Matcher *m) {
    m->stack.n = 1;
    m->input.n = 0;
}

#define DUP(dst, src, n) ((n) ? memcpy(xmalloc((size_t)(n) * sizeof *(src)), (src), (size_t)(n) * sizeof *(src)) : NULL)

int matcher_clone(Matcher *dst, const Matcher *src) {
    memset(dst, 0, sizeof *dst);
    dst->g = src->g, dst->n_pos = src->n_pos, dst->n_special = src->n_special, dst->width = src->width;
    dst->n_classes = src->n_classes;
    memcpy(dst->byte_col, src->byte_col, sizeof dst->byte_col);
    memcpy(dst->col_byte, src->col_byte, sizeof dst->col_byte);
    dst->pos_sym = DUP(dst, src->pos_sym, src->n_pos);
    dst->pos_rule = DUP(dst, src->pos_rule, src->n_pos);
    dst->alt_pos = DUP(dst, src->alt_pos, src->g->n_alts);
    dst->special = xmalloc(((size_t)src->n_special + 1) * sizeof *dst->special);
    if (src->n_special) memcpy(dst->special, src->special, (size_t)src->n_special * sizeof *src->special);
    dst->states = DUP(dst, src->states, src->n_states);
    dst->n_states = dst->cap_states = src->n_states;
    for (int i = 0; i < src->n_states; i++)
        if (src->states[i].row) dst->states[i].row = DUP(dst, src->states[i].row, src->width);
    dst->items = DUP(dst, src->items, src->n_items);
    dst->n_items = dst->cap_items = src->n_items;
    dst->table = DUP(dst, src->table, src->table_cap);
    dst->table_cap = src->table_cap;
    for (int i = 0; i < src->stack.n; i++) intvec_push(&dst->stack, src->stack.v[i]);
    for (int i = 0; i < src->input.n; i++) intvec_push(&dst->input, src->input.v[i]);
    return 0;
}

int matcher_feed(Matcher *m, int in) {
    int col = matcher_column(m, in);
    if (col < 0) return 0;
    int next = matcher_step(m, matcher_state(m), col);
    if (next == MATCHER_DEAD) return 0;
    intvec_push(&m->stack, next);
    intvec_push(&m->input, in);
    return 1;
}

int matcher_feed_bytes(Matcher *m, const unsigned char *p, int n) {
    int mark = matcher_mark(m);
    for (int i = 0; i < n; i++)
        if (!matcher_feed(m, p[i])) {
            matcher_undo(m, mark);
            return 0;
        }
    return 1;
}

void matcher_undo(Matcher *m, int mark) {
    CHECK(mark >= 1 && mark <= m->stack.n);
    m->stack.n = mark;
    m->input.n = mark - 1;
}

int matcher_complete(const Matcher *m) { return m->states[matcher_state(m)].accept; }

void matcher_compact(Matcher *m) {
    IntVec input = m->input;
    m->input = (IntVec){0};
    free_automaton(m);
    first_state(m);
    for (int i = 0; i < input.n; i++) CHECK(matcher_feed(m, input.v[i]));
    intvec_free(&input);
}
