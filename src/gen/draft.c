/* draft — drafters for speculative decoding (see draft.h). */
#include "gen/draft.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "kern/ops.h"

/* ---- setup ------------------------------------------------------------------ */

static int init_common(Drafter *d, DraftKind kind, int n_seq, int k_max) {
    memset(d, 0, sizeof *d);
    if (n_seq < 1) return err_set("a drafter needs at least one sequence, got %d", n_seq);
    if (k_max < 1 || k_max > SCHED_DRAFT_MAX || k_max > CONTEXT_MAX_DRAFT_ROOM)
        return err_set("--draft-max %d: must be in [1, %d]", k_max,
                       SCHED_DRAFT_MAX < CONTEXT_MAX_DRAFT_ROOM ? SCHED_DRAFT_MAX : CONTEXT_MAX_DRAFT_ROOM);
    d->kind = kind, d->k_max = k_max, d->n_seq = n_seq;
    d->seqs = xcalloc((size_t)n_seq, sizeof *d->seqs);
    for (int s = 0; s < n_seq; s++) d->seqs[s].k = k_max;
    return 0;
}

int drafter_init_model(Drafter *d, Context *dctx, int k_max) {
    if (init_common(d, DRAFT_MODEL, dctx->n_seq, k_max)) return -1;
    d->ctx = dctx;
    /* the draft model writes up to k_max - 1 of its own guesses past the text */
    if (dctx->draft_room < k_max && context_set_draft_room(dctx, k_max)) {
        drafter_free(d);
        return -1;
    }
    d->logits = xmalloc((size_t)dctx->n_seq * (size_t)dctx->model->cfg.n_vocab * sizeof *d->logits);
    return 0;
}

int drafter_init_lookup(Drafter *d, int n, int n_seq, int k_max) {
    if (n < 1 || n > 64) return err_set("--lookup %d: the n-gram length must be in [1, 64]", n);
    if (init_common(d, DRAFT_LOOKUP, n_seq, k_max)) return -1;
    d->lookup_n = n;
    return 0;
}

int drafter_init_fn(Drafter *d, DraftFn fn, void *ud, int n_seq, int k_max) {
    if (init_common(d, DRAFT_CALL, n_seq, k_max)) return -1;
    d->fn = fn, d->fn_ud = ud;
    return 0;
}

void drafter_free(Drafter *d) {
    for (int s = 0; d->seqs && s < d->n_seq; s++) intvec_free(&d->seqs[s].text), intvec_free(&d->seqs[s].fed);
    free(d->seqs), free(d->logits);
    memset(d, 0, sizeof *d);
}

/* ---- per sequence ------------------------------------------------------------- */

void drafter_begin(Drafter *d, int seq, int append) {
    if (seq < 0 || seq >= d->n_seq) return;
    DraftSeq *q = &d->seqs[seq];
    if (!append) q->text.n = 0;
    q->stats = (DraftStats){0};
    q->k = d->k_max;
}

void drafter_commit(Drafter *d, int seq, const int *tokens, int n) {
    if (seq < 0 || seq >= d->n_seq) return;
    for (int i = 0; i < n; i++) intvec_push(&d->seqs[seq].text, tokens[i]);
}

void drafter_result(Drafter *d, int seq, int drafted, int accepted) {
    if (seq < 0 || seq >= d->n_seq || drafted <= 0) return;
    DraftSeq *q = &d->seqs[seq];
    q->stats.steps++, q->stats.drafted += drafted, q->stats.accepted += accepted;
    d->total.steps++, d->total.drafted += drafted, d->total.accepted += accepted;
    /* shrink to what the model took (and one more), grow after a full accept */
    q->k = accepted < drafted ? accepted + 1 : 2 * q->k;
    if (q->k > d->k_max) q->k = d->k_max;
    if (q->k < 1) q->k = 1;
}

int drafter_want(const Drafter *d, int seq) {
    return seq >= 0 && seq < d->n_seq ? d->seqs[seq].k : 0;
}

/* ---- prompt lookup ------------------------------------------------------------ */

/* text[0..n) ends with an n-gram (g tokens, g from lookup_n down to 1) seen
 * before: the tokens after its latest earlier occurrence, where the text
 * runs out continued by the draft itself (a repeat of period n - g - j). */
static int lookup(int N, const int *text, int n, int want, int *out) {
    for (int g = N < n - 1 ? N : n - 1; g >= 1; g--) {
        const int *suffix = text + n - g;
        for (int j = n - g - 1; j >= 0; j--) {
            if (memcmp(text + j, suffix, (size_t)g * sizeof *text)) continue;
            for (int i = 0; i < want; i++) {
                int at = j + g + i;
                out[i] = at < n ? text[at] : out[at - n];
            }
            return want;
        }
    }
    return 0;
}

/* ---- a draft model ------------------------------------------------------------ */

/* One forward call of the draft model: for each sequence in use, the tokens
 * of `from`[i] starting at its fed count, `take`[i] of them, the last with
 * logits; returns the number of rows (one per sequence fed). */
