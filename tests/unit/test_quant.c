/* test_quant — llama.cpp's quantized types: layouts, dequantization, the
 * reference dot and the reference quantizers.
 *
 *  - block sizes and the traits table;
 *  - hand-made blocks whose values are known, and random blocks, against an
 *    element-by-element decoder written here from the layout descriptions
 *    (double precision, fp16 from ldexp), never by calling the code under
 *    test;
 *  - tests/data/quant/ref.bin (made by make_ref.c with ggml): our quantizers
 *    must give ggml's quantize_row_*_ref bytes exactly (iq4_nl: what
 *    llama-quantize writes, ggml's quantize_iq4_nl), and our dequantizers
 *    ggml's dequantize_row_* floats exactly (compared by hash), for these
 *    types and q2_K, q3_K, iq4_nl, iq4_xs;
 *  - quantize -> dequantize round trips on several distributions, with the
 *    error bounds documented at `bounds` below, all twelve types;
 *  - the dot against dequantize + a double sum.
 * Output buffers have their exact size (ASan sees an overrun) and are
 * poisoned (an element left unwritten fails). QUANT_VERBOSE=1 prints the
 * measured errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "harness.h"
#include "kern/dtype.h"
#include "kern/quant.h"
#include "quantref.h"

static const DType QTYPES[] = {DT_Q8_0, DT_Q4_0, DT_Q4_1, DT_Q5_0, DT_Q5_1, DT_Q4_K, DT_Q5_K, DT_Q6_K};
#define N_QTYPES (int)(sizeof QTYPES / sizeof QTYPES[0])
/* The types in tests/data/quant/ref.bin, in its order: these, then issue 21's
 * four (their decoders are tested in test_quant_k2.c). */
static const DType FIXTURE_TYPES[] = {DT_Q8_0, DT_Q4_0, DT_Q4_1, DT_Q5_0, DT_Q5_1,  DT_Q4_K,
                                      DT_Q5_K, DT_Q6_K, DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS};
#define N_FIXTURE_TYPES (int)(sizeof FIXTURE_TYPES / sizeof FIXTURE_TYPES[0])

/* ---- data: xorshift64*, fixed seed --------------------------------------- */

