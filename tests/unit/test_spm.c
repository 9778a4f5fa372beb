/* test_spm — the SentencePiece tokenizer against sentencepiece itself.
 *
 * Always run (no data needed): a small hand-made model, built both with
 * spm_init and as a protobuf file written here, whose expected encodings and
 * decodings came from python3-sentencepiece 0.1.97 given the same ModelProto
 * (ties, unused pieces, user-defined pieces, runs of unknowns, whitespace
 * with and without remove_extra_whitespaces); invalid UTF-8; ids out of
 * range; malformed protobufs.
 *
 * With ../shared (or $MISTRAL_SHARED): Mistral's v1, v3, v7 tokenizers and
 * stories260K's against the golden files (ids, ids with BOS, pieces,
 * decodes), the extra cases of tests/data/spm_extra_cases.json (made by
 * tests/data/spm_extra_make.py), control-piece ids, the v1 file cut and
 * flipped at many places, and a 1 MB encode (its speed is printed, not
 * checked). Missing files are skipped with a message. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/utf8.h"
#include "base/util.h"
#include "harness.h"
#include "tok/spm.h"

#define SP "\xe2\x96\x81" /* U+2581 */
#define MAX_SHOWN 5       /* detailed mismatches printed per tokenizer */

static const char *shared; /* the shared folder; NULL when absent */

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---- helpers ---------------------------------------------------------------- */

static int ids_equal(const IntVec *v, const int *ids, int n) {
    return v->n == n && (n == 0 || !memcmp(v->v, ids, (size_t)n * sizeof *ids));
}

static void print_ids(const char *what, const int *ids, int n) {
    fprintf(stderr, "    %s [", what);
    for (int i = 0; i < n && i < 40; i++) fprintf(stderr, "%s%d", i ? ", " : "", ids[i]);
    fprintf(stderr, "%s]\n", n > 40 ? ", ..." : "");
}

/* spm_decode, then as Python shows it (utf8_replace_invalid); and
 * spm_decode_text. Both NUL-terminated, caller frees; NULL on error. */
static char *decode_py(const Spm *s, const int *ids, int n, size_t *len) {
    ByteBuf raw = {0}, txt = {0};
    if (spm_decode(s, ids, n, &raw) < 0) return NULL;
    utf8_replace_invalid(&txt, raw.p, raw.n);
    bytebuf_push(&txt, "", 0);
    bytebuf_free(&raw);
    *len = txt.n;
    return txt.p;
}

static char *decode_sp(const Spm *s, const int *ids, int n, size_t *len) {
    ByteBuf txt = {0};
    if (spm_decode_text(s, ids, n, &txt) < 0) return NULL;
    bytebuf_push(&txt, "", 0);
    *len = txt.n;
    return txt.p;
}

/* ---- a hand-made model ------------------------------------------------------ */

typedef struct {
    const char *piece;
    int type;
    float score;
} SynPiece;

static const SynPiece syn[] = {
    {"<unk>", SPM_UNKNOWN, 0},  {"<s>", SPM_CONTROL, 0},   {"</s>", SPM_CONTROL, 0},
    {"[X]", SPM_USER_DEFINED, 0}, {SP, SPM_NORMAL, -1},    {"a", SPM_NORMAL, -2},
    {"b", SPM_NORMAL, -3},      {"c", SPM_NORMAL, -4},     {"ab", SPM_NORMAL, -0.5f},
    {"bc", SPM_NORMAL, -0.5f},  {"abc", SPM_UNUSED, -0.1f}, {SP "a", SPM_NORMAL, -1.5f},
    {"aa", SPM_NORMAL, -0.25f}, {"aaa", SPM_NORMAL, -0.3f}, {"abcabc", SPM_NORMAL, -0.05f},
    {SP SP, SPM_NORMAL, -1.2f}, {"X", SPM_NORMAL, -5},     {"ca", SPM_NORMAL, -0.5f},
    {SP "b", SPM_NORMAL, -0.5f}, {"d", SPM_UNUSED, -6},    {"c" SP, SPM_NORMAL, -0.6f},
};
#define N_SYN ((int)(sizeof syn / sizeof syn[0]))