static int draft_forward(Drafter *d, int n, const int *seqs, IntVec *const *src, const int *take, IntVec *bt,
                         IntVec *bs, long **bp, unsigned char **bw, int *cap) {
    int total = 0;
    for (int i = 0; i < n; i++) total += take[i];
    if (total == 0) return 0;
    if (total > *cap) {
        *cap = total;
        *bp = xrealloc(*bp, (size_t)total * sizeof **bp);
        *bw = xrealloc(*bw, (size_t)total);
    }
    bt->n = bs->n = 0;
    int k = 0;
    for (int i = 0; i < n; i++) {
        DraftSeq *q = &d->seqs[seqs[i]];
        for (int j = 0; j < take[i]; j++, k++) {
            int tok = src[i]->v[q->fed.n + j];
            intvec_push(bt, tok), intvec_push(bs, seqs[i]);
            (*bp)[k] = q->fed.n + j;
            (*bw)[k] = j == take[i] - 1;
        }
    }
    Batch b = {.n = total, .token = bt->v, .seq = bs->v, .pos = *bp, .want = *bw};
    if (forward(d->ctx, &b, d->logits)) return -1;
    for (int i = 0; i < n; i++) {
        DraftSeq *q = &d->seqs[seqs[i]];
        for (int j = 0; j < take[i]; j++) intvec_push(&q->fed, src[i]->v[q->fed.n]);
    }
    return 1;
}

static int propose_model(Drafter *d, int n, const int *seqs, const int *last, const int *want, int *out, int *got) {
    Context *dc = d->ctx;
    int V = dc->model->cfg.n_vocab, rc = -1;
    IntVec *full = xcalloc((size_t)n, sizeof *full), bt = {0}, bs = {0};
    IntVec **src = xmalloc((size_t)n * sizeof *src);
    int *take = xcalloc((size_t)n, sizeof *take), *limit = xcalloc((size_t)n, sizeof *limit), cap = 0;
    long *bp = NULL;
    unsigned char *bw = NULL;
    /* each sequence's text + last; the draft cache back to their common prefix */
    for (int i = 0; i < n; i++) {
        DraftSeq *q = &d->seqs[seqs[i]];
        KVCache *kv = &dc->seqs[seqs[i]];
        for (int j = 0; j < q->text.n; j++) intvec_push(&full[i], q->text.v[j]);
        intvec_push(&full[i], last[i]);
        src[i] = &full[i];
        int c = 0;
        while (c < q->fed.n && c < full[i].n && q->fed.v[c] == full[i].v[c]) c++;
        if (c == full[i].n) c--; /* the last token is fed again: its logits are the first draft */
        if (kv->n_pos != q->fed.n || kvcache_rewind(kv, c)) kvcache_reset(kv), c = 0;
        q->fed.n = c;
        /* positions the draft writes: full.n - 1 .. full.n + want - 2 */
        long room = kv->max_pos - full[i].n + 1;
        limit[i] = want[i] < room ? want[i] : (int)(room > 0 ? room : 0);
        got[i] = 0;
    }
    /* catch up: the unseen text, in chunks, then the first draft */
    for (;;) {
        int any = 0;
        for (int i = 0; i < n; i++) {
            int left = limit[i] > 0 ? full[i].n - d->seqs[seqs[i]].fed.n : 0;
            take[i] = left < GEN_DEFAULT_CHUNK ? left : GEN_DEFAULT_CHUNK;
            any |= take[i] > 0;
        }
        if (!any) break;
        if (draft_forward(d, n, seqs, src, take, &bt, &bs, &bp, &bw, &cap) < 0) goto done;
        for (int i = 0, row = 0; i < n; i++) {
            if (!take[i]) continue;
            if (d->seqs[seqs[i]].fed.n == full[i].n) out[i * d->k_max + got[i]++] = argmax(d->logits + (size_t)row * V, V);
            row++;
        }
    }
    /* then one token at a time: feed the last draft, take the next */
    for (;;) {
        int any = 0;
        for (int i = 0; i < n; i++) {
            take[i] = got[i] > 0 && got[i] < limit[i];
            if (take[i]) intvec_push(&full[i], out[i * d->k_max + got[i] - 1]);
            any |= take[i];
        }
        if (!any) break;
        if (draft_forward(d, n, seqs, src, take, &bt, &bs, &bp, &bw, &cap) < 0) goto done;
        for (int i = 0, row = 0; i < n; i++)
            if (take[i]) out[i * d->k_max + got[i]++] = argmax(d->logits + (size_t)row++ * V, V);
    }
    rc = 0;
done:
    for (int i = 0; i < n; i++) intvec_free(&full[i]);
    free(full), free(src), free(take), free(limit), free(bp), free(bw);
    intvec_free(&bt), intvec_free(&bs);
    return rc;
}

