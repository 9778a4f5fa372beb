/* test_sampler — sampler_sample (gen/sampler.h) against the simple
 * sampler it replaced, kept here as the oracle: every candidate sorted by
 * qsort (probability descending, id ascending), top-k, min-p and top-p cut
 * in that order, the draw summed in doubles in that order. Over random
 * logits (normal, tied, with -inf masks of every density, huge ranges), many
 * seeds and parameter sets and vocabulary sizes, both must pick the same
 * token and leave the same generator state. The penalties against a
 * brute-force count over the whole text. Then the time per token at 32k
 * and 131k, each way (printed, never a timed check). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/util.h"
#include "gen/sampler.h"
#include "harness.h"
#include "kern/ops.h"

/* ------------------------------------------------------------- oracle -- */

typedef struct {
    float p;
    int i;
} Cand;

static int by_prob_desc(const void *a, const void *b) {
    const Cand *x = a, *y = b;
    return x->p < y->p ? 1 : x->p > y->p ? -1 : x->i - y->i;
}

static int oracle_sample(const SamplerParams *sp, uint64_t *state, float *logits, int n, Cand *cand) {
    if (sp->temperature == 0) return argmax(logits, n);
    float mx = logits[argmax(logits, n)];
    for (int i = 0; i < n; i++) logits[i] = (logits[i] - mx) / sp->temperature;
    softmax(logits, n);
    for (int i = 0; i < n; i++) cand[i] = (Cand){logits[i], i};
    qsort(cand, (size_t)n, sizeof *cand, by_prob_desc);
    int keep = n;
    while (keep > 1 && cand[keep - 1].p == 0) keep--;
    if (sp->top_k > 0 && sp->top_k < keep) keep = sp->top_k;
    float pmax = cand[0].p;
    double cum = 0;
    for (int i = 0; i < keep; i++) {
        float pi = cand[i].p;
        if (i > 0 && pi < sp->min_p * pmax) {
            keep = i;
            break;
        }
        cum += pi;
        if (cum >= sp->top_p) {
            keep = i + 1;
            break;
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++) total += cand[i].p;
    double r = (double)(splitmix64(state) >> 11) * 0x1.0p-53 * total;
    for (int i = 0; i < keep; i++) {
        r -= cand[i].p;
        if (r < 0) return cand[i].i;
    }
    return cand[keep - 1].i;
}

/* -------------------------------------------------------------- logits -- */

static uint64_t rng = 77;
static double unif(void) { return (double)(splitmix64(&rng) >> 11) * 0x1.0p-53; }
static double gauss(void) { return sqrt(-2 * log(unif() + 1e-300)) * cos(6.283185307179586 * unif()); }

/* Logits of kind k: 0 normal, 1 ties (few distinct values), 2 normal with a
 * random share masked to -inf, 3 all but one or two masked, 4 wide range
 * (probabilities that underflow to 0), 5 all equal, 6 ties and masks. */
static void make_logits(float *l, int n, int k) {
    double scale = k == 4 ? 60 : 1 + 3 * unif();
    double masked = k == 2 || k == 6 ? unif() : k == 3 ? 1 : 0;
    for (int i = 0; i < n; i++) {
        double x = gauss() * scale;
        if (k == 1 || k == 6) x = floor(x * 2) / 2;
        if (k == 5) x = 0.25;
        l[i] = (float)x;
        if (unif() < masked) l[i] = -INFINITY;
    }
    if (k == 3) {
        l[splitmix64(&rng) % (uint64_t)n] = 1.5f;
        if (unif() < 0.5) l[splitmix64(&rng) % (uint64_t)n] = 1.5f;
    }
    if (masked > 0 && masked < 1) l[splitmix64(&rng) % (uint64_t)n] = 0; /* one allowed at least */
}

static SamplerParams random_params(int n) {
    static const float temps[] = {0.01f, 0.3f, 0.7f, 1, 1.5f, 3, 100};
    static const float top_ps[] = {1, 1, 0.95f, 0.9f, 0.5f, 1e-6f, 0.999999f, 0.99999994f};
    static const float min_ps[] = {0, 0, 0.01f, 0.05f, 0.5f, 0.99f};
    int ks[] = {0, 0, 1, 2, 5, 40, n - 1, n, n + 5};
    SamplerParams sp = {.temperature = temps[splitmix64(&rng) % 7], .top_p = top_ps[splitmix64(&rng) % 8],
                        .top_k = ks[splitmix64(&rng) % 9], .min_p = min_ps[splitmix64(&rng) % 6],
                        .seed = splitmix64(&rng)};
    if (sp.top_k < 0) sp.top_k = 0;
    return sp;
}

static int n_draws;

/* One sampler and the oracle, with the same parameters, over `draws` logits. */
static void check_same(int n, int draws) {
    SamplerParams sp = random_params(n);
    Sampler s;
    EXPECT(!sampler_init(&s, &sp, n), "%s", err_msg());
    uint64_t state = sp.seed;
    float *l = xmalloc((size_t)n * sizeof *l), *a = xmalloc((size_t)n * sizeof *a), *b = xmalloc((size_t)n * sizeof *b);
    Cand *cand = xmalloc((size_t)n * sizeof *cand);
    for (int d = 0; d < draws; d++) {
        int kind = (int)(splitmix64(&rng) % 7);
        make_logits(l, n, kind);
        memcpy(a, l, (size_t)n * sizeof *l);
        memcpy(b, l, (size_t)n * sizeof *l);
        int want = oracle_sample(&sp, &state, a, n, cand), got = sampler_sample(&s, b);
        EXPECTQ(got == want, "n %d kind %d T %g top_k %d top_p %g min_p %g draw %d: %d, the oracle %d", n, kind,
                sp.temperature, sp.top_k, sp.top_p, sp.min_p, d, got, want);
        EXPECTQ(s.state == state, "n %d draw %d: generator states differ", n, d);
        n_draws++;
    }
    free(l), free(a), free(b), free(cand);
    sampler_free(&s);
}

/* ----------------------------------------------------------- penalties -- */

/* The penalties as gen/sampler.h states them, by brute force over the whole
 * text: text[0..n_prompt) the prompt, then the picks. */
static void oracle_penalize(const SamplerParams *sp, const int *text, int n_text, int n_prompt, float *logits, int n) {
    int rep = sp->repeat_penalty != 0 && sp->repeat_penalty != 1 && sp->repeat_last_n > 0;
    int from = n_text - sp->repeat_last_n > 0 ? n_text - sp->repeat_last_n : 0;
    for (int t = 0; t < n; t++) {
        int in_window = 0, count = 0;
        for (int i = from; i < n_text; i++) in_window |= text[i] == t;
        for (int i = n_prompt; i < n_text; i++) count += text[i] == t;
        if (rep && in_window) logits[t] = logits[t] > 0 ? logits[t] / sp->repeat_penalty : logits[t] * sp->repeat_penalty;
        if (count) logits[t] -= sp->presence_penalty + sp->frequency_penalty * (float)count;
    }
}

/* A sampler with random penalties over a random prompt and `draws` picks:
 * each step's penalized logits equal the oracle's bit for bit, and so do
 * the picks (drawn by the oracle sampler from the oracle's logits). */
static void check_penalties(int n, int draws) {
    static const float pens[] = {0, 0, 0.5f, -0.5f, 2, -2, 1.25f}, reps[] = {0, 1, 1.1f, 1.5f, 0.8f, 100};
    static const int last[] = {0, 1, 3, 64, 1000};
    SamplerParams sp = random_params(n);
    sp.presence_penalty = pens[splitmix64(&rng) % 7], sp.frequency_penalty = pens[splitmix64(&rng) % 7];
    sp.repeat_penalty = reps[splitmix64(&rng) % 6], sp.repeat_last_n = last[splitmix64(&rng) % 5];
    if (splitmix64(&rng) % 3 == 0) sp.temperature = 0;
    int n_prompt = (int)(splitmix64(&rng) % 20);
    int *text = xmalloc((size_t)(n_prompt + draws) * sizeof *text), n_text = n_prompt;
    for (int i = 0; i < n_prompt; i++) text[i] = (int)(splitmix64(&rng) % (uint64_t)n);
    Sampler s;
    EXPECT(!sampler_init(&s, &sp, n), "%s", err_msg());
    sampler_prime(&s, text, n_prompt);
    uint64_t state = sp.seed;
    float *l = xmalloc((size_t)n * sizeof *l), *a = xmalloc((size_t)n * sizeof *a), *b = xmalloc((size_t)n * sizeof *b);
    Cand *cand = xmalloc((size_t)n * sizeof *cand);
    for (int d = 0; d < draws; d++) {
        int kind = (int)(splitmix64(&rng) % 7);
        make_logits(l, n, kind);
        if (kind == 0) /* small vocabularies repeat anyway; make the logits favour a repeat */
            for (int i = 0; i < n_text; i++) l[text[i]] += 1;
        memcpy(a, l, (size_t)n * sizeof *l);
        memcpy(b, l, (size_t)n * sizeof *l);
        oracle_penalize(&sp, text, n_text, n_prompt, a, n);
        sampler_penalize(&s, b);
        EXPECTQ(memcmp(a, b, (size_t)n * sizeof *a) == 0, "n %d presence %g frequency %g repeat %g/%d draw %d: "
                "penalized logits differ from the oracle's", n, sp.presence_penalty, sp.frequency_penalty,
                sp.repeat_penalty, sp.repeat_last_n, d);
        memcpy(b, l, (size_t)n * sizeof *l);
        int want = oracle_sample(&sp, &state, a, n, cand), got = sampler_sample(&s, b);
        EXPECTQ(got == want, "n %d draw %d: picked %d, the oracle %d", n, d, got, want);
        text[n_text++] = want;
        n_draws++;
    }
    free(l), free(a), free(b), free(cand), free(text);
    sampler_free(&s);
}

/* Penalties out of range are refused with a message; at 0 (1 for the
 * repeat penalty) they change nothing. */
static void check_penalty_params(void) {
    Sampler s;
    SamplerParams bad[] = {{.top_p = 1, .presence_penalty = 2.5f}, {.top_p = 1, .frequency_penalty = -2.01f},
                           {.top_p = 1, .repeat_penalty = -1}, {.top_p = 1, .repeat_penalty = NAN},
                           {.top_p = 1, .repeat_last_n = -1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(sampler_init(&s, &bad[i], 10) == -1 && strstr(err_msg(), "out of range"), "bad %zu: %s", i, err_msg());
    SamplerParams off = {.top_p = 1, .repeat_penalty = 1, .repeat_last_n = 64};
    EXPECT(sampler_init(&s, &off, 10) == 0 && !s.count && !s.recent, "neutral penalties allocate nothing");
    sampler_free(&s);
    /* greedy with frequency_penalty 2: a token that wins by less than 2 per
     * pick loses to the next once picked */
    SamplerParams fp = {.top_p = 1, .frequency_penalty = 2};
    CHECK(sampler_init(&s, &fp, 3) == 0);
    int got[4];
    for (int i = 0; i < 4; i++) {
        float l[3] = {3, 2, -5};
        got[i] = sampler_sample(&s, l);
    }
    EXPECT(got[0] == 0 && got[1] == 1 && got[2] == 0 && got[3] == 1, "frequency 2 alternates: %d %d %d %d", got[0],
           got[1], got[2], got[3]);
    sampler_free(&s);
}

/* ---------------------------------------------------------------- time -- */

/* The thread's CPU time: a preempted draw is not charged its wait (the
 * test machines are shared). */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median ms per token each way for one parameter set, logits kind k. */
static void time_one(int n, const char *label, SamplerParams sp, int kind) {
    enum { REPS = 15 };
    float *l = xmalloc((size_t)n * sizeof *l), *x = xmalloc((size_t)n * sizeof *x);
    Cand *cand = xmalloc((size_t)n * sizeof *cand);
    Sampler s;
    CHECK(!sampler_init(&s, &sp, n));
    uint64_t state = sp.seed;
    double t_old[REPS], t_new[REPS];
    for (int r = 0; r < REPS; r++) {
        make_logits(l, n, kind);
        memcpy(x, l, (size_t)n * sizeof *l);
        double t0 = now();
        int want = oracle_sample(&sp, &state, x, n, cand);
        double t1 = now();
        memcpy(x, l, (size_t)n * sizeof *l);
        double t2 = now();
        int got = sampler_sample(&s, x);
        double t3 = now();
        EXPECTQ(got == want, "timing %s: %d, the oracle %d", label, got, want);
        t_old[r] = t1 - t0, t_new[r] = t3 - t2;
    }
    qsort(t_old, REPS, sizeof *t_old, cmp_double);
    qsort(t_new, REPS, sizeof *t_new, cmp_double);
    fprintf(stderr, "  n %6d  %-38s qsort %7.3f ms  now %6.3f ms  (%.0fx; median thread CPU time)\n", n, label,
            1e3 * t_old[REPS / 2], 1e3 * t_new[REPS / 2], t_old[REPS / 2] / t_new[REPS / 2]);
    sampler_free(&s);
    free(l), free(x), free(cand);
}

int main(void) {
    static const int sizes[] = {1, 2, 3, 7, 16, 100, 1000, 4096};
    for (int r = 0; r < 300; r++) check_same(sizes[r % 8], 40);
    for (int r = 0; r < 40; r++) check_same(32768, 6);
    for (int r = 0; r < 8; r++) check_same(131072, 4);
    fprintf(stderr, "  %d draws identical to the qsort sampler\n", n_draws);
    n_draws = 0;
    static const int small[] = {1, 2, 7, 100, 1000};
    for (int r = 0; r < 200; r++) check_penalties(small[r % 5], 60);
    check_penalty_params();
    fprintf(stderr, "  %d penalized draws identical to the brute-force penalties\n", n_draws);
    static const int big[] = {32768, 131072};
    for (int b = 0; b < 2; b++) {
        time_one(big[b], "T 0.8 (no cut)", (SamplerParams){.temperature = 0.8f, .top_p = 1, .seed = 1}, 0);
        time_one(big[b], "T 0.8 top-p 0.95", (SamplerParams){.temperature = 0.8f, .top_p = 0.95f, .seed = 1}, 0);
        time_one(big[b], "T 0.8 top-k 40 top-p 0.95 min-p 0.05",
                 (SamplerParams){.temperature = 0.8f, .top_p = 0.95f, .top_k = 40, .min_p = 0.05f, .seed = 1}, 0);
        time_one(big[b], "T 0.8, a mask (-inf) on half", (SamplerParams){.temperature = 0.8f, .top_p = 1, .seed = 1}, 2);
    }
    return test_done("sampler");
}
