#include "tok/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"
#include "base/util.h"

void tokenizer_free(Tokenizer *t) {
    if (t->kind == TOK_TEKKEN) tekken_free(&t->tek);
    else spm_free(&t->spm);
    free(t->path);
    memset(t, 0, sizeof *t);
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