static uint64_t rng_s = 0x7f4a7c159e3779b9ull;
static uint64_t rng_u64(void) {
    rng_s ^= rng_s >> 12;
    rng_s ^= rng_s << 25;
    rng_s ^= rng_s >> 27;
    return rng_s * 0x2545f4914f6cdd1dull;
}
static double rng_unit(void) { return (double)(rng_u64() >> 11) * 0x1.0p-53; }
static int rng_int(int n) { return (int)(rng_u64() % (uint64_t)n); }
static double rng_normal(void) {
    double u1 = ((double)(rng_u64() >> 11) + 1) * 0x1.0p-53, u2 = rng_unit();
    return sqrt(-2 * log(u1)) * cos(2 * 3.14159265358979323846 * u2);
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

/* ---- an independent decoder, from the layouts in quant.h ----------------- */

static int bit32(const unsigned char *qh, int i) { return (qh[i / 8] >> (i % 8)) & 1; }

/* sub-block s's 6-bit scale and min of q4_K/q5_K */
static void ref_scale_min(const unsigned char *sc, int s, int *scale, int *min) {
    if (s < 4) {
        *scale = sc[s] & 63;
        *min = sc[s + 4] & 63;
    } else {
        *scale = (sc[s + 4] & 15) | (sc[s - 4] >> 6) << 4;
        *min = (sc[s + 4] >> 4) | (sc[s] >> 6) << 4;
    }
}

/* Element i (within its block) of the block at b. */
static double ref_elem(DType t, const unsigned char *b, int i) {
    switch (t) {
    case DT_Q8_0: return ref_half(b) * (int8_t)b[2 + i];
    case DT_Q4_0: return ref_half(b) * (nib32(b + 2, i) - 8);
    case DT_Q4_1: return ref_half(b) * nib32(b + 4, i) + ref_half(b + 2);
    case DT_Q5_0: return ref_half(b) * ((nib32(b + 6, i) | bit32(b + 2, i) << 4) - 16);
    case DT_Q5_1: return ref_half(b) * (nib32(b + 8, i) | bit32(b + 4, i) << 4) + ref_half(b + 2);
    case DT_Q4_K:
    case DT_Q5_K: {
        int s = i / 32, l = i % 32, sc, mn;
        const unsigned char *qs = b + 16 + (t == DT_Q5_K ? 32 : 0), *qh = b + 16;
        ref_scale_min(b + 4, s, &sc, &mn);
        int byte = qs[32 * (s / 2) + l], q = s % 2 ? byte >> 4 : byte & 15;
        if (t == DT_Q5_K) q |= ((qh[l] >> s) & 1) << 4;
        return ref_half(b) * sc * q - ref_half(b + 2) * mn;
    }
    case DT_Q6_K: {
        const unsigned char *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        int h = i / 128, k = (i % 128) / 32, l = i % 32;
        int low = ql[64 * h + l + 32 * (k & 1)], nib = k < 2 ? low & 15 : low >> 4;
        int q = nib | ((qh[32 * h + l] >> (2 * k)) & 3) << 4;
        return ref_half(b + 208) * sc[i / 16] * (q - 32);
    }
    default: CHECK(0);
    }
    return 0;
}

/* ---- traits and sizes ----------------------------------------------------- */

static void test_traits(void) {
    static const struct {
        DType t;
        const char *name;
        int ggml, block, bytes;
    } want[] = {
        {DT_F32, "F32", 0, 1, 4},       {DT_F16, "F16", 1, 1, 2},       {DT_BF16, "BF16", 30, 1, 2},
        {DT_Q8_0, "q8_0", 8, 32, 34},   {DT_Q4_0, "q4_0", 2, 32, 18},   {DT_Q4_1, "q4_1", 3, 32, 20},
        {DT_Q5_0, "q5_0", 6, 32, 22},   {DT_Q5_1, "q5_1", 7, 32, 24},   {DT_Q4_K, "q4_K", 12, 256, 144},
        {DT_Q5_K, "q5_K", 13, 256, 176}, {DT_Q6_K, "q6_K", 14, 256, 210},
        /* written since issue 21 (tests/unit/test_quant_k2.c); tq1_0, tq2_0 read only */
        {DT_Q2_K, "q2_K", 10, 256, 84},  {DT_Q3_K, "q3_K", 11, 256, 110}, {DT_IQ4_NL, "iq4_nl", 20, 32, 18},
        {DT_IQ4_XS, "iq4_xs", 23, 256, 136}, {DT_TQ1_0, "tq1_0", 34, 256, 54}, {DT_TQ2_0, "tq2_0", 35, 256, 66},
    };
    EXPECT(sizeof want / sizeof want[0] == DT_COUNT, "every type listed");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const DTypeTraits *tr = dtype_traits(want[i].t);
        EXPECT(strcmp(tr->name, want[i].name) == 0 && tr->gguf_type == want[i].ggml && tr->block == want[i].block &&
                   tr->bytes == want[i].bytes && tr->to_float && tr->dot && !tr->quantize == (want[i].t >= DT_TQ1_0),
               "traits of %s", want[i].name);
        DType d = DT_COUNT;
        EXPECT(dtype_from_ggml((uint32_t)want[i].ggml, &d) == 0 && d == want[i].t, "dtype_from_ggml(%d)", want[i].ggml);
        EXPECT(dtype_bytes(want[i].t, (size_t)want[i].block * 7) == (size_t)want[i].bytes * 7, "dtype_bytes %s",
               want[i].name);
    }
    static const uint32_t unread[] = {4, 5, 9, 15, 16, 17, 18, 19, 21, 22, 24, 28, 29, 31, 39, 1000, UINT32_MAX};
    for (size_t i = 0; i < sizeof unread / sizeof unread[0]; i++) {
        DType d = DT_Q6_K;
        EXPECT(dtype_from_ggml(unread[i], &d) == -1 && d == DT_Q6_K, "dtype_from_ggml(%u) refused", unread[i]);
    }
    EXPECT(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 &&
               sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 && sizeof(BlockQ4_K) == 144 &&
               sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210,
           "block sizes");
}

/* ---- known blocks ---------------------------------------------------------- */

/* Dequantizes `nblk` blocks of t at raw with the library and expects `want`. */
static void expect_values(DType t, const void *raw, int nblk, const float *want, const char *what) {
    const DTypeTraits *tr = dtype_traits(t);
    size_t n = (size_t)nblk * (size_t)tr->block;
    float *out = poisoned(n);
    tr->to_float(out, raw, n);
    for (size_t i = 0; i < n; i++)
        EXPECTQ(out[i] == want[i], "%s: element %zu = %g, want %g", what, i, out[i], want[i]);
    free(out);
}

