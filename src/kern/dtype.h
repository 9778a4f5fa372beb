/* dtype — the weight types the kernels read, and one traits table for them.
 *
 * A row of a weight matrix is `cols` elements stored as blocks of
 * `block` elements taking `bytes` bytes each: 1 element per block for the
 * float types, 32 or 256 for llama.cpp's quantized types (layouts in
 * kern/quant.h). Kernels never switch on the type: they look up its traits
 * once. */
#ifndef KERN_DTYPE_H
#define KERN_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    DT_F32,
    DT_F16,
    DT_BF16,
    DT_Q8_0, /* llama.cpp's quantized types (kern/quant.h) */
    DT_Q4_0,
    DT_Q4_1,
    DT_Q5_0,
    DT_Q5_1,
    DT_Q4_K,
    DT_Q5_K,
    DT_Q6_K,
    DT_Q2_K,
    DT_Q3_K,
    DT_IQ4_NL,
    DT_IQ4_XS,
    DT_TQ1_0, /* read only: no quantizer (quantize NULL) */
    DT_TQ2_0,
    DT_COUNT
} DType;

typedef struct {
    const char *name; /* float types as safetensors spells them ("F32", "F16",
                         "BF16"), quantized ones as GGUF/llama.cpp ("q8_0", "q4_K",
                         "iq4_nl") */
    int gguf_type;    /* the GGML type number in GGUF files (F32 0, F16 1, Q4_0 2, ...) */
    int block;        /* elements per block */
    int bytes;        /* bytes per block */
    /* out[0..n) = src[0..n) as fp32 (n a multiple of block) */
    void (*to_float)(float *out, const void *src, size_t n);
    /* Σ row[i]·x[i], i < n, accumulated in double: the reference dot */
    float (*dot)(const void *row, const float *x, size_t n);
    /* out = src[0..n) in this type (n a multiple of block): rounding to
     * nearest for the float types, llama.cpp's reference quantizers for the
     * others. NULL for a type that cannot be written. */
    void (*quantize)(void *out, const float *src, size_t n);
    /* quantize with importance weights qw[0..n) (>= 0, one per element: an
     * importance matrix's row, model/imatrix.h), as llama-quantize does with
     * --imatrix; qw NULL: quantize's bytes. NULL for the types whose
     * quantizer takes no weights (the float types, q8_0, read-only ones). */
    void (*quantize_imat)(void *out, const float *src, size_t n, const float *qw);
} DTypeTraits;

const DTypeTraits *dtype_traits(DType t);
/* Bytes of `n` elements of type t (n a multiple of the block). */
size_t dtype_bytes(DType t, size_t n);
/* The DType of GGML type number `ggml_type`: 0, or -1 (err not set) when the
 * kernels do not read that type. */
int dtype_from_ggml(uint32_t ggml_type, DType *out);

/* Scalar conversions (IEEE binary16 and bfloat16, round to nearest even). */
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
uint16_t f32_to_bf16(float f);
/* The activations BF16 weights meet (Kern's act == DT_BF16): f32_to_bf16,
 * except that a result below bf16's smallest normal becomes a signed zero
 * (vdpbf16ps reads such inputs as zero). */
uint16_t f32_to_bf16_act(float f);

/* A weight matrix: a view of `rows` rows of `cols` elements (row-major,
 * rows contiguous) inside a mapped file. */
typedef struct {
    const void *data; /* view */
    DType dtype;
    int rows, cols;
    /* The same rows in a kernel table's packed layout (kern/matmul.h's
     * mat_pack; owned), and that table (a const Kern *), or NULL. */
    void *packed;
    const void *packed_by;
} Mat;

/* Pointer to row r of m. */
static inline const void *mat_row(const Mat *m, int r) {
    return (const char *)m->data + (size_t)r * dtype_bytes(m->dtype, (size_t)m->cols);
}

#endif
