/* test_spec — speculative decoding never changes a token.
 *
 *   identity: generate() with a drafter (the same model, another model of the
 *     same vocabulary, prompt lookup) gives plain decoding's tokens, greedy
 *     and seeded (T 0.8, top-p 0.9), K = 1..8, 1 and 3 threads, a batch of
 *     prompts of different lengths, on the tiny checkpoints and stories260K;
 *   forced drafts: a drafter that is right up to offset o and wrong there,
 *     for every o (and an EOS in the middle of the drafts);
 *   rollback: at the window's wrap (W = 8 and W = 4096), a step that feeds
 *     k drafts and is rewound after offset j leaves logits bit-identical
 *     (memcmp) to a cache that never saw a draft, for every k and j; without
 *     the draft room the cache refuses to go back;
 *   the lookup drafter's proposals, the adaptation of k, the vocabulary check. */
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "gen/draft.h"
#include "gen/generate.h"
#include "harness.h"
#include "model/model.h"
#include "model/prepare.h"

#define TINY "tests/data/tiny"
#define N_REQ 4
#define MAX_NEW 20
#define KMAX 8

static void load(Model *m, const char *dir) {
    CHECK(model_load(m, dir, NULL) == 0);
    ModelShare all = model_share_all(m);
    CHECK(model_prepare(m, &all, kern_get(), NULL) == 0);
}

static int collect(void *ud, int seq, int tok) {
    intvec_push(&((IntVec *)ud)[seq], tok);
    return 0;
}

static void clear(IntVec *out) {
    for (int r = 0; r < N_REQ; r++) out[r].n = 0;
}

static int same(const IntVec *a, const IntVec *b) {
    for (int r = 0; r < N_REQ; r++)
        if (a[r].n != b[r].n || (a[r].n && memcmp(a[r].v, b[r].v, (size_t)a[r].n * sizeof(int)))) return 0;
    return 1;
}

/* Prompts of lengths 1, 3, 9 and 17 that repeat themselves (so that lookup
 * finds n-grams) with a few random tokens. */
static void make_prompts(GenRequest *reqs, int *store, int V, int max_new) {
    static const int len[N_REQ] = {1, 3, 9, 17};
    uint64_t rs = 7;
    int *p = store;
    for (int r = 0; r < N_REQ; r++) {
        for (int i = 0; i < len[r]; i++)
            p[i] = i >= 4 && i % 5 ? p[i - 4] : (int)(splitmix64(&rs) % (uint64_t)V);
        reqs[r] = (GenRequest){.prompt = p, .n_prompt = len[r], .max_new = max_new};
        p += len[r];
    }
}

static void gen(Context *ctx, const GenRequest *reqs, const GenOptions *go, IntVec *out) {
    clear(out);
    EXPECT(generate(ctx, reqs, N_REQ, go, collect, out) == 0, "generate: %s", err_msg());
}

/* ---- identity ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    Model *m;     /* the target */
    Model *other; /* a draft model of the same vocabulary (NULL: only itself) */
} Case;

