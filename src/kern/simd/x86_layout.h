/* x86_layout — the avx2 and avx512 tables' own layouts, as types: the
 * activation rows their tiles read and the packed weight groups (KernPack).
 * Every size and field offset a tile relies on is asserted below, and code
 * indexes fields, never byte offsets. Plain C: x86_packed.h includes it.
 *
 * Activations (KernDot.act_quant): ggml's q8_0 values (quantize_row_q8_0 bit
 * for bit), laid out for the tiles that read them, once per matmul call; all
 * written in avx2.c, each named after the weights it was made for:
 *
 *   layout        was  unit (bytes)    written by            read by
 *   ActQ8_0       q8d  2 blocks (96)   act_q8_0_quant        tile_q8_0
 *   ActQ4_0       q8p  2 blocks (128)  act_q4_0_quant        tile_q4_0, _q5_0
 *   ActQ4_1       q8m  2 blocks (128)  act_q4_1_quant        tile_q4_1, _q5_1
 *   ActQ4_K       q8x  super (320)     act_q4_K_quant        tile_q4_K, _q5_K, _q6_K, _q2_K, _q3_K,
 *                                                            _iq4_xs, _iq4_xsx8,
 *                                                            tile_q4_Kx8, _q5_Kx8 (both tables),
 *                                                            _q4_Kx16
 *   ActGroupQ4_0  q8b  block (40)      act_group_q4_0_quant  tile_q4_0x8, _q8_0x8, _q4_0x16, _q8_0x16,
 *                                                            _iq4_nlx8
 *   ActGroupQ6_K  q8h  super (320)     act_group_q6_K_quant  tile_q6_Kx8, _q6_Kx16,
 *                                                            _q2_Kx8, _q3_Kx8
 *
 * A block is 32 values, a super-block 256 (8 blocks); the pairs hold blocks
 * b, b+1 (zeros past the last block). The Group layouts serve the packed
 * groups' tiles. d is a block's fp16 scale as fp32, Σq the exact sum of its
 * 32 quants.
 *
 * Weight groups (KernPack.pack; lanes = rows): ggml's blocks of `rows` rows
 * interleaved, one unit per block (per pair of blocks in the x16 q4_0 and
 * q8_0 groups); the rows missing from a last group are zeros:
 *
 *   group          unit (bytes)      rows  packed by      read by
 *   BlockQ4_0x8    block (144)          8  q4_0x8_pack    tile_q4_0x8 (avx2)
 *                                          iq4_nlx8_pack  tile_iq4_nlx8 (avx2, avx512)
 *   BlockQ8_0x8    block (272)          8  q8_0x8_pack    tile_q8_0x8 (avx2)
 *   BlockQ4_Kx8    super (1184)         8  q4_Kx8_pack    tile_q4_Kx8 (avx2)
 *   BlockQ5_Kx8    super (1440)         8  q5_Kx8_pack    tile_q5_Kx8 (avx2, avx512)
 *   BlockQ6_Kx8    super (1680)         8  q6_Kx8_pack    tile_q6_Kx8 (avx2)
 *   BlockQ2_Kx8    super (672)          8  q2_Kx8_pack    tile_q2_Kx8 (avx2, avx512)
 *   BlockQ3_Kx8    super (912)          8  q3_Kx8_pack    tile_q3_Kx8 (avx2, avx512)
 *   BlockIQ4_XSx8  super (1104)         8  iq4_xsx8_pack  tile_iq4_xsx8 (avx2, avx512)
 *   PairQ4_0x16    2 blocks (576)      16  q4_0x16_pack   tile_q4_0x16 (avx512)
 *   PairQ8_0x16    2 blocks (1088)     16  q8_0x16_pack   tile_q8_0x16 (avx512)
 *   BlockQ4_Kx16   super (2368)        16  q4_Kx16_pack   tile_q4_Kx16 (avx512)
 *   BlockQ6_Kx16   super (3392)        16  q6_Kx16_pack   tile_q6_Kx16 (avx512)
 *   BlockQ2_Kx16   super (1344)        16  q2_Kx16_pack   tile_q2_Kx16 (avx512)
 *   BlockQ3_Kx16   super (1856)        16  q3_Kx16_pack   tile_q3_Kx16 (avx512)
 *   PairBF16x16    2 columns (64)      16  bf16p16_pack   tile_bf16p16, _bf16p16x, _bf16p16_dp
 * (the x8 groups packed in avx2.c, q2_Kx8, q3_Kx8 and iq4_xsx8 in avx2_k2.c, the x16
 * ones in avx512.c, q2_Kx16 and q3_Kx16 in avx512_k2.c).
 * The float groups f32x16, f16x16, bf16x16 (avx2) and f32x16, f16x16 (avx512)
 * are plain column-major arrays, T[cols][rows] (x86_packed.h's FLOAT_PACK).
 * The 16-row units are whole cache lines, so every 512-bit load of a group
 * (mat_pack's buffers are 64-byte aligned) is aligned. */
