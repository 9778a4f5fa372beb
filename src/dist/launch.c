/* launch — one generate run across the ranks (see launch.h). */
#include "dist/launch.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "base/vec.h"
#include "dist/shard.h"

int dist_wanted(const DistOptions *o) { return o->pipeline || o->expert_parallel; }

int dist_join(const DistOptions *o) {
    if (dist_init(NULL, NULL, o->timeout > 0 ? o->timeout : 120)) return -1;
    if (dist_size() < 2)
        return err_set("%s needs 2 or more processes: run it under mpirun -np N%s",
                       o->pipeline ? "--pipeline" : "--expert-parallel",
                       dist_has_mpi() ? "" : " (and this build has no MPI: build it with make MPI=1)");
    return 0;
}

int dist_check_same(const Model *m, const SamplerParams *sp) {
    double opts[] = {sp->temperature, sp->top_p, sp->min_p, (double)sp->top_k, (double)sp->seed};
    uint64_t h = shard_fingerprint(m);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        uint64_t bits;
        memcpy(&bits, &opts[i], sizeof bits);
        h = (h ^ bits) * 1099511628211ULL;
    }
    return dist_handshake(h, "the model or the sampling options");
}

int dist_share_requests(GenRequest **reqs, int *n_req, int *eos) {
    long n = 0;
    IntVec v = {0};
    if (dist_rank() == 0) {
        intvec_push(&v, *n_req), intvec_push(&v, *eos);
        for (int r = 0; r < *n_req; r++) {
            intvec_push(&v, (*reqs)[r].n_prompt), intvec_push(&v, (*reqs)[r].max_new);
            for (int i = 0; i < (*reqs)[r].n_prompt; i++) intvec_push(&v, (*reqs)[r].prompt[i]);
        }
        n = v.n;
    }
    if (dist_bcast(&n, sizeof n, 0)) return intvec_free(&v), -1;
    if (dist_rank() == 0) {
        int rc = dist_bcast(v.v, (size_t)n * sizeof(int), 0);
        intvec_free(&v);
        return rc;
    }
    int *a = xmalloc((size_t)n * sizeof(int));
    if (dist_bcast(a, (size_t)n * sizeof(int), 0)) return free(a), -1;
    *n_req = a[0], *eos = a[1];
    GenRequest *q = xcalloc((size_t)*n_req, sizeof *q);
    for (int r = 0, k = 2; r < *n_req; r++) {
        q[r].n_prompt = a[k++], q[r].max_new = a[k++];
        int *p = xmalloc((size_t)q[r].n_prompt * sizeof(int));
        memcpy(p, a + k, (size_t)q[r].n_prompt * sizeof(int));
        q[r].prompt = p, k += q[r].n_prompt;
    }
    free(a);
    *reqs = q;
    return 0;
}

int dist_plan(DistRun *r, Context *ctx, const DistOptions *o) {
    memset(r, 0, sizeof *r);
    r->o = *o;
    r->plan = (PipelinePlan){.n_stages = dist_size(), .width = 1};
    if (o->pipeline) {
        if (o->expert_parallel) {
            r->plan.n_stages = shard_count_stages(o->layer_split);
            if (r->plan.n_stages < 2 || dist_size() % r->plan.n_stages)
                return err_set("--pipeline --expert-parallel: %d processes cannot be shared evenly among "
                               "the %d stages of --layer-split %.60s (2 or more)", dist_size(),
                               r->plan.n_stages, o->layer_split);
            r->plan.width = dist_size() / r->plan.n_stages;
            if (!(r->stage = dist_group_split(dist_rank() / r->plan.width, dist_rank() % r->plan.width)))
                return -1;
        }
        r->bounds = xmalloc(((size_t)r->plan.n_stages + 1) * sizeof(int));
        if (shard_layers(r->bounds, r->plan.n_stages, ctx->model->cfg.n_layers, o->layer_split)) return -1;
        r->plan.bounds = r->bounds, r->plan.stage = r->stage;
    }
    if (o->expert_parallel && shard_expert_parallel(ctx, r->stage)) return -1;
    return 0;
}

int dist_plan_steps(DistRun *r, Context *ctx, const DistOptions *o) {
    if (o->pipeline || !o->expert_parallel) return dist_plan(r, ctx, o);
    memset(r, 0, sizeof *r);
    r->o = *o;
    r->plan = (PipelinePlan){.n_stages = 1, .width = dist_size()};
    if (!(r->stage = dist_group_split(0, dist_rank()))) return -1;
    r->bounds = xmalloc(2 * sizeof(int));
    r->bounds[0] = 0, r->bounds[1] = ctx->model->cfg.n_layers;
    r->plan.bounds = r->bounds, r->plan.stage = r->stage;
    return shard_expert_parallel(ctx, r->stage);
}

void dist_run_free(DistRun *r) {
    free(r->bounds);
    dist_group_free(r->stage);
    memset(r, 0, sizeof *r);
}

ModelShare dist_model_share(const DistRun *r, const Context *ctx) {
    ModelShare share = model_share_all(ctx->model);
    share.expert_lo = ctx->expert_lo, share.expert_hi = ctx->expert_hi;
    if (r->bounds) {
        int s = dist_rank() / r->plan.width;
        share.layer_lo = r->bounds[s], share.layer_hi = r->bounds[s + 1];
        share.output = s == r->plan.n_stages - 1 && dist_rank() % r->plan.width == 0; /* the head */
    }
    return share;
}

typedef struct {
    GenEmit emit;
    void *ud;
} Everywhere;

/* Expert parallelism: every rank runs the same schedule, so rank 0's stop
 * decision (EOS, a stop text) goes to every rank with each token. */
static int emit_everywhere(void *ud, int seq, int token) {
    Everywhere *e = ud;
    int stop = dist_rank() == 0 && e->emit ? e->emit(e->ud, seq, token) : 0;
    if (dist_bcast(&stop, sizeof stop, 0)) stop = 1; /* MPI's errors end the job anyway */
    return stop;
}

int dist_generate(DistRun *r, Context *ctx, const GenRequest *reqs, int n_req, const GenOptions *go,
                  GenEmit emit, void *ud) {
    if (r->bounds) /* --pipeline, or a plan of steps (dist_plan_steps) */
        return dist_rank() == 0 ? pipeline_generate(ctx, &r->plan, reqs, n_req, go, emit, ud)
                                : pipeline_serve(ctx, &r->plan, go);
    Everywhere e = {emit, ud};
    return generate(ctx, reqs, n_req, go, emit_everywhere, &e);
}