/* Every drafter, K and thread count against plain decoding with sampler sp. */
static void check_identity(const Case *c, const SamplerParams *sp, int eos, int full) {
    int V = c->m->cfg.n_vocab, store[64];
    GenRequest reqs[N_REQ];
    make_prompts(reqs, store, V, MAX_NEW);
    long n_ctx = generate_context_size(reqs, N_REQ);
    IntVec ref[N_REQ] = {{0}}, got[N_REQ] = {{0}};
    Context plain, ctx, self, other;
    CHECK(context_init(&plain, c->m, N_REQ, n_ctx) == 0);
    GenOptions go = {.sampler = *sp, .eos = eos};
    gen(&plain, reqs, &go, ref);
    CHECK(context_init(&ctx, c->m, N_REQ, n_ctx) == 0 && context_set_draft_room(&ctx, KMAX) == 0);
    CHECK(context_init(&self, c->m, N_REQ, n_ctx + KMAX + 1) == 0);
    if (c->other) CHECK(context_init(&other, c->other, N_REQ, n_ctx + KMAX + 1) == 0);
    long accepted_self = 0, drafted_self = 0, mism = 0;
    double t0 = now_seconds();
    for (int threads = 1; threads <= 3; threads += 2) {
        if (!full && threads == 3) break;
        CHECK(context_set_threads(&ctx, threads) == 0);
        context_share_threads(&self, &ctx);
        if (c->other) context_share_threads(&other, &ctx);
        for (int kind = 0; kind < 3; kind++) {
            if (kind == 1 && !c->other) continue;
            for (int K = 1; K <= KMAX; K++) {
                Drafter d;
                int rc = kind == 0 ? drafter_init_model(&d, &self, K)
                         : kind == 1 ? drafter_init_model(&d, &other, K)
                                     : drafter_init_lookup(&d, 1 + K % 3, N_REQ, K);
                CHECK(rc == 0);
                go.drafter = &d;
                gen(&ctx, reqs, &go, got);
                go.drafter = NULL;
                int ok = same(ref, got);
                mism += !ok;
                EXPECTQ(ok, "%s: T %g, eos %d, %d threads, %s drafter, K %d: tokens differ from plain decoding",
                        c->name, sp->temperature, eos, threads,
                        kind == 0 ? "self" : kind == 1 ? "other-model" : "lookup", K);
                EXPECTQ(d.total.accepted <= d.total.drafted, "accepted %ld of %ld", d.total.accepted, d.total.drafted);
                long sum = 0;
                for (int r = 0; r < N_REQ; r++) sum += d.seqs[r].stats.drafted;
                EXPECTQ(sum == d.total.drafted, "per-request drafted %ld, total %ld", sum, d.total.drafted);
                if (kind == 0) accepted_self += d.total.accepted, drafted_self += d.total.drafted;
                drafter_free(&d);
            }
        }
    }
    /* the model drafting for itself greedily is always right */
    EXPECT(drafted_self > 0, "%s: nothing drafted", c->name);
    if (sp->temperature == 0 && eos < 0)
        EXPECT(accepted_self == drafted_self, "%s greedy: %ld of %ld self drafts accepted", c->name, accepted_self,
               drafted_self);
    if (mism == 0)
        fprintf(stderr, "ok %s: T %g, eos %d: identical (%ld of %ld self drafts accepted) %.2fs\n", c->name, sp->temperature, eos,
                accepted_self, drafted_self, now_seconds() - t0);
    for (int r = 0; r < N_REQ; r++) intvec_free(&ref[r]), intvec_free(&got[r]);
    context_free(&plain), context_free(&ctx), context_free(&self);
    if (c->other) context_free(&other);
}

/* ---- forced drafts --------------------------------------------------------------- */

typedef struct {
    const IntVec *ref; /* the plain outputs */
    const GenRequest *reqs;
    int wrong_at, V;
} Forced;

/* The true continuation, wrong at offset wrong_at (and right again after). */
static int forced(void *ud, int seq, const int *text, int n, int k, int *out) {
    const Forced *f = ud;
    int g = n - f->reqs[seq].n_prompt; /* tokens generated so far */
    for (int i = 0; i < k; i++) {
        int t = g + i < f->ref[seq].n ? f->ref[seq].v[g + i] : 0;
        out[i] = i == f->wrong_at ? (t + 1) % f->V : t;
    }
    (void)text;
    return k;
}

static void check_forced(const char *name, Model *m, const SamplerParams *sp, int eos_at) {
    int V = m->cfg.n_vocab, store[64];
    GenRequest reqs[N_REQ];
    make_prompts(reqs, store, V, MAX_NEW);
    long n_ctx = generate_context_size(reqs, N_REQ);
    IntVec ref[N_REQ] = {{0}}, got[N_REQ] = {{0}};
    Context plain, ctx;
    CHECK(context_init(&plain, m, N_REQ, n_ctx) == 0);
    CHECK(context_init(&ctx, m, N_REQ, n_ctx) == 0 && context_set_draft_room(&ctx, KMAX) == 0);
    GenOptions go = {.sampler = *sp, .eos = -1};
    gen(&plain, reqs, &go, ref);
    if (eos_at >= 0) { /* an EOS that request 3 samples mid-way: it ends there */
        go.eos = ref[3].v[eos_at];
        gen(&plain, reqs, &go, ref);
    }
    for (int o = 0; o <= KMAX; o++) {
        Forced f = {ref, reqs, o, V};
        Drafter d;
        CHECK(drafter_init_fn(&d, forced, &f, N_REQ, KMAX) == 0);
        go.drafter = &d;
        gen(&ctx, reqs, &go, got);
        go.drafter = NULL;
        EXPECT(same(ref, got), "%s: T %g: drafts wrong at offset %d: tokens differ from plain decoding", name,
               sp->temperature, o);
        /* right drafts are taken, the wrong one never */
        EXPECT(d.total.drafted > 0 && (o > 0 || d.total.accepted == 0), "%s: offset %d: %ld of %ld accepted", name, o,
               d.total.accepted, d.total.drafted);
        EXPECT(o < KMAX || eos_at >= 0 || d.total.accepted == d.total.drafted, "%s: all right, %ld of %ld accepted",
               name, d.total.accepted, d.total.drafted);
        EXPECT(o == 0 || d.total.accepted > 0, "%s: offset %d: nothing accepted", name, o);
        drafter_free(&d);
    }
    for (int r = 0; r < N_REQ; r++) intvec_free(&ref[r]), intvec_free(&got[r]);
    context_free(&plain), context_free(&ctx);
}