static void test_known_blocks(void) {
    float want[256];
    { /* q8_0: d = 0.5, qs = -128, -120, ..., 120 */
        BlockQ8_0 b = {.d = 0x3800};
        for (int j = 0; j < 32; j++) b.qs[j] = (int8_t)(-128 + 8 * j), want[j] = 0.5f * (-128 + 8 * j);
        expect_values(DT_Q8_0, &b, 1, want, "q8_0 known");
    }
    { /* q4_0: d = 1; element j = j - 8 (low nibbles), element 16 + j = 7 - j */
        BlockQ4_0 b = {.d = 0x3c00};
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | (15 - j) << 4), want[j] = (float)(j - 8), want[16 + j] = (float)(7 - j);
        expect_values(DT_Q4_0, &b, 1, want, "q4_0 known");
    }
    { /* q4_1: d = 2, m = -1: 2q - 1 */
        BlockQ4_1 b = {.d = 0x4000, .m = 0xbc00};
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)((15 - j) | j << 4), want[j] = 2.f * (15 - j) - 1, want[16 + j] = 2.f * j - 1;
        expect_values(DT_Q4_1, &b, 1, want, "q4_1 known");
    }
    { /* q5_0: d = 0.25, qh = 0xAAAA5555: odd elements of the first half and
       * even ones of the second have bit 4 clear */
        BlockQ5_0 b = {.d = 0x3400, .qh = {0x55, 0x55, 0xaa, 0xaa}};
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | (15 - j) << 4);
        for (int i = 0; i < 32; i++) {
            int hi = i < 16 ? (i % 2 == 0) : (i % 2 == 1), lo = i < 16 ? i : 15 - (i - 16);
            want[i] = 0.25f * ((lo | hi << 4) - 16);
        }
        expect_values(DT_Q5_0, &b, 1, want, "q5_0 known");
    }
    { /* q5_1: d = 1, m = 0.5, every fifth bit set: q = 16 + nibble */
        BlockQ5_1 b = {.d = 0x3c00, .m = 0x3800, .qh = {0xff, 0xff, 0xff, 0xff}};
        for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | j << 4), want[j] = want[16 + j] = 16.f + j + 0.5f;
        expect_values(DT_Q5_1, &b, 1, want, "q5_1 known");
    }
    /* q4_K / q5_K: d = 1, dmin = 0.5; sub-block s has scale s + 1 + 8·(s >= 4)
     * and min 2s + 1 + 16·(s >= 4) (exercising the top bits), quant pattern
     * (l + s) % 16 (+ 16 for odd l in q5_K). */
    for (int five = 0; five <= 1; five++) {
        unsigned char blk[176] = {0};
        blk[0] = 0x00, blk[1] = 0x3c, blk[2] = 0x00, blk[3] = 0x38;
        unsigned char *sc = blk + 4, *qh = blk + 16, *qs = blk + 16 + (five ? 32 : 0);
        for (int s = 0; s < 8; s++) {
            int scale = s + 1 + (s >= 4 ? 8 : 0), min = 2 * s + 1 + (s >= 4 ? 16 : 0);
            if (s < 4) {
                sc[s] |= (unsigned char)scale, sc[s + 4] |= (unsigned char)min;
            } else {
                sc[s + 4] = (unsigned char)((scale & 15) | (min & 15) << 4);
                sc[s - 4] |= (unsigned char)((scale >> 4) << 6);
                sc[s] |= (unsigned char)((min >> 4) << 6);
            }
            for (int l = 0; l < 32; l++) {
                int q = (l + s) % 16;
                qs[32 * (s / 2) + l] |= (unsigned char)(s % 2 ? q << 4 : q);
                if (five && l % 2) qh[l] |= (unsigned char)(1 << s), q += 16;
                want[32 * s + l] = (float)scale * q - 0.5f * min;
            }
        }
        expect_values(five ? DT_Q5_K : DT_Q4_K, blk, 1, want, five ? "q5_K known" : "q4_K known");
    }
    { /* q6_K: d = 0.125, scales[s] = s - 8, element i has q = i % 64 */
        unsigned char blk[210] = {0};
        unsigned char *ql = blk, *qh = blk + 128;
        for (int s = 0; s < 16; s++) blk[192 + s] = (unsigned char)(int8_t)(s - 8);
        blk[208] = 0x00, blk[209] = 0x30;
        for (int i = 0; i < 256; i++) {
            int q = i % 64, h = i / 128, k = (i % 128) / 32, l = i % 32;
            ql[64 * h + l + 32 * (k & 1)] |= (unsigned char)(k < 2 ? (q & 15) : (q & 15) << 4);
            qh[32 * h + l] |= (unsigned char)((q >> 4) << (2 * k));
            want[i] = 0.125f * (i / 16 - 8) * (q - 32);
        }
        expect_values(DT_Q6_K, blk, 1, want, "q6_K known");
    }
}