typedef struct {
    const char *text;
    int ids[2][8]; /* without, with remove_extra_whitespaces; -1 ends */
} SynCase;

/* From python3-sentencepiece 0.1.97 on this model as a ModelProto (BPE,
 * identity normalizer, add_dummy_prefix, no byte fallback). The piece "c▁"
 * makes the encoder merge the whole text at once (see bpe() in spm.c);
 * Mistral's models take the word-by-word path. */
static const SynCase syn_enc[] = {
    {"abc", {{4, 8, 7, -1}, {4, 8, 7, -1}}},           /* ab before bc (tie: leftmost); abc unused */
    {"abcabc", {{4, 14, -1}, {4, 14, -1}}},            /* ...but abc still merges on */
    {"bcab", {{18, 17, 6, -1}, {18, 17, 6, -1}}},
    {"aaaa", {{4, 12, 12, -1}, {4, 12, 12, -1}}},
    {"aaaaa", {{4, 12, 13, -1}, {4, 12, 13, -1}}},
    {"cab", {{4, 17, 6, -1}, {4, 17, 6, -1}}},
    {"a b", {{11, 18, -1}, {11, 18, -1}}},
    {"  a  b ", {{15, 11, 4, 18, 4, -1}, {11, 18, -1}}},
    {"a\xe2\x98\x83\xe2\x98\x83" "b", {{11, 0, 6, -1}, {11, 0, 6, -1}}}, /* one unk for a run */
    {"\xe2\x98\x83", {{4, 0, -1}, {4, 0, -1}}},
    {"[X]", {{4, 3, -1}, {4, 3, -1}}},
    {"a[X]b", {{11, 3, 6, -1}, {11, 3, 6, -1}}},
    {"[X", {{4, 0, 16, -1}, {4, 0, 16, -1}}},
    {"x[X]]", {{4, 0, 3, 0, -1}, {4, 0, 3, 0, -1}}},
    {"d", {{4, 19, -1}, {4, 19, -1}}},                 /* a lone unused character stays */
    {"dd", {{4, 19, 19, -1}, {4, 19, 19, -1}}},
    {"abcd", {{4, 8, 7, 19, -1}, {4, 8, 7, 19, -1}}},
    {"ba", {{18, 5, -1}, {18, 5, -1}}},
    {"   ", {{15, 15, -1}, {-1}}},
    {"b c a", {{18, 4, 20, 5, -1}, {18, 4, 20, 5, -1}}}, /* "c▁": words do not merge alone */
    {SP "a", {{15, 5, -1}, {15, 5, -1}}},
    {"a  ", {{11, 15, -1}, {11, -1}}},
    {"abc abc", {{4, 8, 7, 4, 8, 7, -1}, {4, 8, 7, 4, 8, 7, -1}}},
    {"c a", {{4, 20, 5, -1}, {4, 20, 5, -1}}},
    {"cc  c", {{4, 7, 20, 4, 7, -1}, {4, 7, 20, 7, -1}}},
    {"", {{-1}, {-1}}},
};

typedef struct {
    int ids[4], n;
    const char *text[2]; /* without, with remove_extra_whitespaces */
} SynDec;

static const SynDec syn_dec[] = {
    {{4, 4, 11}, 3, {"  a", "a"}},
    {{1, 4, 11}, 3, {" a", "a"}},
    {{15, 5}, 2, {" a", " a"}},
    {{0, 11}, 2, {" \xe2\x81\x87  a", " \xe2\x81\x87  a"}},
    {{11, 0, 0}, 3, {"a \xe2\x81\x87  \xe2\x81\x87 ", "a \xe2\x81\x87  \xe2\x81\x87 "}},
    {{1, 2}, 2, {"", ""}},
    {{3, 4}, 2, {"[X] ", "[X] "}},
    {{10, 4}, 2, {"abc ", "abc "}},
    {{4, 0}, 2, {" \xe2\x81\x87 ", " \xe2\x81\x87 "}},
};

