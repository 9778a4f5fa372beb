/* pipeline — generation with the layers split into stages, one per rank.
 *
 * Rank 0 runs the scheduler (gen/sched.h, as generate() does): it builds
 * each step's batch, embeds it, runs stage 0's layers and sends the hidden
 * states (n * dim floats) with the batch's tokens, sequences, positions and
 * logits flags to rank 1; rank s runs its layers and passes them on; the
 * last rank runs the head, samples (one seeded sampler per sequence, as
 * generate() does) and sends the sampled ids back to rank 0, which emits
 * them and decides which requests are done.
 *
 * Micro-batches: up to one step per stage is in flight, each of about
 * n_req / stages sequences (a sequence is in at most one of them, until its
 * id comes back), so while rank 1 runs one step, rank 0 already runs the
 * next.
 * Every token's result is independent of what shares its batch, so the ids
 * equal a single process's, bit for bit.
 *
 * Messages keep their order between two ranks (MPI's non-overtaking rule),
 * so the ids come back in the order rank 0 sent the groups.
 *
 * With --expert-parallel too, each stage is several ranks sharing its
 * experts (PipelinePlan.width).
 *
 * Speculative decoding (GenOptions.drafter, on rank 0 only): rank 0 drafts
 * before each step it launches (for the sequences not in flight), the
 * stages run the drafted tokens like any others and return every wanted
 * row's logits, and rank 0 samples them as generate() does (in order while
 * each pick equals the next draft, with one seeded sampler per sequence),
 * so the ids are still a single process's. Rank 0 rewinds its cache over
 * the rejected drafts; every other rank rewinds its own when a sequence's
 * next batch starts before what it holds. Every rank's context needs room
 * for the drafts (context_set_draft_room). */
#ifndef DIST_PIPELINE_H
#define DIST_PIPELINE_H

#include "dist/dist.h"
#include "gen/generate.h"

/* Who is who: n_stages stages of `width` consecutive ranks each (rank r is
 * member r % width of stage r / width). Width 1: one rank per stage. Width
 * > 1: the ranks of a stage share its experts (shard_expert_parallel over
 * `stage`); their first (the stage's leader) receives, forwards and, on the
 * last stage, samples; it broadcasts each batch to the others of its stage,
 * which compute with it in step. */
typedef struct {
    const int *bounds; /* view [n_stages + 1]: stage s runs layers [bounds[s], bounds[s + 1]) */
    int n_stages;
    int width;
    DistGroup *stage;  /* view: this rank's stage (NULL when width is 1) */
} PipelinePlan;

/* Rank 0's side of one step through the stages, for a scheduler of its own
 * (the server's engine): pipeline_launch runs stage 0 on b and sends it on
 * (with one stage of several ranks sharing the experts, it runs the head
 * too); pipeline_collect waits for the oldest launched step's answer: the
 * wanted rows' logits (logits = 1: n_want x n_vocab floats) or their sampled
 * ids (logits = 0: n_want ints, sampled on the last rank). Steps come back
 * in launch order. pipeline_stop ends every other rank's pipeline_serve. */
typedef struct {
    void *buf;          /* owns: the message */
    size_t cap, bytes;
    DistReq *send;      /* its send, until complete */
    void *out;          /* owns: the answer */
    size_t cap_out, out_bytes;
    int n_want;
} PipeFlight;

int pipeline_launch(Context *ctx, const PipelinePlan *plan, PipeFlight *f, const Batch *b, int logits);
int pipeline_collect(Context *ctx, const PipelinePlan *plan, PipeFlight *f, void *out, size_t bytes);
void pipeline_flight_free(PipeFlight *f);
void pipeline_stop(const PipelinePlan *plan);

/* Rank 0: runs reqs through the stages and calls emit with each token, like
 * generate(); every other rank must be in pipeline_serve. ctx holds n_req
 * sequences. One stage of several ranks (--expert-parallel alone) only with
 * opt->drafter: rank 0 runs the head and samples, as it does for any
 * drafter. At the end every rank is told to stop. Returns 0, or -1 with
 * err set. */
int pipeline_generate(Context *ctx, const PipelinePlan *plan, const GenRequest *reqs, int n_req,
                      const GenOptions *opt, GenEmit emit, void *ud);

/* Every other rank: runs its stage on what comes, until rank 0 says stop;
 * the last stage's leader samples with opt->sampler. Returns 0, or -1 with
 * err set. */
int pipeline_serve(Context *ctx, const PipelinePlan *plan, const GenOptions *opt);

#endif
