/* kern — the kernel table: one set of inner loops per instruction set,
 * chosen at run time from the CPU's features (simd/dispatch.c).
 *
 * simd/generic.c is portable C, always built: the fallback, and (with the
 * reference dots of kern/quant.c and kern/dtype.c) the oracle of the tests.
 * simd/avx2.c is compiled with -mavx2 -mfma -mf16c and only called on CPUs that
 * have them. Only files in kern/simd/ include <immintrin.h>.
 *
 * Weight rows meet activations in one of two forms, per weight dtype:
 *   act == DT_F32   the dot reads the fp32 activation row as is
 *                   (F32/F16/BF16 weights: fp32 products, fp32 accumulation);
 *   act == DT_BF16  (the `fast` dots of BF16 weights, an opt-in:
 *                   MatmulEnv.fast) the activation row is first rounded to bf16
 *                   (f32_to_bf16_act) and BF16 weights meet it in column
 *                   pairs, as vdpbf16ps computes: pair p adds w[2p+1]·x[2p+1],
 *                   then w[2p]·x[2p] (each product exact in fp32, one
 *                   rounding per add) to chain p mod 2 of its element; the two
 *                   chains are added last. Every table computes exactly this,
 *                   bit for bit (generic.c's dot_bf16 is the oracle). Like
 *                   q8_0 for the quantized types, and like the reference's
 *                   bf16 compute, it rounds x: rel. error <= 2^-8 per value,
 *                   enough to take the tiny bf16 checkpoints' logits past
 *                   the golden files' 0.02 (hence not the default); it
 *                   halves the instructions (vdpbf16ps: two products a
 *                   lane). Measured error and speed: bench/RESULTS.md,
 *                   "Accuracy of the opt-in roundings" and what it cites;
 *   act == DT_Q8_0  the activation row is first quantized to q8_0 blocks of
 *                   32 (quantize_row_q8_0, ggml's reference, the same for
 *                   every table) and the dot multiplies int8 by int8 per
 *                   block, then scales by d_w·d_x (as llama.cpp's vec_dot);
 *                   q4_1/q5_1's min m adds (m·d_x)·Σxq per block.
 *                   The K-quants use the same 32-blocks: a q4_K/q5_K sub-block
 *                   of 32 is d_x·(d·sc·Σq·xq − dmin·mn·Σxq); a q6_K 32-block
 *                   spans two 16-element sub-blocks, d·d_x·Σ_s sc_s·Σ(q−32)·xq;
 *                   q2_K and q3_K likewise (q2_K's mins: − dmin·d_x·Σ_s mn_s·Σxq),
 *                   iq4_xs one scale per 32-block folded into the integer sum,
 *                   iq4_nl as q4_0 with its levels, tq1_0/tq2_0 d·d_x·Σt·xq.
 *                   (llama.cpp uses q8_K blocks of 256 with an fp32 scale;
 *                   32-blocks round x at least as finely.)
 * A dot is a pure function of (row, activation row, n): it never depends on
 * which tile or thread calls it, which is what makes matmul batch-invariant. */
#ifndef KERN_KERN_H
#define KERN_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "kern/dtype.h"

/* Attention's key block (online softmax step) and query heads per pass. */
#define ATTN_BLOCK 64
#define ATTN_GROUP 4

/* The micro-kernel: a tile of nr weight rows × nt activation rows,
 *   out[t·ostride + r] = Σ_i w_r[i]·x_t[i],  i < n, r < nr, t < nt,
 * w_r = w + r·wstride bytes, x_t = x + t·xstride bytes (fp32, or q8_0 blocks:
 * see act). nr <= mr and nt <= nt of its KernDot. Every output element is
 * computed by the same operations in the same order whatever nr and nt are
 * (one accumulator per element, fixed lane layout and final reduction), so a
 * tile only shares loads between elements, never arithmetic. */
typedef void (*TileFn)(float *out, size_t ostride, const void *w, size_t wstride, int nr, const void *x,
                       size_t xstride, int nt, size_t n);

/* How activation rows reach a tile. act says how x is rounded: DT_F32 (read
 * as is), DT_BF16 (to bf16, f32_to_bf16_act) or DT_Q8_0 (ggml's
 * quantize_row_q8_0, bit for bit: blocks of 32 int8 with an fp16 scale).
 * act_bytes/act_quant give the layout the tile reads
 * those values in, which is the kernel table's choice (the generic table
 * uses q8_0 blocks as they are; avx2.c splits them into its own layouts).
 * act_quant == NULL: the fp32 row itself. */
