/* test_kern — every kernel against an independent naive reference.
 *
 * The references are written here from the definitions, in double precision
 * (the fp16/bf16 decoders from ldexp, the encoders from nearbyint), never by
 * calling the code under test. Data come from a fixed-seed generator; every
 * output buffer is allocated to its exact size (so ASan sees an overrun) and
 * filled with NaN before the call (so an element left unwritten fails the
 * comparison); sizes are odd on purpose: 1, 3, 17, 64, 130. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"
#include "gen/sampler.h"
#include "harness.h"
#include "kern/dtype.h"
#include "kern/matmul.h"
#include "kern/ops.h"

/* EXPECT for loops: counts every failure, prints only the first few. */

static const int SIZES[] = {1, 3, 17, 64, 130};
#define N_SIZES (int)(sizeof SIZES / sizeof SIZES[0])
static const double PI = 3.14159265358979323846;

/* ---- data: xorshift64*, fixed seed ------------------------------------- */

static uint64_t rng_s = 0x9d2c5680a5b1e3f7ull;

static uint64_t rng_u64(void) {
    rng_s ^= rng_s >> 12;
    rng_s ^= rng_s << 25;
    rng_s ^= rng_s >> 27;
    return rng_s * 0x2545f4914f6cdd1dull;
}
static double rng_unit(void) { return (double)(rng_u64() >> 11) * 0x1.0p-53; } /* [0, 1) */
static int rng_int(int n) { return (int)(rng_u64() % (uint64_t)n); }
static double rng_normal(void) {
    double u1 = ((double)(rng_u64() >> 11) + 1) * 0x1.0p-53, u2 = rng_unit();
    return sqrt(-2 * log(u1)) * cos(2 * PI * u2);
}

static void *xmalloc0(size_t n) { return xmalloc(n ? n : 1); }

