#!/bin/sh
# Runs every test program given, then the command-line suite; fails if any fails.
status=0
for t in "$@"; do
    "$t" || status=1
done
BUILD=${BUILD:-build} sh tests/cli.sh || status=1
# distributed runs (MPI build, mpirun); skipped without OpenMPI or under make asan
if [ "${MPI_TESTS:-1}" != 0 ]; then BUILD=${BUILD:-build} sh tests/mpi.sh || status=1; fi
# the NEON kernels, cross-built for AArch64 and run under qemu-user (skipped
# without the cross compiler or qemu, and under make asan)
if [ "${MPI_TESTS:-1}" != 0 ]; then BUILD=${BUILD:-build} sh tests/neon.sh || status=1; fi
if [ $status -eq 0 ]; then echo "all tests passed"; else echo "SOME TESTS FAILED"; fi
exit $status