/* Random blocks (scales kept finite) against the independent decoder. */
static void test_random_blocks(void) {
    for (int ti = 0; ti < N_QTYPES; ti++) {
        DType t = QTYPES[ti];
        const DTypeTraits *tr = dtype_traits(t);
        int nblk = 5;
        size_t n = (size_t)nblk * tr->block, nb = (size_t)nblk * tr->bytes;
        unsigned char *raw = xmalloc(nb);
        for (size_t i = 0; i < nb; i++) raw[i] = (unsigned char)rng_u64();
        /* fp16 fields: exponents in a tame range, so no inf/NaN */
        for (int k = 0; k < nblk; k++) {
            unsigned char *b = raw + (size_t)k * tr->bytes;
            int off[2] = {0, t == DT_Q6_K ? -1 : 2}, nf = (t == DT_Q8_0 || t == DT_Q4_0 || t == DT_Q5_0) ? 1 : 2;
            if (t == DT_Q6_K) off[0] = 208, nf = 1;
            for (int f = 0; f < nf; f++) b[off[f] + 1] = (unsigned char)((b[off[f] + 1] & 0x83) | (8 + rng_int(12)) << 2);
        }
        float *out = poisoned(n);
        tr->to_float(out, raw, n);
        for (int k = 0; k < nblk; k++)
            for (int i = 0; i < tr->block; i++) {
                double ref = ref_elem(t, raw + (size_t)k * tr->bytes, i);
                float got = out[(size_t)k * tr->block + i];
                EXPECTQ(fabs(got - ref) <= 4e-7 * fabs(ref) + 1e-30 + (t >= DT_Q4_K ? 1e-6 * fabs(got) : 0),
                        "%s random block %d element %d: %.9g, want %.9g", tr->name, k, i, got, ref);
            }
        free(out);
        free(raw);
    }
}

/* ---- against ggml ---------------------------------------------------------- */

static uint64_t fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Row r of the fixture's wide set: make_ref.c's wide_row, the same code. */
static void wide_row(float *x, int r, int row_len) {
    uint64_t s = 0x243f6a8885a308d3ull ^ (uint64_t)r * 0x9e3779b97f4a7c15ull;
    double scale = ldexp(1.0, r % 21 - 10), shift = r % 5 == 4 ? 0.75 : 0;
    for (int i = 0; i < row_len; i++) {
        double u[4];
        for (int k = 0; k < 4; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            u[k] = (double)(s >> 40) * 0x1p-24; /* [0, 1), exact */
        }
        double v = r % 3 == 0 ? 2 * u[0] - 1 : r % 3 == 1 ? u[0] + u[1] + u[2] + u[3] - 2
                                                           : (u[0] < 0.5 ? -1 : 1) / (u[1] + 0x1p-6) * 0x1p-6;
        x[i] = (float)(scale * (v + shift));
    }
}

