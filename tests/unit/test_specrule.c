/* test_specrule — the server's rule for when to speculate (server/specrule.h):
 * with nothing measured it drafts; a step time flat in the batch tokens
 * (memory-bound) and accepted drafts make it draft; a step time that grows
 * with every token (compute-bound) makes it decline, but for one probe every
 * SPECRULE_PROBE steps; the same model drafts at small batches and declines
 * at large ones. */
#include "harness.h"
#include "server/specrule.h"

/* A rule that has seen steps of t(n) = a + b n at sizes 1..64, and
 * speculative steps where each drafting sequence fed x and got y accepted. */
static SpecRule trained(double a, double b, double x, double y) {
    SpecRule r;
    specrule_init(&r);
    for (int i = 0; i < 200; i++) {
        int n = 1 + (i * 7) % 64;
        specrule_step(&r, n, a + b * n);
    }
    for (int i = 0; i < 10; i++) specrule_spec(&r, 2, (long)(2 * x), (long)(2 * y), 2e-5);
    return r;
}

int main(void) {
    SpecRule r;
    specrule_init(&r);
    EXPECT(specrule_decide(&r, 1, 1, 64, 0) == 1, "nothing measured: it drafts, to measure");
    EXPECT(specrule_decide(&r, 1, 0, 64, 0) == 0 && specrule_decide(&r, 0, 0, 64, 0) == 0, "nobody may draft");

    r = trained(0.010, 0.0, 4, 2); /* memory-bound: 10 ms whatever the batch */
    double t = specrule_time(&r, 30);
    EXPECT(t > 0.0099 && t < 0.0101, "flat fit: t(30) = %g", t);
    for (int D = 1; D <= 8; D++) EXPECT(specrule_decide(&r, D, D, 64, 0) == 1, "memory-bound, %d decoding: drafts", D);

    r = trained(0.0, 0.001, 4, 1); /* compute-bound: 1 ms per token */
    t = specrule_time(&r, 10);
    EXPECT(t > 0.0099 && t < 0.0101, "linear fit: t(10) = %g", t);
    int yes = 0;
    for (int i = 0; i < 2 * SPECRULE_PROBE; i++) yes += specrule_decide(&r, 2, 2, 64, 0);
    EXPECT(yes == 2, "compute-bound: only the probes draft (%d of %d steps)", yes, 2 * SPECRULE_PROBE);

    r = trained(0.010, 0.001, 4, 2); /* 10 ms + 1 ms per token */
    EXPECT(specrule_decide(&r, 4, 4, 0, 0) == 1, "a small batch drafts");
    EXPECT(specrule_decide(&r, 64, 64, 0, 0) == 0, "a large batch does not");
    /* prompt tokens beside the decode tokens: the budget takes the drafts from them */
    EXPECT(specrule_decide(&r, 4, 4, 64, 1000) == 1, "drafts that displace prompt tokens cost little");

    /* what steps delivered overrides the model: memory-bound by the fit, but
     * at 16 decoding sequences drafted steps emitted fewer tokens a second */
    r = trained(0.010, 0.0, 4, 2);
    EXPECT(specrule_decide(&r, 16, 16, 64, 0) == 1, "the model alone: drafts at 16");
    for (int i = 0; i < SPECRULE_MEASURED; i++) {
        specrule_outcome(&r, 16, 0, 16, 0.100); /* plain: 160 tokens/s */
        specrule_outcome(&r, 16, 1, 20, 0.200); /* drafted: 100 tokens/s */
        specrule_outcome(&r, 2, 0, 2, 0.010);   /* at 2: plain 200 tokens/s */
        specrule_outcome(&r, 2, 1, 5, 0.012);   /* drafted 417 */
    }
    yes = 0;
    for (int i = 0; i < 2 * SPECRULE_PROBE; i++) yes += specrule_decide(&r, 16, 16, 64, 0);
    EXPECT(yes == 2, "measured slower at 16: only the probes draft (%d of %d steps)", yes, 2 * SPECRULE_PROBE);
    yes = 0;
    for (int i = 0; i < 2 * SPECRULE_PROBE; i++) yes += specrule_decide(&r, 2, 2, 64, 0);
    EXPECT(yes == 2 * SPECRULE_PROBE - 2, "measured faster at 2: all but the probes draft (%d of %d)", yes, 2 * SPECRULE_PROBE);
    EXPECT(specrule_decide(&r, 8, 8, 64, 0) == 1, "not measured at 5-8: the model decides");
    EXPECT(specrule_decide(&r, 12, 12, 64, 0) == 0, "12 shares 16's bucket (9-16): measured slower");
    specrule_outcome(&r, 8, 1, 10, 0.1);
    EXPECT(specrule_decide(&r, 8, 8, 64, 0) == 0, "drafted once at 8, never plain: a plain step, to measure");
    specrule_outcome(&r, 8, 0, 8, 0.1);
    EXPECT(specrule_decide(&r, 8, 8, 64, 0) == 1, "one of each at 8: the model again");
    specrule_outcome(&r, 16, 1, 0, 0.1), specrule_outcome(&r, 0, 1, 5, 0.1), specrule_outcome(&r, 16, 1, 5, 0);
    EXPECT(r.drafted[4].n == SPECRULE_MEASURED && r.drafted[0].n == 0, "empty steps are not outcomes");
    return test_done("test_specrule");
}