/* n floats, all NaN: an output buffer. */
static float *poisoned(size_t n) {
    float *p = xmalloc0(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

static float *normals(size_t n, double scale) {
    float *p = xmalloc0(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * rng_normal());
    return p;
}

static float *copy_floats(const float *x, size_t n) {
    float *p = xmalloc0(n * sizeof *p);
    memcpy(p, x, n * sizeof *p);
    return p;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static int same_bits(float a, float b) { return bits_of(a) == bits_of(b); }

/* |got - ref| <= tol, and false for NaN (an unwritten element). */
static int near(float got, double ref, double tol) { return fabs((double)got - ref) <= tol; }

/* ---- independent references for the storage types ---------------------- */

/* IEEE binary16 value of h, by the definition. */
static double ref_f16(uint16_t h) {
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    double v;
    if (e == 0x1f) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp(m, -24); /* subnormal: m · 2^-14 · 2^-10 */
    else v = ldexp(1024 + m, e - 25);   /* (1 + m/1024) · 2^(e-15) */
    return (h & 0x8000) ? -v : v;
}

/* bfloat16 value of h, by the definition. */
static double ref_bf16(uint16_t h) {
    int e = (h >> 7) & 0xff, m = h & 0x7f;
    double v;
    if (e == 0xff) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp(m, -133); /* m · 2^-126 · 2^-7 */
    else v = ldexp(128 + m, e - 134);    /* (1 + m/128) · 2^(e-127) */
    return (h & 0x8000) ? -v : v;
}

static int f16_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }
static int bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

/* The encoding of f rounded to nearest, ties to even, in a binary format with
 * `mbits` stored mantissa bits and `ebits` exponent bits (f16: 10, 5; bf16:
 * 7, 8), computed in double with nearbyint (the default rounding mode). */
static uint16_t ref_round(float f, int mbits, int ebits) {
    int bias = (1 << (ebits - 1)) - 1, emin = 1 - bias;
    uint16_t sign = signbit(f) ? 0x8000 : 0, inf = (uint16_t)(((1u << ebits) - 1) << mbits);
    if (isnan(f)) return sign | inf | (uint16_t)(1u << (mbits - 1));
    if (isinf(f)) return sign | inf;
    double a = fabs((double)f);
    if (a < ldexp(1, emin)) /* subnormal range: multiples of 2^(emin - mbits) */
        return sign | (uint16_t)nearbyint(ldexp(a, mbits - emin));
    int e;
    frexp(a, &e); /* a in [2^(e-1), 2^e) */
    double q = nearbyint(ldexp(a, mbits + 1 - e)); /* in [2^mbits, 2^(mbits+1)] */
    long be = e - 1 + bias;
    if (q == ldexp(1, mbits + 1)) q /= 2, be++;
    if (be >= (1 << ebits) - 1) return sign | inf;
    return sign | (uint16_t)(be << mbits) | (uint16_t)(q - ldexp(1, mbits));
}

/* Element i of a raw row of type t, as a double. */
static double ref_elem(DType t, const void *raw, size_t i) {
    const unsigned char *p = raw;
    if (t == DT_F32) {
        float f;
        memcpy(&f, p + 4 * i, 4);
        return f;
    }
    uint16_t h;
    memcpy(&h, p + 2 * i, 2);
    return t == DT_F16 ? ref_f16(h) : ref_bf16(h);
}

static size_t elem_bytes(DType t) { return t == DT_F32 ? 4 : 2; }

/* n elements of type t with arbitrary bit patterns (NaN, inf, subnormal). */
static void *random_bits(DType t, size_t n) {
    unsigned char *p = xmalloc0(n * elem_bytes(t));
    for (size_t i = 0; i < n * elem_bytes(t); i++) p[i] = (unsigned char)rng_u64();
    return p;
}

/* n finite elements of type t of moderate size (some subnormal, some zero). */
static void *random_weights(DType t, size_t n) {
    unsigned char *p = xmalloc0(n * elem_bytes(t));
    for (size_t i = 0; i < n; i++) {
        uint16_t h, sign = (rng_u64() & 1) ? 0x8000 : 0;
        if (t == DT_F32) {
            float f = (float)rng_normal();
            memcpy(p + 4 * i, &f, 4);
            continue;
        }
        if (t == DT_F16) h = sign | (uint16_t)((i % 11 == 5 ? 0 : 8 + rng_int(9)) << 10) | (uint16_t)rng_int(1024);
        else h = sign | (uint16_t)((i % 11 == 5 ? 0 : 118 + rng_int(11)) << 7) | (uint16_t)rng_int(128);
        memcpy(p + 2 * i, &h, 2);
    }
    return p;
}

/* ---- conversions -------------------------------------------------------- */

static void test_reference_sanity(void) {
    /* the references themselves, on values known by heart */
    EXPECT(ref_f16(0x3c00) == 1 && ref_f16(0xc000) == -2 && ref_f16(0x7bff) == 65504 &&
               ref_f16(0x0001) == 0x1p-24 && ref_f16(0x03ff) == 1023 * 0x1p-24 &&
               ref_f16(0x0400) == 0x1p-14 && ref_f16(0x3555) == 0x1.554p-2 && ref_f16(0x7c00) == INFINITY &&
               isnan(ref_f16(0x7e00)) && signbit(ref_f16(0x8000)),
           "ref_f16");
    EXPECT(ref_bf16(0x3f80) == 1 && ref_bf16(0xc000) == -2 && ref_bf16(0x7f7f) == 0x1.fep127 &&
               ref_bf16(0x0001) == 0x1p-133 && ref_bf16(0x0080) == 0x1p-126 && ref_bf16(0xff80) == -INFINITY &&
               isnan(ref_bf16(0x7fc0)),
           "ref_bf16");
    EXPECT(ref_round(1.0f, 10, 5) == 0x3c00 && ref_round(65520.0f, 10, 5) == 0x7c00 &&
               ref_round(0x1p-25f, 10, 5) == 0 && ref_round(0x1.8p-24f, 10, 5) == 2 &&
               ref_round(1.0f, 7, 8) == 0x3f80 && ref_round(-0.0f, 10, 5) == 0x8000,
           "ref_round");
}

static void test_f16_to_f32(void) {
    int n_sub = 0, n_nan = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = f16_to_f32((uint16_t)h);
        double ref = ref_f16((uint16_t)h);
        if (isnan(ref)) {
            n_nan++;
            EXPECTQ(isnan(got) && !signbit(got) == !(h & 0x8000), "f16 %04x: %a, want a NaN of the same sign",
                    (unsigned)h, got);
        } else {
            n_sub += ref != 0 && fabs(ref) < 0x1p-14;
            EXPECTQ(same_bits(got, (float)ref), "f16 %04x: %a, want %a", (unsigned)h, got, ref);
        }
    }
    EXPECT(n_nan == 2 * 1023 && n_sub == 2 * 1023, "census: %d NaN, %d subnormal", n_nan, n_sub);
    EXPECT(f16_to_f32(0x7c00) == INFINITY && f16_to_f32(0xfc00) == -INFINITY, "infinities");
    EXPECT(f16_to_f32(0x8000) == 0 && signbit(f16_to_f32(0x8000)) && !signbit(f16_to_f32(0)), "-0");
}

static void test_f32_to_f16(void) {
    /* every f16 value survives the round trip; NaN stays NaN */
    for (uint32_t h = 0; h < 65536; h++) {
        uint16_t r = f32_to_f16(f16_to_f32((uint16_t)h));
        if (f16_is_nan((uint16_t)h))
            EXPECTQ(f16_is_nan(r) && (r & 0x8000) == (h & 0x8000), "f16 NaN %04x -> %04x", (unsigned)h, r);
        else EXPECTQ(r == h, "round trip %04x -> %04x", (unsigned)h, r);
    }
    /* every halfway point between neighbours goes to the even one, and a hair
     * either side to the nearer; the last pair is 65504 and 65536 (infinity) */
    for (int neg = 0; neg < 2; neg++) {
        uint16_t sign = neg ? 0x8000 : 0;
        for (uint32_t h = 0; h < 0x7c00; h++) {
            double lo = ref_f16((uint16_t)h), hi = h == 0x7bff ? 65536.0 : ref_f16((uint16_t)(h + 1));
            double mid = (lo + hi) / 2;
            float m = (float)mid;
            EXPECTQ((double)m == mid, "midpoint %a not exact in fp32", mid);
            float below = nextafterf(m, 0), above = nextafterf(m, INFINITY);
            if (neg) m = -m, below = -below, above = -above;
            uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
            uint16_t got = f32_to_f16(m), got_below = f32_to_f16(below), got_above = f32_to_f16(above);
            EXPECTQ(got == (sign | even), "tie %a -> %04x, want %04x", (double)m, got, sign | even);
            EXPECTQ(got_below == (sign | h), "%a -> %04x, want %04x", (double)below, got_below, sign | (unsigned)h);
            EXPECTQ(got_above == (sign | (h + 1)), "%a -> %04x, want %04x", (double)above, got_above,
                    sign | (unsigned)(h + 1));
        }
    }
    /* overflow and underflow, named */
    struct { float f; uint16_t h; } cases[] = {
        {65504.0f, 0x7bff},     {nextafterf(65520.0f, 0), 0x7bff}, {65520.0f, 0x7c00},
        {65536.0f, 0x7c00},     {1e5f, 0x7c00},                    {1e30f, 0x7c00},
        {FLT_MAX, 0x7c00},      {INFINITY, 0x7c00},                {-65520.0f, 0xfc00},
        {-FLT_MAX, 0xfc00},     {-INFINITY, 0xfc00},               {0x1p-14f, 0x0400},
        {0x1p-24f, 0x0001},     {0x1p-25f, 0x0000},                {nextafterf(0x1p-25f, 1), 0x0001},
        {0x1.8p-25f, 0x0001},   {0x1.8p-24f, 0x0002},              {0x1.4p-23f, 0x0002},
        {0x1p-26f, 0x0000},     {1e-10f, 0x0000},                  {FLT_MIN, 0x0000},
        {FLT_TRUE_MIN, 0x0000}, {-1e-10f, 0x8000},                 {-0.0f, 0x8000},
        {0.0f, 0x0000},         {1.0f, 0x3c00},                    {1.0f + 0x1p-11f, 0x3c00},
        {1.0f + 0x1.8p-10f, 0x3c02}, {1.0f + 0x1.8p-11f, 0x3c01}, {-2.0f, 0xc000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        EXPECT(f32_to_f16(cases[i].f) == cases[i].h, "%a -> %04x, want %04x", (double)cases[i].f,
               f32_to_f16(cases[i].f), cases[i].h);
    /* NaN patterns a plain shift or a rounding add would turn into inf or 0 */
    uint32_t nans[] = {0x7f800001, 0x7f801fff, 0x7f802000, 0x7fc00000, 0x7fffffff,
                       0xff800001, 0xffc00000, 0xffffffff, 0x7fbfffff};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t r = f32_to_f16(float_of(nans[i]));
        EXPECT(f16_is_nan(r) && (r >> 15) == (nans[i] >> 31), "NaN %08x -> %04x", (unsigned)nans[i], r);
    }
    /* random floats across the whole f16 range and beyond, against nearbyint */
    for (int i = 0; i < 300000; i++) {
        uint32_t u = (uint32_t)rng_u64();
        if (i % 4) u = (u & 0x807fffffu) | (uint32_t)(95 + rng_int(50)) << 23; /* exponents 2^-32 .. 2^17 */
        float f = float_of(u);
        if (isnan(f)) continue;
        uint16_t got = f32_to_f16(f), want = ref_round(f, 10, 5);
        EXPECTQ(got == want, "%a (%08x) -> %04x, want %04x", (double)f, (unsigned)u, got, want);
    }
}

static void test_bf16(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        float got = bf16_to_f32((uint16_t)h);
        double ref = ref_bf16((uint16_t)h);
        if (isnan(ref))
            EXPECTQ(isnan(got) && !signbit(got) == !(h & 0x8000), "bf16 %04x: %a, want NaN", (unsigned)h, got);
        else EXPECTQ(same_bits(got, (float)ref), "bf16 %04x: %a, want %a", (unsigned)h, got, ref);
        uint16_t r = f32_to_bf16(got);
        if (bf16_is_nan((uint16_t)h))
            EXPECTQ(bf16_is_nan(r) && (r & 0x8000) == (h & 0x8000), "bf16 NaN %04x -> %04x", (unsigned)h, r);
        else EXPECTQ(r == h, "bf16 round trip %04x -> %04x", (unsigned)h, r);
    }
    /* ties to even between every pair of neighbours (the last: max and 2^128) */
    for (int neg = 0; neg < 2; neg++) {
        uint16_t sign = neg ? 0x8000 : 0;
        for (uint32_t h = 0; h < 0x7f80; h++) {
            double lo = ref_bf16((uint16_t)h), hi = h == 0x7f7f ? 0x1p128 : ref_bf16((uint16_t)(h + 1));
            double mid = (lo + hi) / 2;
            float m = (float)mid;
            EXPECTQ((double)m == mid, "midpoint %a not exact in fp32", mid);
            float below = nextafterf(m, 0), above = nextafterf(m, INFINITY);
            if (neg) m = -m, below = -below, above = -above;
            uint16_t even = (uint16_t)((h & 1) ? h + 1 : h);
            uint16_t got = f32_to_bf16(m), got_below = f32_to_bf16(below), got_above = f32_to_bf16(above);
            EXPECTQ(got == (sign | even), "tie %a -> %04x, want %04x", (double)m, got, sign | even);
            EXPECTQ(got_below == (sign | h), "%a -> %04x, want %04x", (double)below, got_below, sign | (unsigned)h);
            EXPECTQ(got_above == (sign | (h + 1)), "%a -> %04x, want %04x", (double)above, got_above,
                    sign | (unsigned)(h + 1));
        }
    }
    uint32_t nans[] = {0x7f800001, 0x7f80ffff, 0x7f810000, 0x7fc00000, 0x7fffffff,
                       0xff800001, 0xffffffff, 0x7fff8000, 0x7f808000};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t r = f32_to_bf16(float_of(nans[i]));
        EXPECT(bf16_is_nan(r) && (r >> 15) == (nans[i] >> 31), "NaN %08x -> %04x", (unsigned)nans[i], r);
    }
    EXPECT(f32_to_bf16(INFINITY) == 0x7f80 && f32_to_bf16(-INFINITY) == 0xff80 && f32_to_bf16(FLT_MAX) == 0x7f80 &&
               f32_to_bf16(-0.0f) == 0x8000 && f32_to_bf16(FLT_TRUE_MIN) == 0 &&
               f32_to_bf16(1.0f + 0x1p-8f) == 0x3f80 && f32_to_bf16(1.0f + 0x1.8p-7f) == 0x3f82,
           "bf16 named cases");
    for (int i = 0; i < 300000; i++) {
        float f = float_of((uint32_t)rng_u64());
        if (isnan(f)) continue;
        uint16_t got = f32_to_bf16(f), want = ref_round(f, 7, 8);
        EXPECTQ(got == want, "%a -> %04x, want %04x", (double)f, got, want);
    }
}

