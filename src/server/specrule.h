/* specrule — when the server's engine speculates (gen/draft.h): a model of
 * what a step costs and yields, refitted from every step it measures.
 *
 *   - step time t(n) over the step's batch tokens n (decode tokens, their
 *     drafts, prompt tokens): t(n) = a + b n, fitted by least squares over
 *     the recent steps (weights decaying by SPECRULE_DECAY per step; a, b >= 0);
 *   - per sequence asked to draft: the drafted tokens it feeds (x), the
 *     drafted tokens it gets accepted (y), the drafter's seconds (c), each
 *     an exponential average over the recent speculative steps.
 *
 * Before a step with D decoding sequences, m of which may draft, and P
 * prompt tokens that would ride along (P(n): what the budget leaves beside
 * n decode tokens):
 *
 *   plain:        D           tokens emitted in t(D + P(D))
 *   speculative:  D + m y     tokens emitted in t(D + m x + P(D + m x)) + m c
 *
 * and the step drafts when the speculative tokens per second beat the
 * plain ones. Small batches of a model whose decode reads its weights from
 * memory (t nearly flat in n) speculate; large batches, or a model whose
 * step time grows with every token (compute- or attention-bound), do not.
 * With no speculative step measured yet it speculates (to measure); while
 * the rule says no, every SPECRULE_PROBE-th eligible step speculates
 * anyway, so that the estimates follow the load and the text. The rule
 * only chooses how many forward calls a token takes, never the token. */
#ifndef SERVER_SPECRULE_H
#define SERVER_SPECRULE_H

#define SPECRULE_DECAY 0.97
#define SPECRULE_PROBE 32

typedef struct {
    double w, sn, st, snn, snt; /* decayed sums over steps: 1, n, t, n^2, n t */
    double x, y, c;             /* per drafting sequence: fed, accepted, seconds */
    int have_spec;              /* speculative steps measured */
    int declined;               /* eligible steps since the last speculative one */
} SpecRule;

void specrule_init(SpecRule *r);
/* A step of n batch tokens took `seconds` (forward and sampling). */
void specrule_step(SpecRule *r, int n, double seconds);
/* A speculative step: m sequences were asked to draft, `fed` drafted tokens
 * went into the batch, `accepted` of them were emitted, drafting took
 * `seconds`. */
void specrule_spec(SpecRule *r, int m, long fed, long accepted, double seconds);
/* The fitted step time of n batch tokens, in seconds. */
double specrule_time(const SpecRule *r, double n);
/* 1: the next step should draft (D decoding, m of them may draft; budget:
 * tokens per step while sequences decode, 0: none; prefill: prompt tokens
 * waiting). Counts the declined steps for the probes. */
int specrule_decide(SpecRule *r, int D, int m, int budget, long prefill);

#endif
