/* simd: every kernel table against the reference on random data of awkward
 * sizes, with poisoned outputs; batch and thread invariance of matmul
 * (memcmp); the forced generic fallback.
 *
 * Tolerances (mag = Σ|w_i·x_i| over the row, in double):
 *   float weights (fp32 products, fp32 sums)       |got - ref| <= 1e-5·mag
 *   q8 path vs Σ dequant(w)·dequant(q8(x)) (exact) |got - ref| <= 1e-5·mag
 *   q8 path vs the fp32-x reference dot            |got - ref| <= Σ|w_i|·amax_b(i)/254
 *       + 1e-5·mag: rounding x to 8 bits moves each x_i by at most half a step,
 *       d_x/2 = amax/254 of its block (llama.cpp's q8_0), d_x's f16 rounding aside
 *       (1e-3 relative, inside the slack). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "base/util.h"
#include "harness.h"
#include "kern/dtype.h"
#include "kern/matmul.h"
#include "kern/ops.h"
#include "kern/quant.h"
#include "kern/kern.h"
#include "model/model.h"
#include "model/prepare.h"
#include "randblocks.h"

static uint64_t rng_s = 0x243f6a8885a308d3ull;
static uint64_t rng_u64(void) {
    rng_s ^= rng_s << 13, rng_s ^= rng_s >> 7, rng_s ^= rng_s << 17;
    return rng_s;
}
static double rng_normal(void) {
    double u = ((double)(rng_u64() >> 11) + 0.5) * 0x1.0p-53, v = (double)(rng_u64() >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}
static float *normals(size_t n) {
    float *x = xmalloc(n * sizeof *x + 1);
    for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal();
    return x;
}
static float *poisoned(size_t n) {
    float *x = xmalloc(n * sizeof *x + 1);
    for (size_t i = 0; i < n; i++) x[i] = NAN;
    return x;
}

/* A (rows, cols) matrix of type t from normal values (through its
 * quantizer), or of random blocks of about that size (types without one). */
static void *random_mat(DType t, int rows, int cols) {
    size_t rb = dtype_bytes(t, (size_t)cols);
    char *w = xmalloc(rb * (size_t)rows + 1);
    if (!dtype_traits(t)->quantize) {
        test_random_blocks(w, t, (size_t)rows * (size_t)cols, 1.0f, &rng_s);
        return w;
    }
    float *src = normals((size_t)cols);
    for (int r = 0; r < rows; r++) {
        for (int c = 0; c < cols; c++) src[c] = (float)rng_normal() * (c % 7 == 0 ? 3.0f : 1.0f);
        dtype_traits(t)->quantize(w + (size_t)r * rb, src, (size_t)cols);
    }
    free(src);
    return w;
}

static const Kern *tables[4];
static int n_tables;

static void check_dots(DType t, const Kern *k, int cols) {
    const DTypeTraits *tr = dtype_traits(t);
    int rows = 5;
    void *w = random_mat(t, rows, cols);
    float *x = normals((size_t)cols), *wf = xmalloc((size_t)cols * sizeof *wf), *xd = xmalloc((size_t)cols * sizeof *xd);
    const KernDot *kd = &k->mm[t];
    void *xq = NULL;
    if (kd->act == DT_Q8_0) { /* x's values: q8_0's; its layout: the table's */
        void *q8 = xmalloc(dtype_bytes(DT_Q8_0, (size_t)cols));
        quantize_row_q8_0(q8, x, (size_t)cols);
        dequantize_row_q8_0(xd, q8, (size_t)cols);
        free(q8);
        xq = xmalloc(kd->act_bytes((size_t)cols));
        kd->act_quant(xq, x, (size_t)cols);
    } else {
        memcpy(xd, x, (size_t)cols * sizeof *xd);
    }
    size_t rb = dtype_bytes(t, (size_t)cols);
    for (int r = 0; r < rows; r++) {
        const void *row = (const char *)w + (size_t)r * rb;
        tr->to_float(wf, row, (size_t)cols);
        double ref = 0, mag = 0, qbound = 0;
        for (int c = 0; c < cols; c++) ref += (double)wf[c] * xd[c], mag += fabs((double)wf[c] * xd[c]);
        float got = kern_dot(kd, row, xq ? xq : (const void *)x, (size_t)cols);
        EXPECTQ(isfinite(got) && fabs(got - ref) <= 1e-5 * mag + 1e-30, "%s %s cols %d row %d: %.9g want %.9g (mag %g)",
                k->name, tr->name, cols, r, got, ref, mag);
        if (xq) { /* against the fp32-x reference: the error of quantizing x */
            for (int b = 0; b < cols / QK32; b++) {
                float amax = 0;
                for (int i = 0; i < QK32; i++) amax = fmaxf(amax, fabsf(x[b * QK32 + i]));
                for (int i = 0; i < QK32; i++) qbound += fabs((double)wf[b * QK32 + i]) * amax / 254 * 1.002;
            }
            double r32 = tr->dot(row, x, (size_t)cols);
            EXPECTQ(fabs(got - r32) <= qbound + 1e-5 * mag, "%s %s cols %d row %d: %.9g vs fp32-x %.9g, bound %g",
                    k->name, tr->name, cols, r, got, r32, qbound);
        }
    }
    free(xq), free(x), free(wf), free(xd), free(w);
}

