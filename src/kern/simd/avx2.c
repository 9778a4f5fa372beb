/* avx2 — AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; only
 * called when the CPU has them). Each loop: vector body, then a scalar tail.
 * Matmul tiles (see simd.h) keep one 8-lane accumulator per output element
 * and share the loads of weight rows and activation rows. q8 dots: per
 * block of 32, |w|·sign(x, w) with maddubs (u8·s8 -> s16 pairs), madd to s32,
 * to fp32, fma with d_w·d_x (llama.cpp's ggml_vec_dot_q8_0_q8_0); the 4- and
 * 5-bit types take their unsigned q (the fifth bit or-ed in as 16) straight
 * into maddubs, and the offset (q4_0/q5_0: −8/−16·Σx, exact in int32) or the
 * min (q4_1/q5_1/K-quants: m·d_x·Σxq in fp32) comes from block sums of x that
 * the activation layout carries. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"
#include "kern/simd/tile.h"

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

/* ---- tiles ----------------------------------------------------------------
 * Each tile kernel is written once for a general MR × NT and instantiated for
 * every nr <= MR, nt <= NT (TILE_FNS); the loops over rows and tokens are
 * unrolled, and each output element has its own accumulator whose operations
 * do not depend on the other elements: so every instance computes an element
 * exactly as the 1 × 1 instance does. */
#define FORCE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 4")
#define UNROLL8 _Pragma("GCC unroll 8")

#define X86_VNNI 0
#include "kern/simd/x86_packed.h"

/* TILE_FNS (kern/simd/tile.h): K(MR, NT, ...) for every nr, nt <= 4. */

/* Float weights: 8 lanes per element; per 16 columns acc += (w0·x0 + w1·x1)
 * (the pair off the accumulator's chain of dependent adds), a last 8 by fma,
 * then the lanes' sum (hsum), then the scalar tail. */
#define FLOAT_TILE(K, load, elem)                                                                      \
    FORCE void K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws,          \
                 const char *x, size_t xs, size_t n) {                                                 \
        __m256 acc[4][4];                                                                              \
        UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps(); \
        size_t i = 0;                                                                                  \
        for (; i + 16 <= n; i += 16) {                                                                 \
            __m256 x0[4], x1[4];                                                                       \
            UNROLL for (int t = 0; t < NT; t++) {                                                      \
                x0[t] = _mm256_loadu_ps((const float *)(x + t * xs) + i);                              \
                x1[t] = _mm256_loadu_ps((const float *)(x + t * xs) + i + 8);                          \
            }                                                                                          \
            UNROLL for (int r = 0; r < MR; r++) {                                                      \
                __m256 w0 = load(w + r * ws, i), w1 = load(w + r * ws, i + 8);                         \
                UNROLL for (int t = 0; t < NT; t++)                                                    \
                    acc[r][t] = _mm256_add_ps(acc[r][t], _mm256_fmadd_ps(w1, x1[t], _mm256_mul_ps(w0, x0[t]))); \
            }                                                                                          \
        }                                                                                              \
        if (i + 8 <= n) {                                                                              \
            UNROLL for (int r = 0; r < MR; r++) {                                                      \
                __m256 w0 = load(w + r * ws, i);                                                       \
                UNROLL for (int t = 0; t < NT; t++)                                                    \
                    acc[r][t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps((const float *)(x + t * xs) + i), acc[r][t]); \
            }                                                                                          \
            i += 8;                                                                                    \
        }                                                                                              \
        UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) {                      \
            const float *xt = (const float *)(x + t * xs);                                             \
            float s = hsum(acc[r][t]);                                                                 \
            for (size_t k = i; k < n; k++) s += elem(w + r * ws, k) * xt[k];                           \
            out[(size_t)t * os + (size_t)r] = s;                                                       \
        }                                                                                              \
    }

static inline float e_f32(const void *p, size_t i) { return ((const float *)p)[i]; }
static inline float e_f16(const void *p, size_t i) { return _cvtsh_ss(((const uint16_t *)p)[i]); }
static inline float e_bf16(const void *p, size_t i) { return bf16_to_f32(((const uint16_t *)p)[i]); }

FLOAT_TILE(k_f32, load_f32, e_f32)
FLOAT_TILE(k_f16, load_f16, e_f16)
FLOAT_TILE(k_bf16, load_bf16, e_bf16)
TILE_FNS(tile_f32, k_f32)
TILE_FNS(tile_f16, k_f16)
TILE_FNS(tile_bf16, k_bf16)

/* ---- activation layouts ---------------------------------------------------
 * Activation rows are ggml's q8_0 values (quantize_row_q8_0 bit for bit:
 * q8_block below), laid out for the tiles (x86_layout.h's Act* types and
 * their table), once per matmul call. */

/* x[0..32) to q8_0: *d the block's scale (fp16 rounded, as fp32), *sum Σq. */
FORCE float q8_block(const float *x, int8_t *q, int *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], m = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(x + 8 * k), m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[k]));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float amax = _mm_cvtss_f32(h);
    float d = amax / ((1 << 7) - 1);
    float id = d ? 1.0f / d : 0.0f;
    __m256 vid = _mm256_set1_ps(id), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    __m256i qi[4], s = _mm256_setzero_si256();
    for (int k = 0; k < 4; k++) {
        /* roundf (half away from zero), then the reference's clamp */
        __m256 p = _mm256_mul_ps(v[k], vid);
        __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 away = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(p, t)), half, _CMP_GE_OQ);
        t = _mm256_add_ps(t, _mm256_and_ps(away, _mm256_or_ps(_mm256_and_ps(sign, p), one)));
        t = _mm256_min_ps(_mm256_max_ps(t, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
        qi[k] = _mm256_cvttps_epi32(t);
        s = _mm256_add_epi32(s, qi[k]);
    }
    __m256i q16 = _mm256_packs_epi32(qi[0], qi[1]), q16b = _mm256_packs_epi32(qi[2], qi[3]);
    __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16, q16b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, q8);
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    *sum = _mm_cvtsi128_si32(s4);
    return _cvtsh_ss(f32_to_f16(d));
}

static size_t act_q4_K_bytes(size_t n) { return n / QK_K * sizeof(ActQ4_K); }
static void act_q4_K_quant(void *dst, const float *x, size_t n) {
    ActQ4_K *p = dst;
    for (size_t i = 0; i < n / QK_K; i++, p++)
        for (int s = 0; s < 8; s++) {
            int sum;
            p->d[s] = q8_block(x + QK_K * i + 32 * s, p->qs[s], &sum);
            p->s[s] = p->d[s] * (float)sum;
        }
}

/* Blocks b and b+1 of x (b+1 past the end: zeros) as a pair's lo/hi halves;
 * d[k], sum[k]: block b+k's scale and Σq. */
static void pair_halves(const float *x, size_t nb, size_t b, int8_t *lo, int8_t *hi, float d[2], int sum[2]) {
    for (int k = 0; k < 2; k++) {
        int8_t q[32];
        d[k] = 0, sum[k] = 0;
        if (b + (size_t)k < nb) d[k] = q8_block(x + 32 * (b + (size_t)k), q, &sum[k]);
        else memset(q, 0, sizeof q);
        memcpy(lo + 16 * k, q, 16), memcpy(hi + 16 * k, q + 16, 16);
    }
}

static size_t act_q4_0_bytes(size_t n) { return (n / QK32 + 1) / 2 * sizeof(ActQ4_0); }
static void act_q4_0_quant(void *dst, const float *x, size_t n) {
    size_t nb = n / QK32;
    ActQ4_0 *p = dst;
    for (size_t b = 0; b < nb; b += 2, p++) {
        float d[2];
        int sum[2];
        pair_halves(x, nb, b, p->lo, p->hi, d, sum);
        for (int l = 0; l < 8; l++) p->c[l] = 2 * sum[l / 4], p->d[l] = d[l / 4];
    }
}

