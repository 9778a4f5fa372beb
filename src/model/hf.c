#include "model/hf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* config.json keys -> params.json keys; the validation is params.json's. */
static const char *const key_map[][2] = {
    {"hidden_size", "dim"},          {"num_hidden_layers", "n_layers"},
    {"num_attention_heads", "n_heads"}, {"num_key_value_heads", "n_kv_heads"},
    {"intermediate_size", "hidden_dim"}, {"rms_norm_eps", "norm_eps"},
    {"vocab_size", "vocab_size"},    {"rope_theta", "rope_theta"},
    {"head_dim", "head_dim"},        {"sliding_window", "sliding_window"},
};

int hf_config_parse(Config *c, const char *json, size_t len, const char *where) {
    memset(c, 0, sizeof *c);
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set("%s: invalid JSON", where);
    }
    const cJSON *arch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "architectures"), 0);
    int rc = -1;
    if (arch && (!cJSON_IsString(arch) || (strcmp(arch->valuestring, "MistralForCausalLM") &&
                                           strcmp(arch->valuestring, "MixtralForCausalLM") &&
                                           strcmp(arch->valuestring, "LlamaForCausalLM")))) {
        err_set("%s: architecture \"%s\" is not Mistral or Mixtral", where,
                cJSON_IsString(arch) ? arch->valuestring : "?");
        goto done;
    }
    static const char *const required[] = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                           "intermediate_size", "rms_norm_eps", "vocab_size"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(root, required[i])) {
            err_set("%s: missing \"%s\"", where, required[i]);
            goto done;
        }
    cJSON *p = cJSON_CreateObject();
    for (size_t i = 0; i < sizeof key_map / sizeof key_map[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key_map[i][0]);
        if (v && !cJSON_IsNull(v)) cJSON_AddItemToObject(p, key_map[i][1], cJSON_Duplicate(v, 1));
    }
    const cJSON *ne = cJSON_GetObjectItemCaseSensitive(root, "num_local_experts");
    const cJSON *na = cJSON_GetObjectItemCaseSensitive(root, "num_experts_per_tok");
    if (ne && !cJSON_IsNull(ne)) {
        cJSON *moe = cJSON_AddObjectToObject(p, "moe");
        cJSON_AddItemToObject(moe, "num_experts", cJSON_Duplicate(ne, 1));
        if (na) cJSON_AddItemToObject(moe, "num_experts_per_tok", cJSON_Duplicate(na, 1));
    }
    char *text = cJSON_PrintUnformatted(p);
    cJSON_Delete(p);
    rc = config_parse(c, text, strlen(text), where);
    free(text);
    if (rc == 0) c->rope_half = 1;
done:
    cJSON_Delete(root);
    return rc;
}

static int parse_cb(void *c, const char *text, size_t len, const char *where) {
    return hf_config_parse(c, text, len, where);
}

int hf_config_load(Config *c, const char *path) {
    memset(c, 0, sizeof *c);
    return parse_file(path, parse_cb, c);
}

/* native prefix -> HF prefix, longest first where one is a prefix of another */
static const char *const name_map[][2] = {
    {"tok_embeddings.weight", "model.embed_tokens.weight"},
    {"norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
    {"attention.wq.", "self_attn.q_proj."},
    {"attention.wk.", "self_attn.k_proj."},
    {"attention.wv.", "self_attn.v_proj."},
    {"attention.wo.", "self_attn.o_proj."},
    {"attention_norm.", "input_layernorm."},
    {"ffn_norm.", "post_attention_layernorm."},
    {"feed_forward.gate.", "block_sparse_moe.gate."},
    {"feed_forward.experts.", "block_sparse_moe.experts."},
    {"feed_forward.w1.", "mlp.gate_proj."},
    {"feed_forward.w2.", "mlp.down_proj."},
    {"feed_forward.w3.", "mlp.up_proj."},
};

void hf_tensor_name(char *out, size_t cap, const char *native) {
    int layer, n = 0;
    if (sscanf(native, "layers.%d.%n", &layer, &n) == 1 && n > 0) {
        const char *rest = native + n;
        for (size_t i = 3; i < sizeof name_map / sizeof name_map[0]; i++) {
            size_t k = strlen(name_map[i][0]);
            if (!strncmp(rest, name_map[i][0], k)) {
                snprintf(out, cap, "model.layers.%d.%s%s", layer, name_map[i][1], rest + k);
                return;
            }
        }
        snprintf(out, cap, "model.layers.%d.%s", layer, rest);
        return;
    }
    for (size_t i = 0; i < 3; i++)
        if (!strcmp(native, name_map[i][0])) {
            snprintf(out, cap, "%s", name_map[i][1]);
            return;
        }
    snprintf(out, cap, "%s", native);
}