/* The activation layouts hold exactly q8_0's values: a weight row with one
 * element 1 (scale 1) picks out one value of x, d_x·q_x, with no rounding. */
static void check_act_exact(const Kern *k) {
    int cols = 5 * QK32;
    float *x = normals((size_t)cols), *xd = xmalloc((size_t)cols * sizeof *xd);
    x[7] = 0, x[40] = 1e-30f, x[100] = -x[101]; /* zero, tiny, a tie of magnitudes */
    for (int b = 0; b < 5; b++) x[b * QK32 + 3] *= 9;
    void *q8 = xmalloc(dtype_bytes(DT_Q8_0, (size_t)cols));
    quantize_row_q8_0(q8, x, (size_t)cols);
    dequantize_row_q8_0(xd, q8, (size_t)cols);
    static const DType types[] = {DT_Q8_0, DT_Q4_0, DT_Q4_1};
    for (int ti = 0; ti < 3; ti++) {
        const KernDot *kd = &k->mm[types[ti]];
        if (kd->act != DT_Q8_0) continue;
        void *xq = xmalloc(kd->act_bytes((size_t)cols));
        kd->act_quant(xq, x, (size_t)cols);
        size_t rb = dtype_bytes(types[ti], (size_t)cols);
        unsigned char *row = xmalloc(rb);
        for (int j = 0; j < cols; j++) {
            memset(row, 0, rb);
            for (int b = 0; b < cols / QK32; b++) {
                if (types[ti] == DT_Q8_0) {
                    BlockQ8_0 *blk = (BlockQ8_0 *)row + b;
                    blk->d = f32_to_f16(1.0f);
                    if (b == j / QK32) blk->qs[j % QK32] = 1;
                } else if (types[ti] == DT_Q4_1) { /* d 1, m 0: the min term adds 0·s */
                    BlockQ4_1 *blk = (BlockQ4_1 *)row + b;
                    blk->d = f32_to_f16(1.0f);
                    int e = j % QK32;
                    if (b == j / QK32) blk->qs[e % 16] = (uint8_t)(e < 16 ? 0x01 : 0x10);
                } else {
                    BlockQ4_0 *blk = (BlockQ4_0 *)row + b;
                    blk->d = f32_to_f16(1.0f);
                    memset(blk->qs, 0x88, sizeof blk->qs); /* every value 0 */
                    int e = j % QK32;
                    if (b == j / QK32) blk->qs[e % 16] = (uint8_t)(e < 16 ? 0x89 : 0x98);
                }
            }
            float got = kern_dot(kd, row, xq, (size_t)cols);
            EXPECTQ(got == xd[j], "%s %s activation %d: %.9g, q8_0 has %.9g", k->name, dtype_traits(types[ti])->name, j, got, xd[j]);
        }
        free(row), free(xq);
    }
    free(q8), free(x), free(xd);
}

/* Every tile shape gives each element the bits of the 1 × 1 tile. */
static void check_tiles(DType t, const Kern *k) {
    const KernDot *kd = &k->mm[t];
    int blk = dtype_traits(t)->block, cols = blk == 1 ? 45 : 3 * blk, rows = kd->mr, n = kd->nt;
    void *w = random_mat(t, rows, cols);
    float *x = normals((size_t)n * cols);
    size_t xb = kd->act_quant ? kd->act_bytes((size_t)cols) : (size_t)cols * sizeof(float), rb = dtype_bytes(t, (size_t)cols);
    char *xa = xmalloc(xb * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (kd->act_quant) kd->act_quant(xa + (size_t)i * xb, x + (size_t)i * cols, (size_t)cols);
        else memcpy(xa + (size_t)i * xb, x + (size_t)i * cols, xb);
    }
    for (int nr = 1; nr <= kd->mr; nr++)
        for (int nt = 1; nt <= kd->nt; nt++) {
            float out[64];
            kd->tile(out, (size_t)nr, w, rb, nr, xa, xb, nt, (size_t)cols);
            for (int i = 0; i < nt; i++)
                for (int r = 0; r < nr; r++) {
                    float one = kern_dot(kd, (const char *)w + (size_t)r * rb, xa + (size_t)i * xb, (size_t)cols);
                    EXPECTQ(memcmp(&one, &out[i * nr + r], sizeof one) == 0, "%s %s tile %dx%d element (%d,%d): %.9g, alone %.9g",
                            k->name, dtype_traits(t)->name, nr, nt, r, i, out[i * nr + r], one);
                }
        }
    free(w), free(x), free(xa);
}

/* matmul: every token of an n-token call on `threads` threads has exactly
 * the bits of that token alone on one thread, and is near the reference. */
