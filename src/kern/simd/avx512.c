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
/* This SIMDe has no native-name alias for _mm512_shuffle_f32x4. */
#define _mm512_shuffle_f32x4(a, b, imm8) simde_mm512_shuffle_f32x4(a, b, imm8)
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
 * The streamed-attention block kernels (simd.h), every accumulator in a
 * register (the arrays below are fully unrolled):
 *   scores: 4 keys × 4 heads per pass, sixteen dot products of 16 lanes,
 *     reduced together by one transpose-and-add tree (the same tree for
 *     each product) into one vector: lanes 4h..4h+3 = head h's 4 keys;
 *   wsum: 64 elements × 4 heads (16 accumulators) per pass over the block's
 *     values, then 16 elements at a time; a fma per element per key in key
 *     order, as generic.c.
 * A row tail of hd mod 16 goes through a zero-padded copy (0·0 adds
 * nothing). The kernels also prefetch the next block's rows (`ahead` of
 * them), a block of work ahead of their use: the cache's rows sit a whole
 * kv row apart, too sparse for the hardware prefetcher. */
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

/* simd.h's AttnExpFn: 16 at a time, the lanes' sums added in a fixed tree,
 * a scalar tail (libm) for n mod 16. */
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

/* Sixteen vectors to one: lane 4L + m of the result is Σ v[4m + L]. Each
 * v[i]'s lanes meet in the same order (k + 8, then + 4, + 2, + 1). */
FORCE __m512 sum16x16(const __m512 *v) {
    __m512 a[8], b[4], c[2];
    UNROLL8 for (int p = 0; p < 8; p++)
        a[p] = _mm512_add_ps(_mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0x44), _mm512_shuffle_f32x4(v[2 * p], v[2 * p + 1], 0xee));
    UNROLL for (int p = 0; p < 4; p++)
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0x88), _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0xdd));
    UNROLL for (int p = 0; p < 2; p++) {
        __m512d x = _mm512_castps_pd(b[2 * p]), y = _mm512_castps_pd(b[2 * p + 1]);
        c[p] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)), _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
    }
    return _mm512_add_ps(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xdd));
}