/* ---- dtype traits ------------------------------------------------------- */

static void test_traits(void) {
    /* the float types; the quantized ones are test_quant's */
    static const char *names[] = {"F32", "F16", "BF16"};
    static const int bytes[] = {4, 2, 2};
    for (int t = DT_F32; t <= DT_BF16; t++) {
        const DTypeTraits *tr = dtype_traits((DType)t);
        EXPECT(tr && strcmp(tr->name, names[t]) == 0 && tr->block == 1 && tr->bytes == bytes[t] && tr->to_float &&
                   tr->dot,
               "traits of %s", names[t]);
        EXPECT(dtype_bytes((DType)t, 0) == 0, "dtype_bytes(%s, 0)", names[t]);
        for (int si = 0; si < N_SIZES; si++) {
            size_t n = (size_t)SIZES[si];
            EXPECT(dtype_bytes((DType)t, n) == n * (size_t)bytes[t], "dtype_bytes(%s, %zu) = %zu", names[t], n,
                   dtype_bytes((DType)t, n));

            /* to_float: every bit pattern, bit for bit (any NaN for a NaN) */
            void *raw = random_bits((DType)t, n);
            float *out = poisoned(n);
            tr->to_float(out, raw, n);
            for (size_t i = 0; i < n; i++) {
                double ref = ref_elem((DType)t, raw, i);
                if (isnan(ref)) EXPECTQ(isnan(out[i]), "%s to_float[%zu] = %a, want NaN", names[t], i, out[i]);
                else EXPECTQ(same_bits(out[i], (float)ref), "%s to_float[%zu] = %a, want %a", names[t], i, out[i], ref);
            }
            free(out);
            free(raw);

            /* dot: Σ w·x against the double sum */
            for (int rep = 0; rep < 4; rep++) {
                void *w = random_weights((DType)t, n);
                float *x = normals(n, 1.0);
                double ref = 0, mag = 0; /* (+ 2^-149: the fp32 result may be subnormal) */
                for (size_t i = 0; i < n; i++) {
                    double term = ref_elem((DType)t, w, i) * x[i];
                    ref += term, mag += fabs(term);
                }
                float got = tr->dot(w, x, n);
                EXPECTQ(near(got, ref, 1e-6 * fabs(ref) + 1e-12 * mag + 0x1p-149), "%s dot n=%zu: %.9g, want %.9g", names[t], n,
                        got, ref);
                free(x);
                free(w);
            }
        }
    }
}

