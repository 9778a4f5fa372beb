/* sched — the one scheduler (see sched.h). */
#include "gen/sched.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void sched_init(Sched *s, int n_seq, int chunk, int budget, int eos) {
    memset(s, 0, sizeof *s);
    s->n_seq = n_seq;
    s->seqs = xcalloc((size_t)n_seq, sizeof *s->seqs);
    s->chunk = chunk > 0 ? chunk : GEN_DEFAULT_CHUNK;
    s->budget = budget > 0 ? budget : 0;
    s->eos = eos;
}

void sched_free(Sched *s) {
    free(s->seqs);
    memset(s, 0, sizeof *s);
}

void sched_batch_free(SchedBatch *b) {
    free(b->token), free(b->seq), free(b->pos), free(b->want), free(b->owner), free(b->next);
    memset(b, 0, sizeof *b);
}

int sched_start(Sched *s, int seq, const int *prompt, int n_prompt, int max_new, long pos) {
    if (seq < 0 || seq >= s->n_seq) return err_set("sequence %d does not exist", seq);
    if (n_prompt < 1) return err_set("sequence %d: empty prompt", seq);
    if (s->seqs[seq].inflight) return err_set("sequence %d is still in flight", seq);
    s->seqs[seq] = (SchedSeq){.state = SEQ_PREFILL, .prompt = prompt, .n_prompt = n_prompt,
                              .pos = pos, .max_new = max_new > 0 ? max_new : 0,
                              .order = s->started++};
    return 0;
}

void sched_stop(Sched *s, int seq) {
    if (seq >= 0 && seq < s->n_seq && s->seqs[seq].state != SEQ_IDLE) s->seqs[seq].state = SEQ_DONE;
}

void sched_abandon(Sched *s, const SchedBatch *b) {
    for (int t = 0; t < b->n; t++) {
        SchedSeq *q = &s->seqs[b->seq[t]];
        /* a decoding sequence goes on from its last token, not its drafts */
        if (q->inflight && q->state == SEQ_DECODE) q->pos = b->pos[t] + 1;
        q->inflight = 0;
    }
}

int sched_active(const Sched *s) {
    int n = 0;
    for (int i = 0; i < s->n_seq; i++)
        n += s->seqs[i].state == SEQ_PREFILL || s->seqs[i].state == SEQ_DECODE;
    return n;
}

static void batch_reserve(SchedBatch *b, int n) {
    if (n <= b->cap) return;
    b->token = xrealloc(b->token, (size_t)n * sizeof *b->token);
    b->seq = xrealloc(b->seq, (size_t)n * sizeof *b->seq);
    b->pos = xrealloc(b->pos, (size_t)n * sizeof *b->pos);
    b->want = xrealloc(b->want, (size_t)n);
    b->owner = xrealloc(b->owner, (size_t)n * sizeof *b->owner);
    b->next = xrealloc(b->next, (size_t)n * sizeof *b->next);
    b->cap = n;
}

static void batch_add(SchedBatch *b, int token, int seq, long pos, int want) {
    if (b->n == b->cap) batch_reserve(b, b->cap ? 2 * b->cap : 64);
    b->token[b->n] = token, b->seq[b->n] = seq, b->pos[b->n] = pos, b->want[b->n] = (unsigned char)want;
    if (want) b->owner[b->n_want] = seq, b->next[b->n_want++] = -1;
    b->n++;
}

/* Running sequences not in flight, prefilling ones in start order. */
static int cmp_order(const void *a, const void *b) {
    const SchedSeq *x = *(SchedSeq *const *)a, *y = *(SchedSeq *const *)b;
    return (x->order > y->order) - (x->order < y->order);
}

int sched_draft_room(const Sched *s, int seq) {
    if (seq < 0 || seq >= s->n_seq) return 0;
    const SchedSeq *q = &s->seqs[seq];
    if (q->state != SEQ_DECODE || q->inflight) return 0;
    int room = q->max_new - q->n_new - 1;
    return room < 0 ? 0 : room > SCHED_DRAFT_MAX ? SCHED_DRAFT_MAX : room;
}

int sched_set_draft(Sched *s, int seq, const int *tokens, int k) {
    int room = sched_draft_room(s, seq);
    if (k > room) k = room;
    if (k < 0) k = 0;
    if (seq >= 0 && seq < s->n_seq) {
        SchedSeq *q = &s->seqs[seq];
        if (k) memcpy(q->draft, tokens, (size_t)k * sizeof *tokens);
        q->n_draft = k;
    }
    return k;
}

