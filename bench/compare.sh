#!/bin/sh
# bench/compare.sh — mistral bench and llama-bench on the same GGUF files,
# the same thread count, one right after the other (ratios from one run).
#
#   LLAMA_BENCH=/path/to/llama-bench bench/compare.sh MODEL.gguf...
#
# Environment: THREADS (default 2), P (prompt tokens, 512), N (generated, 128),
# R (repetitions, 3), MISTRAL_FLAGS (more flags for mistral bench, e.g.
# --fast-bf16). Without LLAMA_BENCH only mistral bench runs. llama.cpp is
# built outside this tree (CPU, Release, native); see bench/RESULTS.md.
set -e
T=${THREADS:-2} P=${P:-512} N=${N:-128} R=${R:-3}
MISTRAL=${MISTRAL:-build/mistral}
for m in "$@"; do
    echo "== $m (threads $T)"
    "$MISTRAL" bench -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" $MISTRAL_FLAGS
    if [ -n "$LLAMA_BENCH" ]; then
        "$LLAMA_BENCH" -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" 2>/dev/null | grep -E '^\| (model|llama|-)'
    fi
done
