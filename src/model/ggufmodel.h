/* ggufmodel — a model in one GGUF file (llama.cpp's layout, architecture
 * "llama": Mistral and Mixtral): its hyperparameters from the llama.*
 * metadata and its tensors by llama.cpp's names (model/names.h).
 *
 * Metadata read (llama.cpp's names): general.architecture = "llama";
 * llama.embedding_length, block_count, feed_forward_length,
 * attention.head_count, attention.layer_norm_rms_epsilon (required);
 * attention.head_count_kv (default head_count), attention.key_length
 * (head_dim; default dim / head_count), rope.freq_base (default 10000),
 * expert_count and expert_used_count (0 or absent: dense),
 * attention.sliding_window (an integer, or an array of per-layer windows
 * repeated over the layers, 0 = full attention; absent: full attention;
 * `mistral quantize` writes windows that differ between layers as the array
 * mistral.attention.sliding_window, which is read when the llama key is
 * absent), the
 * vocabulary size from the length of tokenizer.ggml.tokens, else
 * llama.vocab_size. They go through params.json's validation (config.h).
 * GGUF's q and k rows are already in interleaved rotary order. */
#ifndef MODEL_GGUFMODEL_H
#define MODEL_GGUFMODEL_H

#include "format/gguf.h"
#include "model/config.h"
#include "model/weights.h"

/* The hyperparameters of f. 0, or -1 with err naming the file and the key. */
int ggufmodel_config(Config *c, const GGUFFile *f);

/* A weight source over f: native names mapped to llama.cpp's; an expert's
 * w1/w2/w3 is row block E of the stacked blk.N.ffn_{gate,down,up}_exps
 * (dims [cols, rows, n_experts]), or the older blk.N.ffn_{gate,down,up}.E. */
WeightSource weights_source_gguf(const GGUFFile *f);

#endif