static void check_matmul(DType t, const Kern *k, int rows, int cols, int n, Pool *pool) {
    void *wd = random_mat(t, rows, cols);
    Mat w = {wd, t, rows, cols, NULL, NULL};
    float *x = normals((size_t)n * cols), *out = poisoned((size_t)n * rows), *ref = poisoned((size_t)n * rows);
    void *scratch = xmalloc(matmul_scratch_bytes(t, cols, n, k) + 1);
    matmul(&(MatmulEnv){.kern = k, .pool = pool, .scratch = scratch, .fast = 0}, out, x, &w, n);
    matmul_ref(ref, x, &w, n);
    for (int tk = 0; tk < n; tk++) {
        float *one = poisoned((size_t)rows);
        matmul(&(MatmulEnv){.kern = k, .pool = NULL, .scratch = scratch, .fast = 0}, one, x + (size_t)tk * cols, &w, 1);
        EXPECTQ(memcmp(one, out + (size_t)tk * rows, (size_t)rows * sizeof *one) == 0,
                "%s %s %dx%d n=%d threads %d: token %d differs from that token alone", k->name,
                dtype_traits(t)->name, rows, cols, n, pool_threads(pool), tk);
        free(one);
    }
    int quant = k->mm[t].act != DT_F32;
    for (size_t i = 0; i < (size_t)n * rows; i++) /* loose: the dots are checked closely above */
        EXPECTQ(isfinite(out[i]) && fabsf(out[i] - ref[i]) <= (quant ? 0.05f : 1e-4f) * sqrtf((float)cols) + 1e-4f * fabsf(ref[i]),
                "%s %s %dx%d n=%d: out %zu = %g, reference %g", k->name, dtype_traits(t)->name, rows, cols, n, i, out[i], ref[i]);
    free(scratch), free(ref), free(out), free(x), free(wd);
}

/* A table's packed layout of t (KernPack): every tile shape writes exactly
 * its nr rows with the bits of the full group's one-token tile; matmul on
 * the packed matrix is batch- and thread-invariant (memcmp), each element
 * within 1e-5·mag of the unpacked kernel's dot and of the generic table's
 * (the same q8 values, other fp32 order). */
static void check_pack(DType t, const Kern *k, int rows, int cols, int n, Pool *pool) {
    const KernPack *kp = &k->pack[t];
    if (!kp->pack) return;
    void *wd = random_mat(t, rows, cols);
    Mat w = {wd, t, rows, cols, NULL, NULL};
    EXPECT(mat_pack(&w, k, pool) == 1 && w.packed && w.packed_by == (const void *)k, "%s %s: mat_pack", k->name,
           dtype_traits(t)->name);
    EXPECT(mat_pack(&w, k, pool) == 1, "%s %s: packing twice keeps the copy", k->name, dtype_traits(t)->name);
    if (kern_named("generic") != k) EXPECT(mat_pack(&w, kern_named("generic"), pool) == 0, "packed for another table");
    float *x = normals((size_t)n * cols), *out = poisoned((size_t)n * rows);
    void *scratch = xmalloc(matmul_scratch_bytes(t, cols, n, k) + 1);
    matmul(&(MatmulEnv){.kern = k, .pool = pool, .scratch = scratch, .fast = 0}, out, x, &w, n);
    /* each token alone, and the unpacked kernel's dot */
    const KernDot *kd = &k->mm[t];
    size_t rb = dtype_bytes(t, (size_t)cols);
    float *wf = xmalloc((size_t)cols * sizeof *wf), *xd = xmalloc((size_t)cols * sizeof *xd);
    int quant = kd->act_quant != NULL; /* else float weights: x as is */
    void *q8 = xmalloc(dtype_bytes(DT_Q8_0, (size_t)cols)), *xq = xmalloc(quant ? kd->act_bytes((size_t)cols) : 1);
    const KernDot *gd = &kern_named("generic")->mm[t];
    void *xg = xmalloc(gd->act_quant ? gd->act_bytes((size_t)cols) : 1);
    for (int tk = 0; tk < n; tk++) {
        float *one = poisoned((size_t)rows);
        matmul(&(MatmulEnv){.kern = k, .pool = NULL, .scratch = scratch, .fast = 0}, one, x + (size_t)tk * cols, &w, 1);
        EXPECTQ(memcmp(one, out + (size_t)tk * rows, (size_t)rows * sizeof *one) == 0,
                "%s %s packed %dx%d n=%d threads %d: token %d differs from that token alone", k->name,
                dtype_traits(t)->name, rows, cols, n, pool_threads(pool), tk);
        free(one);
        if (quant) {
            quantize_row_q8_0(q8, x + (size_t)tk * cols, (size_t)cols);
            dequantize_row_q8_0(xd, q8, (size_t)cols);
            kd->act_quant(xq, x + (size_t)tk * cols, (size_t)cols);
            gd->act_quant(xg, x + (size_t)tk * cols, (size_t)cols);
        } else {
            memcpy(xd, x + (size_t)tk * cols, (size_t)cols * sizeof *xd);
        }
        for (int r = 0; r < rows; r++) {
            const char *row = (const char *)wd + (size_t)r * rb;
            dtype_traits(t)->to_float(wf, row, (size_t)cols);
            double mag = 0;
            for (int c = 0; c < cols; c++) mag += fabs((double)wf[c] * xd[c]);
            float want = kern_dot(kd, row, quant ? xq : (const void *)(x + (size_t)tk * cols), (size_t)cols);
            float got = out[(size_t)tk * rows + (size_t)r];
            EXPECTQ(isfinite(got) && fabs(got - want) <= 1e-5 * mag + 1e-30, "%s %s packed %dx%d: (%d,%d) %.9g, unpacked %.9g",
                    k->name, dtype_traits(t)->name, rows, cols, tk, r, got, want);
            float gen = kern_dot(gd, row, quant ? xg : (const void *)(x + (size_t)tk * cols), (size_t)cols);
            EXPECTQ(fabs(got - gen) <= 1e-5 * mag + 1e-30, "%s %s packed %dx%d: (%d,%d) %.9g, generic %.9g", k->name,
                    dtype_traits(t)->name, rows, cols, tk, r, got, gen);
        }
    }
    /* tile shapes on the first group */
    const KernDot *pd = &kp->dot;
    size_t xb = pd->act_quant ? pd->act_bytes((size_t)cols) : (size_t)cols * sizeof(float);
    char *xa = xmalloc(xb * (size_t)pd->nt);
    int nt_max = n < pd->nt ? n : pd->nt;
    for (int i = 0; i < nt_max; i++) {
        if (pd->act_quant) pd->act_quant(xa + (size_t)i * xb, x + (size_t)i * cols, (size_t)cols);
        else memcpy(xa + (size_t)i * xb, x + (size_t)i * cols, xb);
    }
    size_t gb = kp->group_bytes((size_t)cols);
    CHECK(kp->rows <= 16 && pd->nt <= 8); /* the buffers below */
    float full[16 * 8];
    for (int i = 0; i < nt_max; i++) pd->tile(full + i * kp->rows, (size_t)kp->rows, w.packed, gb, kp->rows, xa + (size_t)i * xb, xb, 1, (size_t)cols);
    for (int nr = 1; nr <= kp->rows; nr++)
        for (int nt = 1; nt <= nt_max; nt++) {
            float got[17 * 8 + 8];
            for (int i = 0; i < 17 * 8 + 8; i++) got[i] = NAN;
            pd->tile(got, (size_t)nr + 1, w.packed, gb, nr, xa, xb, nt, (size_t)cols);
            for (int i = 0; i < nt; i++) {
                for (int r = 0; r < nr; r++)
                    EXPECTQ(memcmp(&got[i * (nr + 1) + r], &full[i * kp->rows + r], sizeof(float)) == 0,
                            "%s %s packed tile %dx%d element (%d,%d): %.9g, full group %.9g", k->name, dtype_traits(t)->name,
                            nr, nt, r, i, got[i * (nr + 1) + r], full[i * kp->rows + r]);
                EXPECTQ(isnan(got[i * (nr + 1) + nr]), "%s %s packed tile %dx%d wrote past its rows", k->name,
                        dtype_traits(t)->name, nr, nt);
            }
        }
    mat_unpack(&w);
    EXPECT(!w.packed && !w.packed_by, "mat_unpack");
    free(xa), free(q8), free(xq), free(xg), free(wf), free(xd), free(scratch), free(out), free(x), free(wd);
}

