/* guide — a sequence's constraint applied to its logits (guide.h). */
#include "gen/guide.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

int guide_init(Guide *g, const Grammar *gr, const Vocab *v) {
    memset(g, 0, sizeof *g);
    if (constraint_init(&g->c, gr, v)) return -1;
    g->bits = xcalloc((size_t)g->c.words, sizeof *g->bits);
    return 0;
}

void guide_free(Guide *g) {
    constraint_free(&g->c);
    free(g->bits);
    memset(g, 0, sizeof *g);
}

void guide_prepare(Guide *g) {
    if (g->have) return;
    constraint_mask(&g->c, g->bits);
    g->have = 1;
}

int guide_apply(Guide *g, float *logits) {
    guide_prepare(g);
    int allowed = 0, n = g->c.v->n_vocab;
    for (int w = 0; w < g->c.words; w++) {
        uint32_t bits = g->bits[w];
        if (bits == 0xFFFFFFFFu) {
            allowed += 32;
            continue;
        }
        for (int b = 0; b < 32 && w * 32 + b < n; b++) {
            if ((bits >> b) & 1) allowed++;
            else logits[w * 32 + b] = -INFINITY;
        }
    }
    return allowed;
}

int guide_accept(Guide *g, int t) {
    if (constraint_accept(&g->c, t)) return -1;
    g->have = 0;
    return 0;
}

int guide_done(Guide *g) { return constraint_done(&g->c); }
