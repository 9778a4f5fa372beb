/* stepcost — what one scheduler step costs, fitted from measured step
 * times, and the prompt budget that keeps running streams' inter-token gap
 * under a target (the server's --max-itl-ms; gen/sched.h asks it).
 *
 * A step of D decode rows (sampled tokens and their drafts) and P prompt
 * tokens is modelled as taking
 *
 *     t(D, P) = a + d D + p P   seconds
 *
 * a: what every step costs (reading the weights, the threads' barriers,
 * sampling), d: a decode row (its products and its attention over its
 * context), p: a prompt token. The three are fitted by least squares over
 * the measured steps, each step's weight decaying by STEPCOST_DECAY per
 * later one, so the fit follows the load (contexts grow, streams come and
 * go, the machine is shared); a, d >= 0, p > 0.
 *
 * A decoding stream gets one token per step, so its inter-token gap is the
 * step's time: a step with D decode rows holds
 *
 *     P = floor((T - a - d D) / p)   prompt tokens, within [lo, hi]
 *
 * for the target T. lo keeps prompts moving when decoding alone takes T or
 * more (no starvation: a new prompt's first token still comes); hi bounds
 * one step's activations. Until the fit knows p (too few steps, or every
 * measured step held the same number of prompt tokens) the caller's
 * fallback stands. The budget only chooses how a prompt is chunked and
 * which step a token rides in, never a token (gen/sched.h). */
#ifndef GEN_STEPCOST_H
#define GEN_STEPCOST_H

#define STEPCOST_DECAY 0.95

typedef struct {
    double w;                       /* decayed sum of weights (steps) */
    double sd, sp, st;              /* decayed sums of D, P, t */
    double sdd, sdp, spp, sdt, spt; /* and of D^2, D P, P^2, D t, P t */
    long steps;                     /* steps measured */
} StepCost;

typedef struct {
    double a, d, p; /* seconds: per step, per decode row, per prompt token */
    int known;      /* 0: too little measured to tell p */
} StepFit;

void stepcost_init(StepCost *c);
/* A step of D decode rows and P prompt tokens took `seconds`, from its
 * launch to its tokens' emission. Steps with nothing in them, or a time
 * that is not a number >= 0, are ignored. */
void stepcost_observe(StepCost *c, int D, int P, double seconds);
/* The current fit (known = 0 until p can be told). */
StepFit stepcost_fit(const StepCost *c);
/* Prompt tokens for a step with D decode rows under the target step time
 * `target` seconds: floor((target - a - d D) / p) within [lo, hi]
 * (lo >= 1 is taken as 1; hi < lo as lo); `fallback` (also within
 * [lo, hi]) while the fit is not known. */
int stepcost_budget(const StepCost *c, int D, double target, int lo, int hi, int fallback);

#endif
