#!/usr/bin/env bash
# The cluster: three nodes (network namespaces with their own hostname,
# /tmp and /run), each running unumd and unum-clusterd.  Membership and
# `unum nodes`; placement (pinned, spread, drain, constraints); fan-out
# (-a, -w, -N, -b); one process space (ps -a, kill and wait NODE.N from
# any node; users apart); the origin's files on another node (read a file
# only the origin has, write one the origin reads right after the exit);
# failure (kill -9 of a node: known dead within 5 s, its run and waits
# report it lost; a cut link known and healed, work flowing again); a clean
# leave; bad input refused with one line and nothing changed.  Runs as
# root.
# shellcheck disable=SC2154 # tmp, KEY, UNUM, UNUMD: common.sh; CL_*: cluster.sh
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test makes network namespaces and must run as root"
	exit 1
fi
for c in ip unshare nsenter setpriv; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP no $c"; exit 0; }
done
[ -e /dev/fuse ] || { echo "1..0 # SKIP no /dev/fuse"; exit 0; }
exec </dev/null
CLUSTERD=${CLUSTERD:-$top/build/unum-clusterd}
chmod 755 "$tmp"
KEYC="$tmp/cluster.key"
cp "$KEY" "$KEYC" && chmod 600 "$KEYC"

cluster_up 3 n || { notok "three nodes"; done_testing; exit 1; }

# start_node I: unumd (exporting the node's / for imports) and
# unum-clusterd joined through n1; sets U_PID[I], C_PID[I]
declare -a U_PID C_PID
start_unumd_node() {
	local i=$1
	cluster_spawn "$i" "$tmp/u$i.log" "$UNUMD" -c /dev/null -n "n$i" \
		-k "$KEYC" -l "${CL_IP[$i]}:5640" -e / || return 1
	U_PID[$i]=$CL_LASTPID
}
start_clusterd_node() {
	local i=$1
	shift
	cluster_spawn "$i" "$tmp/c$i.log" "$CLUSTERD" -c /dev/null -n "n$i" \
		-k "$KEYC" -l "${CL_IP[$i]}:5641" -a "${CL_IP[$i]}:5640" \
		-j "${CL_IP[1]}:5641" "$@" || return 1
	C_PID[$i]=$CL_LASTPID
}

t0=$(date +%s.%N)
for node in 1 2 3; do
	start_unumd_node "$node" ||
		{ notok "unumd on n$node"; sed 's/^/# /' "$tmp/u$node.log"; }
done
for node in 1 2 3; do
	wait_for "${CL_IP[$node]}:5640" 2>/dev/null
	start_clusterd_node "$node" ||
		{ notok "unum-clusterd on n$node"; sed 's/^/# /' "$tmp/c$node.log"; }
done
all_three() {
	[ "$(alive_count n1)" = 3 ] && [ "$(alive_count n2)" = 3 ] &&
		[ "$(alive_count n3)" = 3 ]
}
if within 10 all_three; then
	ok "membership: every node sees the three alive (${took}s after the daemons started)"
else
	notok "membership converges: $(on n1 "$UNUM" nodes 2>&1)"
	sed 's/^/# /' "$tmp"/c1.log | tail -5
fi

out=$(on n2 "$UNUM" nodes)
case "$out" in
*NODE*STATE*"*n2 "*alive*) ok "unum nodes: a table, this node starred" ;;
*) notok "unum nodes: a table, this node starred: $out" ;;
esac
same "$(on n1 "$UNUM" nodes --json | grep -o '"node":"n[0-9]"' | sort | tr '\n' ' ')" \
	'"node":"n1" "node":"n2" "node":"n3" ' "unum nodes --json names every member"

# ---- placement ----
same "$(on n1 "$UNUM" run -n n3 hostname)" "n3" "run -n NODE runs on that node"
same "$(on n1 "$UNUM" run -N 6 hostname | sort | uniq -c | awk '{ print $1 }' | tr '\n' ' ')" \
	"2 2 2 " "-N 6: spread, two a node"
