/* matmul — activations times a weight matrix of any dtype. */
#ifndef KERN_MATMUL_H
#define KERN_MATMUL_H

#include "base/pool.h"
#include "kern/dtype.h"
#include "kern/kern.h"

/* The reference, the tests' oracle: out[t][r] = Σ_c x[t][c] · w[r][c] for
 * t < n, r < w->rows, c < w->cols, each dot the dtype's reference dot
 * (double accumulation).
 * x: (n, w->cols) fp32; out: (n, w->rows). Each weight row is read once for
 * all n tokens. Every output element is computed the same way whatever n is,
 * so a token's result does not depend on what else is in the batch. */
void matmul_ref(float *out, const float *x, const Mat *w, int n);

/* What the fast path runs with: a kernel table (kern_get() or a chosen
 * one), the threads the rows are split across (NULL: the caller alone) and
 * scratch for the activations quantized for the table: at least
 * matmul_scratch_bytes(w->dtype, w->cols, n, kern) bytes (NULL where that
 * is 0). The kernels allocate nothing. */
typedef struct {
    const Kern *kern;
    Pool *pool;
    void *scratch;
    /* 1: weight types with a `fast` dot in the table (BF16: activations
     * rounded to bf16, kern.h) use it; 0: the exact one */
    int fast;
    /* When set, matmul() first calls observe(observe_ud, w, x, n) with the
     * weights and the n input rows it is given (the importance-matrix
     * collector, model/imatrix.h); NULL (the default): nothing is called. */
    void (*observe)(void *ud, const Mat *w, const float *x, int n);
    void *observe_ud;
} MatmulEnv;

/* The fast path: the same product with env's table, threads and scratch.
 * Reads w's packed rows when w is packed for env->kern (mat_pack), else
 * w->data.
 *
 * Batch invariance — out[t][r] is computed by exactly the same operations in
 * the same order whatever n is, whichever tile or thread it falls in:
 *   - activation row t is quantized on its own (quantize_row_q8_0 of that
 *     row alone), never with statistics of other rows;
 *   - out[t][r] comes from kern->mm[dtype].tile (or its packed layout's),
 *     whose elements are each a pure function of (row r, activation row t,
 *     cols) whatever the tile's shape (see kern/kern.h);
 *   - the blocking (tiles of mr rows × nt tokens; panels of rows that stay
 *     in L2 while every token meets them, so each weight row is read from
 *     memory once per call; one row at a time for decode, which streams
 *     best) and the split of rows across threads only choose *when* an
 *     element is computed, never how.
 * So chunked prefill equals one-shot prefill bit for bit, and 1 thread equals
 * N threads bit for bit. Against matmul_ref() it differs by fp32
 * accumulation (float weights) or by the rounding of x to 8 bits (q8 path). */
void matmul(const MatmulEnv *env, float *out, const float *x, const Mat *w, int n);
size_t matmul_scratch_bytes(DType wtype, int cols, int n, const Kern *k);
/* The most matmul_scratch_bytes asks for any weight type. */
size_t matmul_scratch_max(int cols, int n, const Kern *k);

/* Makes w->packed, w's rows in k's packed layout for w's dtype (KernPack in
 * kern/kern.h; packed on the pool's threads), which matmul() with table k
 * then reads instead of w->data. Returns 1 when w is packed for k, 0 when k
 * has no layout for the dtype, w is packed for another table, or memory for
 * the copy is short (matmul reads w->data then). Results with and without
 * packing differ only in the order of fp32 additions; each is still batch-
 * and thread-invariant. mat_unpack frees the copy. */
int mat_pack(Mat *w, const Kern *k, Pool *pool);
void mat_unpack(Mat *w);
/* The packing itself, for a caller that owns the memory (an expert cache's
 * slot): bytes of w in k's packed layout (a multiple of 64; 0 when k has
 * none for w's dtype), and dst (that many bytes, 64-aligned) packed from
 * rows, w's rows as the file holds them (not necessarily at w->data). */
size_t mat_packed_bytes(const Mat *w, const Kern *k);
void mat_pack_to(void *dst, const Mat *w, const void *rows, const Kern *k, Pool *pool);

/* out[c] = row r of w as fp32 (an embedding lookup). */
void mat_get_row(float *out, const Mat *w, int r);

#endif