#ifndef KERN_SIMD_X86_LAYOUT_H
#define KERN_SIMD_X86_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define LAYOUT_SIZE(T, n) _Static_assert(sizeof(T) == (n), #T " is " #n " bytes")
#define LAYOUT_AT(T, f, off) _Static_assert(offsetof(T, f) == (off), #T "." #f " at byte " #off)

/* ---- activations ---------------------------------------------------------- */

/* Blocks b, b+1 whole; d in the lanes of hadd(s_b, s_b+1) (tile_q8_0). */
typedef struct {
    int8_t qs[2][32]; /* block b + k's quants at [k] */
    float d[8];       /* d_b d_b d_b+1 d_b+1 d_b d_b d_b+1 d_b+1 */
} ActQ8_0;
LAYOUT_SIZE(ActQ8_0, 96);
LAYOUT_AT(ActQ8_0, d, 64);

/* Blocks b, b+1 in halves, as a pair of q4_0/q5_0 blocks holds its nibbles;
 * c is the offset term of unsigned weights u = q + 8: Σq·x = Σu·x − 8·Σx,
 * and 8·Σx spread over the 4 lanes of its block is c (q5_0's u = q + 16
 * subtracts 2c). */
typedef struct {
    int8_t lo[32], hi[32]; /* qs_b[0..16) qs_b+1[0..16); the [16..32)s */
    int32_t c[8];          /* 2·Σq_b ×4, 2·Σq_b+1 ×4 */
    float d[8];            /* d_b ×4, d_b+1 ×4 */
} ActQ4_0;
LAYOUT_SIZE(ActQ4_0, 128);
LAYOUT_AT(ActQ4_0, hi, 32);
LAYOUT_AT(ActQ4_0, c, 64);
LAYOUT_AT(ActQ4_0, d, 96);

/* ActQ4_0 with the block sums as floats: the min term m·d_x·Σx of a
 * q4_1/q5_1 block spread over its 4 lanes. */
typedef struct {
    int8_t lo[32], hi[32]; /* as ActQ4_0 */
    float d[8];            /* as ActQ4_0 */
    float s[8];            /* (d_b·Σq_b)/4 ×4, (d_b+1·Σq_b+1)/4 ×4 */
} ActQ4_1;
LAYOUT_SIZE(ActQ4_1, 128);
LAYOUT_AT(ActQ4_1, d, 64);
LAYOUT_AT(ActQ4_1, s, 96);

/* One super-block (256 values: blocks s = 0..7) for the K-quants; s for
 * their min terms (q6_K's, q2_K's and q3_K's tiles read qs and d only). */
typedef struct {
    int8_t qs[8][32]; /* block s's quants */
    float d[8];       /* block s's d */
    float s[8];       /* d[s]·Σq of block s */
} ActQ4_K;
LAYOUT_SIZE(ActQ4_K, 320);
LAYOUT_AT(ActQ4_K, d, 256);
LAYOUT_AT(ActQ4_K, s, 288);

/* One block for the q4_0 and q8_0 groups (q8_0's tiles do not read c). */
typedef struct {
    int8_t qs[32];
    float d;
    int32_t c; /* 8·Σq */
} ActGroupQ4_0;
LAYOUT_SIZE(ActGroupQ4_0, 40);
LAYOUT_AT(ActGroupQ4_0, d, 32);
LAYOUT_AT(ActGroupQ4_0, c, 36);

