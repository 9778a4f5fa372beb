#!/bin/sh
# bench/serve.sh — mistral serve and llama.cpp's llama-server on the same
# GGUF file, the same prompts and load, one right after the other: aggregate
# generated tok/s, time to first token and inter-token latency at 1, 4 and 16
# concurrent clients, and the inter-token latency of 4 running streams while
# a 2,000-word prompt arrives (bench/serve_load.mjs). Never a test.
#
#   LLAMA_SERVER=/path/to/llama-server bench/serve.sh MODEL.gguf
#
# Environment: THREADS (2), MAX_TOKENS (64), PORT (18200), MISTRAL_ARGS (more
# flags for mistral serve, e.g. "--batch-tokens 128"), SPEC_ARGS (when set,
# mistral serve runs again right after with these flags too, e.g. "--lookup
# 3" or "--draft SMALL.gguf": speculation on against off). Without
# LLAMA_SERVER only mistral serve runs. llama.cpp is built outside this tree
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
    for c in 1 4 16; do
        echo "-- $c client(s)"
        node bench/serve_load.mjs --url "$url" --clients $c --requests $((c < 4 ? 4 : 2 * c)) --max-tokens "$N"
    done
    echo "-- 4 streams while a 2,000-word prompt arrives"
    node bench/serve_load.mjs --url "$url" --max-tokens 256 --long-words 2000
}

run() { # name, command...
    name=$1
    shift
    echo "== $name: $M (threads $T)"
    "$@" >/tmp/serve-bench-$name.log 2>&1 &
    pid=$!
    if wait_up; then load; fi
    kill -INT $pid 2>/dev/null || true
    i=0 # llama-server may take its time: then it is killed
    while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
    kill -9 $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
}

run mistral "$MISTRAL" serve -m "$M" --port "$PORT" --parallel 16 --ctx 2560 -t "$T" ${MISTRAL_ARGS:-}
if [ -n "${SPEC_ARGS:-}" ]; then
    run mistral-spec "$MISTRAL" serve -m "$M" --port "$PORT" --parallel 16 --ctx 2560 -t "$T" ${MISTRAL_ARGS:-} $SPEC_ARGS
fi
if [ -n "${LLAMA_SERVER:-}" ]; then
    run llama "$LLAMA_SERVER" -m "$M" --port "$PORT" -np 16 -c $((16 * 2560)) -t "$T" -cb
fi
