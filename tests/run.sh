#!/bin/sh
# Runs every test program given, then the command-line suite; fails if any fails.
status=0
for t in "$@"; do
    "$t" || status=1
done
BUILD=${BUILD:-build} sh tests/cli.sh || status=1
# the library as others link it: exports, make install, pkg-config, the
# examples, Python's ctypes module (not under make asan: the sanitized
# libraries need the sanitizer's runtime in every program that loads them)
if [ "${MPI_TESTS:-1}" != 0 ]; then BUILD=${BUILD:-build} sh tests/library.sh || status=1; fi
# mistral serve end to end: the openai npm client, the page in Chromium (under
# make asan too: the server must stay clean under AddressSanitizer)
MISTRAL_BIN=${BUILD:-build}/mistral sh tests/serve/run.sh || status=1
# distributed runs (MPI build, mpirun); skipped without OpenMPI or under make asan
if [ "${MPI_TESTS:-1}" != 0 ]; then BUILD=${BUILD:-build} sh tests/mpi.sh || status=1; fi
# the NEON kernels, cross-built for AArch64 and run under qemu-user, and the
# AVX-512 VNNI tiles on SIMDe's emulation (skipped without the cross compiler
# and qemu, or SIMDe, and under make asan)
if [ "${MPI_TESTS:-1}" != 0 ]; then
    BUILD=${BUILD:-build} sh tests/neon.sh || status=1
    BUILD=${BUILD:-build} sh tests/avx512.sh || status=1
fi
if [ $status -eq 0 ]; then echo "all tests passed"; else echo "SOME TESTS FAILED"; fi
exit $status
