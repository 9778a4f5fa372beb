/* test_api — the public header, used as an outside program would: every
 * call, its errors (a status and one line, never an abort), and results
 * that must agree with each other bit for bit (a batch and each prompt
 * alone, decode and generate, the streamed text and detokenize). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mistral.h"

#define TINY "tests/data/tiny/"
#define STORIES "../shared/models/stories260K"
#define V 256

/* ---- errors ---------------------------------------------------------------- */

static void test_errors(void) {
    MistralModel *m = (MistralModel *)1;
    EXPECT(mistral_model_open(&m, TINY "nope", NULL) == MISTRAL_ERR_IO && !m && strstr(mistral_error(), "nope"),
           "missing model: %s", mistral_error());
    EXPECT(mistral_model_open(NULL, TINY "moe_sw8_f32", NULL) == MISTRAL_ERR_ARGUMENT, "NULL out");
    EXPECT(mistral_model_open(&m, NULL, NULL) == MISTRAL_ERR_ARGUMENT, "NULL path");
    MistralModelParams mp = mistral_model_default_params();
    mp.kernels = "sse9";
    EXPECT(mistral_model_open(&m, TINY "moe_sw8_f32", &mp) == MISTRAL_ERR_ARGUMENT &&
               strstr(mistral_error(), "sse9"), "unknown kernels: %s", mistral_error());
    mp = mistral_model_default_params();
    mp.n_threads = -3;
    EXPECT(mistral_model_open(&m, TINY "moe_sw8_f32", &mp) == MISTRAL_ERR_ARGUMENT, "negative threads");
    mp = mistral_model_default_params();
    mp.tokenizer = TINY "no-such-tokenizer.model";
    EXPECT(mistral_model_open(&m, TINY "moe_sw8_f32", &mp) == MISTRAL_ERR_IO, "missing tokenizer: %s",
           mistral_error());

    /* a truncated GGUF file and one of garbage: FORMAT, one line */
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/truncated.gguf", dir);
    EXPECT(test_write_file(path, "GGUF\3\0\0\0\7", 9) == 0, "write %s", path);
    EXPECT(mistral_model_open(&m, path, NULL) == MISTRAL_ERR_FORMAT && !strchr(mistral_error(), '\n'),
           "truncated gguf: %s", mistral_error());
    snprintf(path, sizeof path, "%s/garbage.gguf", dir);
    EXPECT(test_write_file(path, "not a model at all", 18) == 0, "write %s", path);
    EXPECT(mistral_model_open(&m, path, NULL) == MISTRAL_ERR_FORMAT, "garbage: %s", mistral_error());
    test_rm_rf(dir);
    EXPECT(!strcmp(mistral_status_name(MISTRAL_ERR_BUFFER), "MISTRAL_ERR_BUFFER"), "status name");
    EXPECT(!strcmp(mistral_version(), MISTRAL_VERSION), "version");
}

/* ---- forward ----------------------------------------------------------------- */

