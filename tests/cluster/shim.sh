#!/usr/bin/env bash
# Transparency: unmodified programs under `unum exec` on three nodes in
# network namespaces.  A C program starting `hostname` every way C can
# (system, popen, posix_spawn, posix_spawnp, vfork+execve, fork+execvp,
# fork from a multithreaded parent) has its children placed across the
# nodes without knowing; a shell loop and xargs -P4 spread too; exit
# statuses and signal deaths come back through the ghost; a program not
# named stays here; with no cluster daemon, everything stays here.  Runs
# as root.
# shellcheck disable=SC2154 # tmp, KEY, UNUM, UNUMD: common.sh; CL_*: cluster.sh
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

cluster_prelude
cc -O2 -pthread -o "$tmp/spawners" "$top/tests/lib/spawners.c" ||
	{ notok "the spawners program builds"; done_testing; exit 1; }

cluster_up 3 t || { notok "three nodes"; done_testing; exit 1; }
cluster_unum "$KEYC" --learn no -p roundrobin || notok "unumd and unum-clusterd on three nodes that see each other"

# ---- every way C starts a program ----
out=$(on t1 "$UNUM" exec -d hostname "$tmp/spawners" 2>"$tmp/sp.err")
rc=$?
same "$rc" "0" "spawners under unum exec: every child exits 0 through the ghost"
[ -s "$tmp/sp.err" ] && sed 's/^/# /' "$tmp/sp.err"
echo "$out" | sed 's/^/# /'
ways=$(echo "$out" | awk '{ print $1 }' | sort | tr '\n' ' ')
same "$ways" "fork popen posix_spawn posix_spawnp system threads vfork " \
	"system, popen, posix_spawn(p), vfork+execve, fork+execvp, fork after threads: each started hostname"
nodes=$(echo "$out" | awk '{ print $2 }' | sort -u | wc -l)
[ "$nodes" -ge 2 ] && ok "their hostnames ran on $nodes nodes: $(echo "$out" | awk '{ print $2 }' | tr '\n' ' ')" ||
	notok "the children were placed across the nodes: $out"

# ---- shells, xargs ----
# (spread counts what it placed, and the load each node reports: a node
# busy with the test itself may get one less)
same "$(on t1 "$UNUM" exec -d hostname sh -c 'for i in 1 2 3 4 5 6; do hostname; done' | sort -u | tr '\n' ' ')" \
	"t1 t2 t3 " "a shell loop: six hostnames, on all three nodes (spread)"
same "$(on t1 "$UNUM" exec -d hostname sh -c 'seq 9 | xargs -P4 -n1 sh -c hostname' | sort -u | wc -l)" \
	"3" "xargs -P4: its children on all three nodes"
same "$(on t1 "$UNUM" exec -d hostname sh -c 'uname -n')" "t1" "a program not named stays here"

# ---- statuses and signals through the ghost ----
same "$(on t1 "$UNUM" exec -d false sh -c 'false; echo $?')" "1" "an exit status comes back"
same "$(on t1 "$UNUM" exec -d sleep sh -c 'sleep 30 & p=$!; sleep 1; kill -TERM $p; wait $p; echo $?')" \
	"143" "a signal sent to the ghost kills the program there: 128+15"

# ---- no cluster: all here ----
cluster_kill "${CL_LASTPID}" TERM >/dev/null 2>&1 # t3's unum-clusterd
same "$(on t3 "$UNUM" exec -d hostname sh -c 'hostname; hostname' | sort -u)" "t3" \
	"with no cluster daemon on the node, everything runs here"
done_testing
