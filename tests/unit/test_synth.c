/* test_synth — mistral synth and mistral bench.
 *
 *  - synth `tiny` (f32, q8_0) and `tiny-moe` (q8_0) into a temp dir: the
 *    file's metadata and tensor types/dims, model_load reads it with the
 *    shape's hyperparameters, a forward pass gives finite logits; the same
 *    seed gives the same bytes, another seed other bytes;
 *  - --sharpen: a q4_0 copy of a sharpened model picks the f32 model's
 *    top-1 token (teacher-forced over its greedy text) more often than a
 *    copy of the plain model, and always at a large S;
 *  - bad shape / type that does not fit the rows: exit 2 / 1;
 *  - `mistral bench -m tiny.gguf -p 8 -n 4 -r 1 --json` exits 0 with pp and
 *    tg fields. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "harness.h"
#include "format/gguf.h"
#include "kern/ops.h"
#include "model/model.h"

static const char *tmp_dir;
static char cli[512];

static int synth(const char *out, const char *shape, const char *type, int seed) {
    char cmd[1536];
    snprintf(cmd, sizeof cmd, "%s synth %s --shape %s --type %s --seed %d", cli, out, shape, type,
             seed);
    char *err = NULL;
    int rc = test_run(cmd, NULL, &err);
    if (rc) fprintf(stderr, "%s: %s", cmd, err ? err : "");
    free(err);
    return rc;
}

static void check_model(const char *path, DType want, int moe) {
    GGUFFile f;
    memset(&f, 0, sizeof f);
    if (gguf_open(&f, path)) {
        EXPECT(0, "%s", err_msg());
        return;
    }
    const char *arch = NULL;
    uint32_t v = 0;
    EXPECT(gguf_get_string(&f, "general.architecture", &arch) == 0 && !strcmp(arch, "llama"), "arch");
    EXPECT(gguf_get_u32(&f, "llama.embedding_length", &v) == 0 && v == 64, "dim %u", v);
    EXPECT(gguf_get_u32(&f, "llama.block_count", &v) == 0 && v == 2, "layers %u", v);
    EXPECT(gguf_get_u32(&f, "llama.attention.head_count_kv", &v) == 0 && v == 2, "kv %u", v);
    const Tensor *t = gguf_find_tensor(&f, "blk.1.attn_q.weight");
    EXPECT(t && t->dtype == (int)want && tensor_ne(t, 0) == 64 && tensor_ne(t, 1) == 64, "attn_q");
    t = gguf_find_tensor(&f, "blk.0.attn_norm.weight");
    EXPECT(t && t->dtype == DT_F32 && t->ndim == 1, "attn_norm");
    if (moe) {
        t = gguf_find_tensor(&f, "blk.0.ffn_down_exps.weight");
        EXPECT(t && t->ndim == 3 && tensor_ne(t, 0) == 160 && tensor_ne(t, 1) == 64 && tensor_ne(t, 2) == 4,
               "ffn_down_exps");
    } else {
        t = gguf_find_tensor(&f, "blk.0.ffn_down.weight");
        EXPECT(t && tensor_ne(t, 0) == 160 && tensor_ne(t, 1) == 64, "ffn_down");
    }
    gguf_close(&f);

    Model m;
    if (model_load(&m, path, NULL)) {
        EXPECT(0, "model_load %s: %s", path, err_msg());
        return;
    }
    EXPECT(m.cfg.dim == 64 && m.cfg.n_layers == 2 && m.cfg.n_heads == 4 && m.cfg.n_kv_heads == 2 &&
               m.cfg.hidden_dim == 160 && m.cfg.n_vocab == 256,
           "config");
    EXPECT(m.cfg.n_experts == (moe ? 4 : 0) && m.cfg.n_active == (moe ? 2 : 0), "experts");
    EXPECT(m.w.layers[0].wq.dtype == want, "wq dtype %d", (int)m.w.layers[0].wq.dtype);
    Context ctx;
    EXPECT(context_init(&ctx, &m, 1, 16) == 0, "%s", err_msg());
    int tok[5] = {1, 7, 200, 3, 255}, seq[5] = {0};
    long pos[5] = {0, 1, 2, 3, 4};
    Batch b = {5, tok, seq, pos, NULL};
    float *logits = malloc(5 * 256 * sizeof *logits);
    EXPECT(forward(&ctx, &b, logits) == 0, "%s", err_msg());
    int finite = 1;
    double sum = 0;
    for (int i = 0; i < 5 * 256; i++) finite &= isfinite(logits[i]) != 0, sum += fabs(logits[i]);
    EXPECT(finite && sum > 0, "logits finite and nonzero");
    free(logits);
    context_free(&ctx);
    model_free(&m);
}

/* Teacher-forced over the first model's greedy text of n tokens: at how
 * many positions the second model's argmax is the first's. */
