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
 *
 * In the 32-blocks the low nibble of qs[j] is element j and the high nibble
 * element j+16; bit j of qh is the fifth bit of element j. The K-quant
 * packings are described at their dequantizers in quant.c.
 *
 * The quantizers compute what ggml's quantize_row_*_ref compute (the ones
 * llama-quantize uses without an importance matrix), bit for bit on finite
 * input (tests/unit/test_quant.c checks them against a fixture made with ggml).
 * Non-finite input gives unspecified blocks, never undefined behaviour.
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

_Static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block is 20 bytes");
_Static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block is 22 bytes");
_Static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block is 24 bytes");
_Static_assert(sizeof(BlockQ4_K) == 144, "q4_K block is 144 bytes");
_Static_assert(sizeof(BlockQ5_K) == 176, "q5_K block is 176 bytes");
_Static_assert(sizeof(BlockQ6_K) == 210, "q6_K block is 210 bytes");

/* out[0..n) = the n elements of the blocks at src (n a multiple of the block). */
void dequantize_row_q8_0(float *out, const void *src, size_t n);
void dequantize_row_q4_0(float *out, const void *src, size_t n);
void dequantize_row_q4_1(float *out, const void *src, size_t n);
void dequantize_row_q5_0(float *out, const void *src, size_t n);
void dequantize_row_q5_1(float *out, const void *src, size_t n);
void dequantize_row_q4_K(float *out, const void *src, size_t n);
void dequantize_row_q5_K(float *out, const void *src, size_t n);
void dequantize_row_q6_K(float *out, const void *src, size_t n);

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

#endif
