/* test_tekken — the Tekken tokenizer against tiktoken.
 *
 * With ../shared (MISTRAL_SHARED): tekken_240718.json encodes the golden
 * strings, mistral-common's chat segments and tests/data/extra_cases_tekken.json
 * (long runs, scripts, whitespace, code, prose, random strings; made with
 * npm tiktoken, the WASM build of tiktoken's Rust core) to the same ids, and
 * decodes them back; 100 KB single pieces stay fast; invalid UTF-8 and
 * unknown ids are refused. Without it those cases are skipped.
 *
 * Always: small tokenizers written here check the merge order (lowest rank,
 * leftmost first; a whole-token piece maps directly), the special table,
 * and that every malformed file is refused with one "FILE: problem" line. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/utf8.h"
#include "base/util.h"
#include "harness.h"
#include "tok/tekken.h"

#define TEKKEN "tokenizers/mistral/tekken_240718.json"

static char shared[256];
static char tmp[256];

/* ---- helpers --------------------------------------------------------------- */

static void b64_encode(ByteBuf *out, const unsigned char *p, size_t n) {
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {a[v >> 18 & 63], a[v >> 12 & 63], i + 1 < n ? a[v >> 6 & 63] : '=',
                     i + 2 < n ? a[v & 63] : '='};
        bytebuf_push(out, q, 4);
    }
}

static cJSON *read_json(const char *path) {
    char *text = read_file(path, NULL);
    if (!text) return NULL;
    cJSON *j = cJSON_Parse(text);
    free(text);
    return j;
}

/* 1 when v holds exactly the numbers of arr (with `first` in front if >= 0). */
static int same_ids(const IntVec *v, const cJSON *arr, int first) {
    int n = cJSON_GetArraySize(arr) + (first >= 0), i = 0;
    if (v->n != n) return 0;
    if (first >= 0 && v->v[i++] != first) return 0;
    for (const cJSON *x = arr->child; x; x = x->next, i++)
        if (v->v[i] != x->valueint) return 0;
    return 1;
}

static IntVec ids_of(const cJSON *arr) {
    IntVec v = {0};
    for (const cJSON *x = arr->child; x; x = x->next) intvec_push(&v, x->valueint);
    return v;
}

/* The Python string mistral-common's decode returns, as UTF-8. */
static void decode_replaced(const Tekken *t, const int *ids, int n, ByteBuf *out) {
    ByteBuf raw = {0};
    EXPECT(tekken_decode(t, ids, n, &raw) == 0, "decode: %s", err_msg());
    utf8_replace_invalid(out, raw.p ? raw.p : "", raw.n);
    bytebuf_free(&raw);
}

/* Encodes text[0..len) and compares with want; then decode gives text back. */
static void check_encode(const Tekken *t, const char *name, const char *text, size_t len,
                         const cJSON *want) {
    IntVec v = {0};
    ByteBuf b = {0};
    EXPECT(tekken_encode(t, text, len, &v) == 0, "%s: %s", name, err_msg());
    EXPECT(same_ids(&v, want, -1), "%s: got %d ids, want %d (first %d)", name, v.n,
           cJSON_GetArraySize(want), v.n ? v.v[0] : -1);
    EXPECT(tekken_decode(t, v.v, v.n, &b) == 0 && b.n == len && memcmp(b.p ? b.p : "", text, len) == 0,
           "%s: decode(encode(text)) != text", name);
    intvec_free(&v);
    bytebuf_free(&b);
}

/* ---- the real tokenizer ---------------------------------------------------- */

