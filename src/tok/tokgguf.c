#include "tok/tokgguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

/* ---- GPT-2's byte-to-unicode spelling ---------------------------------------- */

/* Bytes that spell themselves: '!'..'~', '¡'..'¬', '®'..'ÿ'; the other 68
 * map, in order, to U+0100 and up. */
static int self_byte(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

static unsigned byte_to_cp(int b) {
    if (self_byte(b)) return (unsigned)b;
    int n = 0;
    for (int i = 0; i < b; i++) n += !self_byte(i);
    return 256u + (unsigned)n;
}

static void put_cp(ByteBuf *out, unsigned c) {
    char u[2];
    if (c < 0x80) {
        bytebuf_putc(out, (char)c);
        return;
    }
    u[0] = (char)(0xc0 | c >> 6), u[1] = (char)(0x80 | (c & 0x3f)); /* c < 0x800 here */
    bytebuf_push(out, u, 2);
}

/* Decodes a spelled token into bytes (out has room for s.len bytes):
 * returns the byte count, or -1 for a character outside the spelling. */
static long spelled_to_bytes(GGUFStr s, unsigned char *out, const int *cp_to_byte) {
    long k = 0;
    for (size_t i = 0; i < s.len;) {
        unsigned char c = (unsigned char)s.p[i];
        unsigned cp;
        if (c < 0x80) cp = c, i += 1;
        else if ((c & 0xe0) == 0xc0 && i + 1 < s.len && ((unsigned char)s.p[i + 1] & 0xc0) == 0x80)
            cp = (unsigned)(c & 0x1f) << 6 | ((unsigned char)s.p[i + 1] & 0x3f), i += 2;
        else return -1;
        if (cp >= 324 || cp_to_byte[cp] < 0) return -1;
        out[k++] = (unsigned char)cp_to_byte[cp];
    }
    return k;
}

/* ---- reading --------------------------------------------------------------------- */

static int get_id(const GGUFFile *f, const char *key, int dflt, int n, int *out) {
    uint32_t v;
    int rc = gguf_get_u32(f, key, &v);
    if (rc < 0) return -1;
    if (rc > 0) v = (uint32_t)dflt;
    if (rc == 0 && v >= (uint32_t)n) return err_set("%s: \"%s\" = %u is outside the vocabulary", f->path, key, v);
    *out = (int)v;
    return 0;
}

static int get_flag(const GGUFFile *f, const char *key, int dflt, int *out) {
    int rc = gguf_get_bool(f, key, out);
    if (rc > 0) *out = dflt;
    return rc < 0 ? -1 : 0;
}

/* The array at key, of n elements (any type when n < 0). */
static const GGUFValue *get_array(const GGUFFile *f, const char *key, GGUFType type, long long n) {
    const GGUFKV *kv = gguf_find_kv(f, key);
    if (!kv) {
        err_set("%s: missing key \"%s\"", f->path, key);
        return NULL;
    }
    if (kv->v.type != GGUF_ARRAY || (type == GGUF_STRING && kv->v.elem_type != GGUF_STRING)) {
        err_set("%s: \"%s\" is not an array%s", f->path, key, type == GGUF_STRING ? " of strings" : "");
        return NULL;
    }
    if (n >= 0 && kv->v.n != (uint64_t)n) {
        err_set("%s: \"%s\" has %llu entries, tokenizer.ggml.tokens %lld", f->path, key,
                (unsigned long long)kv->v.n, n);
        return NULL;
    }
    return &kv->v;
}

static int load_spm(Tokenizer *t, const GGUFFile *f, const GGUFValue *tokens, const int32_t *types) {
    int n = (int)tokens->n, rc = -1;
    const GGUFValue *sv = get_array(f, "tokenizer.ggml.scores", GGUF_F32, n);
    if (!sv) return -1;
    float *scores = xmalloc((size_t)n * sizeof(float));
    char **pieces = xcalloc((size_t)n, sizeof(char *));
    SpmOptions opt = {.unk = -1, .bos = -1, .eos = -1, .pad = -1};
    if (gguf_array_f32(sv, scores, "tokenizer.ggml.scores")) goto done;
    for (int i = 0; i < n; i++) {
        GGUFStr s = gguf_array_str(tokens, (uint64_t)i);
        if (memchr(s.p, 0, s.len)) {
            err_set("%s: tokenizer.ggml.tokens[%d] holds a NUL byte", f->path, i);
            goto done;
        }
        pieces[i] = xmalloc(s.len + 1);
        memcpy(pieces[i], s.p, s.len);
        pieces[i][s.len] = 0;
        opt.byte_fallback |= types[i] == SPM_BYTE;
        if (types[i] == SPM_UNKNOWN && opt.unk < 0) opt.unk = i;
    }
    if (get_flag(f, "tokenizer.ggml.add_space_prefix", 1, &opt.add_dummy_prefix) ||
        get_flag(f, "tokenizer.ggml.remove_extra_whitespaces", 0, &opt.remove_extra_whitespaces) ||
        get_id(f, "tokenizer.ggml.bos_token_id", 1, n, &opt.bos) ||
        get_id(f, "tokenizer.ggml.eos_token_id", 2, n, &opt.eos) ||
        get_id(f, "tokenizer.ggml.unknown_token_id", opt.unk < 0 ? 0 : opt.unk, n, &opt.unk))
        goto done;
    if (gguf_find_kv(f, "tokenizer.ggml.padding_token_id") &&
        get_id(f, "tokenizer.ggml.padding_token_id", -1, n, &opt.pad))
        goto done;
    const char *version = NULL;
    if (gguf_get_string(f, "mistral.tokenizer.version", &version) < 0) goto done;
    if (version && strlen(version) < sizeof t->version) snprintf(t->version, sizeof t->version, "%s", version);
    t->kind = TOK_SPM;
    rc = spm_init(&t->spm, n, (const char *const *)pieces, scores, types, &opt);
    if (rc) err_set("%s: tokenizer.ggml.*: %s", f->path, err_msg());
    else t->n_vocab = n, t->bos = opt.bos, t->eos = opt.eos;
done:
    for (int i = 0; i < n; i++) free(pieces[i]);
    free(pieces), free(scores);
    return rc;
}

static int load_tekken(Tokenizer *t, const GGUFFile *f, const GGUFValue *tokens, const int32_t *types) {
    int n = (int)tokens->n, n_special = 0;
    while (n_special < n && types[n_special] == SPM_CONTROL) n_special++;
    int cp_to_byte[324];
    for (int c = 0; c < 324; c++) cp_to_byte[c] = -1;
    for (int b = 0; b < 256; b++) cp_to_byte[byte_to_cp(b)] = b;
    char **special = xcalloc((size_t)n_special + 1, sizeof(char *));
    unsigned char **tok = xcalloc((size_t)(n - n_special) + 1, sizeof(unsigned char *));
    int *len = xcalloc((size_t)(n - n_special) + 1, sizeof(int)), rc = -1;
    for (int i = 0; i < n_special; i++) {
        GGUFStr s = gguf_array_str(tokens, (uint64_t)i);
        special[i] = xmalloc(s.len + 1);
        memcpy(special[i], s.p, s.len);
        special[i][s.len] = 0;
    }
    for (int i = n_special; i < n; i++) {
        GGUFStr s = gguf_array_str(tokens, (uint64_t)i);
        tok[i - n_special] = xmalloc(s.len + 1);
        long k = spelled_to_bytes(s, tok[i - n_special], cp_to_byte);
        if (k < 0) {
            err_set("%s: tokenizer.ggml.tokens[%d] is not in GPT-2's byte spelling", f->path, i);
            goto done;
        }
        len[i - n_special] = (int)k;
    }
    const char *version = NULL;
    if (gguf_get_string(f, "mistral.tokenizer.version", &version) < 0) goto done;
    if (!version) { /* llama.cpp keeps no version: v7 introduced [SYSTEM_PROMPT] */
        version = "v3";
        for (int i = 0; i < n_special; i++)
            if (!strcmp(special[i], "[SYSTEM_PROMPT]")) version = "v7";
    }
    t->kind = TOK_TEKKEN;
    rc = tekken_init(&t->tek, n_special, (const char *const *)special, n - n_special,
                     (const unsigned char *const *)tok, len, version, f->path);
    if (rc == 0) {
        t->n_vocab = t->tek.n_vocab;
        if (get_id(f, "tokenizer.ggml.bos_token_id", t->tek.bos, n, &t->bos) ||
            get_id(f, "tokenizer.ggml.eos_token_id", t->tek.eos, n, &t->eos))
            rc = -1;
        snprintf(t->version, sizeof t->version, "tekken");
    }
done:
    for (int i = 0; i < n_special; i++) free(special[i]);
    for (int i = 0; i < n - n_special; i++) free(tok[i]);
    free(special), free(tok), free(len);
    return rc;
}

int tokenizer_from_gguf(Tokenizer *t, const GGUFFile *f) {
    memset(t, 0, sizeof *t);
    t->path = xstrdup(f->path);
    const char *model, *pre = "default";
    int rc = -1;
    if (gguf_get_string(f, "tokenizer.ggml.model", &model) ||
        gguf_get_string(f, "tokenizer.ggml.pre", &pre) < 0)
        goto fail;
    const GGUFValue *tokens = get_array(f, "tokenizer.ggml.tokens", GGUF_STRING, -1);
    if (!tokens) goto fail;
    if (tokens->n < 1 || tokens->n > (1 << 24)) {
        err_set("%s: tokenizer.ggml.tokens has %llu entries", f->path, (unsigned long long)tokens->n);
        goto fail;
    }
    const GGUFValue *tv = get_array(f, "tokenizer.ggml.token_type", GGUF_I32, (long long)tokens->n);
    if (!tv) goto fail;
    int32_t *types = xmalloc(tokens->n * sizeof(int32_t));
    rc = gguf_array_i32(tv, types, "tokenizer.ggml.token_type");
    for (uint64_t i = 0; i < tokens->n && !rc; i++)
        if (types[i] < SPM_NORMAL || types[i] > SPM_BYTE)
            rc = err_set("%s: tokenizer.ggml.token_type[%llu] = %d is not a token type (1..6)", f->path,
                         (unsigned long long)i, types[i]);
    if (rc == 0) {
        if (!strcmp(model, "llama")) rc = load_spm(t, f, tokens, types);
        else if (!strcmp(model, "gpt2") && !strcmp(pre, "tekken")) rc = load_tekken(t, f, tokens, types);
        else rc = err_set("%s: tokenizer.ggml.model \"%.40s\" (pre \"%.40s\"): mistral.c reads \"llama\" "
                          "(SentencePiece) and \"gpt2\" with pre \"tekken\"", f->path, model, pre);
    }
    free(types);
    if (rc == 0) return 0;
fail:
    tokenizer_free(t);
    return -1;
}

/* ---- writing --------------------------------------------------------------------- */

static void add_common(GGUFWriter *w, int bos, int eos, int unk) {
    if (bos >= 0) gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0) gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (unk >= 0) gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)unk);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", 1);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", 0);
}

