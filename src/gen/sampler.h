/* sampler — picking the next token from logits: greedy at temperature 0,
 * otherwise softmax(logits / T) restricted by top-k, top-p and min-p, drawn
 * from a seeded generator so runs are reproducible. */
#ifndef GEN_SAMPLER_H
#define GEN_SAMPLER_H

#include <stdint.h>

typedef struct {
    float temperature; /* 0: greedy (argmax) */
    float top_p;       /* keep the smallest set with probability >= top_p (1: off) */
    int top_k;         /* keep the k most likely (0: off) */
    float min_p;       /* drop tokens below min_p * p(max) (0: off) */
    uint64_t seed;
} SamplerParams;

typedef struct {
    SamplerParams p;
    uint64_t state; /* splitmix64 */
    int n_vocab;
    struct ProbIndex { float p; int i; } *cand; /* owns [2 n_vocab] scratch */
} Sampler;

/* Returns 0, or -1 with err set for out-of-range parameters. */
int sampler_init(Sampler *s, const SamplerParams *p, int n_vocab);
void sampler_free(Sampler *s);
/* Picks a token; may overwrite logits. The same logits and state give the
 * same token as sorting every candidate by (probability descending, id
 * ascending) and summing in that order would (the order is computed only
 * for the tokens that can be kept, in time linear in the vocabulary). */
int sampler_sample(Sampler *s, float *logits);

#endif