/* ---- rollback at the wrap ------------------------------------------------------- */

/* Feeds tok[0..n) to sequence 0 from its position, `chunk` per call, every
 * row's logits into out (may be NULL). */
static void feed(Context *ctx, const int *tok, int n, int chunk, float *out) {
    int V = ctx->model->cfg.n_vocab;
    int *seq = xcalloc((size_t)chunk, sizeof *seq);
    long *pos = xmalloc((size_t)chunk * sizeof *pos);
    unsigned char *want = xmalloc((size_t)chunk);
    float *scratch = out ? NULL : xmalloc((size_t)chunk * V * sizeof *scratch);
    for (int s = 0; s < n; s += chunk) {
        int k = n - s < chunk ? n - s : chunk;
        for (int i = 0; i < k; i++) pos[i] = ctx->seqs[0].n_pos + i, want[i] = out != NULL || i == k - 1;
        Batch b = {.n = k, .token = tok + s, .seq = seq, .pos = pos, .want = want};
        CHECK(forward(ctx, &b, out ? out + (size_t)s * V : scratch) == 0);
    }
    free(seq), free(pos), free(want), free(scratch);
}

/* Positions [lo, hi) as the start P of a speculative step (last + k drafts,
 * the drafts right before offset j and wrong at j), for every k <= K and
 * j <= k: rows 0..j equal the reference's rows P..P+j; after going back to
 * P + j + 1 every single-token step up to P + K equals the reference's. */
