/* test_experts — the expert cache (--mem-limit, model/experts.h).
 *
 *  - the logits of a chunked prefill and decode steps are bit for bit those
 *    of the model held in memory, with budgets of one expert, two, and all
 *    of them, through O_DIRECT and through the page cache, on the tiny MoE
 *    checkpoints (f32, bf16, a windowless one) and synth GGUFs (q4_0, q8_0:
 *    packed as read);
 *  - the counters: every use is a hit, a late read ahead or a miss; with
 *    room for every expert a second pass reads nothing;
 *  - speculative verification (a step of the last token and k drafts, one
 *    forward call of k + 1 rows) acquires each expert its rows route to once
 *    for all of them, and reads it at most once: with room for one expert
 *    and no reads ahead, the batch's acquires are its distinct (layer,
 *    expert) pairs, fewer than k + 1 single steps', and its rows' logits are
 *    those of the single steps, bit for bit;
 *  - errors: a budget one byte short of the minimum names the minimum; a
 *    dense model; a file truncated after loading fails the forward call with
 *    a one-line error (and no SIGBUS). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/util.h"
#include "harness.h"
#include "model/experts.h"
#include "model/model.h"
#include "model/prepare.h"

#define N_PROMPT 23
#define N_DECODE 6
#define N_TOK (N_PROMPT + N_DECODE)

static const char *tmp_dir;
static char cli[512];

/* Logits (N_TOK, vocab) of a fixed prompt fed 5 tokens a call, then decoded
 * one at a time. -1 when a forward call fails (err set). */
static int run(const Model *m, float *out) {
    Context ctx;
    if (context_init(&ctx, m, 1, N_TOK + 1)) return -1;
    int V = m->cfg.n_vocab, rc = 0;
    int tok[N_TOK], seq[N_TOK] = {0};
    long pos[N_TOK];
    for (int i = 0; i < N_TOK; i++) tok[i] = (i * 37 + 11) % V, pos[i] = i;
    for (int i = 0; i < N_TOK && !rc;) {
        int k = i < N_PROMPT ? (N_PROMPT - i < 5 ? N_PROMPT - i : 5) : 1;
        Batch b = {k, tok + i, seq + i, pos + i, NULL};
        rc = forward(&ctx, &b, out + (size_t)i * V);
        i += k;
    }
    context_free(&ctx);
    return rc;
}

static int load(Model *m, const char *path) {
    if (model_load(m, path, NULL)) {
        EXPECT(0, "%s", err_msg());
        return -1;
    }
    return 0;
}

/* The minimum budget of m: the dense part and one expert. */
static size_t minimum(const Model *m) {
    ModelShare s = model_share_all(m);
    s.mem_limit = 1;
    return model_resident_bytes(m, &s, kern_get()) + expcache_expert_bytes(m, kern_get(), 1);
}