/* Two tables whose packed tiles compute the same operations (avx512's VNNI
 * tiles and avx2's; avx512's 16-row float groups and avx2's 8-row ones)
 * give every element the same bits: the same matrix packed by each and
 * multiplied through matmul, 1 to 9 tokens, rows that fill no group. */
static void check_pack_agree(const Kern *a, const Kern *b) {
    for (int t = 0; t < DT_COUNT; t++) {
        if (!a->pack[t].pack || !b->pack[t].pack) continue;
        int blk = dtype_traits((DType)t)->block, cols = blk == 1 ? 45 : 5 * blk, rows = 37;
        void *wd = random_mat((DType)t, rows, cols);
        float *x = normals((size_t)9 * cols), *oa = poisoned((size_t)9 * rows), *ob = poisoned((size_t)9 * rows);
        size_t sb = matmul_scratch_bytes((DType)t, cols, 9, a), sb2 = matmul_scratch_bytes((DType)t, cols, 9, b);
        void *scratch = xmalloc((sb > sb2 ? sb : sb2) + 1);
        for (int n = 1; n <= 9; n++) {
            Mat w = {wd, (DType)t, rows, cols, NULL, NULL};
            EXPECT(mat_pack(&w, a, NULL) == 1, "pack");
            matmul(&(MatmulEnv){.kern = a, .pool = NULL, .scratch = scratch, .fast = 0}, oa, x, &w, n);
            mat_unpack(&w);
            EXPECT(mat_pack(&w, b, NULL) == 1, "pack");
            matmul(&(MatmulEnv){.kern = b, .pool = NULL, .scratch = scratch, .fast = 0}, ob, x, &w, n);
            mat_unpack(&w);
            EXPECT(memcmp(oa, ob, (size_t)(n * rows) * sizeof(float)) == 0, "%s vs %s %s packed, %d tokens: differ (%.9g vs %.9g)",
                   a->name, b->name, dtype_traits((DType)t)->name, n, oa[0], ob[0]);
        }
        free(wd), free(x), free(oa), free(ob), free(scratch);
    }
}

/* The types issue 21 added keep the generic table's bits on every table
 * (kern.h; test_quant_k2 holds it for matmul too): each row's dot through
 * the table's own tile, unpacked and packed (1 token), memcmp-equal to the
 * generic dot, over random valid blocks (every code; tq1_0's trits), 1 to
 * 11 super-blocks. */
