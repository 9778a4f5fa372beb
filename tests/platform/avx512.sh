#!/bin/sh
# tests/platform/avx512.sh — the avx512 table (VNNI tiles, 16-row float tiles) on a machine without
# AVX-512: test_simd built with src/kern/simd/avx512.c compiled against SIMDe
# (AVX2, FMA and F16C native, the AVX-512 intrinsics emulated) and the table registered
# whatever the CPU has. Checks it against generic like every table, and its
# packed tiles against avx2's bit for bit. Native AVX-512 CPUs run the real
# table in make test's test_simd. Skips with a message without SIMDe
# (Debian: libsimde-dev) or on a CPU without AVX2.
set -eu
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
if [ ! -f /usr/include/simde/x86/avx512/dpbusd.h ]; then
    echo "avx512: skip: SIMDe (libsimde-dev) not installed"
    exit 0
fi
case "$($CC -dumpmachine)" in x86_64*) ;; *) echo "avx512: skip: not an x86-64 compiler"; exit 0 ;; esac
if ! grep -q ' avx2 ' /proc/cpuinfo 2>/dev/null; then echo "avx512: skip: this CPU has no AVX2"; exit 0; fi
OUT=${BUILD:-build}/avx512emu
mkdir -p "$OUT"
FLAGS="-std=c11 -D_POSIX_C_SOURCE=200809L -DTEST_SIMD_KERNELS_ONLY -DTEST_NO_JSON -DKERN_EMULATE_AVX512 \
       -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -O1 -Iinclude -Isrc"
objs=""
for f in src/base/util.c src/base/pool.c src/kern/dtype.c src/kern/quant.c src/kern/quant_k2.c src/kern/quant_imat.c src/kern/ops.c src/kern/matmul.c \
         src/kern/simd/dispatch.c src/kern/simd/generic.c src/kern/simd/avx2.c src/kern/simd/avx2_k2.c src/kern/simd/avx512.c src/kern/simd/avx512_k2.c \
         src/kern/simd/neon.c tests/unit/harness.c tests/unit/test_simd.c; do
    o="$OUT/$(echo "$f" | tr / _).o"
    extra=""
    case "$f" in src/kern/simd/avx2.c | src/kern/simd/avx2_k2.c) extra="-mavx2 -mfma -mf16c" ;; esac
    # SIMDe's emulation code trips some of our warnings: not ours to fix
    case "$f" in src/kern/simd/avx512*.c) extra="-mavx2 -mfma -mf16c -Wno-error -w" ;; esac
    $CC $FLAGS $extra -c -o "$o" "$f"
    objs="$objs $o"
done
$CC -o "$OUT/test_simd" $objs -lm -lpthread
"$OUT/test_simd"
which=$("$OUT/test_simd" --which)
[ "$which" = avx512 ] || { echo "avx512: the default table is $which, not avx512"; exit 1; }
echo "avx512: ok (the avx512 table on SIMDe; default table $which)"
