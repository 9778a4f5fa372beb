/* peak_x86 — the arithmetic peak loops of the x86 tables (kern/peak.h):
 * fp32 fused multiply-adds and int8 dot products, in as many independent
 * chains as cover the latency on every recent x86 core (4-5 cycles, two
 * pipes: 8-10 in flight). Each loop is written in assembly, so what runs is
 * exactly the instructions named here (no step folded away, hoisted or
 * spilled: the compiler's own schedule of the intrinsics spilled the int8
 * chains), and called only where the CPU has the instructions. The FMA
 * chains are acc = acc·m + c with m just below 1 (they settle near
 * c / (1 - m): no overflow, no subnormals). */
#include "kern/peak.h"

#include <string.h>

#if defined(__x86_64__)

#define S(x) #x
#define CAT(x) S(x)
/* 12 ymm chains: ymm0-11, m in ymm12, c in ymm13 */
#define FMA_Y(i) "vfmadd213ps %%ymm13, %%ymm12, %%ymm" S(i) "\n\t"
/* 8 int16 chains ymm0-7 += maddubs(u_i, b): u in ymm8-11, b in ymm12
 * (moves by one each step), products in ymm14/15 */
#define MADD_Y(i, u, t) "vpmaddubsw %%ymm12, %%ymm" S(u) ", %%ymm" S(t) "\n\tvpaddw %%ymm" S(t) ", %%ymm" S(i) ", %%ymm" S(i) "\n\t"
/* 16 zmm chains: zmm0-15, m/u in zmm16, c/b in zmm17 */
#define FMA_Z(i) "vfmadd213ps %%zmm17, %%zmm16, %%zmm" S(i) "\n\t"
#define DP_Z(i) "vpdpbusd %%zmm17, %%zmm16, %%zmm" S(i) "\n\t"
#define Y12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define Z16(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define YMM_CLOBBER "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", \
                    "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define ZMM_CLOBBER YMM_CLOBBER, "xmm16", "xmm17"

/* The chains' sum to sink, so the results are used. */
#define SUM_Y(op) op " %%ymm1, %%ymm0, %%ymm0\n\t" op " %%ymm2, %%ymm0, %%ymm0\n\t" op " %%ymm3, %%ymm0, %%ymm0\n\t" \
    op " %%ymm4, %%ymm0, %%ymm0\n\t" op " %%ymm5, %%ymm0, %%ymm0\n\t" op " %%ymm6, %%ymm0, %%ymm0\n\t"                 \
    op " %%ymm7, %%ymm0, %%ymm0\n\t"

__attribute__((target("avx2,fma"))) static uint64_t fma_avx2(uint64_t steps, float *sink) {
    static const float k[3] = {0.999999f, 1e-6f, 0.5f};
    uint64_t n = steps ? steps : 1;
    __asm__ volatile("vbroadcastss 0(%[k]), %%ymm12\n\tvbroadcastss 4(%[k]), %%ymm13\n\t"
#define INIT(i) "vbroadcastss 8(%[k]), %%ymm" S(i) "\n\t"
                     Y12(INIT)
#undef INIT
                     "1:\n\t" Y12(FMA_Y) "dec %[n]\n\tjnz 1b\n\t"
                     SUM_Y("vaddps") "vaddps %%ymm8, %%ymm0, %%ymm0\n\tvaddps %%ymm9, %%ymm0, %%ymm0\n\t"
                     "vaddps %%ymm10, %%ymm0, %%ymm0\n\tvaddps %%ymm11, %%ymm0, %%ymm0\n\t"
                     "vmovups %%ymm0, (%[out])\n\tvzeroupper"
                     : [n] "+r"(n)
                     : [k] "r"(k), [out] "r"(sink)
                     : YMM_CLOBBER, "memory", "cc");
    return (steps ? steps : 1) * 12 * 8 * 2;
}

/* acc += maddubs(u, b) (u8·s8 pairs summed into int16): the step every
 * avx2 integer tile is built on (a madd to int32 follows every few). The
 * adds chain (1 cycle), so 8 accumulators suffice; b moves each step. */
