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
    int32_t kind, n, n_want, unused;
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

/* One step in flight: its batch (for the owners of the ids that come back)
 * and its message. */
typedef struct {
    SchedBatch b;
    void *buf;         /* owns: the message */
    size_t cap, bytes;
    DistReq *send;     /* its send, until complete */
} Flight;

/* Builds the next step of at most max_seqs sequences into f, runs stage 0
 * on it and sends it on. Returns 1 when sent, 0 when nothing can run now,
 * -1 on error. */
static int flight_launch(Context *ctx, const PipelinePlan *plan, Sched *s, Flight *f, int max_seqs) {
    int dim = ctx->model->cfg.dim;
    if (dist_wait(&f->send)) return -1;
    int n = sched_next_batch(s, &f->b, max_seqs);
    if (n == 0) return 0;
    f->bytes = msg_bytes(n, dim);
    if (f->bytes > f->cap) f->buf = xrealloc(f->buf, f->cap = f->bytes);
    Msg m = msg_view(f->buf, n, dim);
    *m.hd = (Header){.kind = MSG_BATCH, .n = n, .n_want = f->b.n_want};
    memcpy(m.token, f->b.token, (size_t)n * sizeof(int));
    memcpy(m.seq, f->b.seq, (size_t)n * sizeof(int));
    memcpy(m.pos, f->b.pos, (size_t)n * sizeof(long));
    memcpy(m.want, f->b.want, (size_t)n);
    Batch b = msg_batch(&m);
    if (forward_begin(ctx, &b) || share(plan, f->buf, f->bytes)) return -1;
    forward_embed(ctx, &b, m.h);
    forward_layers(ctx, &b, m.h, plan->bounds[0], plan->bounds[1]);
    forward_commit(ctx, &b);
    return dist_isend(plan->width, TAG_WORK, f->buf, f->bytes, &f->send) ? -1 : 1;
}

int pipeline_generate(Context *ctx, const PipelinePlan *plan, const GenRequest *reqs, int n_req,
                      const GenOptions *opt, GenEmit emit, void *ud) {
    int size = plan->n_stages, last = (plan->n_stages - 1) * plan->width; /* the last leader */
    if (dist_rank() != 0 || size < 2) return err_set("pipeline_generate: rank 0 of 2 or more stages only");
    if (n_req > ctx->n_seq) return err_set("%d requests for %d sequences", n_req, ctx->n_seq);
    /* as many steps in flight as stages, each of about n_req / stages sequences */
    int n_flights = n_req < size ? n_req : size, per = (n_req + n_flights - 1) / n_flights;
    Sched s;
    sched_init(&s, n_req, opt->chunk_size, 0, opt->eos);
    Flight *fl = xcalloc((size_t)n_flights, sizeof *fl);
    int *fifo = xmalloc((size_t)n_flights * sizeof(int)); /* flights out, oldest first */
    int *busy = xcalloc((size_t)n_flights, sizeof(int));
    void *ids = NULL;
    size_t ids_cap = 0, ids_bytes;
    int rc = -1, head = 0, n_busy = 0;
    for (int r = 0; r < n_req; r++) {
        kvcache_reset(&ctx->seqs[r]); /* the other ranks reset at position 0 */
        if (sched_start(&s, r, reqs[r].prompt, reqs[r].n_prompt, reqs[r].max_new, 0)) goto done;
    }
    for (;;) {
        /* every idle flight starts the next step while there is one */
        for (int f = 0; f < n_flights; f++) {
            if (busy[f]) continue;
            int sent = flight_launch(ctx, plan, &s, &fl[f], per);
            if (sent < 0) goto done;
            if (!sent) break;
            busy[f] = 1, fifo[(head + n_busy++) % n_flights] = f;
        }
        if (n_busy == 0) break;
        /* the oldest flight's ids come back first */
        Flight *f = &fl[fifo[head]];
        busy[fifo[head]] = 0, head = (head + 1) % n_flights, n_busy--;
        if (dist_recv(last, TAG_TOKENS, &ids, &ids_cap, &ids_bytes)) goto done;
        if (ids_bytes != (size_t)f->b.n_want * sizeof(int)) {
            err_set("pipeline: rank %d sent %zu bytes of ids, expected %d ids", last, ids_bytes,
                    f->b.n_want);
            goto done;
        }
        sched_accept(&s, &f->b, ids, emit, ud);
    }
    rc = 0;
done:;
    /* stop every stage, even after an error here (the others then end too) */
    Header stop = {.kind = MSG_STOP};
    DistReq *req = NULL;
    for (int f = 0; f < n_flights; f++) dist_wait(&fl[f].send);
    share(plan, &stop, sizeof stop);
    if (dist_isend(plan->width, TAG_WORK, &stop, sizeof stop, &req) == 0) dist_wait(&req);
    for (int f = 0; f < n_flights; f++) free(fl[f].buf), sched_batch_free(&fl[f].b);
    free(fl), free(fifo), free(busy), free(ids);
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

/* Last stage: logits of the flagged rows, one id each from its sequence's
 * sampler; returns 0 or -1 with err set. */
static int stage_head(Context *ctx, const Batch *b, const float *h, int n_want, Head *hd, int *ids) {
    const Config *c = &ctx->model->cfg;
    int rows = 0;
    for (int t = 0; t < b->n; t++) rows += b->want[t] != 0;
    if (rows != n_want) return err_set("pipeline: a batch with %d logits rows says %d", rows, n_want);
    if (rows > hd->cap_rows)
        hd->logits = xrealloc(hd->logits, (size_t)rows * c->n_vocab * sizeof(float)), hd->cap_rows = rows;
    forward_head(ctx, b, h, hd->logits);
    for (int t = 0, i = 0; t < b->n; t++) {
        if (!b->want[t]) continue;
        int s = b->seq[t];
        ids[i] = sampler_sample(&hd->samplers[s], hd->logits + (size_t)i * c->n_vocab);
        i++;
    }
    return 0;
}

/* A sequence whose run starts at position 0 begins a new request: its cache
 * is forgotten and (last stage) its sampler starts afresh. */
static int stage_reset(Context *ctx, const Batch *b, Head *hd, const GenOptions *opt) {
    for (int t = 0; t < b->n; t++) {
        int s = b->seq[t];
        if (s < 0 || s >= ctx->n_seq) return err_set("pipeline: sequence %d does not exist", s);
        if ((t > 0 && b->seq[t - 1] == s) || b->pos[t] != 0) continue;
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
        forward_layers(ctx, &b, m.h, plan->bounds[stage], plan->bounds[stage + 1]);
        forward_commit(ctx, &b);
        if (!leader) continue;
        if (!last) {
            if (dist_isend((stage + 1) * w, TAG_WORK, buf[cur], bytes, &send[cur])) goto done;
            cur ^= 1;
            continue;
        }
        if (dist_wait(&ids_send)) goto done;
        ids = xrealloc(ids, (size_t)(h->n_want > 0 ? h->n_want : 1) * sizeof(int));
        if (stage_head(ctx, &b, m.h, h->n_want, &hd, ids) ||
            dist_isend(0, TAG_TOKENS, ids, (size_t)h->n_want * sizeof(int), &ids_send))
            goto done;
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