static size_t act_q4_1_bytes(size_t n) { return (n / QK32 + 1) / 2 * sizeof(ActQ4_1); }
static void act_q4_1_quant(void *dst, const float *x, size_t n) {
    size_t nb = n / QK32;
    ActQ4_1 *p = dst;
    for (size_t b = 0; b < nb; b += 2, p++) {
        float d[2];
        int sum[2];
        pair_halves(x, nb, b, p->lo, p->hi, d, sum);
        for (int l = 0; l < 8; l++) p->d[l] = d[l / 4], p->s[l] = d[l / 4] * (float)sum[l / 4] * 0.25f;
    }
}

/* ---- quantized tiles ------------------------------------------------------ */


/* Σ over 32 lanes of w[i]·x[i] as 8 int32 lanes, w and x signed int8, given
 * aw = |w| (w > -128 or x > -128 per pair; maddubs cannot saturate:
 * 2·128·127 < 32767). */
FORCE __m256i mul_s8(__m256i aw, __m256i w, __m256i x) {
    __m256i dot16 = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(dot16, _mm256_set1_epi16(1));
}

static size_t act_q8_0_bytes(size_t n) { return (n / QK32 + 1) / 2 * sizeof(ActQ8_0); }
static void act_q8_0_quant(void *dst, const float *x, size_t n) {
    size_t nb = n / QK32;
    ActQ8_0 *p = dst;
    for (size_t b = 0; b < nb; b += 2, p++) {
        float d[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            int sum;
            if (b + (size_t)k < nb) d[k] = q8_block(x + 32 * (b + (size_t)k), p->qs[k], &sum);
            else memset(p->qs[k], 0, sizeof p->qs[k]);
        }
        for (int l = 0; l < 8; l++) p->d[l] = d[(l >> 1) & 1];
    }
}

/* q8_0 against ActQ8_0, two blocks per step: per block the exact int32 sums of
 * products (llama.cpp's ggml_vec_dot_q8_0_q8_0), the two blocks' 8 lanes
 * pairwise added into one register (hadd: lanes 0,1,4,5 block b, 2,3,6,7
 * block b+1), then acc += ([d_w] × [d_x]) · that. */
/* Pairs (b, b+1) and, when they exist, (b+2, b+3) of every row of the tile,
 * one pair after the other; `blocks` (1..4) of them exist; the four fp16
 * scales convert in one instruction (as q4_0_step). */
/* The fp16 scales of `blocks` (1..4) consecutive blocks, `stride` bytes
 * apart from *d, as fp32 lanes 0..3 (one conversion). */
FORCE __m256 four_scales(const uint16_t *d, size_t stride, const int blocks) {
    const char *p = (const char *)d;
    uint16_t v[4] = {0, 0, 0, 0};
    for (int k = 0; k < blocks; k++) memcpy(&v[k], p + (size_t)k * stride, 2);
    __m128i dh = _mm_cvtsi32_si128(v[0]);
    if (blocks > 1) dh = _mm_insert_epi16(dh, v[1], 1);
    if (blocks > 2) dh = _mm_insert_epi16(dh, v[2], 2);
    if (blocks > 3) dh = _mm_insert_epi16(dh, v[3], 3);
    return _mm256_castps128_ps256(_mm_cvtph_ps(dh));
}

FORCE void q8_0_step(const int MR, const int NT, __m256 acc[4][4], const char *w, size_t ws, const char *x,
                     size_t xs, size_t b, const int blocks) {
    const __m256i spread[2] = {_mm256_setr_epi32(0, 0, 1, 1, 0, 0, 1, 1), _mm256_setr_epi32(2, 2, 3, 3, 2, 2, 3, 3)};
    UNROLL for (int r = 0; r < MR; r++) {
        const BlockQ8_0 *wb = (const BlockQ8_0 *)(w + r * ws) + b;
        __m256 d4 = four_scales(&wb[0].d, sizeof *wb, blocks);
        for (int h = 0; 2 * h < blocks; h++) {
            __m256i w0 = _mm256_loadu_si256((const __m256i *)wb[2 * h].qs), a0 = _mm256_sign_epi8(w0, w0);
            __m256i w1 = 2 * h + 1 < blocks ? _mm256_loadu_si256((const __m256i *)wb[2 * h + 1].qs) : _mm256_setzero_si256();
            __m256i a1 = _mm256_sign_epi8(w1, w1);
            __m256 dw = _mm256_permutevar8x32_ps(d4, spread[h]);
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ8_0 *xp = (const ActQ8_0 *)(x + t * xs) + b / 2 + (size_t)h;
                __m256i s0 = mul_s8(a0, w0, _mm256_loadu_si256((const __m256i *)xp->qs[0]));
                __m256i s1 = mul_s8(a1, w1, _mm256_loadu_si256((const __m256i *)xp->qs[1]));
                __m256 sc = _mm256_mul_ps(dw, _mm256_loadu_ps(xp->d));
                acc[r][t] = _mm256_fmadd_ps(sc, cvt(_mm256_hadd_epi32(s0, s1)), acc[r][t]);
            }
        }
    }
}

FORCE void k_q8_0(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    __m256 acc[4][4];
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    size_t nb = n / QK32, b = 0;
    for (; b + 4 <= nb; b += 4) q8_0_step(MR, NT, acc, w, ws, x, xs, b, 4);
    if (nb - b == 3) q8_0_step(MR, NT, acc, w, ws, x, xs, b, 3);
    else if (nb - b == 2) q8_0_step(MR, NT, acc, w, ws, x, xs, b, 2);
    else if (nb - b == 1) q8_0_step(MR, NT, acc, w, ws, x, xs, b, 1);
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)
        out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);
}
TILE_FNS(tile_q8_0, k_q8_0)

/* q4_0 against ActQ4_0, two blocks per step: the nibbles of blocks b and
 * b+1 in one register (low nibbles = elements 0..15 of each, high = 16..31,
 * as lo and hi of the pair), unsigned; lanes 0-3 sum block b, 4-7 block b+1:
 *   s = Σu·x − c (exact int32),  acc += ([d_w] × d) · s,
 * [d_w] = d_w,b ×4, d_w,b+1 ×4. A last odd block loads only its own bytes. */
/* Pairs of blocks (b, b+1) and, with quad, (b+2, b+3) of every row of the
 * tile into acc, one pair after the other; `blocks` (1..4) of them exist.
 * The four fp16 scales convert in one instruction. The constants fold the
 * branches away; each pair's arithmetic is the same in every variant. */
FORCE void q4_0_step(const int MR, const int NT, __m256 acc[4][4], const char *w, size_t ws, const char *x,
                     size_t xs, size_t b, const int blocks) {
    const __m256i low = _mm256_set1_epi8(15), ones16 = _mm256_set1_epi16(1);
    const __m256i spread[2] = {_mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1), _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3)};
    UNROLL for (int r = 0; r < MR; r++) {
        const BlockQ4_0 *wb = (const BlockQ4_0 *)(w + r * ws) + b;
        __m256 d4 = four_scales(&wb[0].d, sizeof *wb, blocks);
        for (int h = 0; 2 * h < blocks; h++) {
            __m128i q0 = _mm_loadu_si128((const __m128i *)wb[2 * h].qs);
            __m128i q1 = 2 * h + 1 < blocks ? _mm_loadu_si128((const __m128i *)wb[2 * h + 1].qs) : _mm_setzero_si128();
            __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
            __m256i ulo = _mm256_and_si256(q, low), uhi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            __m256 dw = _mm256_permutevar8x32_ps(d4, spread[h]);
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ4_0 *xp = (const ActQ4_0 *)(x + t * xs) + b / 2 + (size_t)h;
                __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(ulo, _mm256_loadu_si256((const __m256i *)xp->lo)),
                                               _mm256_maddubs_epi16(uhi, _mm256_loadu_si256((const __m256i *)xp->hi)));
                __m256i s = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones16), _mm256_loadu_si256((const __m256i *)xp->c));
                acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_loadu_ps(xp->d)), cvt(s), acc[r][t]);
            }
        }
    }
}

