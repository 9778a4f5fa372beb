#!/bin/sh
# bench/compare.sh — mistral bench and llama-bench on the same GGUF files,
# the same thread count, one right after the other (ratios from one run).
#
#   LLAMA_BENCH=/path/to/llama-bench bench/compare.sh MODEL.gguf...
#
# Environment: THREADS (default 2), P (prompt tokens, 512), N (generated, 128),
# R (repetitions, 3), MISTRAL_FLAGS (more flags for mistral bench, e.g.
# --fast-bf16), ROUNDS (default 1: how many times the whole list runs, ours
# then theirs on each file, so that a busy machine's drift hits both alike),
# TABLE=1 (instead of the two programs' own tables, one markdown row per file
# and round: tok/s of each, the ratios, decode as a fraction of the
# bandwidth and prefill as a fraction of the FMA or int8 peak that mistral
# bench measured). Without LLAMA_BENCH only mistral bench
# runs. llama.cpp is built outside this tree (CPU, Release, native); see
# bench/RESULTS.md.
set -e
T=${THREADS:-2} P=${P:-512} N=${N:-128} R=${R:-3} ROUNDS=${ROUNDS:-1}
MISTRAL=${MISTRAL:-build/mistral}
if [ "${TABLE:-0}" = 1 ]; then
    echo "| file | round | pp$P ours | pp$P llama.cpp | ratio | tg$N ours | tg$N llama.cpp | ratio | decode / bandwidth | prefill / peak |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
fi
round=1
while [ "$round" -le "$ROUNDS" ]; do
    for m in "$@"; do
        if [ "${TABLE:-0}" != 1 ]; then
            echo "== $m (threads $T, round $round)"
            "$MISTRAL" bench -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" $MISTRAL_FLAGS
            if [ -n "$LLAMA_BENCH" ]; then
                "$LLAMA_BENCH" -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" 2>/dev/null | grep -E '^\| (model|llama|-)'
            fi
            continue
        fi
        ours=$("$MISTRAL" bench -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" --json $MISTRAL_FLAGS 2>/dev/null)
        theirs='[]'
        [ -n "$LLAMA_BENCH" ] && theirs=$("$LLAMA_BENCH" -m "$m" -p "$P" -n "$N" -t "$T" -r "$R" -o json 2>/dev/null)
        python3 - "$m" "$round" "$ours" "$theirs" <<'EOF'
import json, os, sys
m, rnd, ours, theirs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
ll = {"pp": None, "tg": None}
for t in theirs:
    ll["pp" if t["n_prompt"] else "tg"] = t["avg_ts"]
def cell(v): return "-" if v is None else "%.2f" % v
def ratio(a, b): return "-" if a is None or not b else "**%.2f×**" % (a / b)
pp, tg = ours["pp"]["tok_s"], ours["tg"]["tok_s"]
frac = ours.get("decode_bandwidth_fraction")
bw = ours.get("bandwidth_gb_s")
pf, pk = ours.get("prefill_peak_fraction"), ours.get("peaks")
peak = "-" if pf is None or not pk else "%.0f%% of %.0f %s" % (
    100 * pf, pk["int8_gops" if ours["prefill_peak"] == "int8" else "fma_gflops"],
    "GOP/s int8" if ours["prefill_peak"] == "int8" else "GFLOP/s FMA")
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
    os.path.basename(m), rnd, cell(pp), cell(ll["pp"]), ratio(pp, ll["pp"]), cell(tg), cell(ll["tg"]),
    ratio(tg, ll["tg"]), "-" if frac is None else "%.0f%% of %.1f GB/s" % (100 * frac, bw), peak))
EOF
    done
    round=$((round + 1))
done
