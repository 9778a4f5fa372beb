/* hf — the Hugging Face layout of Mistral and Mixtral checkpoints:
 * config.json (MistralForCausalLM, MixtralForCausalLM), model.safetensors or
 * shards with model.safetensors.index.json, and HF's tensor names.
 *
 * HF stores wq and wk with each head's rows permuted for its half-split
 * rotary embedding (rows 0, 2, 4, ... then 1, 3, 5, ...). Rather than copy
 * and un-permute them, the engine rotates the pairs (i, i + head_dim/2) of
 * such models (Config.rope_half): q·k is the same under the same permutation
 * of both, so the results equal the native layout's without touching the
 * mapped weights. */
#ifndef MODEL_HF_H
#define MODEL_HF_H

#include <stddef.h>

#include "model/config.h"

/* Parses config.json text into c (rope_half set). 0 or -1 with err set. */
int hf_config_parse(Config *c, const char *json, size_t len, const char *where);
int hf_config_load(Config *c, const char *path);
/* HF's name of a tensor given its native name ("layers.3.attention.wq.weight"
 * -> "model.layers.3.self_attn.q_proj.weight"). */
void hf_tensor_name(char *out, size_t cap, const char *native);

#endif
