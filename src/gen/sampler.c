/* sampler — sampler.h. The candidates are ordered by probability, most
 * likely first, ties by token id, and drawn with double sums in that order.
 * Only the tokens that can be kept are ordered: probability 0 never is (a
 * constraint's -inf), min-p's cut is known before ordering, top-k keeps
 * the k largest and top-p a prefix holding its mass, both found by a
 * histogram of the leading bits (top-p's is checked once ordered: when its
 * mass is not reached there, every candidate is ordered). The order
 * is a stable radix sort on the probabilities' bits (non-negative floats
 * order as their bits do), so it is the comparison sort's order exactly;
 * tests/unit/test_sampler.c holds it against that sort (qsort). */
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
    if (!(p->presence_penalty >= -2 && p->presence_penalty <= 2))
        return err_set("presence penalty %g out of range [-2, 2]", p->presence_penalty);
    if (!(p->frequency_penalty >= -2 && p->frequency_penalty <= 2))
        return err_set("frequency penalty %g out of range [-2, 2]", p->frequency_penalty);
    if (!(p->repeat_penalty >= 0 && p->repeat_penalty <= 100))
        return err_set("repeat penalty %g out of range [0, 100] (0 or 1: off)", p->repeat_penalty);
    if (p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20))
        return err_set("repeat-last-n %d out of range [0, 2^20]", p->repeat_last_n);
    s->p = *p;
    s->state = p->seed;
    s->n_vocab = n_vocab;
    s->cand = xmalloc(2 * (size_t)n_vocab * sizeof *s->cand);
    if (p->presence_penalty != 0 || p->frequency_penalty != 0) {
        s->count = xcalloc((size_t)n_vocab, sizeof *s->count);
        s->seen = xmalloc((size_t)n_vocab * sizeof *s->seen);
    }
    if (p->repeat_penalty != 0 && p->repeat_penalty != 1 && p->repeat_last_n > 0) {
        s->recent = xmalloc((size_t)p->repeat_last_n * sizeof *s->recent);
        s->mark = xcalloc((size_t)n_vocab, 1);
    }
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->cand), free(s->count), free(s->seen), free(s->recent), free(s->mark);
    memset(s, 0, sizeof *s);
}

/* ---- penalties ----------------------------------------------------------------- */

static void remember(Sampler *s, int token) {
    if (s->recent) s->recent[s->n_recent++ % s->p.repeat_last_n] = token;
}

void sampler_prime(Sampler *s, const int *tokens, int n) {
    for (int i = 0; i < n; i++)
        if (tokens[i] >= 0 && tokens[i] < s->n_vocab) remember(s, tokens[i]);
}

/* A pick: counted, and remembered. */
static int picked(Sampler *s, int token) {
    if (s->count && token >= 0 && token < s->n_vocab && s->count[token]++ == 0) s->seen[s->n_seen++] = token;
    if (token >= 0 && token < s->n_vocab) remember(s, token);
    return token;
}

void sampler_penalize(Sampler *s, float *logits) {
    if (s->recent) { /* each distinct token of the window once */
        long n = s->n_recent < s->p.repeat_last_n ? s->n_recent : s->p.repeat_last_n;
        float rp = s->p.repeat_penalty;
        for (long i = 0; i < n; i++) {
            int t = s->recent[i];
            if (s->mark[t]) continue;
            s->mark[t] = 1;
            logits[t] = logits[t] > 0 ? logits[t] / rp : logits[t] * rp;
        }
        for (long i = 0; i < n; i++) s->mark[s->recent[i]] = 0;
    }
    for (int i = 0; i < s->n_seen; i++) {
        int t = s->seen[i];
        logits[t] -= s->p.presence_penalty + s->p.frequency_penalty * (float)s->count[t];
    }
}

static uint32_t key(float p) {
    uint32_t u;
    memcpy(&u, &p, sizeof u);
    return u;
}

/* Sorts c[0..n) by probability, largest first, stably (so ties keep their
 * order: ascending ids), using tmp[0..n): LSD radix on 11, 11, 10 bits,
 * skipping a digit every key shares. The result is in c. */
static void sort_desc(struct ProbIndex *c, struct ProbIndex *tmp, int n) {
    static const int shift[] = {0, 11, 22}, width[] = {11, 11, 10};
    int count[2048];
    for (int d = 0; d < 3; d++) {
        int nb = 1 << width[d], sh = shift[d];
        memset(count, 0, (size_t)nb * sizeof *count);
        for (int i = 0; i < n; i++) count[(key(c[i].p) >> sh) & (uint32_t)(nb - 1)]++;
        int b0 = (key(c[0].p) >> sh) & (uint32_t)(nb - 1);
        if (count[b0] == n) continue; /* one bucket: this digit orders nothing */
        int at = 0;
        for (int b = nb - 1; b >= 0; b--) { /* largest digit first */
            int k = count[b];
            count[b] = at;
            at += k;
        }
        for (int i = 0; i < n; i++) tmp[count[(key(c[i].p) >> sh) & (uint32_t)(nb - 1)]++] = c[i];
        memcpy(c, tmp, (size_t)n * sizeof *c);
    }
}

/* Keeps in c[0..n) (ascending ids) the candidates whose leading 11 bits
 * are at least those of the k-th largest: a superset of the k largest, in
 * the same order. Returns the new count. */
