/* cmd_info — mistral info MODEL: what a model is, from its files. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/cli.h"
#include "app/commands.h"
#include "base/util.h"
#include "tok/chat.h"
#include "tok/tokfile.h"

/* Bytes and tensors of one dtype name, over the files of m. */
typedef struct {
    char name[16];
    long long bytes, tensors;
} DTypeUse;

static void count(DTypeUse *u, int *n, const char *name, size_t bytes) {
    int i = 0;
    while (i < *n && strcmp(u[i].name, name)) i++;
    if (i == 63) name = "other", i = 63; /* more dtypes than anyone writes */
    if (i == *n) snprintf(u[(*n)++].name, sizeof u->name, "%s", name);
    u[i].bytes += (long long)bytes, u[i].tensors++;
}

/* Parameters and bytes by dtype of t[0..n). A tensor's elements are
 * multiplied in the order its container checked their product (GGUF from the
 * row outwards, safetensors from the outermost axis), so it cannot overflow. */
static void add_tensors(const Tensor *t, int n, int from_row, DTypeUse *u, int *n_u, long long *params) {
    for (int i = 0; i < n; i++) {
        long long e = 1;
        for (int d = 0; d < t[i].ndim; d++) e *= from_row ? tensor_ne(&t[i], d) : t[i].shape[d];
        *params += e;
        count(u, n_u, t[i].dtype_name ? t[i].dtype_name : "?", t[i].nbytes);
    }
}

/* Tensors, parameters and bytes by dtype, over every tensor in the files. */
static long long tensor_stats(const Model *m, DTypeUse *u, int *n_u, long long *params) {
    *params = 0;
    if (m->gguf.version) {
        add_tensors(m->gguf.t, m->gguf.n_tensors, 1, u, n_u, params);
        return m->gguf.n_tensors;
    }
    long long n = 0;
    for (int f = 0; f < m->ts.n_files; f++) {
        add_tensors(m->ts.files[f].t, m->ts.files[f].n, 0, u, n_u, params);
        n += m->ts.files[f].n;
    }
    return n;
}

/* "8 (all 32 layers)", "4096, full (repeated over 4 layers)", "full". */
static void windows_text(const Config *c, char *out, size_t cap) {
    int period = c->n_layers;
    for (int p = 1; p <= c->n_layers; p++) {
        int ok = c->n_layers % p == 0;
        for (int l = p; l < c->n_layers && ok; l++) ok = c->window[l] == c->window[l % p];
        if (ok) {
            period = p;
            break;
        }
    }
    size_t k = 0;
    out[0] = 0;
    for (int l = 0; l < period && k + 24 < cap; l++)
        k += (size_t)snprintf(out + k, cap - k, "%s%s", l ? ", " : "", c->window[l] ? "" : "full"),
        k += c->window[l] ? (size_t)snprintf(out + k, cap - k, "%d", c->window[l]) : 0;
    if (k + 40 < cap)
        snprintf(out + k, cap - k, period == 1 ? " (all %d layers)" : " (repeated over %d layers)", c->n_layers);
}