static int top1_agreement(const char *a_path, const char *b_path, int n) {
    Model a, b;
    Context ca, cb;
    memset(&a, 0, sizeof a), memset(&b, 0, sizeof b);
    if (model_load(&a, a_path, NULL) || model_load(&b, b_path, NULL) || context_init(&ca, &a, 1, n + 1) ||
        context_init(&cb, &b, 1, n + 1)) {
        EXPECT(0, "%s", err_msg());
        return -1;
    }
    int V = a.cfg.n_vocab, agree = 0, tok = 1;
    float *la = xmalloc((size_t)V * sizeof *la), *lb = xmalloc((size_t)V * sizeof *lb);
    for (long p = 0; p < n; p++) {
        Batch bt = {.n = 1, .token = &tok, .seq = (int[]){0}, .pos = &p};
        if (forward(&ca, &bt, la) || forward(&cb, &bt, lb)) {
            EXPECT(0, "%s", err_msg());
            break;
        }
        tok = argmax(la, V);
        agree += argmax(lb, V) == tok;
    }
    free(la), free(lb);
    context_free(&ca), context_free(&cb), model_free(&a), model_free(&b);
    return agree;
}

static void test_sharpen(void) {
    char f[600], q[600], cmd[3000];
    int agree[2], S[2] = {0, 40};
    for (int i = 0; i < 2; i++) {
        snprintf(f, sizeof f, "%s/sharp-f32.gguf", tmp_dir), snprintf(q, sizeof q, "%s/sharp-q4.gguf", tmp_dir);
        snprintf(cmd, sizeof cmd, "%s synth %s --shape tiny --type f32 --sharpen %d && %s synth %s --shape tiny --type q4_0 --sharpen %d",
                 cli, f, S[i], cli, q, S[i]);
        EXPECT(test_run(cmd, NULL, NULL) == 0, "%s", cmd);
        agree[i] = top1_agreement(f, q, 48);
    }
    EXPECT(agree[1] == 48, "sharpen 40: q4_0 agrees with f32 on %d of 48", agree[1]);
    EXPECT(agree[0] < agree[1], "sharpen 0: %d of 48, sharpen 40: %d", agree[0], agree[1]);
    snprintf(cmd, sizeof cmd, "%s synth %s/x.gguf --shape tiny --type f32 --sharpen -1", cli, tmp_dir);
    EXPECT(test_run(cmd, NULL, NULL) == 2, "negative --sharpen: usage error");
}

