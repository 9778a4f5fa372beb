/* weights — the model's tensors as views into the checkpoint, every one
 * checked for presence, dtype and shape against the config at load. */
#ifndef MODEL_WEIGHTS_H
#define MODEL_WEIGHTS_H

#include "format/tensor.h"
#include "format/tensorset.h"
#include "kern/dtype.h"
#include "model/config.h"

typedef struct {
    Mat w1; /* (hidden_dim, dim)  gate projection */
    Mat w2; /* (dim, hidden_dim)  down projection */
    Mat w3; /* (hidden_dim, dim)  up projection */
} FFNWeights;

typedef struct {
    float *attention_norm; /* owns (dim), converted to fp32 */
    float *ffn_norm;       /* owns (dim) */
    Mat wq;                /* (n_heads * head_dim, dim) */
    Mat wk;                /* (n_kv_heads * head_dim, dim) */
    Mat wv;                /* (n_kv_heads * head_dim, dim) */
    Mat wo;                /* (dim, n_heads * head_dim) */
    FFNWeights ffn;        /* dense models */
    Mat gate;              /* (n_experts, dim), MoE models */
    FFNWeights *experts;   /* owns [n_experts], MoE models */
} LayerWeights;

typedef struct {
    Mat tok_embeddings;   /* (n_vocab, dim) */
    LayerWeights *layers; /* owns [n_layers] */
    float *norm;          /* owns (dim) */
    Mat output;           /* (n_vocab, dim); tok_embeddings when the file has none */
} Weights;

/* Where weights come from: a safetensors TensorSet (native or HF names) or a
 * GGUF file (llama.cpp names, stacked experts), both seen through the
 * format's one Tensor view. find looks a tensor up by its native name: 0 and
 * *out a view of it (a copy of the container's, or an expert's slice of a
 * stacked tensor); 1 when absent; -1 with err set (a bad tensor). Either
 * way `name` (cap bytes) gets the name looked for in the file, for errors. */
typedef struct WeightSource {
    int (*find)(const struct WeightSource *src, const char *native, Tensor *out, char *name, size_t cap);
    const void *ctx;   /* the container (view) */
    int hf_names;      /* TensorSet: names as Hugging Face writes them */
    const char *where; /* the checkpoint, for errors */
} WeightSource;

/* A source over ts (hf_names: HF's tensor names). */
WeightSource weights_source_tensorset(const TensorSet *ts, int hf_names);

/* Binds w to the tensors of src, checking each one's presence, dtype and
 * shape (a quantized row length must be a multiple of its block). Returns 0,
 * or -1 with err naming the file, the tensor and the problem. */
int weights_bind(Weights *w, const Config *c, const WeightSource *src);
/* Frees; accepts a zeroed or half-built struct (needs the same config). */
void weights_free(Weights *w, const Config *c);

#endif
