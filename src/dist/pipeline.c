#include "dist/pipeline.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "dist/dist.h"

enum { TAG_WORK = 1, TAG_TOKENS = 2 };
enum { MSG_BATCH = 1, MSG_STOP = 2 };

/* ---- the message: one batch and its hidden states --------------------------------
 * header | pos[n] (int64) | h[n * dim] (float) | token[n], seq[n] (int32) | want[n]
 * Every piece starts 8-byte aligned when the buffer does (the header is 16
 * bytes, pos 8n, h 4n·dim, token and seq 4n each). */

typedef struct {
    int32_t kind, n, n_want;
    int32_t logits; /* 1: the last stage returns the wanted rows' logits, not sampled ids */
} Header;

typedef struct {
    Header *hd;
    long *pos;
    float *h;
    int *token, *seq;
    unsigned char *want;
} Msg;

_Static_assert(sizeof(Header) == 16 && sizeof(long) == 8, "the message layout assumes LP64");

static size_t msg_bytes(int n, int dim) {
    return sizeof(Header) + (size_t)n * (8 + 4 * (size_t)dim + 4 + 4 + 1);
}

static Msg msg_view(void *buf, int n, int dim) {
    char *p = buf;
    Msg m;
    m.hd = (Header *)p, p += sizeof(Header);
    m.pos = (long *)p, p += (size_t)n * 8;
    m.h = (float *)p, p += (size_t)n * dim * 4;
    m.token = (int *)p, p += (size_t)n * 4;
    m.seq = (int *)p, p += (size_t)n * 4;
    m.want = (unsigned char *)p;
    return m;
}

static Batch msg_batch(const Msg *m) {
    return (Batch){.n = m->hd->n, .token = m->token, .seq = m->seq, .pos = m->pos, .want = m->want};
}

/* A stage leader's message to the other ranks of its stage (its size first). */
static int share(const PipelinePlan *plan, void *buf, size_t bytes) {
    if (plan->width < 2) return 0;
    uint64_t n = bytes;
    return dist_group_bcast(plan->stage, &n, sizeof n, 0) || dist_group_bcast(plan->stage, buf, bytes, 0);
}

/* ---- rank 0: the scheduler ---------------------------------------------------- */

int pipeline_launch(Context *ctx, const PipelinePlan *plan, PipeFlight *f, const Batch *in, int logits) {
    int dim = ctx->model->cfg.dim, n = in->n, n_want = 0;
    if (dist_wait(&f->send)) return -1;
    for (int t = 0; t < n; t++) n_want += !in->want || in->want[t];
    f->bytes = msg_bytes(n, dim);
    if (f->bytes > f->cap) f->buf = xrealloc(f->buf, f->cap = f->bytes);
    Msg m = msg_view(f->buf, n, dim);
    *m.hd = (Header){.kind = MSG_BATCH, .n = n, .n_want = n_want, .logits = logits};
    memcpy(m.token, in->token, (size_t)n * sizeof(int));
    memcpy(m.seq, in->seq, (size_t)n * sizeof(int));
    memcpy(m.pos, in->pos, (size_t)n * sizeof(long));
    for (int t = 0; t < n; t++) m.want[t] = !in->want || in->want[t];
    Batch b = msg_batch(&m);
    if (forward_begin(ctx, &b) || share(plan, f->buf, f->bytes)) return -1;
    forward_embed(ctx, &b, m.h);
    if (forward_layers(ctx, &b, m.h, plan->bounds[0], plan->bounds[1])) return -1;
    forward_commit(ctx, &b);
    f->n_want = n_want;
    if (plan->n_stages == 1) { /* this rank's stage is the last: the head is here */
        size_t need = (size_t)n_want * ctx->model->cfg.n_vocab * sizeof(float);
        if (need > f->cap_out) f->out = xrealloc(f->out, f->cap_out = need);
        f->out_bytes = need;
        forward_head(ctx, &b, m.h, f->out);
        return 0;
    }
    return dist_isend(plan->width, TAG_WORK, f->buf, f->bytes, &f->send);
}

int pipeline_collect(Context *ctx, const PipelinePlan *plan, PipeFlight *f, void *out, size_t bytes) {
    int last = (plan->n_stages - 1) * plan->width; /* the last stage's leader */
    if (plan->n_stages > 1 && dist_recv(last, TAG_TOKENS, &f->out, &f->cap_out, &f->out_bytes)) return -1;
    if (f->out_bytes != bytes)
        return err_set("pipeline: rank %d sent %zu bytes for %d rows, expected %zu", last, f->out_bytes, f->n_want,
                       bytes);
    if (bytes) memcpy(out, f->out, bytes);
    return 0;
}

