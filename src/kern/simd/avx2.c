/* avx2 — AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; only
 * called when the CPU has them). Each loop: vector body, then a scalar tail.
 * Float dots keep 8 lanes × 4 accumulators over 32 elements, then 8 lanes
 * over the rest of the multiples of 8, then the scalar tail. q8 dots: per
 * block of 32, |w|·sign(x, w) with maddubs (u8·s8 -> s16 pairs), madd to s32,
 * to fp32, fma with d_w·d_x (llama.cpp's ggml_vec_dot_q8_0_q8_0). */
#include <immintrin.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256 load_f32(const void *p, size_t i) { return _mm256_loadu_ps((const float *)p + i); }
static inline __m256 load_f16(const void *p, size_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
}
static inline __m256 load_bf16(const void *p, size_t i) {
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

#define FLOAT_DOT(name, load, elem)                                                   \
    static float name(const void *row, const void *xv, size_t n) {                    \
        const float *x = xv;                                                          \
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;                   \
        size_t i = 0;                                                                 \
        for (; i + 32 <= n; i += 32) {                                                \
            a0 = _mm256_fmadd_ps(load(row, i), _mm256_loadu_ps(x + i), a0);           \
            a1 = _mm256_fmadd_ps(load(row, i + 8), _mm256_loadu_ps(x + i + 8), a1);   \
            a2 = _mm256_fmadd_ps(load(row, i + 16), _mm256_loadu_ps(x + i + 16), a2); \
            a3 = _mm256_fmadd_ps(load(row, i + 24), _mm256_loadu_ps(x + i + 24), a3); \
        }                                                                             \
        for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(load(row, i), _mm256_loadu_ps(x + i), a0); \
        float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));  \
        for (; i < n; i++) s += elem(row, i) * x[i];                                  \
        return s;                                                                     \
    }

static inline float e_f32(const void *p, size_t i) { return ((const float *)p)[i]; }
static inline float e_f16(const void *p, size_t i) { return _cvtsh_ss(((const uint16_t *)p)[i]); }
static inline float e_bf16(const void *p, size_t i) { return bf16_to_f32(((const uint16_t *)p)[i]); }

FLOAT_DOT(dot_f32, load_f32, e_f32)
FLOAT_DOT(dot_f16, load_f16, e_f16)
FLOAT_DOT(dot_bf16, load_bf16, e_bf16)

/* Σ over 32 lanes of w[i]·x[i] as 8 int32 lanes, w and x signed int8 (w > -128
 * or x > -128 per pair; maddubs cannot saturate: 2·128·127 < 32767). */
static inline __m256i mul_s8(__m256i w, __m256i x) {
    __m256i dot16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(dot16, _mm256_set1_epi16(1));
}

static float dot_q8_0(const void *row, const void *xq, size_t n) {
    const BlockQ8_0 *w = row, *x = xq;
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK32; b++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
        __m256i s = mul_s8(_mm256_loadu_si256((const __m256i *)w[b].qs),
                           _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);
    }
    return hsum(acc);
}

static float dot_q4_0(const void *row, const void *xq, size_t n) {
    const BlockQ4_0 *w = row;
    const BlockQ8_0 *x = xq;
    const __m256i low = _mm256_set1_epi8(15), eight = _mm256_set1_epi8(8);
    __m256 acc = _mm256_setzero_ps();
    for (size_t b = 0; b < n / QK32; b++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
        __m128i q = _mm_loadu_si128((const __m128i *)w[b].qs);
        /* elements 0..15 = low nibbles, 16..31 = high nibbles */
        __m256i qw = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
        qw = _mm256_sub_epi8(_mm256_and_si256(qw, low), eight);
        __m256i s = mul_s8(qw, _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc);
    }
    return hsum(acc);
}

static float vdot(const float *a, const float *b, int n) { return dot_f32(a, b, (size_t)n); }

static void vaxpy(float *out, float s, const float *x, int n) {
    __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += s * x[i];
}

/* Starts from the generic table: types without an AVX2 kernel keep theirs. */
void kern_fill_avx2(Kern *k) {
    kern_fill_generic(k);
    k->name = "avx2";
    k->mm[DT_F32].dot = dot_f32;
    k->mm[DT_F16].dot = dot_f16;
    k->mm[DT_BF16].dot = dot_bf16;
    k->mm[DT_Q8_0].dot = dot_q8_0;
    k->mm[DT_Q4_0].dot = dot_q4_0;
    k->dot_f32 = vdot;
    k->axpy_f32 = vaxpy;
}
