/* avx2 — AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; only
 * called when the CPU has them). Each loop: vector body, then a scalar tail.
 * Float dots keep 8 lanes × 4 accumulators over 32 elements, then 8 lanes
 * over the rest of the multiples of 8, then the scalar tail. q8 dots: per
 * block of 32, |w|·sign(x, w) with maddubs (u8·s8 -> s16 pairs), madd to s32,
 * to fp32, fma with d_w·d_x (llama.cpp's ggml_vec_dot_q8_0_q8_0). */
#if defined(__x86_64__) || defined(__i386__)
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
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}; /* even, odd blocks */
    for (size_t b = 0; b < n / QK32; b++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
        __m256i s = mul_s8(_mm256_loadu_si256((const __m256i *)w[b].qs),
                           _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc[b & 1] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[b & 1]);
    }
    return hsum(_mm256_add_ps(acc[0], acc[1]));
}

static float dot_q4_0(const void *row, const void *xq, size_t n) {
    const BlockQ4_0 *w = row;
    const BlockQ8_0 *x = xq;
    const __m256i low = _mm256_set1_epi8(15), eight = _mm256_set1_epi8(8);
    __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}; /* even, odd blocks */
    for (size_t b = 0; b < n / QK32; b++) {
        __m256 d = _mm256_set1_ps(_cvtsh_ss(w[b].d) * _cvtsh_ss(x[b].d));
        __m128i q = _mm_loadu_si128((const __m128i *)w[b].qs);
        /* elements 0..15 = low nibbles, 16..31 = high nibbles */
        __m256i qw = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
        qw = _mm256_sub_epi8(_mm256_and_si256(qw, low), eight);
        __m256i s = mul_s8(qw, _mm256_loadu_si256((const __m256i *)x[b].qs));
        acc[b & 1] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(s), acc[b & 1]);
    }
    return hsum(_mm256_add_ps(acc[0], acc[1]));
}

static inline __m256 cvt(__m256i v) { return _mm256_cvtepi32_ps(v); }

/* Per 32-block sb: d_x·d·sc·Σq·xq − d_x·dmin·mn·Σxq, q the unsigned nibbles. */
static float dot_q4_K(const void *row, const void *xq, size_t n) {
    const BlockQ4_K *w = row;
    const BlockQ8_0 *x = xq;
    const __m256i low = _mm256_set1_epi8(15), ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n / QK_K; i++, x += 8) {
        float d = _cvtsh_ss(w[i].d), dmin = _cvtsh_ss(w[i].dmin);
        for (int sb = 0; sb < 8; sb += 2) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(w[i].qs + 16 * sb));
            __m256i q0 = _mm256_and_si256(q, low), q1 = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            __m256i x0 = _mm256_loadu_si256((const __m256i *)x[sb].qs);
            __m256i x1 = _mm256_loadu_si256((const __m256i *)x[sb + 1].qs);
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, x0), ones16);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, x1), ones16);
            __m256i s0 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, x0), ones16);
            __m256i s1 = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, x1), ones16);
            int sc0, mn0, sc1, mn1;
            kern_scale_min_k4(sb, w[i].scales, &sc0, &mn0);
            kern_scale_min_k4(sb + 1, w[i].scales, &sc1, &mn1);
            float dx0 = _cvtsh_ss(x[sb].d), dx1 = _cvtsh_ss(x[sb + 1].d);
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(dx0 * (d * (float)sc0)), cvt(p0), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(-(dx0 * (dmin * (float)mn0))), cvt(s0), a1);
            a2 = _mm256_fmadd_ps(_mm256_set1_ps(dx1 * (d * (float)sc1)), cvt(p1), a2);
            a3 = _mm256_fmadd_ps(_mm256_set1_ps(-(dx1 * (dmin * (float)mn1))), cvt(s1), a3);
        }
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

/* Per 32-block: the 6-bit q (0..63) times xq by maddubs, minus 32·Σxq, each
 * 16-element half times its int8 scale by madd, then d·d_x. */
static float dot_q6_K(const void *row, const void *xq, size_t n) {
    const BlockQ6_K *w = row;
    const BlockQ8_0 *x = xq;
    const __m256i low = _mm256_set1_epi8(15), three = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (size_t i = 0; i < n / QK_K; i++) {
        float d = _cvtsh_ss(w[i].d);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = w[i].ql + 64 * h, *qhp = w[i].qh + 32 * h;
            const int8_t *sc = w[i].scales + 8 * h;
            __m256i qa = _mm256_loadu_si256((const __m256i *)ql);
            __m256i qb = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
            __m256i nib[4] = {_mm256_and_si256(qa, low), _mm256_and_si256(qb, low),
                              _mm256_and_si256(_mm256_srli_epi16(qa, 4), low),
                              _mm256_and_si256(_mm256_srli_epi16(qb, 4), low)};
            for (int g = 0; g < 4; g++, x++) {
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), three);
                __m256i q = _mm256_or_si256(nib[g], _mm256_slli_epi16(hi, 4));
                __m256i xv = _mm256_loadu_si256((const __m256i *)x->qs);
                __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q, xv), _mm256_maddubs_epi16(k32, xv));
                __m256i scv = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(sc[2 * g])),
                                                      _mm_set1_epi16(sc[2 * g + 1]), 1);
                acc[g] = _mm256_fmadd_ps(_mm256_set1_ps(d * _cvtsh_ss(x->d)), cvt(_mm256_madd_epi16(p, scv)), acc[g]);
            }
        }
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
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
    k->mm[DT_Q4_K].dot = dot_q4_K;
    k->mm[DT_Q6_K].dot = dot_q6_K;
    k->dot_f32 = vdot;
    k->axpy_f32 = vaxpy;
}
#endif
