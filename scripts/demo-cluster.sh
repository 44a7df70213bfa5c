#!/usr/bin/env bash
# make demo, the cluster part: three nodes in network namespaces (each its
# own hostname, /tmp and address), each running unumd and unum-clusterd;
# the members, a fan-out, placement, an unmodified make -j spreading its
# compiles under unum exec, a process on another node reading a
# file only its origin has, the cluster's processes, and a node killed and
# reported lost.  Needs root (namespaces); everything goes at the end.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
UNUMD=$top/build/unumd
UNUM=$top/build/unum
CLUSTERD=$top/build/unum-clusterd
tmp=$(mktemp -d /tmp/unum-demo-cluster.XXXXXX)
cleanup() { rm -rf "$tmp"; }
# shellcheck source=../tests/lib/cluster.sh
. "$top/tests/lib/cluster.sh"
exec </dev/null

# show NODE CMD...: runs CMD on NODE, saying so; the demo fails with it
show() {
	local node=$1
	shift
	echo "[$node]\$ $*"
	on "$node" "$@" || { echo "demo: that failed (status $?)" >&2; exit 1; }
}

chmod 755 "$tmp"
"$UNUM" keygen "$tmp/cluster.key" >/dev/null || exit 1
cluster_up 3 node || { echo "demo: cannot make three network namespaces" >&2; exit 1; }
echo "demo: three nodes in network namespaces: ${CL_IP[1]}, ${CL_IP[2]}, ${CL_IP[3]}"
for i in 1 2 3; do
	cluster_spawn "$i" "$tmp/unumd$i.log" "$UNUMD" -c /dev/null -n "node$i" \
		-k "$tmp/cluster.key" -l "${CL_IP[$i]}:5640" -e / || exit 1
done
for i in 1 2 3; do
	k=0
	until grep -q "serving ${CL_IP[$i]}:5640" "$tmp/unumd$i.log" || [ $k -ge 100 ]; do
		sleep 0.05
		k=$((k + 1))
	done
	cluster_spawn "$i" "$tmp/clusterd$i.log" "$CLUSTERD" -c /dev/null -n "node$i" \
		-k "$tmp/cluster.key" -l "${CL_IP[$i]}:5641" -a "${CL_IP[$i]}:5640" \
		-j "${CL_IP[1]}:5641" || exit 1
done
echo "demo: each runs unumd and unum-clusterd (joined through node1)"
for i in 1 2 3; do
	k=0
	until [ "$(on "node$i" "$UNUM" nodes --json 2>/dev/null | grep -o alive | wc -l)" = 3 ] ||
		[ $k -ge 100 ]; do
		sleep 0.1
		k=$((k + 1))
	done
done
echo
show node1 "$UNUM" nodes
echo
echo "demo: one command on every node, labelled (as pdsh), and gathered (as clush -b)"
show node2 "$UNUM" run -a uname -n
show node2 "$UNUM" run -a -b echo same everywhere
echo
echo "demo: 6 copies placed by the spread policy"
show node1 bash -c "'$UNUM' run -N 6 hostname | sort | uniq -c"
echo
echo "demo: a file that exists only on node1, read and written by a process placed on node3"
cluster_file node1 /tmp/project/input.txt "$(printf 'alpha\nbeta\ngamma')"
echo "[node3]\$ ls /tmp/project"
on node3 ls /tmp/project 2>&1 | sed 's/^/  /'
show node1 bash -c "cd /tmp/project && '$UNUM' run -n node3 sh -c 'echo \"running on \$(hostname) in \$(pwd)\"; wc -l < input.txt > count.txt'"
show node1 cat /tmp/project/count.txt
echo
echo "demo: an unmodified make -j6 under unum exec: its compiles spread over the nodes"
mkdir -p "$tmp/proj"
for i in 1 2 3 4 5 6; do
	printf 'int f%d(int x) { return x * %d; }\n' "$i" "$i" >"$tmp/proj/f$i.c"
done
printf 'all: f1.o f2.o f3.o f4.o f5.o f6.o\n%%.o: %%.c\n\t$(CC) -c -o $@ $<\n' >"$tmp/proj/Makefile"
# a compiler that says where it runs (and takes long enough to be worth
# sending)
printf '#!/bin/sh\necho "  cc-where on $(hostname): cc $*" >&2\nsleep 0.2\nexec cc "$@"\n' >"$tmp/cc-where"
chmod 755 "$tmp/cc-where"
show node1 bash -c "cd '$tmp/proj' && '$UNUM' exec -d cc-where make -s -j6 CC='$tmp/cc-where' && ls *.o"
echo
echo "demo: the cluster's processes, from any node"
on node1 "$UNUM" run -n node2 sleep 60 >/dev/null 2>"$tmp/lost.err" &
sleeper=$!
on node1 "$UNUM" run -n node3 sleep 60 >/dev/null 2>&1 &
other=$!
sleep 0.6
show node3 "$UNUM" ps -a
echo
echo "demo: node2 dies (kill -9 of its daemons)"
exec 3>&2 2>/dev/null # not bash's notes of the killed jobs
for p in $(ip netns pids "${CL_NS[2]}"); do
	case "$(cat "/proc/$p/comm" 2>/dev/null)" in unumd | unum-clusterd) kill -9 "$p" ;; esac
done
t0=$(date +%s.%N)
k=0
until on node1 "$UNUM" nodes --json | tr '}' '\n' | grep '"node2"' | grep -q dead || [ $k -ge 100 ]; do
	sleep 0.1
	k=$((k + 1))
done
exec 2>&3 3>&-
echo "demo: node1 knows node2 is dead after $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4)s"
show node1 "$UNUM" nodes
wait "$sleeper"
echo "demo: the run placed on node2 ended with status $?: $(cat "$tmp/lost.err")"
show node1 "$UNUM" ps -a
kill "$other" 2>/dev/null
wait "$other" 2>/dev/null
echo
echo "demo: the cluster goes"
cluster_down
rm -rf "$tmp"
