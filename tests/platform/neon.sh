#!/bin/sh
# tests/platform/neon.sh — the kernel tests (test_simd) built for AArch64 and run under
# qemu-user: the NEON table against the generic one on this x86 machine.
# Skips with a message when the cross compiler or qemu is missing
# (Debian: gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user).
set -eu
cd "$(dirname "$0")/../.."
CC=${NEON_CC:-aarch64-linux-gnu-gcc}
QEMU=${NEON_QEMU:-qemu-aarch64}
if ! command -v "$CC" >/dev/null 2>&1 || ! command -v "$QEMU" >/dev/null 2>&1; then
    echo "neon: skip: $CC or $QEMU not installed"
    exit 0
fi
OUT=${BUILD:-build}/neon
mkdir -p "$OUT"
# The kernels and what they stand on: base (util, pool) and kern, nothing that
# needs cJSON or PCRE2 for the target.
SRC="src/base/util.c src/base/pool.c src/kern/dtype.c src/kern/quant.c src/kern/quant_k2.c src/kern/quant_imat.c src/kern/ops.c src/kern/matmul.c \
     src/kern/simd/dispatch.c src/kern/simd/generic.c src/kern/simd/avx2.c src/kern/simd/avx2_k2.c src/kern/simd/neon.c \
     tests/unit/harness.c"
# test_simd, and test_quant_k2 (the issue-21 types' tiles against generic, bit for bit)
for t in test_simd test_quant_k2; do
    $CC -std=c11 -D_POSIX_C_SOURCE=200809L -DTEST_SIMD_KERNELS_ONLY -DTEST_NO_JSON -Wall -Wextra -Werror -Wshadow \
        -Wno-unused-parameter -O2 -Iinclude -Isrc -Itests/unit -static -o "$OUT/$t" $SRC tests/unit/$t.c -lm -lpthread
done
# every table this build has (generic, neon), then the run-time choice
TEST_WRAPPER=$QEMU $QEMU "$OUT/test_simd"
$QEMU "$OUT/test_quant_k2"
which=$($QEMU "$OUT/test_simd" --which)
[ "$which" = neon ] || { echo "neon: the default table is $which, not neon"; exit 1; }
echo "neon: ok (test_simd and test_quant_k2 under $QEMU; default table $which)"
