/* test_quant_k2 — the quantized types added by issue 21: q2_K, q3_K,
 * iq4_nl, iq4_xs (read and written), tq1_0, tq2_0 (read only).
 *
 *  - sizes, bits per weight and traits (tq1_0, tq2_0: quantize NULL; the
 *    others' quantizers are tested in test_quant.c);
 *  - kvalues_iq4nl's defining properties;
 *  - one hand-made block per type whose floats are worked out by hand from
 *    the format's definition (the expected values are literals);
 *  - tq1_0's base-3 packing: every trit pattern a byte can hold;
 *  - random blocks (every byte random: tq2_0's unused code 3 and tq1_0's
 *    bytes past 242 included) against an element-by-element decoder written
 *    here from the layouts, in double;
 *  - the reference dot (bit for bit dequantize + double sum) and the generic
 *    table's integer dot (within 1e-5·Σ|w·x| of the exact product with x
 *    rounded to q8_0);
 *  - every kernel table falls back to the generic dot for these types, or
 *    (avx2, avx512 and neon: q2_K, q3_K, iq4_nl, iq4_xs) has a tile of the
 *    same operations (avx2, avx512: also packed groups of q2_K, q3_K and
 *    iq4_xs), and matmul through it, packed or not, gives the generic
 *    table's bits whatever the tokens, tile tails and threads.
 * A model of these types is in test_ggufmodel.c. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/pool.h"
#include "base/util.h"
#include "harness.h"
#include "kern/dtype.h"
#include "kern/kern.h"
#include "kern/matmul.h"
#include "kern/quant.h"
#include "quantref.h"
#include "randblocks.h"

static const DType TYPES[] = {DT_Q2_K, DT_Q3_K, DT_IQ4_NL, DT_IQ4_XS, DT_TQ1_0, DT_TQ2_0};
#define N_TYPES (int)(sizeof TYPES / sizeof TYPES[0])

static uint64_t rng_s = 0x3243f6a8885a308dull;
static uint64_t rng_u64(void) { return randblocks_next(&rng_s); }
static double rng_normal(void) {
    double u = ((double)(rng_u64() >> 11) + 0.5) * 0x1.0p-53, v = (double)(rng_u64() >> 11) * 0x1.0p-53;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* ---- an independent decoder, from the layouts in quant.h ----------------- */

/* 2-bit element i of q2_K/q3_K/tq2_0: element 32j + l of half h is bits
 * 2j..2j+1 of byte 32h + l */
static int crumb(const unsigned char *qs, int i) { return qs[32 * (i / 128) + i % 32] >> (2 * (i % 128 / 32)) & 3; }

/* Trit k (most significant first) of a tq1_0 byte: the byte is the fraction
 * byte/256 of the base-3 number, so trit k is floor(byte·3^(k+1)/256) mod 3. */
static int trit_of(int byte, int k) {
    int p = 1;
    for (int j = 0; j <= k; j++) p *= 3;
    return byte * p / 256 % 3;
}

/* Element i (within its block) of the block at b. */
static double ref_elem(DType t, const unsigned char *b, int i) {
    switch (t) {
    case DT_Q2_K: { /* scales[16] qs[64] d dmin */
        int sc = b[i / 16] & 15, mn = b[i / 16] >> 4;
        return ref_half(b + 80) * sc * crumb(b + 16, i) - ref_half(b + 82) * mn;
    }
    case DT_Q3_K: { /* hmask[32] qs[64] scales[12] d */
        const unsigned char *sc = b + 96;
        int s = i / 16;
        /* scales 0-7: low nibbles of bytes 0-7, 8-15: their high nibbles;
         * byte 8 + k: top 2 bits of scales k, k+4, k+8, k+12 (from bit 0) */
        int low = s < 8 ? sc[s] & 15 : sc[s - 8] >> 4, top = sc[8 + s % 4] >> (2 * (s / 4)) & 3;
        int third = b[i % 32] >> (i / 32) & 1;
        return ref_half(b + 108) * ((low | top << 4) - 32) * (crumb(b + 32, i) - (third ? 0 : 4));
    }
    case DT_IQ4_NL: return ref_half(b) * kvalues_iq4nl[nib32(b + 2, i)];
    case DT_IQ4_XS: { /* d scales_h scales_l[4] qs[128] */
        int s = i / 32, sh = b[2] | b[3] << 8;
        int ls = (b[4 + s / 2] >> (4 * (s % 2)) & 15) | (sh >> (2 * s) & 3) << 4;
        return ref_half(b) * (ls - 32) * kvalues_iq4nl[nib32(b + 8 + 16 * s, i % 32)];
    }
    case DT_TQ1_0: { /* qs[48] qh[4] d */
        int byte, k;
        if (i < 160) byte = b[i % 32], k = i / 32;
        else if (i < 240) byte = b[32 + (i - 160) % 16], k = (i - 160) / 16;
        else byte = b[48 + (i - 240) % 4], k = (i - 240) / 4;
        return ref_half(b + 52) * (trit_of(byte, k) - 1);
    }
    case DT_TQ2_0: return ref_half(b + 64) * (crumb(b, i) - 1);
    default: CHECK(0);
    }
    return 0;
}