static void test_ggml_fixture(void) {
    const char *path = "tests/data/quant/ref.bin";
    size_t len;
    unsigned char *f = (unsigned char *)read_file(path, &len);
    EXPECT(f, "%s: %s", path, err_msg());
    if (!f) return;
    EXPECT(len > 20 && memcmp(f, "MQREF001", 8) == 0, "%s: bad magic", path);
    uint32_t rows = rd32(f + 8), row_len = rd32(f + 12);
    size_t n = (size_t)rows * row_len, pos = 16 + 4 * n;
    CHECK(len >= pos + 4 && row_len % 256 == 0);
    float *in = xmalloc(n * sizeof *in);
    memcpy(in, f + 16, n * sizeof *in); /* the file is little-endian, as we are */
    uint32_t ntypes = rd32(f + pos);
    pos += 4;
    int seen = 0;
    for (uint32_t k = 0; k < ntypes; k++) {
        CHECK(len >= pos + 16);
        char name[9] = {0};
        memcpy(name, f + pos, 8);
        uint32_t ggml = rd32(f + pos + 8), nbytes = rd32(f + pos + 12);
        pos += 16;
        CHECK(len >= pos + nbytes + 8);
        const unsigned char *want = f + pos;
        uint64_t want_hash;
        memcpy(&want_hash, f + pos + nbytes, 8);
        pos += (size_t)nbytes + 8;

        DType t;
        EXPECT(dtype_from_ggml(ggml, &t) == 0, "fixture type %s (%u) unknown", name, ggml);
        const DTypeTraits *tr = dtype_traits(t);
        EXPECT(strcmp(tr->name, name) == 0 && dtype_bytes(t, n) == nbytes, "fixture type %s", name);
        seen++;

        /* quantize row by row; the same bytes as ggml */
        size_t rb = dtype_bytes(t, row_len);
        unsigned char *q = xmalloc(nbytes);
        memset(q, 0xa5, nbytes);
        for (uint32_t r = 0; r < rows; r++) tr->quantize(q + r * rb, in + (size_t)r * row_len, row_len);
        int bad = 0;
        for (size_t b = 0; b < nbytes / (size_t)tr->bytes; b++)
            if (memcmp(q + b * tr->bytes, want + b * tr->bytes, (size_t)tr->bytes) != 0) {
                if (bad++ < 3) {
                    size_t bpr = rb / (size_t)tr->bytes;
                    EXPECTQ(0, "%s: block %zu of input row %zu differs from ggml's quantizer (%s)", name,
                            b % bpr, b / bpr, name);
                }
            }
        EXPECT(bad == 0, "%s: %d of %zu blocks differ from ggml", name, bad, nbytes / (size_t)tr->bytes);

        /* dequantize ggml's bytes; the same floats as ggml (by hash) */
        float *out = poisoned(n);
        tr->to_float(out, want, n);
        EXPECT(fnv(out, n * sizeof *out) == want_hash, "%s: dequantization differs from ggml's", name);
        free(out);
        free(q);
    }
    EXPECT(seen == N_FIXTURE_TYPES, "fixture has %d types", seen);

    /* the wide set: only a hash of ggml's blocks per type */
    CHECK(len == pos + 8 + 8 * (size_t)ntypes);
    uint32_t rows2 = rd32(f + pos), len2 = rd32(f + pos + 4);
    pos += 8;
    float *x = xmalloc(len2 * sizeof *x);
    unsigned char *q = xmalloc(dtype_bytes(DT_Q8_0, len2));
    for (int ti = 0; ti < N_FIXTURE_TYPES; ti++, pos += 8) {
        const DTypeTraits *tr = dtype_traits(FIXTURE_TYPES[ti]);
        size_t rb = dtype_bytes(FIXTURE_TYPES[ti], len2);
        uint64_t h = 0xcbf29ce484222325ull, want;
        for (uint32_t r = 0; r < rows2; r++) {
            wide_row(x, (int)r, (int)len2);
            tr->quantize(q, x, len2);
            for (size_t i = 0; i < rb; i++) h = (h ^ q[i]) * 0x100000001b3ull;
        }
        memcpy(&want, f + pos, 8);
        EXPECT(h == want, "%s: the wide set's blocks differ from ggml's", tr->name);
    }
    free(q);
    free(x);
    free(in);
    free(f);
}

/* ---- round trips ----------------------------------------------------------- */

enum { D_NORMAL, D_UNIFORM, D_OUTLIERS, D_POSITIVE, D_CONSTANT, D_ZEROS, D_TINY, D_LARGE, D_SPARSE, N_DIST };
static const char *DIST_NAMES[N_DIST] = {"normal", "uniform", "outliers", "positive", "constant",
                                         "zeros",  "tiny",    "large",    "sparse"};

