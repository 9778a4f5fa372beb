#include "kern/matmul.h"

#include "base/util.h"

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
    const KernDot *kd = &k->mm[wtype];
    return kd->act_quant ? (size_t)n * kd->act_bytes((size_t)cols) : 0;
}

size_t matmul_scratch_max(int cols, int n, const Kern *k) {
    size_t m = 0;
    for (int t = 0; t < DT_COUNT; t++) {
        size_t b = matmul_scratch_bytes((DType)t, cols, n, k);
        if (b > m) m = b;
    }
    return m;
}

/* Quantizing activation rows: thread ith of nth takes its share of rows. */
typedef struct {
    const KernDot *kd;
    char *dst;
    const float *x;
    size_t cols, xb;
    int n;
} QuantJob;

static void quant_rows(void *arg, int ith, int nth) {
    const QuantJob *q = arg;
    int t0 = (int)((long)q->n * ith / nth), t1 = (int)((long)q->n * (ith + 1) / nth);
    for (int t = t0; t < t1; t++) q->kd->act_quant(q->dst + (size_t)t * q->xb, q->x + (size_t)t * q->cols, q->cols);
}

typedef struct {
    const KernDot *kd;
    float *out;
    const char *xa; /* activation rows, xstride bytes apart */
    size_t xstride, wstride;
    const char *w;
    int rows, cols, n;
    int panel; /* rows per panel, a multiple of mr */
    int mr; /* weight rows per tile */
} Job;

/* Multiply-adds below which a product stays on the calling thread. */
#define MATMUL_MIN_PARALLEL (1u << 16)
/* Weight bytes of a panel: rows that stay in L2 while every token meets them. */
#define MATMUL_PANEL_BYTES (192u << 10)

/* Thread ith of nth: the ith share of the row tiles, in panels of rows that
 * fit in L2. Within a panel, nt tokens at a time (their activations in L1)
 * meet every tile of mr rows (from L2): each weight row is read from memory
 * once per call, each activation row once per panel. */
static void matmul_rows(void *arg, int ith, int nth) {
    const Job *j = arg;
    const KernDot *kd = j->kd;
    int mr = j->mr, tiles = (j->rows + mr - 1) / mr;
    int r0 = (int)((long)tiles * ith / nth) * mr;
    int r1 = (int)((long)tiles * (ith + 1) / nth) * mr;
    if (r1 > j->rows) r1 = j->rows;
    for (int p = r0; p < r1; p += j->panel) {
        int pe = p + j->panel < r1 ? p + j->panel : r1;
        for (int t = 0; t < j->n; t += kd->nt) {
            int nt = j->n - t < kd->nt ? j->n - t : kd->nt;
            for (int r = p; r < pe; r += mr) {
                int nr = pe - r < mr ? pe - r : mr;
                kd->tile(j->out + (size_t)t * (size_t)j->rows + (size_t)r, (size_t)j->rows,
                         j->w + (size_t)r * j->wstride, j->wstride, nr, j->xa + (size_t)t * j->xstride, j->xstride,
                         nt, (size_t)j->cols);
            }
        }
    }
}

void matmul_ex(const Kern *k, Pool *pool, float *out, const float *x, const Mat *w, int n,
               void *scratch) {
    const KernDot *kd = &k->mm[w->dtype];
    size_t cols = (size_t)w->cols;
    Job j = {kd, out, (const char *)x, cols * sizeof(float), dtype_bytes(w->dtype, cols),
             w->data, w->rows, w->cols, n, 0, 1};
    if (kd->act_quant) {
        CHECK(scratch);
        QuantJob q = {kd, scratch, x, cols, kd->act_bytes(cols), n};
        if (n > 1 && (size_t)n * cols >= 8192) pool_run(pool, quant_rows, &q);
        else quant_rows(&q, 0, 1);
        j.xa = scratch, j.xstride = q.xb;
    }
    /* Up to nt tokens (decode) the weights stream through once, row after row:
     * one sequential stream is what memory and the prefetchers serve best
     * (several rows interleaved measured 1.1-5x slower). Past that, tiles of
     * mr rows reuse each weight load across tokens. Elements are computed the
     * same either way. */
    j.mr = n <= kd->nt ? 1 : kd->mr;
    size_t panel = MATMUL_PANEL_BYTES / j.wstride / (size_t)j.mr * (size_t)j.mr;
    j.panel = panel < (size_t)j.mr ? j.mr : panel > (size_t)w->rows ? w->rows : (int)panel;
    /* a product too small to repay waking the other threads runs here alone */
    if ((size_t)w->rows * cols * (size_t)n < MATMUL_MIN_PARALLEL) matmul_rows(&j, 0, 1);
    else pool_run(pool, matmul_rows, &j);
}

void mat_get_row(float *out, const Mat *w, int r) {
    dtype_traits(w->dtype)->to_float(out, mat_row(w, r), (size_t)w->cols);
}