/* ---- sizes, traits, the iq4 levels --------------------------------------- */

static void test_traits(void) {
    static const struct {
        DType t;
        const char *name;
        int ggml, block, bytes;
        double bpw;
    } want[] = {
        {DT_Q2_K, "q2_K", 10, 256, 84, 2.625},    {DT_Q3_K, "q3_K", 11, 256, 110, 3.4375},
        {DT_IQ4_NL, "iq4_nl", 20, 32, 18, 4.5},   {DT_IQ4_XS, "iq4_xs", 23, 256, 136, 4.25},
        {DT_TQ1_0, "tq1_0", 34, 256, 54, 1.6875}, {DT_TQ2_0, "tq2_0", 35, 256, 66, 2.0625},
    };
    for (int i = 0; i < N_TYPES; i++) {
        const DTypeTraits *tr = dtype_traits(want[i].t);
        EXPECT(want[i].t == TYPES[i] && !strcmp(tr->name, want[i].name) && tr->gguf_type == want[i].ggml &&
                   tr->block == want[i].block && tr->bytes == want[i].bytes && tr->to_float && tr->dot && !tr->quantize == (want[i].t >= DT_TQ1_0),
               "traits of %s", want[i].name);
        EXPECT(8.0 * tr->bytes / tr->block == want[i].bpw, "%s: %g bits per weight", tr->name, want[i].bpw);
        DType d = DT_COUNT;
        EXPECT(dtype_from_ggml((uint32_t)want[i].ggml, &d) == 0 && d == want[i].t, "dtype_from_ggml(%d)", want[i].ggml);
    }
}

/* kvalues_iq4nl: its values are data (quant.c says whence); what makes them
 * the iq4 grid is checked here: 16 int8 levels, strictly rising from -127 to
 * 113, the steps narrowest across zero (-10 to 1) and never narrowing
 * outward, so the grid is densest where weights are. */
static void test_kvalues(void) {
    const int8_t *k = kvalues_iq4nl;
    EXPECT(k[0] == -127 && k[15] == 113, "iq4 levels span -127..113");
    int sum = 0, narrow = 0;
    for (int i = 0; i < 16; i++) sum += k[i];
    for (int i = 1; i < 16; i++) {
        EXPECT(k[i] > k[i - 1], "iq4 levels rise at %d", i);
        if (k[i] - k[i - 1] < k[narrow + 1] - k[narrow]) narrow = i - 1;
    }
    EXPECT(narrow == 7 && k[7] < 0 && k[8] > 0, "the narrowest step crosses zero (step %d)", narrow);
    for (int i = 8; i < 15; i++) EXPECT(k[i + 1] - k[i] >= k[i] - k[i - 1], "iq4 steps widen upward at %d", i);
    for (int i = 7; i > 0; i--) EXPECT(k[i] - k[i - 1] >= k[i + 1] - k[i], "iq4 steps widen downward at %d", i);
    EXPECT(sum == -94, "iq4 levels sum to %d", sum); /* a fingerprint of the 16 values */
}

/* ---- hand-made blocks ------------------------------------------------------ */

