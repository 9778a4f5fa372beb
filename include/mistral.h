/* mistral.h — the public C API of mistral.c.
 *
 *   MistralModel *m = mistral_model_open("path/to/model", -1);
 *   if (!m) { fprintf(stderr, "%s\n", mistral_error()); return 1; }
 *   MistralContext *ctx = mistral_context_new(m, 1, 4096);
 *   int prompt[] = {1, 1014, 1032};
 *   const int *prompts[] = {prompt};
 *   int lens[] = {3};
 *   MistralGenParams gp = mistral_gen_defaults();
 *   mistral_generate(ctx, 1, prompts, lens, 32, &gp, on_token, NULL);
 *   mistral_context_free(ctx);
 *   mistral_model_close(m);
 *
 * Functions that can fail return NULL or -1 and leave one line in
 * mistral_error(). The library never exits or prints. A context and its
 * model are used from one thread at a time. */
#ifndef MISTRAL_H
#define MISTRAL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct MistralModel MistralModel;
typedef struct MistralContext MistralContext;

typedef struct {
    int dim, n_layers, head_dim, hidden_dim, n_heads, n_kv_heads, n_vocab;
    int n_experts, n_active; /* 0, 0 for a dense model */
    double rope_theta;
    float norm_eps;
} MistralInfo;

/* The last error on this thread, one line ("" if none). */
const char *mistral_error(void);

/* Opens a model: a directory (native params.json + consolidated.safetensors,
 * or Hugging Face's layout) or one llama.cpp .gguf file, memory mapped and
 * checked. sliding_window: -1 keeps the model's, 0 is full
 * attention, W > 0 sets every layer's window. NULL on error. */
MistralModel *mistral_model_open(const char *path, int sliding_window);
void mistral_model_close(MistralModel *m);
MistralInfo mistral_model_info(const MistralModel *m);
/* Keys a query of `layer` sees (itself included); 0 = all. */
int mistral_model_window(const MistralModel *m, int layer);

/* Rolling KV caches for n_seq sequences of up to n_ctx positions each (a
 * model whose layers all have windows may run past n_ctx). NULL on error. */
MistralContext *mistral_context_new(MistralModel *m, int n_seq, long n_ctx);
void mistral_context_free(MistralContext *ctx);
/* The next position of sequence seq (tokens it holds so far). */
long mistral_seq_pos(const MistralContext *ctx, int seq);
void mistral_seq_reset(MistralContext *ctx, int seq);

/* One forward call over n tokens of several sequences: token i belongs to
 * sequence seq[i] at position pos[i]; one sequence's tokens are contiguous
 * and continue where it stopped. logits (n_want, n_vocab) receives a row for
 * each token with want[i] != 0 (want NULL: every token). 0 or -1. */
int mistral_decode(MistralContext *ctx, int n, const int *tokens, const int *seq,
                   const long *pos, const unsigned char *want, float *logits);

typedef struct {
    float temperature; /* 0: greedy */
    float top_p, min_p;
    int top_k;
    uint64_t seed;
    int chunk_size; /* prompt tokens per forward call; 0: default */
    int eos;        /* stop at this id; -1: never */
} MistralGenParams;

MistralGenParams mistral_gen_defaults(void);

/* Generates up to max_new tokens after each of n_prompts prompts, all in one
 * batch (sequence i of ctx holds prompt i; each is reset first). emit gets
 * every new token; returning nonzero stops that prompt. 0 or -1. */
int mistral_generate(MistralContext *ctx, int n_prompts, const int *const *prompts,
                     const int *n_prompt, int max_new, const MistralGenParams *p,
                     int (*emit)(void *ud, int prompt, int token), void *ud);

#ifdef __cplusplus
}
#endif

#endif