int drafter_propose(Drafter *d, int n, const int *seqs, const int *last, const int *want, int *out, int *got) {
    for (int i = 0; i < n; i++) {
        if (seqs[i] < 0 || seqs[i] >= d->n_seq) return err_set("sequence %d has no drafter", seqs[i]);
        got[i] = 0;
    }
    if (d->kind == DRAFT_MODEL) return propose_model(d, n, seqs, last, want, out, got);
    IntVec text = {0};
    for (int i = 0; i < n; i++) {
        const DraftSeq *q = &d->seqs[seqs[i]];
        int k = want[i] < d->k_max ? want[i] : d->k_max;
        if (k <= 0) continue;
        text.n = 0;
        for (int j = 0; j < q->text.n; j++) intvec_push(&text, q->text.v[j]);
        intvec_push(&text, last[i]);
        int *o = out + (size_t)i * d->k_max;
        got[i] = d->kind == DRAFT_LOOKUP ? lookup(d->lookup_n, text.v, text.n, k, o)
                                         : d->fn(d->fn_ud, seqs[i], text.v, text.n, k, o);
        if (got[i] < 0) got[i] = 0;
        if (got[i] > k) got[i] = k;
    }
    intvec_free(&text);
    return 0;
}

/* ---- with the scheduler --------------------------------------------------------- */

int drafter_draft(Drafter *d, Sched *sched) {
    int n = 0, rc = 0, cap = sched->n_seq < d->n_seq ? sched->n_seq : d->n_seq;
    int *seqs = xmalloc((size_t)cap * sizeof *seqs), *last = xmalloc((size_t)cap * sizeof *last);
    int *want = xmalloc((size_t)cap * sizeof *want), *got = xmalloc((size_t)cap * sizeof *got);
    int *out = xmalloc((size_t)cap * (size_t)d->k_max * sizeof *out);
    for (int s = 0; s < cap; s++) {
        int room = sched_draft_room(sched, s), k = drafter_want(d, s);
        if (room <= 0 || k <= 0) continue;
        seqs[n] = s, last[n] = sched->seqs[s].last, want[n++] = k < room ? k : room;
    }
    if (n && (rc = drafter_propose(d, n, seqs, last, want, out, got)) == 0)
        for (int i = 0; i < n; i++) sched_set_draft(sched, seqs[i], out + (size_t)i * d->k_max, got[i]);
    free(seqs), free(last), free(want), free(got), free(out);
    return rc;
}

int drafter_settle(Drafter *d, Context *ctx, const Sched *sched, const SchedBatch *b) {
    for (int t = 0; t < b->n; t++) /* what each cache now holds for good */
        if (b->pos[t] < sched->seqs[b->seq[t]].pos) drafter_commit(d, b->seq[t], &b->token[t], 1);
    /* each sequence's tokens are contiguous: with k drafts, k + 1 rows */
    for (int t = 0, u; t < b->n; t = u) {
        int s = b->seq[t], rows = 0;
        for (u = t; u < b->n && b->seq[u] == s; u++) rows += b->want[u] != 0;
        if (rows < 2) continue;
        long first = b->pos[t], pos = sched->seqs[s].pos;
        if (ctx->seqs[s].n_pos > pos && kvcache_rewind(&ctx->seqs[s], pos)) return -1;
        int drafted = rows - 1, accepted = (int)(pos - first) - 1;
        drafter_result(d, s, drafted, accepted < 0 ? 0 : accepted > drafted ? drafted : accepted);
    }
    return 0;
}

/* ---- vocabularies ------------------------------------------------------------- */

int draft_check_vocab(const Model *target, const Tokenizer *ttok, const Model *draft, const Tokenizer *dtok) {
    int nt = target->cfg.n_vocab, nd = draft->cfg.n_vocab;
    if (nt != nd)
        return err_set("the draft model's vocabulary has %d tokens, the model's %d: a draft needs the same tokenizer",
                       nd, nt);
    if (!ttok || !dtok) return 0;
    if (ttok->n_vocab != dtok->n_vocab)
        return err_set("the draft's tokenizer has %d tokens, the model's %d", dtok->n_vocab, ttok->n_vocab);
    if (ttok->bos != dtok->bos) return err_set("the draft's BOS is token %d, the model's %d", dtok->bos, ttok->bos);
    if (ttok->eos != dtok->eos) return err_set("the draft's EOS is token %d, the model's %d", dtok->eos, ttok->eos);
    ByteBuf a = {0}, b = {0};
    int rc = 0;
    for (int id = 0; id < ttok->n_vocab && rc == 0; id++) {
        a.n = b.n = 0;
        if (tokenizer_piece(ttok, id, &a) || tokenizer_piece(dtok, id, &b)) {
            rc = -1; /* err set by tokenizer_piece */
        } else if (a.n != b.n || (a.n && memcmp(a.p, b.p, a.n))) {
            rc = err_set("token %d differs: \"%.*s\" in the draft's tokenizer, \"%.*s\" in the model's", id,
                         (int)(b.n < 40 ? b.n : 40), b.n ? b.p : "", (int)(a.n < 40 ? a.n : 40), a.n ? a.p : "");
        }
    }
    bytebuf_free(&a), bytebuf_free(&b);
    return rc;
}