static void test_real_table(const Tekken *t) {
    EXPECT(t->n_vocab == 131072 && t->n_special == 1000 && t->n_ranks == 130072,
           "sizes %d %d %d", t->n_vocab, t->n_special, t->n_ranks);
    EXPECT(t->bos == 1 && t->eos == 2 && t->unk == 0, "bos %d eos %d unk %d", t->bos, t->eos, t->unk);
    EXPECT(strcmp(t->version, "v3") == 0, "version %s", t->version);
    struct { const char *name; int id; } sp[] = {
        {"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"[INST]", 3}, {"[/INST]", 4}, {"[TOOL_CALLS]", 9},
        {"<pad>", 11}, {"[TOOL_CONTENT]", 19}, {"<SPECIAL_20>", 20}, {"<SPECIAL_999>", 999},
        {"<SPECIAL_1000>", -1}, {"<SPECIAL_3>", -1}, {"[inst]", -1}, {"", -1}, {"hello", -1},
    };
    for (size_t i = 0; i < sizeof sp / sizeof *sp; i++)
        EXPECT(tekken_special_id(t, sp[i].name) == sp[i].id, "special \"%s\" = %d, want %d",
               sp[i].name, tekken_special_id(t, sp[i].name), sp[i].id);
    /* "[INST]" typed as text is text, never the control token. */
    IntVec v = {0};
    EXPECT(tekken_encode(t, "[INST]", 6, &v) == 0 && v.n > 1, "[INST] as text");
    for (int i = 0; i < v.n; i++) EXPECT(v.v[i] >= 1000, "[INST] as text gave id %d", v.v[i]);
    intvec_free(&v);
}

static void test_golden(const Tekken *t) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizers/golden/golden_tokenize_tekken_240718.json", shared);
    cJSON *g = read_json(path);
    EXPECT(g, "cannot read %s", path);
    if (!g) return;
    int n = 0;
    for (const cJSON *c = cJSON_GetObjectItem(g, "cases")->child; c; c = c->next, n++) {
        const char *text = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *ids = cJSON_GetObjectItem(c, "ids");
        /* The exact text is the pieces' bytes (a JSON "\u0000" would cut a C
         * string): each id decodes to its piece, and they spell the text. */
        IntVec want = ids_of(ids);
        ByteBuf full = {0}, piece = {0}, b64 = {0};
        const cJSON *p = cJSON_GetObjectItem(c, "pieces_base64")->child;
        for (int i = 0; i < want.n && p; i++, p = p->next) {
            piece.n = 0, b64.n = 0;
            EXPECT(tekken_decode(t, &want.v[i], 1, &piece) == 0, "decode %d", want.v[i]);
            b64_encode(&b64, (const unsigned char *)piece.p, piece.n);
            EXPECT(b64.n && strcmp(b64.p, p->valuestring) == 0, "case %d: id %d is %s, want piece %s",
                   n, want.v[i], b64.p, p->valuestring);
            bytebuf_push(&full, piece.p, piece.n);
        }
        const char *bytes = full.p ? full.p : "";
        EXPECT(strncmp(bytes, text, strlen(text)) == 0 &&
                   (full.n == strlen(text) || memchr(bytes, 0, full.n)),
               "case %d: the pieces do not spell the text", n);
        check_encode(t, text, bytes, full.n, ids);

        IntVec v = {0};
        EXPECT(tekken_encode(t, bytes, full.n, &v) == 0, "encode");
        intvec_free(&v);
        intvec_push(&v, t->bos);
        EXPECT(tekken_encode(t, bytes, full.n, &v) == 0 &&
                   same_ids(&v, cJSON_GetObjectItem(c, "ids_with_bos"), -1),
               "case %d: ids_with_bos", n);
        /* decode: the bytes made a Python str; specials give nothing */
        const char *dec = cJSON_GetObjectItem(c, "decoded")->valuestring;
        ByteBuf got = {0};
        decode_replaced(t, v.v, v.n, &got);
        const char *gp = got.p ? got.p : "";
        EXPECT(strncmp(gp, dec, strlen(dec)) == 0 && (got.n == strlen(dec) || memchr(gp, 0, got.n)),
               "case %d: decoded \"%s\", want \"%s\"", n, gp, dec);
        intvec_free(&v), intvec_free(&want);
        bytebuf_free(&full), bytebuf_free(&piece), bytebuf_free(&b64), bytebuf_free(&got);
    }
    EXPECT(n == 46, "golden: %d cases", n);
    fprintf(stderr, "  golden: %d cases\n", n);
    cJSON_Delete(g);
}