/* One super-block for the q6_K groups: the sum of each 16-value half, to
 * which one q6_K scale applies. */
typedef struct {
    int8_t qs[8][32]; /* block s's quants */
    float d[8];       /* block s's d */
    int16_t h[8][2];  /* Σ qs[s][0..16), Σ qs[s][16..32) */
} ActGroupQ6_K;
LAYOUT_SIZE(ActGroupQ6_K, 320);
LAYOUT_AT(ActGroupQ6_K, d, 256);
LAYOUT_AT(ActGroupQ6_K, h, 288);

/* ---- weight groups, 8 rows (avx2; q5_Kx8 also avx512) ---------------------
 * A chunk is 32 bytes, 4 of each row's: row r's at 4r, so that one broadcast
 * of 4 activations meets the 8 rows in one maddubs/dpbusd. */

/* q4_0 block b of 8 rows. */
typedef struct {
    uint16_t d[8];     /* row r's fp16 scale */
    uint8_t qs[4][32]; /* chunk c: row r's qs[4c..4c+4) (low nibbles: values
                          4c..4c+3, high: 16+4c..16+4c+3) */
} BlockQ4_0x8;
LAYOUT_SIZE(BlockQ4_0x8, 144);
LAYOUT_AT(BlockQ4_0x8, qs, 16);

/* q8_0 block b of 8 rows. */
typedef struct {
    uint16_t d[8];    /* row r's fp16 scale */
    int8_t qs[8][32]; /* chunk c: row r's qs[4c..4c+4) */
} BlockQ8_0x8;
LAYOUT_SIZE(BlockQ8_0x8, 272);
LAYOUT_AT(BlockQ8_0x8, qs, 16);

/* The scales of a q4_K/q5_K super-block of 8 rows: the head of both groups. */
typedef struct {
    uint16_t d[8], dmin[8];     /* row r's fp16 super-block scales */
    uint8_t sc[8][8], mn[8][8]; /* sub-block s's 6-bit scale and min of row r at [s][r] */
} HeadKx8;
LAYOUT_SIZE(HeadKx8, 160);
LAYOUT_AT(HeadKx8, dmin, 16);
LAYOUT_AT(HeadKx8, sc, 32);
LAYOUT_AT(HeadKx8, mn, 96);

/* q4_K super-block b of 8 rows. */
typedef struct {
    HeadKx8 h;
    uint8_t qs[4][8][32]; /* per 64 values j, chunk c: row r's qs[32j + 4c..+4)
                             (low nibbles: sub-block 2j, values 4c..4c+3;
                             high: sub-block 2j+1) */
} BlockQ4_Kx8;
LAYOUT_SIZE(BlockQ4_Kx8, 1184);
LAYOUT_AT(BlockQ4_Kx8, qs, 160);

/* q5_K super-block b of 8 rows: q4_Kx8 with the fifth bits. */
typedef struct {
    HeadKx8 h;
    uint8_t qh[8][32];    /* chunk c: row r's qh[4c..4c+4) */
    uint8_t qs[4][8][32]; /* as q4_Kx8's */
} BlockQ5_Kx8;
LAYOUT_SIZE(BlockQ5_Kx8, 1440);
LAYOUT_AT(BlockQ5_Kx8, qh, 160);
LAYOUT_AT(BlockQ5_Kx8, qs, 416);

/* q6_K super-block b of 8 rows (8 × 210 bytes, no overhead). Chunk (n, c)
 * holds, for half n (0, 1) and values 4c..4c+3 of the 32-blocks 4n + k, the
 * low bits A = ql[0], B = ql[1] and the high bits H (see q6_Kx8_pack). */