same "$(on n2 "$UNUM" run -p 'node n1' hostname)" "n1" "-p 'node n1' pins it"
on n1 "$UNUM" run -p 'arch=sparc' true 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "a constraint nobody meets: exit 255, one line"
grep -q "no live member meets it" "$tmp/err" &&
	ok "... saying no member meets it" || notok "... saying why: $(cat "$tmp/err")"
on n1 "$UNUM" drain n2 || notok "unum drain n2"
within 5 bash -c "[ \"\$(nsenter --target ${CL_HOLDER[3]} --net --uts --mount \"$UNUM\" nodes --json | grep -o '\"drain\":true' | wc -l)\" = 1 ]" ||
	notok "the drain is known on n3"
same "$(on n3 "$UNUM" run -N 8 hostname | grep -c n2)" "0" "drained: no new process lands on n2"
same "$(on n1 "$UNUM" run -n n2 hostname)" "n2" "a drained node still runs what is pinned there"
on n1 "$UNUM" undrain n2
undrained() {
	local k
	for k in 1 2 3; do
		on "n$k" "$UNUM" nodes --json | grep -q '"drain":true' && return 1
	done
	return 0
}
within 5 undrained && ok "undrain is known everywhere (${took}s)" ||
	notok "undrain is known everywhere"

# ---- fan-out ----
same "$(on n2 "$UNUM" run -a hostname | sort | tr '\n' ' ')" "n1: n1 n2: n2 n3: n3 " \
	"run -a: every node, lines labelled"
same "$(on n2 "$UNUM" run -w 'n[1-2]' hostname | sort | tr '\n' ' ')" "n1: n1 n2: n2 " \
	"run -w n[1-2]: names and ranges"
out=$(on n1 "$UNUM" run -a -b echo same)
case "$out" in
*"n1,n2,n3"*same*) ok "run -a -b: one output for the nodes that printed the same" ;;
*) notok "run -a -b gathers: $out" ;;
esac
on n1 "$UNUM" run -a sh -c 'case $(hostname) in n2) exit 7;; n3) exit 3;; esac'
same "$?" "7" "run -a exits with the highest status"
same "$(on n1 bash -c "printf 'one\ntwo\n' | '$UNUM' run -a --stdin wc -l" | sort | tr '\n' ' ')" \
	"n1: 2 n2: 2 n3: 2 " "run -a --stdin: every node reads all of stdin"
same "$(on n1 bash -c "echo x | '$UNUM' run -a wc -c" | sort | tr '\n' ' ')" \
	"n1: 0 n2: 0 n3: 0 " "run -a without --stdin: an empty stdin"

# ---- the origin's files ----
cluster_file n1 /tmp/work/only-on-n1 "from n1"
out=$(on n1 bash -c "cd /tmp/work && '$UNUM' run -n n2 sh -c 'hostname; cat only-on-n1; pwd'" 2>&1)
same "$out" "n2
from n1
/tmp/work" "a process on n2 reads a file only its origin (n1) has, in the origin's working directory"
on n3 test -e /tmp/work/only-on-n1 && notok "n3 has no such file itself" || ok "n3 has no such file itself"
# the working directory lies in /tmp, which n2 has no /tmp/work of: its
# place is made in n2's /tmp, and the rest of /tmp stays n2's own (a
# compiler's temporary files stay where it runs)
on n2 sh -c 'echo own > /tmp/n2-own'
out=$(on n1 bash -c "cd /tmp/work && '$UNUM' run -n n2 sh -c 'cat /tmp/n2-own only-on-n1; echo t > /tmp/n2-tmp'" 2>&1)
same "$out" "own
from n1" "a process on n2 from /tmp/work on n1: /tmp is n2's own, /tmp/work n1's"
same "$(on n2 cat /tmp/n2-tmp 2>&1):$(on n1 cat /tmp/n2-tmp 2>&1 | head -c 4)" "t:cat:" \
	"... what it writes in /tmp stays on n2"