static void check_rollback(const char *name, Model *m, int K, long lo, long hi) {
    int V = m->cfg.n_vocab;
    long n = hi + K + 2;
    int *tok = xmalloc((size_t)n * sizeof *tok);
    uint64_t rs = 99;
    for (long i = 0; i < n; i++) tok[i] = (int)(splitmix64(&rs) % (uint64_t)V);
    float *ref = xmalloc((size_t)n * V * sizeof *ref), *rows = xmalloc((size_t)(K + 1) * V * sizeof *rows);
    Context plain, ctx, tight;
    CHECK(context_init(&plain, m, 1, n) == 0);
    feed(&plain, tok, (int)n, 512, ref); /* never drafted: the reference */
    CHECK(context_init(&ctx, m, 1, n) == 0 && context_set_draft_room(&ctx, K) == 0);
    CHECK(context_init(&tight, m, 1, n) == 0); /* no room */
    feed(&ctx, tok, (int)lo, 512, NULL);
    feed(&tight, tok, (int)lo, 512, NULL);
    int drafts[64], seq[64] = {0}, bad = 0, refused = 0;
    long pos[64];
    size_t row = (size_t)V * sizeof(float);
    for (long P = lo; P < hi; P++) {
        for (int k = 1; k <= K; k++)
            for (int j = 0; j <= k; j++) {
                drafts[0] = tok[P];
                for (int i = 1; i <= k; i++) drafts[i] = i - 1 == j ? (tok[P + i] + 1) % V : tok[P + i];
                for (int i = 0; i <= k; i++) pos[i] = P + i;
                Batch b = {.n = k + 1, .token = drafts, .seq = seq, .pos = pos};
                CHECK(forward(&ctx, &b, rows) == 0);
                for (int i = 0; i <= j && i <= k; i++)
                    bad += memcmp(rows + (size_t)i * V, ref + (size_t)(P + i) * V, row) != 0;
                long back = P + j + 1 < P + k + 1 ? P + j + 1 : P + k + 1;
                EXPECTQ(kvcache_rewind(&ctx.seqs[0], back) == 0, "%s: P %ld k %d j %d: %s", name, P, k, j, err_msg());
                /* the steps after the rollback: as if never drafted */
                for (long q = back; q <= P + K && q < n; q++) {
                    long pq = q;
                    Batch one = {.n = 1, .token = &tok[q], .seq = seq, .pos = &pq};
                    CHECK(forward(&ctx, &one, rows) == 0);
                    int diff = memcmp(rows, ref + (size_t)q * V, row) != 0;
                    bad += diff;
                    EXPECTQ(!diff, "%s: P %ld, k %d, rejected at %d: logits at %ld differ after the rollback", name,
                            P, k, j, q);
                }
                EXPECTQ(kvcache_rewind(&ctx.seqs[0], P) == 0, "%s: back to %ld: %s", name, P, err_msg());
            }
        /* without room, a draft past the window's wrap cannot be taken back
         * (checked up to the first refusal) */
        if (!refused) {
            for (int i = 0; i <= 2; i++) drafts[i] = tok[P + i], pos[i] = P + i;
            Batch b = {.n = 3, .token = drafts, .seq = seq, .pos = pos};
            CHECK(forward(&tight, &b, rows) == 0);
            int can = kvcache_can_rewind(&tight.seqs[0], P + 1);
            int wrapped = tight.seqs[0].n_pos > tight.seqs[0].cap[0]; /* every layer of these has window W */
            EXPECTQ(can == !wrapped, "%s: no room, P %ld: can_rewind %d, wrapped %d", name, P, can, wrapped);
            refused += !can;
            if (can) {
                CHECK(kvcache_rewind(&tight.seqs[0], P) == 0);
                feed(&tight, &tok[P], 1, 1, NULL);
            }
        }
        feed(&ctx, &tok[P], 1, 1, NULL); /* on to P + 1 */
    }
    EXPECT(bad == 0, "%s: %d rows differ", name, bad);
    EXPECT(refused > 0, "%s: the cache without room never refused", name);
    if (bad == 0) fprintf(stderr, "ok %s: rollback at positions [%ld, %ld), K %d: bit-identical\n", name, lo, hi, K);
    free(tok), free(ref), free(rows);
    context_free(&plain), context_free(&ctx), context_free(&tight);
}

/* ---- small parts ---------------------------------------------------------------- */

static void check_lookup(void) {
    Drafter d;
    CHECK(drafter_init_lookup(&d, 3, 1, 4) == 0);
    int text[] = {5, 6, 7, 8, 9, 5, 6, 7}, out[4], got, seq = 0, want = 4, last = 8;
    drafter_begin(&d, 0, 0);
    drafter_commit(&d, 0, text, 8);
    /* ... 5 6 7 | 8: the 3-gram "6 7 8" ended at 3, then 9 5 6 7 */
    CHECK(drafter_propose(&d, 1, &seq, &last, &want, out, &got) == 0);
    EXPECT(got == 4 && out[0] == 9 && out[1] == 5 && out[2] == 6 && out[3] == 7, "got %d: %d %d %d %d", got, out[0],
           out[1], out[2], out[3]);
    /* a period of 1 goes on by itself */
    int rep[] = {3, 3}, last3 = 3;
    drafter_begin(&d, 0, 0);
    drafter_commit(&d, 0, rep, 2);
    CHECK(drafter_propose(&d, 1, &seq, &last3, &want, out, &got) == 0);
    EXPECT(got == 4 && out[0] == 3 && out[3] == 3, "got %d", got);
    /* nothing seen before: no draft */
    int last1 = 1;
    drafter_begin(&d, 0, 0);
    CHECK(drafter_propose(&d, 1, &seq, &last1, &want, out, &got) == 0);
    EXPECT(got == 0, "got %d", got);
    /* adapting: down after a rejection, up after full acceptance, within [1, 4] */
    drafter_result(&d, 0, 4, 1);
    EXPECT(drafter_want(&d, 0) == 2, "%d", drafter_want(&d, 0));
    drafter_result(&d, 0, 2, 0);
    EXPECT(drafter_want(&d, 0) == 1, "%d", drafter_want(&d, 0));
    drafter_result(&d, 0, 1, 1), drafter_result(&d, 0, 2, 2), drafter_result(&d, 0, 4, 4);
    EXPECT(drafter_want(&d, 0) == 4, "%d", drafter_want(&d, 0));
    EXPECT(d.seqs[0].stats.drafted == 13 && d.seqs[0].stats.accepted == 8, "%ld %ld", d.seqs[0].stats.drafted,
           d.seqs[0].stats.accepted);
    drafter_free(&d);
    EXPECT(drafter_init_lookup(&d, 2, 1, 0) < 0, "K 0 accepted");
    EXPECT(drafter_init_lookup(&d, 2, 1, SCHED_DRAFT_MAX + 1) < 0, "K too large accepted");
}