typedef struct {
    uint16_t d[8];    /* row r's fp16 scale */
    int8_t sc[8][16]; /* 32-block s: row r's two 16-value scales at [s][2r], [s][2r + 1] */
    struct {
        uint8_t ql[2][32]; /* [k]: row r's ql[64n + 32k + 4c..+4) */
        uint8_t qh[32];    /* row r's qh[32n + 4c..+4) */
    } q[2][8];             /* [n][c] */
} BlockQ6_Kx8;
LAYOUT_SIZE(BlockQ6_Kx8, 1680);
LAYOUT_AT(BlockQ6_Kx8, sc, 16);
LAYOUT_AT(BlockQ6_Kx8, q, 144);
LAYOUT_AT(BlockQ6_Kx8, q[0][1], 240);
LAYOUT_AT(BlockQ6_Kx8, q[0][0].qh, 208);

/* ---- weight groups, 16 rows (avx512) ---------------------------------------
 * The 8-row groups twice as wide: a chunk is 64 bytes, row r's 4 at 4r. */

/* q4_0 blocks b = 2u, 2u + 1 of 16 rows (whole cache lines; a last odd
 * block leaves its partner's bytes zero). */
typedef struct {
    uint8_t qs[2][4][64]; /* block 2u + k, chunk c: row r's qs[4c..4c+4) */
    uint16_t d[2][16];    /* block 2u + k: row r's fp16 scale */
} PairQ4_0x16;
LAYOUT_SIZE(PairQ4_0x16, 576);
LAYOUT_AT(PairQ4_0x16, d, 512);

/* q8_0 blocks b = 2u, 2u + 1 of 16 rows; the quants as unsigned bytes
 * q + 128, vpdpbusd's operand. */
typedef struct {
    uint8_t qs[2][8][64]; /* block 2u + k, chunk c: row r's qs[4c..4c+4) + 128 */
    uint16_t d[2][16];    /* block 2u + k: row r's fp16 scale */
} PairQ8_0x16;
LAYOUT_SIZE(PairQ8_0x16, 1088);
LAYOUT_AT(PairQ8_0x16, d, 1024);

/* q2_K super-block b of 8 rows (8 × 84 bytes, no overhead). Chunk (j, c)
 * holds values 4c..4c+3 of the 32-blocks 4j + k (bits 2k of each byte). */
typedef struct {
    uint16_t d[8], dmin[8]; /* row r's fp16 super-block scales */
    uint8_t sc[16][8];      /* half s (16 values), row r: its scales[s] (scale | min << 4) */
    uint8_t qs[2][8][32];   /* per 128 values j, chunk c: row r's qs[32j + 4c..+4) at 4r */
} BlockQ2_Kx8;
LAYOUT_SIZE(BlockQ2_Kx8, 672);
LAYOUT_AT(BlockQ2_Kx8, sc, 32);
LAYOUT_AT(BlockQ2_Kx8, qs, 160);

/* q3_K super-block b of 8 rows: q2_Kx8's quants, the third bits and the
 * scales decoded (8 × 110 bytes + 32). */
typedef struct {
    uint16_t d[8];        /* row r's fp16 super-block scale */
    int8_t sc[16][8];     /* half s, row r: its 6-bit scale − 32 */
    uint8_t hm[8][32];    /* chunk c: row r's hmask[4c..4c+4) at 4r */
    uint8_t qs[2][8][32]; /* as q2_Kx8's */
} BlockQ3_Kx8;
LAYOUT_SIZE(BlockQ3_Kx8, 912);
LAYOUT_AT(BlockQ3_Kx8, sc, 16);
LAYOUT_AT(BlockQ3_Kx8, hm, 144);
LAYOUT_AT(BlockQ3_Kx8, qs, 400);

/* iq4_xs super-block b of 8 rows (8 × 136 bytes + 16): the index bytes in
 * chunks (low nibbles: values 4c..4c+3 of the 32-block, high: 16 + 4c..),
 * the scales decoded. */
typedef struct {
    uint16_t d[8];        /* row r's fp16 super-block scale */
    int8_t sc[8][8];      /* 32-block s, row r: its 6-bit scale − 32 */
    uint8_t qs[8][4][32]; /* 32-block s, chunk c: row r's qs[16s + 4c..+4) at 4r */
} BlockIQ4_XSx8;
LAYOUT_SIZE(BlockIQ4_XSx8, 1104);
LAYOUT_AT(BlockIQ4_XSx8, sc, 16);
LAYOUT_AT(BlockIQ4_XSx8, qs, 80);