void pipeline_flight_free(PipeFlight *f) {
    dist_wait(&f->send);
    free(f->buf), free(f->out);
    memset(f, 0, sizeof *f);
}

void pipeline_stop(const PipelinePlan *plan) {
    /* every stage stops, even after an error here (the others then end too) */
    Header stop = {.kind = MSG_STOP};
    DistReq *req = NULL;
    share(plan, &stop, sizeof stop);
    if (plan->n_stages > 1 && dist_isend(plan->width, TAG_WORK, &stop, sizeof stop, &req) == 0) dist_wait(&req);
}

/* Speculation through the stages (opt->drafter): rank 0 drafts, the stages
 * return the logits of every wanted row and rank 0 samples them as
 * generate() does (a sequence's rows in order while each pick equals the
 * next draft, with its own seeded sampler); rank 0 rewinds its cache over
 * the rejected drafts, and every other rank rewinds its own when the
 * sequence's next batch starts before what it holds (stage_reset). */
typedef struct {
    Drafter *d;        /* view; NULL: the last stage samples */
    Sampler *samplers; /* owns [n_req] */
    float *logits;     /* owns [cap_rows, n_vocab] */
    int *ids;          /* owns [cap_rows] */
    int cap_rows, n_req;
} Verify;

static int verify_init(Verify *v, Context *ctx, const GenOptions *opt, int n_req) {
    memset(v, 0, sizeof *v);
    if (!(v->d = opt->drafter)) return 0;
    if (v->d->n_seq < n_req || ctx->draft_room < v->d->k_max)
        return err_set("pipeline: a drafter of %d sequences and room for %d drafts, for %d requests and %d drafts",
                       v->d->n_seq, ctx->draft_room, n_req, v->d->k_max);
    v->samplers = xcalloc((size_t)n_req, sizeof *v->samplers);
    for (int r = 0; r < n_req; r++, v->n_req++) {
        if (sampler_init(&v->samplers[r], &opt->sampler, ctx->model->cfg.n_vocab)) return -1;
        drafter_begin(v->d, r, 0);
    }
    return 0;
}

static void verify_free(Verify *v) {
    for (int r = 0; r < v->n_req; r++) sampler_free(&v->samplers[r]);
    free(v->samplers), free(v->logits), free(v->ids);
    memset(v, 0, sizeof *v);
}

/* The ids of b's rows from their logits (SCHED_UNUSED after a rejected draft). */
static int verify_collect(Verify *v, Context *ctx, const PipelinePlan *plan, PipeFlight *f, const SchedBatch *b,
                          int eos) {
    int V = ctx->model->cfg.n_vocab, open = 0;
    if (b->n_want > v->cap_rows) {
        v->cap_rows = b->n_want;
        v->logits = xrealloc(v->logits, (size_t)v->cap_rows * V * sizeof(float));
        v->ids = xrealloc(v->ids, (size_t)v->cap_rows * sizeof(int));
    }
    if (pipeline_collect(ctx, plan, f, v->logits, (size_t)b->n_want * V * sizeof(float))) return -1;
    for (int i = 0; i < b->n_want; i++) {
        int r = b->owner[i];
        if (i == 0 || b->owner[i - 1] != r) open = 1;
        v->ids[i] = open ? sampler_sample(&v->samplers[r], v->logits + (size_t)i * V) : SCHED_UNUSED;
        if (open && (v->ids[i] != b->next[i] || v->ids[i] == eos)) open = 0;
    }
    return 0;
}

