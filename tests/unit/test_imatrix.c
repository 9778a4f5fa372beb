/* test_imatrix — importance matrices (model/imatrix.h) and the quantizers
 * that take them (kern/quant_imat.c, quantize_row_*_imat):
 *  - the weighted quantizers give ggml's bytes (tests/data/quant/
 *    imat_ref.txt: hashes made with a ggml build by bench/quant_ggml.c
 *    --ref), NULL weights give the unweighted bytes, q6_K with weights x²
 *    is the unweighted q6_K (its unweighted fit weighs by x²), and on
 *    average the weighted error Σ qw·(x - x̂)² is lower than unweighted;
 *  - GGUF and .dat written and read back; every truncation and a set of
 *    malformed files are one-line errors; llama-quantize's weights from each;
 *  - the collector on a tiny MoE: counts per matrix and Σx² of the inputs;
 *  - quantize_add_tensors with an importance matrix: other bytes, the size
 *    and name checks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "harness.h"
#include "kern/dtype.h"
#include "kern/quant.h"
#include "model/imatrix.h"
#include "model/quantize.h"

/* ---- the weighted quantizers ---------------------------------------------- */

#define REF_ROWS 32
#define REF_COLS 512
/* bench/quant_ggml.c's ref_data: the same rows and weights */
static void ref_data(float *x, float *qw) {
    uint64_t s = 21;
    for (int r = 0; r < REF_ROWS; r++) {
        double scale = pow(10.0, r % 5 - 2);
        for (int j = 0; j < REF_COLS; j++)
            x[r * REF_COLS + j] = (float)(((double)(splitmix64(&s) >> 11) * 0x1p-53 - 0.5) * scale);
    }
    for (int j = 0; j < REF_COLS; j++) {
        double u = (double)(splitmix64(&s) >> 11) * 0x1p-53;
        qw[j] = j % 7 == 3 ? 0.f : (float)(u * u * u * u * 100);
    }
}

static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static const DType weighted[] = {DT_Q4_0, DT_Q4_1, DT_Q5_0, DT_Q5_1, DT_Q2_K, DT_Q3_K,
                                 DT_Q4_K, DT_Q5_K, DT_Q6_K, DT_IQ4_NL, DT_IQ4_XS};
#define N_WEIGHTED (int)(sizeof weighted / sizeof weighted[0])

static void test_ggml_bytes(void) {
    static float x[REF_ROWS * REF_COLS], qw[REF_COLS];
    ref_data(x, qw);
    FILE *f = fopen("tests/data/quant/imat_ref.txt", "r");
    EXPECT(f, "tests/data/quant/imat_ref.txt is missing");
    if (!f) return;
    char name[16];
    unsigned long long want;
    int seen = 0;
    unsigned char *buf = malloc((size_t)REF_ROWS * REF_COLS * 4);
    while (fscanf(f, "%15s %llx", name, &want) == 2) {
        int t = -1;
        for (int k = 0; k < N_WEIGHTED; k++)
            if (!strcmp(dtype_traits(weighted[k])->name, name)) t = k;
        EXPECT(t >= 0, "unknown type %s in imat_ref.txt", name);
        if (t < 0) continue;
        const DTypeTraits *tr = dtype_traits(weighted[t]);
        size_t rb = dtype_bytes(weighted[t], REF_COLS);
        memset(buf, 0xa5, rb * REF_ROWS);
        for (int r = 0; r < REF_ROWS; r++) tr->quantize_imat(buf + rb * r, x + (size_t)r * REF_COLS, REF_COLS, qw);
        EXPECT(fnv1a(buf, rb * REF_ROWS) == want, "%s: the weighted bytes are not ggml's", name);
        seen++;
    }
    fclose(f);
    free(buf);
    EXPECT(seen == N_WEIGHTED, "imat_ref.txt holds %d of %d types", seen, N_WEIGHTED);
}

/* Σ qw·(x - dequantized)² over a row. */
static double weighted_err(DType t, const void *q, const float *x, const float *qw, int n) {
    float *y = malloc((size_t)n * sizeof(float));
    dtype_traits(t)->to_float(y, q, (size_t)n);
    double e = 0;
    for (int j = 0; j < n; j++) e += (double)qw[j] * ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
    free(y);
    return e;
}