FORCE void k_q4_0(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    __m256 acc[4][4];
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    size_t nb = n / QK32, b = 0;
    for (; b + 4 <= nb; b += 4) q4_0_step(MR, NT, acc, w, ws, x, xs, b, 4);
    if (nb - b == 3) q4_0_step(MR, NT, acc, w, ws, x, xs, b, 3);
    else if (nb - b == 2) q4_0_step(MR, NT, acc, w, ws, x, xs, b, 2);
    else if (nb - b == 1) q4_0_step(MR, NT, acc, w, ws, x, xs, b, 1);
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)
        out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);
}
TILE_FNS(tile_q4_0, k_q4_0)

/* The nibbles of a pair of 32-blocks (q1 NULL: a last odd block, zeros), as
 * an ActQ4_0/ActQ4_1 pair holds x: *lo elements 0..15 of each, *hi 16..31. */
FORCE void nib_pair(const uint8_t *q0, const uint8_t *q1, __m256i *lo, __m256i *hi) {
    const __m256i low = _mm256_set1_epi8(15);
    __m128i a = _mm_loadu_si128((const __m128i *)q0), b = q1 ? _mm_loadu_si128((const __m128i *)q1) : _mm_setzero_si128();
    __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
    *lo = _mm256_and_si256(q, low), *hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
}

/* Byte k = 16 if bit k of m is set, else 0 (ggml's bytes_from_bits_32). */
FORCE __m256i bits16(uint32_t m) {
    const __m256i shuf = _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
    const __m256i sel = _mm256_set1_epi64x(0x8040201008040201);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)m), shuf);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel), _mm256_set1_epi8(16));
}

/* The fifth bits of a q5 pair in the pair's order: *lo += 16 where element
 * 0..15 has one, *hi where 16..31 does (h1 = 0 for a last odd block). */
FORCE void fifth_pair(const uint8_t *qh0, const uint8_t *qh1, __m256i *lo, __m256i *hi) {
    uint32_t h0, h1 = 0;
    memcpy(&h0, qh0, 4);
    if (qh1) memcpy(&h1, qh1, 4);
    *lo = _mm256_or_si256(*lo, bits16((h0 & 0xffff) | h1 << 16));
    *hi = _mm256_or_si256(*hi, bits16(h0 >> 16 | (h1 & 0xffff0000u)));
}

/* q5_0 against ActQ4_0: q4_0's loop with 5-bit u = q + 16 (fifth bits
 * or-ed in), Σq·x = Σu·x − 16·Σx = Σu·x − 2c over the block's lanes.
 * maddubs cannot saturate: 4·31·128 < 32767. */
FORCE void k_q5_0(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    const __m256i spread = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
    __m256 acc[4][4];
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    size_t nb = n / QK32;
    for (size_t b = 0; b < nb; b += 2) {
        int two = b + 1 < nb;
        UNROLL for (int r = 0; r < MR; r++) {
            const BlockQ5_0 *wb = (const BlockQ5_0 *)(w + r * ws) + b;
            __m256i ulo, uhi;
            nib_pair(wb[0].qs, two ? wb[1].qs : NULL, &ulo, &uhi);
            fifth_pair(wb[0].qh, two ? wb[1].qh : NULL, &ulo, &uhi);
            __m128i dh = _mm_cvtsi32_si128((int)(wb[0].d | (two ? (uint32_t)wb[1].d << 16 : 0u)));
            __m256 dw = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_cvtph_ps(dh)), spread);
            UNROLL for (int t = 0; t < NT; t++) {
                const ActQ4_0 *xp = (const ActQ4_0 *)(x + t * xs) + b / 2;
                __m256i s16 = _mm256_add_epi16(_mm256_maddubs_epi16(ulo, _mm256_loadu_si256((const __m256i *)xp->lo)),
                                               _mm256_maddubs_epi16(uhi, _mm256_loadu_si256((const __m256i *)xp->hi)));
                __m256i c2 = _mm256_slli_epi32(_mm256_loadu_si256((const __m256i *)xp->c), 1);
                __m256i si = _mm256_sub_epi32(_mm256_madd_epi16(s16, ones16), c2);
                acc[r][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_loadu_ps(xp->d)), cvt(si), acc[r][t]);
            }
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)
        out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);
}
TILE_FNS(tile_q5_0, k_q5_0)

/* A q4_1/q5_1 pair's scales and mins from their fp16 bits (d | m << 16 per
 * block, 0 for a missing b+1): [d_b ×4, d_b+1 ×4] and the same of m. */
FORCE void dm_pair(uint32_t dm0, uint32_t dm1, __m256 *d, __m256 *m) {
    __m256 f = _mm256_castps128_ps256(_mm_cvtph_ps(_mm_setr_epi32((int)dm0, (int)dm1, 0, 0))); /* d0 m0 d1 m1 */
    *d = _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2));
    *m = _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3));
}

FORCE void pair_q4_1(const char *row, size_t b, int two, __m256i *lo, __m256i *hi, __m256 *d, __m256 *m) {
    const BlockQ4_1 *wb = (const BlockQ4_1 *)row + b;
    nib_pair(wb[0].qs, two ? wb[1].qs : NULL, lo, hi);
    dm_pair(wb[0].d | (uint32_t)wb[0].m << 16, two ? wb[1].d | (uint32_t)wb[1].m << 16 : 0, d, m);
}
FORCE void pair_q5_1(const char *row, size_t b, int two, __m256i *lo, __m256i *hi, __m256 *d, __m256 *m) {
    const BlockQ5_1 *wb = (const BlockQ5_1 *)row + b;
    nib_pair(wb[0].qs, two ? wb[1].qs : NULL, lo, hi);
    fifth_pair(wb[0].qh, two ? wb[1].qh : NULL, lo, hi);
    dm_pair(wb[0].d | (uint32_t)wb[0].m << 16, two ? wb[1].d | (uint32_t)wb[1].m << 16 : 0, d, m);
}

/* q4_1/q5_1 against ActQ4_1, two blocks per step, u the unsigned 4/5-bit q:
 *   acc += ([d_w] × d)·Σu·x + [m_w]·s  (the pair off the accumulator's chain). */
#define MIN_TILE(K, pair)                                                                              \
    FORCE void K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws,          \
                 const char *x, size_t xs, size_t n) {                                                 \
        const __m256i ones16 = _mm256_set1_epi16(1);                                                   \
        __m256 acc[4][4];                                                                              \
        UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps(); \
        size_t nb = n / QK32;                                                                          \
        for (size_t b = 0; b < nb; b += 2) {                                                           \
            UNROLL for (int r = 0; r < MR; r++) {                                                      \
                __m256i ulo, uhi;                                                                      \
                __m256 dw, mw;                                                                         \
                pair(w + r * ws, b, b + 1 < nb, &ulo, &uhi, &dw, &mw);                                 \
                UNROLL for (int t = 0; t < NT; t++) {                                                  \
                    const ActQ4_1 *xp = (const ActQ4_1 *)(x + t * xs) + b / 2;                       \
                    __m256i s16 = _mm256_add_epi16(                                                    \
                        _mm256_maddubs_epi16(ulo, _mm256_loadu_si256((const __m256i *)xp->lo)),        \
                        _mm256_maddubs_epi16(uhi, _mm256_loadu_si256((const __m256i *)xp->hi)));       \
                    __m256 a = _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_loadu_ps(xp->d)), cvt(_mm256_madd_epi16(s16, ones16))); \
                    acc[r][t] = _mm256_add_ps(acc[r][t], _mm256_fmadd_ps(mw, _mm256_loadu_ps(xp->s), a)); \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
        UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)                        \
            out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);                                         \
    }