__attribute__((target("avx2"))) static uint64_t int8_avx2(uint64_t steps, int32_t *sink) {
    static const int8_t k[4] = {1, 2, 7, 9};
    uint64_t n = steps ? steps : 1;
    __asm__ volatile("vpxor %%ymm0, %%ymm0, %%ymm0\n\tvpxor %%ymm1, %%ymm1, %%ymm1\n\tvpxor %%ymm2, %%ymm2, %%ymm2\n\t"
                     "vpxor %%ymm3, %%ymm3, %%ymm3\n\tvpxor %%ymm4, %%ymm4, %%ymm4\n\tvpxor %%ymm5, %%ymm5, %%ymm5\n\t"
                     "vpxor %%ymm6, %%ymm6, %%ymm6\n\tvpxor %%ymm7, %%ymm7, %%ymm7\n\t"
                     "vpbroadcastb 0(%[k]), %%ymm8\n\tvpbroadcastb 1(%[k]), %%ymm9\n\t"
                     "vpbroadcastb 2(%[k]), %%ymm10\n\tvpbroadcastb 3(%[k]), %%ymm11\n\t"
                     "vmovdqa %%ymm8, %%ymm12\n\t"
                     "1:\n\t" MADD_Y(0, 8, 14) MADD_Y(1, 9, 15) MADD_Y(2, 10, 14) MADD_Y(3, 11, 15)
                     MADD_Y(4, 8, 14) MADD_Y(5, 9, 15) MADD_Y(6, 10, 14) MADD_Y(7, 11, 15)
                     "vpaddb %%ymm8, %%ymm12, %%ymm12\n\tdec %[n]\n\tjnz 1b\n\t"
                     SUM_Y("vpaddw") "vmovdqu %%ymm0, (%[out])\n\tvzeroupper"
                     : [n] "+r"(n)
                     : [k] "r"(k), [out] "r"(sink)
                     : YMM_CLOBBER, "memory", "cc");
    return (steps ? steps : 1) * 8 * 32 * 2;
}

#define AVX512 "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni"

__attribute__((target(AVX512))) static uint64_t fma_avx512(uint64_t steps, float *sink) {
    static const float k[3] = {0.999999f, 1e-6f, 0.5f};
    uint64_t n = steps ? steps : 1;
    __asm__ volatile("vbroadcastss 0(%[k]), %%zmm16\n\tvbroadcastss 4(%[k]), %%zmm17\n\t"
#define INIT(i) "vbroadcastss 8(%[k]), %%zmm" S(i) "\n\t"
                     Z16(INIT)
#undef INIT
                     "1:\n\t" Z16(FMA_Z) "dec %[n]\n\tjnz 1b\n\t"
#define ADD(i) "vaddps %%zmm" S(i) ", %%zmm0, %%zmm0\n\t"
                     ADD(1) ADD(2) ADD(3) ADD(4) ADD(5) ADD(6) ADD(7) ADD(8) ADD(9) ADD(10) ADD(11) ADD(12) ADD(13)
                     ADD(14) ADD(15)
#undef ADD
                     "vmovups %%zmm0, (%[out])\n\tvzeroupper"
                     : [n] "+r"(n)
                     : [k] "r"(k), [out] "r"(sink)
                     : ZMM_CLOBBER, "memory", "cc");
    return (steps ? steps : 1) * 16 * 16 * 2;
}

/* acc = dpbusd(acc, u, b): u8·s8 quads summed straight into int32 (the
 * accumulator is the chain: 16 of them cover its latency). */
__attribute__((target(AVX512))) static uint64_t int8_vnni(uint64_t steps, int32_t *sink) {
    static const int8_t k[2] = {1, 3};
    uint64_t n = steps ? steps : 1;
    __asm__ volatile("vpbroadcastb 0(%[k]), %%zmm16\n\tvpbroadcastb 1(%[k]), %%zmm17\n\t"
#define INIT(i) "vpxord %%zmm" S(i) ", %%zmm" S(i) ", %%zmm" S(i) "\n\t"
                     Z16(INIT)
#undef INIT
                     "1:\n\t" Z16(DP_Z) "dec %[n]\n\tjnz 1b\n\t"
#define ADD(i) "vpaddd %%zmm" S(i) ", %%zmm0, %%zmm0\n\t"
                     ADD(1) ADD(2) ADD(3) ADD(4) ADD(5) ADD(6) ADD(7) ADD(8) ADD(9) ADD(10) ADD(11) ADD(12) ADD(13)
                     ADD(14) ADD(15)
#undef ADD
                     "vmovdqu32 %%zmm0, (%[out])\n\tvzeroupper"
                     : [n] "+r"(n)
                     : [k] "r"(k), [out] "r"(sink)
                     : ZMM_CLOBBER, "memory", "cc");
    return (steps ? steps : 1) * 16 * 64 * 2;
}

static const PeakLoops avx2_loops = {"12 ymm FMA chains", "8 ymm maddubs chains", fma_avx2, int8_avx2};
static const PeakLoops avx512_loops = {"16 zmm FMA chains", "16 zmm vpdpbusd chains", fma_avx512, int8_vnni};

const PeakLoops *peak_loops(const Kern *k) {
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    if (!strcmp(k->name, "avx512") && avx512) return &avx512_loops;
    if (!strcmp(k->name, "avx2") && avx2) return &avx2_loops;
    return NULL;
}
#else
const PeakLoops *peak_loops(const Kern *k) {
    (void)k;
    return NULL;
}
#endif