static void fill(float *x, size_t n, int dist) {
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        switch (dist) {
        case D_NORMAL: v = rng_normal(); break;
        case D_UNIFORM: v = 2 * rng_unit() - 1; break;
        case D_OUTLIERS: v = rng_normal() * (rng_int(64) == 0 ? 100 : 1); break;
        case D_POSITIVE: v = 1 + rng_unit(); break;
        case D_CONSTANT: v = (i / 256) % 2 ? -0.8125 : 3.3; break;
        case D_ZEROS: v = 0; break;
        case D_TINY: v = 1e-6 * rng_normal(); break;
        case D_LARGE: v = 1e4 * rng_normal(); break;
        case D_SPARSE: v = rng_int(10) == 0 ? rng_normal() : 0; break;
        }
        x[i] = (float)v;
    }
}

/* Error bounds. rmse: the relative RMSE sqrt(Σ(x-y)²/Σx²) of a 2048-element
 * row, worst of 8 rows, on normal, uniform and large (1e4·normal) data;
 * rmse_o: the same on outliers (1 in 64 elements ×100), all-positive (U(1,2))
 * and sparse (90% zeros) data. Both are about 15% above the worst value
 * measured (QUANT_VERBOSE=1 prints them). maxrel: the largest |x-y| of a
 * block over the block's largest |x|, every distribution but `tiny`; for the
 * 32-element types it is the format's own bound (half a step, or a whole one
 * where the signed-absmax types clip +max to 7/8 or 15/16 of it; plus fp16
 * rounding of the scale and the min); for the K-quants, measured + 10%.
 * Constant rows come back within 5e-4 (the fp16/6-bit scale roundings), zero
 * rows and zero blocks exactly. `tiny` (1e-6·normal) has no bound: the fp16
 * super-block scales underflow, in ggml as here (the fixture covers it). */
static const struct {
    DType t;
    double rmse, rmse_o, maxrel;
} bounds[] = {
    /* measured worst:  rmse   rmse_o  maxrel */
    {DT_Q8_0, 0.0065, 0.014, 0.00443}, /* 0.0056  0.0122  0.0044 */
    {DT_Q4_0, 0.100, 0.065, 0.1252},   /* 0.0877  0.0567  0.1250 */
    {DT_Q4_1, 0.092, 0.145, 0.0685},   /* 0.0805  0.1263  0.0672 */
    {DT_Q5_0, 0.051, 0.056, 0.0627},   /* 0.0442  0.0487  0.0626 */
    {DT_Q5_1, 0.044, 0.074, 0.0340},   /* 0.0384  0.0643  0.0329 */
    {DT_Q4_K, 0.084, 0.064, 0.120},    /* 0.0728  0.0556  0.1087 */
    {DT_Q5_K, 0.043, 0.061, 0.061},    /* 0.0373  0.0532  0.0551 */
    {DT_Q6_K, 0.021, 0.031, 0.021},    /* 0.0184  0.0268  0.0191 */
    /* issue 21's types: measured worst ×1.5 */
    {DT_Q2_K, 0.46, 0.875, 0.64},     /* 0.3058  0.5831  0.4263 */
    {DT_Q3_K, 0.231, 0.13, 0.377},    /* 0.1538  0.0863  0.2509 */
    {DT_IQ4_NL, 0.116, 0.113, 0.184}, /* 0.0772  0.0749  0.1225 */
    {DT_IQ4_XS, 0.119, 0.128, 0.188}, /* 0.0791  0.0850  0.1249 */
};

