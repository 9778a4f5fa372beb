#!/bin/sh
# JSON Schemas in mistral.c and in llama.cpp's json_schema (llama-cli
# --json-schema, its json-schema-to-grammar converter) on the same GGUF
# file: whether each engine takes the schema, whether the text it writes
# is valid under the schema (ajv: bench/schema_validate.mjs), and guided
# decode speed against the same engine's free decode, run back to back.
# Never part of make test; results: bench/RESULTS.md.
#   sh bench/schema_compare.sh MODEL LLAMA_BIN_DIR [N] [SCHEMA...]
# e.g. ./mistral synth /tmp/1b.gguf --shape 1b --type q4_0 \
#        --tokenizer ../shared/tokenizers/mistral/tokenizer.model.v1
#      sh bench/schema_compare.sh /tmp/1b.gguf /work/llama.cpp/build/bin 48
# Schemas: bench/schemas/*.json (mask_bench's JSONSchemaBench-like ones,
# structured.sh's, and the keywords the engines differ on). Both engines
# decode greedily on 2 threads from "Once upon a time"; free decode ignores
# EOS. tok/s: mistral.c's generate line; llama.cpp's generated tokens over
# its eval plus sampling time (the grammar is applied in sampling).
# Then the probes (bench/schemas/NAME.probes, one JSON text a line): texts
# ajv refuses (or takes) under the schema, and whether each engine's
# grammar takes them: mistral.c's compiler as it is and in strict mode
# (build/bench/grammar_check, make bench), llama.cpp's converter
# (examples/json_schema_to_grammar.py of LLAMA_SRC, default LLAMA_BIN_DIR/../..;
# the C++ converter llama-cli uses is its twin). A text ajv refuses that a
# grammar takes is a keyword that grammar does not enforce.
MODEL=${1:?usage: schema_compare.sh MODEL LLAMA_BIN_DIR [N] [SCHEMA...]}
LLAMA=${2:?usage: schema_compare.sh MODEL LLAMA_BIN_DIR [N] [SCHEMA...]}
N=${3:-48}
[ $# -gt 3 ] && shift 3 || set --
BIN=${MISTRAL:-build/mistral}
THREADS=${THREADS:-2}
PROMPT="Once upon a time"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
schemas=${*:-$(ls bench/schemas/*.json)}
LLAMA_SRC=${LLAMA_SRC:-$LLAMA/../..}
CHECK=${CHECK:-build/bench/grammar_check}

probes() {
    echo "| schema | text | ajv | mistral.c | mistral.c strict | llama.cpp's grammar |"
    echo "|---|---|---|---|---|---|"
    for f in $schemas; do
        p=${f%.json}.probes
        [ -f "$p" ] || continue
        python3 "$LLAMA_SRC/examples/json_schema_to_grammar.py" "$f" >"$tmp/llama.gbnf" 2>"$tmp/conv.err" || : >"$tmp/llama.gbnf"
        while IFS= read -r text; do
            printf '%s\n' "$text" >"$tmp/out"
            ajv=$(check "$f" | cut -d' ' -f1)
            a=$("$CHECK" schema "$f" "$text" | cut -d' ' -f1)
            b=$("$CHECK" strict "$f" "$text" | cut -d' ' -f1)
            c=$(if [ -s "$tmp/llama.gbnf" ]; then "$CHECK" gbnf "$tmp/llama.gbnf" "$text" | cut -d' ' -f1; else echo error; fi)
            echo "| $(basename "$f" .json) | \`$text\` | $ajv | $a | $b | $c |"
        done <"$p"
    done
}

ours() { # ours FLAGS...: prints "tok/s" (or "refused <message>"), text in $tmp/out
    if "$BIN" generate -m "$MODEL" -p "$PROMPT" -n "$N" -t "$THREADS" "$@" >"$tmp/out" 2>"$tmp/err"; then
        sed -n 's/.*generation: [0-9]* tokens, \([0-9.]*\) tok\/s.*/\1/p' "$tmp/err"
    else
        echo "refused $(grep -m1 -v '^$' "$tmp/err")"
    fi
}
theirs() { # theirs FLAGS...: the same for llama-cli
    if "$LLAMA/llama-cli" -m "$MODEL" -p "$PROMPT" -n "$N" -t "$THREADS" -no-cnv --temp 0 --no-display-prompt \
        --no-warmup "$@" >"$tmp/out" 2>"$tmp/err" </dev/null; then
        sed -i 's/ *\[end of text\]$//' "$tmp/out"
        awk '$1 == "llama_perf_sampler_print:" && $2 == "sampling" {s = $5}
             $1 == "llama_perf_context_print:" && $2 == "eval" {e = $5; n = $8}
             END { if (e + s > 0) printf "%.2f\n", n / ((e + s) / 1000) }' "$tmp/err"
    else
        echo "refused $(grep -m1 -E 'error|failed|Unrecognized|what\(\)' "$tmp/err")"
    fi
}
check() { # check SCHEMA: the text in $tmp/out under ajv
    node bench/schema_validate.mjs "$1" "$tmp/out" | cut -c1-160
}

if [ "${PROBES_ONLY:-0}" = 1 ]; then probes; exit 0; fi

echo "| schema | engine | accepted | free tok/s | guided tok/s | ratio | output (ajv) |"
echo "|---|---|---|---|---|---|---|"
for f in $schemas; do
    name=$(basename "$f" .json)
    s=$(cat "$f")
    free=$(ours --ignore-eos)
    guided=$(ours --json-schema "$s")
    case $guided in
    refused*) echo "| $name | mistral.c | no: ${guided#refused } | $free | | | |" ;;
    *) echo "| $name | mistral.c | yes | $free | $guided | $(echo "$guided $free" | awk '{printf "%.2f", $1/$2}') | $(check "$f") |" ;;
    esac
    free=$(theirs --ignore-eos)
    guided=$(theirs --json-schema "$s")
    warn=$(grep -m1 'WARNING: JSON schema' "$tmp/err" | cut -c1-100)
    case $guided in
    refused*) echo "| $name | llama.cpp | no: ${guided#refused } | $free | | | |" ;;
    *) echo "| $name | llama.cpp | yes${warn:+ ($warn)} | $free | $guided | $(echo "$guided $free" | awk '{printf "%.2f", $1/$2}') | $(check "$f") |" ;;
    esac
done

echo
probes