static void test_decode(MistralModel *m) {
    MistralInfo info;
    EXPECT(mistral_model_info(m, &info) == MISTRAL_OK, "info");
    EXPECT(info.dim == 64 && info.n_layers == 2 && info.n_experts == 4 && info.n_active == 2 && info.n_vocab == V,
           "info");
    EXPECT(mistral_model_window(m, 0) == 8 && mistral_model_window(m, 9) == -1, "window");

    MistralContext *ctx = NULL;
    MistralContextParams cp = mistral_context_default_params();
    cp.n_seq = 0;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_ERR_ARGUMENT && !ctx, "0 sequences");
    cp = mistral_context_default_params();
    cp.kv_type = 7;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_ERR_ARGUMENT, "kv type 7");
    cp = mistral_context_default_params();
    cp.n_seq = 2, cp.n_ctx = 64, cp.n_threads = 2;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_OK, "%s", mistral_error());
    if (!ctx) return;

    /* two sequences in one call == each alone, bit for bit */
    int toks[5] = {1, 5, 9, 1, 7}, seq[5] = {0, 0, 0, 1, 1};
    float *both = malloc(5 * V * sizeof(float)), *alone = malloc(5 * V * sizeof(float));
    EXPECT(mistral_decode(ctx, 5, toks, seq, NULL, NULL, both) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(mistral_seq_pos(ctx, 0) == 3 && mistral_seq_pos(ctx, 1) == 2, "positions");
    mistral_seq_reset(ctx, 0), mistral_seq_reset(ctx, 1);
    EXPECT(mistral_decode(ctx, 3, toks, seq, NULL, NULL, alone) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(mistral_decode(ctx, 2, toks + 3, seq + 3, NULL, NULL, alone + 3 * V) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(!memcmp(both, alone, 5 * V * sizeof(float)), "batch != alone");

    long pos[3] = {0, 1, 2};
    EXPECT(mistral_decode(ctx, 3, toks, seq, pos, NULL, both) == MISTRAL_ERR_ARGUMENT, "replayed positions");
    int badtok = V;
    EXPECT(mistral_decode(ctx, 1, &badtok, seq, NULL, NULL, both) == MISTRAL_ERR_INPUT, "token %d", badtok);
    int badseq = 2;
    EXPECT(mistral_decode(ctx, 1, toks, &badseq, NULL, NULL, both) == MISTRAL_ERR_ARGUMENT &&
               strstr(mistral_error(), "sequence 2 does not exist"),
           "sequence 2: %s", mistral_error());
    EXPECT(mistral_decode(ctx, 0, toks, seq, NULL, NULL, both) == MISTRAL_ERR_ARGUMENT, "empty batch");
    EXPECT(mistral_seq_reset(ctx, 5) == MISTRAL_ERR_ARGUMENT && mistral_seq_pos(ctx, 5) == -1, "bad seq");

    /* truncate: going back to 2 of 3 positions, then the same token again
     * gives the same logits; past the window's reuse it is refused */
    float row[V];
    EXPECT(mistral_seq_truncate(ctx, 0, 2) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(mistral_decode(ctx, 1, toks + 2, seq, NULL, NULL, row) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(!memcmp(row, alone + 2 * V, sizeof row), "logits after truncate differ");
    int many[20];
    for (int i = 0; i < 20; i++) many[i] = 3 + i;
    int zeros[20] = {0};
    mistral_seq_reset(ctx, 0);
    EXPECT(mistral_decode(ctx, 20, many, zeros, NULL, (unsigned char[20]){0}, row) == MISTRAL_OK, "%s",
           mistral_error());
    EXPECT(mistral_seq_truncate(ctx, 0, 10) == MISTRAL_ERR_ARGUMENT && mistral_seq_pos(ctx, 0) == 20,
           "truncate past the window: %s", mistral_error());
    EXPECT(mistral_seq_truncate(ctx, 0, 19) == MISTRAL_OK && mistral_seq_pos(ctx, 0) == 19, "drop one");
    EXPECT(mistral_seq_truncate(ctx, 0, 25) == MISTRAL_ERR_ARGUMENT, "truncate forward");
    free(both), free(alone);
    mistral_context_free(ctx);
}

/* ---- generation ---------------------------------------------------------------- */

typedef struct {
    int ids[2][64];
    int n[2];
    int stop_after; /* stop prompt 1 after this many tokens (0: never) */
} Got;

static int collect(void *ud, int seq, int token, const char *text, size_t len) {
    Got *g = ud;
    if (g->n[seq] < 64) g->ids[seq][g->n[seq]++] = token;
    (void)text, (void)len;
    return seq == 1 && g->stop_after && g->n[1] >= g->stop_after;
}

static void test_generate(MistralModel *m) {
    MistralContext *ctx = NULL;
    MistralContextParams cp = mistral_context_default_params();
    cp.n_seq = 2, cp.n_ctx = 64;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_OK, "%s", mistral_error());
    if (!ctx) return;
    int a[] = {1, 147, 186, 149, 240}, b[] = {1, 2, 3};
    const int *prompts[] = {a, b};
    int lens[] = {5, 3};
    MistralGenParams gp = mistral_gen_default_params();
    gp.max_tokens = 7, gp.temperature = 0.8f, gp.seed = 42;
    Got both = {0}, one = {0};
    EXPECT(mistral_generate(ctx, 2, prompts, lens, &gp, collect, &both) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(both.n[0] == 7 && both.n[1] == 7, "generated %d and %d tokens", both.n[0], both.n[1]);
    /* each prompt alone gets the same tokens */
    for (int i = 0; i < 2; i++) {
        EXPECT(mistral_generate(ctx, 1, &prompts[i], &lens[i], &gp, collect, &one) == MISTRAL_OK, "%s",
               mistral_error());
        EXPECT(one.n[0] == 7 && !memcmp(one.ids[0], both.ids[i], 7 * sizeof(int)), "prompt %d alone differs", i);
        one.n[0] = 0;
    }
    /* the callback stops one prompt; the other goes on */
    Got st = {.stop_after = 2};
    EXPECT(mistral_generate(ctx, 2, prompts, lens, &gp, collect, &st) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(st.n[0] == 7 && st.n[1] == 2, "stopped: %d and %d", st.n[0], st.n[1]);
    /* errors: more prompts than sequences, past the context, a bad id */
    const int *three[] = {a, b, a};
    int lens3[] = {5, 3, 5};
    EXPECT(mistral_generate(ctx, 3, three, lens3, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT, "3 prompts");
    int bad[] = {1, V + 5};
    const int *pb[] = {bad};
    int lb = 2;
    EXPECT(mistral_generate(ctx, 1, pb, &lb, &gp, NULL, NULL) == MISTRAL_ERR_INPUT, "bad id");
    mistral_context_free(ctx);

    /* a model without windows: a context of 8 positions holds 5 + 3 */
    MistralModel *nw;
    EXPECT(mistral_model_open(&nw, TINY "moe_nowin_kv1_f32", NULL) == MISTRAL_OK, "%s", mistral_error());
    cp.n_seq = 1, cp.n_ctx = 8;
    if (nw && mistral_context_new(&ctx, nw, &cp) == MISTRAL_OK) {
        gp.max_tokens = 3;
        EXPECT(mistral_generate(ctx, 1, prompts, lens, &gp, NULL, NULL) == MISTRAL_OK, "%s", mistral_error());
        gp.max_tokens = 5;
        EXPECT(mistral_generate(ctx, 1, prompts, lens, &gp, NULL, NULL) == MISTRAL_ERR_CONTEXT_FULL, "%s",
               mistral_error());
        int toks[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, seq[9] = {0};
        float *lg = malloc(9 * V * sizeof(float));
        mistral_seq_reset(ctx, 0);
        EXPECT(mistral_decode(ctx, 9, toks, seq, NULL, NULL, lg) == MISTRAL_ERR_CONTEXT_FULL &&
                   strstr(mistral_error(), "past the context") && mistral_seq_pos(ctx, 0) == 0,
               "%s", mistral_error());
        free(lg);
        mistral_context_free(ctx);
    }
    mistral_model_close(nw);
}

/* ---- speculative decoding ------------------------------------------------------ */

/* The ids of 2 prompts (greedy or seeded) with params gp on a fresh context. */
static void spec_run(MistralModel *m, const MistralGenParams *gp, Got *g, long *drafted, long *accepted) {
    MistralContext *ctx = NULL;
    MistralContextParams cp = mistral_context_default_params();
    cp.n_seq = 2, cp.n_ctx = 64;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_OK, "%s", mistral_error());
    if (!ctx) return;
    int a[] = {1, 147, 186, 149, 240}, b[] = {1, 5, 9, 5, 9, 5, 9, 5, 9, 4};
    const int *prompts[] = {a, b};
    int lens[] = {5, 10};
    memset(g, 0, sizeof *g);
    EXPECT(mistral_generate(ctx, 2, prompts, lens, gp, collect, g) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(mistral_spec_stats(ctx, drafted, accepted) == MISTRAL_OK, "%s", mistral_error());
    mistral_context_free(ctx);
}

static void test_speculation(MistralModel *m) {
    MistralModel *dm = NULL, *foreign = NULL;
    EXPECT(mistral_model_open(&dm, TINY "dense_sw8_f32", NULL) == MISTRAL_OK, "%s", mistral_error());
    EXPECT(mistral_model_open(&foreign, "tests/data/conformance/tiny/dense_sw5_f16", NULL) == MISTRAL_OK, "%s",
           mistral_error());
    MistralContext *dctx = NULL, *fctx = NULL;
    MistralContextParams cp = mistral_context_default_params();
    cp.n_seq = 2, cp.n_ctx = 128;
    if (dm) EXPECT(mistral_context_new(&dctx, dm, &cp) == MISTRAL_OK, "%s", mistral_error());
    if (foreign) EXPECT(mistral_context_new(&fctx, foreign, &cp) == MISTRAL_OK, "%s", mistral_error());
    for (int seeded = 0; seeded < 2; seeded++) {
        MistralGenParams gp = mistral_gen_default_params();
        gp.max_tokens = 24;
        if (seeded) gp.temperature = 0.8f, gp.top_p = 0.9f, gp.seed = 5;
        Got plain, spec;
        long d = -1, acc = -1;
        spec_run(m, &gp, &plain, &d, &acc);
        EXPECT(d == 0 && acc == 0, "no speculation: %ld drafted, %ld accepted", d, acc);
        for (int kind = 0; kind < 3; kind++) {
            MistralGenParams sp = gp;
            if (kind == 0) sp.lookup = 2;
            if (kind == 1) sp.lookup = 1, sp.draft_max = 7;
            if (kind == 2) sp.draft = dctx, sp.draft_max = 3;
            if (kind == 2 && !dctx) continue;
            spec_run(m, &sp, &spec, &d, &acc);
            EXPECT(!memcmp(&plain, &spec, sizeof plain), "seeded %d, drafter %d: the tokens differ", seeded, kind);
            EXPECT(d > 0 && acc >= 0 && acc <= d, "seeded %d, drafter %d: %ld drafted, %ld accepted", seeded, kind, d,
                   acc);
        }
    }
    /* the draft context computed on the target's threads; its own are back
     * (the targets' contexts, and their pools, are freed by now) */
    if (dctx) {
        int t[] = {1, 5, 9};
        const int *tp[] = {t};
        int tn = 3;
        MistralGenParams gp = mistral_gen_default_params();
        gp.max_tokens = 8;
        EXPECT(mistral_generate(dctx, 1, tp, &tn, &gp, NULL, NULL) == MISTRAL_OK, "the draft context alone: %s",
               mistral_error());
    }
    /* refusals, each with its line */
    MistralContext *ctx = NULL;
    cp.n_seq = 2, cp.n_ctx = 64;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_OK, "%s", mistral_error());
    int a[] = {1, 2, 3};
    const int *pr[] = {a};
    int n = 3;
    MistralGenParams gp = mistral_gen_default_params();
    gp.max_tokens = 4;
    if (ctx && fctx) {
        gp.draft = fctx;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT &&
                   strstr(mistral_error(), "vocabulary has 128 tokens, the model's 256"),
               "a foreign draft: %s", mistral_error());
        gp.draft = ctx;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT, "itself");
        gp.draft = dctx, gp.lookup = 2;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT &&
                   strstr(mistral_error(), "not both"), "both: %s", mistral_error());
        gp.draft = NULL, gp.lookup = 65;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT, "lookup 65");
        gp.lookup = 2, gp.draft_max = 33;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT, "draft_max 33");
        /* a held sequence and no room yet: append refused; then room, and append works */
        gp.lookup = 0, gp.draft_max = 0;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_OK, "%s", mistral_error());
        gp.lookup = 2, gp.append = 1;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_ERR_ARGUMENT &&
                   strstr(mistral_error(), "append"), "append: %s", mistral_error());
        gp.append = 0;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_OK, "%s", mistral_error());
        gp.append = 1;
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, NULL, NULL) == MISTRAL_OK, "%s", mistral_error());
    }
    EXPECT(mistral_spec_stats(NULL, NULL, NULL) == MISTRAL_ERR_ARGUMENT, "spec_stats(NULL)");
    mistral_context_free(ctx), mistral_context_free(dctx), mistral_context_free(fctx);
    mistral_model_close(dm), mistral_model_close(foreign);
}

