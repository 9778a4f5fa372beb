/* make_ref — writes tests/data/quant/ref.bin: inputs and what ggml's
 * reference quantizers make of them, for tests/unit/test_quant.c to compare
 * against bit for bit. Not part of the build: it links ggml, which the
 * project does not. To regenerate (llama.cpp tree in $LL, x86-64):
 *
 *   gcc -std=gnu11 -O3 -DNDEBUG -c -I$LL/ggml/include -I$LL/ggml/src \
 *       -I$LL/ggml/src/ggml-cpu $LL/ggml/src/ggml-quants.c -o ggml-quants.o
 *   gcc -std=gnu11 -O2 -I$LL/ggml/include -I$LL/ggml/src \
 *       tests/data/quant/make_ref.c ggml-quants.o -lm -o make_ref
 *   ./make_ref tests/data/quant/ref.bin
 *
 * (-DGGML_NATIVE=OFF semantics: no -march, so no FMA and no F16C; ggml's
 * scalar fp16 conversions round to nearest even, as ours do.) The fixture in
 * the tree was made from llama.cpp c392e5094dea (2025-02-20) for the first
 * eight types, then again with q2_K, q3_K, iq4_nl, iq4_xs added from ggml
 * d99724f2b141 (2026-08-21, the ggml repository: $LL/ggml is its root),
 * which gave the first eight types' bytes unchanged.
 *
 * Format (little-endian):
 *   "MQREF001"  u32 n_rows  u32 row_len  f32 input[n_rows][row_len]
 *   u32 n_types, then per type:
 *     char name[8] (NUL-padded)  u32 ggml_type  u32 nbytes  u8 blocks[nbytes]
 *     u64 FNV-1a of ggml's dequantization of those blocks (the f32 bytes)
 *   u32 n_rows2  u32 row_len2, then per type (same order): u64 FNV-1a of the
 *     blocks ggml makes of the rows `wide_row` generates (the same generator
 *     is in tests/unit/test_quant.c: integer arithmetic and exact double -> float
 *     conversions only, so it is the same on every IEEE machine)
 * The first input rows are the distributions listed in `fill` below. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"
#define GGML_COMMON_DECL_C
#include "ggml-common.h"
#include "ggml-quants.h"

/* ggml-quants.o needs these from ggml.c; only the table is used here. */
float ggml_table_f32_f16[1 << 16];
void ggml_abort(const char *file, int line, const char *fmt, ...) {
    fprintf(stderr, "ggml_abort %s:%d\n", file, line);
    abort();
}
size_t ggml_type_size(enum ggml_type type) { abort(); }
size_t ggml_row_size(enum ggml_type type, int64_t ne) { abort(); }
const char *ggml_type_name(enum ggml_type type) { abort(); }

