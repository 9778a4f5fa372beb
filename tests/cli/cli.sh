#!/bin/sh
# The command-line contract (DESIGN.md §4), driven like outside tests drive it.
BUILD=${BUILD:-build}
status=0
out=$(python3 tests/cli/check.py "$BUILD/mistral" tests/data/golden --ckpt-root tests/data/tiny)
rc=$?
echo "$out" | grep -v '^PASS' 
[ $rc -eq 0 ] || status=1
out=$(python3 tests/cli/check.py "$BUILD/mistral" tests/data/conformance/golden --ckpt-root tests/data/conformance/tiny)
rc=$?
echo "$out" | grep -v '^PASS'
[ $rc -eq 0 ] || status=1
python3 tests/cli/cli_test.py "$BUILD/mistral" || status=1
python3 tests/cli/structured_test.py "$BUILD/mistral" || status=1
exit $status