/* ---- text (the trained model and its tokenizer in ../shared) ---------------- */

typedef struct {
    char text[4096];
    size_t len;
    int ids[256], n;
} Text;

static int gather(void *ud, int seq, int token, const char *text, size_t len) {
    Text *t = ud;
    if (t->len + len < sizeof t->text) memcpy(t->text + t->len, text, len), t->len += len;
    if (t->n < 256) t->ids[t->n++] = token;
    return 0;
}

static void test_text(void) {
    if (access(STORIES "/params.json", R_OK)) {
        printf("test_api: %s absent: tokenizer cases skipped\n", STORIES);
        return;
    }
    MistralModel *m;
    EXPECT(mistral_model_open(&m, STORIES, NULL) == MISTRAL_OK, "%s", mistral_error());
    if (!m) return;
    MistralInfo info;
    mistral_model_info(m, &info);
    EXPECT(info.has_tokenizer && info.bos == 1 && info.eos == 2 && info.chat_format &&
               !strcmp(info.chat_format, "v1"), "tokenizer info");
    int ids[64], n = -1;
    EXPECT(mistral_tokenize(m, "Once upon a time", -1, 1, ids, 64, &n) == MISTRAL_OK && n > 2 && ids[0] == 1,
           "%s", mistral_error());
    int small[2], n2;
    EXPECT(mistral_tokenize(m, "Once upon a time", -1, 1, small, 2, &n2) == MISTRAL_ERR_BUFFER && n2 == n,
           "too small: %d", n2);
    EXPECT(mistral_tokenize(m, "bad \xff byte", -1, 0, ids, 64, &n2) == MISTRAL_ERR_INPUT, "invalid UTF-8");
    char text[128];
    size_t len;
    EXPECT(mistral_detokenize(m, ids + 1, n - 1, text, sizeof text, &len) == MISTRAL_OK &&
               !strcmp(text, "Once upon a time") && len == 16, "detokenize: %s", text);
    EXPECT(mistral_detokenize(m, ids, n, text, 4, &len) == MISTRAL_ERR_BUFFER && len == 16, "small text buffer");
    int oov = 1 << 20;
    EXPECT(mistral_detokenize(m, &oov, 1, text, sizeof text, &len) == MISTRAL_ERR_INPUT &&
               strstr(mistral_error(), "vocabulary"),
           "detokenize an unknown id: %s", mistral_error());

    int chat[128], nc;
    EXPECT(mistral_chat_encode(m, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}", NULL, chat, 128,
                               &nc) == MISTRAL_OK && nc > 3 && chat[0] == 1, "%s", mistral_error());
    EXPECT(mistral_chat_encode(m, "{\"messages\": [{\"role\": \"wizard\"}]}", NULL, chat, 128, &nc) ==
               MISTRAL_ERR_INPUT && strstr(mistral_error(), "wizard"), "bad role: %s", mistral_error());
    EXPECT(mistral_chat_encode(m, "{\"messages\": ", "v1", chat, 128, &nc) == MISTRAL_ERR_INPUT, "truncated json");
    EXPECT(mistral_chat_encode(m, "{}", "v9", chat, 128, &nc) == MISTRAL_ERR_ARGUMENT, "format v9");

    /* the streamed text is exactly the detokenized tokens */
    MistralContext *ctx;
    EXPECT(mistral_context_new(&ctx, m, NULL) == MISTRAL_OK, "%s", mistral_error());
    MistralGenParams gp = mistral_gen_default_params();
    gp.max_tokens = 40;
    Text t = {0};
    const int *pr[] = {ids};
    EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, gather, &t) == MISTRAL_OK, "%s", mistral_error());
    int body = t.n && t.ids[t.n - 1] == info.eos ? t.n - 1 : t.n;
    char all[4096];
    EXPECT(mistral_detokenize(m, t.ids, body, all, sizeof all, &len) == MISTRAL_OK && len == t.len &&
               !memcmp(all, t.text, len), "streamed text differs:\n%.*s\n%s", (int)t.len, t.text, all);
    /* a stop text: the text ends just before it */
    if (t.len > 20) {
        char stop[8];
        memcpy(stop, t.text + 12, 4), stop[4] = 0;
        const char *stops[] = {stop};
        gp.stop = stops, gp.n_stop = 1;
        Text s = {0};
        EXPECT(mistral_generate(ctx, 1, pr, &n, &gp, gather, &s) == MISTRAL_OK, "%s", mistral_error());
        const char *at = strstr(t.text, stop);
        EXPECT(at && s.len == (size_t)(at - t.text) && !memcmp(s.text, t.text, s.len), "stop at \"%s\": %.*s", stop,
               (int)s.len, s.text);
    }
    mistral_context_free(ctx);
    mistral_model_close(m);
}