on n1 bash -c "cd /tmp/work && '$UNUM' run -n n3 sh -c 'echo written on \$(hostname) > out'"
same "$(on n1 cat /tmp/work/out 2>&1)" "written on n3" \
	"what a process on n3 wrote in the imported directory is on n1 right after its exit"
same "$(on n3 cat /tmp/work/out 2>&1 | head -1)" "cat: /tmp/work/out: No such file or directory" \
	"... and not on n3's own disk"
# changed at the origin right after a program on n2 read it: the next
# program on n2 reads it new, and sees a name made and one removed
# (the import keeps names and files up to a minute, and is told of
# changes before each start)
out=$(on n1 bash -c "cd /tmp/work && echo v1 > ver && rm -f gone && echo g > gone &&
	'$UNUM' run -n n2 sh -c 'cat ver; ls gone made 2>/dev/null; true' &&
	echo v2-longer > ver && rm gone && echo m > made &&
	'$UNUM' run -n n2 sh -c 'cat ver; ls gone made 2>/dev/null; true'" 2>&1)
same "$(echo $out)" "v1 gone v2-longer made" \
	"a change at the origin is seen by the next program on n2 at once (a file, a name made, one removed)"
out=$(on n1 bash -c "cd /tmp/work && '$UNUM' run -a cat only-on-n1" 2>&1 | sort | tr '\n' ' ')
same "$out" "n1: from n1 n2: from n1 n3: from n1 " "run -a: every node reads the origin's file"
out=$(on n1 bash -c "cd / && '$UNUM' run -a --no-import cat /tmp/work/only-on-n1" 2>&1 | grep -c 'No such file')
same "$out" "2" "run -a --no-import: the others have no such file"
out=$(on n1 bash -c "cd /tmp/work && '$UNUM' run --no-import -n n2 ls /tmp/work/only-on-n1" 2>&1)
case "$out" in *"No such file"*) ok "--no-import: the node's own files" ;;
*) notok "--no-import: the node's own files: $out" ;; esac

# ---- one process space ----
# (INT at its default, as in a foreground job: see kill -INT below)
on n1 env --default-signal=INT "$UNUM" run -n n3 sleep 60 &
sleeper=$!
within 5 bash -c "nsenter --target ${CL_HOLDER[2]} --net --uts --mount '$UNUM' ps -a | grep -q ' sleep\$'" ||
	notok "the sleeper shows up"
line=$(on n2 "$UNUM" ps -a | grep ' sleep$' | head -1)
id=$(echo "$line" | awk '{ print $1 }')
case "$line" in
n3.*" root "*running*" n3 "*" n1 "*sleep) ok "ps -a on n2: n3's process, its user, state, node and origin ($id)" ;;
*) notok "ps -a on n2 shows n3's process: $(on n2 "$UNUM" ps -a)" ;;
esac
json=$(on n3 "$UNUM" ps -a --json)
case "$json" in *"\"id\":\"$id\""*"\"origin\":\"n1\""*) ok "ps -a --json" ;;
*) notok "ps -a --json: $json" ;; esac
# users apart
same "$(on n2 setpriv --reuid=65534 --regid=65534 --clear-groups "$UNUM" ps -a | grep -c sleep)" "0" \
	"another user's ps -a does not show it"
on n2 setpriv --reuid=65534 --regid=65534 --clear-groups "$UNUM" kill "$id" 2>"$tmp/err"
[ $? != 0 ] && ok "another user cannot kill it ($(head -1 "$tmp/err"))" ||
	notok "another user cannot kill it"
on n2 "$UNUM" wait "$id" >"$tmp/wait" &
waiter=$!
sleep 0.3
on n3 "$UNUM" kill -INT "$id" || notok "root kills it from n3"
wait "$sleeper"
same "$?" "130" "the run on n1 ends as its process did (SIGINT: 130)"
wait "$waiter"
same "$?:$(cut -d' ' -f1-3 "$tmp/wait")" "130:$id signal 2" "unum wait on n2 saw it end"

