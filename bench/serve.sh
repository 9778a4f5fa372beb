#!/bin/sh
# bench/serve.sh — mistral serve and llama.cpp's llama-server on the same
# GGUF file, the same prompts and load, one right after the other: aggregate
# generated tok/s, time to first token and inter-token latency at 1, 4 and 16
# concurrent clients, the inter-token latency of 4 running streams while
# a 2,000-word prompt arrives, and a ramp: 8 new prompts arriving while 8
# streams run (ITL p50/p99, the new prompts' TTFT, tok/s; bench/serve_load.mjs).
# Never a test.
#
#   LLAMA_SERVER=/path/to/llama-server bench/serve.sh MODEL.gguf
#
# Environment: THREADS (2), MAX_TOKENS (64), PORT (18200), MISTRAL_ARGS (more
# flags for mistral serve, e.g. "--batch-tokens 128"), SPEC_ARGS (when set,
# mistral serve runs again right after with these flags too, e.g. "--lookup
# 3" or "--draft SMALL.gguf": speculation on against off). Without
# LLAMA_SERVER only mistral serve runs. MISTRAL_BASE=path: another mistral
# binary (a baseline build) runs the same load first. CLIENTS ("1 4 16"),
# LONG_WORDS (2000), RAMP (8 new prompts): the loads; empty skips one. llama.cpp is built outside this tree
# (CPU, Release, native); see bench/RESULTS.md.
set -eu
M=$1
T=${THREADS:-2} N=${MAX_TOKENS:-64} PORT=${PORT:-18200}
MISTRAL=${MISTRAL:-build/mistral}
url=http://127.0.0.1:$PORT

wait_up() {
    i=0
    while [ $i -lt 600 ]; do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health" || true)" = 200 ] && return 0
        sleep 0.2; i=$((i + 1))
    done
    echo "serve.sh: the server did not come up" >&2
    return 1
}

load() {
    for c in ${CLIENTS-1 4 16}; do
        echo "-- $c client(s)"
        node bench/serve_load.mjs --url "$url" --clients $c --requests $((c < 4 ? 4 : 2 * c)) --max-tokens "$N"
    done
    if [ -n "${LONG_WORDS-2000}" ]; then
        echo "-- 4 streams while a ${LONG_WORDS-2000}-word prompt arrives"
        node bench/serve_load.mjs --url "$url" --max-tokens 256 --long-words "${LONG_WORDS-2000}"
    fi
    if [ -n "${RAMP-8}" ]; then
        echo "-- ramp: ${RAMP-8} new prompts, one every 500 ms, while 8 streams run"
        node bench/serve_load.mjs --url "$url" --streams 8 --max-tokens 128 --ramp "${RAMP-8}" --ramp-ms 500
    fi
}

run() { # name, command...
    name=$1
    shift
    echo "== $name: $M (threads $T)"
    "$@" >/tmp/serve-bench-$name.log 2>&1 &
    pid=$!
    if wait_up; then load || echo "serve.sh: $name: a load failed (the server is stopped anyway)" >&2; fi
    kill -INT $pid 2>/dev/null || true
    i=0 # llama-server may take its time: then it is killed
    while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
}

if [ -n "${MISTRAL_BASE:-}" ]; then
    run base "$MISTRAL_BASE" serve -m "$M" --port "$PORT" --parallel 16 --ctx 2560 -t "$T" ${MISTRAL_ARGS:-}
fi
run mistral "$MISTRAL" serve -m "$M" --port "$PORT" --parallel 16 --ctx 2560 -t "$T" ${MISTRAL_ARGS:-}
if [ -n "${SPEC_ARGS:-}" ]; then
    run mistral-spec "$MISTRAL" serve -m "$M" --port "$PORT" --parallel 16 --ctx 2560 -t "$T" ${MISTRAL_ARGS:-} $SPEC_ARGS
fi
if [ -n "${LLAMA_SERVER:-}" ]; then
    run llama "$LLAMA_SERVER" -m "$M" --port "$PORT" -np 16 -c $((16 * 2560)) -t "$T" -cb
fi
