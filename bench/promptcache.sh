#!/bin/sh
# bench/promptcache.sh — what --prompt-cache saves: a request of N prompt
# tokens (random ids) and one generated token on a fresh server (a miss: the
# whole prefill), then the same request after a restart (a hit: the state
# read from the file). Prints both times, their ratio, the time the first
# server took to stop (its state written) and the file's size. Never a test.
#
#   bench/promptcache.sh MODEL [N]          (N: 1000 prompt tokens)
#
# Environment: REPS (3), MISTRAL (build/mistral), MISTRAL_ARGS (more flags for
# mistral serve, e.g. "--kv-type f16 -t 2"). A model without a tokenizer
# needs --tokenizer in MISTRAL_ARGS (mistral synth --tokenizer writes one in).
set -eu
M=$1 N=${2:-1000}
MISTRAL=${MISTRAL:-build/mistral}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
python3 -c "import random; random.seed(1); print('{\"prompt\": [%s], \"max_tokens\": 1}' % ','.join(str(random.randrange(3, 32000)) for _ in range($N)))" >"$D/body"

start() {
    rm -f "$D/log"
    # shellcheck disable=SC2086
    "$MISTRAL" serve -m "$M" --port 0 --ctx $((N + 16)) --parallel 1 --prompt-cache "$D/pc" ${MISTRAL_ARGS:-} 2>"$D/log" &
    PID=$!
    while ! grep -q 'ready' "$D/log" 2>/dev/null; do
        kill -0 $PID 2>/dev/null || { cat "$D/log" >&2; exit 1; }
        sleep 0.2
    done
    PORT=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\).*/\1/p' "$D/log" | head -1)
}
request() { curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$PORT/v1/completions" -d @"$D/body"; }
stop() { kill $PID; wait $PID || true; }

echo "model $M, $N prompt tokens; $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
for rep in $(seq "${REPS:-3}"); do
    rm -rf "$D/pc"
    start
    miss=$(request)
    t0=$(date +%s.%N)
    stop
    t1=$(date +%s.%N)
    start
    hit=$(request)
    hits=$(curl -s "http://127.0.0.1:$PORT/metrics" | sed -n 's/^mistral_prompt_cache_hits_total //p')
    stop
    bytes=$(cat "$D"/pc/*.kvc | wc -c)
    python3 -c "print('rep $rep: miss %.3f s, hit %.3f s (%s hit), %.1fx; stop with the save %.2f s; file %d bytes' % ($miss, $hit, '$hits', $miss / $hit, $t1 - $t0, $bytes))"
done