MIN_TILE(k_q4_1, pair_q4_1)
MIN_TILE(k_q5_1, pair_q5_1)
TILE_FNS(tile_q4_1, k_q4_1)
TILE_FNS(tile_q5_1, k_q5_1)

/* q4_K/q5_K's 8 scales and 8 mins (kern_scale_min_k4, all at once on the 12
 * bytes as three u32: sub-blocks 0-3 from the low 6 bits of bytes 0-7,
 * 4-7 from the nibbles of bytes 8-11 and the top bits of bytes 0-7),
 * times d and dmin: [d·sc_0..7] and [dmin·mn_0..7]. */
FORCE void k4_scales(const uint8_t *q, uint16_t d, uint16_t dmin, __m256 *dsc, __m256 *dmn) {
    uint32_t u[3];
    memcpy(u, q, 12);
    uint64_t sc = (u[0] & 0x3f3f3f3fu) | (uint64_t)((u[2] & 0x0f0f0f0fu) | (u[0] >> 6 & 0x03030303u) << 4) << 32;
    uint64_t mn = (u[1] & 0x3f3f3f3fu) | (uint64_t)((u[2] >> 4 & 0x0f0f0f0fu) | (u[1] >> 6 & 0x03030303u) << 4) << 32;
    *dsc = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(d)), cvt(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sc))));
    *dmn = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(dmin)), cvt(_mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)mn))));
}

/* One super-block i of one weight row (u: its 8 blocks' unsigned 4- or
 * 5-bit values; dsc, dmn: d·sc and dmin·mn per block) against NT tokens of
 * ActQ4_K: acc[t] −= [dmin·mn]·[s_x], then per pair of blocks
 * acc[t] += (d_x·(d·sc))·Σu·x. q4_K's and q5_K's shared inner loop. */
FORCE void k4_super(const int NT, __m256 *acc, const __m256i u[8], __m256 dsc, __m256 dmn, const char *x,
                    size_t xs, size_t i) {
    const __m256i ones16 = _mm256_set1_epi16(1);
    UNROLL for (int t = 0; t < NT; t++) {
        const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + i;
        acc[t] = _mm256_fnmadd_ps(dmn, _mm256_loadu_ps(xk->s), acc[t]);
        float sv[8];
        _mm256_storeu_ps(sv, _mm256_mul_ps(_mm256_loadu_ps(xk->d), dsc));
        for (int sb = 0; sb < 8; sb += 2) {
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(u[sb], _mm256_loadu_si256((const __m256i *)xk->qs[sb])), ones16);
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(u[sb + 1], _mm256_loadu_si256((const __m256i *)xk->qs[sb + 1])), ones16);
            __m256 a = _mm256_mul_ps(_mm256_set1_ps(sv[sb]), cvt(p0));
            acc[t] = _mm256_add_ps(acc[t], _mm256_fmadd_ps(_mm256_set1_ps(sv[sb + 1]), cvt(p1), a));
        }
    }
}

/* q4_K against ActQ4_K, per super-block of 256 (8 blocks of 32), one
 * accumulator per element:
 *   acc = acc − [dmin·mn]·[s_x]  (8 lanes: the 8 blocks' min terms),
 *   acc += (d_x·(d·sc))·Σu·x + (the same of the next block), per pair of
 *   blocks (u the nibbles); the element is hsum(acc). */
FORCE void k_q4_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    const __m256i low = _mm256_set1_epi8(15);
    __m256 acc[4][4];
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        UNROLL for (int r = 0; r < MR; r++) {
            const BlockQ4_K *wb = (const BlockQ4_K *)(w + r * ws) + i;
            __m256 dsc, dmn;
            k4_scales(wb->scales, wb->d, wb->dmin, &dsc, &dmn);
            __m256i u[8];
            for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(wb->qs + 32 * j));
                u[2 * j] = _mm256_and_si256(q, low), u[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(q, 4), low);
            }
            k4_super(NT, acc[r], u, dsc, dmn, x, xs, i);
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)
        out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);
}
TILE_FNS(tile_q4_K, k_q4_K)

/* q5_K against ActQ4_K: q4_K's loop with 5-bit u, the fifth bit of element
 * l of sub-block sb at bit sb of qh[l] (shifted to bit 4 within each byte). */
FORCE void k_q5_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    const __m256i low = _mm256_set1_epi8(15), k16 = _mm256_set1_epi8(16);
    __m256 acc[4][4];
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        UNROLL for (int r = 0; r < MR; r++) {
            const BlockQ5_K *wb = (const BlockQ5_K *)(w + r * ws) + i;
            __m256 dsc, dmn;
            k4_scales(wb->scales, wb->d, wb->dmin, &dsc, &dmn);
            __m256i hb = _mm256_loadu_si256((const __m256i *)wb->qh), u[8];
            _Pragma("GCC unroll 4") for (int j = 0; j < 4; j++) {
                __m256i q = _mm256_loadu_si256((const __m256i *)(wb->qs + 32 * j));
                /* bit 2j, 2j+1 of each byte to bit 4 (16-bit shifts: bit 4 of
                 * each byte comes from the same byte) */
                __m256i h0 = j < 2 ? _mm256_slli_epi16(hb, 4 - 2 * j) : _mm256_srli_epi16(hb, 2 * j - 4);
                __m256i h1 = j < 2 ? _mm256_slli_epi16(hb, 3 - 2 * j) : _mm256_srli_epi16(hb, 2 * j - 3);
                u[2 * j] = _mm256_or_si256(_mm256_and_si256(q, low), _mm256_and_si256(h0, k16));
                u[2 * j + 1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), low), _mm256_and_si256(h1, k16));
            }
            k4_super(NT, acc[r], u, dsc, dmn, x, xs, i);
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)
        out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);
}
TILE_FNS(tile_q5_K, k_q5_K)

/* q6_K against ActQ4_K (its qs and d): per block of 32, the 6-bit q
 * (0..63) times xq by maddubs, minus 32·Σxq, each 16-element half times its
 * int8 scale by madd; per pair of blocks
 * acc += (d·d_x0)·that0 + (d·d_x1)·that1. */
FORCE void k_q6_K(const int MR, const int NT, float *out, size_t os, const char *w, size_t ws, const char *x,
                  size_t xs, size_t n) {
    const __m256i low = _mm256_set1_epi8(15), three = _mm256_set1_epi8(3), k32 = _mm256_set1_epi8(32);
    __m256 acc[4][4];
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm256_setzero_ps();
    for (size_t i = 0; i < n / QK_K; i++) {
        UNROLL for (int r = 0; r < MR; r++) {
            const BlockQ6_K *wb = (const BlockQ6_K *)(w + r * ws) + i;
            __m256 d = _mm256_set1_ps(_cvtsh_ss(wb->d));
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = wb->ql + 64 * h;
                const int8_t *sc = wb->scales + 8 * h;
                __m256i qa = _mm256_loadu_si256((const __m256i *)ql);
                __m256i qb = _mm256_loadu_si256((const __m256i *)(ql + 32));
                __m256i qh = _mm256_loadu_si256((const __m256i *)(wb->qh + 32 * h));
                __m256i q[4] = {
                    _mm256_or_si256(_mm256_and_si256(qa, low), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)),
                    _mm256_or_si256(_mm256_and_si256(qb, low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), low), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4))};
                __m256i scv[4];
                for (int g = 0; g < 4; g++)
                    scv[g] = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(sc[2 * g])), _mm_set1_epi16(sc[2 * g + 1]), 1);
                UNROLL for (int t = 0; t < NT; t++) {
                    const ActQ4_K *xk = (const ActQ4_K *)(x + t * xs) + i;
                    float ds[4];
                    _mm_storeu_ps(ds, _mm_mul_ps(_mm256_castps256_ps128(d), _mm_loadu_ps(xk->d + 4 * h)));
                    for (int g = 0; g < 4; g += 2) {
                        __m256i x0 = _mm256_loadu_si256((const __m256i *)xk->qs[4 * h + g]);
                        __m256i x1 = _mm256_loadu_si256((const __m256i *)xk->qs[4 * h + g + 1]);
                        __m256i p0 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g], x0), _mm256_maddubs_epi16(k32, x0));
                        __m256i p1 = _mm256_sub_epi16(_mm256_maddubs_epi16(q[g + 1], x1), _mm256_maddubs_epi16(k32, x1));
                        __m256 a = _mm256_mul_ps(_mm256_set1_ps(ds[g]), cvt(_mm256_madd_epi16(p0, scv[g])));
                        a = _mm256_fmadd_ps(_mm256_set1_ps(ds[g + 1]), cvt(_mm256_madd_epi16(p1, scv[g + 1])), a);
                        acc[r][t] = _mm256_add_ps(acc[r][t], a);
                    }
                }
            }
        }
    }
    UNROLL for (int r = 0; r < MR; r++) UNROLL for (int t = 0; t < NT; t++)
        out[(size_t)t * os + (size_t)r] = hsum(acc[r][t]);
}
TILE_FNS(tile_q6_K, k_q6_K)

