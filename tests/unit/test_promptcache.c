/* test_promptcache — the server's prompt cache on disk (server/promptcache.h).
 *
 *   identity: a state saved, the directory scanned by a fresh cache, the
 *     state restored into another context (other room, other n_ctx) and the
 *     prompt's rest fed: the logits of every next step are bit-identical
 *     (memcmp) to a fresh prefill's, for a prompt past the window (W = 8:
 *     the window's keys), below it (a shorter prefix of a longer file),
 *     with full attention (any prefix), f32 and f16 caches;
 *   refusals: a prefix of a state past the window is not offered;
 *   damage and keys: a flipped payload byte (load fails, the file is
 *     removed, the cache is empty), a truncated file and a flipped header
 *     byte (ignored at the scan); another model's file, another KV type's,
 *     a packed model's in an unpacked one (ignored, left in place); junk,
 *     an empty file, a FIFO;
 *   the bound: least recently used files go first; saving a state a file
 *     already restores writes nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "harness.h"
#include "model/model.h"
#include "model/prepare.h"
#include "server/promptcache.h"

#define TINY "tests/data/tiny"
#define MAXT 64

static void load(Model *m, const char *dir) {
    CHECK(model_load(m, dir, NULL) == 0);
    ModelShare all = model_share_all(m);
    CHECK(model_prepare(m, &all, kern_get(), NULL) == 0);
}

static void ctx_make(Context *ctx, const Model *m, long n_ctx, DType kv, int room) {
    CHECK(context_init(ctx, m, 1, n_ctx) == 0);
    CHECK(context_set_kv_type(ctx, kv) == 0);
    if (room) CHECK(context_set_draft_room(ctx, room) == 0);
}

/* Feeds tokens[from..to) to sequence 0 (its cache at `from`), one token at
 * a time after the first chunk so that several steps are compared; each
 * step's last logits go to logits[(step) * V]. Returns the steps. */
static int feed(Context *ctx, const int *tokens, int from, int to, float *logits) {
    int V = ctx->model->cfg.n_vocab, steps = 0, seq[MAXT] = {0};
    long pos[MAXT];
    unsigned char want[MAXT];
    int chunk = to - from > 3 ? to - from - 3 : 1; /* a chunk, then single tokens */
    for (int at = from; at < to; steps++) {
        int n = steps == 0 ? chunk : 1;
        for (int i = 0; i < n; i++) pos[i] = at + i, want[i] = i == n - 1;
        Batch b = {.n = n, .token = tokens + at, .seq = seq, .pos = pos, .want = want};
        EXPECT(forward(ctx, &b, logits + (size_t)steps * V) == 0, "forward: %s", err_msg());
        at += n;
    }
    return steps;
}

static void random_tokens(int *t, int n, int V, uint64_t seed) {
    for (int i = 0; i < n; i++) t[i] = 1 + (int)(splitmix64(&seed) % (uint64_t)(V - 1));
}

