#!/bin/sh
# quant_quality.sh — mistral quantize (with an importance matrix) against
# llama-quantize: llama.cpp loads our files, the bytes are llama-quantize's,
# and perplexity and KL divergence from F32 agree. A benchmark, not a test
# (llama.cpp is not in the tree); results go into bench/RESULTS.md by hand.
#
#   LLAMA=/path/to/llama.cpp/build/bin bench/quant_quality.sh [OUT_DIR]
#
# Steps (every command is echoed to OUT_DIR/commands.txt):
#   1. the quantizers against ggml itself (bench/quant_ggml.c, linked to
#      LLAMA's libggml-base): random rows, with and without weights;
#   2. stories260K converted to an F32 GGUF; the importance matrix of the
#      calibration text by llama-imatrix (.dat) and by mistral imatrix
#      (GGUF and .dat), compared;
#   3. for each file type, our file and llama-quantize's from the same F32
#      GGUF and the same .dat: tensor bytes compared (bench/gguf_tensors.py);
#      the same for the synth shapes tiny-k and tiny-k-moe (rows that fit
#      the k-quants' blocks, stacked experts);
#   4. llama-perplexity loads each of our files; perplexity on the evaluation
#      text and KL divergence from the F32 model, for our file and
#      llama-quantize's, by llama-perplexity and by mistral perplexity.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LLAMA=${LLAMA:-/work/llama.cpp/build/bin}
OUT=${1:-/tmp/quant_quality}
MODEL=${MODEL:-$ROOT/../shared/models/stories260K}
CALIB=${CALIB:-$ROOT/../shared/corpora/kjv_genesis_plain.txt}
EVAL_SRC=${EVAL_SRC:-$ROOT/../shared/corpora/devils_dictionary.txt}
EVAL_BYTES=${EVAL_BYTES:-24000}
CHUNKS=${CHUNKS:-40}
T=${THREADS:-2}
MI="$ROOT/mistral"
TYPES="q2_k q3_k_s q3_k_m q3_k_l iq4_nl iq4_xs q4_0 q4_k_s q4_k_m q5_k_m q6_k"
mkdir -p "$OUT"
: > "$OUT/commands.txt"
run() { echo "$*" >> "$OUT/commands.txt"; "$@"; }
upper() { echo "$1" | tr a-z A-Z; }

echo "== 1. quantizers against ggml"
run cc -O2 -I"$ROOT/include" -I"$ROOT/src" -I"$LLAMA/../../ggml/include" "$ROOT/bench/quant_ggml.c" \
    "$ROOT/build/libmistral-internal.a" -L"$LLAMA" -Wl,-rpath,"$LLAMA" -lggml-base -lm -lpthread -o "$OUT/quant_ggml"
run "$OUT/quant_ggml" | tee "$OUT/quant_ggml.txt"

echo "== 2. importance matrices"
head -c "$EVAL_BYTES" "$EVAL_SRC" > "$OUT/eval.txt"
run "$MI" quantize "$MODEL" "$OUT/f32.gguf" --type f32 2>/dev/null
run "$LLAMA/llama-imatrix" -m "$OUT/f32.gguf" -f "$CALIB" -o "$OUT/llama.dat" --chunks "$CHUNKS" -t "$T" \
    > "$OUT/llama-imatrix.log" 2>&1
run "$MI" imatrix -m "$OUT/f32.gguf" -f "$CALIB" -o "$OUT/ours.gguf" --chunks "$CHUNKS" -t "$T" > "$OUT/ours-imatrix.log" 2>&1
run "$MI" imatrix -m "$OUT/f32.gguf" -f "$CALIB" -o "$OUT/ours.dat" --chunks "$CHUNKS" -t "$T" > /dev/null 2>&1
echo "llama-imatrix: $(grep 'Final estimate' "$OUT/llama-imatrix.log")"
echo "mistral imatrix: $(grep perplexity "$OUT/ours-imatrix.log")"
echo "weights, ours (GGUF) vs llama-imatrix: $(python3 "$ROOT/bench/gguf_tensors.py" --imatrix "$OUT/ours.gguf" "$OUT/llama.dat")"
echo "weights, ours (.dat) vs llama-imatrix: $(python3 "$ROOT/bench/gguf_tensors.py" --imatrix "$OUT/ours.dat" "$OUT/llama.dat")"