static void check_generic_bits(const Kern *k) {
    static const DType types[] = {DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS, DT_TQ1_0, DT_TQ2_0};
    static const int supers[] = {1, 2, 11};
    const Kern *g = kern_named("generic");
    enum { ROWS = 19 };
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++)
        for (int si = 0; si < 3; si++) {
            DType t = types[ti];
            int cols = supers[si] * 256;
            void *wd = xmalloc(dtype_bytes(t, (size_t)ROWS * cols));
            test_random_blocks(wd, t, (size_t)ROWS * cols, 0.3f, &rng_s);
            float *x = normals((size_t)cols), *want = poisoned(ROWS), *got = poisoned(ROWS);
            size_t sb = matmul_scratch_bytes(t, cols, 1, k), sg = matmul_scratch_bytes(t, cols, 1, g);
            void *scratch = xmalloc((sb > sg ? sb : sg) + 1);
            Mat w = {wd, t, ROWS, cols, NULL, NULL};
            matmul(&(MatmulEnv){.kern = g, .scratch = scratch}, want, x, &w, 1);
            for (int pk = 0; pk <= (k->pack[t].pack != NULL); pk++) {
                if (pk) EXPECT(mat_pack(&w, k, NULL) == 1, "%s %s: pack", k->name, dtype_traits(t)->name);
                matmul(&(MatmulEnv){.kern = k, .scratch = scratch}, got, x, &w, 1);
                for (int r = 0; r < ROWS; r++)
                    EXPECTQ(memcmp(&got[r], &want[r], sizeof *got) == 0, "%s %s%s cols %d row %d: %.9g, generic %.9g",
                            k->name, dtype_traits(t)->name, pk ? " packed" : "", cols, r, got[r], want[r]);
                mat_unpack(&w);
            }
            free(scratch), free(wd), free(x), free(want), free(got);
        }
}

/* The fast dots (kern.h's act DT_BF16, MatmulEnv.fast): for every table
 * with one, matmul on the packed matrix gives every element the bits of the
 * generic table's dot_bf16x (the oracle: pair p into chain p mod 2, the odd
 * product first, which vdpbf16ps computes natively); the unpacked fast dot
 * is within 1e-5·mag of it; both are within the rounding of x to bf16 of
 * the exact fp32-x product (each x_i moves by at most 2^-8·|x_i|).
 * n = 1..9 tokens, rows that fill no group, odd and even column counts. */
static void check_fast(const Kern *k, Pool *pool) {
    const Kern *g = kern_named("generic");
    const DType t = DT_BF16;
    const KernDot *gd = &g->fast[t];
    EXPECT(gd->tile && gd->act == DT_BF16, "generic has the BF16 fast dot");
    if (!k->fast[t].tile && !k->pack_fast[t].tile) return;
    static const int colsv[] = {1, 2, 7, 45, 258, 1027};
    for (int ci = 0; ci < 6; ci++) {
        int rows = 37, cols = colsv[ci], N = 9;
        void *wd = random_mat(t, rows, cols);
        float *x = normals((size_t)N * cols), *out = poisoned((size_t)N * rows), *one = poisoned((size_t)rows);
        x[3 % cols] = 1e-39f, x[(5 % cols)] = -3e-39f; /* below bf16's normals: read as zero */
        float *wf = xmalloc((size_t)cols * sizeof *wf), *xr = xmalloc((size_t)cols * sizeof *xr);
        void *xg = xmalloc(gd->act_bytes((size_t)cols) + 1);
        void *scratch = xmalloc(matmul_scratch_bytes(t, cols, N, k) + 1);
        for (int packed = 0; packed < 2; packed++) {
            Mat w = {wd, t, rows, cols, NULL, NULL};
            if (packed && mat_pack(&w, k, pool) != 1) continue;
            if (!packed && !k->fast[t].tile) continue;
            for (int n = 1; n <= N; n++) {
                matmul(&(MatmulEnv){.kern = k, .pool = pool, .scratch = scratch, .fast = 1}, out, x, &w, n);
                for (int tk = 0; tk < n; tk++) {
                    const float *xt = x + (size_t)tk * cols;
                    matmul(&(MatmulEnv){.kern = k, .pool = NULL, .scratch = scratch, .fast = 1}, one, xt, &w, 1);
                    EXPECTQ(memcmp(one, out + (size_t)tk * rows, (size_t)rows * sizeof *one) == 0,
                            "%s fast bf16 %s %dx%d n=%d: token %d differs from that token alone", k->name,
                            packed ? "packed" : "unpacked", rows, cols, n, tk);
                    gd->act_quant(xg, xt, (size_t)cols);
                    for (int c = 0; c < cols; c++) xr[c] = bf16_to_f32(f32_to_bf16_act(xt[c]));
                    for (int r = 0; r < rows; r++) {
                        const char *row = (const char *)wd + (size_t)r * dtype_bytes(t, (size_t)cols);
                        dtype_traits(t)->to_float(wf, row, (size_t)cols);
                        double mag = 0, exact = 0, bound = 0;
                        for (int c = 0; c < cols; c++)
                            mag += fabs((double)wf[c] * xr[c]), exact += (double)wf[c] * xt[c],
                                bound += fabs((double)wf[c] * xt[c]) * 0x1p-8 + fabs((double)wf[c]) * 0x1p-126;
                        float got = out[(size_t)tk * rows + r], want = kern_dot(gd, row, xg, (size_t)cols);
                        if (packed)
                            EXPECTQ(memcmp(&got, &want, sizeof got) == 0, "%s fast bf16 packed %dx%d (%d,%d): %.9g, generic %.9g",
                                    k->name, rows, cols, tk, r, got, want);
                        else
                            EXPECTQ(fabs(got - want) <= 1e-5 * mag + 1e-30, "%s fast bf16 %dx%d (%d,%d): %.9g, generic %.9g",
                                    k->name, rows, cols, tk, r, got, want);
                        EXPECTQ(fabs(got - exact) <= bound + 1e-5 * mag + 1e-30, "%s fast bf16 %dx%d (%d,%d): %.9g vs fp32-x %.9g, bound %g",
                                k->name, rows, cols, tk, r, got, exact, bound);
                    }
                }
            }
            if (packed) mat_unpack(&w);
            /* fast off (unpacked): exactly the exact dot, fp32 x */
            matmul(&(MatmulEnv){.kern = k, .pool = NULL, .scratch = scratch, .fast = 0}, one, x, &w, 1);
            for (int r = 0; r < rows; r++) {
                float want = kern_dot(&k->mm[t], (const char *)wd + (size_t)r * dtype_bytes(t, (size_t)cols), x, (size_t)cols);
                EXPECTQ(memcmp(&one[r], &want, sizeof want) == 0, "%s bf16 fast off: %.9g, exact dot %.9g", k->name, one[r], want);
            }
        }
        free(wd), free(x), free(out), free(one), free(wf), free(xr), free(xg), free(scratch);
    }
}