/* ---- packed weights (KernPack) -------------------------------------------
 * The groups' layouts are x86_layout.h's types; here, what each tile
 * computes per element (row r, token t), the same in every tile.
 *
 * q4_0x8 (BlockQ4_0x8) against ActGroupQ4_0: a chunk's low (high) nibbles
 * meet one broadcast of 4 activations in every row at once. Per block:
 *   s16 = Σ_c maddubs(lo_c, x[4c..]) + maddubs(hi_c, x[16+4c..])  (c in order;
 *         |s16| <= 8·2·15·128 < 32767, exact)
 *   s = madd(s16, 1) − c  (= Σ q_w·q_x, exact int32)
 *   acc = fma(float(s), d_w·d_x, acc)
 * lanes are elements, so there is no final sum. */
static size_t q4_0x8_bytes(size_t cols) { return cols / QK32 * sizeof(BlockQ4_0x8); }
static void q4_0x8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ4_0x8 *g = dst;
    for (size_t b = 0; b < cols / QK32; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ4_0 *blk = (const BlockQ4_0 *)((const char *)src + (size_t)r * ws) + b;
            g->d[r] = blk->d;
            for (int c = 0; c < 4; c++) memcpy(&g->qs[c][4 * r], blk->qs + 4 * c, 4);
        }
    }
}

static size_t act_group_q4_0_bytes(size_t n) { return n / QK32 * sizeof(ActGroupQ4_0); }
static void act_group_q4_0_quant(void *dst, const float *x, size_t n) {
    ActGroupQ4_0 *p = dst;
    for (size_t b = 0; b < n / QK32; b++) {
        int sum;
        p[b].d = q8_block(x + 32 * b, p[b].qs, &sum);
        p[b].c = 8 * sum;
    }
}

/* q8_0x8 (BlockQ8_0x8) against ActGroupQ4_0 (its c unused). Per block:
 *   s = Σ_c madd(maddubs(|q_c|, sign(x[4c..], q_c)), 1)   (c in order, exact int32)
 *   acc = fma(float(s), d_w·d_x, acc). */
static size_t q8_0x8_bytes(size_t cols) { return cols / QK32 * sizeof(BlockQ8_0x8); }
static void q8_0x8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ8_0x8 *g = dst;
    for (size_t b = 0; b < cols / QK32; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ8_0 *blk = (const BlockQ8_0 *)((const char *)src + (size_t)r * ws) + b;
            g->d[r] = blk->d;
            for (int c = 0; c < 8; c++) memcpy(&g->qs[c][4 * r], blk->qs + 4 * c, 4);
        }
    }
}

/* q4_Kx8 (BlockQ4_Kx8) against ActQ4_K. Per super-block:
 *   S_s = Σ_c maddubs(u_c, x_s[4c..])      (c in order; exact in int16)
 *   A = Σ_s fma(float(madd(S_s, sc_s)), d_x,s)          (s in order)
 *   M = Σ_s fma(float(mn_s), s_x,s)                      (s_x = d_x·Σq_x)
 *   acc = fma(d, A, acc), acc = fnmadd(dmin, M, acc) */
static size_t q4_Kx8_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ4_Kx8); }
/* Row r of a q4_K or q5_K super-block (its d, dmin, scales and qs) into a
 * group's head and qs. */
static void kx8_pack_row(HeadKx8 *h, uint8_t qs[4][8][32], int r, uint16_t d, uint16_t dmin,
                         const uint8_t *scales, const uint8_t *src_qs) {
    h->d[r] = d, h->dmin[r] = dmin;
    for (int s = 0; s < 8; s++) {
        int sc, mn;
        kern_scale_min_k4(s, scales, &sc, &mn);
        h->sc[s][r] = (uint8_t)sc, h->mn[s][r] = (uint8_t)mn;
    }
    for (int j = 0; j < 4; j++)
        for (int c = 0; c < 8; c++) memcpy(&qs[j][c][4 * r], src_qs + 32 * j + 4 * c, 4);
}

static void q4_Kx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ4_Kx8 *g = dst;
    for (size_t b = 0; b < cols / QK_K; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ4_K *blk = (const BlockQ4_K *)((const char *)src + (size_t)r * ws) + b;
            kx8_pack_row(&g->h, g->qs, r, blk->d, blk->dmin, blk->scales, blk->qs);
        }
    }
}

/* q5_Kx8 (BlockQ5_Kx8): as q4_Kx8 with u = nibble | (bit 2j (low) or 2j+1
 * (high) of qh) << 4, up to 31: four maddubs still sum exactly in int16, so
 * each 32-block's S is two madds (chunks 0..3, then 4..7) added in int32. */
static size_t q5_Kx8_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ5_Kx8); }
static void q5_Kx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ5_Kx8 *g = dst;
    for (size_t b = 0; b < cols / QK_K; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ5_K *blk = (const BlockQ5_K *)((const char *)src + (size_t)r * ws) + b;
            kx8_pack_row(&g->h, g->qs, r, blk->d, blk->dmin, blk->scales, blk->qs);
            for (int c = 0; c < 8; c++) memcpy(&g->qh[c][4 * r], blk->qh + 4 * c, 4);
        }
    }
}

/* q6_Kx8 (BlockQ6_Kx8) against ActGroupQ6_K. Per chunk (n, c), the 6-bit
 * u = q + 32 of values 4c..4c+3 of the 32-blocks 4n + k are, from its A, B
 * and H, (A & 15 | H << 4 & 48), (B & 15 | H << 2 & 48), (A >> 4 | H & 48),
 * (B >> 4 | H >> 2 & 48) for k = 0..3. Per element and 32-block s (c in
 * order; |maddubs| <= 2·63·127, two of them still exact in int16):
 *   P = Σ_{c = 0, 2, 4, 6} madd(m_c + m_c+1, [sc_half(c)])   (exact int32)
 *   C = 32·(sc_0·Σq_half0 + sc_1·Σq_half1)                   (exact int32)
 *   A = fma(float(P − C), d_x, A);   per super-block acc = fma(d, A, acc). */
