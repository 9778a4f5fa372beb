/* matmul_bench — weight streaming of a 4096×4096 matvec per dtype, against
 * the machine's measured memory read bandwidth; and a 64-token matmul.
 *
 *   make bench && build/bench/matmul_bench [threads...]   (default: 1 2)
 *   MISTRAL_SIMD=avx2 build/bench/matmul_bench ...        (another table, as the CLI)
 *   MATMUL_TYPES=q2_K,q3_K build/bench/matmul_bench ...    (only these dtypes)
 *
 * Each case cycles through enough copies of the matrix (>= 512 MiB) that the
 * weights come from memory, not cache. Printed: ms per matvec, GB/s of weight
 * bytes, that as a fraction of the read bandwidth with the same thread count,
 * and the speedup over the scalar reference matmul_ref() (one thread). Types
 * without a quantizer get random valid blocks (tests/unit/randblocks.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kern/membw.h"
#include "base/pool.h"
#include "base/util.h"
#include "kern/matmul.h"
#include "../tests/unit/randblocks.h"

#define ROWS 4096
#define COLS 4096
#define POOL_BYTES ((size_t)512 << 20)

typedef struct {
    int n_copies;
    char *w;
    size_t bytes;
} Weights;

static Weights make_weights(DType t) {
    size_t rb = dtype_bytes(t, COLS), bytes = rb * ROWS;
    Weights W = {(int)(POOL_BYTES / bytes) + 1, NULL, bytes};
    W.w = xmalloc(bytes * (size_t)W.n_copies);
    float *src = xmalloc(COLS * sizeof *src);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    if (!dtype_traits(t)->quantize) test_random_blocks(W.w, t, (size_t)ROWS * COLS, 0.5f, &s);
    for (int r = 0; r < ROWS && dtype_traits(t)->quantize; r++) {
        for (int c = 0; c < COLS; c++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            src[c] = (float)((double)(s >> 11) * 0x1.0p-53 - 0.5);
        }
        dtype_traits(t)->quantize(W.w + (size_t)r * rb, src, COLS);
    }
    for (int i = 1; i < W.n_copies; i++) memcpy(W.w + bytes * (size_t)i, W.w, bytes);
    free(src);
    return W;
}

/* Seconds per call of matmul (n tokens), cycling through the copies
 * (packed for k when pack is set). */
static double time_matmul(const Kern *k, Pool *pool, const Weights *W, DType t, const float *x, float *out, int n,
                      void *scratch, int reps, int max_copies, int pack) {
    double best = 1e30;
    int copies = W->n_copies < max_copies ? W->n_copies : max_copies;
    Mat *m = xmalloc((size_t)copies * sizeof *m);
    for (int i = 0; i < copies; i++) {
        m[i] = (Mat){W->w + W->bytes * (size_t)i, t, ROWS, COLS, NULL, NULL};
        if (pack) CHECK(mat_pack(&m[i], k, pool));
    }
    MatmulEnv env = {.kern = k, .pool = pool, .scratch = scratch};
    for (int r = 0; r < reps; r++) {
        double t0 = now_seconds();
        for (int i = 0; i < copies; i++) matmul(&env, out, x, &m[i], n);
        double dt = (now_seconds() - t0) / copies;
        if (dt < best) best = dt;
    }
    for (int i = 0; i < copies; i++) mat_unpack(&m[i]);
    free(m);
    return best;
}

/* Whether name is one of the comma-separated list's entries. */
static int name_listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        if (len == n && !strncmp(p, name, n)) return 1;
        if (!p[len]) return 0;
        p += len + 1;
    }
}

int main(int argc, char **argv) {
    int threads[8] = {1, 2}, n_threads = 2;
    if (argc > 1) {
        n_threads = 0;
        for (int i = 1; i < argc && n_threads < 8; i++) threads[n_threads++] = atoi(argv[i]);
    }
    const Kern *k = kern_select(getenv("MISTRAL_SIMD")), *gen = kern_named("generic");
    Pool pools[8];
    double bw[8];
    for (int i = 0; i < n_threads; i++) {
        CHECK(pool_init(&pools[i], threads[i]) == 0);
        bw[i] = membw_probe(k, &pools[i], SIZE_MAX, NULL);
        printf("read bandwidth, %d thread(s): %.1f GB/s\n", threads[i], bw[i]);
    }
    printf("kernels: %s; matvec %dx%d\n\n", k->name, ROWS, COLS);
    printf("%-9s %9s %9s", "dtype", "ref ms", "generic");
    for (int i = 0; i < n_threads; i++) printf(" | %dT: ms    GB/s  frac  x-ref", threads[i]);
    printf(" | 64 tok, %dT: GFLOP/s\n", threads[n_threads - 1]);
    static const DType types[] = {DT_F32, DT_F16, DT_BF16, DT_Q8_0, DT_Q4_0, DT_Q4_1,
                                  DT_Q5_0, DT_Q5_1, DT_Q4_K, DT_Q5_K, DT_Q6_K, DT_Q2_K, DT_Q3_K,
                                  DT_IQ4_NL, DT_IQ4_XS, DT_TQ1_0, DT_TQ2_0};
    const char *only = getenv("MATMUL_TYPES");
    float *x = xmalloc(64 * COLS * sizeof *x), *out = xmalloc(64 * ROWS * sizeof *out);
    for (int i = 0; i < 64 * COLS; i++) x[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    void *scratch = xmalloc(matmul_scratch_max(COLS, 64, k));
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        DType t = types[ti];
        if (only && !name_listed(only, dtype_traits(t)->name)) continue;
        Weights W = make_weights(t);
        Mat m0 = {W.w, t, ROWS, COLS, NULL, NULL};
        double t0 = now_seconds();
        matmul_ref(out, x, &m0, 1); /* the scalar reference, one thread, one call */
        double ref = now_seconds() - t0;
        double tg = time_matmul(gen, NULL, &W, t, x, out, 1, scratch, 1, 1 << 20, 0);
        for (int pack = 0; pack <= (k->pack[t].pack != NULL); pack++) {
            char name[32];
            snprintf(name, sizeof name, "%s%s", dtype_traits(t)->name, pack ? "+pack" : "");
            printf("%-9s %9.2f %9.2f", name, ref * 1e3, tg * 1e3);
            for (int i = 0; i < n_threads; i++) {
                double dt = time_matmul(k, &pools[i], &W, t, x, out, 1, scratch, 3, 1 << 20, pack);
                double gbs = (double)W.bytes / dt / 1e9;
                printf(" | %6.2f %7.1f %5.2f %6.1f", dt * 1e3, gbs, gbs / bw[i], ref / dt);
            }
            double dt = time_matmul(k, &pools[n_threads - 1], &W, t, x, out, 64, scratch, 1, 2, pack);
            printf(" | %8.1f\n", 2.0 * ROWS * COLS * 64 / dt / 1e9);
        }
        free(W.w);
    }
    for (int i = 0; i < n_threads; i++) pool_free(&pools[i]);
    free(x), free(out), free(scratch);
    return 0;
}
