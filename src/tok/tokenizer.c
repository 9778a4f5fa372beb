#include "tok/tokenizer.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/utf8.h"
#include "base/util.h"
#include "model/ggufmodel.h"
#include "tok/tokgguf.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int tokenizer_load(Tokenizer *t, const char *path) {
    memset(t, 0, sizeof *t);
    if (ggufmodel_is_gguf(path)) {
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

void tokenizer_free(Tokenizer *t) {
    if (t->kind == TOK_TEKKEN) tekken_free(&t->tek);
    else spm_free(&t->spm);
    free(t->path);
    memset(t, 0, sizeof *t);
}

char *tokenizer_find(const char *dir) {
    static const char *const order[] = {".model.v7", ".model.v3", ".model.v2", ".model.v1",
                                        "tokenizer.model", "tekken.json"};
    if (ggufmodel_is_gguf(dir)) return xstrdup(dir); /* a GGUF model holds its tokenizer */
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

int tokenizer_encode(const Tokenizer *t, const char *text, size_t len, int bos, IntVec *out) {
    size_t bad;
    if (!utf8_valid(text, len, &bad)) return err_set("text is not valid UTF-8 (byte %zu)", bad);
    if (bos && t->bos >= 0) intvec_push(out, t->bos);
    return t->kind == TOK_TEKKEN ? tekken_encode(&t->tek, text, len, out)
                                 : spm_encode(&t->spm, text, len, out);
}

int tokenizer_decode(const Tokenizer *t, const int *ids, int n, ByteBuf *out) {
    return t->kind == TOK_TEKKEN ? tekken_decode(&t->tek, ids, n, out)
                                 : spm_decode(&t->spm, ids, n, out);
}

int tokenizer_decode_more(const Tokenizer *t, const int *ids, int n, ByteBuf *out) {
    return t->kind == TOK_TEKKEN ? tekken_decode(&t->tek, ids, n, out) : spm_decode_more(&t->spm, ids, n, out);
}

int tokenizer_decode_text(const Tokenizer *t, const int *ids, int n, ByteBuf *out) {
    if (t->kind == TOK_SPM) return spm_decode_text(&t->spm, ids, n, out);
    ByteBuf raw = {0};
    int rc = tekken_decode(&t->tek, ids, n, &raw);
    if (rc == 0) utf8_replace_invalid(out, raw.p ? raw.p : "", raw.n);
    bytebuf_free(&raw);
    return rc;
}

int tokenizer_piece(const Tokenizer *t, int id, ByteBuf *out) {
    if (id < 0 || id >= t->n_vocab) return err_set("token id %d is outside the vocabulary (0..%d)", id, t->n_vocab - 1);
    if (t->kind == TOK_TEKKEN) return tekken_decode(&t->tek, &id, 1, out);
    const Spm *s = &t->spm;
    if (s->type[id] == SPM_BYTE) return spm_decode(s, &id, 1, out);
    bytebuf_push(out, "", 0);
    for (const char *p = s->piece[id], *q; *p; p = q + 3) {
        if (!(q = strstr(p, "\xe2\x96\x81"))) { /* U+2581 */
            bytebuf_push(out, p, strlen(p));
            break;
        }
        bytebuf_push(out, p, (size_t)(q - p));
        bytebuf_putc(out, ' ');
    }
    return 0;
}

int tokenizer_special(const Tokenizer *t, const char *name) {
    if (t->kind == TOK_TEKKEN) return tekken_special_id(&t->tek, name);
    int id = spm_piece_id(&t->spm, name);
    return id >= 0 && t->spm.type[id] == SPM_CONTROL ? id : -1;
}