/* mem_limit: too small is ARGUMENT naming the minimum; room for one expert
 * gives the resident model's tokens */
static void test_mem_limit(void) {
    MistralModel *m = (MistralModel *)1;
    MistralModelParams mp = mistral_model_default_params();
    mp.mem_limit = 1000;
    EXPECT(mistral_model_open(&m, TINY "moe_sw8_f32", &mp) == MISTRAL_ERR_ARGUMENT && !m &&
               strstr(mistral_error(), "at least"), "mem_limit 1000: %s", mistral_error());
    long least = atol(strrchr(mistral_error(), '(') + 1);
    const int p[] = {1, 147, 186, 149, 240, 7, 9, 11};
    const int *prompts[] = {p};
    int lens[] = {8};
    Got want = {0}, got = {0};
    MistralGenParams gp = mistral_gen_default_params();
    gp.max_tokens = 12, gp.stop_at_eos = 0, gp.chunk_size = 3;
    for (int i = 0; i < 2; i++) {
        mp.mem_limit = i ? (size_t)least : 0;
        MistralModel *mm = NULL;
        MistralContext *ctx = NULL;
        EXPECT(mistral_model_open(&mm, TINY "moe_sw8_f32", &mp) == MISTRAL_OK, "%s", mistral_error());
        if (mm && mistral_context_new(&ctx, mm, NULL) == MISTRAL_OK)
            EXPECT(mistral_generate(ctx, 1, prompts, lens, &gp, collect, i ? &got : &want) == MISTRAL_OK, "%s",
                   mistral_error());
        mistral_context_free(ctx);
        mistral_model_close(mm);
    }
    EXPECT(want.n[0] == 12 && got.n[0] == 12 && !memcmp(want.ids[0], got.ids[0], sizeof want.ids[0]),
           "mem_limit %ld: other tokens", least);
}