/* generate() refuses a drafter whose drafts the cache has no room for. */
static void check_room_refused(Model *m) {
    Context ctx;
    CHECK(context_init(&ctx, m, 1, 16) == 0);
    Drafter d;
    CHECK(drafter_init_lookup(&d, 2, 1, 4) == 0);
    int p[] = {1, 2, 1, 2};
    GenRequest r = {.prompt = p, .n_prompt = 4, .max_new = 4};
    GenOptions go = {.eos = -1, .drafter = &d};
    IntVec out[N_REQ] = {{0}};
    EXPECT(generate(&ctx, &r, 1, &go, collect, out) < 0 && strstr(err_msg(), "room"), "no room: %s", err_msg());
    drafter_free(&d);
    context_free(&ctx);
}

int main(void) {
    Model sw8, sw4096, moe;
    load(&sw8, TINY "/dense_sw8_f32");
    load(&sw4096, TINY "/dense_sw4096_f32");
    load(&moe, TINY "/moe_sw8_f32");
    check_lookup();
    check_room_refused(&sw8);
    EXPECT(draft_check_vocab(&sw8, NULL, &moe, NULL) == 0, "%s", err_msg());

    SamplerParams greedy = {.temperature = 0, .top_p = 1}, seeded = {.temperature = 0.8f, .top_p = 0.9f, .seed = 42};
    Case cases[] = {{"dense_sw8_f32", &sw8, &moe}, {"dense_sw4096_f32", &sw4096, &sw8}, {"moe_sw8_f32", &moe, &sw8}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_identity(&cases[i], &greedy, -1, 1);
        check_identity(&cases[i], &seeded, -1, 1);
    }
    /* an EOS the drafts run through: it ends the request where plain decoding does */
    check_identity(&cases[0], &greedy, 7, 0);
    check_forced("dense_sw8_f32", &sw8, &greedy, -1);
    check_forced("dense_sw8_f32", &sw8, &seeded, -1);
    check_forced("moe_sw8_f32", &moe, &seeded, 6);

    check_rollback("dense_sw8_f32", &sw8, KMAX, 0, 26);
    check_rollback("moe_sw8_f32", &moe, 4, 4, 12);
    check_rollback("dense_sw4096_f32", &sw4096, 3, 4096 - 4, 4096 + 1);

    const char *shared = test_shared_dir();
    if (shared) {
        char path[512];
        snprintf(path, sizeof path, "%s/models/stories260K", shared);
        Model st;
        load(&st, path);
        /* tokenizers: the same one agrees; v3 and v7 (the same size) differ
         * in a named token */
        Tokenizer v3, v3b, v7;
        if (test_load_tokenizer(&v3, shared, "mistral_instruct_tokenizer_240323.model.v3") &&
            test_load_tokenizer(&v3b, shared, "mistral_instruct_tokenizer_240323.model.v3") &&
            test_load_tokenizer(&v7, shared, "mistral_instruct_tokenizer_241114.model.v7")) {
            EXPECT(draft_check_vocab(&sw8, &v3, &sw8, &v3b) == 0, "v3 against itself: %s", err_msg());
            EXPECT(draft_check_vocab(&sw8, &v3, &sw8, &v7) < 0 && strstr(err_msg(), "token"), "v3 against v7: %s",
                   err_msg());
            fprintf(stderr, "ok draft vocabulary check: %s\n", err_msg());
            tokenizer_free(&v3), tokenizer_free(&v3b), tokenizer_free(&v7);
        }
        Case c = {"stories260K", &st, NULL};
        check_identity(&c, &greedy, -1, 1);
        check_identity(&c, &seeded, -1, 1);
        model_free(&st);
    }
    model_free(&sw8), model_free(&sw4096), model_free(&moe);
    return test_done("spec");
}