static void check_synthetic(const Spm *s, int rew, const char *what) {
    for (size_t c = 0; c < sizeof syn_enc / sizeof syn_enc[0]; c++) {
        const SynCase *k = &syn_enc[c];
        int n = 0;
        while (k->ids[rew][n] >= 0) n++;
        IntVec v = {0};
        int rc = spm_encode(s, k->text, strlen(k->text), &v);
        EXPECT(rc == 0 && ids_equal(&v, k->ids[rew], n), "%s: encode \"%s\"", what, k->text);
        if (rc == 0 && !ids_equal(&v, k->ids[rew], n)) print_ids("got", v.v, v.n);
        intvec_free(&v);
    }
    for (size_t c = 0; c < sizeof syn_dec / sizeof syn_dec[0]; c++) {
        const SynDec *k = &syn_dec[c];
        size_t len;
        char *got = decode_sp(s, k->ids, k->n, &len);
        EXPECT(got && !strcmp(got, k->text[rew]), "%s: decode case %zu: got \"%s\" want \"%s\"", what, c,
               got ? got : "(error)", k->text[rew]);
        free(got);
    }
}

/* The model as protobuf bytes, written field by field. */
static void pb_varint(ByteBuf *b, uint64_t v) {
    for (; v >= 0x80; v >>= 7) bytebuf_putc(b, (char)(v | 0x80));
    bytebuf_putc(b, (char)v);
}

static void pb_bytes(ByteBuf *b, int field, const void *p, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    bytebuf_push(b, p, n);
}

static void pb_uint(ByteBuf *b, int field, uint64_t v) {
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, v);
}

static void syn_proto(ByteBuf *out, int rew) {
    for (int i = 0; i < N_SYN; i++) {
        ByteBuf p = {0};
        uint32_t u;
        memcpy(&u, &syn[i].score, 4);
        pb_bytes(&p, 1, syn[i].piece, strlen(syn[i].piece));
        pb_varint(&p, 2 << 3 | 5);
        for (int k = 0; k < 4; k++) bytebuf_putc(&p, (char)(u >> 8 * k));
        pb_uint(&p, 3, (uint64_t)syn[i].type);
        pb_bytes(out, 1, p.p, p.n);
        bytebuf_free(&p);
    }
    ByteBuf t = {0}, nm = {0};
    pb_uint(&t, 3, 2); /* model_type BPE */
    pb_bytes(out, 2, t.p, t.n);
    pb_bytes(&nm, 1, "identity", 8);
    pb_uint(&nm, 4, (uint64_t)rew);
    pb_bytes(out, 3, nm.p, nm.n);
    bytebuf_free(&t);
    bytebuf_free(&nm);
}

/* A refused buffer: -1 and one error line naming it. */
static void expect_refused(const void *buf, size_t len, const char *why) {
    Spm s;
    err_set("%s", "");
    int rc = spm_parse(&s, buf, len, "bad.model");
    EXPECT(rc == -1, "%s: accepted", why);
    if (rc == 0) spm_free(&s);
    else EXPECT(!strncmp(err_msg(), "bad.model: ", 11), "%s: error \"%s\"", why, err_msg());
}

