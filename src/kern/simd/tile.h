/* tile — the switch that turns a tile kernel K(MR, NT, ...) written for
 * constant MR × NT into one TileFn for every nr <= 4 weight rows and
 * nt <= 4 activation rows (shared by the ISA files; see simd.h's contract). */
#ifndef KERN_SIMD_TILE_H
#define KERN_SIMD_TILE_H

#define TILE_CASE(K, R, T) \
    case (R) * 8 + (T): K(R, T, out, os, (const char *)w, ws, (const char *)x, xs, n); break;
#define TILE_ROW(K, R) TILE_CASE(K, R, 1) TILE_CASE(K, R, 2) TILE_CASE(K, R, 3) TILE_CASE(K, R, 4)
#define TILE_FNS(name, K)                                                                            \
    static void name(float *out, size_t os, const void *w, size_t ws, int nr, const void *x, size_t xs, \
                     int nt, size_t n) {                                                             \
        switch (nr * 8 + nt) {                                                                       \
            TILE_ROW(K, 1) TILE_ROW(K, 2) TILE_ROW(K, 3) TILE_ROW(K, 4)                              \
        default: break;                                                                              \
        }                                                                                            \
    }

#endif
