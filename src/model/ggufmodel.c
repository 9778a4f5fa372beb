#include "model/ggufmodel.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "model/names.h"

/* ---- hyperparameters ------------------------------------------------------- */

/* Adds the u32 at key to p as `name`: 0, 1 when absent and not required, -1. */
static int add_u32(cJSON *p, const GGUFFile *f, const char *key, const char *name, int required) {
    uint32_t v;
    int rc = gguf_get_u32(f, key, &v);
    if (rc < 0 || (rc > 0 && required)) return -1;
    if (rc == 0) cJSON_AddNumberToObject(p, name, (double)v);
    return rc;
}

static int add_window(cJSON *p, const GGUFFile *f) {
    const char *key = "llama.attention.sliding_window";
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv) kv = gguf_find_kv(f, key = "mistral.attention.sliding_window");
    if (!kv) return 0;
    if (kv->v.type != GGUF_ARRAY) {
        uint32_t w;
        if (gguf_get_u32(f, key, &w)) return -1;
        if (w) cJSON_AddNumberToObject(p, "sliding_window", (double)w);
        return 0;
    }
    if (kv->v.n == 0 || kv->v.n > 4096) return err_set("%s: \"%s\" has %llu entries", f->path, key,
                                                       (unsigned long long)kv->v.n);
    int32_t *w = xmalloc(kv->v.n * sizeof *w);
    int rc = gguf_array_i32(&kv->v, w, key);
    if (rc == 0) {
        cJSON *list = cJSON_AddArrayToObject(p, "sliding_window");
        for (uint64_t i = 0; i < kv->v.n; i++)
            cJSON_AddItemToArray(list, w[i] > 0 ? cJSON_CreateNumber(w[i]) : cJSON_CreateNull());
    }
    free(w);
    return rc ? err_set("%s: \"%s\" is not an array of window sizes", f->path, key) : 0;
}

static int build_params(cJSON *p, const GGUFFile *f) {
    const char *arch;
    if (gguf_get_string(f, "general.architecture", &arch)) return -1;
    if (strcmp(arch, "llama"))
        return err_set("%s: general.architecture is \"%.40s\"; mistral.c reads \"llama\" "
                       "(Mistral, Mixtral)", f->path, arch);
    if (add_u32(p, f, "llama.embedding_length", "dim", 1) ||
        add_u32(p, f, "llama.block_count", "n_layers", 1) ||
        add_u32(p, f, "llama.feed_forward_length", "hidden_dim", 1) ||
        add_u32(p, f, "llama.attention.head_count", "n_heads", 1) ||
        add_u32(p, f, "llama.attention.head_count_kv", "n_kv_heads", 0) < 0 ||
        add_u32(p, f, "llama.attention.key_length", "head_dim", 0) < 0)
        return -1;
    float eps, theta;
    if (gguf_get_f32(f, "llama.attention.layer_norm_rms_epsilon", &eps)) return -1;
    cJSON_AddNumberToObject(p, "norm_eps", eps);
    int rc = gguf_get_f32(f, "llama.rope.freq_base", &theta);
    if (rc < 0) return -1;
    if (rc == 0) cJSON_AddNumberToObject(p, "rope_theta", theta);
    uint32_t ne = 0, na = 0;
    if (gguf_get_u32(f, "llama.expert_count", &ne) < 0) return -1;
    if (ne > 0) {
        if (gguf_get_u32(f, "llama.expert_used_count", &na)) return -1;
        cJSON *moe = cJSON_AddObjectToObject(p, "moe");
        cJSON_AddNumberToObject(moe, "num_experts", ne);
        cJSON_AddNumberToObject(moe, "num_experts_per_tok", na);
    }
    const GGUFKV *tokens = gguf_find_kv(f, "tokenizer.ggml.tokens");
    if (tokens) {
        if (tokens->v.type != GGUF_ARRAY || tokens->v.elem_type != GGUF_STRING)
            return err_set("%s: \"tokenizer.ggml.tokens\" is not an array of strings", f->path);
        cJSON_AddNumberToObject(p, "vocab_size", (double)tokens->v.n);
    } else if (add_u32(p, f, "llama.vocab_size", "vocab_size", 0)) {
        return err_set("%s: no vocabulary size (missing key \"tokenizer.ggml.tokens\" and "
                       "\"llama.vocab_size\")", f->path);
    }
    return add_window(p, f);
}

int ggufmodel_config(Config *c, const GGUFFile *f) {
    memset(c, 0, sizeof *c);
    cJSON *p = cJSON_CreateObject();
    int rc = build_params(p, f);
    if (rc == 0) {
        char *text = cJSON_PrintUnformatted(p);
        rc = config_parse(c, text, strlen(text), f->path);
        free(text);
    }
    cJSON_Delete(p);
    return rc;
}

/* ---- tensors ----------------------------------------------------------------- */

static int gguf_find(const WeightSource *src, const char *native, Tensor *out, char *name, size_t cap) {
    const GGUFFile *f = src->ctx;
    int e;
    if (names_native_to_gguf(name, cap, native, &e)) {
        snprintf(name, cap, "%s", native);
        return 1;
    }
    const Tensor *t = gguf_find_tensor(f, name);
    if (e >= 0 && !t) { /* older files: one tensor per expert, blk.N.ffn_gate.E.weight */
        char stacked[256];
        snprintf(stacked, sizeof stacked, "%.200s", name);
        char *x = strstr(stacked, "_exps.weight");
        if (x) {
            *x = 0;
            snprintf(name, cap, "%s.%d.weight", stacked, e);
            t = gguf_find_tensor(f, name);
            if (!t) /* name both in the error */
                snprintf(name, cap, "%.100s_exps.weight\" or \"%.100s.%d.weight", stacked, stacked, e);
            e = -1;
        }
    }
    if (!t) return 1;
    if (t->dtype < 0) return gguf_get_tensor(f, name) ? 0 : -1; /* sets err */
    *out = *t;
    /* Row block e of the stack [n_experts, rows, cols] is expert e's matrix. */
    if (e < 0 || t->ndim != 3 || e >= t->shape[0]) return 0; /* the shape check reports it */
    return tensor_slice(t, e, out);
}

WeightSource weights_source_gguf(const GGUFFile *f) {
    return (WeightSource){.find = gguf_find, .ctx = f, .where = f->path};
}
