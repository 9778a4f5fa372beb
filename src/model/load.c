/* load — opening a model: a native or Hugging Face directory, or a .gguf file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "kern/ops.h"
#include "model/ggufmodel.h"
#include "model/hf.h"
#include "model/model.h"
#include "model/prepare.h"

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/name into buf; returns buf. */
static char *join(char *buf, size_t cap, const char *dir, const char *name) {
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

/* A path that exists but is not a regular file is an error of its own. */
static int not_regular(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode);
}

static int load_native(Model *m, const char *dir, char *path, size_t cap) {
    if (config_load(&m->cfg, join(path, cap, dir, "params.json"))) return -1;
    join(path, cap, dir, "consolidated.safetensors");
    if (!is_file(path))
        return not_regular(path) ? err_set("%s: not a regular file", path)
                                 : err_set("%s: no consolidated.safetensors in the model directory", dir);
    return tensorset_open_file(&m->ts, path);
}

static int load_hf(Model *m, const char *dir, char *path, size_t cap) {
    m->hf = 1;
    if (hf_config_load(&m->cfg, join(path, cap, dir, "config.json"))) return -1;
    if (is_file(join(path, cap, dir, "model.safetensors.index.json")))
        return tensorset_open_index(&m->ts, path);
    if (is_file(join(path, cap, dir, "model.safetensors"))) return tensorset_open_file(&m->ts, path);
    return err_set("%s: no model.safetensors or model.safetensors.index.json in the model directory", dir);
}

/* opt's windows over the model's own. */
static int set_windows(Config *c, const ModelOptions *opt) {
    if (!opt) return 0;
    if (opt->sliding_window >= 0 && config_set_window(c, opt->sliding_window)) return -1;
    return config_bound_windows(c, opt->full_window, opt->max_window);
}

/* Hyperparameters and weights of one .gguf file. */
static int load_gguf(Model *m, const char *path, const ModelOptions *opt) {
    if (gguf_open(&m->gguf, path) || ggufmodel_config(&m->cfg, &m->gguf)) return -1;
    if (set_windows(&m->cfg, opt)) return -1;
    WeightSource src = weights_source_gguf(&m->gguf);
    return weights_bind(&m->w, &m->cfg, &src);
}

static void set_rope(Model *m) {
    m->inv_freq = xmalloc((size_t)m->cfg.head_dim / 2 * sizeof(float));
    rope_freqs(m->inv_freq, m->cfg.head_dim, m->cfg.rope_theta);
}

int model_load(Model *m, const char *dir, const ModelOptions *opt) {
    memset(m, 0, sizeof *m);
    struct stat st;
    if (stat(dir, &st) != 0) return err_io("%s: no such model file or directory", dir);
    if (gguf_is_file(dir)) {
        if (load_gguf(m, dir, opt)) {
            model_free(m);
            return -1;
        }
        set_rope(m);
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return err_set("%s: not a model directory (expected params.json + "
                       "consolidated.safetensors, or a Hugging Face config.json) or a .gguf file", dir);
    size_t cap = strlen(dir) + 64;
    char *path = xmalloc(cap);
    int rc = -1;
    if (not_regular(join(path, cap, dir, "params.json"))) err_set("%s: not a regular file", path);
    else if (is_file(path)) rc = load_native(m, dir, path, cap);
    else if (is_file(join(path, cap, dir, "config.json"))) rc = load_hf(m, dir, path, cap);
    else err_set("%s: no params.json (or Hugging Face config.json) in the model directory", dir);
    if (rc == 0) rc = set_windows(&m->cfg, opt);
    if (rc == 0) {
        WeightSource src = weights_source_tensorset(&m->ts, m->hf);
        rc = weights_bind(&m->w, &m->cfg, &src);
    }
    if (rc == 0) set_rope(m);
    free(path);
    if (rc) model_free(m);
    return rc;
}

void model_free(Model *m) {
    model_unpack(m);
    weights_free(&m->w, &m->cfg);
    tensorset_close(&m->ts);
    gguf_close(&m->gguf);
    config_free(&m->cfg);
    free(m->inv_freq);
    memset(m, 0, sizeof *m);
}