static size_t q6_Kx8_bytes(size_t cols) { return cols / QK_K * sizeof(BlockQ6_Kx8); }
static void q6_Kx8_pack(void *dst, const void *src, size_t ws, int nr, size_t cols) {
    BlockQ6_Kx8 *g = dst;
    for (size_t b = 0; b < cols / QK_K; b++, g++) {
        memset(g, 0, sizeof *g);
        for (int r = 0; r < nr; r++) {
            const BlockQ6_K *blk = (const BlockQ6_K *)((const char *)src + (size_t)r * ws) + b;
            g->d[r] = blk->d;
            for (int s = 0; s < 8; s++) memcpy(&g->sc[s][2 * r], blk->scales + 2 * s, 2);
            for (int n = 0; n < 2; n++)
                for (int c = 0; c < 8; c++) {
                    memcpy(&g->q[n][c].ql[0][4 * r], blk->ql + 64 * n + 4 * c, 4);
                    memcpy(&g->q[n][c].ql[1][4 * r], blk->ql + 64 * n + 32 + 4 * c, 4);
                    memcpy(&g->q[n][c].qh[4 * r], blk->qh + 32 * n + 4 * c, 4);
                }
        }
    }
}

static size_t act_group_q6_K_bytes(size_t n) { return n / QK_K * sizeof(ActGroupQ6_K); }
static void act_group_q6_K_quant(void *dst, const float *x, size_t n) {
    ActGroupQ6_K *p = dst;
    for (size_t i = 0; i < n / QK_K; i++, p++)
        for (int s = 0; s < 8; s++) {
            int sum, h0 = 0;
            p->d[s] = q8_block(x + QK_K * i + 32 * s, p->qs[s], &sum);
            for (int l = 0; l < 16; l++) h0 += p->qs[s][l];
            p->h[s][0] = (int16_t)h0, p->h[s][1] = (int16_t)(sum - h0);
        }
}

/* f32x16, f16x16, bf16x16: 16 rows of float weights per group, column-major
 * inside the group (element (r, i) at 16i + r: avx512's f32x16 and f16x16
 * layout), two 8-lane halves per column; one broadcast of x[i] meets 16
 * rows in two fmas. Per element of f32/f16/bf16, two chains (even and odd
 * columns, column i into chain i mod 2), then even + odd (bf16's fast dot:
 * in column pairs, below): the avx512 table's 16-row tiles do the same per
 * element, so the two tables agree bit for bit.
 * A tile is one group × up to FLOAT_NT tokens: 4·FLOAT_NT accumulators (12
 * of the 16 registers), two weight halves and one broadcast, so per column
 * 2 weight loads (and conversions) and 3 broadcasts feed 6 fmas: enough
 * independent chains to cover the fma latency on both pipes, and fewer
 * loads than fmas. (The 8-row groups before held 4 tokens and 8 chains:
 * 5 loads per 4 fmas; 68-74% of the FMA peak against 86-90% now, on
 * 2048-column matmuls of 512 tokens, Zen 4 under MISTRAL_SIMD=avx2:
 * bench/RESULTS.md.) */
#define FLOAT_NT 3
FLOAT_PACK(f32x16, float, 16)
FLOAT_PACK(f16x16, uint16_t, 16)
FLOAT_PACK(bf16x16, uint16_t, 16)

/* Column i of a 16-row group as two 8-lane halves. f32, f16: rows 0-7 and
 * 8-15. bf16: one 32-byte load holds the 16 rows as 32-bit lanes of (row
 * 2k, row 2k + 1); a shift left by 16 makes the even rows fp32 and
 * clearing the low halves the odd ones (both exact), so the halves are the
 * even and the odd rows (the store puts them back in order): one load and
 * two single-cycle ops instead of two widening loads and two shifts. */
FORCE void col16_f32(const char *w, size_t i, __m256 *h0, __m256 *h1) {
    *h0 = load_f32(w, 16 * i), *h1 = load_f32(w, 16 * i + 8);
}
FORCE void col16_f16(const char *w, size_t i, __m256 *h0, __m256 *h1) {
    *h0 = load_f16(w, 16 * i), *h1 = load_f16(w, 16 * i + 8);
}
FORCE void col16_bf16(const char *w, size_t i, __m256 *h0, __m256 *h1) {
    __m256i v = _mm256_loadu_si256((const __m256i *)((const uint16_t *)w + 16 * i));
    *h0 = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    *h1 = _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xffff0000u)));
}

/* The first nr rows of a 16-row tile's sums (halves lo, hi: rows 0-7 and
 * 8-15, or with EO the even and the odd rows) for NT tokens. */
FORCE void float16_store(const int NT, const int EO, float *out, size_t os, __m256 (*lo)[FLOAT_NT],
                         __m256 (*hi)[FLOAT_NT], int nr) {
    UNROLL for (int t = 0; t < NT; t++) {
        __m256 s0 = _mm256_add_ps(lo[0][t], lo[1][t]), s1 = _mm256_add_ps(hi[0][t], hi[1][t]);
        if (EO) { /* rows (0 1 2 3 | 8 9 10 11) and (4 5 6 7 | 12 13 14 15), then in order */
            __m256 a = _mm256_unpacklo_ps(s0, s1), b = _mm256_unpackhi_ps(s0, s1);
            s0 = _mm256_permute2f128_ps(a, b, 0x20), s1 = _mm256_permute2f128_ps(a, b, 0x31);
        }
        float *o = out + (size_t)t * os;
        if (nr == 16) {
            _mm256_storeu_ps(o, s0), _mm256_storeu_ps(o + 8, s1);
        } else {
            float tmp[16];
            _mm256_storeu_ps(tmp, s0), _mm256_storeu_ps(tmp + 8, s1);
            memcpy(o, tmp, (size_t)nr * sizeof(float));
        }
    }
}

/* lo[c][t], hi[c][t]: chain c of token t, the column's two halves. */
#define FLOAT16_TILE(K, col, EO)                                                                      \
    FORCE void K(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs,   \
                 size_t n) {                                                                          \
        __m256 lo[2][FLOAT_NT], hi[2][FLOAT_NT];                                                      \
        UNROLL for (int t = 0; t < NT; t++) lo[0][t] = lo[1][t] = hi[0][t] = hi[1][t] = _mm256_setzero_ps(); \
        size_t i = 0;                                                                                 \
        for (; i + 2 <= n; i += 2) {                                                                  \
            UNROLL for (int c = 0; c < 2; c++) {                                                      \
                __m256 w0, w1;                                                                        \
                col(w, i + c, &w0, &w1);                                                              \
                UNROLL for (int t = 0; t < NT; t++) {                                                 \
                    __m256 b = _mm256_broadcast_ss((const float *)(x + t * xs) + i + c);              \
                    lo[c][t] = _mm256_fmadd_ps(w0, b, lo[c][t]);                                      \
                    hi[c][t] = _mm256_fmadd_ps(w1, b, hi[c][t]);                                      \
                }                                                                                     \
            }                                                                                         \
        }                                                                                             \
        if (i < n) { /* a last even column */                                                         \
            __m256 w0, w1;                                                                            \
            col(w, i, &w0, &w1);                                                                      \
            UNROLL for (int t = 0; t < NT; t++) {                                                     \
                __m256 b = _mm256_broadcast_ss((const float *)(x + t * xs) + i);                      \
                lo[0][t] = _mm256_fmadd_ps(w0, b, lo[0][t]);                                          \
                hi[0][t] = _mm256_fmadd_ps(w1, b, hi[0][t]);                                          \
            }                                                                                         \
        }                                                                                             \
        float16_store(NT, EO, out, os, lo, hi, nr);                                                   \
    }
FLOAT16_TILE(k_f32x16, col16_f32, 0)
FLOAT16_TILE(k_f16x16, col16_f16, 0)
FLOAT16_TILE(k_bf16x16, col16_bf16, 1)

/* bf16x16 against bf16-rounded x (kern.h's DT_BF16, the fast dot): column
 * pairs, the odd column first, pair p into chain p mod 2 (vdpbf16ps's
 * order, which the avx512 table runs natively); a last odd column's pair
 * adds 0·0 first. Halves: the even and the odd rows (col16_bf16). */