static void test_synthetic(void) {
    const char *pieces[N_SYN];
    float scores[N_SYN];
    int types[N_SYN];
    for (int i = 0; i < N_SYN; i++) pieces[i] = syn[i].piece, scores[i] = syn[i].score, types[i] = syn[i].type;
    for (int rew = 0; rew < 2; rew++) {
        SpmOptions opt = {.add_dummy_prefix = 1, .remove_extra_whitespaces = rew, .unk = 0, .bos = 1, .eos = 2,
                          .pad = -1};
        Spm s;
        EXPECT(spm_init(&s, N_SYN, pieces, scores, types, &opt) == 0, "spm_init: %s", err_msg());
        check_synthetic(&s, rew, rew ? "spm_init, rew" : "spm_init");
        spm_free(&s);

        ByteBuf pb = {0};
        syn_proto(&pb, rew);
        EXPECT(spm_parse(&s, pb.p, pb.n, "syn.model") == 0, "spm_parse: %s", err_msg());
        EXPECT(s.n == N_SYN && s.opt.unk == 0 && s.opt.bos == 1 && s.opt.eos == 2 && s.opt.pad == -1 &&
                   s.opt.add_dummy_prefix == 1 && s.opt.remove_extra_whitespaces == rew && !s.opt.byte_fallback,
               "syn.model options");
        check_synthetic(&s, rew, rew ? "spm_parse, rew" : "spm_parse");

        /* invalid UTF-8 is refused, out untouched */
        static const char *bad[] = {"\xff", "a\xc3", "\xed\xa0\x80", "\xc0\xaf", "ok\x80"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            IntVec v = {0};
            err_set("%s", "");
            EXPECT(spm_encode(&s, bad[i], strlen(bad[i]), &v) == -1 && v.n == 0 && strstr(err_msg(), "UTF-8"),
                   "invalid UTF-8 case %zu: %s", i, err_msg());
            intvec_free(&v);
        }
        /* ids outside the vocabulary */
        int out_of_range[][2] = {{4, -1}, {4, N_SYN}, {INT32_MAX, 4}};
        for (int i = 0; i < 3; i++) {
            ByteBuf b = {0};
            EXPECT(spm_decode(&s, out_of_range[i], 2, &b) == -1, "id out of range accepted");
            bytebuf_free(&b);
        }
        EXPECT(spm_piece_id(&s, "[X]") == 3 && spm_piece_id(&s, SP "a") == 11 && spm_piece_id(&s, "zz") == -1 &&
                   spm_piece_id(&s, "") == -1,
               "syn spm_piece_id");

        /* malformed protobufs */
        for (size_t cut = 0; cut < pb.n; cut += 3) {
            Spm t;
            if (spm_parse(&t, pb.p, cut, "cut.model") == 0) spm_free(&t);
        }
        if (!rew) {
            expect_refused("", 0, "empty");
            expect_refused("\x0a\xff\xff\xff\xff\x0f", 6, "length past the end");
            expect_refused("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, "varint of 11 bytes");
            expect_refused("\x0b", 1, "group");
            expect_refused(pb.p, pb.n - 1, "cut one byte short");
            ByteBuf x = {0};
            bytebuf_push(&x, pb.p, pb.n);
            ByteBuf t = {0};
            pb_uint(&t, 3, 1); /* model_type UNIGRAM */
            pb_bytes(&x, 2, t.p, t.n);
            expect_refused(x.p, x.n, "unigram");
            x.n = pb.n;
            bytebuf_push(&x, "\x1a\x04\x12\x02\x01\x02", 6); /* normalizer with a charsmap */
            expect_refused(x.p, x.n, "charsmap");
            x.n = pb.n;
            pb_bytes(&x, 1, "\x0a\x01" "a", 3); /* a second "a" */
            expect_refused(x.p, x.n, "repeated piece");
            x.n = pb.n;
            pb_bytes(&x, 1, "\x0a\x03<u>\x18\x02", 7); /* a second unknown piece */
            expect_refused(x.p, x.n, "two unknowns");
            x.n = pb.n;
            pb_bytes(&x, 1, "\x0a\x06<0x41>\x18\x06", 10); /* a byte piece without byte_fallback */
            expect_refused(x.p, x.n, "byte piece");
            x.n = pb.n;
            pb_bytes(&x, 1, "\x18\x01", 2); /* an empty piece */
            expect_refused(x.p, x.n, "empty piece");
            bytebuf_free(&x);
            bytebuf_free(&t);
        }
        bytebuf_free(&pb);
        spm_free(&s);
    }
    spm_free(&(Spm){0}); /* a zeroed struct frees */
}

/* ---- JSON with NULs in its strings -------------------------------------------- */

/* cJSON strings end at a NUL, and the golden texts hold U+0000: "\u0000"
 * escapes are read as U+FFFF (which the files must not hold otherwise) and
 * turned back into NUL by json_text. */
static cJSON *json_read(const char *path) {
    size_t len;
    char *buf = read_file(path, &len);
    if (!buf) return NULL;
    if (strstr(buf, "\xef\xbf\xbf") || strstr(buf, "\\uffff") || strstr(buf, "\\uFFFF")) {
        fprintf(stderr, "%s holds U+FFFF, which this test uses for U+0000\n", path);
        exit(1);
    }
    for (size_t i = 0, in_str = 0; i < len; i++) {
        if (buf[i] == '"') in_str = !in_str;
        else if (in_str && buf[i] == '\\') {
            if (i + 5 < len && !memcmp(buf + i + 1, "u0000", 5)) memcpy(buf + i + 2, "FFFF", 4);
            i++;
        }
    }
    cJSON *j = cJSON_ParseWithLength(buf, len);
    free(buf);
    if (!j) fprintf(stderr, "%s: not JSON\n", path);
    return j;
}

static int *json_ids(const cJSON *a, int *n) {
    *n = cJSON_GetArraySize(a);
    int *ids = xmalloc((size_t)(*n ? *n : 1) * sizeof *ids);
    for (int i = 0; i < *n; i++) ids[i] = cJSON_GetArrayItem(a, i)->valueint;
    return ids;
}

/* ---- golden and extra cases -------------------------------------------------- */

typedef struct {
    int enc, enc_ok, dec, dec_ok, only, only_ok, shown;
} Tally;

/* One text: encode == want; the pieces; both decodes == decoded. */
static void check_case(const Spm *s, const char *name, const char *text, size_t tlen, const int *want, int nwant,
                       const cJSON *pieces, const char *decoded, size_t dlen, Tally *t) {
    IntVec v = {0};
    int ok = spm_encode(s, text, tlen, &v) == 0 && ids_equal(&v, want, nwant);
    for (int i = 0; ok && i < v.n; i++) {
        ok = s->type[v.v[i]] != SPM_CONTROL;
        if (pieces) ok = ok && !strcmp(s->piece[v.v[i]], cJSON_GetArrayItem(pieces, i)->valuestring);
    }
    t->enc++, t->enc_ok += ok;
    if (!ok && t->shown++ < MAX_SHOWN) {
        fprintf(stderr, "FAIL %s: encode \"%.60s\" (%zu bytes)\n", name, text, tlen);
        print_ids("want", want, nwant);
        print_ids("got ", v.v, v.n);
    }
    test_failures += !ok;
    size_t n1, n2;
    char *py = decode_py(s, want, nwant, &n1), *sp = decode_sp(s, want, nwant, &n2);
    ok = py && sp && n1 == dlen && n2 == dlen && !memcmp(py, decoded, dlen) && !memcmp(sp, decoded, dlen);
    t->dec++, t->dec_ok += ok;
    if (!ok && t->shown++ < MAX_SHOWN)
        fprintf(stderr, "FAIL %s: decode of \"%.60s\": \"%s\" / \"%s\", want \"%s\"\n", name, text, py ? py : "?",
                sp ? sp : "?", decoded);
    test_failures += !ok;
    free(py);
    free(sp);
    intvec_free(&v);
}

/* A decode-only case: sentencepiece's text; and, for golden ones, what
 * Python's replace gives too (`py`). */
static void check_decode(const Spm *s, const char *name, const int *ids, int n, const char *want, size_t wlen,
                         int py, Tally *t) {
    size_t len;
    char *got = py ? decode_py(s, ids, n, &len) : decode_sp(s, ids, n, &len);
    int ok = got && len == wlen && !memcmp(got, want, wlen);
    t->only++, t->only_ok += ok;
    if (!ok && t->shown++ < MAX_SHOWN) {
        fprintf(stderr, "FAIL %s: decode: \"%s\", want \"%s\"\n", name, got ? got : "(error)", want);
        print_ids("ids", ids, n);
    }
    test_failures += !ok;
    free(got);
}

static int load_model(Spm *s, const char *rel) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", shared, rel);
    if (!file_exists(path)) {
        fprintf(stderr, "SKIP: %s not found\n", path);
        return -1;
    }
    int rc = spm_load(s, path);
    EXPECT(rc == 0, "%s", err_msg());
    return rc;
}

