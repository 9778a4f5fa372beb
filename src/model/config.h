/* config — a model's hyperparameters, from Mistral's params.json.
 *
 * params.json keys (DESIGN.md §1–2): dim, n_layers, head_dim (optional:
 * dim / n_heads), hidden_dim, n_heads, n_kv_heads (optional: n_heads),
 * norm_eps, vocab_size, rope_theta (optional: 10000), sliding_window (or
 * _sliding_window): an int, null/absent, or a list of per-layer windows
 * (null entries = full attention) repeated over the layers; moe:
 * {num_experts, num_experts_per_tok}. */
#ifndef MODEL_CONFIG_H
#define MODEL_CONFIG_H

#include <stddef.h>

typedef struct {
    int dim;        /* model width */
    int n_layers;
    int head_dim;   /* may differ from dim / n_heads (Nemo) */
    int hidden_dim; /* FFN width (per expert for MoE) */
    int n_heads;
    int n_kv_heads; /* n_heads % n_kv_heads == 0 */
    int n_vocab;
    float norm_eps;
    double rope_theta;
    int n_experts; /* 0 for a dense model */
    int n_active;  /* experts per token (top-k); 0 for dense */
    int *window;   /* owns [n_layers]: keys each query sees, itself included; 0 = all */
    int rope_half; /* 1: q/k rows in HF's half-split order: rotate (i, i + head_dim/2) */
} Config;

/* Parses params.json text (len bytes; `where` names it in errors) and checks
 * every value. Returns 0, or -1 with err set; c is zeroed on error. */
int config_parse(Config *c, const char *json, size_t len, const char *where);
/* Reads and parses the file at path. */
int config_load(Config *c, const char *path);
/* Sets every layer's window to w (0 = full attention). Returns 0 or -1. */
int config_set_window(Config *c, int w);
/* Bounds how far back attention reaches: layers without a window get
 * full_window (> 0; 0: they keep full attention) and windows wider than
 * max_window (> 0; 0: none) narrow to it. Returns 0 or -1. */
int config_bound_windows(Config *c, int full_window, int max_window);
/* Frees; accepts a zeroed struct. */
void config_free(Config *c);

#endif