static void check_model(const char *path) {
    Model ref;
    if (load(&ref, path)) return;
    ModelShare all = model_share_all(&ref);
    EXPECT(model_prepare(&ref, &all, kern_get(), NULL) == 0, "%s", err_msg());
    size_t V = (size_t)ref.cfg.n_vocab, n = (size_t)N_TOK * V;
    float *want = xmalloc(n * sizeof *want), *got = xmalloc(n * sizeof *got);
    EXPECT(run(&ref, want) == 0, "%s: %s", path, err_msg());
    size_t one = expcache_expert_bytes(&ref, kern_get(), 1), min = minimum(&ref);
    int n_experts = ref.cfg.n_layers * ref.cfg.n_experts;
    struct {
        size_t limit;
        int buffered;
    } cases[] = {{min, 0}, {min + one, 0}, {min + (size_t)n_experts * one, 0}, {min, 1}, {min + 2 * one, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        Model m;
        if (load(&m, path)) continue;
        ModelShare s = model_share_all(&m);
        s.mem_limit = cases[c].limit, s.buffered = cases[c].buffered;
        if (model_prepare(&m, &s, kern_get(), NULL)) {
            EXPECT(0, "%s: limit %zu: %s", path, cases[c].limit, err_msg());
            model_free(&m);
            continue;
        }
        EXPECT(m.experts != NULL, "%s: a cache", path);
        memset(got, 0, n * sizeof *got);
        EXPECT(run(&m, got) == 0, "%s: %s", path, err_msg());
        EXPECT(memcmp(got, want, n * sizeof *got) == 0, "%s: limit %zu (%s): logits differ from the resident model",
               path, cases[c].limit, cases[c].buffered ? "buffered" : "direct");
        ExpertStats st;
        expcache_stats(m.experts, &st);
        int slots = (int)((cases[c].limit - min) / one) + 1;
        EXPECT(st.slots == (slots < n_experts ? slots : n_experts), "%s: %d slots, want %d", path, st.slots, slots);
        EXPECT(st.uses > 0 && st.uses == st.hits + st.late + st.misses && st.uses == st.needed, "%s: uses %llu",
               path, (unsigned long long)st.uses);
        EXPECT(st.reads > 0 && st.bytes_read > 0 && st.ahead_used <= st.ahead, "%s: reads", path);
        EXPECT(st.predicted <= st.routed, "%s: prediction counts", path);
        /* the disk probe reads within its room or not at all, and leaves the cache as it was */
        EXPECT(expcache_read_bandwidth(m.experts, 1 << 20, 0) < 0 && strstr(err_msg(), "room"), "%s: probe: %s", path,
               err_msg());
        EXPECT(expcache_read_bandwidth(m.experts, 1 << 20, SIZE_MAX) > 0, "%s: probe: %s", path, err_msg());
        if (st.slots == n_experts) { /* everything fits: a second pass reads nothing */
            expcache_reset_stats(m.experts);
            EXPECT(run(&m, got) == 0 && memcmp(got, want, n * sizeof *got) == 0, "%s: second pass", path);
            expcache_stats(m.experts, &st);
            EXPECT(st.reads == 0 && st.hits == st.uses && st.uses > 0, "%s: second pass read %llu experts", path,
                   (unsigned long long)st.reads);
        }
        model_free(&m);
    }

    /* one byte short of the minimum */
    Model m;
    if (load(&m, path) == 0) {
        ModelShare s = model_share_all(&m);
        s.mem_limit = min - 1;
        EXPECT(model_prepare(&m, &s, kern_get(), NULL) == -1 && strstr(err_msg(), "too small") &&
                   strstr(err_msg(), "at least"),
               "%s: below the minimum: %s", path, err_msg());
        char num[32];
        snprintf(num, sizeof num, "(%zu bytes)", min);
        EXPECT(strstr(err_msg(), num) != NULL, "%s: the minimum named: %s", path, err_msg());
        model_free(&m);
    }
    free(want), free(got);
    model_free(&ref);
}

/* The counters' change over one forward call of n tokens from tok at
 * positions from p0 (logits of every row into out). */
static int step(Context *ctx, const Model *m, const int *tok, int n, long p0, float *out, ExpertStats *d) {
    int seq[N_PROMPT] = {0}; /* n <= N_PROMPT */
    long pos[N_PROMPT];
    for (int i = 0; i < n; i++) pos[i] = p0 + i;
    ExpertStats a, b;
    expcache_stats(m->experts, &a);
    Batch bt = {n, tok, seq, pos, NULL};
    int rc = forward(ctx, &bt, out);
    expcache_stats(m->experts, &b);
    memset(d, 0, sizeof *d);
    d->uses = b.uses - a.uses, d->reads = b.reads - a.reads, d->needed = b.needed - a.needed;
    return rc;
}

/* A verify step (the last token and N_DECODE drafts in one call) against
 * N_DECODE + 1 single steps of the same tokens, after the same prompt, with
 * a cache of one expert and no reads ahead for predictions. */
static void check_verify_batch(const char *path) {
    Model m;
    if (load(&m, path)) return;
    ModelShare s = model_share_all(&m);
    s.mem_limit = minimum(&m), s.no_predict = 1;
    if (model_prepare(&m, &s, kern_get(), NULL)) {
        EXPECT(0, "%s: %s", path, err_msg());
        model_free(&m);
        return;
    }
    int V = m.cfg.n_vocab, K = N_DECODE + 1, tok[N_PROMPT + N_DECODE + 1];
    for (int i = 0; i < N_PROMPT + K; i++) tok[i] = (i * 37 + 11) % V;
    float *one = xmalloc((size_t)K * V * sizeof *one), *all = xmalloc((size_t)K * V * sizeof *all);
    float *pre = xmalloc((size_t)N_PROMPT * V * sizeof *pre);
    ExpertStats d, batch, single = {0};
    Context a, b;
    EXPECT(context_init(&a, &m, 1, N_PROMPT + K) == 0 && context_init(&b, &m, 1, N_PROMPT + K) == 0, "%s", err_msg());
    EXPECT(step(&a, &m, tok, N_PROMPT, 0, pre, &d) == 0 && step(&b, &m, tok, N_PROMPT, 0, pre, &d) == 0, "%s: %s",
           path, err_msg());
    EXPECT(step(&a, &m, tok + N_PROMPT, K, N_PROMPT, all, &batch) == 0, "%s: %s", path, err_msg());
    for (int i = 0; i < K; i++) {
        EXPECT(step(&b, &m, tok + N_PROMPT + i, 1, N_PROMPT + i, one + (size_t)i * V, &d) == 0, "%s: %s", path,
               err_msg());
        EXPECT(d.uses == d.needed, "%s: single step %d: %llu acquires for %llu routed experts", path, i,
               (unsigned long long)d.uses, (unsigned long long)d.needed);
        single.uses += d.uses, single.reads += d.reads;
    }
    int L = m.cfg.n_layers, E = m.cfg.n_experts;
    EXPECT(batch.uses == batch.needed && batch.uses <= (uint64_t)L * (uint64_t)E,
           "%s: a verify batch of %d rows: %llu acquires for %llu routed (layer, expert) pairs", path, K,
           (unsigned long long)batch.uses, (unsigned long long)batch.needed);
    EXPECT(batch.reads <= batch.uses, "%s: a verify batch read %llu experts for %llu acquires", path,
           (unsigned long long)batch.reads, (unsigned long long)batch.uses);
    EXPECT(single.uses == (uint64_t)K * (uint64_t)L * (uint64_t)m.cfg.n_active && batch.uses < single.uses,
           "%s: %llu acquires in %d single steps, %llu in one batch", path, (unsigned long long)single.uses, K,
           (unsigned long long)batch.uses);
    EXPECT(memcmp(one, all, (size_t)K * V * sizeof *one) == 0, "%s: the verify batch's logits differ from single steps",
           path);
    context_free(&a), context_free(&b);
    free(one), free(all), free(pre);
    model_free(&m);
}

static void check_dense(void) {
    Model m;
    if (load(&m, "tests/data/tiny/dense_sw8_f32")) return;
    ModelShare s = model_share_all(&m);
    s.mem_limit = (size_t)1 << 30;
    EXPECT(model_prepare(&m, &s, kern_get(), NULL) == -1 && strstr(err_msg(), "none"), "dense: %s", err_msg());
    model_free(&m);
}

/* A copy of src truncated to half after it was loaded and prepared. */
static void check_truncated(const char *src) {
    char path[1024];
    snprintf(path, sizeof path, "%s/cut.gguf", tmp_dir);
    if (test_copy_file(src, path)) {
        EXPECT(0, "copy %s", src);
        return;
    }
    Model m;
    if (load(&m, path)) return;
    ModelShare s = model_share_all(&m);
    s.mem_limit = minimum(&m);
    EXPECT(model_prepare(&m, &s, kern_get(), NULL) == 0, "%s", err_msg());
    long size = (long)m.gguf.map.size;
    EXPECT(truncate(path, size / 2) == 0, "truncate");
    float *out = xmalloc((size_t)N_TOK * m.cfg.n_vocab * sizeof *out);
    EXPECT(run(&m, out) == -1 && strstr(err_msg(), "shorter") && strstr(err_msg(), path) && !strchr(err_msg(), '\n'),
           "truncated: %s", err_msg());
    free(out);
    model_free(&m);
}

static int synth(const char *out, const char *type) {
    char cmd[2560], *err = NULL;
    snprintf(cmd, sizeof cmd, "%s synth %s --shape tiny-moe --type %s --seed 3", cli, out, type);
    int rc = test_run(cmd, NULL, &err);
    if (rc) fprintf(stderr, "%s: %s", cmd, err ? err : "");
    free(err);
    return rc;
}

int main(int argc, char **argv) {
    (void)argc;
    test_cli_path(cli, sizeof cli, argv[0]);
    tmp_dir = test_tmpdir();
    check_model("tests/data/tiny/moe_sw8_f32");
    check_model("tests/data/tiny/moe_sw8_bf16");
    check_model("tests/data/tiny/moe_nowin_kv1_f32");
    check_verify_batch("tests/data/tiny/moe_sw8_f32");
    const char *types[] = {"q4_0", "q8_0"};
    for (int i = 0; i < 2; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/moe-%s.gguf", tmp_dir, types[i]);
        EXPECT(synth(path, types[i]) == 0, "synth %s", types[i]);
        check_model(path);
        if (i == 0) check_truncated(path);
        check_verify_batch(path);
    }
    check_dense();
    test_rm_rf(tmp_dir);
    return test_done("test_experts");
}