static void test_golden(const char *name, const char *model) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizers/golden/golden_tokenize_%s.json", shared, name);
    Spm s;
    if (!file_exists(path)) {
        fprintf(stderr, "SKIP: %s not found\n", path);
        return;
    }
    cJSON *g = json_read(path);
    EXPECT(g, "%s", path);
    if (!g || load_model(&s, model) < 0) {
        cJSON_Delete(g);
        return;
    }
    int bos = cJSON_GetObjectItem(g, "bos_id")->valueint;
    EXPECT(s.n == cJSON_GetObjectItem(g, "vocab_size")->valueint && s.opt.bos == bos &&
               s.opt.eos == cJSON_GetObjectItem(g, "eos_id")->valueint &&
               s.opt.unk == cJSON_GetObjectItem(g, "unk_id")->valueint &&
               s.opt.pad == cJSON_GetObjectItem(g, "pad_id")->valueint,
           "%s: vocabulary size or special ids", name);
    Tally t = {0};
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
        size_t tlen, dlen, dblen;
        int n, nb;
        char *text = test_json_text(cJSON_GetObjectItem(c, "text"), &tlen);
        char *dec = test_json_text(cJSON_GetObjectItem(c, "decoded"), &dlen);
        char *decb = test_json_text(cJSON_GetObjectItem(c, "decoded_with_bos"), &dblen);
        int *ids = json_ids(cJSON_GetObjectItem(c, "ids"), &n);
        int *idsb = json_ids(cJSON_GetObjectItem(c, "ids_with_bos"), &nb);
        check_case(&s, name, text, tlen, ids, n, cJSON_GetObjectItem(c, "pieces"), dec, dlen, &t);
        /* with BOS: [bos] + ids, and its decode */
        EXPECT(nb == n + 1 && idsb[0] == bos && !memcmp(idsb + 1, ids, (size_t)n * sizeof *ids),
               "%s: ids_with_bos of \"%s\"", name, text);
        check_decode(&s, name, idsb, nb, decb, dblen, 1, &t);
        check_decode(&s, name, idsb, nb, decb, dblen, 0, &t);
        free(text), free(dec), free(decb), free(ids), free(idsb);
    }
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "decode_only")) {
        size_t dlen;
        int n;
        char *dec = test_json_text(cJSON_GetObjectItem(c, "decoded"), &dlen);
        int *ids = json_ids(cJSON_GetObjectItem(c, "ids"), &n);
        check_decode(&s, name, ids, n, dec, dlen, 1, &t);
        check_decode(&s, name, ids, n, dec, dlen, 0, &t);
        free(dec), free(ids);
    }
    fprintf(stderr, "test_spm: golden %s: encode %d/%d, decode %d/%d, decode-only and with-BOS %d/%d\n", name,
            t.enc_ok, t.enc, t.dec_ok, t.dec, t.only_ok, t.only);
    spm_free(&s);
    cJSON_Delete(g);
}

