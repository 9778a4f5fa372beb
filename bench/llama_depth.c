/* llama_depth — llama.cpp's decode speed after D prefilled positions, the
 * measurement `mistral bench -d D` makes (llama-bench gained -d only after
 * c392e50): prefill D random token ids untimed (512 per call) once, then
 * time N single-token llama_decode calls; mean ± sd of tok/s over R runs
 * after one warm-up, each from the same D positions (llama_kv_cache_seq_rm
 * drops the decoded ones). Not built by the Makefile:
 *
 *   cc -O2 -o /tmp/llama_depth bench/llama_depth.c -I$LLAMA/include -I$LLAMA/ggml/include \
 *      -L$LLAMA/build/bin -lllama -Wl,-rpath,$LLAMA/build/bin -lm
 *   /tmp/llama_depth MODEL.gguf DEPTH N REPS THREADS [f16|f32] [fa 0|1]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llama.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void decode(struct llama_context *ctx, llama_token *tok, int n) {
    if (llama_decode(ctx, llama_batch_get_one(tok, n))) {
        fprintf(stderr, "llama_decode failed\n");
        exit(1);
    }
}

/* n decode steps after the depth, then back to the depth */
static double run(struct llama_context *ctx, llama_token *tok, int depth, int n) {
    double t0 = now();
    for (int i = 0; i < n; i++) decode(ctx, tok + depth + i, 1);
    double dt = now() - t0;
    llama_kv_cache_seq_rm(ctx, 0, depth, -1);
    return n / dt;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: llama_depth MODEL DEPTH N REPS THREADS [f16|f32] [fa]\n");
        return 2;
    }
    int depth = atoi(argv[2]), n = atoi(argv[3]), reps = atoi(argv[4]), threads = atoi(argv[5]);
    int f32 = argc > 6 && !strcmp(argv[6], "f32"), fa = argc > 7 && atoi(argv[7]);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    struct llama_model *m = llama_model_load_from_file(argv[1], mp);
    if (!m) return 1;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = depth + n + 16, cp.n_batch = 512, cp.n_ubatch = 512;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.type_k = cp.type_v = f32 ? GGML_TYPE_F32 : GGML_TYPE_F16;
    cp.flash_attn = fa;
    cp.no_perf = 1;
    struct llama_context *ctx = llama_init_from_model(m, cp);
    if (!ctx) return 1;
    int nv = llama_vocab_n_tokens(llama_model_get_vocab(m));
    llama_token *tok = malloc((size_t)(depth + n) * sizeof *tok);
    unsigned s = 12345;
    for (int i = 0; i < depth + n; i++) s = s * 1103515245u + 12345u, tok[i] = (llama_token)((s >> 8) % (unsigned)nv);
    for (int s = 0; s < depth; s += 512) decode(ctx, tok + s, depth - s < 512 ? depth - s : 512);
    run(ctx, tok, depth, n < 8 ? n : 8); /* warm-up */
    double sum = 0, ss = 0, *x = malloc((size_t)reps * sizeof *x);
    for (int r = 0; r < reps; r++) sum += x[r] = run(ctx, tok, depth, n);
    double mean = sum / reps;
    for (int r = 0; r < reps; r++) ss += (x[r] - mean) * (x[r] - mean);
    printf("llama.cpp tg%d @ d%d: %.2f ± %.2f tok/s (%s KV, fa %d, %d threads)\n", n, depth, mean,
           reps > 1 ? sqrt(ss / (reps - 1)) : 0, f32 ? "f32" : "f16", fa, threads);
    llama_free(ctx);
    llama_model_free(m);
    return 0;
}