typedef struct {
    DType act;
    size_t (*act_bytes)(size_t n);                       /* bytes of one row of n values */
    void (*act_quant)(void *dst, const float *x, size_t n); /* q8_0: n a multiple of 32 */
    int mr, nt; /* the largest tile: weight rows × activation rows */
    TileFn tile;
} KernDot;

/* One element: Σ row[i]·x[i] through kd's tile (the tests' and tools' dot). */
static inline float kern_dot(const KernDot *kd, const void *row, const void *x, size_t n) {
    float out;
    kd->tile(&out, 1, row, 0, 1, x, 0, 1, n);
    return out;
}

/* A weight layout of the table's own, made once per matrix (mat_pack in
 * kern/matmul.h): groups of `rows` weight rows interleaved so that vector
 * lanes hold rows, which lets one activation broadcast and one scale
 * conversion serve every row of the group (ggml's repacked q4_0x8 idea).
 *   group_bytes(cols)           bytes of one group (rows × cols weights)
 *   pack(dst, src, ws, nr, cols) group dst from nr (1..rows) rows of src,
 *                                ws bytes apart; the missing rows are zeros
 * dot.tile reads groups: w = a group, ws = group_bytes, nr = how many of its
 * first rows to write (dot.mr == rows: one group per tile); it honours the
 * same contract as every tile (each element computed the same way whatever
 * nr and nt are). pack == NULL: the table has no packed layout for that
 * dtype. */
typedef struct {
    int rows;
    size_t (*group_bytes)(size_t cols);
    void (*pack)(void *dst, const void *src, size_t ws, int nr, size_t cols);
    KernDot dot;
} KernPack;

typedef struct {
    const char *name; /* "generic", "avx2", "avx512", "neon" */
    KernDot mm[DT_COUNT];
    /* per weight type, the opt-in dot of rounder activations (act DT_BF16 for
     * BF16 weights; tile NULL: none, mm is used) */
    KernDot fast[DT_COUNT];
    KernDot pack_fast[DT_COUNT]; /* the same for pack[t]'s groups */
    KernPack pack[DT_COUNT];
    /* Σ a[i]·b[i] in fp32 (attention scores) */
    float (*dot_f32)(const float *a, const float *b, int n);
    /* out[i] += s · x[i] (attention's weighted values) */
    void (*axpy_f32)(float *out, float s, const float *x, int n);
    /* the same over an fp16 KV cache: Σ a[i]·h[i] and out[i] += s · h[i]
     * (NULL in a table: kern/ops.c's portable loops) */
    float (*dot_f16)(const float *a, const uint16_t *h, int n);
    void (*axpy_f16)(float *out, float s, const uint16_t *h, int n);
    /* Attention of the g query heads that share one kv head (GQA) over n
     * keys, streamed: one pass over the keys in blocks of ATTN_BLOCK, each
     * key and value row loaded once for up to ATTN_GROUP heads, an online
     * softmax (running max and sum per head, the partial output rescaled
     * when the max grows). [0] reads fp32 rows, [1] fp16 rows; k[j] + off,
     * v[j] + off (elements) start key and value j's head:
     *   out_h[d] = Σ_j p_hj·v_j[d],  p_h = softmax_j(scale · q_h·k_j)
     * q_h = q + h·hd, out_h = out + h·hd, h < g, d < hd, n >= 1. The blocks
     * start at key 0, and each head's arithmetic depends only on its own q
     * and on the rows: a head's output is the same bits whatever g, and
     * whichever batch or thread computes it. */
    void (*attn[2])(float *out, const float *q, int g, const void *const *k, const void *const *v, int n, int off,
                    int hd, float scale);
    /* XOR of the 64-bit words of p[0..bytes) (bytes a multiple of 256), read
     * with the widest loads there are: the bandwidth probe's loop (membw.h) */
    uint64_t (*read_lines)(const void *p, size_t bytes);
} Kern;

/* The best table for this CPU, chosen once (thread-safe). */
const Kern *kern_get(void);
/* The table named `name` ("generic", "avx2", "avx512", "neon") if this build
 * and this CPU have it, else NULL. */
const Kern *kern_named(const char *name);
/* The table a caller asks for by name (the CLI's MISTRAL_SIMD): kern_named(name)
 * when this build and CPU have it, else (name NULL, empty or unknown) kern_get(). */
const Kern *kern_select(const char *name);

#endif