/* ---- matmul ------------------------------------------------------------- */

static void test_matmul(void) {
    static const int tokens[] = {1, 3, 7};
    for (int t = DT_F32; t <= DT_BF16; t++) {
        for (int ri = 0; ri < N_SIZES; ri++) {
            for (int ci = 0; ci < N_SIZES; ci++) {
                int rows = SIZES[ri], cols = SIZES[ci];
                size_t nw = (size_t)rows * (size_t)cols;
                void *wd = random_weights((DType)t, nw);
                Mat w = {wd, (DType)t, rows, cols, NULL, NULL};
                double *wr = xmalloc(nw * sizeof *wr);
                for (size_t i = 0; i < nw; i++) wr[i] = ref_elem((DType)t, wd, i);

                for (int r = 0; r < rows; r++) { /* embedding lookup */
                    float *row = poisoned((size_t)cols);
                    mat_get_row(row, &w, r);
                    for (int c = 0; c < cols; c++)
                        EXPECTQ(same_bits(row[c], (float)wr[(size_t)r * cols + c]), "dtype %d get_row %d[%d]", t, r,
                                c);
                    free(row);
                }

                for (int ti = 0; ti < 3; ti++) {
                    int n = tokens[ti];
                    float *x = normals((size_t)n * cols, 1.0);
                    float *out = poisoned((size_t)n * rows);
                    matmul_ref(out, x, &w, n);
                    for (int k = 0; k < n; k++)
                        for (int r = 0; r < rows; r++) {
                            double ref = 0, mag = 0;
                            for (int c = 0; c < cols; c++) {
                                double term = wr[(size_t)r * cols + c] * x[(size_t)k * cols + c];
                                ref += term, mag += fabs(term);
                            }
                            float got = out[(size_t)k * rows + r];
                            EXPECTQ(near(got, ref, 1e-6 * fabs(ref) + 1e-12 * mag + 0x1p-149),
                                    "dtype %d %dx%d n=%d out[%d][%d] = %.9g, want %.9g", t, rows, cols, n, k, r, got,
                                    ref);
                        }
                    /* batch invariance: each token alone gives the same bits */
                    for (int k = 0; k < n; k++) {
                        float *xk = copy_floats(x + (size_t)k * cols, (size_t)cols);
                        float *one = poisoned((size_t)rows);
                        matmul_ref(one, xk, &w, 1);
                        EXPECTQ(memcmp(one, out + (size_t)k * rows, (size_t)rows * sizeof *one) == 0,
                                "dtype %d %dx%d: token %d of %d differs from that token alone", t, rows, cols, k, n);
                        free(one);
                        free(xk);
                    }
                    free(out);
                    free(x);
                }
                free(wr);
                free(wd);
            }
        }
    }
}