static void test_crosscheck(const Tekken *t) {
    char path[512];
    snprintf(path, sizeof path, "%s/tokenizers/chat/tekken_crosscheck_p13t.json", shared);
    cJSON *x = read_json(path);
    EXPECT(x, "cannot read %s", path);
    if (!x) return;
    const cJSON *segs = cJSON_GetObjectItem(x, "segments");
    for (const cJSON *s = segs->child; s; s = s->next) {
        const char *text = cJSON_GetObjectItem(s, "text")->valuestring;
        check_encode(t, text, text, strlen(text), cJSON_GetObjectItem(s, "ids"));
    }
    /* <s>[SYSTEM_PROMPT]...[/SYSTEM_PROMPT]: the specials decode to nothing */
    IntVec head = ids_of(cJSON_GetObjectItem(cJSON_GetObjectItem(x, "full_sequence_head"), "ids"));
    ByteBuf b = {0};
    decode_replaced(t, head.v, head.n, &b);
    const char *first = cJSON_GetObjectItem(segs->child, "text")->valuestring;
    EXPECT(b.p && strcmp(b.p, first) == 0, "head decodes to \"%s\"", b.p ? b.p : "");
    fprintf(stderr, "  crosscheck: %d segments\n", cJSON_GetArraySize(segs));
    intvec_free(&head);
    bytebuf_free(&b);
    cJSON_Delete(x);
}

static void test_extra(const Tekken *t) {
    cJSON *x = read_json("tests/data/extra_cases_tekken.json");
    EXPECT(x, "cannot read tests/data/extra_cases_tekken.json");
    if (!x) return;
    int n = 0;
    for (const cJSON *c = cJSON_GetObjectItem(x, "cases")->child; c; c = c->next, n++) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        const char *unit = cJSON_GetObjectItem(c, "text")->valuestring;
        const cJSON *rep = cJSON_GetObjectItem(c, "repeat");
        ByteBuf text = {0};
        for (int i = 0; i < (rep ? rep->valueint : 1); i++) bytebuf_push(&text, unit, strlen(unit));
        check_encode(t, name, text.p, text.n, cJSON_GetObjectItem(c, "ids"));
        bytebuf_free(&text);
    }
    fprintf(stderr, "  extra: %d cases\n", n);
    cJSON_Delete(x);
}

static void test_refused_input(const Tekken *t) {
    const char *bad[] = {"\xff", "abc\xc3", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80", "a\x80z",
                         "ok then \xe6\x97"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        IntVec v = {0};
        intvec_push(&v, 7);
        err_set("%s", "");
        EXPECT(tekken_encode(t, bad[i], strlen(bad[i]), &v) == -1 && strstr(err_msg(), "UTF-8") &&
                   v.n == 1,
               "invalid UTF-8 #%zu accepted (%s)", i, err_msg());
        intvec_free(&v);
    }
    int ids[][2] = {{1032, -1}, {1032, 131072}, {INT32_MAX, 1}};
    for (int i = 0; i < 3; i++) {
        ByteBuf b = {0};
        EXPECT(tekken_decode(t, ids[i], 2, &b) == -1 && b.n == 0 && err_msg()[0], "bad id #%d", i);
        bytebuf_free(&b);
    }
    /* a lone lead byte decodes to U+FFFD, as Python's "replace" */
    int lead[] = {1, 1000 + 0xe6, 2, 1000 + 'x'};
    ByteBuf b = {0};
    decode_replaced(t, lead, 4, &b);
    EXPECT(b.n == 4 && memcmp(b.p, "\xef\xbf\xbdx", 4) == 0, "lone 0xe6 decodes to %s", b.p);
    bytebuf_free(&b);
    IntVec v = {0};
    EXPECT(tekken_encode(t, "", 0, &v) == 0 && v.n == 0, "empty text");
    intvec_free(&v);
}

