/* test_stepcost — the prompt budget under a target step time
 * (gen/stepcost.h) and its use by the scheduler (gen/sched.h): step times
 * of a known t(D, P) = a + d D + p P give back a, d and p; the budget is
 * floor((T - a - d D) / p) within [lo, hi] (the scheduler's lo: the
 * waiting prompts' share of its fixed budget); too little measured, or one
 * prompt size only, leaves the fallback; decoding that alone takes the
 * target still gives prompts lo tokens; the fit follows a machine that gets
 * slower; a step built by sched_next_batch holds exactly that many prompt
 * tokens. Deterministic: every time is given, none is measured. */
#include <math.h>

#include "gen/sched.h"
#include "gen/stepcost.h"
#include "harness.h"

/* Steps of a + d D + p P over a mix of D (1..16) and P (0..512), as a
 * server under a ramp measures them. */
static void train(StepCost *c, int steps, double a, double d, double p) {
    for (int i = 0; i < steps; i++) {
        int D = 1 + (i * 5) % 16, P = (i % 3 == 0) ? 0 : (i * 37) % 513;
        stepcost_observe(c, D, P, a + d * D + p * P);
    }
}

static int near(double x, double y) { return fabs(x - y) <= 1e-6 * (fabs(y) + 1e-3); }

int main(void) {
    StepCost c;
    stepcost_init(&c);
    EXPECT(!stepcost_fit(&c).known, "nothing measured: unknown");
    EXPECT(stepcost_budget(&c, 8, 0.150, 16, 512, 56) == 56, "nothing measured: the fallback");
    EXPECT(stepcost_budget(&c, 8, 0.150, 16, 512, 4) == 16, "the fallback within [lo, hi]");
    EXPECT(stepcost_budget(&c, 8, 0.150, 16, 512, 9999) == 512, "the fallback within [lo, hi] (hi)");

    /* one prompt size only (decode steps): p cannot be told */
    for (int i = 0; i < 50; i++) stepcost_observe(&c, 1 + i % 8, 0, 0.020 + 0.002 * (1 + i % 8));
    EXPECT(!stepcost_fit(&c).known, "decode steps only: p unknown");
    EXPECT(stepcost_budget(&c, 8, 0.150, 16, 512, 56) == 56, "decode steps only: the fallback");
    stepcost_observe(&c, 0, 0, 1.0), stepcost_observe(&c, 1, 0, NAN), stepcost_observe(&c, 1, 0, -1);
    EXPECT(c.steps == 50, "empty steps and bad times are ignored (%ld)", c.steps);

    /* 20 ms a step, 2 ms a decode row, 5 ms a prompt token */
    stepcost_init(&c);
    train(&c, 200, 0.020, 0.002, 0.005);
    StepFit f = stepcost_fit(&c);
    EXPECT(f.known && near(f.a, 0.020) && near(f.d, 0.002) && near(f.p, 0.005), "fit: a %g d %g p %g", f.a, f.d,
           f.p);
    /* (150 - 20 - 2 D) / 5 */
    EXPECT(stepcost_budget(&c, 8, 0.150, 16, 512, 56) == 22, "8 decoding: 22 prompt tokens (%d)",
           stepcost_budget(&c, 8, 0.150, 16, 512, 56));
    EXPECT(stepcost_budget(&c, 1, 0.150, 16, 512, 56) == 25, "1 decoding: 25");
    EXPECT(stepcost_budget(&c, 16, 0.150, 16, 512, 56) == 19, "16 decoding: 19");
    EXPECT(stepcost_budget(&c, 8, 1.000, 16, 512, 56) == 192, "a 1 s target: 192");
    EXPECT(stepcost_budget(&c, 8, 10.00, 16, 512, 56) == 512, "a loose target: hi");
    EXPECT(stepcost_budget(&c, 64, 0.150, 16, 512, 56) == 16, "decoding alone past the target: lo, no starvation");
    EXPECT(stepcost_budget(&c, 64, 0.150, 0, 512, 56) == 1, "lo is at least 1 token");
    for (int D = 1; D < 64; D++)
        EXPECTQ(stepcost_budget(&c, D + 1, 0.150, 1, 512, 56) <= stepcost_budget(&c, D, 0.150, 1, 512, 56),
                "more decoding never gives prompts more (D %d)", D);

    /* decode rows that cost nothing beyond the step (memory-bound decode) */
    stepcost_init(&c);
    train(&c, 200, 0.050, 0.0, 0.004);
    f = stepcost_fit(&c);
    EXPECT(f.known && near(f.a, 0.050) && fabs(f.d) < 1e-9 && near(f.p, 0.004), "flat decode: a %g d %g p %g", f.a,
           f.d, f.p);
    EXPECT(stepcost_budget(&c, 12, 0.152, 16, 512, 56) == 25, "flat decode: (152 - 50) / 4 = 25.5");

    /* the machine gets twice as slow: within 100 steps the fit follows */
    stepcost_init(&c);
    train(&c, 200, 0.020, 0.002, 0.005);
    train(&c, 100, 0.040, 0.004, 0.010);
    int b = stepcost_budget(&c, 8, 0.150, 1, 512, 56);
    EXPECT(b >= 7 && b <= 8, "a slower machine: (150 - 40 - 32) / 10 = 7.8, not 22 (%d)", b);

    /* the scheduler: 8 decoding sequences and one long prompt take that budget */
    Sched s;
    sched_init(&s, 9, 512, 64, -1);
    s.max_step = 0.150;
    train(&s.cost, 200, 0.020, 0.002, 0.005);
    static int prompt[1000];
    for (int i = 0; i < 1000; i++) prompt[i] = 1 + i % 100;
    for (int q = 0; q < 8; q++) {
        sched_start(&s, q, prompt, 1, 100, 0);
        s.seqs[q].state = SEQ_DECODE, s.seqs[q].fed = 1, s.seqs[q].pos = 1; /* as after their prefill */
    }
    sched_start(&s, 8, prompt, 1000, 10, 0);
    SchedBatch bt = {0};
    int n = sched_next_batch(&s, &bt, 0);
    EXPECT(n == 8 + 22 && bt.n_prompt == 22, "8 decode rows and 22 prompt tokens (%d, %d)", n, bt.n_prompt);
    s.max_step = 0; /* the fixed budget: 64 - 8 */
    int ids[8] = {5, 5, 5, 5, 5, 5, 5, 5};
    sched_accept(&s, &bt, ids, NULL, NULL);
    n = sched_next_batch(&s, &bt, 0);
    EXPECT(n == 64 && bt.n_prompt == 56, "fixed budget: 56 prompt tokens (%d, %d)", n, bt.n_prompt);
    sched_batch_free(&bt);
    sched_free(&s);

    /* a burst: 2 decoding, 14 prompts waiting; the target leaves 25, their share of the
     * budget is 64 * 14 / 16 = 56: 56 */
    sched_init(&s, 16, 512, 64, -1);
    s.max_step = 0.150;
    train(&s.cost, 200, 0.020, 0.002, 0.005);
    for (int q = 0; q < 16; q++) sched_start(&s, q, prompt, q < 2 ? 1 : 1000, 100, 0);
    for (int q = 0; q < 2; q++) s.seqs[q].state = SEQ_DECODE, s.seqs[q].fed = 1, s.seqs[q].pos = 1;
    n = sched_next_batch(&s, &bt, 0);
    EXPECT(n == 2 + 56 && bt.n_prompt == 56, "a burst: 56 prompt tokens (%d, %d)", n, bt.n_prompt);
    sched_batch_free(&bt);
    sched_free(&s);
    return test_done("test_stepcost");
}