static void expect_block(DType t, const void *blk, const float *want, const char *what) {
    const DTypeTraits *tr = dtype_traits(t);
    float *out = poisoned((size_t)tr->block);
    tr->to_float(out, blk, (size_t)tr->block);
    int bad = 0;
    for (int i = 0; i < tr->block; i++)
        if (!(out[i] == want[i]) && bad++ < 4) EXPECTQ(0, "%s %s: element %d is %.9g, want %.9g", tr->name, what, i, out[i], want[i]);
    EXPECT(bad == 0, "%s %s: %d elements wrong", tr->name, what, bad);
    free(out);
}

static void test_known_blocks(void) {
    float w[256];
    { /* q2_K, d 0.5, dmin 0.25: element = 0.5·sc·q - 0.25·mn */
        BlockQ2_K b = {{0}, {0}, 0x3800, 0x3400};
        b.scales[0] = 0x21;  /* sc 1, mn 2 */
        b.scales[1] = 0x03;  /* sc 3, mn 0 */
        b.scales[2] = 0x12;  /* sc 2, mn 1 */
        b.scales[15] = 0xf4; /* sc 4, mn 15 */
        b.qs[0] = 0xe4;      /* q of elements 0, 32, 64, 96: 0, 1, 2, 3 */
        b.qs[16] = 0x03;     /* element 16: 3 */
        b.qs[63] = 0xc0;     /* element 255 (half 1, bits 6-7 of byte 32 + 31): 3 */
        memset(w, 0, sizeof w);
        for (int i = 0; i < 16; i++) w[i] = -0.5f, w[32 + i] = -0.25f, w[240 + i] = -3.75f;
        w[16] = 4.5f;   /* 0.5·3·3 */
        w[32] = 0.75f;  /* 0.5·2·1 - 0.25·1 */
        w[255] = 2.25f; /* 0.5·4·3 - 0.25·15 */
        /* elements 64 and 96 have q 2 and 3 in sub-blocks of scale 0: 0 */
        expect_block(DT_Q2_K, &b, w, "hand block");
    }
    { /* q3_K, d 0.5: scales 0 -> 40 (+8), 9 -> 20 (-12), 14 -> 63 (+31), the rest 32 (0) */
        BlockQ3_K b = {{0}, {0}, {0x08, 0x40, 0, 0, 0, 0, 0xf0, 0, 0xaa, 0x9a, 0xea, 0xaa}, 0x3800};
        memset(b.hmask, 0xff, sizeof b.hmask);
        b.qs[0] = 0x03;           /* element 0: 3 */
        b.hmask[1] = 0xfe;        /* element 1: 0 - 4 */
        b.qs[48] = 0x02;          /* element 144 (half 1, l 16, bits 0-1): 2 */
        b.qs[47] = 0x40;          /* element 239 (half 1, l 15, bits 6-7): 1 ... */
        b.hmask[15] = 0x7f;       /* ... - 4 (bit 4·1 + 3 clear) */
        memset(w, 0, sizeof w);
        w[0] = 12.0f;     /* 0.5·8·3 */
        w[1] = -16.0f;    /* 0.5·8·-4 */
        w[144] = -12.0f;  /* 0.5·-12·2 */
        w[239] = -46.5f;  /* 0.5·31·-3 */
        expect_block(DT_Q3_K, &b, w, "hand block");
    }
    { /* iq4_nl, d 2: levels -127 -104 -83 -65 -49 -35 -22 -10 1 13 25 38 53 69 89 113 */
        BlockIQ4_NL b = {0x4000, {0}};
        memset(b.qs, 0x77, sizeof b.qs); /* level 7 (-10) everywhere: -20 */
        b.qs[0] = 0xf0;                  /* element 0: level 0, element 16: level 15 */
        b.qs[5] = 0x98;                  /* element 5: level 8, element 21: level 9 */
        for (int i = 0; i < 32; i++) w[i] = -20.0f;
        w[0] = -254.0f, w[16] = 226.0f, w[5] = 2.0f, w[21] = 26.0f;
        expect_block(DT_IQ4_NL, &b, w, "hand block");
    }
    { /* iq4_xs, d 0.25: sub-block 0's scale 36 (+4), 7's 0 (-32), the rest 32 (0) */
        BlockIQ4_XS b = {0x3400, 0x2aaa, {0x04, 0, 0, 0}, {0}};
        memset(b.qs, 0x88, sizeof b.qs); /* level 8 (1) */
        b.qs[0] = 0x0f;                  /* element 0: level 15 (113), element 16: level 0 (-127) */
        b.qs[112 + 3] = 0x71;            /* element 227: level 1 (-104), element 243: level 7 (-10) */
        memset(w, 0, sizeof w);
        for (int i = 0; i < 32; i++) w[i] = 1.0f, w[224 + i] = -8.0f; /* 0.25·4·1, 0.25·-32·1 */
        w[0] = 113.0f, w[16] = -127.0f, w[227] = 832.0f, w[243] = 80.0f;
        expect_block(DT_IQ4_XS, &b, w, "hand block");
    }
    { /* tq1_0, d 1.5; a byte is ceil(v·256/243), v the trits (t+1) in base 3 */
        BlockTQ1_0 b = {{0}, {0}, 0x3e00};
        memset(b.qs, 128, sizeof b.qs); /* v = 11111 (121): all zero */
        memset(b.qh, 127, sizeof b.qh); /* v = 1111 then 0 (120): all zero */
        b.qs[0] = 186;  /* v = 20112 (176): elements 0, 32, 64, 96, 128 */
        b.qs[40] = 71;  /* v = 02111 (67): elements 160 + 16k + 8 */
        b.qh[3] = 209;  /* v = 2110 then 0 (198): elements 240 + 4k + 3 */
        memset(w, 0, sizeof w);
        w[0] = 1.5f, w[32] = -1.5f, w[128] = 1.5f;
        w[168] = -1.5f, w[184] = 1.5f;
        w[243] = 1.5f, w[255] = -1.5f;
        expect_block(DT_TQ1_0, &b, w, "hand block");
    }
    { /* tq2_0, d 0.5: element = 0.5·(q - 1) */
        BlockTQ2_0 b = {{0}, 0x3800};
        memset(b.qs, 0x55, sizeof b.qs); /* q 1: 0 */
        b.qs[0] = 0xe4;  /* elements 0, 32, 64, 96: q 0, 1, 2, 3 (3 is never written; it reads as 2) */
        b.qs[63] = 0x95; /* element 255: q 2 */
        memset(w, 0, sizeof w);
        w[0] = -0.5f, w[64] = 0.5f, w[96] = 1.0f, w[255] = 0.5f;
        expect_block(DT_TQ2_0, &b, w, "hand block");
    }
}

