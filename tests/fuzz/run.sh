#!/bin/sh
# Builds the libFuzzer targets (make fuzz) and runs each for N seconds.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (default: 20 s, every target)
#
# Seeds: tests/fuzz/corpus/<target>/ plus the real tiny models' files from
# tests/data (consolidated.safetensors or params.json). New inputs go to a
# scratch corpus under $BUILD/fuzz/, never into the checked-in seeds. A crash,
# sanitizer report, leak or timeout leaves the input in $BUILD/fuzz/ as
# <target>-crash-* (or leak-*, timeout-*) and makes this script exit 1.
# Replay one with: $BUILD/fuzz/<target> FILE
# MAX_LEN (default 65536) caps an input's size: the real checkpoints are cut
# to it (their headers and first tensors), which keeps the fuzzer fast; the
# seeds under corpus/ are small complete files. CJSON_SRC=DIR builds the
# targets with cJSON compiled from DIR/cJSON.c under the sanitizers.
set -u
cd "$(dirname "$0")/../.." || exit 2
secs=${1:-20}
[ $# -gt 0 ] && shift
targets=${*:-fuzz_safetensors fuzz_params fuzz_gguf fuzz_ggufmodel fuzz_spm fuzz_tekken fuzz_chat fuzz_json fuzz_toolcalls \
    fuzz_openai fuzz_regex fuzz_gbnf fuzz_jsonschema fuzz_imatrix fuzz_promptcache}
BUILD=${BUILD:-build}

command -v clang >/dev/null 2>&1 || {
    echo "run.sh: clang not found (apt-get install -y clang)" >&2
    exit 2
}
if [ -n "${CJSON_SRC:-}" ]; then
    # cJSON built from source with the sanitizers, so that ASan also sees
    # reads past the buffer inside the JSON parser (the system libcjson is
    # not instrumented). CJSON_SRC holds cJSON.c and cJSON.h.
    mkdir -p "$BUILD/fuzz/cjson/cjson"
    cp "$CJSON_SRC/cJSON.h" "$BUILD/fuzz/cjson/cjson/" || exit 2
    for t in $targets; do
        clang -std=c11 -D_POSIX_C_SOURCE=200809L -O1 -g -I"$BUILD/fuzz/cjson" -Iinclude -Isrc \
            -fsanitize=fuzzer,address,undefined -o "$BUILD/fuzz/$t" "tests/fuzz/$t.c" \
            src/base/*.c src/kern/*.c src/model/*.c src/tok/*.c src/grammar/*.c src/gen/*.c src/api/*.c \
            "$CJSON_SRC/cJSON.c" -lpcre2-8 -lm -lpthread || { echo "run.sh: build of $t failed" >&2; exit 2; }
    done
else
    make --no-print-directory fuzz BUILD="$BUILD" >/dev/null || { echo "run.sh: make fuzz failed" >&2; exit 2; }
fi

# UBSan findings abort instead of printing and going on.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0

status=0
for t in $targets; do
    bin=$BUILD/fuzz/$t
    [ -x "$bin" ] || { echo "run.sh: no target $bin" >&2; status=1; continue; }
    work=$BUILD/fuzz/corpus-$t
    rm -rf "$work"
    mkdir -p "$work"
    case $t in
    fuzz_safetensors) real=consolidated.safetensors dict=tests/fuzz/safetensors.dict ;;
    fuzz_params) real=params.json dict=tests/fuzz/params.dict ;;
    fuzz_openai) real= dict=tests/fuzz/openai.dict ;;
    *) real= dict= ;;
    esac
    if [ -n "$real" ]; then
        i=0
        for f in tests/data/tiny/*/"$real" tests/data/conformance/tiny/*/"$real"; do
            [ -f "$f" ] && cp "$f" "$work/real$i" && i=$((i + 1))
        done
    fi
    echo "== $t: ${secs}s"
    "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="${MAX_LEN:-65536}" \
        -print_final_stats=1 ${dict:+-dict=$dict} -artifact_prefix="$BUILD/fuzz/$t-" \
        "$work" "tests/fuzz/corpus/$t" >"$BUILD/fuzz/$t.log" 2>&1
    rc=$?
    grep -E '^(#[0-9]+ *DONE|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|runtime error|Test unit written' \
        "$BUILD/fuzz/$t.log"
    if [ $rc -ne 0 ]; then
        echo "== $t: FAILED (exit $rc); log: $BUILD/fuzz/$t.log" >&2
        tail -40 "$BUILD/fuzz/$t.log" >&2
        status=1
    else
        echo "== $t: ok ($(ls "$work" | wc -l) inputs in the corpus)"
    fi
done
exit $status