static void test_weighted(void) {
    enum { COLS = 512, ROWS = 64 };
    static float x[ROWS * COLS], qw[COLS], x2[COLS];
    static unsigned char a[COLS * 4], b[COLS * 4];
    uint64_t s = 7;
    for (int i = 0; i < ROWS * COLS; i++) x[i] = (float)((double)(splitmix64(&s) >> 11) * 0x1p-53 - 0.5);
    for (int j = 0; j < COLS; j++) { /* a few columns matter a lot: heavy tails */
        double u = (double)(splitmix64(&s) >> 11) * 0x1p-53;
        qw[j] = (float)(u * u * u * u * u * u * 1000 + 1e-3);
    }
    for (int k = 0; k < N_WEIGHTED; k++) {
        DType t = weighted[k];
        const DTypeTraits *tr = dtype_traits(t);
        size_t rb = dtype_bytes(t, COLS);
        double ew = 0, eu = 0;
        int same_null = 1, differ = 0;
        for (int r = 0; r < ROWS; r++) {
            const float *xr = x + (size_t)r * COLS;
            tr->quantize(a, xr, COLS);
            memset(b, 0x5a, rb);
            tr->quantize_imat(b, xr, COLS, NULL);
            same_null &= !memcmp(a, b, rb);
            eu += weighted_err(t, a, xr, qw, COLS);
            tr->quantize_imat(b, xr, COLS, qw);
            differ += memcmp(a, b, rb) != 0;
            ew += weighted_err(t, b, xr, qw, COLS);
        }
        EXPECT(same_null, "%s: quantize_imat with NULL weights is not quantize", tr->name);
        EXPECT(differ > ROWS / 2, "%s: only %d of %d rows change with weights", tr->name, differ, ROWS);
        EXPECT(ew < 0.9 * eu, "%s: weighted error %g, unweighted %g", tr->name, ew, eu);
    }
    /* q6_K's unweighted fit weighs by x²: the weighted one with qw = x² is it */
    int same = 1;
    for (int r = 0; r < ROWS; r++) {
        const float *xr = x + (size_t)r * COLS;
        for (int j = 0; j < COLS; j++) x2[j] = xr[j] * xr[j];
        quantize_row_q6_K(a, xr, COLS);
        quantize_row_q6_K_imat(b, xr, COLS, x2);
        same &= !memcmp(a, b, dtype_bytes(DT_Q6_K, COLS));
    }
    EXPECT(same, "q6_K with weights x² differs from the unweighted q6_K");
    /* q8_0 and the float types take no weights */
    EXPECT(!dtype_traits(DT_Q8_0)->quantize_imat && !dtype_traits(DT_F16)->quantize_imat, "no weights for q8_0");
}

/* ---- files ---------------------------------------------------------------- */

/* A hand-made matrix: a dense tensor of 3 columns and a stack of 2 experts
 * of 2 columns, the second expert unseen. */
static void handmade(Imatrix *im) {
    memset(im, 0, sizeof *im);
    im->n = 2;
    im->e = xcalloc(2, sizeof *im->e);
    im->e[0] = (ImatrixEntry){xstrdup("blk.0.attn_q.weight"), 3, 1, xmalloc(3 * 4), xmalloc(4)};
    im->e[1] = (ImatrixEntry){xstrdup("blk.0.ffn_up_exps.weight"), 2, 2, xmalloc(4 * 4), xmalloc(2 * 4)};
    float s0[3] = {4, 8, 12}, s1[4] = {6, 9, 0, 0}, c1[2] = {3, 0};
    memcpy(im->e[0].sum2, s0, sizeof s0), im->e[0].count[0] = 4;
    memcpy(im->e[1].sum2, s1, sizeof s1), memcpy(im->e[1].count, c1, sizeof c1);
    im->datasets = xcalloc(1, sizeof *im->datasets);
    im->datasets[0] = xstrdup("calib.txt");
    im->n_datasets = 1;
    im->chunk_count = 2, im->chunk_size = 2;
}