static void flip_byte(const char *path, long off) {
    FILE *f = fopen(path, "r+b");
    CHECK(f);
    CHECK(fseek(f, off, off < 0 ? SEEK_END : SEEK_SET) == 0);
    int c = fgetc(f);
    CHECK(fseek(f, off, off < 0 ? SEEK_END : SEEK_SET) == 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
}

/* The one file of dir (its path into out), or 0 when there is not exactly one. */
static int only_file(const char *dir, char *out, size_t cap) {
    char cmd[512], *o = NULL;
    snprintf(cmd, sizeof cmd, "ls %s/*.kvc 2>/dev/null", dir);
    test_run(cmd, &o, NULL);
    int lines = 0;
    for (char *p = o; p && *p; p++) lines += *p == '\n';
    if (lines == 1) snprintf(out, cap, "%.*s", (int)strcspn(o, "\n"), o);
    free(o);
    return lines == 1;
}

/* ---- identity --------------------------------------------------------------------- */

/* Saves the state of prompt[0..n_save) on model m (cache type kv), then
 * restores it in a fresh cache over the same directory for prompt[0..n)
 * into a context with `room` draft slots and compares the logits of
 * feeding the rest with a fresh prefill's. want_L: the restored length. */
static void check_identity(const char *what, const Model *m, DType kv, const int *prompt, int n_save, int n,
                           int want_L, int room) {
    int V = m->cfg.n_vocab;
    const char *dir = test_tmpdir();
    Context a, b, fresh;
    ctx_make(&a, m, MAXT, kv, 0);
    float *la = xmalloc((size_t)MAXT * V * sizeof(float)), *lb = xmalloc((size_t)MAXT * V * sizeof(float));
    feed(&a, prompt, 0, n_save, la);
    PromptCache *pc = promptcache_open(dir, 1 << 30, &a);
    EXPECT(pc && promptcache_save(pc, prompt, n_save, &a.seqs[0]) == 0, "%s: save: %s", what, err_msg());
    EXPECT(promptcache_stats(pc).files == 1 && promptcache_stats(pc).written_bytes > 0, "%s: one file", what);
    promptcache_close(pc);

    ctx_make(&b, m, MAXT - 7, kv, room);
    pc = promptcache_open(dir, 1 << 30, &b);
    int entry, L = promptcache_find(pc, prompt, n - 1, &entry);
    EXPECT(L == want_L, "%s: found %d tokens, expected %d", what, L, want_L);
    if (L > 0) {
        EXPECT(promptcache_load(pc, entry, prompt, L, &b.seqs[0]) == 0, "%s: load", what);
        EXPECT(b.seqs[0].n_pos == L && promptcache_stats(pc).hits == 1, "%s: a hit at %d", what, L);
    }
    int steps = feed(&b, prompt, L, n, lb);
    ctx_make(&fresh, m, MAXT, kv, 0);
    float *lf = xmalloc((size_t)MAXT * V * sizeof(float));
    /* the fresh prefill: [0, L) in one chunk, then the same steps */
    if (L > 0) feed(&fresh, prompt, 0, L, la);
    int fsteps = feed(&fresh, prompt, L, n, lf);
    EXPECT(steps == fsteps && !memcmp(lb, lf, (size_t)steps * V * sizeof(float)),
           "%s: restored logits differ from a fresh prefill's", what);
    promptcache_close(pc);
    context_free(&a), context_free(&b), context_free(&fresh);
    free(la), free(lb), free(lf);
    test_rm_rf(dir);
}

static void test_identity(void) {
    Model sw8, full;
    load(&sw8, TINY "/moe_sw8_f32");
    load(&full, TINY "/dense_sw4096_f32");
    int p[MAXT];
    random_tokens(p, MAXT, sw8.cfg.n_vocab, 11);
    /* past the window (W = 8): the window's keys, the exact length only */
    check_identity("sw8 f32 20 -> 20 of 26", &sw8, DT_F32, p, 20, 26, 20, 0);
    check_identity("sw8 f16 20 -> 20 of 26, room 3", &sw8, DT_F16, p, 20, 26, 20, 3);
    check_identity("sw8 f32 9 -> 9 of 13 (wraps a rolling cache of 8 + 2)", &sw8, DT_F32, p, 9, 13, 9, 2);
    /* a longer state than the prompt's prefix is not offered past the window */
    check_identity("sw8 f32 20, a prompt of 16: none", &sw8, DT_F32, p, 20, 16, 0, 0);
    /* below the window every position is kept: any prefix */
    check_identity("sw8 f32 6 -> 4 of 5", &sw8, DT_F32, p, 6, 5, 4, 0);
    random_tokens(p, MAXT, full.cfg.n_vocab, 12);
    check_identity("full f32 40 -> 29 of 30", &full, DT_F32, p, 40, 30, 29, 0);
    check_identity("full f16 12 -> 12 of 30", &full, DT_F16, p, 12, 30, 12, 0);
    model_free(&sw8), model_free(&full);
}

/* ---- damage, foreign files, the bound ---------------------------------------------------- */

/* A directory holding one saved state of m (n tokens of p); its file's path in file. */
static const char *saved(const Model *m, DType kv, const int *p, int n, char *file, size_t cap) {
    const char *dir = test_tmpdir();
    Context c;
    ctx_make(&c, m, MAXT, kv, 0);
    float *l = xmalloc((size_t)MAXT * m->cfg.n_vocab * sizeof(float));
    feed(&c, p, 0, n, l);
    PromptCache *pc = promptcache_open(dir, 1 << 30, &c);
    CHECK(pc && promptcache_save(pc, p, n, &c.seqs[0]) == 0);
    promptcache_close(pc);
    context_free(&c);
    free(l);
    CHECK(only_file(dir, file, cap));
    return dir;
}

static int scanned_files(const Model *m, DType kv, const char *dir) {
    Context c;
    ctx_make(&c, m, MAXT, kv, 0);
    PromptCache *pc = promptcache_open(dir, 1 << 30, &c);
    int n = pc ? promptcache_stats(pc).files : -1;
    promptcache_close(pc);
    context_free(&c);
    return n;
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static void test_damage(void) {
    Model m, other;
    load(&m, TINY "/moe_sw8_f32");
    load(&other, TINY "/dense_sw8_f32");
    int p[MAXT];
    random_tokens(p, MAXT, m.cfg.n_vocab, 21);
    char file[512];

    /* a flipped payload byte: found at the scan, refused at the load, removed */
    const char *dir = saved(&m, DT_F32, p, 12, file, sizeof file);
    flip_byte(file, -100);
    Context c;
    ctx_make(&c, &m, MAXT, DT_F32, 0);
    PromptCache *pc = promptcache_open(dir, 1 << 30, &c);
    int entry, L = promptcache_find(pc, p, 20, &entry);
    EXPECT(L == 12, "the damaged file is found by its tokens (%d)", L);
    EXPECT(promptcache_load(pc, entry, p, L, &c.seqs[0]) == -1, "a flipped payload byte is refused");
    EXPECT(c.seqs[0].n_pos == 0 && promptcache_stats(pc).hits == 0 && promptcache_stats(pc).files == 0,
           "nothing restored, nothing left");
    EXPECT(!exists(file), "the damaged file is removed");
    promptcache_close(pc);
    context_free(&c);
    test_rm_rf(dir);

    /* truncated: ignored at the scan (and removed: its header is this model's) */
    dir = saved(&m, DT_F32, p, 12, file, sizeof file);
    CHECK(truncate(file, 200) == 0);
    EXPECT(scanned_files(&m, DT_F32, dir) == 0, "a truncated file is ignored");
    test_rm_rf(dir);
    /* a flipped header byte, a flipped token */
    dir = saved(&m, DT_F32, p, 12, file, sizeof file);
    flip_byte(file, 13);
    EXPECT(scanned_files(&m, DT_F32, dir) == 0, "a flipped header byte is ignored");
    EXPECT(exists(file), "a file whose header is not this model's is left alone");
    test_rm_rf(dir);
    dir = saved(&m, DT_F32, p, 12, file, sizeof file);
    flip_byte(file, (long)sizeof(PCacheHeader) + 5);
    EXPECT(scanned_files(&m, DT_F32, dir) == 0, "a flipped token is ignored");
    test_rm_rf(dir);

    /* another model's, another KV type's: ignored, left in place */
    dir = saved(&m, DT_F32, p, 12, file, sizeof file);
    EXPECT(scanned_files(&other, DT_F32, dir) == 0, "another model's file is ignored");
    EXPECT(scanned_files(&m, DT_F16, dir) == 0, "an f32 cache's file is ignored by an f16 cache");
    Model unpacked; /* the same weights, rows as loaded: other sums */
    CHECK(model_load(&unpacked, TINY "/moe_sw8_f32", NULL) == 0);
    EXPECT(scanned_files(&unpacked, DT_F32, dir) == 0, "a packed model's file is ignored by an unpacked one");
    model_free(&unpacked);
    EXPECT(exists(file) && scanned_files(&m, DT_F32, dir) == 1, "and left for its own model");
    /* not a cache file at all, and an empty one */
    char junk[600];
    snprintf(junk, sizeof junk, "%s/junk.kvc", dir);
    test_write_file(junk, "hello", 5);
    snprintf(junk, sizeof junk, "%s/empty.kvc", dir);
    test_write_file(junk, "", 0);
    snprintf(junk, sizeof junk, "%s/fifo.kvc", dir);
    CHECK(mkfifo(junk, 0600) == 0);
    EXPECT(scanned_files(&m, DT_F32, dir) == 1, "junk files (and a FIFO, without blocking) are ignored");
    test_rm_rf(dir);
    model_free(&m), model_free(&other);
}

static void test_bound(void) {
    Model m;
    load(&m, TINY "/moe_sw8_f32");
    int p[3][MAXT];
    for (int i = 0; i < 3; i++) random_tokens(p[i], MAXT, m.cfg.n_vocab, 31 + (uint64_t)i);
    const char *dir = test_tmpdir();
    Context c;
    ctx_make(&c, &m, MAXT, DT_F32, 0);
    float *l = xmalloc((size_t)MAXT * m.cfg.n_vocab * sizeof(float));
    /* the size of one state of 10 tokens, from an unbounded cache */
    feed(&c, p[0], 0, 10, l);
    PromptCache *pc = promptcache_open(dir, 1 << 30, &c);
    CHECK(promptcache_save(pc, p[0], 10, &c.seqs[0]) == 0);
    long long one = promptcache_stats(pc).bytes;
    EXPECT(promptcache_save(pc, p[0], 10, &c.seqs[0]) == 0 && promptcache_stats(pc).written_bytes == one,
           "a state a file restores already is not written again");
    promptcache_close(pc);
    pc = promptcache_open(dir, (size_t)(2 * one + one / 2), &c); /* room for two */
    for (int i = 1; i < 3; i++) {
        kvcache_reset(&c.seqs[0]);
        feed(&c, p[i], 0, 10, l);
        CHECK(promptcache_save(pc, p[i], 10, &c.seqs[0]) == 0);
    }
    int entry;
    EXPECT(promptcache_stats(pc).files == 2 && promptcache_stats(pc).bytes <= 2 * one + one / 2, "two files fit");
    EXPECT(promptcache_find(pc, p[0], 10, &entry) == 0, "the least recently used went");
    EXPECT(promptcache_find(pc, p[1], 10, &entry) == 10 && promptcache_find(pc, p[2], 10, &entry) == 10,
           "the others stay");
    promptcache_close(pc);
    pc = promptcache_open(dir, (size_t)one / 2, &c);
    EXPECT(promptcache_save(pc, p[0], 10, &c.seqs[0]) == -1, "a state over the bound is not saved");
    promptcache_close(pc);
    context_free(&c);
    free(l);
    test_rm_rf(dir);
    model_free(&m);
}

int main(void) {
    test_identity();
    test_damage();
    test_bound();
    return test_done("test_promptcache");
}