static int top_k_superset(struct ProbIndex *c, int n, int k) {
    int count[2048] = {0};
    for (int i = 0; i < n; i++) count[key(c[i].p) >> 21]++;
    int b = 2047, above = 0;
    while (above + count[b] < k) above += count[b--];
    int m = 0;
    for (int i = 0; i < n; i++)
        if ((int)(key(c[i].p) >> 21) >= b) c[m++] = c[i];
    return m;
}

/* softmax(logits / T) into p, as kern/ops' argmax and softmax compute it
 * (the same floats: the same operations in the same order): the max
 * subtracted, divided by T, expf (skipped for -inf: it is 0), the sum in
 * doubles by ascending id, times (float)(1 / sum). Returns the largest
 * probability, or -1 when a logit is NaN or +inf or all are -inf (then p
 * is what ops computes, NaNs included). */
static float probabilities(float *p, float *logits, int n, float temperature) {
    float mx = -INFINITY;
    int nan = 0;
    for (int i = 0; i < n; i++) {
        if (logits[i] > mx) mx = logits[i];
        nan |= logits[i] != logits[i];
    }
    if (nan || isinf(mx)) { /* the general path, NaN in and out */
        mx = logits[argmax(logits, n)];
        for (int i = 0; i < n; i++) p[i] = (logits[i] - mx) / temperature;
        softmax(p, n);
        return -1;
    }
    /* the scaled max is +0, so softmax's own max subtraction changes nothing */
    double sum = 0;
    for (int i = 0; i < n; i++) {
        float x = logits[i] == -INFINITY ? 0 : expf((logits[i] - mx) / temperature);
        p[i] = x;
        sum += x;
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) p[i] *= inv;
    return inv; /* the max's expf is 1: its probability is inv, and no other's is more */
}

/* Keeps in c[0..n) (ascending ids) the candidates whose leading 11 bits
 * are at least those of a bucket where the buckets from the top hold
 * probability top_p with a margin: a prefix of the order that top-p most
 * likely ends in (the caller checks, and orders them all when it does
 * not). Returns the new count. */
static int top_p_superset(struct ProbIndex *c, int n, double top_p) {
    double sum[2048] = {0};
    for (int i = 0; i < n; i++) sum[key(c[i].p) >> 21] += c[i].p;
    double want = top_p + 1e-6, above = 0;
    int b = 2047;
    while (b > 0 && (above += sum[b]) < want) b--;
    int m = 0;
    for (int i = 0; i < n; i++)
        if ((int)(key(c[i].p) >> 21) >= b) c[m++] = c[i];
    return m;
}

/* How many of the ordered c[0..n) are kept: top-k, then min-p's cut and
 * top-p, in order. *reached: top-p's mass was reached within them. */
static int kept(const Sampler *s, const struct ProbIndex *c, int n, float cut, int *reached) {
    int keep = n;
    *reached = 0;
    if (s->p.top_k > 0 && s->p.top_k < keep) keep = s->p.top_k;
    double cum = 0;
    for (int i = 0; i < keep; i++) {
        float pi = c[i].p;
        if (i > 0 && pi < cut) return i;
        cum += pi;
        if (cum >= s->p.top_p) {
            *reached = 1;
            return i + 1;
        }
    }
    return keep;
}

/* The pick from the (penalized) logits. */
static int pick(Sampler *s, float *logits) {
    int n = s->n_vocab;
    if (s->p.temperature == 0) return argmax(logits, n);
    float pmax = probabilities(logits, logits, n, s->p.temperature);
    if (pmax < 0)
        for (int i = 0; i < n; i++)
            if (logits[i] > pmax) pmax = logits[i];
    /* the candidates that may be kept, by ascending id: p > 0, and not
     * below min-p's cut (the first candidate, pmax, never is) */
    float cut = s->p.min_p * pmax;
    struct ProbIndex *cand = s->cand, *tmp = s->cand + n;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] > 0 && !(logits[i] < cut)) cand[m++] = (struct ProbIndex){logits[i], i};
    if (!m) { /* every probability NaN (an infinite logit): the last id, as the full order drew it */
        splitmix64(&s->state);
        return n - 1;
    }
    int all = m, reached, keep;
    if (s->p.top_k > 0 && s->p.top_k < m) {
        m = top_k_superset(cand, m, s->p.top_k);
    } else if (s->p.top_p < 1 && m > 256) {
        m = top_p_superset(cand, m, s->p.top_p);
        sort_desc(cand, tmp, m);
        keep = kept(s, cand, m, cut, &reached);
        if (reached || keep < m || m == all) goto draw;
        m = 0; /* top-p ends past the part ordered: order them all */
        for (int i = 0; i < s->n_vocab; i++)
            if (logits[i] > 0 && !(logits[i] < cut)) cand[m++] = (struct ProbIndex){logits[i], i};
    }
    sort_desc(cand, tmp, m);
    keep = kept(s, cand, m, cut, &reached);
draw:;
    double total = 0;
    for (int i = 0; i < keep; i++) total += cand[i].p;
    double r = (double)(splitmix64(&s->state) >> 11) * 0x1.0p-53 * total;
    for (int i = 0; i < keep; i++) {
        r -= cand[i].p;
        if (r < 0) return cand[i].i;
    }
    return cand[keep - 1].i;
}

int sampler_sample(Sampler *s, float *logits) {
    sampler_penalize(s, logits);
    return picked(s, pick(s, logits));
}