int pipeline_generate(Context *ctx, const PipelinePlan *plan, const GenRequest *reqs, int n_req,
                      const GenOptions *opt, GenEmit emit, void *ud) {
    int size = plan->n_stages;
    /* one stage of several ranks (--expert-parallel alone) returns logits: only with a drafter */
    if (dist_rank() != 0 || (size < 2 && !(plan->width > 1 && opt->drafter)))
        return err_set("pipeline_generate: rank 0 of 2 or more stages, or of one stage with a drafter, only");
    if (n_req > ctx->n_seq) return err_set("%d requests for %d sequences", n_req, ctx->n_seq);
    /* as many steps in flight as stages, each of about n_req / stages sequences */
    int n_flights = n_req < size ? n_req : size, per = (n_req + n_flights - 1) / n_flights;
    Sched s;
    sched_init(&s, n_req, opt->chunk_size, 0, opt->eos);
    PipeFlight *fl = xcalloc((size_t)n_flights, sizeof *fl);
    SchedBatch *bs = xcalloc((size_t)n_flights, sizeof *bs);
    int *ids = xmalloc((size_t)n_req * sizeof(int));
    int rc = -1, head = 0, n_busy = 0;
    Verify v;
    if (verify_init(&v, ctx, opt, n_req)) goto done;
    for (int r = 0; r < n_req; r++) {
        kvcache_reset(&ctx->seqs[r]); /* the other ranks reset at position 0 */
        if (sched_start(&s, r, reqs[r].prompt, reqs[r].n_prompt, reqs[r].max_new, 0)) goto done;
    }
    for (;;) {
        /* while a flight is free, the next step starts (flights leave and
         * come back in order: MPI keeps the order between two ranks) */
        while (n_busy < n_flights) {
            int f = (head + n_busy) % n_flights;
            if (v.d && drafter_draft(v.d, &s)) goto done;
            if (sched_next_batch(&s, &bs[f], per) == 0) break;
            Batch b = {.n = bs[f].n, .token = bs[f].token, .seq = bs[f].seq, .pos = bs[f].pos, .want = bs[f].want};
            if (pipeline_launch(ctx, plan, &fl[f], &b, v.d != NULL)) goto done;
            n_busy++;
        }
        if (n_busy == 0) break;
        if (v.d) {
            if (verify_collect(&v, ctx, plan, &fl[head], &bs[head], opt->eos)) goto done;
            sched_accept(&s, &bs[head], v.ids, emit, ud);
            if (drafter_settle(v.d, ctx, &s, &bs[head])) goto done;
        } else {
            if (pipeline_collect(ctx, plan, &fl[head], ids, (size_t)bs[head].n_want * sizeof(int))) goto done;
            sched_accept(&s, &bs[head], ids, emit, ud);
        }
        head = (head + 1) % n_flights, n_busy--;
    }
    rc = 0;
done:
    for (int f = 0; f < n_flights; f++) dist_wait(&fl[f].send);
    pipeline_stop(plan);
    for (int f = 0; f < n_flights; f++) pipeline_flight_free(&fl[f]), sched_batch_free(&bs[f]);
    verify_free(&v);
    free(fl), free(bs), free(ids);
    sched_free(&s);
    return rc;
}

/* ---- ranks 1..N-1: a stage ------------------------------------------------------ */

typedef struct {
    Sampler *samplers; /* owns [n_seq] (last stage) */
    unsigned char *live;
    float *logits;     /* owns (n_want, n_vocab) */
    int cap_rows;
} Head;

/* Last stage: logits of the flagged rows, then (unless the batch asks for
 * the logits themselves) one id each from its sequence's sampler; returns
 * 0 or -1 with err set. */
static int stage_head(Context *ctx, const Batch *b, const float *h, int n_want, int logits, Head *hd, int *ids) {
    const Config *c = &ctx->model->cfg;
    int rows = 0;
    for (int t = 0; t < b->n; t++) rows += b->want[t] != 0;
    if (rows != n_want) return err_set("pipeline: a batch with %d logits rows says %d", rows, n_want);
    if (rows > hd->cap_rows)
        hd->logits = xrealloc(hd->logits, (size_t)rows * c->n_vocab * sizeof(float)), hd->cap_rows = rows;
    forward_head(ctx, b, h, hd->logits);
    if (logits) return 0;
    for (int t = 0, i = 0; t < b->n; t++) {
        if (!b->want[t]) continue;
        int s = b->seq[t];
        ids[i] = sampler_sample(&hd->samplers[s], hd->logits + (size_t)i * c->n_vocab);
        i++;
    }
    return 0;
}

/* A sequence whose run starts at position 0 begins a new request: its cache
 * is forgotten and (last stage) its sampler starts afresh. One that starts
 * before the position its cache holds goes back there (rank 0 reused a
 * prefix: every rank's cache still holds it, kvcache_rewind). */
static int stage_reset(Context *ctx, const Batch *b, Head *hd, const GenOptions *opt) {
    for (int t = 0; t < b->n; t++) {
        int s = b->seq[t];
        if (s < 0 || s >= ctx->n_seq) return err_set("pipeline: sequence %d does not exist", s);
        if (t > 0 && b->seq[t - 1] == s) continue;
        if (b->pos[t] > 0) {
            if (b->pos[t] < ctx->seqs[s].n_pos && kvcache_rewind(&ctx->seqs[s], b->pos[t])) return -1;
            continue;
        }
        kvcache_reset(&ctx->seqs[s]);
        if (!hd->samplers) continue;
        if (hd->live[s]) sampler_free(&hd->samplers[s]);
        if (sampler_init(&hd->samplers[s], &opt->sampler, ctx->model->cfg.n_vocab)) return -1;
        hd->live[s] = 1;
    }
    return 0;
}

