#include "tok/tokfile.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "format/gguf.h"
#include "tok/tokgguf.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int tokenizer_load(Tokenizer *t, const char *path) {
    memset(t, 0, sizeof *t);
    if (gguf_is_file(path)) {
        GGUFFile f = {0};
        int rc = gguf_open(&f, path) ? -1 : tokenizer_from_gguf(t, &f);
        gguf_close(&f);
        return rc;
    }
    t->path = xstrdup(path);
    if (ends_with(path, ".json")) {
        t->kind = TOK_TEKKEN;
        if (tekken_load(&t->tek, path)) goto fail;
        t->n_vocab = t->tek.n_vocab, t->bos = t->tek.bos, t->eos = t->tek.eos;
        snprintf(t->version, sizeof t->version, "tekken");
        return 0;
    }
    t->kind = TOK_SPM;
    if (spm_load(&t->spm, path)) goto fail;
    t->n_vocab = t->spm.n, t->bos = t->spm.opt.bos, t->eos = t->spm.opt.eos;
    const char *v = strrchr(path, '.');
    if (v && v[1] == 'v' && strlen(v + 1) < sizeof t->version) snprintf(t->version, sizeof t->version, "%s", v + 1);
    return 0;
fail:
    tokenizer_free(t);
    return -1;
}

char *tokenizer_find(const char *dir) {
    static const char *const order[] = {".model.v7", ".model.v3", ".model.v2", ".model.v1",
                                        "tokenizer.model", "tekken.json"};
    if (gguf_is_file(dir)) return xstrdup(dir); /* a GGUF model holds its tokenizer */
    DIR *d = opendir(dir);
    if (!d) {
        err_set("%s: cannot open the model directory", dir);
        return NULL;
    }
    char *best = NULL;
    size_t best_rank = sizeof order / sizeof order[0];
    for (struct dirent *e; (e = readdir(d));)
        for (size_t r = 0; r < best_rank; r++)
            if (ends_with(e->d_name, order[r])) {
                size_t n = strlen(dir) + strlen(e->d_name) + 2;
                free(best);
                best = xmalloc(n);
                snprintf(best, n, "%s/%s", dir, e->d_name);
                best_rank = r;
                break;
            }
    closedir(d);
    if (!best) err_set("%s: no tokenizer (tekken.json or tokenizer.model*) in the model directory", dir);
    return best;
}