/* q2_K super-block b of 16 rows (21 cache lines): as BlockQ2_Kx8, the scale
 * bytes of each block as (half 0, half 1) pairs per row. */
typedef struct {
    uint16_t d[16], dmin[16]; /* row r's fp16 super-block scales */
    uint8_t sc[8][16][2];     /* block b, row r: scales[2b], scales[2b + 1] */
    uint8_t qs[2][8][64];     /* chunk c: row r's qs[32j + 4c..+4) at 4r */
} BlockQ2_Kx16;
LAYOUT_SIZE(BlockQ2_Kx16, 1344);
LAYOUT_AT(BlockQ2_Kx16, sc, 64);
LAYOUT_AT(BlockQ2_Kx16, qs, 320);

/* q3_K super-block b of 16 rows (29 cache lines, d padded to one): the
 * scales decoded as q3_Kx8's, in (half 0, half 1) pairs per row. */
typedef struct {
    uint16_t d[16];       /* row r's fp16 super-block scale */
    uint8_t pad[32];
    int8_t sc[8][16][2];  /* block b, row r: its two 6-bit scales − 32 */
    uint8_t hm[8][64];    /* chunk c: row r's hmask[4c..4c+4) at 4r */
    uint8_t qs[2][8][64]; /* as q2_Kx16's */
} BlockQ3_Kx16;
LAYOUT_SIZE(BlockQ3_Kx16, 1856);
LAYOUT_AT(BlockQ3_Kx16, sc, 64);
LAYOUT_AT(BlockQ3_Kx16, hm, 320);
LAYOUT_AT(BlockQ3_Kx16, qs, 832);

/* q4_K super-block b of 16 rows (37 cache lines). */
typedef struct {
    uint16_t d[16], dmin[16];     /* row r's fp16 super-block scales */
    uint8_t sc[8][16], mn[8][16]; /* sub-block s's scale and min of row r at [s][r] */
    uint8_t qs[4][8][64];         /* as BlockQ4_Kx8's qs, 16 rows */
} BlockQ4_Kx16;
LAYOUT_SIZE(BlockQ4_Kx16, 2368);
LAYOUT_AT(BlockQ4_Kx16, sc, 64);
LAYOUT_AT(BlockQ4_Kx16, mn, 192);
LAYOUT_AT(BlockQ4_Kx16, qs, 320);

/* q6_K super-block b of 16 rows (53 cache lines, the last 32 bytes unused):
 * BlockQ6_Kx8's chunks first, then the scales. */
typedef struct {
    struct {
        uint8_t ql[2][64]; /* [k]: row r's ql[64n + 32k + 4c..+4) */
        uint8_t qh[64];    /* row r's qh[32n + 4c..+4) */
    } q[2][8];             /* [n][c] */
    uint16_t d[16];        /* row r's fp16 scale */
    int8_t sc[8][32];      /* 32-block s: row r's two 16-value scales at [s][2r], [s][2r + 1] */
    uint8_t pad[32];
} BlockQ6_Kx16;
LAYOUT_SIZE(BlockQ6_Kx16, 3392);
LAYOUT_AT(BlockQ6_Kx16, q[0][1], 192);
LAYOUT_AT(BlockQ6_Kx16, q[0][0].qh, 128);
LAYOUT_AT(BlockQ6_Kx16, d, 3072);
LAYOUT_AT(BlockQ6_Kx16, sc, 3104);

/* bf16 columns 2p, 2p + 1 of 16 rows: 32-bit lane r holds row r's two
 * values as the row stores them (a last odd column pairs with zero). */
typedef struct {
    uint16_t v[16][2];
} PairBF16x16;
LAYOUT_SIZE(PairBF16x16, 64);

_Static_assert(sizeof(PairQ4_0x16) % 64 == 0 && sizeof(PairQ8_0x16) % 64 == 0 && sizeof(BlockQ4_Kx16) % 64 == 0 &&
                   sizeof(BlockQ6_Kx16) % 64 == 0,
               "the 16-row units are whole cache lines");

#endif
