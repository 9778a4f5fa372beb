#!/bin/sh
# The pipeline across two simulated hosts (tests/platform/mpi.sh runs it):
#   sh tests/platform/mpi_netns.sh SINGLE_MISTRAL MPI_MISTRAL
# Two network namespaces joined by a veth pair (10.77.0.1 and 10.77.0.2),
# each process with its own hostname (unshare --uts), so OpenMPI sees two
# nodes and talks TCP between them (--mca btl tcp,self); mpirun starts the
# second node's daemon through a tiny "ssh" (plm_rsh_agent) that enters the
# other namespace. The ids must equal one process's. Skips with a message
# where namespaces cannot be made (not root, no ip/unshare, a container
# without CAP_SYS_ADMIN/CAP_NET_ADMIN).
SINGLE=$1
MPI=$2
tag=m$$
A=${tag}a
B=${tag}b
dir=$(mktemp -d "${TMPDIR:-/tmp}/mistral-netns-XXXXXX")
cleanup() {
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
skip() {
    echo "mpi: skipped the two-host test: $1"
    exit 0
}
for tool in ip unshare mpirun; do
    command -v $tool >/dev/null 2>&1 || skip "no $tool"
done
[ "$(id -u)" = 0 ] || skip "needs root for ip netns"
{ ip netns add "$A" && ip netns add "$B" &&
  ip link add "v$A" type veth peer name "v$B" &&
  ip link set "v$A" netns "$A" && ip link set "v$B" netns "$B" &&
  ip -n "$A" addr add 10.77.0.1/24 dev "v$A" && ip -n "$B" addr add 10.77.0.2/24 dev "v$B" &&
  ip -n "$A" link set "v$A" up && ip -n "$B" link set "v$B" up &&
  ip -n "$A" link set lo up && ip -n "$B" link set lo up &&
  ip netns exec "$A" unshare --uts true; } 2>"$dir/err" ||
    skip "cannot create network namespaces here ($(head -1 "$dir/err"))"

# "ssh" to 10.77.0.2: run the command in namespace B as host hostb
cat >"$dir/agent" <<EOF
#!/bin/sh
shift
exec ip netns exec $B unshare --uts sh -c "hostname hostb; \$*"
EOF
chmod +x "$dir/agent"
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$dir/hosts"

# the first lines each rank wrote to stderr, under its rank (mpirun
# --output-filename keeps them apart), then the job's whole stderr as
# mpirun forwarded it (its banners' rules left out)
why() {
    for f in "$dir"/ranks/*/rank.*/stderr; do
        [ -f "$f" ] || continue
        r=$(basename "$(dirname "$f")")
        if [ -s "$f" ]; then head -n 6 "$f" | sed "s/^/  rank ${r#rank.}: /"
        else echo "  rank ${r#rank.}: (nothing on stderr)"; fi
    done
    grep -v -e '^-*$' "$dir/err" | sed 's/^/  stderr: /'
}

status=0
model=tests/data/tiny/dense_sw8_f32
printf '1,147,186,149,240\n1,5,9,33\n1,2\n' >"$dir/prompts"
want=$("$SINGLE" generate -m $model --tokens-file "$dir/prompts" -n 16 --ids)
got=$(timeout 120 ip netns exec "$A" unshare --uts sh -c "hostname hosta; exec mpirun \
    --hostfile $dir/hosts -np 2 --mca plm_rsh_agent $dir/agent --output-filename $dir/ranks \
    --mca btl tcp,self --mca btl_tcp_if_include 10.77.0.0/24 --mca oob_tcp_if_include 10.77.0.0/24 \
    $MPI generate -m $model --tokens-file $dir/prompts -n 16 --ids --pipeline --dist-stats" 2>"$dir/err")
rc=$?
if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
    echo "FAIL mpi: pipeline over two namespaces: exit $rc, got [$got], expected [$want]"
    why
    status=1
elif ! grep -q "rank 0 of 2 on hosta" "$dir/err" || ! grep -q "rank 1 of 2 on hostb" "$dir/err"; then
    echo "FAIL mpi: the two ranks did not run on hosta and hostb:"
    why
    status=1
else
    echo "mpi: pipeline over two network namespaces (hosta, hostb; TCP over veth): same ids"
fi
exit $status