/* ---- elementwise -------------------------------------------------------- */

static void test_rmsnorm(void) {
    for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si];
        for (int rep = 0; rep < 3; rep++) {
            float eps = rep == 2 ? 1e-6f : 1e-5f;
            float *x = normals((size_t)n, rep == 1 ? 1e3 : 2.0), *w = normals((size_t)n, 1.0);
            if (rep == 2)
                for (int i = 0; i < n; i++) x[i] = 0; /* all zero: eps keeps it finite */
            float *out = poisoned((size_t)n);
            rmsnorm(out, x, w, n, eps);
            double ss = 0;
            for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
            double r = 1 / sqrt(ss / n + (double)eps);
            for (int i = 0; i < n; i++) {
                double ref = x[i] * r * w[i];
                EXPECTQ(near(out[i], ref, 1e-6 * fabs(ref)), "rmsnorm n=%d [%d] = %.9g, want %.9g", n, i, out[i], ref);
            }
            float *y = copy_floats(x, (size_t)n); /* in place: the same bits */
            rmsnorm(y, y, w, n, eps);
            EXPECTQ(memcmp(y, out, (size_t)n * sizeof *y) == 0, "rmsnorm in place differs, n=%d", n);
            free(y);
            free(out);
            free(w);
            free(x);
        }
    }
}

static void test_rope(void) {
    static const int dims[] = {2, 6, 34, 64, 130}; /* pairs: 1, 3, 17, 32, 65 */
    static const double thetas[] = {10000.0, 1000000.0};
    static const long positions[] = {0, 1, 2, 17, 1000, 32767, 123457, (1L << 24) + 3};
    for (int di = 0; di < 5; di++) {
        for (int th = 0; th < 2; th++) {
            int hd = dims[di], half = hd / 2;
            double theta = thetas[th];
            float *inv = poisoned((size_t)half);
            rope_freqs(inv, hd, theta);
            EXPECT(inv[0] == 1.0f, "inv_freq[0] = %.9g", inv[0]);
            for (int i = 0; i < half; i++) {
                double ref = 1 / pow(theta, (double)(2 * i) / hd);
                EXPECTQ(near(inv[i], ref, 3e-6 * ref), "inv_freq hd=%d theta=%g [%d] = %.9g, want %.9g", hd, theta,
                        i, inv[i], ref);
                if (i > 0) EXPECTQ(inv[i] < inv[i - 1], "inv_freq not decreasing at %d", i);
            }
            for (int hi = 0; hi < 2; hi++) {
                int nh = hi ? 3 : 1;
                size_t len = (size_t)nh * hd;
                for (size_t pi = 0; pi < sizeof positions / sizeof positions[0]; pi++) {
                    long pos = positions[pi];
                    float *x0 = normals(len, 1.0), *x = copy_floats(x0, len);
                    rope(x, nh, hd, pos, inv);
                    if (pos == 0) EXPECTQ(memcmp(x, x0, len * sizeof *x) == 0, "rope at position 0 is not identity");
                    for (int h = 0; h < nh; h++)
                        for (int i = 0; i < half; i++) {
                            size_t o = (size_t)h * hd + 2 * (size_t)i;
                            double a = x0[o], b = x0[o + 1];
                            float angle = (float)pos * inv[i];
                            double c = cos((double)angle), s = sin((double)angle);
                            double re = a * c - b * s, im = a * s + b * c, norm = hypot(a, b);
                            EXPECTQ(near(x[o], re, 1e-6 * norm) && near(x[o + 1], im, 1e-6 * norm),
                                    "rope hd=%d pos=%ld head %d pair %d: (%.9g, %.9g), want (%.9g, %.9g)", hd, pos, h,
                                    i, x[o], x[o + 1], re, im);
                            double got_norm = hypot(x[o], x[o + 1]);
                            EXPECTQ(fabs(got_norm - norm) <= 1e-6 * norm, "rope norm %.9g, was %.9g", got_norm, norm);
                        }
                    free(x);
                    free(x0);
                }
            }
            free(inv);
        }
    }
}

/* softmax of x in double, max subtracted */
static void ref_softmax(double *p, const float *x, int n) {
    double mx = x[0], sum = 0;
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) sum += p[i] = exp((double)x[i] - mx);
    for (int i = 0; i < n; i++) p[i] /= sum;
}

static void check_softmax(const float *x0, int n, double rtol, const char *what) {
    float *x = copy_floats(x0, (size_t)n);
    double *p = xmalloc0((size_t)n * sizeof *p), sum = 0;
    ref_softmax(p, x0, n);
    softmax(x, n);
    for (int i = 0; i < n; i++) {
        sum += x[i];
        EXPECTQ(near(x[i], p[i], rtol * p[i] + 1e-30), "softmax %s n=%d [%d] = %.9g, want %.9g", what, n, i, x[i], p[i]);
    }
    EXPECTQ(fabs(sum - 1) <= 1e-5, "softmax %s n=%d sums to %.9g", what, n, sum);
    free(p);
    free(x);
}

