#!/bin/sh
# Distributed runs over MPI (tests/run.sh calls this from make test): builds
# the MPI binary (make mpi-build: $BUILD/mpi/mistral), then under mpirun
#   mpi_dist.c            the message layer (np 2): sizes, collectives, the
#                         handshake, a waiting rank's CPU use
#   mpi_test.py           --pipeline and --expert-parallel give one
#                         process's ids; errors; a rank killed mid-run
#   mpi_netns.sh          the pipeline across two network namespaces
# Skips with a message where OpenMPI is not installed.
BUILD=${BUILD:-build}
if ! command -v mpicc >/dev/null 2>&1 || ! command -v mpirun >/dev/null 2>&1; then
    echo "mpi: skipped (no mpicc/mpirun; on Debian: apt-get install libopenmpi-dev openmpi-bin)"
    exit 0
fi
if ! ${MAKE:-make} --no-print-directory -s mpi-build BUILD="$BUILD" >/dev/null; then
    echo "FAIL mpi: make MPI=1 failed"
    exit 1
fi
# mpirun refuses root without these (CI runs as root); more ranks than cores is fine here
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# OpenMPI's session directories (ompi.HOST.UID) in a $TMPDIR of our own: a
# job starting while another test run's job removes the shared folder fails
# in orte_init (see tests/platform/mpi_test.py's main)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mistral-mpi-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp"
status=0
# every line under its rank ([1,R]<stderr>:), so that a failure names it
mpirun --oversubscribe --tag-output -np 2 "$BUILD/mpi/tests/platform/mpi_dist" || status=1
python3 tests/platform/mpi_test.py "$BUILD/mistral" "$BUILD/mpi/mistral" || status=1
sh tests/platform/mpi_netns.sh "$BUILD/mistral" "$BUILD/mpi/mistral" || status=1
exit $status
