/* specrule — the server's speculation rule (see specrule.h). */
#include "server/specrule.h"

#include <string.h>

void specrule_init(SpecRule *r) { memset(r, 0, sizeof *r); }

void specrule_step(SpecRule *r, int n, double seconds) {
    if (n <= 0 || !(seconds >= 0)) return;
    double k = SPECRULE_DECAY;
    r->w = k * r->w + 1, r->sn = k * r->sn + n, r->st = k * r->st + seconds;
    r->snn = k * r->snn + (double)n * n, r->snt = k * r->snt + n * seconds;
}

void specrule_spec(SpecRule *r, int m, long fed, long accepted, double seconds) {
    if (m <= 0) return;
    double x = (double)fed / m, y = (double)accepted / m, c = seconds / m;
    if (!r->have_spec) r->x = x, r->y = y, r->c = c;
    else r->x = 0.8 * r->x + 0.2 * x, r->y = 0.8 * r->y + 0.2 * y, r->c = 0.8 * r->c + 0.2 * c;
    r->have_spec++;
}

/* D's bucket: the power of two at or above it, as an exponent. */
static int bucket(int D) {
    int b = 0;
    while (b < SPECRULE_BUCKETS - 1 && (1 << b) < D) b++;
    return b;
}

void specrule_outcome(SpecRule *r, int D, int drafted, long emitted, double seconds) {
    if (D <= 0 || emitted <= 0 || !(seconds > 0)) return;
    SpecOutcome *o = drafted ? &r->drafted[bucket(D)] : &r->plain[bucket(D)];
    double rate = (double)emitted / seconds;
    o->rate = o->n ? 0.8 * o->rate + 0.2 * rate : rate;
    o->n++;
}

double specrule_time(const SpecRule *r, double n) {
    if (r->w <= 0) return 0;
    double mn = r->sn / r->w, mt = r->st / r->w;
    double var = r->snn / r->w - mn * mn, cov = r->snt / r->w - mn * mt;
    /* one batch size seen so far: a flat time (the speculative steps that
     * follow bring other sizes) */
    double b = var > 0.25 ? cov / var : 0;
    if (b < 0) b = 0;
    double a = mt - b * mn;
    if (a < 0) a = 0, b = mn > 0 ? mt / mn : 0;
    return a + b * n;
}

/* Prompt tokens a step holds beside n decode tokens (gen/sched.c's rule). */
static double prompt_share(double n, int budget, long prefill) {
    if (prefill <= 0) return 0;
    if (!budget) return (double)prefill;
    double room = budget - n > budget / 4 ? budget - n : budget / 4;
    if (room < 1) room = 1;
    return room < (double)prefill ? room : (double)prefill;
}

int specrule_decide(SpecRule *r, int D, int m, int budget, long prefill) {
    if (D <= 0 || m <= 0) return 0;
    const SpecOutcome *po = &r->plain[bucket(D)], *dr = &r->drafted[bucket(D)];
    if (po->n >= SPECRULE_MEASURED && dr->n >= SPECRULE_MEASURED) { /* what steps at this D delivered */
        int yes = dr->rate > po->rate;
        if (++r->taken >= SPECRULE_PROBE) r->taken = 0, yes = !yes; /* keep the other side measured */
        return yes;
    }
    if (po->n + dr->n > 0 && po->n != dr->n) return dr->n < po->n; /* measure the side measured less */
    int yes = 1;
    if (r->have_spec && r->w > 0) {
        double n0 = D + prompt_share(D, budget, prefill), n1 = D + m * r->x;
        n1 += prompt_share(n1, budget, prefill);
        double t0 = specrule_time(r, n0), t1 = specrule_time(r, n1) + m * r->c;
        /* tokens per second: D / t0 against (D + m y) / t1 */
        yes = (D + m * r->y) * t0 > D * t1;
    }
    if (!yes && ++r->declined >= SPECRULE_PROBE) yes = 1;
    if (yes) r->declined = 0;
    return yes;
}