static void test_softmax(void) {
    for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si];
        float *x = normals((size_t)n, 4.0);
        check_softmax(x, n, 2e-6, "normal");

        /* large values: no overflow (all within a factor 2, so x - max is exact) */
        for (int i = 0; i < n; i++) x[i] = (float)(500 + 100 * rng_unit());
        check_softmax(x, n, 2e-6, "large");

        /* adding a constant changes nothing: with dyadic values x + c and the
         * differences are exact, so the result is the same to the bit */
        float *y = xmalloc((size_t)n * sizeof *y);
        for (int i = 0; i < n; i++) x[i] = (float)(rng_int(4097) - 2048) / 256, y[i] = x[i] + 1000.0f;
        float *xs = copy_floats(x, (size_t)n);
        softmax(xs, n);
        softmax(y, n);
        EXPECTQ(memcmp(xs, y, (size_t)n * sizeof *y) == 0, "softmax(x + 1000) != softmax(x), n=%d", n);
        free(xs);
        free(y);
        free(x);
    }
    float one[1] = {123.0f};
    softmax(one, 1);
    EXPECT(one[0] == 1.0f, "softmax of one value: %.9g", one[0]);
    float extreme[3] = {FLT_MAX, -FLT_MAX, FLT_MAX};
    softmax(extreme, 3);
    EXPECT(extreme[0] == 0.5f && extreme[1] == 0 && extreme[2] == 0.5f, "softmax(±FLT_MAX) = %g %g %g", extreme[0],
           extreme[1], extreme[2]);
    float masked[4] = {-INFINITY, 2.0f, -INFINITY, 2.0f};
    softmax(masked, 4);
    EXPECT(masked[0] == 0 && masked[1] == 0.5f && masked[2] == 0 && masked[3] == 0.5f, "softmax with -inf: %g %g %g %g",
           masked[0], masked[1], masked[2], masked[3]);
}

static void test_silu_mul(void) {
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 20.0f, -20.0f, 100.0f, -100.0f};
    for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si];
        float *a = normals((size_t)n, 4.0), *b = normals((size_t)n, 2.0), *out = poisoned((size_t)n);
        for (int i = 0; i < n && i < 8 && n > 3; i++) a[i] = special[i];
        silu_mul(out, a, b, n);
        for (int i = 0; i < n; i++) {
            double ref = a[i] / (1 + exp(-(double)a[i])) * b[i];
            EXPECTQ(near(out[i], ref, 1e-6 * fabs(ref) + 1e-30), "silu_mul(%.9g, %.9g) = %.9g, want %.9g", a[i], b[i],
                    out[i], ref);
        }
        free(out);
        free(b);
        free(a);
    }
}

static void test_attention(void) {
    const int n_kv = 3, head = 1; /* the middle head; the others are NaN and must not be read */
    for (int di = 0; di < N_SIZES; di++) {
        for (int ni = 0; ni < N_SIZES; ni++) {
            int hd = SIZES[di], n = SIZES[ni], off = head * hd;
            size_t kv_dim = (size_t)n_kv * hd;
            float **k = xmalloc((size_t)n * sizeof *k), **v = xmalloc((size_t)n * sizeof *v);
            for (int j = 0; j < n; j++) { /* separate allocations, like cache slots */
                k[j] = poisoned(kv_dim), v[j] = poisoned(kv_dim);
                for (int d = 0; d < hd; d++) k[j][off + d] = (float)rng_normal(), v[j][off + d] = (float)rng_normal();
            }
            float *q = normals((size_t)hd, 3.0), *out = poisoned((size_t)hd), *scores = poisoned((size_t)n);
            float scale = 1.0f / sqrtf((float)hd);
            attention(out, q, (const float *const *)k, (const float *const *)v, n, off, hd, scale, scores);

            double *p = xmalloc((size_t)n * sizeof *p), mx = -INFINITY, sum = 0;
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int d = 0; d < hd; d++) s += (double)q[d] * k[j][off + d];
                p[j] = s * scale;
                mx = p[j] > mx ? p[j] : mx;
            }
            for (int j = 0; j < n; j++) sum += p[j] = exp(p[j] - mx);
            for (int j = 0; j < n; j++) p[j] /= sum;
            for (int d = 0; d < hd; d++) {
                double ref = 0, mag = 0;
                for (int j = 0; j < n; j++) ref += p[j] * v[j][off + d], mag += p[j] * fabs(v[j][off + d]);
                EXPECTQ(near(out[d], ref, 2e-5 * mag + 1e-7), "attention hd=%d n=%d out[%d] = %.9g, want %.9g", hd, n,
                        d, out[d], ref);
            }
            if (n == 1)
                EXPECTQ(memcmp(out, v[0] + off, (size_t)hd * sizeof *out) == 0, "attention over one key is not v, hd=%d",
                        hd);
            free(p);
            free(scores);
            free(out);
            free(q);
            for (int j = 0; j < n; j++) free(k[j]), free(v[j]);
            free(v);
            free(k);
        }
    }
}

