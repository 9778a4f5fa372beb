#include "kern/matmul.h"

#include <stdlib.h>
#include <string.h>

#include "base/util.h"

void matmul_ref(float *out, const float *x, const Mat *w, int n) {
    const DTypeTraits *tr = dtype_traits(w->dtype);
    size_t rows = (size_t)w->rows, cols = (size_t)w->cols;
    for (size_t r = 0; r < rows; r++) {
        const void *row = mat_row(w, (int)r);
        for (size_t t = 0; t < (size_t)n; t++) out[t * rows + r] = tr->dot(row, x + t * cols, cols);
    }
}

/* ---- the threaded, dispatched path --------------------------------------- */

size_t matmul_scratch_bytes(DType wtype, int cols, int n, const Kern *k) {
    const KernPack *kp = k->pack[wtype].pack ? &k->pack[wtype] : NULL;
    const KernDot *kds[4] = {&k->mm[wtype], &k->fast[wtype], kp ? &kp->dot : NULL, kp ? &k->pack_fast[wtype] : NULL};
    size_t m = 0;
    for (int i = 0; i < 4; i++)
        if (kds[i] && kds[i]->act_quant) {
            size_t b = (size_t)n * kds[i]->act_bytes((size_t)cols);
            if (b > m) m = b;
        }
    return m;
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
    const char *w; /* groups of g rows, wstride bytes apart */
    int rows, cols, n;
    int panel; /* rows per panel, a multiple of mr */
    int mr; /* weight rows per tile, a multiple of g */
    int g; /* rows per group: 1, or a packed layout's rows (then mr == g) */
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
                         j->w + (size_t)(r / j->g) * j->wstride, j->wstride, nr, j->xa + (size_t)t * j->xstride, j->xstride,
                         nt, (size_t)j->cols);
            }
        }
    }
}

void matmul(const MatmulEnv *env, float *out, const float *x, const Mat *w, int n) {
    if (env->observe) env->observe(env->observe_ud, w, x, n);
    const Kern *k = env->kern;
    const KernPack *kp = w->packed && w->packed_by == (const void *)k ? &k->pack[w->dtype] : NULL;
    const KernDot *kd = kp ? &kp->dot : &k->mm[w->dtype];
    const KernDot *fd = kp ? &k->pack_fast[w->dtype] : &k->fast[w->dtype];
    if (env->fast && fd->tile) kd = fd;
    size_t cols = (size_t)w->cols;
    Job j = {kd, out, (const char *)x, cols * sizeof(float), dtype_bytes(w->dtype, cols),
             w->data, w->rows, w->cols, n, 0, 1, 1};
    if (kp) j.w = w->packed, j.wstride = kp->group_bytes(cols), j.g = kp->rows;
    if (kd->act_quant) {
        CHECK(env->scratch);
        QuantJob q = {kd, env->scratch, x, cols, kd->act_bytes(cols), n};
        if (n > 1 && (size_t)n * cols >= 8192) pool_run(env->pool, quant_rows, &q);
        else quant_rows(&q, 0, 1);
        j.xa = env->scratch, j.xstride = q.xb;
    }
    /* Up to nt tokens (decode) the weights stream through once, row after row:
     * one sequential stream is what memory and the prefetchers serve best
     * (several rows interleaved measured 1.1-5x slower). Past that, tiles of
     * mr rows reuse each weight load across tokens. A packed group is one
     * stream already. Elements are computed the same either way. */
    j.mr = kp ? kp->rows : n <= kd->nt ? 1 : kd->mr;
    size_t row_bytes = j.wstride / (size_t)j.g;
    size_t panel = MATMUL_PANEL_BYTES / row_bytes / (size_t)j.mr * (size_t)j.mr;
    j.panel = panel < (size_t)j.mr ? j.mr : panel > (size_t)w->rows ? w->rows : (int)panel;
    /* a product too small to repay waking the other threads runs here alone */
    if ((size_t)w->rows * cols * (size_t)n < MATMUL_MIN_PARALLEL) matmul_rows(&j, 0, 1);
    else pool_run(env->pool, matmul_rows, &j);
}

/* Packing: thread ith of nth packs its share of the groups of rows. */
typedef struct {
    const KernPack *kp;
    const Mat *w;
    const char *rows;
    char *dst;
    size_t gb, rb;
} PackJob;

static void pack_groups(void *arg, int ith, int nth) {
    const PackJob *p = arg;
    int g = p->kp->rows, groups = (p->w->rows + g - 1) / g;
    int g0 = (int)((long)groups * ith / nth), g1 = (int)((long)groups * (ith + 1) / nth);
    for (int i = g0; i < g1; i++) {
        int r = i * g, nr = p->w->rows - r < g ? p->w->rows - r : g;
        p->kp->pack(p->dst + (size_t)i * p->gb, p->rows + (size_t)r * p->rb, p->rb, nr, (size_t)p->w->cols);
    }
}

size_t mat_packed_bytes(const Mat *w, const Kern *k) {
    const KernPack *kp = &k->pack[w->dtype];
    if (!kp->pack) return 0;
    size_t gb = kp->group_bytes((size_t)w->cols), groups = ((size_t)w->rows + (size_t)kp->rows - 1) / (size_t)kp->rows;
    return (gb * groups + 63) / 64 * 64;
}

void mat_pack_to(void *dst, const Mat *w, const void *rows, const Kern *k, Pool *pool) {
    const KernPack *kp = &k->pack[w->dtype];
    PackJob p = {kp, w, rows, dst, kp->group_bytes((size_t)w->cols), dtype_bytes(w->dtype, (size_t)w->cols)};
    pool_run(pool, pack_groups, &p);
}

int mat_pack(Mat *w, const Kern *k, Pool *pool) {
    if (!k->pack[w->dtype].pack || w->packed) return w->packed && w->packed_by == (const void *)k;
    char *dst = aligned_alloc(64, mat_packed_bytes(w, k));
    if (!dst) return 0; /* no memory for a copy: the unpacked rows serve */
    mat_pack_to(dst, w, w->data, k, pool);
    w->packed = dst, w->packed_by = k;
    return 1;
}

void mat_unpack(Mat *w) {
    free(w->packed);
    w->packed = NULL, w->packed_by = NULL;
}

void mat_get_row(float *out, const Mat *w, int r) {
    dtype_traits(w->dtype)->to_float(out, mat_row(w, r), (size_t)w->cols);
}
