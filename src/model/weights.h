/* weights — the model's tensors as views into the checkpoint, every one
 * checked for presence, dtype and shape against the config at load. */
#ifndef MODEL_WEIGHTS_H
#define MODEL_WEIGHTS_H

#include "kern/dtype.h"
#include "model/config.h"
#include "model/tensorset.h"

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

/* Binds w to the tensors of ts, named natively or (hf_names) as Hugging Face
 * names them, checking each one. Returns 0, or -1 with err naming the file,
 * the tensor and the problem. */
int weights_bind(Weights *w, const Config *c, const TensorSet *ts, int hf_names);
/* Frees; accepts a zeroed or half-built struct (needs the same config). */
void weights_free(Weights *w, const Config *c);

#endif