static float half_exact(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

#define N_ROWS 12
#define ROW_LEN 512

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static double unif(void) { /* [0, 1) */
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}
static double normal(void) {
    double u = unif() + 1e-12, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static void fill(float *x, int row) {
    for (int i = 0; i < ROW_LEN; i++) {
        double v = 0;
        switch (row) {
        case 0: v = normal(); break;                                          /* N(0,1) */
        case 1: v = 2 * unif() - 1; break;                                    /* U(-1,1) */
        case 2: v = normal() * (i % 37 == 5 ? 60 : 1); break;                 /* outliers */
        case 3: v = 0.5 + 1.5 * unif(); break;                                /* all positive */
        case 4: v = -3 + 2.9 * unif(); break;                                 /* all negative */
        case 5: v = i < 256 ? 0.37 : -2.5; break;                             /* constant */
        case 6: v = 0; break;                                                 /* zeros */
        case 7: v = normal() * (i < 256 ? 1e-20 : 1e-6); break;               /* tiny */
        case 8: v = normal() * (i < 256 ? 1e4 : 3e-3); break;                 /* large */
        case 9: v = (i / 16) % 3 == 0 ? 0 : (i % 7 == 0 ? normal() : 0); break; /* sparse */
        case 10: v = 0.5 * (int)(unif() * 32 - 16); break;                   /* ties */
        case 11: v = pow(normal(), 3); break;                                 /* heavy tails */
        }
        x[i] = (float)v;
    }
}

/* Row r of the wide set: uniform, sum-of-4 (bell) or 1/u (heavy-tailed)
 * values, scaled by 2^(r%21 - 10), some rows shifted off zero. */
#define N_ROWS2 256
#define ROW_LEN2 512
static void wide_row(float *x, int r) {
    uint64_t s = 0x243f6a8885a308d3ull ^ (uint64_t)r * 0x9e3779b97f4a7c15ull;
    double scale = ldexp(1.0, r % 21 - 10), shift = r % 5 == 4 ? 0.75 : 0;
    for (int i = 0; i < ROW_LEN2; i++) {
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

static uint64_t fnv(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

typedef void (*QFn)(const float *, void *, int64_t);
typedef void (*DFn)(const void *, float *, int64_t);

/* llama-quantize's iq4_nl without an importance matrix: quantize_iq4_nl
 * (7 trial scales), not quantize_row_iq4_nl_ref (none). */
static void iq4_nl_file(const float *x, void *y, int64_t k) { quantize_iq4_nl(x, y, 1, k, NULL); }

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    for (int h = 0; h < 65536; h++) ggml_table_f32_f16[h] = half_exact((uint16_t)h);
    static float in[N_ROWS * ROW_LEN], deq[N_ROWS * ROW_LEN];
    for (int r = 0; r < N_ROWS; r++) fill(in + r * ROW_LEN, r);
    static const struct {
        const char *name;
        uint32_t ggml_type;
        int block, bytes;
        QFn q;
        DFn d;
    } types[] = {
        {"q8_0", 8, 32, 34, (QFn)quantize_row_q8_0_ref, (DFn)dequantize_row_q8_0},
        {"q4_0", 2, 32, 18, (QFn)quantize_row_q4_0_ref, (DFn)dequantize_row_q4_0},
        {"q4_1", 3, 32, 20, (QFn)quantize_row_q4_1_ref, (DFn)dequantize_row_q4_1},
        {"q5_0", 6, 32, 22, (QFn)quantize_row_q5_0_ref, (DFn)dequantize_row_q5_0},
        {"q5_1", 7, 32, 24, (QFn)quantize_row_q5_1_ref, (DFn)dequantize_row_q5_1},
        {"q4_K", 12, 256, 144, (QFn)quantize_row_q4_K_ref, (DFn)dequantize_row_q4_K},
        {"q5_K", 13, 256, 176, (QFn)quantize_row_q5_K_ref, (DFn)dequantize_row_q5_K},
        {"q6_K", 14, 256, 210, (QFn)quantize_row_q6_K_ref, (DFn)dequantize_row_q6_K},
        {"q2_K", 10, 256, 84, (QFn)quantize_row_q2_K_ref, (DFn)dequantize_row_q2_K},
        {"q3_K", 11, 256, 110, (QFn)quantize_row_q3_K_ref, (DFn)dequantize_row_q3_K},
        {"iq4_nl", 20, 32, 18, iq4_nl_file, (DFn)dequantize_row_iq4_nl},
        {"iq4_xs", 23, 256, 136, (QFn)quantize_row_iq4_xs_ref, (DFn)dequantize_row_iq4_xs},
    };
    FILE *f = fopen(argv[1], "wb");
    if (!f) return 1;
    uint32_t hdr[2] = {N_ROWS, ROW_LEN}, nt = sizeof types / sizeof types[0];
    fwrite("MQREF001", 1, 8, f);
    fwrite(hdr, 4, 2, f);
    fwrite(in, 4, N_ROWS * ROW_LEN, f);
    fwrite(&nt, 4, 1, f);
    for (uint32_t t = 0; t < nt; t++) {
        uint32_t nbytes = N_ROWS * ROW_LEN / types[t].block * types[t].bytes;
        unsigned char *q = calloc(1, nbytes);
        for (int r = 0; r < N_ROWS; r++) /* row by row, as a GGUF writer would */
            types[t].q(in + r * ROW_LEN, q + (size_t)r * nbytes / N_ROWS, ROW_LEN);
        types[t].d(q, deq, N_ROWS * ROW_LEN);
        uint64_t h = fnv(deq, sizeof deq);
        char name[8] = {0};
        memcpy(name, types[t].name, strlen(types[t].name));
        fwrite(name, 1, 8, f);
        fwrite(&types[t].ggml_type, 4, 1, f);
        fwrite(&nbytes, 4, 1, f);
        fwrite(q, 1, nbytes, f);
        fwrite(&h, 8, 1, f);
        free(q);
    }
    uint32_t hdr2[2] = {N_ROWS2, ROW_LEN2};
    fwrite(hdr2, 4, 2, f);
    static float wide[ROW_LEN2];
    static unsigned char q[ROW_LEN2 / 32 * 34];
    for (uint32_t t = 0; t < nt; t++) {
        uint64_t h = 0xcbf29ce484222325ull;
        size_t rb = ROW_LEN2 / types[t].block * types[t].bytes;
        for (int r = 0; r < N_ROWS2; r++) {
            wide_row(wide, r);
            types[t].q(wide, q, ROW_LEN2);
            for (size_t i = 0; i < rb; i++) h = (h ^ q[i]) * 0x100000001b3ull;
        }
        fwrite(&h, 8, 1, f);
    }
    return fclose(f) != 0;
}
