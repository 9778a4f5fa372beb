/* avx512 — the avx2 table with AVX-512 VNNI integer dot products (vpdpbusd
 * on 256-bit vectors: AVX-512 F + VL + BW + VNNI) in the packed tiles of
 * Q4_0, Q8_0, Q4_K, Q5_K and Q6_K: four u8·s8 products summed straight
 * into each int32 lane, where AVX2 needs maddubs, an int16 sum and a madd.
 * The tiles are x86_packed.h's, built here with X86_VNNI 1: the same integer
 * sums and the same fp32 operations as the avx2 table's, so the two agree
 * bit for bit. Compiled with -mavx512f -mavx512vl -mavx512bw -mavx512vnni
 * (plus AVX2/FMA/F16C) and only called on CPUs that have them; with
 * KERN_EMULATE_AVX512 it is built against SIMDe's portable emulation of the
 * same intrinsics instead, so that tests/avx512.sh runs these tiles on a
 * machine without AVX-512. */
#if defined(__x86_64__) || defined(__i386__)
#ifdef KERN_EMULATE_AVX512
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#else
#include <immintrin.h>
#endif
#include <math.h>
#include <string.h>

#include "kern/quant.h"
#include "kern/simd/simd.h"

#define FORCE static inline __attribute__((always_inline))
#define UNROLL _Pragma("GCC unroll 4")
#define UNROLL8 _Pragma("GCC unroll 8")

#define X86_VNNI 1
#include "kern/simd/x86_packed.h"

/* The bandwidth probe's loop: 256 bytes per step in four 512-bit loads. */
static uint64_t read_lines(const void *p, size_t bytes) {
    const char *c = p;
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 256 <= bytes; i += 256) {
        a0 = _mm512_xor_si512(a0, _mm512_loadu_si512((const void *)(c + i)));
        a1 = _mm512_xor_si512(a1, _mm512_loadu_si512((const void *)(c + i + 64)));
        a2 = _mm512_xor_si512(a2, _mm512_loadu_si512((const void *)(c + i + 128)));
        a3 = _mm512_xor_si512(a3, _mm512_loadu_si512((const void *)(c + i + 192)));
    }
    uint64_t w[8];
    _mm512_storeu_si512((void *)w, _mm512_xor_si512(_mm512_xor_si512(a0, a1), _mm512_xor_si512(a2, a3)));
    return w[0] ^ w[1] ^ w[2] ^ w[3] ^ w[4] ^ w[5] ^ w[6] ^ w[7];
}

/* ---- float weights in 512-bit registers ------------------------------------
 * f32x16, f16x16, bf16x16: 16 rows of float weights per group, column-major
 * inside the group (element (r, i) at 16i + r), lanes = rows: one broadcast
 * of x[i] meets 16 rows in one 512-bit fma, one conversion serves 16 rows,
 * and a tile holds up to 8 tokens (16 accumulators of the 32 registers).
 * Per element the avx2 tiles' schedule exactly (two chains, even and odd
 * columns, a last odd column joining the even chain, then even + odd), so
 * the results equal the avx2 table's 8-row tiles bit for bit. */
FLOAT_PACK(f32x16, float, 16)
FLOAT_PACK(f16x16, uint16_t, 16)
FLOAT_PACK(bf16x16, uint16_t, 16)

FORCE __m512 load16_f32(const void *p, size_t i) { return _mm512_loadu_ps((const float *)p + i); }
#ifdef KERN_EMULATE_AVX512
/* This SIMDe lacks _mm512_cvtph_ps and _mm512_cvtepu16_epi32: two 256-bit
 * halves converted as avx2.c does (the same exact values), then joined. */