/* Every trit pattern: 5 trits in a qs byte, 4 in a qh byte, through the
 * dequantizer (d = 1). */
static void test_trits(void) {
    BlockTQ1_0 b = {{0}, {0}, 0x3c00};
    float out[256];
    int bad = 0;
    for (int v = 0; v < 243; v++) {
        int u[5];
        for (int k = 0, r = v; k < 5; k++, r /= 3) u[4 - k] = r % 3;
        memset(b.qs, randblocks_pack_trits(u, 5), sizeof b.qs);
        memset(b.qh, randblocks_pack_trits(u, 4), sizeof b.qh);
        dequantize_row_tq1_0(out, &b, 256);
        for (int k = 0; k < 5; k++) {
            bad += out[32 * k + 7] != u[k] - 1;
            bad += out[160 + 16 * k + 3] != u[k] - 1;
            if (k < 4) bad += out[240 + 4 * k + 1] != u[k] - 1;
        }
    }
    EXPECT(bad == 0, "tq1_0: %d trits decode wrong", bad);
}

/* ---- random blocks ------------------------------------------------------- */

static void test_random(void) {
    for (int ti = 0; ti < N_TYPES; ti++) {
        DType t = TYPES[ti];
        const DTypeTraits *tr = dtype_traits(t);
        int nblk = 64;
        size_t n = (size_t)nblk * tr->block, nb = (size_t)nblk * tr->bytes;
        unsigned char *raw = xmalloc(nb);
        for (size_t i = 0; i < nb; i++) raw[i] = (unsigned char)rng_u64();
        /* fp16 fields: exponents in a tame range (no inf/NaN) */
        static const struct { DType t; int off[2]; } f16s[] = {
            {DT_Q2_K, {80, 82}}, {DT_Q3_K, {108, -1}}, {DT_IQ4_NL, {0, -1}},
            {DT_IQ4_XS, {0, -1}}, {DT_TQ1_0, {52, -1}}, {DT_TQ2_0, {64, -1}},
        };
        CHECK(f16s[ti].t == t);
        for (int k = 0; k < nblk; k++)
            for (int f = 0; f < 2 && f16s[ti].off[f] >= 0; f++) {
                unsigned char *h = raw + (size_t)k * tr->bytes + f16s[ti].off[f] + 1;
                *h = (unsigned char)((*h & 0x83) | (8 + rng_u64() % 12) << 2);
            }
        float *out = poisoned(n);
        tr->to_float(out, raw, n);
        int bad = 0;
        for (int k = 0; k < nblk; k++)
            for (int i = 0; i < tr->block; i++) {
                double ref = ref_elem(t, raw + (size_t)k * tr->bytes, i);
                float got = out[(size_t)k * tr->block + i];
                /* three fp32 roundings (scale, product, minus the min) */
                double mag = t == DT_Q2_K ? fabs(ref_half(raw + (size_t)k * tr->bytes + 82)) * 30 + fabs(ref) : fabs(ref);
                if (!(fabs(got - ref) <= 4e-7 * mag + 1e-30) && bad++ < 3)
                    EXPECTQ(0, "%s random block %d element %d: %.9g, want %.9g", tr->name, k, i, got, ref);
            }
        EXPECT(bad == 0, "%s: %d random elements wrong", tr->name, bad);
        free(out);
        free(raw);
    }
}