/* The bytes f wrote, or NULL. */
static unsigned char *written(int dat, const Imatrix *im, size_t *len) {
    FILE *f = tmpfile();
    if (!f) return NULL;
    int rc = dat ? imatrix_write_dat(im, f) : imatrix_write_gguf(im, f);
    long n = ftell(f);
    unsigned char *buf = rc || n <= 0 ? NULL : malloc((size_t)n);
    if (buf) {
        rewind(f);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) free(buf), buf = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void test_files(void) {
    Imatrix im, back;
    handmade(&im);
    float w[4];
    for (int dat = 0; dat < 2; dat++) {
        size_t len;
        unsigned char *buf = written(dat, &im, &len);
        EXPECT(buf, "writing %s failed: %s", dat ? "dat" : "gguf", err_msg());
        if (!buf) continue;
        EXPECT(!memcmp(buf, "GGUF", 4) == !dat, "%s magic", dat ? "dat" : "gguf");
        EXPECT(imatrix_parse(&back, buf, len, "t") == 0, "%s: %s", dat ? "dat" : "gguf", err_msg());
        EXPECT(back.n == 2 && back.legacy == dat && back.n_datasets == 1 && !strcmp(back.datasets[0], "calib.txt") &&
                   back.chunk_count == 2,
               "%s read back: %d entries", dat ? "dat" : "gguf", back.n);
        const ImatrixEntry *q = imatrix_find(&back, "blk.0.attn_q.weight");
        const ImatrixEntry *u = imatrix_find(&back, "blk.0.ffn_up_exps.weight");
        EXPECT(q && u && !imatrix_find(&back, "blk.0.attn_k.weight"), "find");
        if (q && u) {
            /* the means: 1, 2, 3; the experts: 2, 3 and 1, 1 for the unseen one (both formats) */
            EXPECT(imatrix_weights(&back, q, 1, 3, w) == 0 && w[0] == 1 && w[1] == 2 && w[2] == 3,
                   "%s dense weights %g %g %g", dat ? "dat" : "gguf", w[0], w[1], w[2]);
            EXPECT(imatrix_weights(&back, u, 2, 2, w) == 0 && w[0] == 2 && w[1] == 3 && w[2] == 1 && w[3] == 1,
                   "%s expert weights %g %g %g %g", dat ? "dat" : "gguf", w[0], w[1], w[2], w[3]);
            EXPECT(imatrix_weights(&back, q, 1, 4, w) == -1 && strstr(err_msg(), "blk.0.attn_q.weight"),
                   "a size mismatch: %s", err_msg());
        }
        imatrix_free(&back);
        /* every truncation is an error, never a crash; whole files are the .dat
           without its optional trailer (chunks, dataset) and the GGUF without
           the padding after its last tensor's data */
        int bad = 0;
        for (size_t k = 0; k < len; k++) {
            int ok = imatrix_parse(&back, buf, k, "cut") == 0;
            if (ok) imatrix_free(&back);
            int whole = dat ? k == len - 4 - 4 - strlen("calib.txt") : len - k < 32; /* padding to 32 */
            if (ok && !whole) bad++, fprintf(stderr, "  cut at %zu of %zu reads\n", k, len);
        }
        EXPECT(bad == 0, "%s: %d truncations read as whole files", dat ? "dat" : "gguf", bad);
        free(buf);
    }
    imatrix_free(&im);
}

static void put_i32(unsigned char **p, int32_t v) { memcpy(*p, &v, 4), *p += 4; }

/* A .dat with one entry (name, ncall, nval, values). */
static size_t dat_file(unsigned char *buf, const char *name, int32_t ncall, int32_t nval, const float *v, int nv) {
    unsigned char *p = buf;
    put_i32(&p, 1);
    put_i32(&p, (int32_t)strlen(name));
    memcpy(p, name, strlen(name)), p += strlen(name);
    put_i32(&p, ncall);
    put_i32(&p, nval);
    memcpy(p, v, (size_t)nv * 4), p += nv * 4;
    return (size_t)(p - buf);
}

static void expect_bad(const void *buf, size_t len, const char *what, const char *msg) {
    Imatrix im;
    int rc = imatrix_parse(&im, buf, len, "bad");
    EXPECT(rc == -1 && strstr(err_msg(), msg) && !strchr(err_msg(), '\n'), "%s: rc %d, %s", what, rc, err_msg());
    if (rc == 0) imatrix_free(&im);
}

static void test_malformed(void) {
    unsigned char buf[256];
    float v[4] = {1, 2, 3, 4}, nan_v[2] = {1, NAN};
    size_t n = dat_file(buf, "blk.0.attn_q.weight", 1, 4, v, 4);
    Imatrix im;
    EXPECT(imatrix_parse(&im, buf, n, "ok") == 0 && im.n == 1 && im.e[0].cols == 4, "a minimal .dat: %s", err_msg());
    imatrix_free(&im);
    expect_bad(buf, 0, "empty", "not an importance matrix");
    expect_bad("hello world\n", 12, "text", "not an importance matrix");
    n = dat_file(buf, "blk.0.attn_q.weight", 1, -3, v, 0);
    expect_bad(buf, n, "negative nval", "values");
    n = dat_file(buf, "blk.0.attn_q.weight", 1, 1000, v, 4);
    expect_bad(buf, n, "nval past the end", "values");
    n = dat_file(buf, "blk.0.attn_q.weight", 1, 2, nan_v, 2);
    expect_bad(buf, n, "NaN", "must be finite");
    /* two entries of one name */
    unsigned char two[256], *p = two;
    put_i32(&p, 2);
    for (int i = 0; i < 2; i++) {
        put_i32(&p, 1), *p++ = 'a', put_i32(&p, 1), put_i32(&p, 1), memcpy(p, v, 4), p += 4;
    }
    expect_bad(two, (size_t)(p - two), "a name twice", "twice");
    /* GGUF: in_sum2 without counts, counts of the wrong size, no in_sum2 at all */
    GGUFWriter w;
    int64_t d2[2] = {2, 2}, dc[2] = {1, 3};
    for (int k = 0; k < 3; k++) {
        gguf_writer_init(&w);
        gguf_writer_add_string(&w, "general.type", "imatrix");
        if (k < 2) gguf_writer_add_tensor(&w, "x.weight.in_sum2", DT_F32, 2, d2, v);
        if (k == 1 || k == 2) gguf_writer_add_tensor(&w, "x.weight.counts", DT_F32, 2, dc, v);
        if (k == 2) gguf_writer_add_tensor(&w, "other", DT_F32, 2, d2, v);
        FILE *f = tmpfile();
        EXPECT(f && gguf_writer_write(&w, f) == 0, "writing");
        long len = ftell(f);
        unsigned char *g = malloc((size_t)len);
        rewind(f);
        EXPECT(fread(g, 1, (size_t)len, f) == (size_t)len, "reading back");
        fclose(f);
        gguf_writer_free(&w);
        static const char *const msgs[3] = {"no .counts", "counts has 3 values", "no in_sum2"};
        expect_bad(g, (size_t)len, msgs[k], msgs[k]);
        free(g);
    }
}

/* ---- the collector -------------------------------------------------------- */

static void test_collector(void) {
    Model m;
    EXPECT(model_load(&m, "tests/data/tiny/moe_sw8_f32", NULL) == 0, "%s", err_msg());
    const Config *c = &m.cfg;
    Context ctx;
    EXPECT(context_init(&ctx, &m, 1, 64) == 0, "%s", err_msg());
    ImatrixCollector col;
    imatrix_collector_init(&col, &m, 0);
    imatrix_collector_attach(&col, &ctx);
    enum { N = 20 };
    int tok[N], seq[N] = {0};
    long pos[N];
    for (int i = 0; i < N; i++) tok[i] = (i * 37 + 5) % c->n_vocab, pos[i] = i;
    float *logits = malloc((size_t)N * c->n_vocab * sizeof(float));
    Batch b = {.n = N, .token = tok, .seq = seq, .pos = pos};
    EXPECT(forward(&ctx, &b, logits) == 0, "%s", err_msg());
    /* a matrix it does not know is ignored; a known one adds its rows */
    float rows[2 * 64];
    for (int i = 0; i < 2 * c->dim; i++) rows[i] = (float)(i % 5) - 2;
    Imatrix before;
    imatrix_collector_result(&col, &before, NULL, 1, N);
    imatrix_observe(&col, &m.w.tok_embeddings, rows, 2);
    imatrix_observe(&col, &m.w.layers[0].wq, rows, 2);
    Imatrix im;
    imatrix_collector_result(&col, &im, "t.txt", 1, N);
    EXPECT(im.n == c->n_layers * 8, "%d entries for %d layers", im.n, c->n_layers);
    for (int i = 0; i < im.n; i++) {
        const ImatrixEntry *e = &im.e[i];
        float total = 0;
        for (int k = 0; k < e->n_mats; k++) total += e->count[k];
        int exps = strstr(e->name, "_exps") != NULL;
        float want = exps ? (float)N * c->n_active : !strcmp(e->name, "blk.0.attn_q.weight") ? N + 2 : N;
        EXPECT(total == want && e->n_mats == (exps ? c->n_experts : 1), "%s: %g tokens, want %g", e->name, total,
               want);
    }
    const ImatrixEntry *q = imatrix_find(&im, "blk.0.attn_q.weight"), *q0 = imatrix_find(&before, "blk.0.attn_q.weight");
    int ok = q && q0;
    for (int j = 0; ok && j < c->dim; j++) {
        double add = (double)rows[j] * rows[j] + (double)rows[c->dim + j] * rows[c->dim + j];
        ok = fabs(q->sum2[j] - q0->sum2[j] - add) <= 1e-4 * (q->sum2[j] + 1);
    }
    EXPECT(ok, "blk.0.attn_q's sums do not add the observed rows' squares");
    imatrix_free(&before);
    /* quantizing with it: other bytes than without, and the checks */
    const QuantScheme *s = quant_scheme_find("q4_0");
    Quantized qa, qb;
    GGUFWriter wa, wb;
    gguf_writer_init(&wa), gguf_writer_init(&wb);
    EXPECT(quantize_add_tensors(&qa, &wa, &m, s, NULL, 1, NULL, NULL) == 0, "%s", err_msg());
    EXPECT(quantize_add_tensors(&qb, &wb, &m, s, &im, 1, NULL, NULL) == 0, "%s", err_msg());
    EXPECT(qb.n_imatrix > 0 && qa.n_imatrix == 0, "%d tensors with weights", qb.n_imatrix);
    int differ = 0;
    for (int i = 0; i < wa.n_tensors; i++)
        differ += wa.t[i].nbytes == wb.t[i].nbytes && memcmp(wa.t[i].data, wb.t[i].data, wa.t[i].nbytes) != 0;
    EXPECT(differ >= qb.n_imatrix / 2, "%d tensors changed with importance weights", differ);
    quantize_free(&qa), quantize_free(&qb), gguf_writer_free(&wa), gguf_writer_free(&wb);
    free(im.e[0].name);
    im.e[0].name = xstrdup("blk.99.attn_q.weight"); /* a tensor the model lacks */
    gguf_writer_init(&wa);
    EXPECT(quantize_add_tensors(&qa, &wa, &m, s, &im, 1, NULL, NULL) == -1 && strstr(err_msg(), "blk.99"),
           "an entry of another model: %s", err_msg());
    quantize_free(&qa), gguf_writer_free(&wa);
    imatrix_free(&im);
    imatrix_collector_free(&col);
    free(logits);
    context_free(&ctx);
    model_free(&m);
}

/* llama.cpp's type rules that depend on having an importance matrix */
static void test_type_rules(void) {
    const QuantScheme *xs = quant_scheme_find("iq4_xs"), *q40 = quant_scheme_find("q4_0");
    const char *down = "blk.0.ffn_down.weight";
    EXPECT(quant_tensor_type_imat(xs, down, 0, 32, 0, 4, 4096, 1, 0, NULL) == DT_Q5_K, "iq4_xs, no imatrix");
    EXPECT(quant_tensor_type_imat(xs, down, 0, 32, 0, 4, 4096, 1, 1, NULL) == DT_IQ4_XS, "iq4_xs with one");
    EXPECT(quant_tensor_type_imat(xs, "blk.4.ffn_down.weight", 4, 32, 0, 4, 4096, 1, 1, NULL) == DT_IQ4_XS, "l 4");
    EXPECT(quant_tensor_type_imat(q40, down, 0, 32, 0, 4, 4096, 1, 0, NULL) == DT_Q4_0, "q4_0, no imatrix");
    EXPECT(quant_tensor_type_imat(q40, down, 3, 32, 0, 4, 4096, 1, 1, NULL) == DT_Q4_1, "q4_0 with one, l 3");
    EXPECT(quant_tensor_type_imat(q40, "blk.4.ffn_down.weight", 4, 32, 0, 4, 4096, 1, 1, NULL) == DT_Q4_0, "l 4");
    EXPECT(quant_tensor_type_imat(q40, "blk.0.attn_q.weight", 0, 32, 0, 4, 4096, 1, 1, NULL) == DT_Q4_0, "attn_q");
}

int main(void) {
    test_type_rules();
    test_ggml_bytes();
    test_weighted();
    test_files();
    test_malformed();
    test_collector();
    return test_done("test_imatrix");
}