FORCE void prefetch_row(const char *p, size_t bytes) {
    for (size_t b = 0; b < bytes; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
    _mm_prefetch(p + bytes - 1, _MM_HINT_T0);
}

/* Elements [i, i + w) of a row (w <= 16) as 16 lanes, zeros past w. */
FORCE __m512 tail16_f32(const void *p, size_t i, int w) {
    float t[16] = {0};
    memcpy(t, (const float *)p + i, (size_t)w * sizeof *t);
    return _mm512_loadu_ps(t);
}
FORCE __m512 tail16_f16(const void *p, size_t i, int w) {
    uint16_t t[16] = {0};
    memcpy(t, (const uint16_t *)p + i, (size_t)w * sizeof *t);
    return load16_f16(t, 0);
}

/* a[4i + h] = Σ_{d < d16} q_h[d]·k_i[off + d] in 16 lanes (d in steps of 16) */
#define ATTN16_DOT4(a, load, k, qh, off, d16)                                                                     \
    do {                                                                                                          \
        UNROLL8 for (int i = 0; i < 16; i++) a[i] = _mm512_setzero_ps();                                          \
        for (int d = 0; d < d16; d += 16) {                                                                       \
            __m512 x[4];                                                                                          \
            UNROLL for (int i = 0; i < 4; i++) x[i] = load(k[i], (size_t)(off + d));                              \
            UNROLL for (int h = 0; h < 4; h++) {                                                                  \
                __m512 qv = _mm512_loadu_ps(qh[h] + d);                                                           \
                UNROLL for (int i = 0; i < 4; i++) a[4 * i + h] = _mm512_fmadd_ps(qv, x[i], a[4 * i + h]);        \
            }                                                                                                     \
        }                                                                                                         \
    } while (0)

#define ATTN16_KERNELS(sfx, esz, load, tail)                                                                      \
    static void attn_scores_##sfx(float s[][ATTN_BLOCK], float *mx, const float *const *q, int gs,                \
                                  const void *const *rows, int nb, int ahead, int off, int hd, float scale) {      \
        const float *qh[ATTN_GROUP];                                                                              \
        for (int h = 0; h < ATTN_GROUP; h++) qh[h] = q[h < gs ? h : 0];                                           \
        __m512 vmax = _mm512_set1_ps(-INFINITY), vs = _mm512_set1_ps(scale);                                      \
        int d16 = hd & ~15;                                                                                       \
        for (int j = 0; j < nb; j += 4) {                                                                         \
            const void *k[4];                                                                                     \
            UNROLL for (int i = 0; i < 4; i++) {                                                                  \
                k[i] = rows[j + i < nb ? j + i : nb - 1];                                                         \
                if (j + i < ahead) prefetch_row((const char *)rows[nb + j + i] + (size_t)off * esz, (size_t)hd * esz); \
            }                                                                                                     \
            __m512 r;                                                                                             \
            if (d16 == hd) {                                                                                      \
                __m512 a[16];                                                                                     \
                ATTN16_DOT4(a, load, k, qh, off, d16);                                                            \
                r = sum16x16(a);                                                                                  \
            } else { /* apart, so that the tail's buffers keep the common case's accumulators in registers */    \
                __m512 a[16];                                                                                     \
                ATTN16_DOT4(a, load, k, qh, off, d16);                                                            \
                UNROLL for (int h = 0; h < 4; h++) { /* the last hd mod 16 elements */                            \
                    __m512 qv = tail16_f32(qh[h], (size_t)d16, hd - d16);                                         \
                    UNROLL for (int i = 0; i < 4; i++)                                                            \
                        a[4 * i + h] = _mm512_fmadd_ps(qv, tail(k[i], (size_t)(off + d16), hd - d16), a[4 * i + h]); \
                }                                                                                                 \
                r = sum16x16(a);                                                                                  \
            }                                                                                                     \
            r = _mm512_mul_ps(r, vs); /* lane 4h + i: head h, key j + i */                                        \
            vmax = _mm512_max_ps(vmax, r); /* keys past nb repeat key nb - 1 */                                   \
            float t[16];                                                                                          \
            _mm512_storeu_ps(t, r);                                                                               \
            int w = nb - j < 4 ? nb - j : 4;                                                                      \
            for (int h = 0; h < gs; h++) memcpy(s[h] + j, t + 4 * h, (size_t)w * sizeof(float));                 \
        }                                                                                                         \
        float t[16];                                                                                              \
        _mm512_storeu_ps(t, vmax);                                                                                \
        for (int h = 0; h < gs; h++) mx[h] = fmaxf(fmaxf(t[4 * h], t[4 * h + 1]), fmaxf(t[4 * h + 2], t[4 * h + 3])); \
    }                                                                                                             \
    static void attn_wsum_##sfx(float *const *out, const float *c, const float p[][ATTN_BLOCK], int gs,           \
                                const void *const *rows, int nb, int ahead, int off, int hd) {                    \
        const float *ph[ATTN_GROUP];                                                                              \
        float *oh[ATTN_GROUP];                                                                                    \
        __m512 ch[ATTN_GROUP];                                                                                    \
        for (int h = 0; h < ATTN_GROUP; h++)                                                                      \
            ph[h] = p[h < gs ? h : 0], oh[h] = out[h < gs ? h : 0], ch[h] = _mm512_set1_ps(c ? c[h < gs ? h : 0] : 0); \
        int d = 0, pf = ahead; /* the first pass over the values prefetches */                                    \
        for (; d + 64 <= hd; d += 64) {                                                                           \
            __m512 a[16]; /* a[4h + u]: head h, elements d + 16u .. */                                            \
            UNROLL for (int h = 0; h < 4; h++)                                                                    \
                UNROLL for (int u = 0; u < 4; u++)                                                                \
                    a[4 * h + u] = c ? _mm512_mul_ps(ch[h], _mm512_loadu_ps(oh[h] + d + 16 * u)) : _mm512_setzero_ps(); \
            for (int j = 0; j < nb; j++) {                                                                        \
                if (j < pf) prefetch_row((const char *)rows[nb + j] + (size_t)off * esz, (size_t)hd * esz);       \
                __m512 x[4];                                                                                      \
                UNROLL for (int u = 0; u < 4; u++) x[u] = load(rows[j], (size_t)(off + d + 16 * u));              \
                UNROLL for (int h = 0; h < 4; h++) {                                                              \
                    __m512 pj = _mm512_set1_ps(ph[h][j]);                                                         \
                    UNROLL for (int u = 0; u < 4; u++) a[4 * h + u] = _mm512_fmadd_ps(pj, x[u], a[4 * h + u]);    \
                }                                                                                                 \
            }                                                                                                     \
            for (int h = 0; h < gs; h++)                                                                          \
                UNROLL for (int u = 0; u < 4; u++) _mm512_storeu_ps(out[h] + d + 16 * u, a[4 * h + u]);           \
            pf = 0;                                                                                               \
        }                                                                                                         \
        for (; d < hd; d += 16) {                                                                                 \
            int w = hd - d < 16 ? hd - d : 16;                                                                    \
            __m512 a[4];                                                                                          \
            UNROLL for (int h = 0; h < 4; h++)                                                                    \
                a[h] = c ? _mm512_mul_ps(ch[h], tail16_f32(oh[h], (size_t)d, w)) : _mm512_setzero_ps();          \
            for (int j = 0; j < nb; j++) {                                                                        \
                if (j < pf) prefetch_row((const char *)rows[nb + j] + (size_t)off * esz, (size_t)hd * esz);       \
                __m512 x = w == 16 ? load(rows[j], (size_t)(off + d)) : tail(rows[j], (size_t)(off + d), w);      \
                UNROLL for (int h = 0; h < 4; h++) a[h] = _mm512_fmadd_ps(_mm512_set1_ps(ph[h][j]), x, a[h]);     \
            }                                                                                                     \
            for (int h = 0; h < gs; h++) {                                                                        \
                float t[16];                                                                                      \
                _mm512_storeu_ps(t, a[h]);                                                                        \
                memcpy(out[h] + d, t, (size_t)w * sizeof(float));                                                 \
            }                                                                                                     \
            pf = 0;                                                                                               \
        }                                                                                                         \
    }                                                                                                             \
    static void attn_##sfx(float *out, const float *q, int g, const void *const *k, const void *const *v, int n,  \
                           int off, int hd, float scale) {                                                        \
        kern_attn_stream(attn_scores_##sfx, attn_wsum_##sfx, attn_exp, out, q, g, k, v, n, off, hd, scale);       \
    }
ATTN16_KERNELS(f32, 4, load16_f32, tail16_f32)
ATTN16_KERNELS(f16, 2, load16_f16, tail16_f16)

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
