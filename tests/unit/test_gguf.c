/* test_gguf — the GGUF reader and writer.
 *
 *  - files written by the writer (every value type, arrays, a tensor of
 *    every dtype, 4-D shapes) read back: values, coercions of the getters,
 *    tensor shapes, bytes and alignment;
 *  - a 131072-string array (a Tekken-sized vocabulary) read fast;
 *  - hand-built files: nested arrays, a tensor type the kernels do not read,
 *    GGUF v2;
 *  - malformed files, each refused with a one-line error naming the file:
 *    truncation at every byte, a tensor of each issue-21 type cut short, lying counts and lengths (up to 2^62), unknown
 *    value types, bad tensor infos and layouts, wrong magic and versions.
 *    Buffers have their exact size (ASan sees an over-read); outside ASan the
 *    malformed cases run under a 1 GiB address-space limit, so that an
 *    allocation sized from a lying count aborts the test;
 *  - writer errors (duplicates, bad shapes, a full disk).
 * GGUF_VERBOSE=1 prints each malformed case's error line. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/util.h"
#include "harness.h"
#include "kern/dtype.h"
#include "kern/quant.h"
#include "format/gguf.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif


static uint64_t rng_s = 0x1f83d9abfb41bd6bull;
static uint64_t rng_u64(void) {
    rng_s ^= rng_s >> 12;
    rng_s ^= rng_s << 25;
    rng_s ^= rng_s >> 27;
    return rng_s * 0x2545f4914f6cdd1dull;
}
static float rng_float(void) { return (float)((double)(rng_u64() >> 11) * 0x1.0p-53 * 2 - 1); }

static const char *tmp_dir;

/* ---- a byte builder for hand-made files ------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void b_put(Buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void b_le(Buf *b, uint64_t v, int n) {
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(v >> 8 * i);
        b_put(b, &c, 1);
    }
}
static void b_u32(Buf *b, uint32_t v) { b_le(b, v, 4); }
static void b_u64(Buf *b, uint64_t v) { b_le(b, v, 8); }
static void b_str(Buf *b, const char *s) {
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}
static void b_pad(Buf *b, size_t a) {
    while (b->n % a) b_le(b, 0, 1);
}
static void b_header(Buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}
static void b_kv_u32(Buf *b, const char *key, uint32_t v) {
    b_str(b, key);
    b_u32(b, GGUF_U32);
    b_u32(b, v);
}
/* a tensor info with n_dims dims */
static void b_tinfo(Buf *b, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                    uint64_t offset) {
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) b_u64(b, dims[i]);
    b_u32(b, type);
    b_u64(b, offset);
}
static void b_data(Buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) b_le(b, i * 7 + 1, 1);
}

/* Parses b from an exact-size copy. Returns gguf_parse's code; f is closed. */
static int parse_buf(const Buf *b, GGUFFile *f) {
    unsigned char *copy = xmalloc(b->n ? b->n : 1);
    memcpy(copy, b->p, b->n);
    memset(f, 0, sizeof *f);
    err_set("%s", "");
    int rc = gguf_parse(f, copy, b->n, "bad.gguf");
    gguf_close(f);
    free(copy);
    return rc;
}