FORCE void k_bf16x16p(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, size_t n) {
    __m256 lo[2][FLOAT_NT], hi[2][FLOAT_NT];
    UNROLL for (int t = 0; t < NT; t++) lo[0][t] = lo[1][t] = hi[0][t] = hi[1][t] = _mm256_setzero_ps();
    for (size_t i = 0; i < n; i += 2) {
        int c = (int)(i / 2 % 2), two = i + 1 < n;
        __m256 w0, w1, v0 = _mm256_setzero_ps(), v1 = _mm256_setzero_ps();
        col16_bf16(w, i, &w0, &w1);
        if (two) col16_bf16(w, i + 1, &v0, &v1);
        UNROLL for (int t = 0; t < NT; t++) {
            const float *xt = (const float *)(x + t * xs) + i;
            __m256 b1 = two ? _mm256_broadcast_ss(xt + 1) : _mm256_setzero_ps(), b0 = _mm256_broadcast_ss(xt);
            lo[c][t] = _mm256_fmadd_ps(w0, b0, _mm256_fmadd_ps(v0, b1, lo[c][t]));
            hi[c][t] = _mm256_fmadd_ps(w1, b0, _mm256_fmadd_ps(v1, b1, hi[c][t]));
        }
    }
    float16_store(NT, 1, out, os, lo, hi, nr);
}

/* A packed float tile: one 16-row group (nr rows written) × nt <= FLOAT_NT tokens. */
#define FLOAT16_FNS(name, K)                                                                         \
    static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                             \
        (void)ws;                                                                                    \
        switch (nt) {                                                                                \
        case 1: K(1, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 2: K(2, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 3: K(3, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        default: break;                                                                              \
        }                                                                                            \
    }
FLOAT16_FNS(tile_f32x16, k_f32x16)
FLOAT16_FNS(tile_f16x16, k_f16x16)
FLOAT16_FNS(tile_bf16x16, k_bf16x16)
FLOAT16_FNS(tile_bf16x16p, k_bf16x16p)

/* Attention's q·k: four accumulators, as one dot has no other work to overlap. */
static float vdot(const float *a, const float *b, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

static void vaxpy(float *out, float s, const float *x, int n) {
    __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += s * x[i];
}

/* Attention over an fp16 cache: the same loops with F16C conversions. */
static float vdot_f16(const float *a, const uint16_t *h, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16(h, (size_t)i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load_f16(h, (size_t)i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), load_f16(h, (size_t)i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), load_f16(h, (size_t)i + 24), a3);
    }
    for (; i + 8 <= n; i += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16(h, (size_t)i), a0);
    float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++) s += a[i] * _cvtsh_ss(h[i]);
    return s;
}

static void vaxpy_f16(float *out, float s, const uint16_t *h, int n) {
    __m256 vs = _mm256_set1_ps(s);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_fmadd_ps(vs, load_f16(h, (size_t)i), _mm256_loadu_ps(out + i)));
    for (; i < n; i++) out[i] += s * _cvtsh_ss(h[i]);
}

/* Streamed attention's block kernels (simd.h), over fp32 or fp16 rows.
 * Scores: two keys at a time × ATTN_GROUP heads in eight 8-lane
 * accumulators (each key row loaded once for every head), a head's four
 * sums reduced together (hadd), a scalar tail in d; missing heads repeat
 * head 0's q and a missing second key repeats the first, so every score
 * comes out of the same operations. Weighted sums: 16 output elements ×
 * ATTN_GROUP heads in registers across the block's values (each value row
 * loaded once for every head), one fma per element per key in key order,
 * then 8 at a time, then a scalar tail. */
/* e^x for x <= 0 (the softmax's x - max): x = n·ln2 + r, |r| <= ln2/2
 * (Cody-Waite, ln2 in two parts), e^r by its Taylor series to r^7 (Horner
 * with fma, < 1 ulp of truncation), 2^n put in the exponent bits; x is
 * first raised to -87.3 (2^n stays normal: e^-87.3 ~ 1e-38 for smaller x). */
FORCE __m256 exp_le0(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.3f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    static const float c[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
    __m256 p = _mm256_set1_ps(c[0]);
    for (int i = 1; i < 8; i++) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c[i]));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* simd.h's AttnExpFn: 8 at a time, the lanes' sums added in a fixed tree,
 * a scalar tail (libm) for n mod 8. */
static float attn_exp(float *x, int n, float m) {
    __m256 vm = _mm256_set1_ps(m), acc = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 e = exp_le0(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
        _mm256_storeu_ps(x + j, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; j < n; j++) sum += x[j] = expf(x[j] - m);
    return sum;
}

#define ATTN_KERNELS(sfx, load, elem)                                                                            \
    static void attn_scores_##sfx(float s[][ATTN_BLOCK], float *mx, const float *const *q, int gs,               \
                                  const void *const *rows, int nb, int ahead, int off, int hd, float scale) {    \
        (void)ahead;                                                                                             \
        for (int h = 0; h < gs; h++) mx[h] = -INFINITY;                                                          \
        const float *qh[ATTN_GROUP];                                                                             \
        for (int h = 0; h < ATTN_GROUP; h++) qh[h] = q[h < gs ? h : 0];                                          \
        for (int j = 0; j < nb; j += 2) {                                                                        \
            const void *k0 = rows[j], *k1 = rows[j + 1 < nb ? j + 1 : j];                                       \
            __m256 a0[ATTN_GROUP], a1[ATTN_GROUP];                                                               \
            for (int h = 0; h < ATTN_GROUP; h++) a0[h] = a1[h] = _mm256_setzero_ps();                           \
            int d = 0;                                                                                           \
            for (; d + 8 <= hd; d += 8) {                                                                        \
                __m256 x0 = load(k0, (size_t)(off + d)), x1 = load(k1, (size_t)(off + d));                       \
                for (int h = 0; h < ATTN_GROUP; h++) {                                                           \
                    __m256 qv = _mm256_loadu_ps(qh[h] + d);                                                      \
                    a0[h] = _mm256_fmadd_ps(qv, x0, a0[h]), a1[h] = _mm256_fmadd_ps(qv, x1, a1[h]);              \
                }                                                                                                \
            }                                                                                                    \
            float r[2][4];                                                                                       \
            for (int i = 0; i < 2; i++) {                                                                        \
                __m256 *a = i ? a1 : a0;                                                                         \
                __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));               \
                _mm_storeu_ps(r[i], _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));          \
            }                                                                                                    \
            for (int h = 0; h < gs; h++) {                                                                       \
                for (int e = d; e < hd; e++)                                                                     \
                    r[0][h] += qh[h][e] * elem(k0, (size_t)(off + e)), r[1][h] += qh[h][e] * elem(k1, (size_t)(off + e)); \
                s[h][j] = r[0][h] * scale, mx[h] = fmaxf(mx[h], s[h][j]);                                        \
                if (j + 1 < nb) s[h][j + 1] = r[1][h] * scale, mx[h] = fmaxf(mx[h], s[h][j + 1]);                \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    static void attn_wsum_##sfx(float *const *out, const float *c, const float p[][ATTN_BLOCK], int gs,          \
                                const void *const *rows, int nb, int ahead, int off, int hd) {                   \
        (void)ahead;                                                                                             \
        const float *ph[ATTN_GROUP];                                                                             \
        for (int h = 0; h < ATTN_GROUP; h++) ph[h] = p[h < gs ? h : 0];                                          \
        int d = 0;                                                                                               \
        for (; d + 16 <= hd; d += 16) {                                                                          \
            __m256 a0[ATTN_GROUP], a1[ATTN_GROUP];                                                               \
            for (int h = 0; h < ATTN_GROUP; h++) {                                                               \
                int hh = h < gs ? h : 0;                                                                         \
                __m256 ch = _mm256_set1_ps(c ? c[hh] : 0);                                                       \
                a0[h] = c ? _mm256_mul_ps(ch, _mm256_loadu_ps(out[hh] + d)) : _mm256_setzero_ps();               \
                a1[h] = c ? _mm256_mul_ps(ch, _mm256_loadu_ps(out[hh] + d + 8)) : _mm256_setzero_ps();           \
            }                                                                                                    \
            for (int j = 0; j < nb; j++) {                                                                       \
                __m256 x0 = load(rows[j], (size_t)(off + d)), x1 = load(rows[j], (size_t)(off + d + 8));         \
                for (int h = 0; h < ATTN_GROUP; h++) {                                                           \
                    __m256 pj = _mm256_broadcast_ss(ph[h] + j);                                                  \
                    a0[h] = _mm256_fmadd_ps(pj, x0, a0[h]), a1[h] = _mm256_fmadd_ps(pj, x1, a1[h]);              \
                }                                                                                                \
            }                                                                                                    \
            for (int h = 0; h < gs; h++)                                                                         \
                _mm256_storeu_ps(out[h] + d, a0[h]), _mm256_storeu_ps(out[h] + d + 8, a1[h]);                    \
        }                                                                                                        \
        for (; d + 8 <= hd; d += 8)                                                                              \
            for (int h = 0; h < gs; h++) {                                                                       \
                __m256 a = c ? _mm256_mul_ps(_mm256_set1_ps(c[h]), _mm256_loadu_ps(out[h] + d)) : _mm256_setzero_ps(); \
                for (int j = 0; j < nb; j++)                                                                     \
                    a = _mm256_fmadd_ps(_mm256_broadcast_ss(ph[h] + j), load(rows[j], (size_t)(off + d)), a);    \
                _mm256_storeu_ps(out[h] + d, a);                                                                 \
            }                                                                                                    \
        for (; d < hd; d++)                                                                                      \
            for (int h = 0; h < gs; h++) {                                                                       \
                float a = c ? c[h] * out[h][d] : 0;                                                              \
                for (int j = 0; j < nb; j++) a = fmaf(ph[h][j], elem(rows[j], (size_t)(off + d)), a);            \
                out[h][d] = a;                                                                                   \
            }                                                                                                    \
    }                                                                                                            \
    static void attn_##sfx(float *out, const float *q, int g, const void *const *k, const void *const *v, int n, \
                           int off, int hd, float scale) {                                                       \
        kern_attn_stream(attn_scores_##sfx, attn_wsum_##sfx, attn_exp, out, q, g, k, v, n, off, hd, scale);               \
    }
ATTN_KERNELS(f32, load_f32, e_f32)
ATTN_KERNELS(f16, load_f16, e_f16)

/* Starts from the generic table: types without an AVX2 kernel keep theirs. */
/* The bandwidth probe's loop: 128 bytes per step in four 256-bit loads. */
static uint64_t read_lines(const void *p, size_t bytes) {
    const char *c = p;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 128 <= bytes; i += 128) {
        a0 = _mm256_xor_si256(a0, _mm256_loadu_si256((const __m256i *)(c + i)));
        a1 = _mm256_xor_si256(a1, _mm256_loadu_si256((const __m256i *)(c + i + 32)));
        a2 = _mm256_xor_si256(a2, _mm256_loadu_si256((const __m256i *)(c + i + 64)));
        a3 = _mm256_xor_si256(a3, _mm256_loadu_si256((const __m256i *)(c + i + 96)));
    }
    uint64_t w[4];
    _mm256_storeu_si256((__m256i *)w, _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3)));
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}