int sched_next_batch(Sched *s, SchedBatch *b, int max_seqs) {
    b->n = b->n_want = b->n_drafted = b->n_prompt = 0;
    int taken = 0, n_pre = 0;
    if (max_seqs <= 0) max_seqs = s->n_seq;
    /* decode tokens first: one each (and its drafts), never held back by the
     * budget's prefill */
    for (int i = 0; i < s->n_seq && taken < max_seqs; i++) {
        SchedSeq *q = &s->seqs[i];
        if (q->state != SEQ_DECODE || q->inflight) continue;
        batch_add(b, q->last, i, q->pos++, 1);
        for (int j = 0; j < q->n_draft; j++) {
            b->next[b->n_want - 1] = q->draft[j];
            batch_add(b, q->draft[j], i, q->pos++, 1);
        }
        b->n_drafted += q->n_draft, q->n_draft = 0;
        q->inflight = 1, taken++;
    }
    SchedSeq **pre = xmalloc((size_t)s->n_seq * sizeof *pre);
    for (int i = 0; i < s->n_seq; i++)
        if (s->seqs[i].state == SEQ_PREFILL && !s->seqs[i].inflight) pre[n_pre++] = &s->seqs[i];
    /* prompt tokens this step: while sequences decode, what the budget leaves
     * (at least a quarter of it, so prompts always move); alone, chunks */
    int decoding = b->n, room = INT_MAX;
    if (s->budget && decoding) room = s->budget - decoding > s->budget / 4 ? s->budget - decoding : s->budget / 4;
    if (room < 1) room = 1;
    /* under a target step time: what the fitted costs leave beside the decode rows,
     * at least the waiting prompts' share of the budget (and a quarter of it) */
    if (s->budget && decoding && s->max_step > 0) {
        int lo = (int)((long)s->budget * n_pre / (n_pre + decoding));
        if (lo < s->budget / 4) lo = s->budget / 4;
        room = stepcost_budget(&s->cost, decoding, s->max_step, lo, s->chunk, room);
    }
    qsort(pre, (size_t)n_pre, sizeof *pre, cmp_order);
    for (int k = 0; k < n_pre && taken < max_seqs; k++) {
        SchedSeq *q = pre[k];
        int take = q->n_prompt - q->fed;
        if (take > s->chunk) take = s->chunk;
        if (take > room - (b->n - decoding)) take = room - (b->n - decoding);
        if (take <= 0) break;
        int seq = (int)(q - s->seqs);
        for (int j = 0; j < take; j++) {
            int last = q->fed + j == q->n_prompt - 1;
            batch_add(b, q->prompt[q->fed + j], seq, q->pos++, last && q->max_new > 0);
        }
        q->fed += take, b->n_prompt += take;
        q->inflight = 1, taken++;
    }
    free(pre);
    return b->n;
}

void sched_accept(Sched *s, const SchedBatch *b, const int *ids, GenEmit emit, void *ud) {
    for (int t = 0; t < b->n; t++) {
        SchedSeq *q = &s->seqs[b->seq[t]];
        q->inflight = 0, q->verifying = 1;
        /* a prompt fed to its end with nothing to sample is done */
        if (q->state == SEQ_PREFILL && q->fed == q->n_prompt && q->max_new == 0) q->state = SEQ_DONE;
    }
    for (int i = 0, t = 0; i < b->n_want; i++, t++) {
        while (!b->want[t]) t++; /* t: row i's token in the batch */
        SchedSeq *q = &s->seqs[b->owner[i]];
        if (q->state != SEQ_PREFILL && q->state != SEQ_DECODE) continue; /* stopped meanwhile */
        int tok = ids[i];
        if (!q->verifying || tok == SCHED_UNUSED) { /* after a rejected draft */
            q->verifying = 0;
            continue;
        }
        q->last = tok, q->n_new++, q->state = SEQ_DECODE, q->pos = b->pos[t] + 1;
        int stop = emit ? emit(ud, b->owner[i], tok) : 0;
        if (stop || tok == s->eos || q->n_new >= q->max_new) q->state = SEQ_DONE;
        if (tok != b->next[i]) q->verifying = 0; /* the draft after it was wrong: its rows are void */
    }
}
