/* sampler — picking the next token from logits: greedy at temperature 0,
 * otherwise softmax(logits / T) restricted by top-k, top-p and min-p, drawn
 * from a seeded generator so runs are reproducible.
 *
 * Penalties change the logits first (sampler_penalize), from the tokens
 * this sampler picked before (each pick is counted as it is made: a caller
 * samples a sequence's rows in order and stops at the first pick that ends
 * it or differs from a draft, so what was picked is what was emitted, with
 * or without speculation):
 *   - llama.cpp's repeat penalty, over the last repeat_last_n tokens (the
 *     prompt given to sampler_prime, then the picks): each distinct one's
 *     logit is divided by repeat_penalty when positive, multiplied when not;
 *   - then OpenAI's presence and frequency penalties, over every pick:
 *     logit[t] -= presence_penalty * (count[t] > 0) + frequency_penalty * count[t].
 * A -inf logit (a constraint's mask) stays -inf. */
#ifndef GEN_SAMPLER_H
#define GEN_SAMPLER_H

#include <stdint.h>

typedef struct {
    float temperature; /* 0: greedy (argmax) */
    float top_p;       /* keep the smallest set with probability >= top_p (1: off) */
    int top_k;         /* keep the k most likely (0: off) */
    float min_p;       /* drop tokens below min_p * p(max) (0: off) */
    uint64_t seed;
    float presence_penalty;  /* [-2, 2], 0: off */
    float frequency_penalty; /* [-2, 2], 0: off */
    float repeat_penalty;    /* [0, 100]; 0 or 1: off */
    int repeat_last_n;       /* tokens the repeat penalty looks back over (0: off) */
} SamplerParams;

typedef struct {
    SamplerParams p;
    uint64_t state; /* splitmix64 */
    int n_vocab;
    struct ProbIndex { float p; int i; } *cand; /* owns [2 n_vocab] scratch */
    int *count;      /* owns [n_vocab], with presence/frequency: picks of each token */
    int *seen;       /* owns [n_vocab]: the distinct tokens picked, first pick first */
    int n_seen;
    int *recent;     /* owns [repeat_last_n], with the repeat penalty: the last tokens (a ring) */
    long n_recent;   /* tokens that entered it */
    unsigned char *mark; /* owns [n_vocab]: scratch, all 0 between calls */
} Sampler;

/* Returns 0, or -1 with err set for out-of-range parameters. */
int sampler_init(Sampler *s, const SamplerParams *p, int n_vocab);
void sampler_free(Sampler *s);
/* Picks a token; may overwrite logits. The same logits and state give the
 * same token as sorting every candidate by (probability descending, id
 * ascending) and summing in that order would (the order is computed only
 * for the tokens that can be kept, in time linear in the vocabulary). */
int sampler_sample(Sampler *s, float *logits);
/* The prompt (or any text before the picks) enters the repeat penalty's
 * window; the presence and frequency counts stay picks only. */
void sampler_prime(Sampler *s, const int *tokens, int n);
/* Applies the penalties to logits [n_vocab] (sampler_sample does, first). */
void sampler_penalize(Sampler *s, float *logits);

#endif
