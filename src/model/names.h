/* names — llama.cpp's GGUF tensor names for the native names the engine uses
 * (DESIGN.md §2): "layers.3.attention.wq.weight" <-> "blk.3.attn_q.weight".
 * Mixtral's experts are stacked in GGUF: the native
 * "layers.N.feed_forward.experts.E.w1.weight" is row block E of
 * "blk.N.ffn_gate_exps.weight" (dims [dim, hidden_dim, n_experts]). */
#ifndef MODEL_NAMES_H
#define MODEL_NAMES_H

#include <stddef.h>

/* The GGUF name of a native tensor name; for an expert's w1/w2/w3 the stacked
 * tensor's name, with *expert set to E (else -1). Returns 0, or -1 for a
 * name that has no GGUF counterpart. */
int names_native_to_gguf(char *out, size_t cap, const char *native, int *expert);

#endif