static void test_extra(void) {
    const char *path = "tests/data/spm_extra_cases.json";
    cJSON *g = json_read(path);
    EXPECT(g, "cannot read %s", path);
    if (!g) return;
    const cJSON *texts = cJSON_GetObjectItem(g, "texts"), *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItem(g, "models")) {
        Spm s;
        if (load_model(&s, cJSON_GetObjectItem(m, "file")->valuestring) < 0) continue;
        Tally t = {0};
        const cJSON *decoded = cJSON_GetObjectItem(m, "decoded");
        for (int i = 0; i < cJSON_GetArraySize(texts); i++) {
            char key[16];
            snprintf(key, sizeof key, "%d", i);
            const cJSON *d = cJSON_GetObjectItem(decoded, key);
            size_t tlen, dlen;
            int n;
            char *text = test_json_text(cJSON_GetArrayItem(texts, i), &tlen);
            char *dec = d ? test_json_text(d, &dlen) : memcpy(xmalloc(tlen + 1), text, tlen + 1);
            if (!d) dlen = tlen;
            int *ids = json_ids(cJSON_GetArrayItem(cJSON_GetObjectItem(m, "ids"), i), &n);
            check_case(&s, m->string, text, tlen, ids, n, NULL, dec, dlen, &t);
            free(text), free(dec), free(ids);
        }
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "decode_only")) {
            size_t dlen;
            int n;
            char *dec = test_json_text(cJSON_GetObjectItem(c, "decoded"), &dlen);
            int *ids = json_ids(cJSON_GetObjectItem(c, "ids"), &n);
            check_decode(&s, m->string, ids, n, dec, dlen, 0, &t);
            free(dec), free(ids);
        }
        fprintf(stderr, "test_spm: extra %s: encode %d/%d, decode %d/%d, decode-only %d/%d\n", m->string, t.enc_ok,
                t.enc, t.dec_ok, t.dec, t.only_ok, t.only);
        spm_free(&s);
    }
    cJSON_Delete(g);
}

