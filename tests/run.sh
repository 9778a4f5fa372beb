#!/bin/sh
# Runs every test program given, then the command-line suite and the other
# suites; fails if any fails. The last line counts them.
#   unit/      test_*.c, one program per module (make builds them), harness.[ch]
#   cli/       the command-line contract: cli.sh, check.py, cli_test.py
#   serve/     mistral serve end to end (Node.js)
#   platform/  the library as installed, --mem-limit in a memory cgroup, MPI,
#              NEON under qemu, AVX-512 on SIMDe
#   fuzz/      libFuzzer targets (make fuzz; not run here)
#   data/      tiny checkpoints, golden vectors, fixtures
passed=0
failed=0
run() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
# a test left at the top of tests/ (say, added on a branch made before the
# folders) would never run: say so
for f in tests/*; do
    case $f in
    tests/run.sh | tests/unit | tests/cli | tests/serve | tests/platform | tests/fuzz | tests/data) ;;
    *) echo "FAIL tests: $f is in none of tests/{unit,cli,serve,platform,fuzz,data}"; failed=$((failed + 1)) ;;
    esac
done
for t in "$@"; do
    run "$t"
done
B=${BUILD:-build}
run env BUILD="$B" sh tests/cli/cli.sh
# the library as others link it: exports, make install, pkg-config, the
# examples, Python's ctypes module (not under make asan: the sanitized
# libraries need the sanitizer's runtime in every program that loads them)
if [ "${MPI_TESTS:-1}" != 0 ]; then run env BUILD="$B" sh tests/platform/library.sh; fi
# --mem-limit bounds the process: generate and bench inside a memory cgroup
# (root; skipped elsewhere, and under make asan: the sanitizer's shadow memory
# is no part of the limit)
if [ "${MPI_TESTS:-1}" != 0 ]; then run python3 tests/platform/memlimit_test.py "$B/mistral"; fi
# mistral serve end to end: the openai npm client, the page in Chromium (under
# make asan too: the server must stay clean under AddressSanitizer)
run env MISTRAL_BIN="$B/mistral" sh tests/serve/run.sh
# distributed runs (MPI build, mpirun); skipped without OpenMPI or under make asan
if [ "${MPI_TESTS:-1}" != 0 ]; then run env BUILD="$B" sh tests/platform/mpi.sh; fi
# the NEON kernels, cross-built for AArch64 and run under qemu-user, and the
# AVX-512 VNNI tiles on SIMDe's emulation (skipped without the cross compiler
# and qemu, or SIMDe, and under make asan)
if [ "${MPI_TESTS:-1}" != 0 ]; then
    run env BUILD="$B" sh tests/platform/neon.sh
    run env BUILD="$B" sh tests/platform/avx512.sh
fi
if [ $failed -eq 0 ]; then echo "all tests passed"; else echo "SOME TESTS FAILED"; fi
echo "tests: $passed passed, $failed failed"
[ $failed -eq 0 ]
