/* quant — llama.cpp's quantized weight types: block layouts, scalar
 * dequantization, the reference dot, and the reference quantizers.
 *
 * A row of n elements (n a multiple of the block) is n/block blocks stored
 * back to back. The layouts are exactly ggml's (ggml/src/ggml-common.h), so a
 * GGUF tensor's bytes are read in place. `d`, `m`, `dmin` are IEEE binary16
 * bit patterns (little-endian hosts). Blocks need 2-byte alignment.
 *
 *   type  block bytes  element i of a block
 *   q8_0   32    34    d·qs[i]                                  qs int8
 *   q4_0   32    18    d·(q-8)                                  q: 4 bits
 *   q4_1   32    20    d·q + m                                  q: 4 bits
 *   q5_0   32    22    d·(q-16)                                 q: 4 bits + 1 in qh
 *   q5_1   32    24    d·q + m                                  q: 4 bits + 1 in qh
 *   q4_K  256   144    d·sc[s]·q - dmin·mn[s], 8 sub-blocks of 32, 6-bit sc/mn
 *   q5_K  256   176    same, q with a fifth bit in qh
 *   q6_K  256   210    d·sc[s]·(q-32), 16 sub-blocks of 16, int8 sc, 6-bit q
 *   q2_K  256    84    d·sc[s]·q - dmin·mn[s], 16 sub-blocks of 16, 4-bit sc/mn, 2-bit q
 *   q3_K  256   110    d·(sc[s]-32)·(q-4·!h), 16 sub-blocks of 16, 6-bit sc, q 2 bits + h
 *   iq4_nl 32    18    d·kvalues_iq4nl[q]                       q: 4 bits
 *   iq4_xs 256  136    d·(sc[s]-32)·kvalues_iq4nl[q], 8 sub-blocks of 32, 6-bit sc
 *   tq1_0 256    54    d·(t-1), t a trit: 5 a byte (base 3) in qs, 4 a byte in qh
 *   tq2_0 256    66    d·(q-1), q: 2 bits (0..2 written; 3 reads as 2)
 *
 * In the 32-blocks the low nibble of qs[j] is element j and the high nibble
 * element j+16; bit j of qh is the fifth bit of element j. The K-quant
 * packings are described at their dequantizers in quant.c.
 *
 * The dequantizers compute what ggml's dequantize_row_* compute, bit for
 * bit (the same fp32 operations in the same order). tq1_0 and tq2_0 are read,
 * not written (their traits' quantize is NULL).
 *
 * The quantizers compute what llama-quantize writes without an importance
 * matrix, bit for bit on finite input: ggml's quantize_row_*_ref, except
 * iq4_nl, where it is ggml's quantize_iq4_nl (kern/quant_k2.c says why).
 * tests/unit/test_quant.c checks them against a fixture made with ggml. Non-finite input gives unspecified blocks, never undefined behaviour.
 *
 * Signatures follow the traits table and the kernel convention (output
 * first): dequantize_row_x is DTypeTraits.to_float, quantize_row_x is
 * DTypeTraits.quantize, dot_row_x is DTypeTraits.dot. */
#ifndef KERN_QUANT_H
#define KERN_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define QK32 32  /* elements per block of q8_0, q4_0, q4_1, q5_0, q5_1 */
#define QK_K 256 /* elements per super-block of the K-quants */

typedef struct {
    uint16_t d;      /* scale (f16) */
    int8_t qs[QK32]; /* quants */
} BlockQ8_0;

typedef struct {
    uint16_t d;          /* scale (f16) */
    uint8_t qs[QK32 / 2]; /* nibbles: element j low, j+16 high */
} BlockQ4_0;

typedef struct {
    uint16_t d, m;        /* scale and minimum (f16) */
    uint8_t qs[QK32 / 2]; /* nibbles */
} BlockQ4_1;

typedef struct {
    uint16_t d;           /* scale (f16) */
    uint8_t qh[4];        /* fifth bits, bit j of the LE u32 = element j */
    uint8_t qs[QK32 / 2]; /* low nibbles */
} BlockQ5_0;

typedef struct {
    uint16_t d, m;        /* scale and minimum (f16) */
    uint8_t qh[4];        /* fifth bits */
    uint8_t qs[QK32 / 2]; /* low nibbles */
} BlockQ5_1;

typedef struct {
    uint16_t d, dmin;     /* super-block scales of the sub-block scales and mins (f16) */
    uint8_t scales[12];   /* 8 scales and 8 mins, 6 bits each */
    uint8_t qs[QK_K / 2]; /* 4-bit quants */
} BlockQ4_K;

