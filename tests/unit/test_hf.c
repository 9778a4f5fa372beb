/* test_hf — the Hugging Face layout: a tiny native checkpoint rewritten as
 * HF writes it (config.json, HF names, q/k rows permuted for half-split
 * rotary, one file or shards with an index) gives the native logits. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "harness.h"
#include "model/hf.h"
#include "model/model.h"

/* Writes the tensors [lo, hi) of st to path, renamed to HF names, with wq/wk
 * rows permuted per head as HF's conversion does. */
static void write_hf(const char *path, const Model *m, int lo, int hi, int drop_output) {
    const SafeTensors *st = &m->ts.files[0];
    cJSON *hdr = cJSON_CreateObject();
    size_t off = 0;
    for (int i = lo; i < hi; i++) {
        const Tensor *t = &st->t[i];
        if (drop_output && !strcmp(t->name, "output.weight")) continue;
        char name[300];
        hf_tensor_name(name, sizeof name, t->name);
        cJSON *e = cJSON_AddObjectToObject(hdr, name);
        cJSON_AddStringToObject(e, "dtype", t->dtype_name);
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + t->nbytes)));
        off += t->nbytes;
    }
    char *json = cJSON_PrintUnformatted(hdr);
    size_t hlen = strlen(json), pad = (8 - hlen % 8) % 8;
    FILE *f = fopen(path, "wb");
    CHECK(f);
    unsigned long long n = hlen + pad;
    unsigned char len8[8];
    for (int b = 0; b < 8; b++) len8[b] = (unsigned char)(n >> (8 * b));
    fwrite(len8, 1, 8, f);
    fwrite(json, 1, hlen, f);
    for (size_t p = 0; p < pad; p++) fputc(' ', f);
    int hd = m->cfg.head_dim;
    for (int i = lo; i < hi; i++) {
        const Tensor *t = &st->t[i];
        if (drop_output && !strcmp(t->name, "output.weight")) continue;
        int perm = strstr(t->name, "attention.wq.") || strstr(t->name, "attention.wk.");
        if (!perm) {
            fwrite(t->data, 1, t->nbytes, f);
            continue;
        }
        size_t row = t->nbytes / (size_t)t->shape[0];
        for (int r = 0; r < t->shape[0]; r++) { /* HF row r of head h = native row src */
            int h = r / hd, j = r % hd;
            int src = h * hd + (j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1);
            fwrite((const char *)t->data + (size_t)src * row, 1, row, f);
        }
    }
    fclose(f);
    free(json);
    cJSON_Delete(hdr);
}

static void write_config(const char *dir, const Config *c, int tied) {
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "{\"architectures\": [\"%s\"], \"hidden_size\": %d, \"num_hidden_layers\": %d, "
               "\"num_attention_heads\": %d, \"num_key_value_heads\": %d, \"head_dim\": %d, "
               "\"intermediate_size\": %d, \"rms_norm_eps\": %g, \"vocab_size\": %d, "
               "\"rope_theta\": %g, \"sliding_window\": %d, \"tie_word_embeddings\": %s",
            c->n_experts ? "MixtralForCausalLM" : "MistralForCausalLM", c->dim, c->n_layers,
            c->n_heads, c->n_kv_heads, c->head_dim, c->hidden_dim, c->norm_eps, c->n_vocab,
            c->rope_theta, c->window[0], tied ? "true" : "false");
    if (c->n_experts)
        fprintf(f, ", \"num_local_experts\": %d, \"num_experts_per_tok\": %d", c->n_experts, c->n_active);
    fputs("}\n", f);
    fclose(f);
}

static void logits_of(const char *dir, float *out, int *n_vocab) {
    Model m;
    if (model_load(&m, dir, NULL)) {
        EXPECT(0, "%s", err_msg());
        return;
    }
    int tok[9] = {1, 7, 59, 243, 68, 108, 65, 132, 54}, seq[9] = {0};
    long pos[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    Context ctx;
    CHECK(context_init(&ctx, &m, 1, 9) == 0);
    Batch b = {.n = 9, .token = tok, .seq = seq, .pos = pos};
    EXPECT(forward(&ctx, &b, out) == 0, "%s", err_msg());
    *n_vocab = m.cfg.n_vocab;
    context_free(&ctx);
    model_free(&m);
}

static double max_diff(const float *a, const float *b, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs(a[i] - b[i]) <= w)) w = fabs(a[i] - b[i]);
    return w;
}

static void check(const char *native, const char *tmp) {
    Model m;
    CHECK(model_load(&m, native, NULL) == 0);
    int V = m.cfg.n_vocab, nt = m.ts.files[0].n, v2;
    float *want = xmalloc(9 * (size_t)V * sizeof(float)), *got = xmalloc(9 * (size_t)V * sizeof(float));
    logits_of(native, want, &v2);
    char dir[512], path[600];

    /* one file */
    snprintf(dir, sizeof dir, "%s/one", tmp);
    CHECK(mkdir(dir, 0755) == 0);
    write_config(dir, &m.cfg, 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    write_hf(path, &m, 0, nt, 0);
    logits_of(dir, got, &v2);
    double d = max_diff(got, want, 9 * (size_t)V);
    EXPECT(d < 1e-5, "%s as HF (one file): max diff %g", native, d);

    /* two shards and an index */
    snprintf(dir, sizeof dir, "%s/shards", tmp);
    CHECK(mkdir(dir, 0755) == 0);
    write_config(dir, &m.cfg, 0);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    write_hf(path, &m, 0, nt / 2, 0);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    write_hf(path, &m, nt / 2, nt, 0);
    cJSON *idx = cJSON_CreateObject(), *map = cJSON_AddObjectToObject(idx, "weight_map");
    for (int i = 0; i < nt; i++) {
        char name[300];
        hf_tensor_name(name, sizeof name, m.ts.files[0].t[i].name);
        cJSON_AddStringToObject(map, name, i < nt / 2 ? "model-00001-of-00002.safetensors"
                                                      : "model-00002-of-00002.safetensors");
    }
    char *json = cJSON_Print(idx);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    test_write_file(path, json, strlen(json));
    logits_of(dir, got, &v2);
    d = max_diff(got, want, 9 * (size_t)V);
    EXPECT(d < 1e-5, "%s as HF (shards): max diff %g", native, d);

    /* an index that lies about a shard: refused */
    cJSON_ReplaceItemInObject(map, cJSON_GetArrayItem(map, 0)->string,
                              cJSON_CreateString("model-00002-of-00002.safetensors"));
    free(json);
    json = cJSON_Print(idx);
    test_write_file(path, json, strlen(json));
    Model bad;
    EXPECT(model_load(&bad, dir, NULL) == -1 && strstr(err_msg(), "index says"), "lying index: %s",
           err_msg());
    free(json);
    cJSON_Delete(idx);
    free(want), free(got);
    model_free(&m);
}

int main(void) {
    const char *tmp = test_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/dense", tmp);
    snprintf(b, sizeof b, "%s/moe", tmp);
    CHECK(mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0);
    check("tests/data/tiny/dense_sw8_f32", a);
    check("tests/data/tiny/moe_sw8_bf16", b);
    test_rm_rf(tmp);
    return test_done("test_hf");
}