/* The bandwidth probe's loop reads every word: the same XOR as a plain loop. */
static void check_read_lines(const Kern *k) {
    size_t bytes = 256 * 37;
    uint64_t *w = xmalloc(bytes), want = 0;
    for (size_t i = 0; i < bytes / 8; i++) w[i] = (uint64_t)i * 0x9e3779b97f4a7c15ull ^ (i << 7), want ^= w[i];
    EXPECT(k->read_lines(w, bytes) == want, "%s: read_lines", k->name);
    EXPECT(k->read_lines(w, 0) == 0, "%s: read_lines of nothing", k->name);
    free(w);
}

static void check_vec(const Kern *k) {
    static const int sizes[] = {1, 7, 8, 9, 31, 64, 100, 129};
    for (int si = 0; si < 8; si++) {
        int n = sizes[si];
        float *a = normals((size_t)n), *b = normals((size_t)n), *o = normals((size_t)n), *o0 = xmalloc((size_t)n * 4);
        memcpy(o0, o, (size_t)n * 4);
        double ref = 0, mag = 0;
        for (int i = 0; i < n; i++) ref += (double)a[i] * b[i], mag += fabs((double)a[i] * b[i]);
        float got = k->dot_f32(a, b, n);
        EXPECTQ(fabs(got - ref) <= 1e-5 * mag, "%s dot_f32 n=%d: %g want %g", k->name, n, got, ref);
        k->axpy_f32(o, 0.37f, b, n);
        for (int i = 0; i < n; i++) {
            double want = o0[i] + 0.37 * (double)b[i];
            EXPECTQ(fabs(o[i] - want) <= 1e-6 * (fabs(o0[i]) + fabs(0.37 * b[i])), "%s axpy n=%d [%d]", k->name, n, i);
        }
        if (k->dot_f16) { /* over an fp16 row (an fp16 KV cache) */
            uint16_t *h = xmalloc((size_t)n * sizeof *h);
            double r16 = 0;
            for (int i = 0; i < n; i++) h[i] = f32_to_f16(b[i]), r16 += (double)a[i] * f16_to_f32(h[i]);
            float g16 = k->dot_f16(a, h, n);
            EXPECTQ(fabs(g16 - r16) <= 1e-5 * mag * 1.01, "%s dot_f16 n=%d: %g want %g", k->name, n, g16, r16);
            memcpy(o, o0, (size_t)n * 4);
            k->axpy_f16(o, 0.37f, h, n);
            for (int i = 0; i < n; i++) {
                double want = o0[i] + 0.37 * (double)f16_to_f32(h[i]);
                EXPECTQ(fabs(o[i] - want) <= 1e-6 * (fabs(o0[i]) + fabs(0.37 * f16_to_f32(h[i]))) + 1e-12,
                        "%s axpy_f16 n=%d [%d]", k->name, n, i);
            }
            free(h);
        }
        free(a), free(b), free(o), free(o0);
    }
}

/* Streamed group attention (Kern.attn, fp32 and fp16 rows) against the
 * two-pass reference attention() (double scores) on the same (rounded) keys
 * and values: 1e-5 of the largest output. Sizes around the key block and the
 * vector widths, groups below, at and above ATTN_GROUP, keys in separate
 * rows of three kv heads (the others NaN, never read), poisoned outputs; and
 * each head's output the same bits when computed alone (g = 1). */