typedef struct {
    uint16_t d, dmin;     /* as in q4_K */
    uint8_t scales[12];   /* as in q4_K */
    uint8_t qh[QK_K / 8]; /* fifth bits */
    uint8_t qs[QK_K / 2]; /* low 4 bits */
} BlockQ5_K;

typedef struct {
    uint8_t ql[QK_K / 2];     /* low 4 bits */
    uint8_t qh[QK_K / 4];     /* high 2 bits */
    int8_t scales[QK_K / 16]; /* 16 sub-block scales */
    uint16_t d;               /* super-block scale (f16) */
} BlockQ6_K;

typedef struct {
    uint8_t scales[QK_K / 16]; /* sub-block s: scale low nibble, min high nibble */
    uint8_t qs[QK_K / 4];      /* 2-bit quants */
    uint16_t d, dmin;          /* super-block scales of the scales and mins (f16) */
} BlockQ2_K;

typedef struct {
    uint8_t hmask[QK_K / 8]; /* third bits: set means q, clear means q - 4 */
    uint8_t qs[QK_K / 4];    /* low 2 bits */
    uint8_t scales[12];      /* 16 scales, 6 bits each, biased by 32 */
    uint16_t d;              /* super-block scale (f16) */
} BlockQ3_K;

typedef struct {
    uint16_t d;           /* scale (f16) */
    uint8_t qs[QK32 / 2]; /* indices into kvalues_iq4nl: element j low, j+16 high */
} BlockIQ4_NL;

typedef struct {
    uint16_t d;                /* super-block scale (f16) */
    uint16_t scales_h;         /* top 2 bits of sub-block s's scale at bits 2s, 2s+1 */
    uint8_t scales_l[QK_K / 64]; /* low 4 bits: sub-block s in nibble s%2 of byte s/2 */
    uint8_t qs[QK_K / 2];      /* indices into kvalues_iq4nl, as iq4_nl per sub-block */
} BlockIQ4_XS;

typedef struct {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5]; /* 240 trits, 5 a byte */
    uint8_t qh[QK_K / 64];                  /* the last 16 trits, 4 a byte */
    uint16_t d;                             /* scale (f16) */
} BlockTQ1_0;

typedef struct {
    uint8_t qs[QK_K / 4]; /* 2-bit quants */
    uint16_t d;           /* scale (f16) */
} BlockTQ2_0;

_Static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block is 20 bytes");
_Static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block is 22 bytes");
_Static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block is 24 bytes");
_Static_assert(sizeof(BlockQ4_K) == 144, "q4_K block is 144 bytes");
_Static_assert(sizeof(BlockQ5_K) == 176, "q5_K block is 176 bytes");
_Static_assert(sizeof(BlockQ6_K) == 210, "q6_K block is 210 bytes");
_Static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, qs) == 16 && offsetof(BlockQ2_K, d) == 80,
               "q2_K block: scales, qs, d, dmin in 84 bytes");
_Static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, qs) == 32 && offsetof(BlockQ3_K, scales) == 96 &&
                   offsetof(BlockQ3_K, d) == 108,
               "q3_K block: hmask, qs, scales, d in 110 bytes");
_Static_assert(sizeof(BlockIQ4_NL) == 18, "iq4_nl block is 18 bytes");
_Static_assert(sizeof(BlockIQ4_XS) == 136 && offsetof(BlockIQ4_XS, scales_l) == 4 && offsetof(BlockIQ4_XS, qs) == 8,
               "iq4_xs block: d, scales_h, scales_l, qs in 136 bytes");
_Static_assert(sizeof(BlockTQ1_0) == 54 && offsetof(BlockTQ1_0, qh) == 48 && offsetof(BlockTQ1_0, d) == 52,
               "tq1_0 block: qs, qh, d in 54 bytes");
_Static_assert(sizeof(BlockTQ2_0) == 66 && offsetof(BlockTQ2_0, d) == 64, "tq2_0 block: qs, d in 66 bytes");

/* iq4_nl's and iq4_xs's 16 levels (kern/quant.c says where they come from). */
extern const int8_t kvalues_iq4nl[16];

/* The integer codes of one super-block of the newer 256-element types,
 * the form the integer dots (kern/simd/generic.c) read: q[i] is element i's
 * quant, sc[s] and mn[s] the scale and min of its sub-block, so that element
 * i is
 *   q2_K    d·sc[i/16]·q[i] - dmin·mn[i/16]   q 0..3, sc and mn 0..15
 *   q3_K    d·sc[i/16]·q[i]                    q -4..3, sc -32..31
 *   iq4_xs  d·sc[i/32]·q[i]                    q a kvalues_iq4nl level, sc -32..31
 *   tq1_0, tq2_0  d·q[i]                       q -1..1 (tq2_0: -1..2)
 * The dequantizers are these codes times the scales, in ggml's order. */
