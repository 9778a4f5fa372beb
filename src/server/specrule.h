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
 * anyway, so that the estimates follow the load and the text.
 *
 * The model can misjudge (a fit over all steps underprices a batch that
 * drafts make several times larger), so the rule also keeps what steps
 * delivered: per number of decoding sequences D (up to the next power of
 * two), the useful rows per second — tokens emitted and prompt tokens fed,
 * since drafts that displace a prompt only delay its prefill — over the
 * step, its drafting and its settling, of drafted and of plain steps,
 * exponential averages. Where one side has been measured at a D and
 * the other less, the next step there takes the side measured less; once
 * both have SPECRULE_MEASURED steps, they decide there; every SPECRULE_PROBE-th step the measured choice is not taken, so
 * the other side stays measured. The rule only chooses how many forward
 * calls a token takes, never the token. */
#ifndef SERVER_SPECRULE_H
#define SERVER_SPECRULE_H

#define SPECRULE_DECAY 0.97
#define SPECRULE_PROBE 32
#define SPECRULE_BUCKETS 8 /* outcomes kept per D's power of two: 1, 2, 3-4, ..., 65 and more */
#define SPECRULE_MEASURED 4 /* steps at a D before its outcome decides */

typedef struct {
    double rate; /* tokens emitted per second, exponential average */
    int n;       /* steps measured */
} SpecOutcome;

typedef struct {
    double w, sn, st, snn, snt; /* decayed sums over steps: 1, n, t, n^2, n t */
    double x, y, c;             /* per drafting sequence: fed, accepted, seconds */
    int have_spec;              /* speculative steps measured */
    int declined;               /* eligible steps since the last speculative one */
    int taken;                  /* steps since the measured choice was last not taken */
    SpecOutcome plain[SPECRULE_BUCKETS], drafted[SPECRULE_BUCKETS]; /* by D's bucket */
} SpecRule;

void specrule_init(SpecRule *r);
/* A step of n batch tokens took `seconds` (forward and sampling). */
void specrule_step(SpecRule *r, int n, double seconds);
/* A speculative step: m sequences were asked to draft, `fed` drafted tokens
 * went into the batch, `accepted` of them were emitted, drafting took
 * `seconds`. */
void specrule_spec(SpecRule *r, int m, long fed, long accepted, double seconds);
/* A step with D decoding sequences (drafted: whether it drafted) did
 * `emitted` useful rows (tokens emitted, prompt tokens fed) in `seconds`
 * (drafting, forward, sampling, settling). */
void specrule_outcome(SpecRule *r, int D, int drafted, long emitted, double seconds);
/* The fitted step time of n batch tokens, in seconds. */
double specrule_time(const SpecRule *r, double n);
/* 1: the next step should draft (D decoding, m of them may draft; budget:
 * tokens per step while sequences decode, 0: none; prefill: prompt tokens
 * waiting). Counts the declined steps for the probes. */
int specrule_decide(SpecRule *r, int D, int m, int budget, long prefill);

#endif