/* The next message: a leader's from the previous stage's leader (which it
 * shares with its stage), the others' from their leader. */
static int stage_recv(const PipelinePlan *plan, int leader, int from, void **buf, size_t *cap,
                      size_t *bytes) {
    if (leader) return dist_recv(from, TAG_WORK, buf, cap, bytes) || share(plan, *buf, *bytes);
    uint64_t n;
    if (dist_group_bcast(plan->stage, &n, sizeof n, 0)) return -1;
    if (n + 1 > *cap || !*buf) *buf = xrealloc(*buf, (size_t)n + 1), *cap = (size_t)n + 1;
    *bytes = (size_t)n;
    return dist_group_bcast(plan->stage, *buf, (size_t)n, 0);
}

int pipeline_serve(Context *ctx, const PipelinePlan *plan, const GenOptions *opt) {
    int rank = dist_rank(), w = plan->width, stage = rank / w, leader = rank % w == 0;
    int last = stage == plan->n_stages - 1, dim = ctx->model->cfg.dim;
    if (rank < 1) return err_set("pipeline_serve: ranks 1 and up only");
    void *buf[2] = {NULL, NULL};
    size_t cap[2] = {0, 0}, bytes;
    DistReq *send[2] = {NULL, NULL}, *ids_send = NULL;
    Head hd = {0};
    int *ids = NULL, cur = 0, rc = -1;
    if (last && leader) {
        hd.samplers = xcalloc((size_t)ctx->n_seq, sizeof *hd.samplers);
        hd.live = xcalloc((size_t)ctx->n_seq, 1);
    }
    for (;;) {
        if (dist_wait(&send[cur]) || stage_recv(plan, leader, (stage - 1) * w, &buf[cur], &cap[cur], &bytes))
            goto done;
        Header *h = buf[cur];
        if (bytes < sizeof *h || (h->kind != MSG_STOP && h->kind != MSG_BATCH)) {
            err_set("pipeline: rank %d: a message of %zu bytes that is not a batch", rank, bytes);
            goto done;
        }
        if (h->kind == MSG_STOP) {
            if (leader && !last &&
                (dist_isend((stage + 1) * w, TAG_WORK, h, sizeof *h, &send[cur]) || dist_wait(&send[cur])))
                goto done;
            break;
        }
        if (h->n < 1 || bytes != msg_bytes(h->n, dim)) {
            err_set("pipeline: rank %d: a batch of %zu bytes for %d tokens", rank, bytes, h->n);
            goto done;
        }
        Msg m = msg_view(buf[cur], h->n, dim);
        Batch b = msg_batch(&m);
        if (stage_reset(ctx, &b, &hd, opt) || forward_begin(ctx, &b)) goto done;
        if (stage == 0) forward_embed(ctx, &b, m.h); /* rank 0's partners in stage 0 */
        if (forward_layers(ctx, &b, m.h, plan->bounds[stage], plan->bounds[stage + 1])) goto done;
        forward_commit(ctx, &b);
        if (!leader) continue;
        if (!last) {
            if (dist_isend((stage + 1) * w, TAG_WORK, buf[cur], bytes, &send[cur])) goto done;
            cur ^= 1;
            continue;
        }
        if (dist_wait(&ids_send)) goto done;
        ids = xrealloc(ids, (size_t)(h->n_want > 0 ? h->n_want : 1) * sizeof(int));
        if (stage_head(ctx, &b, m.h, h->n_want, h->logits, &hd, ids)) goto done;
        size_t rows = (size_t)h->n_want * (h->logits ? (size_t)ctx->model->cfg.n_vocab * sizeof(float) : sizeof(int));
        if (dist_isend(0, TAG_TOKENS, h->logits ? (void *)hd.logits : (void *)ids, rows, &ids_send)) goto done;
    }
    rc = 0;
done:
    dist_wait(&send[0]), dist_wait(&send[1]), dist_wait(&ids_send);
    if (hd.samplers)
        for (int s = 0; s < ctx->n_seq; s++)
            if (hd.live[s]) sampler_free(&hd.samplers[s]);
    free(hd.samplers), free(hd.live), free(hd.logits), free(ids), free(buf[0]), free(buf[1]);
    return rc;
}
