#!/usr/bin/env bash
# The cluster at a larger size: eight nodes converge within 3 s; 1,000
# processes placed by spread over four nodes land within 15 % of even; a
# node killed with kill -9 during a fan-out has its share reported lost
# within 5 s while the rest complete; a user who is not root runs across
# nodes with their own files, and cannot see root's processes.  Runs as
# root.
# shellcheck disable=SC2154 # tmp, KEY, UNUM, UNUMD: common.sh; CL_*: cluster.sh
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test makes network namespaces and must run as root"
	exit 1
fi
for c in ip unshare nsenter setpriv bc; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP no $c"; exit 0; }
done
exec </dev/null
CLUSTERD=${CLUSTERD:-$top/build/unum-clusterd}
chmod 755 "$tmp"
KEYC="$tmp/cluster.key"
cp "$KEY" "$KEYC" && chmod 600 "$KEYC"
N=8

cluster_up "$N" s || { notok "$N nodes"; done_testing; exit 1; }

declare -a U_PID C_PID

for node in $(seq "$N"); do
	cluster_spawn "$node" "$tmp/u$node.log" "$UNUMD" -c /dev/null -n "s$node" \
		-k "$KEYC" -l "${CL_IP[$node]}:5640" -e / || notok "unumd on s$node"
	U_PID[$node]=$CL_LASTPID
done
for node in $(seq "$N"); do
	wait_for "${CL_IP[$node]}:5640" 2>/dev/null
done
# the clock starts with the first membership daemon
for node in $(seq "$N"); do
	cluster_spawn "$node" "$tmp/c$node.log" "$CLUSTERD" -c /dev/null -n "s$node" \
		-k "$KEYC" -l "${CL_IP[$node]}:5641" -a "${CL_IP[$node]}:5640" \
		-j "${CL_IP[1]}:5641" -j "${CL_IP[2]}:5641" || notok "unum-clusterd on s$node"
	C_PID[$node]=$CL_LASTPID
	[ "$node" = 1 ] && t0=$(date +%s.%N)
done
converged() {
	local k
	for k in $(seq "$N"); do
		[ "$(alive_count "s$k")" = "$N" ] || return 1
	done
}
within 10 converged
t=$(echo "$(date +%s.%N) - $t0" | bc)
if converged && [ "$(echo "$t <= 3" | bc)" = 1 ]; then
	ok "membership: $N nodes converge in ${t}s (<= 3)"
else
	notok "membership: $N nodes converge in ${t}s (<= 3): $(on s1 "$UNUM" nodes 2>&1)"
fi

# ---- 1,000 placements over four nodes ----
for node in 5 6 7 8; do
	on s1 "$UNUM" drain "s$node"
done
four() { [ "$(on s1 "$UNUM" nodes --json | grep -o '"drain":true' | wc -l)" = 4 ]; }
within 5 four || notok "four nodes drained"
counts=$(on s1 "$UNUM" run -N 1000 -f 64 hostname | sort | uniq -c | awk '{ print $1 }' | sort -n | tr '\n' ' ')
read -r -a c <<<"$counts"
if [ "${#c[@]}" = 4 ] && [ "${c[0]}" -ge 212 ] && [ "${c[3]}" -le 288 ] &&
	[ $((c[0] + c[1] + c[2] + c[3])) = 1000 ]; then
	ok "1,000 processes placed by spread over four nodes: $counts(within 15 % of 250)"
else
	notok "1,000 processes over four nodes within 15 % of even: $counts"
fi
for node in 5 6 7 8; do
	on s1 "$UNUM" undrain "s$node"
done
within 5 bash -c "! nsenter --target ${CL_HOLDER[1]} --net --uts --mount '$UNUM' nodes --json | grep -q '\"drain\":true'" ||
	notok "undrained"

