/* sample — random derivations of a grammar (sample.h). */
#include "grammar/sample.h"

#include <stdlib.h>

#include "base/util.h"

/* cost[r]: the fewest symbols a derivation of rule r expands (each rule
 * expansion and each terminal counts 1); a fixpoint from above. */
static long *min_costs(const Grammar *g) {
    long *cost = xmalloc(((size_t)g->n_rules + 1) * sizeof *cost);
    for (int r = 0; r < g->n_rules; r++) cost[r] = -1;
    for (int changed = 1; changed;) {
        changed = 0;
        for (int r = 0; r < g->n_rules; r++)
            for (int i = 0; i < g->rules[r].alts.n; i++) {
                const Alt *a = &g->alts[g->rules[r].alts.v[i]];
                long c = 1;
                for (int j = 0; j < a->n && c >= 0; j++) {
                    const Sym *s = &g->syms[a->sym + j];
                    long k = s->kind == SYM_RULE ? cost[s->arg] : 1;
                    c = k < 0 ? -1 : c + k > (1L << 40) ? (1L << 40) : c + k;
                }
                if (c >= 0 && (cost[r] < 0 || c < cost[r])) cost[r] = c, changed = 1;
            }
    }
    return cost;
}

static long alt_cost(const Grammar *g, const long *cost, int alt) {
    const Alt *a = &g->alts[alt];
    long c = 1;
    for (int j = 0; j < a->n; j++) {
        const Sym *s = &g->syms[a->sym + j];
        long k = s->kind == SYM_RULE ? cost[s->arg] : 1;
        if (k < 0) return -1;
        c += k;
    }
    return c;
}

int grammar_sample(const Grammar *g, uint64_t *rng, int budget, int max_len, IntVec *out) {
    CHECK(g->finished);
    long *cost = min_costs(g);
    IntVec stack = {0}; /* the symbols still to expand, as (kind, arg) pairs, the next on top */
    intvec_push(&stack, SYM_RULE), intvec_push(&stack, g->start);
    int rc = 0, produced = 0;
    while (stack.n) {
        int arg = stack.v[--stack.n], kind = stack.v[--stack.n];
        if (kind == SYM_SPECIAL || kind == SYM_BYTES) {
            if (++produced > max_len) {
                rc = -1;
                break;
            }
            if (kind == SYM_SPECIAL) {
                intvec_push(out, GRAMMAR_SPECIAL + arg);
                continue;
            }
            const ByteSet *set = &g->sets[arg];
            int n = 0, pick = -1;
            for (int b = 0; b < 256; b++) /* reservoir: a uniform byte of the set */
                if (byteset_has(set, b) && splitmix64(rng) % (uint64_t)++n == 0) pick = b;
            CHECK(pick >= 0);
            intvec_push(out, pick);
            continue;
        }
        const IntVec *alts = &g->rules[arg].alts;
        CHECK(alts->n > 0);
        int alt = -1;
        if (budget > 0) {
            budget--;
            for (int tries = 0; tries < 8 && alt < 0; tries++) {
                int a = alts->v[splitmix64(rng) % (uint64_t)alts->n];
                if (alt_cost(g, cost, a) >= 0) alt = a;
            }
        }
        if (alt < 0) { /* the alternative that ends soonest */
            long best = -1;
            for (int i = 0; i < alts->n; i++) {
                long c = alt_cost(g, cost, alts->v[i]);
                if (c >= 0 && (best < 0 || c < best)) best = c, alt = alts->v[i];
            }
        }
        CHECK(alt >= 0);
        const Alt *a = &g->alts[alt];
        for (int j = a->n - 1; j >= 0; j--) {
            intvec_push(&stack, g->syms[a->sym + j].kind);
            intvec_push(&stack, g->syms[a->sym + j].arg);
        }
    }
    intvec_free(&stack);
    free(cost);
    return rc;
}