/* One 100 KB piece each: tiktoken rescans a piece after every merge. */
static void test_long_pieces(const Tekken *t) {
    const char *units[] = {"a", " ", "\n", "ab", "\xe6\x97\xa5", "!", "-"};
    size_t n = 100000;
    char *text = xmalloc(n + 4);
    for (size_t u = 0; u < sizeof units / sizeof *units; u++) {
        size_t k = strlen(units[u]), len = 0;
        while (len + k <= n) memcpy(text + len, units[u], k), len += k;
        IntVec v = {0};
        ByteBuf b = {0};
        double t0 = now_seconds();
        EXPECT(tekken_encode(t, text, len, &v) == 0, "long run: %s", err_msg());
        double dt = now_seconds() - t0;
        EXPECT(dt < 1.0, "100 KB of \"%s\" took %.2f s", units[u], dt);
        EXPECT(tekken_decode(t, v.v, v.n, &b) == 0 && b.n == len && memcmp(b.p, text, len) == 0,
               "long run of \"%s\" does not round-trip", units[u]);
        intvec_free(&v);
        bytebuf_free(&b);
    }
    free(text);
}

static void test_speed(const Tekken *t) {
    const char *files[] = {"corpora/devils_dictionary.txt", "corpora/kjv_genesis_plain.txt"};
    for (int f = 0; f < 2; f++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", shared, files[f]);
        size_t len;
        char *text = read_file(path, &len);
        if (!text) continue;
        IntVec v = {0};
        ByteBuf b = {0};
        double t0 = now_seconds();
        EXPECT(tekken_encode(t, text, len, &v) == 0, "%s: %s", files[f], err_msg());
        double dt = now_seconds() - t0;
        EXPECT(tekken_decode(t, v.v, v.n, &b) == 0 && b.n == len && memcmp(b.p, text, len) == 0,
               "%s does not round-trip", files[f]);
        fprintf(stderr, "  %s: %zu bytes -> %d ids, %.1f MB/s\n", files[f], len, v.n, len / dt / 1e6);
        free(text);
        intvec_free(&v);
        bytebuf_free(&b);
    }
}

/* ---- small tokenizers written here ---------------------------------------- */

/* A tekken.json: the 256 bytes, then `merges` (NULL-terminated) as ranks
 * 256..; n_special specials of which <unk> <s> </s> are listed. */
static cJSON *synth(const char *const *merges, int n_special, const char *pattern) {
    cJSON *root = cJSON_CreateObject(), *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON *vocab = cJSON_AddArrayToObject(root, "vocab");
    cJSON *sp = cJSON_AddArrayToObject(root, "special_tokens");
    int n = 256;
    while (merges[n - 256]) n++;
    cJSON_AddStringToObject(cfg, "pattern", pattern);
    cJSON_AddNumberToObject(cfg, "num_vocab_tokens", n);
    cJSON_AddNumberToObject(cfg, "default_vocab_size", n + n_special);
    cJSON_AddNumberToObject(cfg, "default_num_special_tokens", n_special);
    cJSON_AddStringToObject(cfg, "version", "v3");
    for (int i = 0; i < n; i++) {
        ByteBuf b = {0};
        unsigned char byte = (unsigned char)i;
        if (i < 256) b64_encode(&b, &byte, 1);
        else b64_encode(&b, (const unsigned char *)merges[i - 256], strlen(merges[i - 256]));
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "rank", i);
        cJSON_AddStringToObject(e, "token_bytes", b.p);
        cJSON_AddNullToObject(e, "token_str");
        cJSON_AddItemToArray(vocab, e);
        bytebuf_free(&b);
    }
    const char *names[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "rank", i);
        cJSON_AddStringToObject(e, "token_str", names[i]);
        cJSON_AddTrueToObject(e, "is_control");
        cJSON_AddItemToArray(sp, e);
    }
    return root;
}

static int synth_load(Tekken *t, const cJSON *root) {
    char *s = cJSON_PrintUnformatted(root);
    int rc = tekken_parse(t, s, strlen(s), "synth.json");
    free(s);
    return rc;
}

static void expect_ids(const Tekken *t, const char *text, const int *want, int n) {
    IntVec v = {0};
    EXPECT(tekken_encode(t, text, strlen(text), &v) == 0, "%s: %s", text, err_msg());
    int ok = v.n == n;
    for (int i = 0; ok && i < n; i++) ok = v.v[i] == want[i];
    EXPECT(ok, "\"%s\": got %d ids (%d %d %d)", text, v.n, v.n > 0 ? v.v[0] : -1,
           v.n > 1 ? v.v[1] : -1, v.n > 2 ? v.v[2] : -1);
    intvec_free(&v);
}