# ---- a fan-out launched as a tree ----
cluster_file s1 /tmp/t/f "origin's"
out=$(on s1 bash -c "cd /tmp/t && '$UNUM' run -a --tree 3 sh -c 'echo \$(hostname) \$(cat f)'" 2>&1 | sort | tr '\n' ' ')
same "$out" "s1: s1 origin's s2: s2 origin's s3: s3 origin's s4: s4 origin's s5: s5 origin's s6: s6 origin's s7: s7 origin's s8: s8 origin's " \
	"run -a --tree 3: three heads start the rest; each line labelled once, every run sees the origin's file"
on s1 "$UNUM" run -a --tree 3 sh -c 'case $(hostname) in s7) exit 5;; esac'
same "$?" "5" "... and the highest status comes back through the tree"

# ---- kill -9 during a fan-out ----
on s1 "$UNUM" run -a sh -c 'sleep 2; hostname' >"$tmp/fan.out" 2>"$tmp/fan.err" &
fan=$!
sleep 0.5
t0=$(date +%s.%N)
kill -9 "${C_PID[4]}" "${U_PID[4]}"
wait "$fan"
rc=$?
t=$(echo "$(date +%s.%N) - $t0" | bc)
same "$(sort "$tmp/fan.out" | tr '\n' ' ')" \
	"s1: s1 s2: s2 s3: s3 s5: s5 s6: s6 s7: s7 s8: s8 " \
	"kill -9 of s4 during run -a: the other seven complete"
grep -q "s4" "$tmp/fan.err" && ok "... s4's share reported: $(grep s4 "$tmp/fan.err" | head -1)" ||
	notok "... s4's share reported: $(cat "$tmp/fan.err")"
[ "$rc" = 255 ] && [ "$(echo "$t <= 5" | bc)" = 1 ] &&
	ok "... the fan-out ends with 255 in ${t}s (<= 5)" ||
	notok "... the fan-out ends with 255 within 5 s: $rc in ${t}s"
dead_all() {
	local k
	for k in 1 2 3 5 6 7 8; do
		[ "$(state_of "s$k" s4)" = dead ] || return 1
	done
}
within 8 dead_all && ok "all seven know s4 dead" || notok "all seven know s4 dead"

# ---- a user who is not root ----
cluster_file s1 /tmp/alice/notes "alice's notes"
on s1 chown -R 65534:65534 /tmp/alice
on s1 "$UNUM" run -n s2 sleep 30 &
rootjob=$!
sleep 0.5
as_nobody() { on s1 setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
out=$(as_nobody bash -c "cd /tmp/alice && HOME=/tmp/alice '$UNUM' run -n s3 sh -c 'id -u; hostname; cat notes; echo added >> notes'" 2>&1)
same "$out" "65534
s3
alice's notes" "nobody runs on s3 as nobody, in their own directory from s1"
same "$(on s1 tail -1 /tmp/alice/notes)" "added" "... and what it wrote is on s1"
same "$(as_nobody "$UNUM" ps -a | grep -c ' sleep$')" "0" "nobody's ps -a shows none of root's processes"
rid=$(on s1 "$UNUM" ps -a | awk '/ sleep$/ { print $1 }' | head -1)
as_nobody "$UNUM" kill "$rid" 2>/dev/null && notok "nobody cannot signal root's $rid" ||
	ok "nobody cannot signal root's $rid"
as_nobody "$UNUM" 9p -a /run/unum/clusterd.sock -A proc read "$rid/status" >/dev/null 2>&1 &&
	notok "nobody cannot read its status through /cluster" ||
	ok "nobody cannot read its status through /cluster"
on s1 setpriv --reuid=65534 --regid=65534 --clear-groups ls /run/unum/import >/dev/null 2>&1
out=$(on s3 bash -c 'ls -ld /run/unum/import/*-65534 | cut -c1-10')
same "$out" "drwx------" "s3's import of nobody's files is in a directory only root enters"
kill "$rootjob" 2>/dev/null
wait "$rootjob" 2>/dev/null
done_testing
