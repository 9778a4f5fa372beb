/* load — opening a model directory in Mistral's native layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/util.h"
#include "kern/ops.h"
#include "model/model.h"

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int model_load(Model *m, const char *dir, const ModelOptions *opt) {
    memset(m, 0, sizeof *m);
    struct stat st;
    if (stat(dir, &st) != 0) return err_set("%s: no such model file or directory", dir);
    if (!S_ISDIR(st.st_mode))
        return err_set("%s: not a model directory (expected params.json + "
                       "consolidated.safetensors)", dir);
    size_t n = strlen(dir) + 64;
    char *params = xmalloc(n), *weights = xmalloc(n);
    snprintf(params, n, "%s/params.json", dir);
    snprintf(weights, n, "%s/consolidated.safetensors", dir);
    int rc = -1;
    if (stat(params, &st) == 0 && !S_ISREG(st.st_mode)) {
        err_set("%s: not a regular file", params);
        goto fail;
    }
    if (!is_file(params)) {
        snprintf(params, n, "%s/config.json", dir);
        if (is_file(params))
            err_set("%s: Hugging Face layout (config.json) is not supported yet; "
                    "expected params.json", dir);
        else
            err_set("%s: no params.json in the model directory", dir);
        goto fail;
    }
    if (config_load(&m->cfg, params)) goto fail;
    if (opt && opt->sliding_window >= 0 && config_set_window(&m->cfg, opt->sliding_window))
        goto fail;
    if (!is_file(weights)) {
        if (stat(weights, &st) == 0) err_set("%s: not a regular file", weights);
        else err_set("%s: no consolidated.safetensors in the model directory", dir);
        goto fail;
    }
    if (st_open(&m->st, weights) || weights_bind(&m->w, &m->cfg, &m->st)) goto fail;
    m->inv_freq = xmalloc((size_t)m->cfg.head_dim / 2 * sizeof(float));
    rope_freqs(m->inv_freq, m->cfg.head_dim, m->cfg.rope_theta);
    rc = 0;
fail:
    free(params);
    free(weights);
    if (rc) model_free(m);
    return rc;
}

void model_free(Model *m) {
    weights_free(&m->w, &m->cfg);
    st_close(&m->st);
    config_free(&m->cfg);
    free(m->inv_freq);
    memset(m, 0, sizeof *m);
}