static void test_merge_order(void) {
    Tekken t;
    const int S = 5; /* ids = ranks + 5 */
    const char *m1[] = {"aa", "ab", "bc", "xyz", NULL}; /* ranks 256, 257, 258, 259 */
    cJSON *j = synth(m1, S, "[a-z]+| ");
    EXPECT(synth_load(&t, j) == 0, "synth: %s", err_msg());
    expect_ids(&t, "aaa", (int[]){256 + S, 'a' + S}, 2);            /* tie: leftmost */
    expect_ids(&t, "aaaa", (int[]){256 + S, 256 + S}, 2);
    expect_ids(&t, "abc", (int[]){257 + S, 'c' + S}, 2);            /* ab (257) before bc (258) */
    expect_ids(&t, "xyz", (int[]){259 + S}, 1);                     /* whole token, no merges lead to it */
    expect_ids(&t, "xyzz", (int[]){'x' + S, 'y' + S, 'z' + S, 'z' + S}, 4);
    expect_ids(&t, "ab ab", (int[]){257 + S, ' ' + S, 257 + S}, 3);
    expect_ids(&t, "A", NULL, 0);                                   /* unmatched text is dropped */
    EXPECT(tekken_special_id(&t, "<s>") == 1 && tekken_special_id(&t, "<SPECIAL_4>") == 4 &&
           tekken_special_id(&t, "<SPECIAL_5>") == -1 && t.bos == 1 && t.eos == 2 && t.unk == 0,
           "synth specials");
    tekken_free(&t);
    cJSON_Delete(j);

    const char *m2[] = {"bc", "ab", NULL}; /* the other order: bc first */
    j = synth(m2, S, "[a-z]+");
    EXPECT(synth_load(&t, j) == 0, "synth: %s", err_msg());
    expect_ids(&t, "abc", (int[]){'a' + S, 256 + S}, 2);
    tekken_free(&t);
    cJSON_Delete(j);

    /* A pattern that can match the empty string must still terminate. */
    j = synth(m1, S, "a*");
    EXPECT(synth_load(&t, j) == 0, "synth: %s", err_msg());
    expect_ids(&t, "baab", (int[]){256 + S}, 1);
    tekken_free(&t);
    cJSON_Delete(j);

    /* No "special_tokens" before v11: mistral-common's 20 default names. */
    j = synth(m1, 24, "[a-z]+");
    cJSON_DeleteItemFromObject(j, "special_tokens");
    EXPECT(synth_load(&t, j) == 0, "synth v3 without special_tokens: %s", err_msg());
    EXPECT(tekken_special_id(&t, "[INST]") == 3 && tekken_special_id(&t, "[TOOL_CONTENT]") == 19 &&
           tekken_special_id(&t, "<SPECIAL_20>") == 20 && tekken_special_id(&t, "<SPECIAL_23>") == 23,
           "deprecated specials");
    tekken_free(&t);
    cJSON_Delete(j);
}

/* \s is White_Space, as in Rust's regex: U+180E is not a space there, while
 * PCRE2 counts it as one. With PCRE2's \s, " \u180e\u00a0" would be one
 * piece and one token here. */
