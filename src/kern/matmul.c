#include "kern/matmul.h"

#include "base/util.h"
#include "kern/quant.h"

void matmul(float *out, const float *x, const Mat *w, int n) {
    const DTypeTraits *tr = dtype_traits(w->dtype);
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    for (size_t r = 0; r < rows; r++) {
        const void *row = mat_row(w, (int)r);
        for (size_t t = 0; t < (size_t)n; t++) out[t * rows + r] = tr->dot(row, x + t * cols, cols);
    }
}

/* ---- the threaded, dispatched path --------------------------------------- */

size_t matmul_scratch_bytes(DType wtype, int cols, int n, const Kern *k) {
    if (k->mm[wtype].act == DT_F32) return 0;
    return (size_t)n * dtype_bytes(k->mm[wtype].act, (size_t)cols);
}

typedef struct {
    DotFn dot;
    float *out;
    const char *xa; /* activation rows, xstride bytes apart */
    size_t xstride, wstride;
    const char *w;
    int rows, cols, n;
} Job;

/* Multiply-adds below which a product stays on the calling thread. */
#define MATMUL_MIN_PARALLEL (1u << 16)

/* Thread ith of nth: the ith share of the row tiles, each tile against every token. */
static void matmul_rows(void *arg, int ith, int nth) {
    const Job *j = arg;
    int tiles = (j->rows + MATMUL_TILE - 1) / MATMUL_TILE;
    int r0 = (int)((long)tiles * ith / nth) * MATMUL_TILE;
    int r1 = (int)((long)tiles * (ith + 1) / nth) * MATMUL_TILE;
    if (r1 > j->rows) r1 = j->rows;
    for (int r = r0; r < r1; r += MATMUL_TILE) {
        int re = r + MATMUL_TILE < r1 ? r + MATMUL_TILE : r1;
        for (int t = 0; t < j->n; t++) {
            const void *xt = j->xa + (size_t)t * j->xstride;
            float *o = j->out + (size_t)t * (size_t)j->rows;
            for (int i = r; i < re; i++) o[i] = j->dot(j->w + (size_t)i * j->wstride, xt, (size_t)j->cols);
        }
    }
}

void matmul_ex(const Kern *k, Pool *pool, float *out, const float *x, const Mat *w, int n,
               void *scratch) {
    const KernDot *kd = &k->mm[w->dtype];
    size_t cols = (size_t)w->cols;
    Job j = {kd->dot, out, (const char *)x, cols * sizeof(float), dtype_bytes(w->dtype, cols),
             w->data, w->rows, w->cols, n};
    if (kd->act != DT_F32) {
        CHECK(scratch && kd->act == DT_Q8_0);
        size_t xb = dtype_bytes(kd->act, cols);
        for (int t = 0; t < n; t++) quantize_row_q8_0((char *)scratch + (size_t)t * xb, x + (size_t)t * cols, cols);
        j.xa = scratch, j.xstride = xb;
    }
    /* a product too small to repay waking the other threads runs here alone */
    if ((size_t)w->rows * cols * (size_t)n < MATMUL_MIN_PARALLEL) matmul_rows(&j, 0, 1);
    else pool_run(pool, matmul_rows, &j);
}

void mat_get_row(float *out, const Mat *w, int r) {
    dtype_traits(w->dtype)->to_float(out, mat_row(w, r), (size_t)w->cols);
}