void codes_q2_K(int8_t q[QK_K], int8_t sc[QK_K / 16], int8_t mn[QK_K / 16], const BlockQ2_K *b);
void codes_q3_K(int8_t q[QK_K], int8_t sc[QK_K / 16], const BlockQ3_K *b);
void codes_iq4_xs(int8_t q[QK_K], int8_t sc[QK_K / 32], const BlockIQ4_XS *b);
void codes_tq1_0(int8_t q[QK_K], const BlockTQ1_0 *b);
void codes_tq2_0(int8_t q[QK_K], const BlockTQ2_0 *b);
/* The sc of codes_q3_K and codes_iq4_xs alone (what packing needs). */
void scales_q3_K(int8_t sc[QK_K / 16], const BlockQ3_K *b);
void scales_iq4_xs(int8_t sc[QK_K / 32], const BlockIQ4_XS *b);

/* out[0..n) = the n elements of the blocks at src (n a multiple of the block). */
void dequantize_row_q8_0(float *out, const void *src, size_t n);
void dequantize_row_q4_0(float *out, const void *src, size_t n);
void dequantize_row_q4_1(float *out, const void *src, size_t n);
void dequantize_row_q5_0(float *out, const void *src, size_t n);
void dequantize_row_q5_1(float *out, const void *src, size_t n);
void dequantize_row_q4_K(float *out, const void *src, size_t n);
void dequantize_row_q5_K(float *out, const void *src, size_t n);
void dequantize_row_q6_K(float *out, const void *src, size_t n);
void dequantize_row_q2_K(float *out, const void *src, size_t n);
void dequantize_row_q3_K(float *out, const void *src, size_t n);
void dequantize_row_iq4_nl(float *out, const void *src, size_t n);
void dequantize_row_iq4_xs(float *out, const void *src, size_t n);
void dequantize_row_tq1_0(float *out, const void *src, size_t n);
void dequantize_row_tq2_0(float *out, const void *src, size_t n);

/* Σ w[i]·x[i] over the n elements of the blocks at row: each block
 * dequantized as above, the products accumulated in double. */
float dot_row_q8_0(const void *row, const float *x, size_t n);
float dot_row_q4_0(const void *row, const float *x, size_t n);
float dot_row_q4_1(const void *row, const float *x, size_t n);
float dot_row_q5_0(const void *row, const float *x, size_t n);
float dot_row_q5_1(const void *row, const float *x, size_t n);
float dot_row_q4_K(const void *row, const float *x, size_t n);
float dot_row_q5_K(const void *row, const float *x, size_t n);
float dot_row_q6_K(const void *row, const float *x, size_t n);
float dot_row_q2_K(const void *row, const float *x, size_t n);
float dot_row_q3_K(const void *row, const float *x, size_t n);
float dot_row_iq4_nl(const void *row, const float *x, size_t n);
float dot_row_iq4_xs(const void *row, const float *x, size_t n);
float dot_row_tq1_0(const void *row, const float *x, size_t n);
float dot_row_tq2_0(const void *row, const float *x, size_t n);

/* Writes the n/block blocks quantizing src[0..n) to out (n a multiple of the
 * block): ggml's quantize_row_<type>_ref. */
void quantize_row_q8_0(void *out, const float *src, size_t n);
void quantize_row_q4_0(void *out, const float *src, size_t n);
void quantize_row_q4_1(void *out, const float *src, size_t n);
void quantize_row_q5_0(void *out, const float *src, size_t n);
void quantize_row_q5_1(void *out, const float *src, size_t n);
void quantize_row_q4_K(void *out, const float *src, size_t n);
void quantize_row_q5_K(void *out, const float *src, size_t n);
void quantize_row_q6_K(void *out, const float *src, size_t n);
/* kern/quant_k2.c */
void quantize_row_q2_K(void *out, const float *src, size_t n);
void quantize_row_q3_K(void *out, const float *src, size_t n);
void quantize_row_iq4_nl(void *out, const float *src, size_t n);
void quantize_row_iq4_xs(void *out, const float *src, size_t n);

/* The same with importance weights qw[0..n) (one per element of the row,
 * >= 0; NULL: the functions above): llama-quantize's bytes with --imatrix,
 * ggml's quantize_row_<type>_impl. Minimize the error weighted by qw (and
 * by the row's spread, kern/quant_imat.c). q8_0 takes no weights. */
void quantize_row_q4_0_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q4_1_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q5_0_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q5_1_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q2_K_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q3_K_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q4_K_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q5_K_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_q6_K_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_iq4_nl_imat(void *out, const float *src, size_t n, const float *qw);
void quantize_row_iq4_xs_imat(void *out, const float *src, size_t n, const float *qw);

#endif