/* b must be refused with a one-line error naming the file and holding `sub`. */
static void expect_bad(Buf *b, const char *what, const char *sub) {
    GGUFFile f;
    int rc = parse_buf(b, &f);
    const char *e = err_msg();
    EXPECT(rc == -1, "%s: accepted", what);
    EXPECT(e[0] && !strchr(e, '\n') && strstr(e, "bad.gguf"), "%s: error line \"%s\"", what, e);
    EXPECT(strstr(e, sub), "%s: error \"%s\" does not say \"%s\"", what, e, sub);
    if (getenv("GGUF_VERBOSE")) fprintf(stderr, "%-40s %s\n", what, e);
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- round trip through the writer ----------------------------------------- */

#define N_TT 19
static const struct {
    const char *name;
    DType dt;
    int n_dims;
    int64_t dims[4];
} TT[N_TT] = {
    {"t.f32", DT_F32, 2, {7, 3}},
    {"t.f16", DT_F16, 1, {5}},
    {"t.bf16", DT_BF16, 3, {4, 2, 3}},
    {"t.q8_0", DT_Q8_0, 2, {64, 3}},
    {"t.q4_0", DT_Q4_0, 4, {32, 1, 2, 2}},
    {"t.q4_1", DT_Q4_1, 2, {96, 1}},
    {"t.q5_0", DT_Q5_0, 2, {32, 5}},
    {"t.q5_1", DT_Q5_1, 1, {64}},
    {"t.q4_K", DT_Q4_K, 2, {256, 3}},
    {"t.q5_K", DT_Q5_K, 2, {512, 1}},
    {"t.q6_K", DT_Q6_K, 3, {256, 2, 2}},
    {"t.q2_K", DT_Q2_K, 2, {256, 2}},
    {"t.q3_K", DT_Q3_K, 2, {512, 1}},
    {"t.iq4_nl", DT_IQ4_NL, 2, {96, 2}},
    {"t.iq4_xs", DT_IQ4_XS, 3, {256, 1, 2}},
    {"t.tq1_0", DT_TQ1_0, 2, {256, 3}},
    {"t.tq2_0", DT_TQ2_0, 1, {768}},
    {"t.empty", DT_F32, 2, {0, 4}},
    {"blk.0.attn_q.weight", DT_F16, 2, {1, 1}},
};

static void test_round_trip(void) {
    GGUFWriter w;
    gguf_writer_init(&w);
    int bad = 0;
    bad |= gguf_writer_add_string(&w, "general.architecture", "llama");
    bad |= gguf_writer_add_u8(&w, "v.u8", 200);
    bad |= gguf_writer_add_i8(&w, "v.i8", -100);
    bad |= gguf_writer_add_u16(&w, "v.u16", 60000);
    bad |= gguf_writer_add_i16(&w, "v.i16", -30000);
    bad |= gguf_writer_add_u32(&w, "v.u32", 4000000000u);
    bad |= gguf_writer_add_i32(&w, "v.i32", -2000000000);
    bad |= gguf_writer_add_f32(&w, "v.f32", 3.25f);
    bad |= gguf_writer_add_bool(&w, "v.bool", 1);
    bad |= gguf_writer_add_bool(&w, "v.false", 0);
    bad |= gguf_writer_add_u64(&w, "v.u64", ((uint64_t)1 << 63) + 5);
    bad |= gguf_writer_add_i64(&w, "v.i64", -((int64_t)1 << 62));
    bad |= gguf_writer_add_f64(&w, "v.f64", 1e300);
    bad |= gguf_writer_add_i64(&w, "v.i64min", INT64_MIN);
    bad |= gguf_writer_add_i32(&w, "v.i32min", INT32_MIN);
    bad |= gguf_writer_add_u64(&w, "v.small64", 4096);
    bad |= gguf_writer_add_string(&w, "v.empty", "");
    float fa[5] = {1.5f, -2.f, 0.f, 1e-3f, 65504.f};
    int32_t ia[4] = {-1, 0, 7, INT32_MAX};
    uint8_t ua[3] = {0, 255, 9};
    uint8_t ba[3] = {1, 0, 1};
    int64_t la[2] = {-5, (int64_t)1 << 40};
    bad |= gguf_writer_add_array(&w, "a.f32", GGUF_F32, fa, 5);
    bad |= gguf_writer_add_array(&w, "a.i32", GGUF_I32, ia, 4);
    bad |= gguf_writer_add_array(&w, "a.u8", GGUF_U8, ua, 3);
    bad |= gguf_writer_add_array(&w, "a.bool", GGUF_BOOL, ba, 3);
    bad |= gguf_writer_add_array(&w, "a.i64", GGUF_I64, la, 2);
    bad |= gguf_writer_add_array(&w, "a.none", GGUF_F32, NULL, 0);
    const char *strs[4] = {"<s>", "", "a\0b", "\xe2\x96\x81the"};
    size_t lens[4] = {3, 0, 3, 6};
    bad |= gguf_writer_add_array_str(&w, "a.str", strs, lens, 4);
    bad |= gguf_writer_add_array_str(&w, "a.str0", strs, NULL, 2);
    EXPECT(bad == 0, "adds: %s", err_msg());

    void *data[N_TT];
    for (int i = 0; i < N_TT; i++) {
        const DTypeTraits *tr = dtype_traits(TT[i].dt);
        size_t n = 1;
        for (int j = 0; j < TT[i].n_dims; j++) n *= (size_t)TT[i].dims[j];
        float *x = xmalloc(n * sizeof *x + 1);
        for (size_t k = 0; k < n; k++) x[k] = rng_float();
        data[i] = xmalloc(dtype_bytes(TT[i].dt, n) + 1);
        if (tr->quantize) tr->quantize(data[i], x, n);
        else for (size_t k = 0; k < dtype_bytes(TT[i].dt, n); k++) ((unsigned char *)data[i])[k] = (unsigned char)rng_u64(); /* tq1_0, tq2_0: read only */
        free(x);
        EXPECT(gguf_writer_add_tensor(&w, TT[i].name, TT[i].dt, TT[i].n_dims, TT[i].dims, data[i]) == 0, "%s: %s",
               TT[i].name, err_msg());
    }
    char path[512];
    snprintf(path, sizeof path, "%s/rt.gguf", tmp_dir);
    FILE *fp = fopen(path, "wb");
    CHECK(fp);
    EXPECT(gguf_writer_write(&w, fp) == 0, "write: %s", err_msg());
    fclose(fp);
    gguf_writer_free(&w);

    GGUFFile f;
    EXPECT(gguf_open(&f, path) == 0, "open: %s", err_msg());
    EXPECT(f.version == 3 && f.alignment == 32 && f.data_offset % 32 == 0, "version %d alignment %u data at %zu",
           f.version, f.alignment, f.data_offset);
    EXPECT(f.n_kv == 25 + 1 && f.n_tensors == N_TT, "%d pairs, %d tensors", f.n_kv, f.n_tensors);
    EXPECT(strcmp(f.kv[0].key, "general.alignment") == 0, "general.alignment first: %s", f.kv[0].key);

    /* every type, read as itself */
    uint32_t u32 = 0;
    int32_t i32 = 0;
    uint64_t u64 = 0;
    int64_t i64 = 0;
    float f32 = 0;
    int bv = -1;
    const char *s = NULL;
    EXPECT(gguf_get_string(&f, "general.architecture", &s) == 0 && strcmp(s, "llama") == 0, "architecture");
    EXPECT(gguf_get_string(&f, "v.empty", &s) == 0 && strcmp(s, "") == 0, "empty string");
    EXPECT(gguf_get_u32(&f, "v.u8", &u32) == 0 && u32 == 200, "u8 -> u32");
    EXPECT(gguf_get_i32(&f, "v.i8", &i32) == 0 && i32 == -100, "i8 -> i32");
    EXPECT(gguf_get_u32(&f, "v.u16", &u32) == 0 && u32 == 60000, "u16");
    EXPECT(gguf_get_i32(&f, "v.i16", &i32) == 0 && i32 == -30000, "i16");
    EXPECT(gguf_get_u32(&f, "v.u32", &u32) == 0 && u32 == 4000000000u, "u32");
    EXPECT(gguf_get_i32(&f, "v.i32", &i32) == 0 && i32 == -2000000000, "i32");
    EXPECT(gguf_get_f32(&f, "v.f32", &f32) == 0 && f32 == 3.25f, "f32");
    EXPECT(gguf_get_bool(&f, "v.bool", &bv) == 0 && bv == 1, "bool");
    EXPECT(gguf_get_bool(&f, "v.false", &bv) == 0 && bv == 0, "false");
    EXPECT(gguf_get_u64(&f, "v.u64", &u64) == 0 && u64 == ((uint64_t)1 << 63) + 5, "u64");
    EXPECT(gguf_get_i64(&f, "v.i64", &i64) == 0 && i64 == -((int64_t)1 << 62), "i64");
    EXPECT(gguf_get_i64(&f, "v.i64min", &i64) == 0 && i64 == INT64_MIN, "i64 min");
    EXPECT(gguf_get_i32(&f, "v.i32min", &i32) == 0 && i32 == INT32_MIN, "i32 min");
    EXPECT(gguf_get_f32(&f, "v.f64", &f32) == 0 && isinf(f32), "f64 1e300 -> f32 inf");
    const GGUFKV *kv = gguf_find_kv(&f, "v.f64");
    double d64 = 0;
    if (kv) memcpy(&d64, kv->v.data, 8);
    EXPECT(kv && kv->v.type == GGUF_F64 && d64 == 1e300, "f64 view");
    EXPECT(gguf_find_kv(&f, "v.nope") == NULL, "absent key");

    /* coercions */
    EXPECT(gguf_get_u32(&f, "v.small64", &u32) == 0 && u32 == 4096, "u64 -> u32 when it fits");
    EXPECT(gguf_get_f32(&f, "v.u32", &f32) == 0 && f32 == 4e9f, "u32 -> f32");
    EXPECT(gguf_get_f32(&f, "v.i8", &f32) == 0 && f32 == -100.f, "i8 -> f32");
    EXPECT(gguf_get_u64(&f, "v.u8", &u64) == 0 && u64 == 200, "u8 -> u64");
    EXPECT(gguf_get_i64(&f, "v.u32", &i64) == 0 && i64 == 4000000000, "u32 -> i64");
    u32 = 77;
    EXPECT(gguf_get_u32(&f, "v.i8", &u32) == -1 && u32 == 77 && strstr(err_msg(), "v.i8"), "negative -> u32: %s",
           err_msg());
    EXPECT(gguf_get_u32(&f, "v.u64", &u32) == -1 && strstr(err_msg(), "does not fit"), "big u64 -> u32");
    EXPECT(gguf_get_i32(&f, "v.u32", &i32) == -1, "u32 4e9 -> i32");
    EXPECT(gguf_get_i64(&f, "v.u64", &i64) == -1, "u64 2^63+5 -> i64");
    EXPECT(gguf_get_u64(&f, "v.i64", &u64) == -1, "negative -> u64");
    EXPECT(gguf_get_u32(&f, "v.f32", &u32) == -1 && strstr(err_msg(), "not an integer"), "f32 -> u32: %s",
           err_msg());
    EXPECT(gguf_get_u32(&f, "general.architecture", &u32) == -1, "string -> u32");
    EXPECT(gguf_get_bool(&f, "v.u8", &bv) == -1, "u8 -> bool");
    EXPECT(gguf_get_string(&f, "v.u8", &s) == -1 && strstr(err_msg(), "not a string"), "u8 -> string");
    EXPECT(gguf_get_f32(&f, "a.f32", &f32) == -1, "array -> f32");
    u32 = 77;
    EXPECT(gguf_get_u32(&f, "v.nope", &u32) == 1 && u32 == 77 && strstr(err_msg(), "missing key \"v.nope\""),
           "absent -> 1: %s", err_msg());

    /* arrays */
    GGUFType et;
    uint64_t n;
    const void *view;
    EXPECT(gguf_get_array(&f, "a.f32", &et, &n, &view) == 0 && et == GGUF_F32 && n == 5 &&
               memcmp(view, fa, sizeof fa) == 0,
           "a.f32");
    EXPECT(gguf_get_array(&f, "v.u8", &et, &n, &view) == -1, "scalar as array");
    EXPECT(gguf_get_array(&f, "a.nope", &et, &n, &view) == 1, "absent array");
    float fo[5];
    int32_t io[5];
    kv = gguf_find_kv(&f, "a.f32");
    EXPECT(kv && gguf_array_f32(&kv->v, fo, "a.f32") == 0 && memcmp(fo, fa, sizeof fa) == 0, "a.f32 copy");
    kv = gguf_find_kv(&f, "a.i32");
    EXPECT(kv && gguf_array_i32(&kv->v, io, "a.i32") == 0 && memcmp(io, ia, sizeof ia) == 0, "a.i32 copy");
    EXPECT(kv && gguf_array_f32(&kv->v, fo, "a.i32") == 0 && fo[0] == -1.f && fo[2] == 7.f, "a.i32 as f32");
    kv = gguf_find_kv(&f, "a.u8");
    EXPECT(kv && gguf_array_i32(&kv->v, io, "a.u8") == 0 && io[1] == 255, "a.u8 as i32");
    kv = gguf_find_kv(&f, "a.i64");
    EXPECT(kv && gguf_array_i32(&kv->v, io, "a.i64") == -1 && strstr(err_msg(), "element 1"), "i64 2^40 -> i32");
    kv = gguf_find_kv(&f, "a.bool");
    EXPECT(kv && kv->v.elem_type == GGUF_BOOL && kv->v.n == 3 && kv->v.data[0] == 1 && kv->v.data[1] == 0,
           "a.bool");
    EXPECT(kv && gguf_array_f32(&kv->v, fo, "a.bool") == -1, "bool array as f32");
    kv = gguf_find_kv(&f, "a.none");
    EXPECT(kv && kv->v.n == 0 && kv->v.elem_type == GGUF_F32, "empty array");
    kv = gguf_find_kv(&f, "a.str");
    EXPECT(kv && kv->v.elem_type == GGUF_STRING && kv->v.n == 4, "a.str");
    if (kv && kv->v.n == 4)
        for (int i = 0; i < 4; i++) {
            GGUFStr e = gguf_array_str(&kv->v, (uint64_t)i);
            EXPECT(e.len == lens[i] && memcmp(e.p, strs[i], e.len) == 0, "a.str[%d]", i);
        }
    EXPECT(kv && gguf_array_i32(&kv->v, io, "a.str") == -1, "string array as i32");
    kv = gguf_find_kv(&f, "a.str0");
    EXPECT(kv && kv->v.n == 2 && gguf_array_str(&kv->v, 1).len == 0, "a.str0");

    /* tensors */
    for (int i = 0; i < N_TT; i++) {
        const Tensor *t = gguf_get_tensor(&f, TT[i].name);
        EXPECT(t, "%s: %s", TT[i].name, err_msg());
        if (!t) continue;
        size_t n_el = 1;
        for (int j = 0; j < 4; j++) n_el *= (size_t)(j < TT[i].n_dims ? TT[i].dims[j] : 1);
        EXPECT(t->dtype == (int)TT[i].dt && t->file_type == dtype_traits(TT[i].dt)->gguf_type &&
                   t->ndim == TT[i].n_dims && t->nbytes == dtype_bytes(TT[i].dt, n_el),
               "%s: dtype %d n_dims %d nbytes %zu", TT[i].name, t->dtype, t->ndim, t->nbytes);
        for (int j = 0; j < 4; j++)
            EXPECT(tensor_ne(t, j) == (j < TT[i].n_dims ? TT[i].dims[j] : 1), "%s dims[%d] = %lld", TT[i].name, j,
                   (long long)tensor_ne(t, j));
        EXPECT(t->offset % 32 == 0 && !t->copy && ((const unsigned char *)t->data - f.map.data) % 32 == 0,
               "%s: offset %llu", TT[i].name, (unsigned long long)t->offset);
        EXPECT(t->nbytes == 0 || memcmp(t->data, data[i], t->nbytes) == 0, "%s: bytes differ", TT[i].name);
        free(data[i]);
    }
    EXPECT(gguf_find_tensor(&f, "t.nope") == NULL, "absent tensor");
    EXPECT(gguf_get_tensor(&f, "t.nope") == NULL && strstr(err_msg(), "no tensor \"t.nope\""), "absent: %s",
           err_msg());
    gguf_close(&f);
    gguf_close(&f); /* closing twice is harmless */
}

/* A Tekken-sized vocabulary: 131072 strings, read and walked fast. */
static void test_big_vocab(void) {
    enum { N = 131072 };
    char **toks = xmalloc(N * sizeof *toks);
    float *scores = xmalloc(N * sizeof *scores);
    for (int i = 0; i < N; i++) {
        char b[32];
        snprintf(b, sizeof b, "tok%d", i);
        toks[i] = xstrdup(b);
        scores[i] = (float)-i;
    }
    GGUFWriter w;
    gguf_writer_init(&w);
    gguf_writer_add_array_str(&w, "tokenizer.ggml.tokens", (const char *const *)toks, NULL, N);
    gguf_writer_add_array(&w, "tokenizer.ggml.scores", GGUF_F32, scores, N);
    char path[512];
    snprintf(path, sizeof path, "%s/vocab.gguf", tmp_dir);
    FILE *fp = fopen(path, "wb");
    CHECK(fp);
    EXPECT(gguf_writer_write(&w, fp) == 0, "write: %s", err_msg());
    fclose(fp);
    gguf_writer_free(&w);

    double t0 = now_seconds();
    GGUFFile f;
    EXPECT(gguf_open(&f, path) == 0, "open: %s", err_msg());
    const GGUFKV *kv = gguf_find_kv(&f, "tokenizer.ggml.tokens");
    int ok = kv && kv->v.n == N;
    for (int i = 0; ok && i < N; i++) {
        GGUFStr s = gguf_array_str(&kv->v, (uint64_t)i);
        ok = s.len == strlen(toks[i]) && memcmp(s.p, toks[i], s.len) == 0;
    }
    for (int i = N - 1; ok && i >= 0; i -= 997) ok = gguf_array_str(&kv->v, (uint64_t)i).len == strlen(toks[i]);
    double dt = now_seconds() - t0;
    EXPECT(ok, "vocabulary read back");
    EXPECT(dt < 5.0, "131072 strings took %.2f s", dt);
    float *so = xmalloc(N * sizeof *so);
    kv = gguf_find_kv(&f, "tokenizer.ggml.scores");
    EXPECT(kv && gguf_array_f32(&kv->v, so, "scores") == 0 && memcmp(so, scores, N * sizeof *so) == 0, "scores");
    free(so);
    gguf_close(&f);
    for (int i = 0; i < N; i++) free(toks[i]);
    free(toks);
    free(scores);
}

/* ---- hand-built valid files ------------------------------------------------ */

static void test_hand_built(void) {
    GGUFFile f;
    { /* v2, nested arrays (of strings, of arrays of u16), an iq2_xxs tensor (not read) */
        Buf b = {0};
        b_header(&b, 2, 2, 3);
        b_str(&b, "nest.str");
        b_u32(&b, GGUF_ARRAY);
        b_u32(&b, GGUF_ARRAY);
        b_u64(&b, 2);
        b_u32(&b, GGUF_STRING), b_u64(&b, 2), b_str(&b, "ab"), b_str(&b, "c");
        b_u32(&b, GGUF_STRING), b_u64(&b, 0);
        b_str(&b, "nest.deep");
        b_u32(&b, GGUF_ARRAY);
        b_u32(&b, GGUF_ARRAY);
        b_u64(&b, 1);
        b_u32(&b, GGUF_ARRAY), b_u64(&b, 1);
        b_u32(&b, GGUF_U16), b_u64(&b, 2), b_le(&b, 513, 2), b_le(&b, 7, 2);
        b_kv_u32(&b, "general.alignment", 64);
        uint64_t d1[2] = {256, 2}, d2[1] = {32};
        b_tinfo(&b, "w.iq2", 2, d1, 16, 0);
        b_tinfo(&b, "w.f32", 1, d2, 0, 192);
        b_pad(&b, 64);
        b_data(&b, 66 * 2);
        b_pad(&b, 64);
        b_data(&b, 32 * 4);
        unsigned char *copy = xmalloc(b.n);
        memcpy(copy, b.p, b.n);
        memset(&f, 0, sizeof f);
        EXPECT(gguf_parse(&f, copy, b.n, "hand.gguf") == 0, "hand-built v2: %s", err_msg());
        EXPECT(f.version == 2 && f.alignment == 64 && f.data_offset % 64 == 0, "v2 header");
        const GGUFKV *kv = gguf_find_kv(&f, "nest.str");
        EXPECT(kv && kv->v.elem_type == GGUF_ARRAY && kv->v.n == 2, "nest.str");
        if (kv && kv->v.n == 2) {
            const GGUFValue *a = gguf_array_sub(&kv->v, 0), *e = gguf_array_sub(&kv->v, 1);
            EXPECT(a->elem_type == GGUF_STRING && a->n == 2 && gguf_array_str(a, 0).len == 2 &&
                       memcmp(gguf_array_str(a, 0).p, "ab", 2) == 0 && gguf_array_str(a, 1).p[0] == 'c',
                   "nest.str[0]");
            EXPECT(e->elem_type == GGUF_STRING && e->n == 0, "nest.str[1]");
        }
        kv = gguf_find_kv(&f, "nest.deep");
        if (kv && kv->v.n == 1) {
            const GGUFValue *a = gguf_array_sub(gguf_array_sub(&kv->v, 0), 0);
            int32_t io[2];
            EXPECT(a->elem_type == GGUF_U16 && a->n == 2 && gguf_array_i32(a, io, "deep") == 0 && io[0] == 513 &&
                       io[1] == 7,
                   "nest.deep");
        } else {
            EXPECT(0, "nest.deep");
        }
        const Tensor *t = gguf_find_tensor(&f, "w.iq2");
        EXPECT(t && t->dtype == -1 && t->file_type == 16 && t->nbytes == 132, "iq2_xxs kept");
        EXPECT(gguf_get_tensor(&f, "w.iq2") == NULL && strstr(err_msg(), "w.iq2") && strstr(err_msg(), "iq2_xxs") &&
                   strstr(err_msg(), "hand.gguf"),
               "iq2_xxs refused on request: %s", err_msg());
        t = gguf_get_tensor(&f, "w.f32");
        EXPECT(t && t->offset == 192 && t->nbytes == 128 && ((const unsigned char *)t->data)[0] == 1, "w.f32");
        gguf_close(&f);
        free(copy);

        /* the same bytes at an odd address: the f32 tensor is copied aligned */
        unsigned char *odd = xmalloc(b.n + 1);
        memcpy(odd + 1, b.p, b.n);
        memset(&f, 0, sizeof f);
        EXPECT(gguf_parse(&f, odd + 1, b.n, "odd.gguf") == 0, "odd address: %s", err_msg());
        t = gguf_find_tensor(&f, "w.f32");
        EXPECT(t && t->copy && (uintptr_t)t->data % 4 == 0 && ((const unsigned char *)t->data)[0] == 1,
               "misaligned f32 copied");
        gguf_close(&f);
        free(odd);
        free(b.p);
    }
    { /* no tensors, no padding after the metadata: fine */
        Buf b = {0};
        b_header(&b, 3, 0, 1);
        b_kv_u32(&b, "x", 1);
        memset(&f, 0, sizeof f);
        EXPECT(parse_buf(&b, &f) == 0, "metadata only: %s", err_msg());
        free(b.p);
    }
    { /* a zero-size tensor at offset 0 of an empty data section */
        Buf b = {0};
        uint64_t d[2] = {0, 3};
        b_header(&b, 3, 1, 0);
        b_tinfo(&b, "e", 2, d, 8, 0);
        EXPECT(parse_buf(&b, &f) == 0, "empty tensor: %s", err_msg());
        free(b.p);
    }
}

/* ---- malformed files ------------------------------------------------------- */

/* A small valid file: two pairs, two tensors. */
static void build_small(Buf *b) {
    b_header(b, 3, 2, 2);
    b_str(b, "general.name");
    b_u32(b, GGUF_STRING);
    b_str(b, "tiny");
    b_str(b, "a");
    b_u32(b, GGUF_ARRAY), b_u32(b, GGUF_STRING), b_u64(b, 2), b_str(b, "x"), b_str(b, "yz");
    uint64_t d1[2] = {32, 2}, d2[1] = {8};
    b_tinfo(b, "w", 2, d1, 8, 0);
    b_tinfo(b, "n", 1, d2, 0, 96);
    b_pad(b, 32);
    b_data(b, 68);
    b_pad(b, 32);
    b_data(b, 32);
}

static void test_truncation(void) {
    Buf full = {0};
    build_small(&full);
    GGUFFile f;
    EXPECT(parse_buf(&full, &f) == 0, "small file: %s", err_msg());
    size_t need = full.n; /* the last tensor ends the file */
    for (size_t cut = 0; cut < need; cut++) {
        Buf b = {xmalloc(cut + 1), cut, cut + 1};
        memcpy(b.p, full.p, cut);
        int rc = parse_buf(&b, &f);
        const char *e = err_msg();
        EXPECTQ(rc == -1 && e[0] && !strchr(e, '\n'), "cut at %zu: rc %d, \"%s\"", cut, rc, e);
        free(b.p);
    }
    free(full.p);
}

/* A tensor of each type issue 21 added, its data cut short (by a byte, by
 * half a block, by a block, to nothing): a one-line error naming the file. */
static void test_truncated_types(void) {
    static const DType types[] = {DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS, DT_TQ1_0, DT_TQ2_0};
    for (int ti = 0; ti < 6; ti++) {
        const DTypeTraits *tr = dtype_traits(types[ti]);
        uint64_t dims[2] = {256, 2};
        size_t bytes = dtype_bytes(types[ti], 512);
        size_t cuts[4] = {1, (size_t)tr->bytes / 2, (size_t)tr->bytes, bytes};
        for (int ci = 0; ci < 4; ci++) {
            Buf b = {0};
            b_header(&b, 3, 1, 0);
            b_tinfo(&b, "w", 2, dims, (uint32_t)tr->gguf_type, 0);
            b_pad(&b, 32);
            b_data(&b, bytes - cuts[ci]);
            char what[64];
            snprintf(what, sizeof what, "%s tensor %zu bytes short", tr->name, cuts[ci]);
            expect_bad(&b, what, "run past the end");
        }
        Buf b = {0}; /* and whole, it reads */
        b_header(&b, 3, 1, 0);
        b_tinfo(&b, "w", 2, dims, (uint32_t)tr->gguf_type, 0);
        b_pad(&b, 32);
        b_data(&b, bytes);
        GGUFFile f;
        EXPECT(parse_buf(&b, &f) == 0, "%s tensor whole: %s", tr->name, err_msg());
        free(b.p);
    }
}

static void test_malformed(void) {
    Buf b = {0};
    uint64_t d2[2] = {32, 2}, d1[1] = {8};

    b_put(&b, "GGU", 3);
    expect_bad(&b, "3 bytes", "too short");
    b_put(&b, "GGML", 4), b_u32(&b, 3), b_u64(&b, 0), b_u64(&b, 0);
    expect_bad(&b, "wrong magic", "not a GGUF file");
    b_header(&b, 1, 0, 0);
    expect_bad(&b, "version 1", "version 1");
    b_header(&b, 4, 0, 0);
    expect_bad(&b, "version 4", "version 4");
    b_put(&b, "GGUF", 4), b_u32(&b, 0x03000000), b_u64(&b, 0), b_u64(&b, 0);
    expect_bad(&b, "big-endian", "big-endian");
    b_put(&b, "GGUF", 4), b_u32(&b, 3), b_u64(&b, 0);
    expect_bad(&b, "header cut", "pair count");

    /* lying counts */
    b_header(&b, 3, 0, (uint64_t)1 << 40);
    expect_bad(&b, "n_kv 2^40", "cannot fit");
    b_header(&b, 3, (uint64_t)1 << 62, 0);
    expect_bad(&b, "n_tensors 2^62", "cannot fit");
    b_header(&b, 3, 0, 2), b_str(&b, "k"), b_u32(&b, GGUF_STRING), b_str(&b, "a string of thirty bytes......");
    expect_bad(&b, "n_kv one more than there are", "past the end");
    b_header(&b, 3, 2, 0), b_tinfo(&b, "w", 1, d1, 0, 0), b_data(&b, 20);
    expect_bad(&b, "n_tensors one more than there are", "past the end");

    /* absurd lengths */
    b_header(&b, 3, 0, 1), b_u64(&b, (uint64_t)1 << 62), b_u64(&b, 0);
    expect_bad(&b, "key length 2^62", "runs past the end");
    b_header(&b, 3, 0, 1), b_str(&b, "s"), b_u32(&b, GGUF_STRING), b_u64(&b, (uint64_t)1 << 62), b_u64(&b, 0);
    expect_bad(&b, "string length 2^62", "runs past the end");
    b_header(&b, 3, 0, 1), b_str(&b, "s"), b_u32(&b, GGUF_STRING), b_u64(&b, UINT64_MAX), b_u64(&b, 0);
    expect_bad(&b, "string length 2^64-1", "runs past the end");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_u32(&b, GGUF_ARRAY), b_u32(&b, GGUF_STRING);
    b_u64(&b, 3), b_str(&b, "ok"), b_u64(&b, (uint64_t)1 << 62), b_u64(&b, 0);
    expect_bad(&b, "array string length 2^62", "runs past the end");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_u32(&b, GGUF_ARRAY), b_u32(&b, GGUF_STRING);
    b_u64(&b, (uint64_t)1 << 62), b_u64(&b, 0);
    expect_bad(&b, "2^62 strings", "cannot fit");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_u32(&b, GGUF_ARRAY), b_u32(&b, GGUF_F32);
    b_u64(&b, (uint64_t)1 << 62), b_u64(&b, 0);
    expect_bad(&b, "2^62 floats (byte count overflows)", "cannot fit");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_u32(&b, GGUF_ARRAY), b_u32(&b, GGUF_U64), b_u64(&b, 3), b_u64(&b, 1),
        b_u64(&b, 2);
    expect_bad(&b, "3 u64 with 2 present", "cannot fit");
    b_header(&b, 3, 0, 1), b_str(&b, "a"), b_u32(&b, GGUF_ARRAY), b_u32(&b, GGUF_ARRAY);
    b_u64(&b, (uint64_t)1 << 40), b_u64(&b, 0);
    expect_bad(&b, "2^40 arrays", "cannot fit");
    b_header(&b, 3, 1, 0), b_u64(&b, (uint64_t)1 << 62), b_u64(&b, 0), b_u64(&b, 0), b_u64(&b, 0);
    expect_bad(&b, "tensor name length 2^62", "runs past the end");

    /* types */
    b_header(&b, 3, 0, 1), b_str(&b, "k99"), b_u32(&b, 99), b_u64(&b, 0);
    expect_bad(&b, "value type 99", "unknown value type 99");
    b_header(&b, 3, 0, 1), b_str(&b, "k"), b_u32(&b, GGUF_ARRAY), b_u32(&b, 99), b_u64(&b, 0);
    expect_bad(&b, "array element type 99", "unknown array element type 99");
    b_header(&b, 3, 0, 1), b_str(&b, "k"), b_u32(&b, GGUF_U32);
    expect_bad(&b, "value missing", "past the end");
    b_header(&b, 3, 0, 1), b_str(&b, "deep");
    b_u32(&b, GGUF_ARRAY);
    for (int i = 0; i < GGUF_MAX_DEPTH + 1; i++) b_u32(&b, GGUF_ARRAY), b_u64(&b, 1);
    b_u32(&b, GGUF_U8), b_u64(&b, 0);
    expect_bad(&b, "arrays nested 9 deep", "nested");

    /* keys */
    b_header(&b, 3, 0, 2), b_kv_u32(&b, "dup", 1), b_kv_u32(&b, "dup", 2);
    expect_bad(&b, "duplicate key", "\"dup\" appears twice");
    b_header(&b, 3, 0, 1), b_u64(&b, 3), b_put(&b, "a\0b", 3), b_u32(&b, GGUF_U8), b_le(&b, 1, 1);
    expect_bad(&b, "NUL in a key", "NUL");
    b_header(&b, 3, 0, 1), b_kv_u32(&b, "general.alignment", 0);
    expect_bad(&b, "alignment 0", "power of two");
    b_header(&b, 3, 0, 1), b_kv_u32(&b, "general.alignment", 48);
    expect_bad(&b, "alignment 48", "power of two");
    b_header(&b, 3, 0, 1), b_str(&b, "general.alignment"), b_u32(&b, GGUF_STRING), b_str(&b, "32");
    expect_bad(&b, "alignment a string", "general.alignment");

    /* tensor infos */
    uint64_t d5[5] = {32, 1, 1, 1, 1};
    b_header(&b, 3, 1, 0), b_tinfo(&b, "t5", 5, d5, 0, 0), b_pad(&b, 32), b_data(&b, 128);
    expect_bad(&b, "n_dims 5", "5 dimensions");
    uint64_t dneg[2] = {32, (uint64_t)1 << 63};
    b_header(&b, 3, 1, 0), b_tinfo(&b, "neg", 2, dneg, 0, 0);
    expect_bad(&b, "negative dim", "negative");
    uint64_t dbig[4] = {(uint64_t)1 << 32, (uint64_t)1 << 32, 4, 1};
    b_header(&b, 3, 1, 0), b_tinfo(&b, "big", 4, dbig, 0, 0);
    expect_bad(&b, "element count overflow", "overflows");
    uint64_t dbytes[2] = {(uint64_t)1 << 61, 2};
    b_header(&b, 3, 1, 0), b_tinfo(&b, "bytes", 2, dbytes, 0, 0);
    expect_bad(&b, "byte size overflow", "byte size overflows");
    b_header(&b, 3, 1, 0), b_tinfo(&b, "t4", 1, d1, 4, 0);
    expect_bad(&b, "removed ggml type 4", "unknown ggml type 4");
    b_header(&b, 3, 1, 0), b_tinfo(&b, "t39", 1, d1, 39, 0);
    expect_bad(&b, "ggml type 39", "unknown ggml type 39");
    uint64_t d33[1] = {33};
    b_header(&b, 3, 1, 0), b_tinfo(&b, "q33", 1, d33, 8, 0), b_pad(&b, 32), b_data(&b, 64);
    expect_bad(&b, "row not a multiple of the block", "not a multiple");

    /* layout */
    b_header(&b, 3, 1, 0), b_tinfo(&b, "w", 2, d2, 8, 0), b_pad(&b, 32), b_data(&b, 67);
    expect_bad(&b, "data cut by a byte", "past the end");
    b_header(&b, 3, 1, 0), b_tinfo(&b, "w", 2, d2, 8, (uint64_t)1 << 62), b_pad(&b, 32), b_data(&b, 68);
    expect_bad(&b, "offset 2^62", "past the end");
    b_header(&b, 3, 1, 0), b_tinfo(&b, "w", 2, d2, 8, UINT64_MAX - 31), b_pad(&b, 32), b_data(&b, 68);
    expect_bad(&b, "offset near 2^64", "past the end");
    b_header(&b, 3, 1, 0), b_tinfo(&b, "w", 2, d2, 8, 8), b_pad(&b, 32), b_data(&b, 100);
    expect_bad(&b, "misaligned offset", "not a multiple of the alignment");
    b_header(&b, 3, 2, 0), b_tinfo(&b, "w", 2, d2, 8, 0), b_tinfo(&b, "v", 1, d1, 0, 64), b_pad(&b, 32),
        b_data(&b, 128);
    expect_bad(&b, "overlapping tensors", "overlap");
    b_header(&b, 3, 2, 0), b_tinfo(&b, "w", 2, d2, 8, 0), b_tinfo(&b, "v", 2, d2, 8, 0), b_pad(&b, 32),
        b_data(&b, 128);
    expect_bad(&b, "two tensors at one offset", "overlap");
    b_header(&b, 3, 2, 0), b_tinfo(&b, "w", 2, d2, 8, 0), b_tinfo(&b, "w", 1, d1, 0, 96), b_pad(&b, 32),
        b_data(&b, 128);
    expect_bad(&b, "duplicate tensor name", "\"w\" appears twice");
    b_header(&b, 3, 1, 0), b_u64(&b, 2), b_put(&b, "w\0", 2), b_u32(&b, 1), b_u64(&b, 8), b_u32(&b, 0),
        b_u64(&b, 0), b_pad(&b, 32), b_data(&b, 32);
    expect_bad(&b, "NUL in a tensor name", "NUL");
    b_header(&b, 3, 1, 0), b_tinfo(&b, "w", 2, d2, 8, 0);
    expect_bad(&b, "no data section", "past the end");
}

/* Random corruption of a valid file: never a crash, always a clean answer. */
static void test_corruption(void) {
    Buf full = {0};
    build_small(&full);
    GGUFFile f;
    for (int k = 0; k < 20000; k++) {
        Buf b = {xmalloc(full.n), full.n, full.n};
        memcpy(b.p, full.p, full.n);
        int flips = 1 + (int)(rng_u64() % 4);
        for (int j = 0; j < flips; j++) {
            size_t at = (size_t)(rng_u64() % (uint64_t)b.n);
            b.p[at] = (rng_u64() & 1) ? (unsigned char)rng_u64() : (unsigned char)(b.p[at] ^ (1u << (rng_u64() % 8)));
        }
        int rc = parse_buf(&b, &f);
        const char *e = err_msg();
        EXPECTQ(rc == 0 || (rc == -1 && e[0] && !strchr(e, '\n')), "corruption %d: rc %d \"%s\"", k, rc, e);
        free(b.p);
    }
    free(full.p);
}

/* ---- writer errors --------------------------------------------------------- */

static void test_writer_errors(void) {
    GGUFWriter w;
    float x[64] = {0};
    int64_t d[2] = {64, 1}, d33[1] = {33}, dneg[2] = {32, -1};
    gguf_writer_init(&w);
    EXPECT(gguf_writer_add_u32(&w, "k", 1) == 0, "first k");
    EXPECT(gguf_writer_add_f32(&w, "k", 1) == -1 && strstr(err_msg(), "\"k\""), "k twice: %s", err_msg());
    FILE *fp = fopen("/dev/null", "wb");
    CHECK(fp);
    EXPECT(gguf_writer_write(&w, fp) == -1 && strstr(err_msg(), "earlier"), "write after a failed add");
    gguf_writer_free(&w);

    gguf_writer_init(&w);
    EXPECT(gguf_writer_add_tensor(&w, "t", DT_F32, 2, d, x) == 0, "t");
    EXPECT(gguf_writer_add_tensor(&w, "t", DT_F32, 2, d, x) == -1, "t twice");
    EXPECT(gguf_writer_add_tensor(&w, "q", DT_Q8_0, 1, d33, x) == -1 && strstr(err_msg(), "block"), "33 q8_0");
    EXPECT(gguf_writer_add_tensor(&w, "q", DT_F32, 2, dneg, x) == -1, "negative dim");
    EXPECT(gguf_writer_add_tensor(&w, "q", DT_F32, 5, d, x) == -1, "5 dims");
    EXPECT(gguf_writer_add_tensor(&w, "q", DT_F32, 2, d, NULL) == -1, "no data");
    EXPECT(gguf_writer_add_u64(&w, "general.alignment", 32) == -1, "alignment as u64");
    EXPECT(gguf_writer_add_u32(&w, "general.alignment", 24) == -1, "alignment 24");
    EXPECT(gguf_writer_add_array(&w, "s", GGUF_STRING, x, 1) == -1, "string array through add_array");
    EXPECT(gguf_writer_add_string(&w, "s", NULL) == -1, "NULL string");
    gguf_writer_free(&w);

    /* alignment 64, added by the caller: honoured */
    gguf_writer_init(&w);
    EXPECT(gguf_writer_add_u32(&w, "general.alignment", 64) == 0, "alignment 64");
    gguf_writer_add_tensor(&w, "a", DT_F32, 1, d33, x);
    gguf_writer_add_tensor(&w, "b", DT_F32, 1, d, x);
    char path[512];
    snprintf(path, sizeof path, "%s/a64.gguf", tmp_dir);
    FILE *out = fopen(path, "wb");
    CHECK(out);
    EXPECT(gguf_writer_write(&w, out) == 0, "write a64: %s", err_msg());
    fclose(out);
    gguf_writer_free(&w);
    GGUFFile f;
    EXPECT(gguf_open(&f, path) == 0 && f.alignment == 64 && f.n_kv == 1, "a64 read: %s", err_msg());
    const Tensor *t = gguf_find_tensor(&f, "b");
    EXPECT(t && t->offset == 192 && f.data_offset % 64 == 0, "b at 192");
    gguf_close(&f);

    /* a full disk */
    FILE *full = fopen("/dev/full", "wb");
    if (full) {
        gguf_writer_init(&w);
        gguf_writer_add_tensor(&w, "t", DT_F32, 2, d, x);
        EXPECT(gguf_writer_write(&w, full) == -1 && strstr(err_msg(), "write failed"), "/dev/full: %s",
               err_msg());
        gguf_writer_free(&w);
        fclose(full);
    }
    fclose(fp);

    /* an absent or empty file */
    snprintf(path, sizeof path, "%s/nope.gguf", tmp_dir);
    EXPECT(gguf_open(&f, path) == -1 && strstr(err_msg(), "nope.gguf"), "absent file: %s", err_msg());
    gguf_close(&f);
    snprintf(path, sizeof path, "%s/empty.gguf", tmp_dir);
    test_write_file(path, "", 0);
    EXPECT(gguf_open(&f, path) == -1 && strstr(err_msg(), "too short"), "empty file: %s", err_msg());
    gguf_close(&f);
}

int main(void) {
    tmp_dir = test_tmpdir();
    test_round_trip();
    test_big_vocab();
    test_hand_built();
#ifndef UNDER_ASAN
    /* an allocation sized from a lying count would fail and abort */
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    lim = old;
    lim.rlim_cur = (rlim_t)1 << 30;
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim.rlim_cur) lim.rlim_cur = old.rlim_cur;
    setrlimit(RLIMIT_AS, &lim);
#endif
    test_truncation();
    test_truncated_types();
    test_malformed();
    test_corruption();
#ifndef UNDER_ASAN
    setrlimit(RLIMIT_AS, &old);
#endif
    test_writer_errors();
    test_rm_rf(tmp_dir);
    return test_done("test_gguf");
}