# ---- bad input ----
pol=$(on n1 "$UNUM" 9p -a /run/unum/clusterd.sock -A cluster read policy)
echo 'spread wibble=1' | on n1 "$UNUM" 9p -V 9P2000.u -a /run/unum/clusterd.sock -A cluster write policy 2>"$tmp/err"
[ $? != 0 ] && grep -q "unknown constraint" "$tmp/err" &&
	ok "a bad policy is refused, saying why" || notok "a bad policy is refused: $(cat "$tmp/err")"
same "$(on n1 "$UNUM" 9p -a /run/unum/clusterd.sock -A cluster read policy)" "$pol" "... and the policy is unchanged"
echo 'explode n2' | on n1 "$UNUM" 9p -V 9P2000.u -a /run/unum/clusterd.sock -A cluster write ctl 2>"$tmp/err"
[ $? != 0 ] && grep -q "unknown command" "$tmp/err" &&
	ok "a bad ctl line is refused, saying why" || notok "a bad ctl line: $(cat "$tmp/err")"
echo 'spread' | on n1 setpriv --reuid=65534 --regid=65534 --clear-groups "$UNUM" 9p -V 9P2000.u -a /run/unum/clusterd.sock -A cluster write policy 2>"$tmp/err"
[ $? != 0 ] && ok "only root sets the policy" || notok "only root sets the policy"
for args in "drain nosuch" "run -p bogus true" "run -N 0 true" "run -a -n n2 true" "kill n9.1" "wait n1.99999" "nodes --bogus"; do
	# shellcheck disable=SC2086 # the words are the arguments
	on n1 "$UNUM" $args >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc != 0 ] && [ "$(wc -l <"$tmp/err")" -le 2 ] && [ -s "$tmp/err" ] &&
		ok "unum $args: refused (status $rc): $(head -1 "$tmp/err")" ||
		notok "unum $args: status $rc, $(cat "$tmp/err")"
done
all_three && ok "the daemons all still run after the bad input" || notok "the daemons still run"

# ---- every CPU busy: no false death ----
for node in 1 2 3; do
	for _ in 1 2; do
		cluster_spawn "$node" /dev/null timeout 8 yes >/dev/null 2>&1
	done
done
bad=""
for _ in 1 2 3 4 5 6 7; do
	sleep 1
	for node in 1 2 3; do
		for other in 1 2 3; do
			st=$(state_of "n$node" "n$other")
			[ "$st" = dead ] && bad="$bad n$node:n$other"
		done
	done
done
[ -z "$bad" ] && ok "six busy loops on two cores for 8 s: no node is thought dead" ||
	notok "a false death under load:$bad"
within 5 all_three || notok "all alive after the load"

# ---- failure: a node killed ----
on n1 "$UNUM" run -n n3 sleep 60 2>"$tmp/lost.err" &
victim=$!
within 5 bash -c "nsenter --target ${CL_HOLDER[2]} --net --uts --mount '$UNUM' ps -a | grep -q ' sleep\$'"
id=$(on n2 "$UNUM" ps -a | awk '/ sleep$/ { print $1 }' | head -1)
on n2 "$UNUM" wait "$id" >"$tmp/wait2" 2>&1 &
waiter=$!
sleep 0.2
kill -9 "${C_PID[3]}" "${U_PID[3]}"
dead_everywhere() {
	[ "$(state_of n1 n3)" = dead ] && [ "$(state_of n2 n3)" = dead ]
}
if within 8 dead_everywhere; then
	t=$took
	[ "$(echo "$t <= 5" | bc)" = 1 ] && ok "kill -9 of n3: n1 and n2 know it dead in ${t}s (<= 5)" ||
		notok "n3 known dead in ${t}s, over 5"
else
	notok "n3 known dead: n1 sees $(state_of n1 n3), n2 $(state_of n2 n3)"
fi
wait "$victim"
rc=$?
same "$rc" "255" "the run whose node died exits 255"
grep -q "n3\|${CL_IP[3]}" "$tmp/lost.err" && ok "... naming the node: $(head -1 "$tmp/lost.err")" ||
	notok "... naming the node: $(cat "$tmp/lost.err")"