/* ---- Mistral's tokenizers: ids, corruption, speed ------------------------------ */

#define V1 "tokenizers/mistral/tokenizer.model.v1"
#define V3 "tokenizers/mistral/mistral_instruct_tokenizer_240323.model.v3"
#define V7 "tokenizers/mistral/mistral_instruct_tokenizer_241114.model.v7"

static void test_piece_ids(void) {
    Spm s1, s3, s7;
    if (load_model(&s1, V1) < 0 || load_model(&s3, V3) < 0 || load_model(&s7, V7) < 0) return;
    EXPECT(spm_piece_id(&s1, "[INST]") == -1 && spm_piece_id(&s3, "[INST]") == 3 && spm_piece_id(&s7, "[INST]") == 3,
           "[INST]");
    EXPECT(spm_piece_id(&s3, "[/INST]") == 4 && spm_piece_id(&s7, "[SYSTEM_PROMPT]") == 16 &&
               spm_piece_id(&s3, "[SYSTEM_PROMPT]") == -1,
           "v3/v7 controls");
    EXPECT(spm_piece_id(&s7, "[REF]") == 750 && spm_piece_id(&s3, "[REFERENCE_DOC_0]") == 770, "user-defined ids");
    EXPECT(spm_piece_id(&s1, "<unk>") == 0 && spm_piece_id(&s1, "<s>") == 1 && spm_piece_id(&s1, "</s>") == 2,
           "v1 specials");
    EXPECT(spm_piece_id(&s1, "<0x00>") == 3 && spm_piece_id(&s1, "<0xFF>") == 258 &&
               spm_piece_id(&s3, "<0x00>") == 771 && spm_piece_id(&s1, "<0xff>") == -1,
           "byte pieces");
    EXPECT(spm_piece_id(&s1, SP) == 28705 && spm_piece_id(&s1, "no such piece") == -1, "normal pieces");
    /* a cut character: raw bytes; Python's replace gives one U+FFFD, sentencepiece one per byte */
    int cut[] = {3 + 0xE4, 3 + 0xBD};
    ByteBuf raw = {0}, py = {0}, sp = {0};
    EXPECT(spm_decode(&s1, cut, 2, &raw) == 0 && raw.n == 2 && !memcmp(raw.p, "\xe4\xbd", 2), "raw bytes");
    utf8_replace_invalid(&py, raw.p, raw.n);
    EXPECT(py.n == 3 && !memcmp(py.p, "\xef\xbf\xbd", 3), "Python's replace");
    EXPECT(spm_decode_text(&s1, cut, 2, &sp) == 0 && sp.n == 6 && !memcmp(sp.p, "\xef\xbf\xbd\xef\xbf\xbd", 6),
           "sentencepiece's replace");
    bytebuf_free(&raw), bytebuf_free(&py), bytebuf_free(&sp);
    EXPECT(s1.type[1] == SPM_CONTROL && s1.type[3] == SPM_BYTE && s3.type[770] == SPM_USER_DEFINED, "types");
    EXPECT(s1.opt.byte_fallback && s1.opt.split_digits && !s1.opt.remove_extra_whitespaces &&
               s1.opt.add_dummy_prefix,
           "v1 options");
    spm_free(&s1), spm_free(&s3), spm_free(&s7);
}

static uint32_t rng_next(uint64_t *st) {
    *st = *st * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*st >> 33);
}

/* One mangled file: refused with one line naming it, or usable. */
static void try_mangled(const char *buf, size_t len, int *accepted) {
    Spm s;
    err_set("%s", "");
    if (spm_parse(&s, buf, len, "v1.model") == 0) {
        ++*accepted;
        IntVec v = {0};
        ByteBuf b = {0};
        EXPECT(spm_encode(&s, "Hello world \xe4\xbd\xa0", 15, &v) == 0, "mangled model: encode");
        EXPECT(spm_decode(&s, v.v, v.n, &b) == 0, "mangled model: decode");
        intvec_free(&v), bytebuf_free(&b);
        spm_free(&s);
    } else {
        EXPECT(!strncmp(err_msg(), "v1.model: ", 10) && !strchr(err_msg(), '\n'), "error \"%s\"", err_msg());
    }
}