static int spm_to_gguf(const Spm *s, const char *version, GGUFWriter *w) {
    int32_t *types = xmalloc((size_t)s->n * sizeof(int32_t));
    for (int i = 0; i < s->n; i++) types[i] = s->type[i];
    gguf_writer_add_string(w, "tokenizer.ggml.model", "llama");
    gguf_writer_add_string(w, "tokenizer.ggml.pre", "default");
    gguf_writer_add_array_str(w, "tokenizer.ggml.tokens", (const char *const *)s->piece, NULL, (uint64_t)s->n);
    gguf_writer_add_array(w, "tokenizer.ggml.scores", GGUF_F32, s->score, (uint64_t)s->n);
    gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_I32, types, (uint64_t)s->n);
    add_common(w, s->opt.bos, s->opt.eos, s->opt.unk);
    if (s->opt.pad >= 0) gguf_writer_add_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)s->opt.pad);
    gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", s->opt.add_dummy_prefix);
    if (s->opt.remove_extra_whitespaces) gguf_writer_add_bool(w, "tokenizer.ggml.remove_extra_whitespaces", 1);
    if (version[0]) gguf_writer_add_string(w, "mistral.tokenizer.version", version);
    free(types);
    return w->failed ? -1 : 0;
}

/* Appends rank r's bytes p[0..n) in the byte spelling, NUL-terminated;
 * returns the offset where it starts. */