static void test_space_class(void) {
    Tekken t;
    const char *m[] = {" \xe1\xa0\x8e\xc2\xa0", NULL};
    cJSON *j = synth(m, 3, "\\s+|\\S+");
    EXPECT(synth_load(&t, j) == 0, "synth: %s", err_msg());
    const char *text = "a \xe1\xa0\x8e\xc2\xa0" "b"; /* a, space, U+180E, U+00A0, b */
    IntVec v = {0};
    EXPECT(tekken_encode(&t, text, strlen(text), &v) == 0 && v.n == 8, "U+180E: %d ids, want 8", v.n);
    intvec_free(&v);
    tekken_free(&t);
    cJSON_Delete(j);

    /* \s and \S are rewritten everywhere they mean White_Space, and only
     * there: the bytes a pattern matches (the rest is dropped) tell. */
#define MVS "\xe1\xa0\x8e" /* U+180E */
    struct { const char *pattern, *text, *matched; } c[] = {
        {"\\s", "a b" MVS "\tc", " \t"},
        {"[\\s]", "a b" MVS "\tc", " \t"},
        {"[^\\S]", "a b" MVS "\tc", " \t"},
        {"\\S", "a " MVS, "a" MVS},
        {"[\\S]", "a " MVS, "a" MVS},
        {"[^\\s]", "a " MVS, "a" MVS},
        {"[^]\\s]", "a] " MVS, "a" MVS},
        {"[]\\s]", "a] b", "] "},
        {"[[:alpha:]\\s]", "ab 1", "ab "},
        {"[[:^alpha:]\\s]+", "ab 1", " 1"},
        {"\\Q\\s\\E", "x\\sy ", "\\s"},
        {"\\\\s", "x\\sy ", "\\s"},
        {"\\c]|\\s", "a\x1d b", "\x1d "},
        {"[\\x{20}\\s]+", "a \t" MVS, " \t"},
    };
    const char *none[] = {NULL};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        j = synth(none, 3, c[i].pattern);
        EXPECT(synth_load(&t, j) == 0, "pattern %s: %s", c[i].pattern, err_msg());
        IntVec ids = {0};
        ByteBuf b = {0};
        EXPECT(tekken_encode(&t, c[i].text, strlen(c[i].text), &ids) == 0, "%s", err_msg());
        EXPECT(tekken_decode(&t, ids.v, ids.n, &b) == 0 && b.p && strcmp(b.p, c[i].matched) == 0,
               "pattern %s on \"%s\" matched \"%s\", want \"%s\"", c[i].pattern, c[i].text,
               b.p ? b.p : "", c[i].matched);
        intvec_free(&ids);
        bytebuf_free(&b);
        tekken_free(&t);
        cJSON_Delete(j);
    }
#undef MVS
}

/* ---- malformed files ------------------------------------------------------- */

/* One edit: at path ("" the root, "config", "vocab/300"), set key to the
 * JSON value, or delete key when value is NULL. */
typedef struct {
    const char *path, *key, *value;
} Edit;

typedef struct {
    const char *what; /* the problem the error line must name */
    Edit e[2];
} BadCase;

static cJSON *at_path(cJSON *root, const char *path) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", path);
    cJSON *o = root;
    for (char *s = strtok(buf, "/"); s && o; s = strtok(NULL, "/"))
        o = cJSON_IsArray(o) ? cJSON_GetArrayItem(o, atoi(s)) : cJSON_GetObjectItem(o, s);
    return o;
}

static void apply(cJSON *root, const Edit *e) {
    if (!e->path) return;
    cJSON *o = at_path(root, e->path);
    CHECK(o);
    if (cJSON_IsArray(o)) {
        int i = atoi(e->key);
        if (e->value) cJSON_ReplaceItemInArray(o, i, cJSON_Parse(e->value));
        else cJSON_DeleteItemFromArray(o, i);
    } else if (!e->value) {
        cJSON_DeleteItemFromObject(o, e->key);
    } else if (cJSON_GetObjectItem(o, e->key)) {
        cJSON_ReplaceItemInObject(o, e->key, cJSON_Parse(e->value));
    } else {
        cJSON_AddItemToObject(o, e->key, cJSON_Parse(e->value));
    }
}

static void expect_refused(const char *name, const char *text, size_t len, const char *what) {
    char path[512];
    Tekken t;
    snprintf(path, sizeof path, "%s/%s.json", tmp, name);
    CHECK(test_write_file(path, text, len) == 0);
    err_set("%s", "");
    int rc = tekken_load(&t, path);
    const char *msg = err_msg();
    EXPECT(rc == -1, "%s: accepted", name);
    EXPECT(strncmp(msg, path, strlen(path)) == 0 && strncmp(msg + strlen(path), ": ", 2) == 0 &&
           !strchr(msg, '\n') && strstr(msg, what),
           "%s: error line \"%s\" (want \"%s: ...%s...\")", name, msg, path, what);
    if (getenv("MISTRAL_TEST_VERBOSE")) fprintf(stderr, "  %s\n", msg);
    EXPECT(t.impl == NULL && t.tok == NULL && t.special == NULL, "%s: not left zeroed", name);
}