wait "$waiter"
same "$?" "255" "unum wait on a process of the dead node: 255"
grep -q "$id lost" "$tmp/wait2" && ok "... saying it is lost" || notok "... lost: $(cat "$tmp/wait2")"
on n1 "$UNUM" wait "$id" >/dev/null 2>"$tmp/err"
grep -q "lost" "$tmp/err" && ok "a later wait names the loss at once: $(head -1 "$tmp/err")" ||
	notok "a later wait: $(cat "$tmp/err")"
line=$(on n1 "$UNUM" ps -a | grep "^$id ")
case "$line" in
*" lost "*" n3 "*" n1 "*sleep) ok "ps -a on its origin lists it lost: $line" ;;
*) notok "ps -a on its origin lists it lost: $(on n1 "$UNUM" ps -a)" ;;
esac
same "$(on n1 setpriv --reuid=65534 --regid=65534 --clear-groups "$UNUM" ps -a | grep -c "^$id ")" "0" \
	"... not to another user"
same "$(on n1 "$UNUM" run -N 4 hostname | grep -c n3)" "0" "nothing is placed on the dead node"
start_unumd_node 3 && wait_for "${CL_IP[3]}:5640" 2>/dev/null
start_clusterd_node 3
within 10 all_three && ok "n3 restarted rejoins (${took}s)" || notok "n3 rejoins: $(on n1 "$UNUM" nodes)"
same "$(on n1 "$UNUM" run -n n3 hostname)" "n3" "... and runs work again"

# ---- failure: a link cut and healed ----
on n1 "$UNUM" run -n n2 sleep 300 2>"$tmp/cut.err" &
cutrun=$!
within 5 bash -c "nsenter --target ${CL_HOLDER[2]} --net --uts --mount '$UNUM' ps | grep -q ' sleep\$'" ||
	notok "a run from n1 on n2 before the cut"
t0=$(date +%s.%N)
cluster_cut n2
cut_known() { [ "$(state_of n1 n2)" = dead ] && [ "$(state_of n3 n2)" = dead ]; }
within 8 cut_known && ok "n2's link cut: n1 and n3 know it dead (${took}s)" ||
	notok "n2's cut known: $(state_of n1 n2) $(state_of n3 n2)"
within 30 bash -c "! kill -0 $cutrun 2>/dev/null"
wait "$cutrun"
rc=$?
t=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$rc" = 255 ] && [ "$(echo "$t <= 25" | bc)" = 1 ] &&
	ok "the run from n1 on the cut-off n2 ends with 255 in ${t}s, not a hang: $(head -1 "$tmp/cut.err")" ||
	notok "the run across the cut ends: status $rc after ${t}s: $(cat "$tmp/cut.err")"
within 20 bash -c "! nsenter --target ${CL_HOLDER[2]} --net --uts --mount '$UNUM' ps | grep -q ' running .* sleep\$'" &&
	ok "on n2, the process whose origin is cut off is killed (no orphan; ${took}s after its run ended)" ||
	notok "no orphan on n2: $(on n2 "$UNUM" ps)"
cluster_heal n2
within 20 all_three && ok "the link healed: membership recovers (${took}s)" ||
	notok "membership recovers after the heal: $(on n1 "$UNUM" nodes 2>&1)"
same "$(on n1 "$UNUM" run -n n2 hostname)" "n2" "... and work flows to n2 again"

# ---- leaving ----
cluster_kill "${C_PID[2]}" TERM
within 5 bash -c "[ \"\$(nsenter --target ${CL_HOLDER[1]} --net --uts --mount '$UNUM' nodes --json | tr '}' '\n' | grep '\"n2\"' | grep -o 'left')\" = left ]" &&
	ok "SIGTERM: n2 leaves, and n1 knows it left (not dead) in ${took}s" ||
	notok "n2 left: $(on n1 "$UNUM" nodes)"
out=$(on n1 "$UNUM" run -n n2 true 2>&1)
rc=$?
case "$rc:$out" in
255:*n2*) ok "... and nothing goes there: $out" ;;
*) notok "nothing goes to a node that left: $rc $out" ;;
esac
done_testing
