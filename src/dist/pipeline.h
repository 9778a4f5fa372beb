/* pipeline — generation with the layers split into stages, one per rank.
 *
 * Rank 0 is the scheduler (gen/generate.c's loop, spread out): it builds
 * each step's batch, embeds it, runs stage 0's layers and sends the hidden
 * states (n * dim floats) with the batch's tokens, sequences, positions and
 * logits flags to rank 1; rank s runs its layers and passes them on; the
 * last rank runs the head, samples (one seeded sampler per sequence, as
 * generate() does) and sends the sampled ids back to rank 0, which emits
 * them and decides which requests are done.
 *
 * Micro-batches: the requests are split into as many groups as there are
 * stages (at most one group per request); each group has its own batch in
 * flight, so while rank 1 runs group A's step, rank 0 already runs group B's.
 * Every token's result is independent of what shares its batch, so the ids
 * equal a single process's, bit for bit.
 *
 * Messages keep their order between two ranks (MPI's non-overtaking rule),
 * so the ids come back in the order rank 0 sent the groups. */
#ifndef DIST_PIPELINE_H
#define DIST_PIPELINE_H

#include "gen/generate.h"

/* Rank 0: runs reqs through the stages bounds[0..dist_size()] (see
 * shard_layers) and calls emit with each token, like generate(); the other
 * ranks must be in pipeline_serve. ctx holds n_req sequences. At the end
 * every rank is told to stop. Returns 0, or -1 with err set. */
int pipeline_generate(Context *ctx, const int *bounds, const GenRequest *reqs, int n_req,
                      const GenOptions *opt, GenEmit emit, void *ud);

/* Ranks 1..N-1: run stage dist_rank() on what the rank before sends, until
 * rank 0 says stop; the last stage samples with opt->sampler. Returns 0, or
 * -1 with err set. */
int pipeline_serve(Context *ctx, const int *bounds, const GenOptions *opt);

#endif
