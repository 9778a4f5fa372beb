/* quantref — what test_quant.c and test_quant_k2.c share: poisoned output
 * buffers and the pieces of their independent decoders (written from the
 * block layouts in kern/quant.h, in double, never calling the code under
 * test). */
#ifndef TESTS_QUANTREF_H
#define TESTS_QUANTREF_H

#include <math.h>
#include <stddef.h>

#include "base/util.h"

/* n floats of NAN (and a spare byte): an element left unwritten fails. */
static inline float *poisoned(size_t n) {
    float *p = xmalloc(n * sizeof *p + 1);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}

/* The fp16 at p (little-endian), from ldexp. */
static inline double ref_half(const unsigned char *p) {
    unsigned h = p[0] | p[1] << 8;
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

/* 4-bit element i of 32 nibbles: j low, j + 16 high */
static inline int nib32(const unsigned char *qs, int i) { return i < 16 ? qs[i] & 15 : qs[i - 16] >> 4; }

#endif