echo "== 3. bytes: mistral quantize --imatrix X.dat vs llama-quantize --imatrix X.dat"
for shape in tiny-k tiny-k-moe; do
    run "$MI" synth "$OUT/$shape.gguf" --shape $shape --type f32 --tokenizer "$MODEL/tokenizer.model" 2>/dev/null
    run "$LLAMA/llama-imatrix" -m "$OUT/$shape.gguf" -f "$CALIB" -o "$OUT/llama-$shape.dat" -c 256 --chunks 8 -t "$T" \
        > "$OUT/llama-imatrix-$shape.log" 2>&1
done
for src in f32 tiny-k tiny-k-moe; do
    dat="$OUT/llama.dat"; [ $src = f32 ] || dat="$OUT/llama-$src.dat"
    for t in $TYPES; do
        run "$MI" quantize "$OUT/$src.gguf" "$OUT/ours-$src-$t.gguf" --type $t --imatrix "$dat" -t "$T" 2>/dev/null
        if run "$LLAMA/llama-quantize" --imatrix "$dat" "$OUT/$src.gguf" "$OUT/llama-$src-$t.gguf" "$(upper $t)" "$T" \
            > "$OUT/llama-quantize-$src-$t.log" 2>&1; then
            python3 "$ROOT/bench/gguf_tensors.py" --diff "$OUT/ours-$src-$t.gguf" "$OUT/llama-$src-$t.gguf" \
                > "$OUT/diff-$src-$t.txt" || true
            echo "$src $t: $(tail -1 "$OUT/diff-$src-$t.txt")"
        else
            echo "$src $t: llama-quantize refuses: $(grep -m1 -o 'tensor cols.*' "$OUT/llama-quantize-$src-$t.log" || tail -1 "$OUT/llama-quantize-$src-$t.log")"
            rm -f "$OUT/llama-$src-$t.gguf"
        fi
    done
done

echo "== 4. quality on $EVAL_BYTES bytes of $(basename "$EVAL_SRC") (imatrix: llama.dat)"
run "$LLAMA/llama-perplexity" -m "$OUT/f32.gguf" -f "$OUT/eval.txt" --kl-divergence-base "$OUT/base.kld" -t "$T" \
    > "$OUT/ppl-f32.log" 2>&1
echo "f32: llama-perplexity $(grep -o 'Final estimate: PPL = [0-9.]*' "$OUT/ppl-f32.log" | tail -1);" \
     "mistral perplexity $("$MI" perplexity -m "$OUT/f32.gguf" -f "$OUT/eval.txt" --ctx 512 -t "$T" 2>/dev/null)"
printf '%-8s %-6s %12s %12s %12s %12s\n' type file "PPL(llama)" "KLD(llama)" "PPL(ours)" "KL(ours)"
for t in $TYPES; do
    for who in ours llama; do
        f="$OUT/$who-f32-$t.gguf"
        [ -f "$f" ] || continue
        run "$LLAMA/llama-perplexity" -m "$f" --kl-divergence-base "$OUT/base.kld" --kl-divergence -t "$T" \
            > "$OUT/ppl-$who-$t.log" 2>&1 || { echo "$t $who: llama-perplexity FAILED to load"; continue; }
        ppl=$(grep -m1 'Mean PPL(Q) ' "$OUT/ppl-$who-$t.log" | awk '{print $4}')
        kld=$(grep 'Mean    KLD' "$OUT/ppl-$who-$t.log" | awk '{print $3}')
        ours=$("$MI" perplexity -m "$f" -f "$OUT/eval.txt" --ctx 512 --kl-base "$OUT/f32.gguf" -t "$T" 2>/dev/null)
        oppl=$(echo "$ours" | awk '/^perplexity/{print $2}')
        okl=$(echo "$ours" | awk '/^KL/{print $5}')
        printf '%-8s %-6s %12s %12s %12s %12s\n' $t $who "$ppl" "$kld" "$oppl" "$okl"
    done
done

echo "== llama.cpp loads the files only we write"
for t in f16 bf16 q8_0 q4_k q5_k q6_k; do
    run "$MI" quantize "$OUT/f32.gguf" "$OUT/ours-plain-$t.gguf" --type $t -t "$T" 2>/dev/null
done
for t in plain-f16 plain-bf16 plain-q8_0 plain-q4_k plain-q5_k plain-q6_k f32-iq4_nl f32-q4_0; do
    if run "$LLAMA/llama-perplexity" -m "$OUT/ours-$t.gguf" -f "$OUT/eval.txt" --chunks 2 -t "$T" > "$OUT/load-$t.log" 2>&1; then
        echo "$t: loads, $(grep -o 'Final estimate: PPL = [0-9.]*' "$OUT/load-$t.log")"
    else
        echo "$t: llama-perplexity FAILED: $(tail -1 "$OUT/load-$t.log")"
    fi
done
