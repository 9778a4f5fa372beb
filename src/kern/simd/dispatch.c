/* dispatch — CPU features to a kernel table, once per process. */
#include <pthread.h>
#include <string.h>

#include "kern/simd/simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static Kern k_generic, k_avx2, k_avx512, k_neon;
static int have_avx2, have_avx512, have_neon;
static const Kern *k_best;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static const Kern *lookup(const char *name) {
    if (!strcmp(name, "generic")) return &k_generic;
    if (!strcmp(name, "avx2") && have_avx2) return &k_avx2;
    if (!strcmp(name, "avx512") && have_avx512) return &k_avx512;
    if (!strcmp(name, "neon") && have_neon) return &k_neon;
    return NULL;
}

static void init(void) {
    kern_fill_generic(&k_generic);
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    /* F16C from CPUID leaf 1 (ECX bit 29): not every compiler's
     * __builtin_cpu_supports knows it */
    unsigned a, b, c = 0, d;
    int f16c = __get_cpuid(1, &a, &b, &c, &d) && (c >> 29 & 1);
    have_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && f16c;
    if (have_avx2) kern_fill_avx2(&k_avx2);
    /* AVX-512 VNNI on 256-bit vectors (libgcc also checks that the OS saves
     * the AVX-512 state) */
    have_avx512 = have_avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
#ifdef KERN_EMULATE_AVX512 /* tests/platform/avx512.sh: the table built on SIMDe runs anywhere */
    have_avx512 = have_avx2;
#endif
    if (have_avx512) kern_fill_avx512(&k_avx512);
#endif
#if defined(__aarch64__)
    have_neon = 1; /* Advanced SIMD is part of every AArch64 CPU */
    kern_fill_neon(&k_neon);
#endif
    k_best = have_avx512 ? &k_avx512 : have_avx2 ? &k_avx2 : have_neon ? &k_neon : &k_generic;
}

const Kern *kern_named(const char *name) {
    pthread_once(&once, init);
    return lookup(name);
}

const Kern *kern_get(void) {
    pthread_once(&once, init);
    return k_best;
}

const Kern *kern_select(const char *name) {
    const Kern *k = name && *name ? kern_named(name) : NULL;
    return k ? k : kern_get();
}
