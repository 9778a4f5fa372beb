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

/* The avx2 table (its layouts, pack functions and activation quantizers are
 * the same), with the VNNI packed tiles. */
void kern_fill_avx512(Kern *k) {
    kern_fill_avx2(k);
    k->name = "avx512";
    k->read_lines = read_lines;
    k->pack[DT_Q4_0].dot.tile = tile_q4_0x8;
    k->pack[DT_Q8_0].dot.tile = tile_q8_0x8;
    k->pack[DT_Q4_K].dot.tile = tile_q4_Kx8;
    k->pack[DT_Q5_K].dot.tile = tile_q5_Kx8;
    k->pack[DT_Q6_K].dot.tile = tile_q6_Kx8;
}
#endif
