#include "model/names.h"

#include <stdio.h>
#include <string.h>

static const char *const top[][2] = {
    {"tok_embeddings.weight", "token_embd.weight"},
    {"norm.weight", "output_norm.weight"},
    {"output.weight", "output.weight"},
};

static const char *const per_layer[][2] = {
    {"attention.wq.weight", "attn_q.weight"},
    {"attention.wk.weight", "attn_k.weight"},
    {"attention.wv.weight", "attn_v.weight"},
    {"attention.wo.weight", "attn_output.weight"},
    {"attention_norm.weight", "attn_norm.weight"},
    {"ffn_norm.weight", "ffn_norm.weight"},
    {"feed_forward.w1.weight", "ffn_gate.weight"},
    {"feed_forward.w2.weight", "ffn_down.weight"},
    {"feed_forward.w3.weight", "ffn_up.weight"},
    {"feed_forward.gate.weight", "ffn_gate_inp.weight"},
};

int names_native_to_gguf(char *out, size_t cap, const char *native, int *expert) {
    *expert = -1;
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(native, top[i][0])) return snprintf(out, cap, "%s", top[i][1]) < (int)cap ? 0 : -1;
    int layer, e, n = 0;
    if (sscanf(native, "layers.%d.%n", &layer, &n) != 1 || n == 0) return -1;
    const char *rest = native + n;
    int m = 0;
    char w[3];
    if (sscanf(rest, "feed_forward.experts.%d.%2[w123].weight%n", &e, w, &m) == 2 &&
        rest[m] == 0 && m > 0) {
        const char *stack = !strcmp(w, "w1") ? "ffn_gate_exps" : !strcmp(w, "w2") ? "ffn_down_exps"
                          : !strcmp(w, "w3") ? "ffn_up_exps" : NULL;
        if (!stack) return -1;
        *expert = e;
        return snprintf(out, cap, "blk.%d.%s.weight", layer, stack) < (int)cap ? 0 : -1;
    }
    for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++)
        if (!strcmp(rest, per_layer[i][0]))
            return snprintf(out, cap, "blk.%d.%s", layer, per_layer[i][1]) < (int)cap ? 0 : -1;
    return -1;
}