FORCE __m512 join8(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
FORCE __m256 half_bf16(const __m128i *h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(h)), 16));
}
FORCE __m512 load16_f16(const void *p, size_t i) {
    const __m128i *h = (const __m128i *)((const uint16_t *)p + i);
    return join8(_mm256_cvtph_ps(_mm_loadu_si128(h)), _mm256_cvtph_ps(_mm_loadu_si128(h + 1)));
}
FORCE __m512 load16_bf16(const void *p, size_t i) {
    const __m128i *h = (const __m128i *)((const uint16_t *)p + i);
    return join8(half_bf16(h), half_bf16(h + 1));
}
#else
FORCE __m512 load16_f16(const void *p, size_t i) {
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));
}
FORCE __m512 load16_bf16(const void *p, size_t i) {
    __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)p + i)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}
#endif

#define FLOAT_PACKED16_TILE(K, load)                                                                \
    FORCE void K(const int NT, float *out, size_t os, const char *w, int nr, const char *x, size_t xs, \
                 size_t n) {                                                                        \
        __m512 a0[8], a1[8];                                                                        \
        UNROLL8 for (int t = 0; t < NT; t++) a0[t] = a1[t] = _mm512_setzero_ps();                   \
        size_t i = 0;                                                                               \
        for (; i + 4 <= n; i += 4) {                                                                \
            __m512 w0 = load(w, 16 * i), w1 = load(w, 16 * i + 16);                                 \
            __m512 w2 = load(w, 16 * i + 32), w3 = load(w, 16 * i + 48);                            \
            UNROLL8 for (int t = 0; t < NT; t++) {                                                  \
                const float *xt = (const float *)(x + t * xs) + i;                                  \
                a0[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a0[t]);                          \
                a1[t] = _mm512_fmadd_ps(w1, _mm512_set1_ps(xt[1]), a1[t]);                          \
                a0[t] = _mm512_fmadd_ps(w2, _mm512_set1_ps(xt[2]), a0[t]);                          \
                a1[t] = _mm512_fmadd_ps(w3, _mm512_set1_ps(xt[3]), a1[t]);                          \
            }                                                                                       \
        }                                                                                           \
        for (; i < n; i++) {                                                                        \
            __m512 w0 = load(w, 16 * i);                                                            \
            UNROLL8 for (int t = 0; t < NT; t++) {                                                  \
                const float *xt = (const float *)(x + t * xs) + i;                                  \
                if (i % 2 == 0) a0[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a0[t]);          \
                else a1[t] = _mm512_fmadd_ps(w0, _mm512_set1_ps(xt[0]), a1[t]);                     \
            }                                                                                       \
        }                                                                                           \
        UNROLL8 for (int t = 0; t < NT; t++) {                                                      \
            __m512 sum = _mm512_add_ps(a0[t], a1[t]);                                               \
            if (nr == 16) {                                                                         \
                _mm512_storeu_ps(out + (size_t)t * os, sum);                                        \
            } else {                                                                                \
                float tmp[16];                                                                      \
                _mm512_storeu_ps(tmp, sum);                                                         \
                memcpy(out + (size_t)t * os, tmp, (size_t)nr * sizeof(float));                      \
            }                                                                                       \
        }                                                                                           \
    }
FLOAT_PACKED16_TILE(k_f32x16, load16_f32)
FLOAT_PACKED16_TILE(k_f16x16, load16_f16)
FLOAT_PACKED16_TILE(k_bf16x16, load16_bf16)

