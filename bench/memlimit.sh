#!/bin/sh
# bench/memlimit.sh — a mixture larger than memory: mistral bench --mem-limit
# and llama-bench on the same GGUF file, each inside a memory cgroup (v1,
# memory.limit_in_bytes; the page cache counts against it), one after the
# other, with the page cache dropped before each run. Needs root.
#
#   LLAMA_BENCH=/path/to/llama-bench bench/memlimit.sh MODEL.gguf 8G 16G
#
# For each limit L (K/M/G: powers of 1024): mistral.c runs with
# --mem-limit L minus HEADROOM (default 1G: the KV cache, activations, the
# program and the embeddings' mapped pages); llama-bench runs as it is (it
# maps the file and leaves the rest to the page cache). Environment: P
# (prompt tokens, 32), N (generated, 8), R (repetitions, 1), THREADS (2),
# HEADROOM (1G), MISTRAL (build/mistral), LLAMA_TIMEOUT (seconds, 1800: a
# thrashing llama-bench is stopped there and reported). Without LLAMA_BENCH only
# mistral.c runs. The cgroup is /sys/fs/cgroup/memory/mistral-memlimit,
# removed at the end.
set -e
[ $# -ge 2 ] || { echo "usage: LLAMA_BENCH=... $0 MODEL.gguf LIMIT..." >&2; exit 2; }
model=$1
shift
P=${P:-32} N=${N:-8} R=${R:-1} T=${THREADS:-2} HEADROOM=${HEADROOM:-1G}
MISTRAL=${MISTRAL:-build/mistral}
CG=/sys/fs/cgroup/memory/mistral-memlimit
[ -d /sys/fs/cgroup/memory ] || { echo "memlimit: no cgroup v1 memory controller" >&2; exit 1; }

bytes() { # 8G -> bytes
    echo "$1" | awk '{ n = $1 + 0; u = toupper(substr($1, length($1)));
        m = u == "K" ? 1024 : u == "M" ? 1048576 : u == "G" ? 1073741824 : u == "T" ? 1099511627776 : 1;
        printf "%.0f\n", n * m }'
}

# runs "$@" in the cgroup with limit $1 bytes; prints the peak usage after
in_cgroup() {
    lim=$1
    shift
    rmdir "$CG" 2>/dev/null || true
    mkdir -p "$CG"
    echo 0 > "$CG/memory.swappiness" 2>/dev/null || true
    echo "$lim" > "$CG/memory.limit_in_bytes"
    sync
    echo 3 > /proc/sys/vm/drop_caches
    rc=0
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@" || rc=$?
    echo "cgroup: limit $(awk -v b="$lim" 'BEGIN { printf "%.2f", b / 1e9 }') GB, peak $(awk '{ printf "%.2f", $1 / 1e9 }' "$CG/memory.max_usage_in_bytes") GB, $(grep oom_kill "$CG/memory.oom_control" | tr '\n' ' ')exit $rc"
    rmdir "$CG" 2>/dev/null || true
}

lscpu | grep -E 'Model name' || true
for L in "$@"; do
    lim=$(bytes "$L")
    ml=$((lim - $(bytes "$HEADROOM")))
    echo "== $model in $L (mistral.c --mem-limit $ml bytes), threads $T"
    in_cgroup "$lim" "$MISTRAL" bench -m "$model" -p "$P" -n "$N" -r "$R" -t "$T" --mem-limit "$ml"
    if [ -n "$LLAMA_BENCH" ]; then
        in_cgroup "$lim" timeout "${LLAMA_TIMEOUT:-1800}" "$LLAMA_BENCH" -m "$model" -p "$P" -n "$N" -r "$R" -t "$T"
    fi
done