int main(int argc, char **argv) {
    (void)argc;
    test_cli_path(cli, sizeof cli, argv[0]);
    tmp_dir = test_tmpdir();
    char f32[512], q8[512], q8b[512], q8c[512], moe[512], cmd[2048];
    snprintf(f32, sizeof f32, "%s/tiny-f32.gguf", tmp_dir);
    snprintf(q8, sizeof q8, "%s/tiny-q8.gguf", tmp_dir);
    snprintf(q8b, sizeof q8b, "%s/tiny-q8b.gguf", tmp_dir);
    snprintf(q8c, sizeof q8c, "%s/tiny-q8c.gguf", tmp_dir);
    snprintf(moe, sizeof moe, "%s/tiny-moe.gguf", tmp_dir);

    EXPECT(synth(f32, "tiny", "f32", 0) == 0, "synth f32");
    check_model(f32, DT_F32, 0);
    EXPECT(synth(q8, "tiny", "q8_0", 0) == 0, "synth q8_0");
    check_model(q8, DT_Q8_0, 0);
    EXPECT(synth(moe, "tiny-moe", "q8_0", 0) == 0, "synth tiny-moe");
    check_model(moe, DT_Q8_0, 1);

    /* the seed decides the bytes */
    EXPECT(synth(q8b, "tiny", "q8_0", 0) == 0 && synth(q8c, "tiny", "q8_0", 1) == 0, "synth seeds");
    size_t la = 0, lb = 0, lc = 0;
    char *a = read_file(q8, &la), *b = read_file(q8b, &lb), *c = read_file(q8c, &lc);
    EXPECT(a && b && c && la == lb && !memcmp(a, b, la), "same seed, same file");
    EXPECT(a && c && la == lc && memcmp(a, c, la), "other seed, other weights");
    free(a), free(b), free(c);

    /* errors */
    snprintf(cmd, sizeof cmd, "%s synth %s/x.gguf --shape nope --type f32", cli, tmp_dir);
    EXPECT(test_run(cmd, NULL, NULL) == 2, "unknown shape: usage error");
    snprintf(cmd, sizeof cmd, "%s synth %s/x.gguf --shape tiny --type q4_k", cli, tmp_dir);
    char *err = NULL;
    EXPECT(test_run(cmd, NULL, &err) == 1 && err && strstr(err, "block"), "q4_k on 64-wide rows");
    free(err);

    /* bench */
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 4 -r 1 -t 2 --json", cli, q8);
    char *out = NULL;
    EXPECT(test_run(cmd, &out, NULL) == 0 && out, "bench exits 0");
    EXPECT(out && out[0] == '{' && strstr(out, "\"pp\": {") && strstr(out, "\"tg\": {") &&
               strstr(out, "\"bandwidth_gb_s\"") && strstr(out, "\"decode_bandwidth_fraction\"") &&
               strstr(out, "\"peaks\": ") &&
               /* 2 x (2 layers x 43008 weights + the 256 x 64 head over 8 tokens) + attention's
                * 2 x 2 x 72 keys x 4 heads x 16 / 8 tokens (positions 0..7, 2 layers) */
               strstr(out, "\"prefill_ops_per_token\": 178432,") &&
               strstr(out, "\"prefill_peak\": \"int8\"") && strstr(out, "\"prefill_peak_fraction\": "),
           "bench json: %s", out ? out : "(none)");
    free(out);
    /* an f32 model's prefill is measured against the FMA peak; the text says which */
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 2 -r 1 -t 2", cli, f32);
    out = NULL;
    EXPECT(test_run(cmd, &out, NULL) == 0 && out && (strstr(out, "of the fp32 FMA peak\n") || strstr(out, "arithmetic peaks: not measured")),
           "bench f32 text: %s", out ? out : "(none)");
    free(out);
    /* at depth 20 with window 8 and an fp16 cache: each of 2 layers reads 8
     * keys and 8 values of kv_dim 32 (2 kv heads x 16) at 2 bytes */
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 0 -n 3 -d 20 --sliding-window 8 --kv-type f16 -r 1 --json", cli, q8);
    out = NULL;
    EXPECT(test_run(cmd, &out, NULL) == 0 && out && strstr(out, "\"depth\": 20") && strstr(out, "\"kv_type\": \"f16\"") &&
               strstr(out, "\"kv_bytes_per_token\": 2048,"),
           "bench at depth: %s", out ? out : "(none)");
    free(out);
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 0 -n 2 --kv-type q4 -r 1", cli, q8);
    EXPECT(test_run(cmd, NULL, NULL) == 2, "bench --kv-type q4 is a usage error");
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 4 -n 2 -r 1 -t 1", cli, moe);
    out = NULL;
    EXPECT(test_run(cmd, &out, NULL) == 0 && out && strstr(out, "tg2") && strstr(out, "pp4"),
           "bench table: %s", out ? out : "(none)");
    free(out);

    test_sharpen();
    test_rm_rf(tmp_dir);
    return test_done("test_synth");
}