static void test_add_axpy(void) {
    for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si];
        float *o = normals((size_t)n, 3.0), *x = normals((size_t)n, 3.0);
        float *y = copy_floats(o, (size_t)n);
        add(y, x, n);
        for (int i = 0; i < n; i++) /* one rounding of the exact sum */
            EXPECTQ(same_bits(y[i], (float)((double)o[i] + x[i])), "add [%d] = %.9g + %.9g -> %.9g", i, o[i], x[i],
                    y[i]);
        free(y);
        float a = (float)rng_normal();
        y = copy_floats(o, (size_t)n);
        axpy(y, a, x, n);
        for (int i = 0; i < n; i++) {
            double ax = (double)a * x[i], ref = o[i] + ax;
            EXPECTQ(near(y[i], ref, 0x1p-22 * (fabs(o[i]) + fabs(ax))), "axpy [%d] = %.9g, want %.9g", i, y[i], ref);
        }
        free(y);
        free(x);
        free(o);
    }
}

static int ref_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_argmax(void) {
    for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si];
        float *x = normals((size_t)n, 1.0);
        EXPECTQ(argmax(x, n) == ref_argmax(x, n), "argmax n=%d", n);
        for (int i = 0; i < n; i++) x[i] = -1000.0f - (float)rng_int(50); /* all negative */
        EXPECTQ(argmax(x, n) == ref_argmax(x, n), "argmax all negative n=%d", n);
        for (int i = 0; i < n; i++) x[i] = 0.25f;
        EXPECTQ(argmax(x, n) == 0, "argmax all equal n=%d: %d", n, argmax(x, n));
        if (n >= 3) {
            int a = 1 + rng_int(n - 1), b = rng_int(a); /* b < a */
            x[a] = x[b] = 7.0f;
            EXPECTQ(argmax(x, n) == b, "argmax tie at %d and %d: %d", b, a, argmax(x, n));
            x[n - 1] = 8.0f;
            EXPECTQ(argmax(x, n) == n - 1, "argmax at the end");
            for (int i = 0; i < n; i++) x[i] = -INFINITY;
            x[2] = -FLT_MAX;
            EXPECTQ(argmax(x, n) == 2, "argmax among -inf");
        }
        free(x);
    }
}

/* ---- sampler ------------------------------------------------------------ */

static int draw(Sampler *s, const float *logits, int n) {
    float *l = copy_floats(logits, (size_t)n); /* the sampler may overwrite them */
    int t = sampler_sample(s, l);
    free(l);
    return t;
}

/* Random logits whose maximum leads the runner-up by at least 1. */
static float *clear_winner(int n) {
    float *l = normals((size_t)n, 2.0);
    int am = ref_argmax(l, n);
    for (int i = 0; i < n; i++)
        if (i != am && l[i] > l[am] - 1) l[i] = l[am] - 1;
    return l;
}

/* The distribution the parameters document: softmax(logits / T), the k most
 * likely, those >= min_p · pmax, the smallest prefix with mass >= top_p. */
static void ref_dist(double *p, const float *logits, int n, const SamplerParams *sp) {
    float *x = copy_floats(logits, (size_t)n);
    for (int i = 0; i < n; i++) x[i] = (float)((double)x[i] / sp->temperature);
    ref_softmax(p, x, n);
    int *ord = xmalloc((size_t)n * sizeof *ord);
    for (int i = 0; i < n; i++) ord[i] = i;
    for (int i = 1; i < n; i++) /* insertion sort, most likely first */
        for (int j = i; j > 0 && p[ord[j]] > p[ord[j - 1]]; j--) {
            int tmp = ord[j];
            ord[j] = ord[j - 1], ord[j - 1] = tmp;
        }
    int keep = sp->top_k > 0 && sp->top_k < n ? sp->top_k : n;
    double cum = 0, pmax = p[ord[0]];
    for (int i = 0; i < keep; i++) {
        if (i > 0 && p[ord[i]] < sp->min_p * pmax) {
            keep = i;
            break;
        }
        cum += p[ord[i]];
        if (cum >= sp->top_p) {
            keep = i + 1;
            break;
        }
    }
    double total = 0;
    for (int i = 0; i < keep; i++) total += p[ord[i]];
    for (int i = keep; i < n; i++) p[ord[i]] = 0;
    for (int i = 0; i < keep; i++) p[ord[i]] /= total;
    free(ord);
    free(x);
}

static void check_distribution(const SamplerParams *sp, const char *what) {
    static const float logits[4] = {0.5f, 1.5f, -0.3f, 1.0f};
    const int draws = 20000;
    double p[4];
    int count[4] = {0};
    ref_dist(p, logits, 4, sp);
    Sampler s;
    EXPECT(sampler_init(&s, sp, 4) == 0, "%s", err_msg());
    for (int i = 0; i < draws; i++) {
        int t = draw(&s, logits, 4);
        EXPECTQ(t >= 0 && t < 4, "sampled %d", t);
        if (t >= 0 && t < 4) count[t]++;
    }
    for (int i = 0; i < 4; i++) {
        double f = (double)count[i] / draws;
        EXPECT(fabs(f - p[i]) <= 0.02, "%s: token %d drawn %.4f of the time, want %.4f", what, i, f, p[i]);
        if (p[i] == 0) EXPECT(count[i] == 0, "%s: token %d is excluded but was drawn %d times", what, i, count[i]);
    }
    sampler_free(&s);
}

