/* int8_peak — the int8 dot peak of AVX2 (maddubs, then madd to int32) per
 * core and with all threads, and the quantized prefill tiles' throughput as
 * a fraction of it (issue 24: the avx2 integer tiles against the peak).
 *
 *   make build/bench/int8_peak && build/bench/int8_peak [threads...]   (default: 1 2; at most 8)
 *   MISTRAL_SIMD=avx2 build/bench/int8_peak     (the table the CLI would pick under it)
 *   MATMUL_TYPES=q4_K,q6_K REPS=100 build/bench/int8_peak  (only these dtypes; repetitions)
 *
 * Peak: each thread runs CHAINS independent chains v = madd(maddubs(v, b), 1)
 * (each maddubs: 32 u8·s8 products = 64 int8 ops; the madd is the reduction
 * every q8 dot pays). A maddubs-only loop is printed beside it for context.
 * Tiles: a ROWS × COLS matrix (packed for the table when it packs the type,
 * as model_prepare does) times NTOK tokens through matmul(), activation
 * quantization included, best of REPS (default 10); ops = 2·ROWS·COLS·NTOK.
 *
 * Times are CPU time, not wall time (the peak: each thread's own; a tile:
 * the process's, over the threads), so that a machine shared with other
 * work still gives comparable numbers: a rate is what the threads reach
 * while they run, as if each had its core (wall time is printed too). */
#include <stdio.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/pool.h"
#include "base/util.h"
#include "kern/matmul.h"

#define CHAINS 12
#define STEPS (1 << 22) /* per thread and measurement: ~0.1 s at a few steps a cycle */
#define ROWS 2048
#define COLS 2048
#define NTOK 128

typedef struct {
    int madd; /* 1: maddubs then madd per step; 0: maddubs only */
    int32_t sink[8];
    double cpu[8]; /* thread ith's CPU seconds */
} PeakJob;

static double cpu_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

__attribute__((target("avx2"))) static void peak_rows(void *arg, int ith, int nth) {
    (void)nth;
    PeakJob *j = arg;
    const __m256i ones = _mm256_set1_epi16(1), b = _mm256_set1_epi8(3);
    __m256i v[CHAINS];
    for (int c = 0; c < CHAINS; c++) v[c] = _mm256_set1_epi8((char)(c + ith + 1));
    double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
    if (j->madd) {
        for (long s = 0; s < STEPS; s++)
            for (int c = 0; c < CHAINS; c++) v[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(v[c], b), ones);
    } else {
        for (long s = 0; s < STEPS; s++)
            for (int c = 0; c < CHAINS; c++) v[c] = _mm256_maddubs_epi16(v[c], b);
    }
    __m256i x = v[0];
    for (int c = 1; c < CHAINS; c++) x = _mm256_xor_si256(x, v[c]);
    int32_t w[8];
    _mm256_storeu_si256((__m256i *)w, x);
    j->sink[ith % 8] ^= w[0]; /* keeps the chains live */
    j->cpu[ith % 8] = cpu_seconds(CLOCK_THREAD_CPUTIME_ID) - t0;
}

/* int8 GOP/s of the peak loop on the pool's threads: the sum of each
 * thread's rate in its CPU time (best of 3). */
static double peak_gops(Pool *pool, int madd) {
    PeakJob j = {madd, {0}, {0}};
    double best = 0;
    for (int r = 0; r < 3; r++) {
        pool_run(pool, peak_rows, &j);
        double rate = 0;
        for (int i = 0; i < pool_threads(pool) && i < 8; i++) rate += 64.0 * CHAINS * STEPS / j.cpu[i] / 1e9;
        if (rate > best) best = rate;
    }
    return best;
}

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
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2")) {
        fprintf(stderr, "int8_peak: this CPU has no AVX2\n");
        return 1;
    }
    const Kern *k = kern_select(getenv("MISTRAL_SIMD"));
    Pool pools[8];
    double peak[8];
    printf("kernels: %s; int8 ops = 2 per u8·s8 product; tiles: %dx%d x %d tokens\n", k->name, ROWS, COLS, NTOK);
    for (int i = 0; i < n_threads; i++) {
        CHECK(pool_init(&pools[i], threads[i]) == 0);
        peak[i] = peak_gops(&pools[i], 1);
        printf("peak, %d thread(s): maddubs+madd %.1f GOP/s, maddubs only %.1f GOP/s\n", threads[i], peak[i],
               peak_gops(&pools[i], 0));
    }
    static const DType types[] = {DT_Q8_0, DT_Q4_0, DT_Q4_K, DT_Q5_K, DT_Q6_K};
    const char *only = getenv("MATMUL_TYPES"), *reps_env = getenv("REPS");
    int reps = reps_env ? atoi(reps_env) : 10;
    float *x = xmalloc((size_t)NTOK * COLS * sizeof *x), *out = xmalloc((size_t)NTOK * ROWS * sizeof *out);
    float *src = xmalloc(COLS * sizeof *src);
    for (int i = 0; i < NTOK * COLS; i++) x[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    void *scratch = xmalloc(matmul_scratch_max(COLS, NTOK, k));
    printf("\n%-6s", "dtype");
    for (int i = 0; i < n_threads; i++) printf(" | %dT: wall ms cpu ms  GOP/s  of peak", threads[i]);
    printf("\n");
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        DType t = types[ti];
        if (only && !name_listed(only, dtype_traits(t)->name)) continue;
        size_t rb = dtype_bytes(t, COLS);
        char *wd = xmalloc(rb * ROWS);
        uint64_t s = 0x9e3779b97f4a7c15ull;
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) {
                s ^= s << 13, s ^= s >> 7, s ^= s << 17;
                src[c] = (float)((double)(s >> 11) * 0x1.0p-53 - 0.5);
            }
            dtype_traits(t)->quantize(wd + (size_t)r * rb, src, COLS);
        }
        Mat m = {wd, t, ROWS, COLS, NULL, NULL};
        int packed = mat_pack(&m, k, &pools[n_threads - 1]);
        printf("%-6s", dtype_traits(t)->name);
        for (int i = 0; i < n_threads; i++) {
            MatmulEnv env = {.kern = k, .pool = &pools[i], .scratch = scratch, .fast = 0};
            double best = 1e30, wall = 1e30;
            for (int r = 0; r < reps; r++) {
                double t0 = now_seconds(), c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
                matmul(&env, out, x, &m, NTOK);
                double dt = (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0) / threads[i];
                if (dt < best) best = dt;
                if (now_seconds() - t0 < wall) wall = now_seconds() - t0;
            }
            double gops = 2.0 * ROWS * COLS * NTOK / best / 1e9;
            printf(" | %8.2f %6.2f %6.1f %6.0f%%", wall * 1e3, best * 1e3 * threads[i], gops, 100 * gops / peak[i]);
        }
        printf("%s\n", packed ? "" : "  (unpacked)");
        mat_unpack(&m);
        free(wd);
    }
    for (int i = 0; i < n_threads; i++) pool_free(&pools[i]);
    free(x), free(out), free(src), free(scratch);
    return 0;
}
#else
int main(void) {
    fprintf(stderr, "int8_peak: x86 only (AVX2)\n");
    return 1;
}
#endif