void kern_fill_avx2(Kern *k) {
    kern_fill_generic(k);
    k->name = "avx2";
    k->read_lines = read_lines;
    k->mm[DT_F32] = (KernDot){DT_F32, NULL, NULL, 4, 3, tile_f32};
    k->mm[DT_F16] = (KernDot){DT_F32, NULL, NULL, 4, 3, tile_f16};
    k->mm[DT_BF16] = (KernDot){DT_F32, NULL, NULL, 4, 3, tile_bf16};
    k->fast[DT_BF16] = (KernDot){DT_BF16, kern_bf16_act_bytes, kern_bf16_act, 4, 3, tile_bf16}; /* x bf16-rounded */
    k->mm[DT_Q8_0] = (KernDot){DT_Q8_0, act_q8_0_bytes, act_q8_0_quant, 4, 3, tile_q8_0};
    k->mm[DT_Q4_0] = (KernDot){DT_Q8_0, act_q4_0_bytes, act_q4_0_quant, 4, 3, tile_q4_0};
    k->mm[DT_Q4_1] = (KernDot){DT_Q8_0, act_q4_1_bytes, act_q4_1_quant, 4, 3, tile_q4_1};
    k->mm[DT_Q5_0] = (KernDot){DT_Q8_0, act_q4_0_bytes, act_q4_0_quant, 4, 3, tile_q5_0};
    k->mm[DT_Q5_1] = (KernDot){DT_Q8_0, act_q4_1_bytes, act_q4_1_quant, 4, 3, tile_q5_1};
    k->mm[DT_Q4_K] = (KernDot){DT_Q8_0, act_q4_K_bytes, act_q4_K_quant, 4, 2, tile_q4_K};
    k->mm[DT_Q5_K] = (KernDot){DT_Q8_0, act_q4_K_bytes, act_q4_K_quant, 4, 3, tile_q5_K};
    k->mm[DT_Q6_K] = (KernDot){DT_Q8_0, act_q4_K_bytes, act_q4_K_quant, 4, 1, tile_q6_K};
    k->pack[DT_Q4_K] = (KernPack){8, q4_Kx8_bytes, q4_Kx8_pack, {DT_Q8_0, act_q4_K_bytes, act_q4_K_quant, 8, 4, tile_q4_Kx8}};
    k->pack[DT_Q5_K] = (KernPack){8, q5_Kx8_bytes, q5_Kx8_pack, {DT_Q8_0, act_q4_K_bytes, act_q4_K_quant, 8, 4, tile_q5_Kx8}};
    k->pack[DT_Q6_K] = (KernPack){8, q6_Kx8_bytes, q6_Kx8_pack, {DT_Q8_0, act_group_q6_K_bytes, act_group_q6_K_quant, 8, 4, tile_q6_Kx8}};
    k->pack[DT_F32] = (KernPack){16, f32x16_bytes, f32x16_pack, {DT_F32, NULL, NULL, 16, FLOAT_NT, tile_f32x16}};
    k->pack[DT_F16] = (KernPack){16, f16x16_bytes, f16x16_pack, {DT_F32, NULL, NULL, 16, FLOAT_NT, tile_f16x16}};
    k->pack[DT_BF16] = (KernPack){16, bf16x16_bytes, bf16x16_pack, {DT_F32, NULL, NULL, 16, FLOAT_NT, tile_bf16x16}};
    k->pack_fast[DT_BF16] = (KernDot){DT_BF16, kern_bf16_act_bytes, kern_bf16_act, 16, FLOAT_NT, tile_bf16x16p};
    k->pack[DT_Q8_0] = (KernPack){8, q8_0x8_bytes, q8_0x8_pack, {DT_Q8_0, act_group_q4_0_bytes, act_group_q4_0_quant, 8, 4, tile_q8_0x8}};
    k->pack[DT_Q4_0] = (KernPack){8, q4_0x8_bytes, q4_0x8_pack, {DT_Q8_0, act_group_q4_0_bytes, act_group_q4_0_quant, 8, 4, tile_q4_0x8}};
    k->dot_f32 = vdot;
    k->axpy_f32 = vaxpy;
    k->dot_f16 = vdot_f16;
    k->axpy_f16 = vaxpy_f16;
    k->attn[0] = attn_f32, k->attn[1] = attn_f16;
    kern_fill_avx2_k2(k); /* q2_K, q3_K, iq4_nl, iq4_xs: avx2_k2.c */
}
#endif