static void test_round_trip(void) {
    int verbose = getenv("QUANT_VERBOSE") != NULL;
    const size_t n = 2048;
    float *x = xmalloc(n * sizeof *x);
    for (size_t bi = 0; bi < sizeof bounds / sizeof bounds[0]; bi++) {
        DType t = bounds[bi].t;
        const DTypeTraits *tr = dtype_traits(t);
        size_t nb = dtype_bytes(t, n);
        if (verbose) fprintf(stderr, "%-5s", tr->name);
        for (int dist = 0; dist < N_DIST; dist++) {
            double worst_rmse = 0, worst_rel = 0;
            for (int rep = 0; rep < 8; rep++) {
                fill(x, n, dist);
                unsigned char *q = xmalloc(nb + 1);
                q[nb] = 0x5a;
                tr->quantize(q, x, n);
                EXPECTQ(q[nb] == 0x5a, "%s quantize wrote past %zu bytes", tr->name, nb);
                float *y = poisoned(n);
                tr->to_float(y, q, n);
                double se = 0, sx = 0;
                for (size_t blk = 0; blk < n; blk += (size_t)tr->block) {
                    double amax = 0, emax = 0;
                    for (size_t i = blk; i < blk + (size_t)tr->block; i++) {
                        double e = fabs((double)x[i] - y[i]);
                        se += e * e, sx += (double)x[i] * x[i];
                        if (fabs(x[i]) > amax) amax = fabs(x[i]);
                        if (!(e <= emax)) emax = e; /* NaN propagates */
                    }
                    if (amax > 0 && emax / amax > worst_rel) worst_rel = emax / amax;
                    if (dist == D_ZEROS)
                        EXPECTQ(emax == 0, "%s: zeros do not come back as zeros", tr->name);
                    if (amax == 0) EXPECTQ(emax == 0, "%s: a zero block does not come back as zeros", tr->name);
                    if (dist != D_TINY && amax > 0)
                        EXPECTQ(emax <= bounds[bi].maxrel * amax, "%s %s: block error %.4g of max %.4g (bound %.3g)",
                                tr->name, DIST_NAMES[dist], emax, amax, bounds[bi].maxrel);
                }
                double rmse = sx > 0 ? sqrt(se / sx) : sqrt(se);
                if (rmse > worst_rmse || isnan(rmse)) worst_rmse = rmse;
                free(y);
                free(q);
            }
            if (verbose) fprintf(stderr, "  %s %.4f/%.4f", DIST_NAMES[dist], worst_rmse, worst_rel);
            double bound = dist == D_NORMAL || dist == D_UNIFORM || dist == D_LARGE ? bounds[bi].rmse
                           : dist == D_OUTLIERS || dist == D_POSITIVE || dist == D_SPARSE ? bounds[bi].rmse_o
                           : dist == D_CONSTANT ? 5e-4
                           : dist == D_ZEROS    ? 0
                                                : INFINITY; /* tiny */
            EXPECTQ(worst_rmse <= bound, "%s %s: relative RMSE %.5f > %.5f", tr->name, DIST_NAMES[dist], worst_rmse,
                    bound);
        }
        if (verbose) fputc('\n', stderr);
    }
    free(x);
}

/* Non-finite input: some bytes, no crash and no undefined behaviour (the
 * sanitizers run this). */
static void test_non_finite(void) {
    float x[512];
    for (size_t ti = 0; ti < sizeof bounds / sizeof bounds[0]; ti++) {
        const DTypeTraits *tr = dtype_traits(bounds[ti].t);
        for (int k = 0; k < 4; k++) {
            for (int i = 0; i < 512; i++) x[i] = (float)rng_normal();
            float special[4] = {NAN, INFINITY, -INFINITY, 3e38f};
            for (int i = 0; i < 512; i += 7 + k) x[i] = special[k];
            unsigned char q[512 / 32 * 34];
            tr->quantize(q, x, 512);
            float y[512];
            tr->to_float(y, q, 512);
        }
    }
}

/* ---- the reference dot ------------------------------------------------------ */

static void test_dot(void) {
    for (size_t ti = 0; ti < sizeof bounds / sizeof bounds[0]; ti++) {
        DType t = bounds[ti].t;
        const DTypeTraits *tr = dtype_traits(t);
        static const int nblocks[] = {1, 3, 8};
        for (int k = 0; k < 3; k++) {
            size_t n = (size_t)nblocks[k] * tr->block;
            float *w = xmalloc(n * sizeof *w), *x = xmalloc(n * sizeof *x), *wd = poisoned(n);
            for (size_t i = 0; i < n; i++) w[i] = (float)rng_normal(), x[i] = (float)rng_normal();
            unsigned char *q = xmalloc(dtype_bytes(t, n));
            tr->quantize(q, w, n);
            tr->to_float(wd, q, n);
            double ref = 0;
            for (size_t i = 0; i < n; i++) ref += (double)wd[i] * x[i];
            float got = tr->dot(q, x, n);
            EXPECTQ(bits_of(got) == bits_of((float)ref), "%s dot n=%zu: %.9g, want %.9g", tr->name, n, got, ref);
            free(q);
            free(wd);
            free(x);
            free(w);
        }
    }
}

int main(void) {
    test_traits();
    test_known_blocks();
    test_random_blocks();
    test_ggml_fixture();
    test_round_trip();
    test_non_finite();
    test_dot();
    return test_done("test_quant");
}