static void check_attention(const Kern *k) {
    /* its own random stream: the checks after it keep the data they had */
    uint64_t saved = rng_s;
    rng_s = 0x5eed5eed5eedULL;
    static const int ns[] = {1, 2, 5, 63, 64, 65, 130, 200}, hds[] = {8, 24, 64, 67, 128}, gs[] = {1, 3, 4, 5, 8};
    for (int ni = 0; ni < 8; ni++)
        for (int hi = 0; hi < 5; hi++)
            for (int gi = 0; gi < 5; gi++)
                for (int f16 = 0; f16 < 2; f16++) {
                    int n = ns[ni], hd = hds[hi], g = gs[gi], kvd = 3 * hd, off = hd;
                    size_t esz = f16 ? 2 : 4;
                    float *q = normals((size_t)g * hd), *kv = poisoned((size_t)2 * n * kvd), *sc = poisoned((size_t)n);
                    char *rows = xmalloc((size_t)2 * n * kvd * esz);
                    for (size_t i = 0; i < (size_t)2 * n * kvd; i++) {
                        int head = (int)(i % (size_t)kvd) / hd; /* only head 1 (off) is read */
                        float x = head == 1 ? (float)rng_normal() * 2.0f : NAN;
                        if (f16) x = f16_to_f32(f32_to_f16(x)), ((uint16_t *)rows)[i] = f32_to_f16(x);
                        else memcpy(rows + i * 4, &x, 4);
                        kv[i] = x;
                    }
                    const float **kp = xmalloc((size_t)n * sizeof *kp), **vp = xmalloc((size_t)n * sizeof *vp);
                    const void **kr = xmalloc((size_t)n * sizeof *kr), **vr = xmalloc((size_t)n * sizeof *vr);
                    for (int j = 0; j < n; j++) { /* keys and values in reverse, interleaved: any pointers */
                        size_t jk = (size_t)(n - 1 - j) * 2, jv = jk + 1;
                        kp[j] = kv + jk * kvd, vp[j] = kv + jv * kvd;
                        kr[j] = rows + jk * kvd * esz, vr[j] = rows + jv * kvd * esz;
                    }
                    float *got = poisoned((size_t)g * hd), *one = poisoned((size_t)hd), *want = poisoned((size_t)hd);
                    attention_group(k, got, q, g, kr, vr, f16 ? DT_F16 : DT_F32, n, off, hd, 0.3f);
                    for (int h = 0; h < g; h++) {
                        const float *qh = q + (size_t)h * hd, *gh = got + (size_t)h * hd;
                        attention(want, qh, kp, vp, n, off, hd, 0.3f, sc);
                        double amax = 0;
                        for (int d = 0; d < hd; d++) amax = fmax(amax, fabs(want[d]));
                        for (int d = 0; d < hd; d++)
                            EXPECTQ(fabs(gh[d] - want[d]) <= 1e-5 * amax, "%s attention %s n=%d hd=%d g=%d h=%d [%d]: %g vs %g",
                                    k->name, f16 ? "f16" : "f32", n, hd, g, h, d, gh[d], want[d]);
                        attention_group(k, one, qh, 1, kr, vr, f16 ? DT_F16 : DT_F32, n, off, hd, 0.3f);
                        EXPECTQ(memcmp(one, gh, (size_t)hd * sizeof *one) == 0,
                                "%s attention %s n=%d hd=%d g=%d: head %d alone differs", k->name, f16 ? "f16" : "f32", n,
                                hd, g, h);
                    }
                    free(q), free(kv), free(sc), free(rows), free(kp), free(vp), free(kr), free(vr);
                    free(got), free(one), free(want);
                }
    rng_s = saved;
}

/* The whole forward pass: logits of every token, one-shot on one thread,
 * equal bit for bit to chunked prefill (chunks of 1, 3, 20) on 1..3 threads;
 * fast: with the fast dots (context_set_fast). */
