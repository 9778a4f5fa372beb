#include "gen/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "kern/ops.h"

int sampler_init(Sampler *s, const SamplerParams *p, int n_vocab) {
    memset(s, 0, sizeof *s);
    if (!(p->temperature >= 0 && p->temperature <= 100))
        return err_set("temperature %g out of range [0, 100]", p->temperature);
    if (!(p->top_p > 0 && p->top_p <= 1)) return err_set("top-p %g out of range (0, 1]", p->top_p);
    if (!(p->min_p >= 0 && p->min_p < 1)) return err_set("min-p %g out of range [0, 1)", p->min_p);
    if (p->top_k < 0) return err_set("top-k %d is negative", p->top_k);
    s->p = *p;
    s->state = p->seed;
    s->n_vocab = n_vocab;
    s->cand = xmalloc((size_t)n_vocab * sizeof *s->cand);
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->cand);
    memset(s, 0, sizeof *s);
}

static int by_prob_desc(const void *a, const void *b) {
    const struct ProbIndex *x = a, *y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : x->i - y->i;
}

int sampler_sample(Sampler *s, float *logits) {
    int n = s->n_vocab;
    if (s->p.temperature == 0) return argmax(logits, n);
    /* subtract the max first: logits / T must not overflow for tiny T */
    float mx = logits[argmax(logits, n)];
    for (int i = 0; i < n; i++) logits[i] = (logits[i] - mx) / s->p.temperature;
    softmax(logits, n);
    /* candidates by probability, most likely first */
    for (int i = 0; i < n; i++) s->cand[i] = (struct ProbIndex){logits[i], i};
    qsort(s->cand, (size_t)n, sizeof *s->cand, by_prob_desc);
    int keep = n;
    /* never a token of probability 0 (a logit of -inf: a constraint's
     * forbidden token), even when rounding leaves r past the others */
    while (keep > 1 && s->cand[keep - 1].p == 0) keep--;
    if (s->p.top_k > 0 && s->p.top_k < keep) keep = s->p.top_k;
    float pmax = s->cand[0].p;
    double cum = 0;
    for (int i = 0; i < keep; i++) {
        float pi = s->cand[i].p;
        if (i > 0 && pi < s->p.min_p * pmax) {
            keep = i;
            break;
        }
        cum += pi;
        if (cum >= s->p.top_p) {
            keep = i + 1;
            break;
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++) total += s->cand[i].p;
    double r = (double)(splitmix64(&s->state) >> 11) * 0x1.0p-53 * total;
    for (int i = 0; i < keep; i++) {
        r -= s->cand[i].p;
        if (r < 0) return s->cand[i].i;
    }
    return s->cand[keep - 1].i;
}
