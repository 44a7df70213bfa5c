#!/usr/bin/env bash
# Load on nodes that share a host: two nodes in network namespaces, each
# confined to one CPU of this machine (taskset), as containers on one
# host would be.  Each counts the threads runnable on its own CPU, not
# the host's: with three busy loops on node 2's CPU, node 1 sees node 2
# loaded and itself not, ncpu is 1 on both, and spread sends work from
# node 2 to node 1.  Runs as root; needs two CPUs.
# shellcheck disable=SC2154 # tmp, KEY, UNUM, UNUMD: common.sh; CL_*: cluster.sh
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

cluster_prelude
command -v taskset >/dev/null || { echo "1..0 # SKIP no taskset"; exit 0; }
[ "$(nproc)" -ge 2 ] || { echo "1..0 # SKIP needs two CPUs"; exit 0; }
CLUSTERD=${CLUSTERD:-$top/build/unum-clusterd}

cluster_up 2 c || { notok "two nodes"; done_testing; exit 1; }
# node I on CPU I-1: unumd, unum-clusterd and what they start
for i in 1 2; do
	cluster_spawn "$i" "$tmp/u$i.log" taskset -c $((i - 1)) "$UNUMD" \
		-c /dev/null -n "c$i" -k "$KEYC" -l "${CL_IP[$i]}:5640" -e / ||
		notok "unumd on c$i"
done
for n in 1 2; do # (wait_for sets i)
	wait_for "${CL_IP[$n]}:5640" 2>/dev/null
	cluster_spawn "$n" "$tmp/c$n.log" taskset -c $((n - 1)) "$CLUSTERD" \
		-c /dev/null -n "c$n" -k "$KEYC" -l "${CL_IP[$n]}:5641" \
		-a "${CL_IP[$n]}:5640" -j "${CL_IP[1]}:5641" ||
		notok "unum-clusterd on c$n"
done
both_alive() { [ "$(alive_count 1)" = 2 ] && [ "$(alive_count 2)" = 2 ]; }
within 10 both_alive && ok "two confined nodes see each other" ||
	notok "two confined nodes see each other"

# member_field VIEWER NODE FIELD: FIELD of NODE in VIEWER's `unum nodes --json`
member_field() {
	on "$1" "$UNUM" nodes --json 2>/dev/null | tr '}' '\n' |
		sed -n "s/.*\"node\":\"$2\".*\"$3\":\([0-9.]*\).*/\1/p"
}
same "$(member_field 1 c1 ncpu) $(member_field 1 c2 ncpu)" "1 1" \
	"each node has the one CPU it may run on"

# three busy loops on c2's CPU, 40 s at most (ended by pid at the end)
busy=()
for k in 1 2 3; do
	cluster_spawn 2 "$tmp/busy$k.log" taskset -c 1 timeout 40 \
		sh -c 'while :; do :; done' || notok "busy loop $k"
	busy+=("$CL_LASTPID")
done
# c1 sees c2 loaded (smoothed over ~5 s: 1.5 within a few seconds) and
# itself not (the host's count would be 3 or more on both)
c2_loaded() {
	local l1 l2
	l1=$(member_field 1 c1 load)
	l2=$(member_field 1 c2 load)
	[ -n "$l1" ] && [ -n "$l2" ] &&
		echo "$l1 $l2" | awk '{ exit !($2 >= 1.5 && $1 < 1 && $1 < $2 - 1) }'
}
if within 15 c2_loaded; then
	ok "c1 sees c2 loaded and itself not: c1 $(member_field 1 c1 load), c2 $(member_field 1 c2 load)"
else
	notok "c1 sees c2 loaded and itself not: c1 $(member_field 1 c1 load), c2 $(member_field 1 c2 load)"
fi
same "$(on 2 "$UNUM" run hostname 2>&1)" "c1" \
	"spread from the loaded c2 places on c1"
same "$(on 1 "$UNUM" run hostname 2>&1)" "c1" \
	"spread from c1 keeps the work on c1"
for p in "${busy[@]}"; do cluster_kill "$p"; done
done_testing
