/* quant_ggml — mistral.c's quantizers against a ggml build, byte for byte,
 * with and without importance weights: random rows of several shapes and
 * scales, random weights, every type both write. Not part of `make test`
 * (ggml is not in the tree); bench/quant_quality.sh builds and runs it:
 *
 *   cc -O2 -Iinclude -Isrc -I$LLAMA/ggml/include bench/quant_ggml.c \
 *      build/libmistral-internal.a -L$LLAMA/build/bin -lggml-base -lm -lpthread
 *
 * Prints one line per type (rows that differ / rows) and exits 1 on any
 * difference. With --ref: the hashes of tests/data/quant/imat_ref.txt
 * (ggml's weighted bytes for the rows test_imatrix.c makes). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#include "base/util.h"
#include "kern/dtype.h"

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static double uniform(void) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static double normal(void) {
    double u = uniform() + 1e-300, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* The rows and weights of tests/data/quant/imat_ref.txt: test_imatrix.c
 * makes the same ones (keep the two in step). */
#define REF_ROWS 32
#define REF_COLS 512
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

int main(int argc, char **argv) {
    static const struct { DType ours; enum ggml_type g; } types[] = {
        {DT_Q4_0, GGML_TYPE_Q4_0}, {DT_Q4_1, GGML_TYPE_Q4_1}, {DT_Q5_0, GGML_TYPE_Q5_0},
        {DT_Q5_1, GGML_TYPE_Q5_1}, {DT_Q8_0, GGML_TYPE_Q8_0}, {DT_Q2_K, GGML_TYPE_Q2_K},
        {DT_Q3_K, GGML_TYPE_Q3_K}, {DT_Q4_K, GGML_TYPE_Q4_K}, {DT_Q5_K, GGML_TYPE_Q5_K},
        {DT_Q6_K, GGML_TYPE_Q6_K}, {DT_IQ4_NL, GGML_TYPE_IQ4_NL}, {DT_IQ4_XS, GGML_TYPE_IQ4_XS},
    };
    /* ggml_init fills ggml's fp16 -> fp32 table, which its quantizers read */
    ggml_free(ggml_init((struct ggml_init_params){.mem_size = 1024, .mem_buffer = NULL, .no_alloc = true}));
    if (argc > 1 && !strcmp(argv[1], "--ref")) { /* ggml's bytes for the unit test's fixture */
        float *x = malloc(sizeof(float) * REF_ROWS * REF_COLS), qw[REF_COLS];
        char *b = malloc(REF_ROWS * REF_COLS * 4);
        ref_data(x, qw);
        for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
            if (types[t].ours == DT_Q8_0) continue;
            size_t n = ggml_quantize_chunk(types[t].g, x, b, 0, REF_ROWS, REF_COLS, qw);
            printf("%s %016llx\n", dtype_traits(types[t].ours)->name, (unsigned long long)fnv1a((unsigned char *)b, n));
        }
        return 0;
    }
    const int cols = 1024, rows = 200;
    float *x = malloc(sizeof(float) * cols * rows), *qw = malloc(sizeof(float) * cols);
    char *a = malloc(cols * rows * 4), *b = malloc(cols * rows * 4);
    int bad = 0;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const DTypeTraits *tr = dtype_traits(types[t].ours);
        size_t rb = dtype_bytes(types[t].ours, cols);
        for (int weighted = 0; weighted < 2; weighted++) {
            int diff = 0;
            for (int pass = 0; pass < 4; pass++) {
                double scale = pow(10, (double)(pass % 4) - 2);
                for (int i = 0; i < cols * rows; i++) {
                    double v = normal() * scale;
                    if (pass == 1 && uniform() < 0.01) v *= 30; /* outliers */
                    if (pass == 2 && uniform() < 0.3) v = 0;    /* sparse */
                    if (pass == 3) v = fabs(v);                 /* one-signed */
                    x[i] = (float)v;
                }
                for (int j = 0; j < cols; j++) qw[j] = (float)(uniform() < 0.05 ? 0 : exp(3 * normal()));
                const float *w = weighted ? qw : NULL;
                memset(a, 0x5a, rb * rows), memset(b, 0xa5, rb * rows);
                for (int r = 0; r < rows; r++) {
                    if (tr->quantize_imat) tr->quantize_imat(a + rb * r, x + (size_t)cols * r, cols, w);
                    else tr->quantize(a + rb * r, x + (size_t)cols * r, cols);
                }
                ggml_quantize_chunk(types[t].g, x, b, 0, rows, cols, w);
                for (int r = 0; r < rows; r++) {
                    if (getenv("QG_DEBUG") && memcmp(a + rb * r, b + rb * r, rb) && !diff)
                        for (size_t k = 0; k < rb; k++)
                            if (a[rb * r + k] != b[rb * r + k]) { printf("row %d byte %zu: %02x %02x\n", r, k, (unsigned char)a[rb * r + k], (unsigned char)b[rb * r + k]); break; }
                    diff += memcmp(a + rb * r, b + rb * r, rb) != 0;
                }
            }
            printf("%-7s %-10s %d of %d rows differ\n", tr->name, weighted ? "weighted" : "unweighted", diff, 4 * rows);
            bad |= diff != 0;
        }
    }
    return bad;
}