#ifndef TEST_SIMD_KERNELS_ONLY
static void check_model(const char *dir, int fast) {
    Model m;
    if (model_load(&m, dir, NULL)) {
        EXPECT(0, "load %s: %s", dir, err_msg());
        return;
    }
    enum { N = 20 };
    int V = m.cfg.n_vocab, tok[N], seq[N] = {0};
    long pos[N];
    for (int i = 0; i < N; i++) tok[i] = 1 + (i * 37) % (V - 1), pos[i] = i;
    float *want = poisoned((size_t)N * V), *got = poisoned((size_t)N * V);
    Context ctx;
    ModelShare all = model_share_all(&m);
    CHECK(model_prepare(&m, &all, kern_get(), NULL) == 0); /* packed, as the CLI runs it */
    CHECK(context_init(&ctx, &m, 1, N) == 0);
    CHECK(context_set_threads(&ctx, 1) == 0);
    context_set_fast(&ctx, fast);
    Batch b = {.n = N, .token = tok, .seq = seq, .pos = pos};
    CHECK(forward(&ctx, &b, want) == 0);
    context_free(&ctx);
    static const int chunks[] = {1, 3, N};
    for (int th = 1; th <= 3; th++)
        for (int ci = 0; ci < 3; ci++) {
            CHECK(context_init(&ctx, &m, 1, N) == 0);
            CHECK(context_set_threads(&ctx, th) == 0);
            context_set_fast(&ctx, fast);
            for (int s = 0; s < N; s += chunks[ci]) {
                int k = N - s < chunks[ci] ? N - s : chunks[ci];
                Batch c = {.n = k, .token = tok + s, .seq = seq, .pos = pos + s};
                CHECK(forward(&ctx, &c, got + (size_t)s * V) == 0);
            }
            EXPECT(memcmp(want, got, (size_t)N * V * sizeof *got) == 0,
                   "%s%s: %d threads, chunks of %d differ from one-shot on 1 thread", dir, fast ? " (fast)" : "", th,
                   chunks[ci]);
            context_free(&ctx);
        }
    free(want), free(got);
    model_free(&m);
}
#endif

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--which")) { /* the default table (tests/platform/avx512.sh) */
        printf("%s\n", kern_get()->name);
        return 0;
    }
    static const char *names[] = {"generic", "avx2", "avx512", "neon"};
    for (int i = 0; i < 4; i++)
        if (kern_named(names[i])) tables[n_tables++] = kern_named(names[i]);
    EXPECT(n_tables >= 1 && !strcmp(tables[0]->name, "generic"), "generic table");
    EXPECT(kern_named("bogus") == NULL, "unknown table");
    fprintf(stderr, "simd: tables:");
    for (int i = 0; i < n_tables; i++) fprintf(stderr, " %s", tables[i]->name);
    fprintf(stderr, " (default %s)\n", kern_get()->name);

    for (int ti = 0; ti < n_tables; ti++) {
        const Kern *k = tables[ti];
        check_read_lines(k);
        check_vec(k);
        check_attention(k);
        check_act_exact(k);
        /* how much a tile check draws depends on the table's tile shapes: the
         * checks after it see the same data whatever those are */
        uint64_t keep = rng_s;
        for (int t = 0; t < DT_COUNT; t++) check_tiles((DType)t, k);
        rng_s = keep;
        for (int t = 0; t < DT_COUNT; t++) {
            int blk = dtype_traits((DType)t)->block;
            int colsv[] = {blk == 1 ? 1 : blk, blk == 1 ? 7 : 3 * blk, blk == 1 ? 33 : 5 * blk, blk == 1 ? 257 : 1024 / blk * blk + 2 * blk};
            for (int ci = 0; ci < 4; ci++) check_dots((DType)t, k, colsv[ci]);
        }
    }

    if (kern_named("avx2") && kern_named("avx512")) check_pack_agree(kern_named("avx2"), kern_named("avx512"));
    for (int ti = 0; ti < n_tables; ti++) check_generic_bits(tables[ti]);

    Pool pools[4];
    for (int i = 0; i < 4; i++) CHECK(pool_init(&pools[i], i + 1) == 0);
    static const int ns[] = {1, 3, 7, 33};
    /* 300 rows: past matmul's threshold for threads (2^16 multiply-adds) */
    static const int rowsv[] = {1, 6, 37, 300};
    for (int ti = 0; ti < n_tables; ti++)
        for (int t = 0; t < DT_COUNT; t++) {
            int blk = dtype_traits((DType)t)->block, cols = blk == 1 ? 67 : 3 * blk;
            for (int ri = 0; ri < 4; ri++)
                for (int ni = 0; ni < 4; ni++)
                    check_matmul((DType)t, tables[ti], rowsv[ri], cols, ns[ni], &pools[(ri + ni) % 4]);
        }
    static const int prows[] = {1, 5, 8, 9, 37, 300};
    for (int ti = 0; ti < n_tables; ti++)
        for (int t = 0; t < DT_COUNT; t++) {
            int blk = dtype_traits((DType)t)->block;
            int colsv[] = {blk == 1 ? 1 : blk, blk == 1 ? 7 : 3 * blk, blk == 1 ? 1027 : 1024 / blk * blk + 2 * blk};
            for (int ri = 0; ri < 6; ri++)
                for (int ci = 0; ci < 3; ci++)
                    check_pack((DType)t, tables[ti], prows[ri], colsv[ci], ns[(ri + ci) % 4], &pools[(ri + ci) % 4]);
        }
    for (int ti = 0; ti < n_tables; ti++) check_fast(tables[ti], &pools[ti % 4]);
    for (int i = 0; i < 4; i++) pool_free(&pools[i]);

#ifndef TEST_SIMD_KERNELS_ONLY /* tests/platform/neon.sh builds the kernels alone for another CPU */
    check_model("tests/data/tiny/moe_sw8_f32", 0);
    check_model("tests/data/tiny/dense_sw8_bf16", 0);
    check_model("tests/data/tiny/dense_sw8_bf16", 1);
#endif

    /* a table asked for by name (the CLI's MISTRAL_SIMD), else the best one */
    EXPECT(kern_select("generic") == tables[0], "select generic");
    EXPECT(kern_select(NULL) == kern_get() && kern_select("") == kern_get() && kern_select("bogus") == kern_get(),
           "select the best by default");
    return test_done("simd");
}
