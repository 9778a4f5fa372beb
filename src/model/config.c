#include "model/config.h"

#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* Upper bounds that keep every size product far from overflow while leaving
 * room for any real model (Mistral Large: dim 12288, vocab 131072). */
#define MAX_DIM (1 << 20)
#define MAX_LAYERS 4096
#define MAX_HEADS 4096
#define MAX_VOCAB (1 << 24)
#define MAX_EXPERTS 1024
#define MAX_WINDOW (1 << 30)

/* An integer-valued JSON number in [lo, hi]. */
static int get_int(const cJSON *o, const char *key, int required, int dflt, int lo, int hi,
                   int *out, const char *where) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return err_set("%s: missing \"%s\"", where, key);
        *out = dflt;
        return 0;
    }
    if (!cJSON_IsNumber(v)) return err_set("%s: \"%s\" is not a number", where, key);
    double d = v->valuedouble;
    if (d != floor(d) || d < lo || d > hi)
        return err_set("%s: \"%s\" = %g is not an integer in [%d, %d]", where, key, d, lo, hi);
    *out = (int)d;
    return 0;
}

static int get_window(const cJSON *v, int *out, const char *where) {
    if (cJSON_IsNull(v)) {
        *out = 0;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 ||
        v->valuedouble > MAX_WINDOW)
        return err_set("%s: \"sliding_window\" must be a positive integer, null or a list of them",
                       where);
    *out = (int)v->valuedouble;
    return 0;
}

static int parse_windows(Config *c, const cJSON *root, const char *where) {
    const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
    if (!sw) sw = cJSON_GetObjectItemCaseSensitive(root, "_sliding_window");
    c->window = xcalloc((size_t)c->n_layers, sizeof(int));
    if (!sw) return 0; /* absent: full causal attention */
    if (!cJSON_IsArray(sw)) {
        int w;
        if (get_window(sw, &w, where)) return -1;
        for (int l = 0; l < c->n_layers; l++) c->window[l] = w;
        return 0;
    }
    int n = cJSON_GetArraySize(sw);
    if (n < 1 || c->n_layers % n != 0)
        return err_set("%s: \"sliding_window\" list has %d entries; n_layers (%d) must be a "
                       "multiple of it", where, n, c->n_layers);
    for (int l = 0; l < c->n_layers; l++)
        if (get_window(cJSON_GetArrayItem(sw, l % n), &c->window[l], where)) return -1;
    return 0;
}

static int parse(Config *c, const cJSON *root, const char *where) {
    if (!cJSON_IsObject(root)) return err_set("%s: not a JSON object", where);
    if (get_int(root, "dim", 1, 0, 1, MAX_DIM, &c->dim, where) ||
        get_int(root, "n_layers", 1, 0, 1, MAX_LAYERS, &c->n_layers, where) ||
        get_int(root, "n_heads", 1, 0, 1, MAX_HEADS, &c->n_heads, where) ||
        get_int(root, "n_kv_heads", 0, c->n_heads, 1, MAX_HEADS, &c->n_kv_heads, where) ||
        get_int(root, "hidden_dim", 1, 0, 1, MAX_DIM, &c->hidden_dim, where) ||
        get_int(root, "vocab_size", 1, 0, 1, MAX_VOCAB, &c->n_vocab, where))
        return -1;
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "head_dim");
    if (c->dim % c->n_heads != 0 && (!hd || cJSON_IsNull(hd)))
        return err_set("%s: dim %d is not a multiple of n_heads %d and no \"head_dim\" is given",
                       where, c->dim, c->n_heads);
    if (get_int(root, "head_dim", 0, c->dim / c->n_heads, 2, 1 << 16, &c->head_dim, where))
        return -1;
    if (c->head_dim % 2 != 0)
        return err_set("%s: head_dim %d is odd; rotary embeddings need pairs", where, c->head_dim);
    if ((long long)c->n_heads * c->head_dim > MAX_DIM)
        return err_set("%s: n_heads * head_dim = %lld is too large", where,
                       (long long)c->n_heads * c->head_dim);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return err_set("%s: n_heads %d is not a multiple of n_kv_heads %d", where, c->n_heads,
                       c->n_kv_heads);

    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "norm_eps");
    if (!eps) return err_set("%s: missing \"norm_eps\"", where);
    if (!cJSON_IsNumber(eps) || !(eps->valuedouble >= FLT_MIN && eps->valuedouble < 1))
        return err_set("%s: \"norm_eps\" must be a number in (0, 1)", where);
    c->norm_eps = (float)eps->valuedouble;

    const cJSON *theta = cJSON_GetObjectItemCaseSensitive(root, "rope_theta");
    c->rope_theta = 10000.0; /* Mistral 7B v0.1 has no key: the reference's default */
    if (theta && !cJSON_IsNull(theta)) {
        if (!cJSON_IsNumber(theta) || !(theta->valuedouble > 1 && theta->valuedouble < 1e30))
            return err_set("%s: \"rope_theta\" must be a number > 1", where);
        c->rope_theta = theta->valuedouble;
    }

    const cJSON *moe = cJSON_GetObjectItemCaseSensitive(root, "moe");
    if (moe && !cJSON_IsNull(moe)) {
        if (!cJSON_IsObject(moe)) return err_set("%s: \"moe\" is not an object", where);
        if (get_int(moe, "num_experts", 1, 0, 1, MAX_EXPERTS, &c->n_experts, where) ||
            get_int(moe, "num_experts_per_tok", 1, 0, 1, MAX_EXPERTS, &c->n_active, where))
            return -1;
        if (c->n_active > c->n_experts)
            return err_set("%s: num_experts_per_tok %d > num_experts %d", where, c->n_active,
                           c->n_experts);
    }
    return parse_windows(c, root, where);
}

int config_parse(Config *c, const char *json, size_t len, const char *where) {
    memset(c, 0, sizeof *c);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) return err_set("%s: invalid JSON", where);
    while (end < json + len && strchr(" \t\r\n", *end) && *end) end++;
    if (end != json + len) {
        cJSON_Delete(root);
        return err_set("%s: text after the JSON object", where);
    }
    int rc = parse(c, root, where);
    cJSON_Delete(root);
    if (rc) config_free(c);
    return rc;
}

static int parse_cb(void *c, const char *text, size_t len, const char *where) {
    return config_parse(c, text, len, where);
}

int config_load(Config *c, const char *path) {
    memset(c, 0, sizeof *c);
    return parse_file(path, parse_cb, c);
}

int config_set_window(Config *c, int w) {
    if (w < 0 || w > MAX_WINDOW) return err_set("sliding window %d out of range", w);
    for (int l = 0; l < c->n_layers; l++) c->window[l] = w;
    return 0;
}

int config_bound_windows(Config *c, int full_window, int max_window) {
    if (full_window < 0 || full_window > MAX_WINDOW || max_window < 0 || max_window > MAX_WINDOW)
        return err_set("window bounds %d, %d out of range", full_window, max_window);
    for (int l = 0; l < c->n_layers; l++) {
        if (c->window[l] == 0) c->window[l] = full_window;
        if (max_window && (c->window[l] == 0 || c->window[l] > max_window)) c->window[l] = max_window;
    }
    return 0;
}

void config_free(Config *c) {
    free(c->window);
    memset(c, 0, sizeof *c);
}
