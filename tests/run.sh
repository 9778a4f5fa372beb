#!/bin/sh
# Runs every test program given, then the command-line suite; fails if any fails.
status=0
for t in "$@"; do
    "$t" || status=1
done
BUILD=${BUILD:-build} sh tests/cli.sh || status=1
if [ $status -eq 0 ]; then echo "all tests passed"; else echo "SOME TESTS FAILED"; fi
exit $status