static void test_malformed(void) {
    static const char *merges[64];
    static char names[60][4];
    for (int i = 0; i < 60; i++) { /* 60 two-letter merges: ranks 256..315 */
        snprintf(names[i], sizeof names[i], "%c%c", 'a' + i / 26, 'a' + i % 26);
        merges[i] = names[i];
    }
    merges[60] = NULL;
    static const BadCase cases[] = {
        {"missing \"config\"", {{"", "config", NULL}}},
        {"missing \"config\"", {{"", "config", "[1]"}}},
        {"missing \"vocab\"", {{"", "vocab", NULL}}},
        {"missing \"vocab\"", {{"", "vocab", "{}"}}},
        {"config.pattern", {{"config", "pattern", NULL}}},
        {"config.pattern", {{"config", "pattern", "7"}}},
        {"config.pattern", {{"config", "pattern", "\"\""}}},
        {"does not compile", {{"config", "pattern", "\"(unclosed\""}}},
        {"does not compile", {{"config", "pattern", "\"\\\\p{NoSuchClass}\""}}},
        {"does not compile", {{"config", "pattern", "\"a{2,1}\""}}},
        {"config.version", {{"config", "version", NULL}}},
        {"not v<number>", {{"config", "version", "\"3\""}}},
        {"not v<number>", {{"config", "version", "\"v3b\""}}},
        {"default_vocab_size", {{"config", "default_vocab_size", NULL}}},
        {"default_vocab_size", {{"config", "default_vocab_size", "1.5"}}},
        {"not a number", {{"config", "default_vocab_size", "\"326\""}}},
        {"default_vocab_size", {{"config", "default_vocab_size", "1e300"}}},
        {"default_num_special_tokens", {{"config", "default_num_special_tokens", "-1"}}},
        {"default_num_special_tokens", {{"config", "default_num_special_tokens", "1e9"}}},
        {"num_vocab_tokens is 999", {{"config", "num_vocab_tokens", "999"}}},
        {"num_vocab_tokens is 316 but", {{"vocab", "315", NULL}}},
        {"needs 317 vocab entries", {{"config", "default_vocab_size", "327"}}},
        {"need 256", {{"config", "default_vocab_size", "265"}}},
        {"3 special tokens listed", {{"config", "default_num_special_tokens", "2"},
                                     {"config", "default_vocab_size", "318"}}},
        {"vocab[300] has rank 301", {{"vocab/300", "rank", "301"}}},
        {"vocab[257] has rank 256", {{"vocab/257", "rank", "256"}}},
        {"vocab[300].rank", {{"vocab/300", "rank", NULL}}},
        {"vocab[300].rank", {{"vocab/300", "rank", "\"300\""}}},
        {"vocab[5] is not an object", {{"vocab", "5", "5"}}},
        {"vocab[300].token_bytes", {{"vocab/300", "token_bytes", NULL}}},
        {"vocab[300].token_bytes", {{"vocab/300", "token_bytes", "[]"}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"YWI=!\""}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"YW\""}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"Y===\""}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"YWJ=\""}}}, /* padding bits set */
        {"not valid base64", {{"vocab/300", "token_bytes", "\"YW=i\""}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"YW I\""}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"YWI=YWI=\""}}},
        {"not valid base64", {{"vocab/300", "token_bytes", "\"Y-_=\""}}},
        {"vocab[300].token_bytes is empty", {{"vocab/300", "token_bytes", "\"\""}}},
        {"vocab[65] is not the single byte 0x41", {{"vocab/65", "token_bytes", "\"Qw==\""}}},
        {"vocab[65] is not the single byte 0x41", {{"vocab/65", "token_bytes", "\"QUE=\""}}},
        {"vocab[257] has the same bytes as vocab[256]", {{"vocab/257", "token_bytes", "\"YWE=\""}}},
        {"vocab[300] has the same bytes as vocab[97]", {{"vocab/300", "token_bytes", "\"YQ==\""}}},
        {"\"special_tokens\" is not a list", {{"", "special_tokens", "5"}}},
        {"special_tokens[1] has rank 7", {{"special_tokens/1", "rank", "7"}}},
        {"special_tokens[1] is not an object", {{"special_tokens", "1", "\"<s>\""}}},
        {"special_tokens[1].token_str", {{"special_tokens/1", "token_str", NULL}}},
        {"special_tokens[1].token_str", {{"special_tokens/1", "token_str", "\"\""}}},
        {"\"<unk>\" appears twice", {{"special_tokens/1", "token_str", "\"<unk>\""}}},
        {"\"<SPECIAL_5>\" appears twice", {{"special_tokens/2", "token_str", "\"<SPECIAL_5>\""}}},
        {"required for version v11", {{"", "special_tokens", NULL}, {"config", "version", "\"v11\""}}},
        {"below the 20 default special tokens", {{"", "special_tokens", NULL}}},
    };
    int n = (int)(sizeof cases / sizeof *cases);
    for (int i = 0; i < n; i++) {
        cJSON *j = synth(merges, 10, "[a-z]+|[^a-z]");
        apply(j, &cases[i].e[0]);
        apply(j, &cases[i].e[1]);
        char *s = cJSON_PrintUnformatted(j), name[32];
        snprintf(name, sizeof name, "bad%02d", i);
        expect_refused(name, s, strlen(s), cases[i].what);
        free(s);
        cJSON_Delete(j);
    }
    /* the unedited file is fine */
    Tekken t;
    cJSON *j = synth(merges, 10, "[a-z]+|[^a-z]");
    EXPECT(synth_load(&t, j) == 0 && t.n_vocab == 326 && t.n_ranks == 316, "synth: %s", err_msg());
    tekken_free(&t);
    tekken_free(&t); /* twice: a freed struct is a zeroed one */
    cJSON_Delete(j);

    struct { const char *text, *what; } raw[] = {
        {"", "not valid JSON"}, {"{", "not valid JSON"}, {"{\"config\": {}, }", "not valid JSON"},
        {"[]", "not a JSON object"}, {"null", "not a JSON object"}, {"\"tekken\"", "not a JSON object"},
        {"{}", "missing \"config\""}, {"{} {}", "trailing bytes at byte 3"}, {"{}\n]", "trailing"},
        {"{\"config\": {}, \"vocab\": []}", "config.pattern"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        char name[32];
        snprintf(name, sizeof name, "raw%zu", i);
        expect_refused(name, raw[i].text, strlen(raw[i].text), raw[i].what);
    }
    err_set("%s", "");
    EXPECT(tekken_load(&t, "/nonexistent/tekken.json") == -1 &&
               strstr(err_msg(), "/nonexistent/tekken.json"),
           "missing file: %s", err_msg());
    fprintf(stderr, "  malformed: %d edited + %zu raw files refused\n", n, sizeof raw / sizeof *raw);
}