static size_t spell(ByteBuf *b, const unsigned char *p, int n) {
    size_t at = b->n;
    for (int i = 0; i < n; i++) put_cp(b, byte_to_cp(p[i]));
    bytebuf_putc(b, 0);
    return at;
}

typedef struct {
    int l, r, len_l; /* the two ranks, the left one's length */
} Split;

static int cmp_split(const void *a, const void *b) {
    const Split *x = a, *y = b;
    return x->l != y->l ? (x->l > y->l) - (x->l < y->l) : (x->r > y->r) - (x->r < y->r);
}

/* Hugging Face's tiktoken conversion: for each rank in order, every split
 * into two ranks, by (left rank, right rank). */
static void tekken_merges(const Tekken *t, ByteBuf *buf, size_t **off, size_t *n) {
    size_t cap = 1024;
    *off = xmalloc(cap * sizeof(size_t));
    *n = 0;
    Split local[512];
    for (int r = 0; r < t->n_ranks; r++) {
        int len = t->tok_len[r], k = 0;
        const unsigned char *p = t->tok[r];
        for (int i = 1; i < len && k < 512; i++) {
            int a = tekken_rank(t, p, (size_t)i), b = a < 0 ? -1 : tekken_rank(t, p + i, (size_t)(len - i));
            if (a >= 0 && b >= 0) local[k++] = (Split){a, b, i};
        }
        qsort(local, (size_t)k, sizeof *local, cmp_split);
        for (int j = 0; j < k; j++) {
            if (*n == cap) *off = xrealloc(*off, (cap *= 2) * sizeof(size_t));
            size_t at = buf->n;
            for (int i = 0; i < local[j].len_l; i++) put_cp(buf, byte_to_cp(p[i]));
            bytebuf_putc(buf, ' ');
            for (int i = local[j].len_l; i < len; i++) put_cp(buf, byte_to_cp(p[i]));
            bytebuf_putc(buf, 0);
            (*off)[(*n)++] = at;
        }
    }
}