int cmd_info(const Options *o) {
    if (!o->model && o->n_args == 1) ((Options *)o)->model = o->args[0];
    if (!o->model || o->n_args > 1) usage_error(o->cmd, "%s", "expected one MODEL");
    Model m;
    ModelOptions mo = {.sliding_window = -1};
    if (model_load(&m, o->model, &mo)) die("%s", err_msg());
    const Config *c = &m.cfg;
    char layout[32], windows[256];
    if (m.gguf.version) snprintf(layout, sizeof layout, "GGUF v%d", m.gguf.version);
    else snprintf(layout, sizeof layout, "%s", m.hf ? "Hugging Face" : "native");
    windows_text(c, windows, sizeof windows);
    DTypeUse use[64];
    memset(use, 0, sizeof use);
    int n_use = 0;
    long long params, n_tensors = tensor_stats(&m, use, &n_use, &params);
    long long kv_token = 2LL * c->n_layers * c->n_kv_heads * c->head_dim * (long long)sizeof(float);

    Tokenizer tok;
    int has_tok = 0, fmt = -1;
    char *tpath = o->tokenizer ? xstrdup(o->tokenizer) : tokenizer_find(o->model);
    if (tpath && tokenizer_load(&tok, tpath) == 0) {
        has_tok = 1;
        fmt = chat_format_default(&tok);
    }
    free(tpath);

    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model", o->model);
    cJSON_AddStringToObject(j, "layout", layout);
    cJSON_AddNumberToObject(j, "dim", c->dim);
    cJSON_AddNumberToObject(j, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(j, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(j, "hidden_dim", c->hidden_dim);
    cJSON_AddNumberToObject(j, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(j, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(j, "n_vocab", c->n_vocab);
    cJSON_AddNumberToObject(j, "norm_eps", c->norm_eps);
    cJSON_AddNumberToObject(j, "rope_theta", c->rope_theta);
    cJSON *win = cJSON_AddArrayToObject(j, "sliding_window");
    for (int l = 0; l < c->n_layers; l++) cJSON_AddItemToArray(win, cJSON_CreateNumber(c->window[l]));
    cJSON_AddNumberToObject(j, "n_experts", c->n_experts);
    cJSON_AddNumberToObject(j, "n_active", c->n_active);
    cJSON_AddNumberToObject(j, "tensors", (double)n_tensors);
    cJSON_AddNumberToObject(j, "parameters", (double)params);
    cJSON *by = cJSON_AddObjectToObject(j, "bytes_by_dtype");
    for (int i = 0; i < n_use; i++) cJSON_AddNumberToObject(by, use[i].name, (double)use[i].bytes);
    cJSON_AddNumberToObject(j, "kv_bytes_per_token", (double)kv_token);
    if (has_tok) {
        cJSON *t = cJSON_AddObjectToObject(j, "tokenizer");
        cJSON_AddStringToObject(t, "kind", tok.kind == TOK_TEKKEN ? "tekken" : "sentencepiece");
        cJSON_AddStringToObject(t, "path", tok.path ? tok.path : "");
        cJSON_AddNumberToObject(t, "n_vocab", tok.n_vocab);
        cJSON_AddNumberToObject(t, "bos", tok.bos);
        cJSON_AddNumberToObject(t, "eos", tok.eos);
        if (fmt > 0) cJSON_AddNumberToObject(t, "chat_format", fmt);
    }

    if (o->json) {
        char *s = cJSON_Print(j);
        puts(s);
        free(s);
    } else {
        printf("model         %s\nlayout        %s\n", o->model, layout);
        printf("dimensions    dim %d, %d layers, %d heads x %d (%d kv heads), ffn %d, vocab %d\n", c->dim,
               c->n_layers, c->n_heads, c->head_dim, c->n_kv_heads, c->hidden_dim, c->n_vocab);
        printf("norm eps      %g\nrope theta    %g\nwindows       %s\n", c->norm_eps, c->rope_theta, windows);
        if (c->n_experts) printf("experts       %d, %d active per token\n", c->n_experts, c->n_active);
        else printf("experts       none (dense)\n");
        if (has_tok) {
            printf("tokenizer     %s, %d tokens, bos %d, eos %d (%s)\n",
                   tok.kind == TOK_TEKKEN ? "Tekken" : "SentencePiece", tok.n_vocab, tok.bos, tok.eos, tok.path);
            if (fmt > 0) printf("chat format   v%d\n", fmt);
            else printf("chat format   none (%s)\n", err_msg());
        } else {
            printf("tokenizer     none\n");
        }
        printf("tensors       %lld, %lld parameters\n", n_tensors, params);
        for (int i = 0; i < n_use; i++)
            printf("  %-10s  %lld tensors, %lld bytes\n", use[i].name, use[i].tensors, use[i].bytes);
        printf("KV cache      %lld bytes per token per sequence (f32)", kv_token);
        int rolling = 1;
        long long most = 0;
        for (int l = 0; l < c->n_layers; l++) {
            rolling &= c->window[l] > 0;
            most += kv_token / c->n_layers * c->window[l];
        }
        if (rolling) printf("; at most %lld bytes per sequence (rolling windows)", most);
        putchar('\n');
    }
    cJSON_Delete(j);
    if (has_tok) tokenizer_free(&tok);
    model_free(&m);
    return fflush(stdout) == 0 ? 0 : 1;
}