static void test_corrupt(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", shared, V1);
    size_t len;
    char *buf = file_exists(path) ? read_file(path, &len) : NULL;
    if (!buf) {
        fprintf(stderr, "SKIP: %s not found\n", path);
        return;
    }
    uint64_t st = 42;
    int tries = 0, accepted = 0;
    for (size_t cut = 0; cut < 64; cut++, tries++) try_mangled(buf, cut, &accepted);
    for (int i = 0; i < 120; i++, tries++) try_mangled(buf, rng_next(&st) % len, &accepted);
    try_mangled(buf, len - 1, &accepted), tries++;
    char *copy = xmalloc(len);
    for (int i = 0; i < 200; i++, tries++) {
        memcpy(copy, buf, len);
        for (int k = 0; k < 1 + i % 4; k++) {
            /* half of the flips hit the last 1000 bytes: trainer and normalizer specs */
            size_t at = i % 2 ? len - 1 - rng_next(&st) % 1000 : rng_next(&st) % len;
            copy[at] ^= (char)(1u << rng_next(&st) % 8);
        }
        try_mangled(copy, len, &accepted);
    }
    fprintf(stderr, "test_spm: corrupt v1: %d cut or flipped files, %d still loaded, none crashed\n", tries, accepted);
    free(copy);
    free(buf);
}

static void test_speed(void) {
    Spm s;
    char path[512];
    snprintf(path, sizeof path, "%s/corpora/devils_dictionary.txt", shared);
    size_t clen;
    char *corpus = file_exists(path) ? read_file(path, &clen) : NULL;
    if (!corpus) {
        fprintf(stderr, "SKIP: %s not found\n", path);
        return;
    }
    if (load_model(&s, V1) < 0) {
        free(corpus);
        return;
    }
    size_t n = 1 << 20;
    char *text = xmalloc(n + 1);
    for (size_t i = 0; i < n; i += clen) memcpy(text + i, corpus, i + clen <= n ? clen : n - i);
    n = utf8_complete_prefix(text, n);
    IntVec v = {0};
    ByteBuf b = {0};
    double t0 = now_seconds();
    EXPECT(spm_encode(&s, text, n, &v) == 0, "1 MB encode");
    double t1 = now_seconds();
    EXPECT(spm_decode(&s, v.v, v.n, &b) == 0 && b.n == n && !memcmp(b.p, text, n), "1 MB round trip");
    double t2 = now_seconds();
    fprintf(stderr, "test_spm: 1 MB of prose: %d tokens, encode %.3f s (%.1f MB/s), decode %.3f s\n", v.n, t1 - t0,
            (double)n / (1 << 20) / (t1 - t0), t2 - t1);
    /* one character repeated: every merge lands in the same place */
    memset(text, 'a', n);
    v.n = 0;
    t0 = now_seconds();
    EXPECT(spm_encode(&s, text, n, &v) == 0, "1 MB of 'a'");
    fprintf(stderr, "test_spm: 1 MB of 'a': %d tokens, encode %.3f s\n", v.n, now_seconds() - t0);
    intvec_free(&v), bytebuf_free(&b);
    free(text), free(corpus);
    spm_free(&s);
}

int main(void) {
    test_synthetic();
    const char *env = getenv("MISTRAL_SHARED");
    shared = env && *env ? env : "../shared";
    char probe[512];
    snprintf(probe, sizeof probe, "%s/tokenizers", shared);
    if (!file_exists(probe)) {
        fprintf(stderr, "SKIP: %s not found (set MISTRAL_SHARED to the shared folder)\n", probe);
        return test_done("test_spm");
    }
    test_golden("mistral_v1", V1);
    test_golden("mistral_v3", V3);
    test_golden("mistral_v7", V7);
    test_golden("tok512_tinystories", "models/stories260K/tokenizer.model");
    test_extra();
    test_piece_ids();
    test_corrupt();
    test_speed();
    return test_done("test_spm");
}