/* ---- dots ------------------------------------------------------------------ */

static void test_dots(void) {
    const Kern *g = kern_named("generic");
    for (int ti = 0; ti < N_TYPES; ti++) {
        DType t = TYPES[ti];
        const DTypeTraits *tr = dtype_traits(t);
        static const int nblocks[] = {1, 3, 8, 11}; /* iq4_nl: 8 blocks a group, then a tail */
        for (int k = 0; k < 3; k++) {
            size_t n = (size_t)nblocks[k] * tr->block;
            unsigned char *q = xmalloc(dtype_bytes(t, n));
            test_random_blocks(q, t, n, 1.0f, &rng_s);
            float *x = xmalloc(n * sizeof *x), *wd = poisoned(n), *xd = poisoned(n);
            for (size_t i = 0; i < n; i++) x[i] = (float)rng_normal();
            tr->to_float(wd, q, n);
            /* the reference dot: dequantize, then a double sum, bit for bit */
            double ref = 0;
            for (size_t i = 0; i < n; i++) ref += (double)wd[i] * x[i];
            float got = tr->dot(q, x, n);
            EXPECTQ(got == (float)ref, "%s reference dot n=%zu: %.9g, want %.9g", tr->name, n, got, ref);
            /* the generic table's integer dot: x rounded to q8_0, then exact
             * but for the fp32 scaling and sum */
            const KernDot *kd = &g->mm[t];
            EXPECT(kd->tile && kd->act == DT_Q8_0, "%s: generic dot on q8_0 activations", tr->name);
            void *xq = xmalloc(kd->act_bytes(n));
            kd->act_quant(xq, x, n);
            dequantize_row_q8_0(xd, xq, n);
            double exact = 0, mag = 0;
            for (size_t i = 0; i < n; i++) exact += (double)wd[i] * xd[i], mag += fabs((double)wd[i] * xd[i]);
            float gd = kern_dot(kd, q, xq, n);
            EXPECTQ(fabs(gd - exact) <= 1e-5 * mag + 1e-30, "%s generic dot n=%zu: %.9g, exact %.9g (mag %g)", tr->name,
                    n, gd, exact, mag);
            free(xq), free(xd), free(wd), free(x), free(q);
        }
    }
}

/* Whether table k has its own tile for t: avx2's and neon's for q2_K, q3_K,
 * iq4_nl and iq4_xs, avx2's for tq1_0 and tq2_0 (avx512 inherits avx2's);
 * neon keeps the generic dot for tq1_0 and tq2_0. */
static int has_tile(const Kern *k, DType t) {
    int x86 = !strcmp(k->name, "avx2") || !strcmp(k->name, "avx512"), own = x86 || !strcmp(k->name, "neon");
    return (own && (t == DT_Q2_K || t == DT_Q3_K || t == DT_IQ4_NL || t == DT_IQ4_XS)) ||
           (x86 && (t == DT_TQ1_0 || t == DT_TQ2_0));
}