static int tekken_to_gguf(const Tekken *t, GGUFWriter *w) {
    int n = t->n_vocab;
    ByteBuf buf = {0};
    size_t *off = xmalloc((size_t)n * sizeof(size_t)), *moff, n_merges;
    int32_t *types = xmalloc((size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        if (i < t->n_special) {
            off[i] = buf.n;
            bytebuf_push(&buf, t->special[i], strlen(t->special[i]) + 1);
        } else {
            off[i] = spell(&buf, t->tok[i - t->n_special], t->tok_len[i - t->n_special]);
        }
        types[i] = i < t->n_special ? SPM_CONTROL : SPM_NORMAL;
    }
    const char **s = xmalloc((size_t)n * sizeof(char *));
    for (int i = 0; i < n; i++) s[i] = buf.p + off[i];
    gguf_writer_add_string(w, "tokenizer.ggml.model", "gpt2");
    gguf_writer_add_string(w, "tokenizer.ggml.pre", "tekken");
    gguf_writer_add_array_str(w, "tokenizer.ggml.tokens", s, NULL, (uint64_t)n);
    gguf_writer_add_array(w, "tokenizer.ggml.token_type", GGUF_I32, types, (uint64_t)n);
    ByteBuf mb = {0};
    tekken_merges(t, &mb, &moff, &n_merges);
    const char **m = xmalloc((n_merges + 1) * sizeof(char *));
    for (size_t i = 0; i < n_merges; i++) m[i] = mb.p + moff[i];
    gguf_writer_add_array_str(w, "tokenizer.ggml.merges", m, NULL, (uint64_t)n_merges);
    add_common(w, t->bos, t->eos, t->unk);
    if (t->version) gguf_writer_add_string(w, "mistral.tokenizer.version", t->version);
    free(m), free(moff), bytebuf_free(&mb);
    free(s), free(types), free(off), bytebuf_free(&buf);
    return w->failed ? -1 : 0;
}

int tokenizer_to_gguf(const Tokenizer *t, GGUFWriter *w) {
    return t->kind == TOK_TEKKEN ? tekken_to_gguf(&t->tek, w) : spm_to_gguf(&t->spm, t->version, w);
}