static void test_sampler(void) {
    Sampler s;
    /* out-of-range parameters */
    SamplerParams bad[] = {
        {.temperature = -1, .top_p = 1},
        {.temperature = 1, .top_p = 0},
        {.temperature = 1, .top_p = 1.5f},
        {.temperature = 1, .top_p = 1, .min_p = 1},
        {.temperature = 1, .top_p = 1, .top_k = -1},
        {.temperature = NAN, .top_p = 1},
        {.temperature = 1, .top_p = NAN},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err_set("%s", "");
        EXPECT(sampler_init(&s, &bad[i], 10) == -1 && err_msg()[0], "bad parameters %zu accepted", i);
        sampler_free(&s);
    }
    SamplerParams edges[] = {
        {.temperature = 0, .top_p = 1},
        {.temperature = 100, .top_p = 1, .top_k = 1000, .min_p = 0.99f},
        {.temperature = 1, .top_p = 1e-9f},
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        EXPECT(sampler_init(&s, &edges[i], 10) == 0, "good parameters %zu refused: %s", i, err_msg());
        sampler_free(&s);
    }

    /* a tiny temperature must not overflow logits / T into NaNs */
    {
        SamplerParams tiny = {.temperature = 1e-38f, .top_p = 1, .seed = 3};
        EXPECT(sampler_init(&s, &tiny, 4) == 0, "%s", err_msg());
        float l[4] = {1, 5, 3, 4.9f};
        EXPECT(sampler_sample(&s, l) == 1, "temperature 1e-38 is not argmax");
        sampler_free(&s);
    }

    for (int si = 0; si < N_SIZES; si++) {
        int n = SIZES[si];
        /* temperature 0: argmax, the first on ties */
        SamplerParams greedy = {.temperature = 0, .top_p = 1, .seed = 5};
        EXPECT(sampler_init(&s, &greedy, n) == 0, "%s", err_msg());
        for (int rep = 0; rep < 10; rep++) {
            float *l = normals((size_t)n, 2.0);
            if (rep == 9)
                for (int i = 0; i < n; i++) l[i] = 1.0f;
            int want = ref_argmax(l, n), got = draw(&s, l, n);
            EXPECTQ(got == want, "greedy n=%d: %d, want %d", n, got, want);
            free(l);
        }
        sampler_free(&s);

        /* a single survivor is the argmax at any temperature */
        static const float temps[] = {0.05f, 0.7f, 1.0f, 3.0f, 100.0f};
        for (int ti = 0; ti < 5; ti++) {
            SamplerParams only[3] = {
                {.temperature = temps[ti], .top_p = 1, .top_k = 1, .seed = 11},
                {.temperature = temps[ti], .top_p = 1e-6f, .seed = 12},
                {.temperature = temps[ti], .top_p = 1, .min_p = 0.999f, .seed = 13},
            };
            for (int k = 0; k < 3; k++) {
                EXPECT(sampler_init(&s, &only[k], n) == 0, "%s", err_msg());
                for (int rep = 0; rep < 10; rep++) {
                    float *l = clear_winner(n);
                    int want = ref_argmax(l, n), got = draw(&s, l, n);
                    EXPECTQ(got == want, "%s n=%d T=%g: %d, want %d", k == 0 ? "top_k=1" : k == 1 ? "top_p tiny" : "min_p",
                            n, temps[ti], got, want);
                    free(l);
                }
                float *flat = poisoned((size_t)n); /* all equal: the first, as argmax */
                for (int i = 0; i < n; i++) flat[i] = -3.0f;
                if (k == 0) EXPECTQ(draw(&s, flat, n) == 0, "top_k=1 on a tie");
                free(flat);
                sampler_free(&s);
            }
        }

        /* same seed, same sequence; another seed, another one */
        SamplerParams sp = {.temperature = 0.8f, .top_p = 0.95f, .top_k = 40, .min_p = 0.01f, .seed = 1234};
        Sampler a, b, c;
        EXPECT(sampler_init(&a, &sp, n) == 0 && sampler_init(&b, &sp, n) == 0, "%s", err_msg());
        sp.seed = 1235;
        EXPECT(sampler_init(&c, &sp, n) == 0, "%s", err_msg());
        int differ = 0;
        for (int rep = 0; rep < 200; rep++) {
            float *l = normals((size_t)n, 1.0);
            int ta = draw(&a, l, n), tb = draw(&b, l, n), tc = draw(&c, l, n);
            EXPECTQ(ta == tb, "n=%d draw %d: %d and %d from the same seed", n, rep, ta, tb);
            EXPECTQ(ta >= 0 && ta < n, "token %d out of range", ta);
            differ += ta != tc;
            free(l);
        }
        if (n >= 17) EXPECT(differ > 0, "n=%d: seeds 1234 and 1235 gave the same 200 draws", n);
        sampler_free(&c);
        sampler_free(&b);
        sampler_free(&a);
    }

    /* the empirical distribution matches the documented one */
    check_distribution(&(SamplerParams){.temperature = 1, .top_p = 1, .seed = 99}, "T=1");
    check_distribution(&(SamplerParams){.temperature = 2, .top_p = 1, .top_k = 3, .seed = 7}, "T=2 top_k=3");
    check_distribution(&(SamplerParams){.temperature = 1, .top_p = 0.7f, .seed = 8}, "top_p=0.7");
    check_distribution(&(SamplerParams){.temperature = 1, .top_p = 1, .min_p = 0.3f, .seed = 9}, "min_p=0.3");
    check_distribution(&(SamplerParams){.temperature = 0.5f, .top_p = 1, .seed = 10}, "T=0.5");
}

int main(void) {
    test_reference_sanity();
    test_f16_to_f32();
    test_f32_to_f16();
    test_bf16();
    test_traits();
    test_matmul();
    test_rmsnorm();
    test_rope();
    test_softmax();
    test_silu_mul();
    test_attention();
    test_add_axpy();
    test_argmax();
    test_sampler();
    return test_done("test_kern");
}
