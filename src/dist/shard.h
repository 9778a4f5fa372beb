/* shard — who computes what in a distributed run: the pipeline's layer
 * ranges, each rank's share of the experts, and the model fingerprint ranks
 * compare at start. */
#ifndef DIST_SHARD_H
#define DIST_SHARD_H

#include <stdint.h>

#include "dist/dist.h"
#include "model/model.h"

/* Layer boundaries of n_stages contiguous pipeline stages: stage s runs
 * layers [bounds[s], bounds[s + 1]), bounds[0] = 0, bounds[n_stages] =
 * n_layers. spec: NULL for an even split (the first n_layers % n_stages
 * stages one layer more), or "10,12,10": one count per stage, each >= 1,
 * summing to n_layers. Returns 0, or -1 with err set. */
int shard_layers(int *bounds, int n_stages, int n_layers, const char *spec);

/* Experts [*lo, *hi) of rank `rank` of `size`: an even split, the first
 * n_experts % size ranks one more. */
void shard_experts(int *lo, int *hi, int rank, int size, int n_experts);

/* Expert parallelism on this context: the experts of every MoE layer
 * shared out among the ranks of group g (NULL: every rank), each rank's
 * partial outputs summed over the group (dist_group_allreduce_sum) before
 * they join the residual. Returns 0, or -1 with err set (a dense model, or
 * more ranks than experts). */
int shard_expert_parallel(Context *ctx, DistGroup *g);

/* Stages in a --layer-split spec: its count of numbers (commas + 1). */
int shard_count_stages(const char *spec);

/* A 64-bit FNV-1a hash of what must be equal on every rank: the
 * hyperparameters (windows and RoPE order included) and every tensor's
 * name, dtype and shape, its first, middle and last 32 bytes (a few pages
 * of each tensor, not the whole file), and the norms' values. */
uint64_t shard_fingerprint(const Model *m);

#endif
