#!/bin/sh
# bench/memlimit.sh — a mixture larger than memory: mistral bench --mem-limit
# and llama-bench on the same GGUF file, each inside a memory cgroup (v2
# memory.max, or v1 memory.limit_in_bytes; the page cache counts against
# it), one after the other, with the page cache dropped before each run.
# Needs root.
#
#   LLAMA_BENCH=/path/to/llama-bench bench/memlimit.sh MODEL.gguf 8G 16G
#
# For each limit L (K/M/G: powers of 1024): mistral.c runs with
# --mem-limit L minus HEADROOM (default 1G: what the process holds beside
# its weights, README "Mixtral larger than memory": the KV cache, the
# activations of a -p P prefill, the expert cache's read buffers, the
# threads and the program); llama-bench runs as it is (it maps the file and
# leaves the rest to the page cache). Environment: P (prompt tokens, 32), N
# (generated, 8), R (repetitions, 1), THREADS (2), HEADROOM (1G), MISTRAL
# (build/mistral), LLAMA_TIMEOUT (seconds, 1800: a thrashing llama-bench is
# stopped there and reported), SPEC_ARGS (e.g. "--draft SMALL.gguf" or
# "--lookup 3": mistral bench also times speculative decode against plain,
# on its -f prompt or its own; the draft model is outside --mem-limit but
# inside the cgroup). Without LLAMA_BENCH only mistral.c runs. The
# cgroup is mistral-memlimit at the top of the hierarchy, removed at the end.
set -e
[ $# -ge 2 ] || { echo "usage: LLAMA_BENCH=... $0 MODEL.gguf LIMIT..." >&2; exit 2; }
model=$1
shift
P=${P:-32} N=${N:-8} R=${R:-1} T=${THREADS:-2} HEADROOM=${HEADROOM:-1G}
MISTRAL=${MISTRAL:-build/mistral}
if grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    CG=/sys/fs/cgroup/mistral-memlimit V=2
    grep -qw memory /sys/fs/cgroup/cgroup.subtree_control || echo +memory > /sys/fs/cgroup/cgroup.subtree_control
elif [ -d /sys/fs/cgroup/memory ]; then
    CG=/sys/fs/cgroup/memory/mistral-memlimit V=1
else
    echo "memlimit: no cgroup memory controller (v2 or v1)" >&2
    exit 1
fi

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
    if [ $V = 2 ]; then
        echo "$lim" > "$CG/memory.max"
        echo 0 > "$CG/memory.swap.max" 2>/dev/null || true
        peak=memory.peak events=memory.events
    else
        echo 0 > "$CG/memory.swappiness" 2>/dev/null || true
        echo "$lim" > "$CG/memory.limit_in_bytes"
        peak=memory.max_usage_in_bytes events=memory.oom_control
    fi
    sync
    echo 3 > /proc/sys/vm/drop_caches
    rc=0
    sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG" "$@" || rc=$?
    echo "cgroup v$V: limit $(awk -v b="$lim" 'BEGIN { printf "%.2f", b / 1e9 }') GB, peak $( [ -f "$CG/$peak" ] && awk '{ printf "%.2f", $1 / 1e9 }' "$CG/$peak" || echo '?') GB, $(grep oom_kill "$CG/$events" | tr '\n' ' ')exit $rc"
    rmdir "$CG" 2>/dev/null || true
}

lscpu | grep -E 'Model name' || true
for L in "$@"; do
    lim=$(bytes "$L")
    ml=$((lim - $(bytes "$HEADROOM")))
    echo "== $model in $L (mistral.c --mem-limit $ml bytes), threads $T"
    in_cgroup "$lim" "$MISTRAL" bench -m "$model" -p "$P" -n "$N" -r "$R" -t "$T" --mem-limit "$ml" ${SPEC_ARGS:-}
    if [ -n "$LLAMA_BENCH" ]; then
        in_cgroup "$lim" timeout "${LLAMA_TIMEOUT:-1800}" "$LLAMA_BENCH" -m "$model" -p "$P" -n "$N" -r "$R" -t "$T"
    fi
done