/* The real file cut short, at a few places. */
static void test_truncated_real(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", shared, TEKKEN);
    size_t len;
    char *text = read_file(path, &len);
    if (!text) return;
    size_t cuts[] = {1, 300, len / 3, len - 2};
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "cut%d", i);
        expect_refused(name, text, cuts[i], "not valid JSON");
    }
    free(text);
}

int main(void) {
    const char *env = getenv("MISTRAL_SHARED");
    snprintf(shared, sizeof shared, "%s", env && *env ? env : "../shared");
    snprintf(tmp, sizeof tmp, "%s", test_tmpdir());

    test_merge_order();
    test_space_class();
    test_malformed();

    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", shared, TEKKEN);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "SKIP: %s not found (set MISTRAL_SHARED): real-tokenizer cases skipped\n",
                path);
    } else {
        Tekken t;
        double t0 = now_seconds();
        int rc = tekken_load(&t, path);
        EXPECT(rc == 0, "load: %s", err_msg());
        if (rc == 0) {
            fprintf(stderr, "  load: %.3f s\n", now_seconds() - t0);
            test_real_table(&t);
            test_golden(&t);
            test_crosscheck(&t);
            test_extra(&t);
            test_refused_input(&t);
            test_long_pieces(&t);
            test_speed(&t);
            tekken_free(&t);
        }
        test_truncated_real();
    }
    test_rm_rf(tmp);
    return test_done("test_tekken");
}