/* A 16-row packed tile: one group (nr rows written) × nt <= 8 tokens. */
#define PACKED16_FNS(name, K)                                                                        \
    static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                             \
        (void)ws;                                                                                    \
        switch (nt) {                                                                                \
        case 1: K(1, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 2: K(2, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 3: K(3, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 4: K(4, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 5: K(5, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 6: K(6, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 7: K(7, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        case 8: K(8, out, os, (const char *)w, nr, (const char *)x, xs, n); break;                   \
        default: break;                                                                              \
        }                                                                                            \
    }
PACKED16_FNS(tile_f32x16, k_f32x16)
PACKED16_FNS(tile_f16x16, k_f16x16)
PACKED16_FNS(tile_bf16x16, k_bf16x16)

/* ---- attention in 512-bit registers ----------------------------------------
 * avx2.c's streamed-attention block kernels (simd.h) with 16 lanes: scores
 * of two keys × ATTN_GROUP heads in eight accumulators, each reduced to 8
 * lanes (low + high half) and then by avx2's hadd tree; weighted sums of 32
 * elements × ATTN_GROUP heads per pass over the block's values, then 16,
 * then a scalar tail. */
static inline float attn_e_f32(const void *p, size_t i) { return ((const float *)p)[i]; }
static inline float attn_e_f16(const void *p, size_t i) { return f16_to_f32(((const uint16_t *)p)[i]); }
FORCE __m256 half_sum(__m512 a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

/* avx2.c's exp_le0 in 16 lanes (the same operations per lane; vscalefps
 * multiplies by 2^n). */
FORCE __m512 exp16_le0(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    static const float c[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
    __m512 p = _mm512_set1_ps(c[0]);
    for (int i = 1; i < 8; i++) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c[i]));
    return _mm512_scalef_ps(p, n); /* p·2^n: exact, as the exponent bits are (2^n normal) */
}

/* simd.h's AttnExpFn: 16 at a time, the sum reduced as the scores are, a
 * scalar tail (libm) for n mod 16. */
static float attn_exp(float *x, int n, float m) {
    __m512 vm = _mm512_set1_ps(m), acc = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        __m512 e = exp16_le0(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
        _mm512_storeu_ps(x + j, e);
        acc = _mm512_add_ps(acc, e);
    }
    __m256 h = half_sum(acc);
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s4 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    float sum = _mm_cvtss_f32(_mm_add_ss(s4, _mm_movehdup_ps(s4)));
    for (; j < n; j++) sum += x[j] = expf(x[j] - m);
    return sum;
}

#define ATTN16_KERNELS(sfx, load, elem)                                                                          \
    static void attn_scores_##sfx(float s[][ATTN_BLOCK], const float *const *q, int gs, const void *const *rows, \
                                  int nb, int off, int hd) {                                                     \
        const float *qh[ATTN_GROUP];                                                                             \
        for (int h = 0; h < ATTN_GROUP; h++) qh[h] = q[h < gs ? h : 0];                                          \
        for (int j = 0; j < nb; j += 2) {                                                                        \
            const void *k0 = rows[j], *k1 = rows[j + 1 < nb ? j + 1 : j];                                       \
            __m512 a0[ATTN_GROUP], a1[ATTN_GROUP];                                                               \
            for (int h = 0; h < ATTN_GROUP; h++) a0[h] = a1[h] = _mm512_setzero_ps();                           \
            int d = 0;                                                                                           \
            for (; d + 16 <= hd; d += 16) {                                                                      \
                __m512 x0 = load(k0, (size_t)(off + d)), x1 = load(k1, (size_t)(off + d));                       \
                for (int h = 0; h < ATTN_GROUP; h++) {                                                           \
                    __m512 qv = _mm512_loadu_ps(qh[h] + d);                                                      \
                    a0[h] = _mm512_fmadd_ps(qv, x0, a0[h]), a1[h] = _mm512_fmadd_ps(qv, x1, a1[h]);              \
                }                                                                                                \
            }                                                                                                    \
            float r[2][4];                                                                                       \
            for (int i = 0; i < 2; i++) {                                                                        \
                __m512 *a = i ? a1 : a0;                                                                         \
                __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(half_sum(a[0]), half_sum(a[1])),                        \
                                          _mm256_hadd_ps(half_sum(a[2]), half_sum(a[3])));                       \
                _mm_storeu_ps(r[i], _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));          \
            }                                                                                                    \
            for (int h = 0; h < gs; h++) {                                                                       \
                for (int e = d; e < hd; e++)                                                                     \
                    r[0][h] += qh[h][e] * elem(k0, (size_t)(off + e)), r[1][h] += qh[h][e] * elem(k1, (size_t)(off + e)); \
                s[h][j] = r[0][h];                                                                               \
                if (j + 1 < nb) s[h][j + 1] = r[1][h];                                                           \
            }                                                                                                    \
        }                                                                                                        \
    }                                                                                                            \
    static void attn_wsum_##sfx(float *const *out, const float *c, const float p[][ATTN_BLOCK], int gs,          \
                                const void *const *rows, int nb, int off, int hd) {                              \
        const float *ph[ATTN_GROUP];                                                                             \
        for (int h = 0; h < ATTN_GROUP; h++) ph[h] = p[h < gs ? h : 0];                                          \
        int d = 0;                                                                                               \
        for (; d + 32 <= hd; d += 32) {                                                                          \
            __m512 a0[ATTN_GROUP], a1[ATTN_GROUP];                                                               \
            for (int h = 0; h < ATTN_GROUP; h++) {                                                               \
                int hh = h < gs ? h : 0;                                                                         \
                __m512 ch = _mm512_set1_ps(c ? c[hh] : 0);                                                       \
                a0[h] = c ? _mm512_mul_ps(ch, _mm512_loadu_ps(out[hh] + d)) : _mm512_setzero_ps();               \
                a1[h] = c ? _mm512_mul_ps(ch, _mm512_loadu_ps(out[hh] + d + 16)) : _mm512_setzero_ps();          \
            }                                                                                                    \
            for (int j = 0; j < nb; j++) {                                                                       \
                __m512 x0 = load(rows[j], (size_t)(off + d)), x1 = load(rows[j], (size_t)(off + d + 16));        \
                for (int h = 0; h < ATTN_GROUP; h++) {                                                           \
                    __m512 pj = _mm512_set1_ps(ph[h][j]);                                                        \
                    a0[h] = _mm512_fmadd_ps(pj, x0, a0[h]), a1[h] = _mm512_fmadd_ps(pj, x1, a1[h]);              \
                }                                                                                                \
            }                                                                                                    \
            for (int h = 0; h < gs; h++)                                                                         \
                _mm512_storeu_ps(out[h] + d, a0[h]), _mm512_storeu_ps(out[h] + d + 16, a1[h]);                   \
        }                                                                                                        \
        for (; d + 16 <= hd; d += 16)                                                                            \
            for (int h = 0; h < gs; h++) {                                                                       \
                __m512 a = c ? _mm512_mul_ps(_mm512_set1_ps(c[h]), _mm512_loadu_ps(out[h] + d)) : _mm512_setzero_ps(); \
                for (int j = 0; j < nb; j++)                                                                     \
                    a = _mm512_fmadd_ps(_mm512_set1_ps(ph[h][j]), load(rows[j], (size_t)(off + d)), a);          \
                _mm512_storeu_ps(out[h] + d, a);                                                                 \
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
ATTN16_KERNELS(f32, load16_f32, attn_e_f32)
ATTN16_KERNELS(f16, load16_f16, attn_e_f16)

/* The avx2 table (its layouts, pack functions and activation quantizers are
 * the same), with the VNNI packed tiles, and 16-row float groups. */
void kern_fill_avx512(Kern *k) {
    kern_fill_avx2(k);
    k->name = "avx512";
    k->read_lines = read_lines;
    k->pack[DT_Q4_0].dot.tile = tile_q4_0x8;
    k->pack[DT_Q8_0].dot.tile = tile_q8_0x8;
    k->pack[DT_Q4_K].dot.tile = tile_q4_Kx8;
    k->pack[DT_Q5_K].dot.tile = tile_q5_Kx8;
    k->pack[DT_Q6_K].dot.tile = tile_q6_Kx8;
    k->pack[DT_F32] = (KernPack){16, f32x16_bytes, f32x16_pack, {DT_F32, NULL, NULL, 16, 8, tile_f32x16}};
    k->pack[DT_F16] = (KernPack){16, f16x16_bytes, f16x16_pack, {DT_F32, NULL, NULL, 16, 8, tile_f16x16}};
    k->pack[DT_BF16] = (KernPack){16, bf16x16_bytes, bf16x16_pack, {DT_F32, NULL, NULL, 16, 8, tile_bf16x16}};
    k->attn[0] = attn_f32, k->attn[1] = attn_f16;
}
#endif
