#!/bin/sh
# bench/speculative.sh — speculative decoding against plain decoding, and
# against llama.cpp's llama-speculative on the same pair of files, one right
# after the other (ratios from one run; never part of make test).
#
#   LLAMA_DIR=/path/to/llama.cpp/build/bin bench/speculative.sh TARGET DRAFT [PROMPT_FILE]
#
# Models: `mistral synth --sharpen S` makes random models whose quantized
# copies agree with the original on a chosen share of positions (see the
# README); e.g. TARGET 1b F16, DRAFT 1b Q4_0, both --sharpen 16.
# Environment: THREADS (2), N (tokens generated, 128), K (--draft-max, 8),
# R (repetitions, 2). Greedy decoding, the same prompt file for both engines.
# Prints one line per engine: acceptance, plain and speculative decode tok/s.
set -e
TARGET=${1:?usage: speculative.sh TARGET DRAFT [PROMPT_FILE]}
DRAFT=${2:?usage: speculative.sh TARGET DRAFT [PROMPT_FILE]}
PROMPT=${3:-}
T=${THREADS:-2} N=${N:-128} K=${K:-8} R=${R:-2}
MISTRAL=${MISTRAL:-build/mistral}
if [ -z "$PROMPT" ]; then
    PROMPT=$(mktemp)
    trap 'rm -f "$PROMPT"' EXIT
    printf 'Once upon a time, in a small village by the sea, there lived an old fisherman and his wife.' > "$PROMPT"
fi
echo "== target $TARGET, draft $DRAFT (threads $T, n $N, draft-max $K)"
"$MISTRAL" bench -m "$TARGET" --draft "$DRAFT" --draft-max "$K" -f "$PROMPT" -p 0 -n "$N" -t "$T" -r "$R" --json |
    python3 -c 'import json,sys; s=json.load(sys.stdin)["spec"]; print("mistral.c   acceptance %5.1f%%  plain %7.2f tok/s  speculative %7.2f tok/s  %.2fx" % (100*s["acceptance"], s["plain_tok_s"], s["spec_tok_s"], s["speedup"]))'
if [ -n "$LLAMA_DIR" ]; then
    plain=$("$LLAMA_DIR/llama-bench" -m "$TARGET" -p 0 -n "$N" -t "$T" -r "$R" -o json 2>/dev/null |
            python3 -c 'import json,sys; print("%.2f" % json.load(sys.stdin)[0]["avg_ts"])')
    "$LLAMA_DIR/llama-speculative" -m "$TARGET" -md "$DRAFT" -f "$PROMPT" -n "$N" --draft-max "$K" \
        -t "$T" -td "$T" --temp 0 -c 1024 2>&1 |
        awk -v plain="$plain" '/^decoded/ {tps=$(NF-1)} /^n_drafted/ {d=$3} /^n_accept/ {a=$3}
             END {printf "llama.cpp   acceptance %5.1f%%  plain %7.2f tok/s  speculative %7.2f tok/s  %.2fx\n",
                  d ? 100*a/d : 0, plain, tps, plain ? tps/plain : 0}'
fi
