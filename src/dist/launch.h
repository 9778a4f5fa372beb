/* launch — one generate run over the ranks of an MPI job: joining it,
 * checking that every rank has the same model and options, handing rank 0's
 * requests to every rank, the plan (pipeline stages, expert shares) and who
 * runs what: rank 0 the scheduler, the others their stage or their experts.
 * The app says what it wants (DistOptions); nothing above this file knows
 * how the ranks talk. */
#ifndef DIST_LAUNCH_H
#define DIST_LAUNCH_H

#include "dist/pipeline.h"
#include "gen/generate.h"
#include "model/prepare.h"

typedef struct {
    int pipeline;            /* --pipeline: the layers in stages, one per rank (or group) */
    int expert_parallel;     /* --expert-parallel: each rank its share of the experts */
    const char *layer_split; /* NULL, or one layer count per stage: "10,12,10" */
    double timeout;          /* start-up watchdog, seconds (<= 0: 120) */
} DistOptions;

typedef struct {
    DistOptions o;
    PipelinePlan plan;
    int *bounds;       /* owns [n_stages + 1] with --pipeline */
    DistGroup *stage;  /* owns: this rank's stage with --pipeline --expert-parallel */
} DistRun;

/* 1 when o asks for more than one process. */
int dist_wanted(const DistOptions *o);

/* Joins the job (every rank; needs 2 or more). Returns 0 or -1 with err. */
int dist_join(const DistOptions *o);

/* Every rank compares a hash of the model and of the sampling parameters
 * (what the last rank samples with). Returns 0, or -1 with err on every
 * rank when one differs. */
int dist_check_same(const Model *m, const SamplerParams *sp);

/* Rank 0's requests and EOS id to every rank: the other ranks get
 * the requests, their count and the EOS id allocated and filled. */
int dist_share_requests(GenRequest **reqs, int *n_req, int *eos);

/* The plan on this rank: stage bounds, expert shares of ctx (and the
 * expert-parallel all-reduce hook). Returns 0 or -1 with err. */
int dist_plan(DistRun *r, Context *ctx, const DistOptions *o);
void dist_run_free(DistRun *r);
/* The plan for a scheduler on rank 0 that sends every step through the
 * ranks (the server): --pipeline as dist_plan; --expert-parallel alone is
 * one stage of every rank (rank 0 leads it: it embeds, runs the head and
 * samples; the others compute their experts in step). */
int dist_plan_steps(DistRun *r, Context *ctx, const DistOptions *o);

/* The part of the model this rank computes (what it prepares): its stage's
 * layers, its experts, and the head on the last stage's leader. */
ModelShare dist_model_share(const DistRun *r, const Context *ctx);

/* Runs the requests: rank 0 schedules and calls emit with every token (as
 * generate()), the other ranks compute their part until rank 0 is done.
 * With --pipeline, or a plan of dist_plan_steps (then go->drafter must be
 * set on rank 0: speculation with --expert-parallel alone), rank 0 sends
 * each step through the ranks (pipeline_generate); with --expert-parallel
 * and dist_plan, every rank runs the same schedule.
 * Returns 0, or -1 with err set. */
int dist_generate(DistRun *r, Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *go,
                  GenEmit emit, void *ud);

#endif