/* Whether table k has a packed layout for t: avx2's q2_Kx8, q3_Kx8,
 * iq4_xsx8 and iq4_nlx8, avx512's q2_Kx16, q3_Kx16 (avx512_k2.c) and the
 * avx2 table's iq4 groups. */
static int has_pack(const Kern *k, DType t) {
    return (t == DT_Q2_K || t == DT_Q3_K || t == DT_IQ4_XS || t == DT_IQ4_NL) &&
           (!strcmp(k->name, "avx2") || !strcmp(k->name, "avx512"));
}

/* Each kernel table keeps the generic dot for these types or has a tile
 * computing generic.c's operations (and, where it has one, a packed layout
 * whose tile does too; no fast dot), and matmul through it, packed or not,
 * gives the generic table's bits: over 1, 3, 8 and 11
 * super-blocks, 1..7 tokens (every tile shape and tail), 1 and 2 threads. */
static void test_fallback(void) {
    static const char *names[] = {"generic", "avx2", "avx512", "neon"};
    static const int nblocks[] = {1, 3, 8, 11}; /* iq4_nl: 8 blocks a group, then a tail */
    const Kern *g = kern_named("generic");
    enum { ROWS = 37, N = 7 };
    Pool pool;
    CHECK(pool_init(&pool, 2) == 0);
    for (int ni = 1; ni < 4; ni++) {
        const Kern *k = kern_named(names[ni]);
        if (!k) continue;
        for (int ti = 0; ti < N_TYPES; ti++) {
            DType t = TYPES[ti];
            EXPECT((has_tile(k, t) ? k->mm[t].tile != g->mm[t].tile
                                   : k->mm[t].tile == g->mm[t].tile && k->mm[t].act_quant == g->mm[t].act_quant) &&
                       !k->pack[t].pack == !has_pack(k, t) && !k->fast[t].tile,
                   "%s %s: %s", k->name, dtype_traits(t)->name, has_tile(k, t) ? "its own tile" : "the generic dot");
            for (int bi = 0; bi < 4; bi++) {
                int cols = nblocks[bi] * dtype_traits(t)->block;
                void *wd = xmalloc(dtype_bytes(t, (size_t)ROWS * cols));
                test_random_blocks(wd, t, (size_t)ROWS * cols, 0.1f, &rng_s);
                Mat w = {wd, t, ROWS, cols, NULL, NULL};
                if (!has_pack(k, t))
                    EXPECT(mat_pack(&w, k, NULL) == 0 && !w.packed, "%s %s: nothing to pack", k->name, dtype_traits(t)->name);
                float *x = xmalloc((size_t)N * cols * sizeof *x), *a = poisoned((size_t)N * ROWS), *b = poisoned((size_t)N * ROWS);
                for (int i = 0; i < N * cols; i++) x[i] = (float)rng_normal() * (i % 11 == 0 ? 5.0f : 1.0f);
                size_t sb = matmul_scratch_bytes(t, cols, N, k), sg = matmul_scratch_bytes(t, cols, N, g);
                void *scratch = xmalloc((sb > sg ? sb : sg) + 1);
                matmul(&(MatmulEnv){.kern = g, .pool = NULL, .scratch = scratch, .fast = 0}, b, x, &w, N);
                for (int pk = 0; pk <= has_pack(k, t); pk++) {
                    if (pk) EXPECT(mat_pack(&w, k, &pool) == 1 && w.packed, "%s %s: packed", k->name, dtype_traits(t)->name);
                    for (int n = 1; n <= N; n++)
                        for (int th = 0; th < 2; th++) {
                            matmul(&(MatmulEnv){.kern = k, .pool = th ? &pool : NULL, .scratch = scratch, .fast = 0}, a, x, &w, n);
                            EXPECT(!memcmp(a, b, (size_t)n * ROWS * sizeof *a),
                                   "%s %s%s cols %d, %d token(s), %d thread(s): matmul differs from generic", k->name,
                                   dtype_traits(t)->name, pk ? " packed" : "", cols, n, th + 1);
                        }
                    mat_unpack(&w);
                }
                free(scratch), free(a), free(b), free(x), free(wd);
            }
        }
    }
    pool_free(&pool);
}

int main(void) {
    test_traits();
    test_kvalues();
    test_known_blocks();
    test_trits();
    test_random();
    test_dots();
    test_fallback();
    return test_done("test_quant_k2");
}