/* fast_bf16 on a bf16 checkpoint: other logits than the exact products,
 * near them; 2 is refused. */
static void test_fast_bf16(void) {
    MistralModel *m = NULL;
    EXPECT(mistral_model_open(&m, TINY "dense_sw8_bf16", NULL) == MISTRAL_OK, "%s", mistral_error());
    if (!m) return;
    MistralInfo info;
    EXPECT(mistral_model_info(m, &info) == MISTRAL_OK, "info");
    int nv = info.n_vocab, toks[6] = {1, 5, 9, 2, 7, 3};
    float *out[2] = {malloc(6 * (size_t)nv * sizeof(float)), malloc(6 * (size_t)nv * sizeof(float))};
    MistralContext *ctx = NULL;
    MistralContextParams cp = mistral_context_default_params();
    cp.fast_bf16 = 2;
    EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_ERR_ARGUMENT && !ctx, "fast_bf16 2");
    for (int f = 0; f < 2; f++) {
        cp = mistral_context_default_params();
        cp.n_ctx = 16, cp.fast_bf16 = f;
        EXPECT(mistral_context_new(&ctx, m, &cp) == MISTRAL_OK, "%s", mistral_error());
        if (!ctx) break;
        EXPECT(mistral_decode(ctx, 6, toks, (int[6]){0}, NULL, (unsigned char[6]){1, 1, 1, 1, 1, 1}, out[f]) == MISTRAL_OK,
               "%s", mistral_error());
        mistral_context_free(ctx), ctx = NULL;
    }
    float d = 0;
    for (size_t i = 0; i < 6 * (size_t)nv; i++) d = fmaxf(d, fabsf(out[0][i] - out[1][i]));
    EXPECT(d > 0 && d < 0.2f, "fast_bf16: max logit difference %g", d);
    free(out[0]), free(out[1]);
    mistral_model_close(m);
}

int main(void) {
    test_fast_bf16();
    test_errors();
    test_mem_limit();
    MistralModel *m = NULL;
    EXPECT(mistral_model_open(&m, TINY "moe_sw8_f32", NULL) == MISTRAL_OK, "%s", mistral_error());
    if (m) {
        test_decode(m);
        test_generate(m);
        test_speculation(m);
        mistral_model_close(m);
    }
    test_text();
    return test_done("test_api");
}
