#!/usr/bin/env bash
# Trust across nodes: two nodes, each a network namespace of its own with
# its own unumd, joined by a veth pair.  A user on node a cannot see, read,
# signal or wait on another user's process on node b by any path: through
# a's relay, on b's own Unix socket, or as a node naming that user over TLS;
# the same user can do all of it to their own.  A client that dies takes
# its process on b with it.  A key rollover works with nodes on the old and
# the new key, and a node left on the old key is refused once b drops it.
# Runs as root.
# shellcheck disable=SC2154 # a_pid, b_pid: node; tmp, top: common.sh
. "$(dirname "$0")/../lib/common.sh"

if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test makes network namespaces and must run as root"
	exit 1
fi
for c in ip setpriv cc; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP no $c"; exit 0; }
done

# ---- the nodes: namespaces a and b, one veth pair between them ----
NA="unum-trust-$$-a"
NB="unum-trust-$$-b"
VA="ut$$a"
VB="ut$$b"
trust_cleanup() {
	ip netns del "$NA" 2>/dev/null
	ip netns del "$NB" 2>/dev/null
	ip link del "$VA" 2>/dev/null # made, but not yet moved into a
	cleanup
}
trap trust_cleanup EXIT

# a 10.201.X.0/24 that this host does not use
X=""
for _ in $(seq 30); do
	c=$((RANDOM % 254 + 1))
	if ! { ip -4 -o addr show; ip route; } | grep -q "10\.201\.$c\."; then
		X=$c
		break
	fi
done
[ -n "$X" ] || { echo "not ok 1 - a free 10.201.X.0/24"; exit 1; }
A_IP="10.201.$X.1"
B_IP="10.201.$X.2"
B="$B_IP" # how users name node b (port 5640)

if ! { ip netns add "$NA" && ip netns add "$NB" &&
	ip link add "$VA" type veth peer name "$VB" &&
	ip link set "$VA" netns "$NA" && ip link set "$VB" netns "$NB" &&
	ip -n "$NA" addr add "$A_IP/24" dev "$VA" &&
	ip -n "$NB" addr add "$B_IP/24" dev "$VB" &&
	ip -n "$NA" link set lo up && ip -n "$NB" link set lo up &&
	ip -n "$NA" link set "$VA" up && ip -n "$NB" link set "$VB" up; } \
	2>"$tmp/ip.err"; then
	notok "two network namespaces joined by a veth pair"
	sed 's/^/# /' "$tmp/ip.err"
	done_testing
	exit 1
fi

cc -Isrc -I"$top/src" -o "$tmp/flood" "$top/tests/lib/flood.c" \
	"$top/build/libunum.a" $(pkg-config --libs libuv openssl) -pthread \
	2>"$tmp/cc.err" || { notok "the flood client builds"; done_testing; exit 1; }

exec </dev/null # no request reads the test's own stdin
chmod 755 "$tmp" # other users reach the sockets
mkdir "$tmp/w" && chmod 777 "$tmp/w"
OLD="$KEY"
NEW="$tmp/new.key"
"$UNUM" keygen "$NEW" >/dev/null

# node NAME NS IP LOG ARGS...: unumd NAME in namespace NS, TLS on IP:5640,
# socket $tmp/NAME.sock, standard error to $tmp/LOG; sets NAME_pid.  Waits
# (5 s at most) until the socket exists and the port answers in NS.
node() {
	local name=$1 ns=$2 ip=$3 log=$4 p i
	shift 4
	ip netns exec "$ns" "$UNUMD" -c /dev/null -n "$name" \
		-s "$tmp/$name.sock" -l "$ip:5640" "$@" 2>"$tmp/$log" &
	p=$!
	pids="$pids $p"
	eval "${name}_pid=$p"
	i=0
	while [ $i -lt 100 ]; do
		kill -0 "$p" 2>/dev/null || return 1
		if [ -S "$tmp/$name.sock" ] && ip netns exec "$ns" \
			bash -c "exec 3<>/dev/tcp/$ip/5640" 2>/dev/null; then
			return 0
		fi
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
# stop NAME: SIGTERM to that node's unumd, which must end within 5 s
# (unumd(8): it closes every connection and exits); else SIGKILL
stop() {
	local p
	p=$(eval echo "\$${1}_pid")
	kill "$p" 2>/dev/null
	if gone "$p" 5; then
		ok "unumd $1 exits on SIGTERM"
	else
		notok "unumd $1 exits within 5 s of SIGTERM (killed with SIGKILL)"
		echo "# sockets still open: $(find "/proc/$p/fd" -lname 'socket:*' 2>/dev/null | wc -l)"
		tail -3 "$tmp/$2" | sed 's/^/# /'
		kill -9 "$p" 2>/dev/null
	fi
	wait "$p" 2>/dev/null
}
started() { # started NAME LOG: one line, and the log when it failed
	if [ "$2" = 0 ]; then ok "$1"; else
		notok "$1"
		sed 's/^/# /' "$tmp/$3" | head -10
	fi
}

node b "$NB" "$B_IP" b.log -k "$OLD"
started "unumd b starts in namespace b on $B_IP:5640" $? b.log
node a "$NA" "$A_IP" a.log -k "$OLD"
started "unumd a starts in namespace a on $A_IP:5640" $? a.log

# Who runs what, from where.  Every foreground request is bounded by
# timeout; a background one runs unum itself (ip netns exec, setpriv and
# env exec it) so that $! is unum's pid.
INA=(ip netns exec "$NA")
INB=(ip netns exec "$NB")
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
RENV=(env -u UNUM_KEY UNUM_SOCKET="$tmp/a.sock" UNUM_ADDR=) # a user of a
BENV=(env -u UNUM_KEY UNUM_SOCKET="$tmp/b.sock" UNUM_ADDR=) # a user of b
ra() { timeout 10 "${INA[@]}" "${RENV[@]}" "$@"; }              # root on a
na() { timeout 10 "${INA[@]}" "${NOBODY[@]}" "${RENV[@]}" "$@"; } # nobody on a
rb() { timeout 10 "${INB[@]}" "${BENV[@]}" "$@"; }              # root on b
nb() { timeout 10 "${INB[@]}" "${NOBODY[@]}" "${BENV[@]}" "$@"; } # nobody on b
BS="unix:$tmp/b.sock"
# idof PID: the id of the process with that pid in unum ps --json (stdin)
idof() {
	tr '}' '\n' | grep -E "\"pid\": *$1([^0-9]|\$)" |
		sed -n 's/.*"id": *"\([0-9]*\)".*/\1/p' | head -1
}
# waitfile FILE: until FILE has something in it (5 s at most)
waitfile() {
	local i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$1" ]
}
# gone PID SECONDS: until the process PID has ended
gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $(($2 * 20)) ]; do
		sleep 0.05
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}
# fails1 DESC CMD...: CMD fails with status 1 and one line on stderr, and
# writes nothing on stdout; its stdin is $FIN (default /dev/null)
fails1() {
	local d=$1 rc
	shift
	"$@" >"$tmp/fo" 2>"$tmp/fe" <"${FIN:-/dev/null}"
	rc=$?
	if [ "$rc:$(wc -l <"$tmp/fe")" = "1:1" ] && [ ! -s "$tmp/fo" ]; then
		ok "$d ($(cat "$tmp/fe"))"
	else
		notok "$d: status $rc, want 1 and one line"
		sed 's/^/# out: /' "$tmp/fo" | head -5
		sed 's/^/# err: /' "$tmp/fe" | head -5
	fi
}

# ---- 1. root on a runs a program on b through a's relay ----
"${INA[@]}" "${RENV[@]}" "$UNUM" run -n "$B" \
	sh -c "echo \$\$ >$tmp/root.pid; exec sleep 60" \
	</dev/null >/dev/null 2>"$tmp/c1.err" &
c1=$!
pids="$pids $c1"
waitfile "$tmp/root.pid"
rp=$(cat "$tmp/root.pid" 2>/dev/null)
if [ -n "$rp" ] && kill -0 "$rp" 2>/dev/null; then
	ok "root's program started on b through a's relay (pid $rp)"
else
	notok "root's program started on b through a's relay"
	sed 's/^/# /' "$tmp/c1.err"
fi
same "$(readlink "/proc/$rp/ns/net" 2>&1)" \
	"$("${INB[@]}" readlink /proc/self/ns/net)" \
	"it runs in node b's network namespace"
same "$(stat -c %u "/proc/$rp" 2>&1)" "0" "it runs as root"
ra "$UNUM" ps -n "$B" --json >"$tmp/ps" 2>&1
rid=$(idof "$rp" <"$tmp/ps")
if [ -n "$rid" ] && tr '}' '\n' <"$tmp/ps" | grep "\"id\":\"$rid\"," |
	grep -q '"state":"running","node":"b".*"command":"sleep"'; then
	ok "root's ps through the relay shows it running on b (id $rid)"
else
	notok "root's ps through the relay shows it running on b"
	sed 's/^/# /' "$tmp/ps" | head -5
fi
rid=${rid:-1}
same "$(rb "$UNUM" ps -n "$BS" --json | idof "$rp")" "$rid" \
	"root on b's own socket sees the same process"

# ---- 2. nobody on a, through the relay ----
out=$(na "$UNUM" ps -n "$B" --json 2>&1)
case "$?:$out" in
"0:["*) same "$(echo "$out" | idof "$rp")" "" \
	"relay: nobody's ps on b does not show root's process" ;;
*) notok "relay: nobody's ps on b works: $out" ;;
esac
fails1 "relay: nobody cannot kill root's process" na "$UNUM" kill -n "$B" "$rid"
fails1 "relay: nobody cannot kill -KILL root's process" \
	na "$UNUM" kill -n "$B" -KILL "$rid"
for f in stdout wait status; do
	fails1 "relay: nobody cannot read its $f" \
		na "$UNUM" 9p -V 9P2000.u -a "$B" -A proc read "$rid/$f"
done
printf 'signal KILL\n' >"$tmp/kill.ctl"
FIN="$tmp/kill.ctl" fails1 "relay: nobody cannot write its ctl" \
	na "$UNUM" 9p -V 9P2000.u -a "$B" -A proc write "$rid/ctl"
# nor use the cluster key itself: it is root's (0600)
timeout 10 "${INA[@]}" "${NOBODY[@]}" env UNUM_KEY="$KEY" UNUM_ADDR= \
	"$UNUM" ps -n "$B" --json >"$tmp/fo" 2>"$tmp/fe" </dev/null
rc=$?
if [ "$rc" != 0 ] && ! grep -q '"pid"' "$tmp/fo"; then
	ok "nobody cannot use the cluster key to reach b directly ($rc: $(head -1 "$tmp/fe"))"
else
	notok "nobody cannot use the cluster key to reach b directly: status $rc"
	sed 's/^/# /' "$tmp/fo" "$tmp/fe" | head -5
fi
kill -0 "$rp" 2>/dev/null && ok "relay: root's process is still alive after all that" ||
	notok "relay: root's process is still alive after all that"

# ---- 3. nobody directly on b's own socket ----
out=$(nb "$UNUM" ps -n "$BS" --json 2>&1)
case "$?:$out" in
"0:["*) same "$(echo "$out" | idof "$rp")" "" \
	"b's socket: nobody's ps does not show root's process" ;;
*) notok "b's socket: nobody's ps works: $out" ;;
esac
fails1 "b's socket: nobody cannot kill root's process" \
	nb "$UNUM" kill -n "$BS" -KILL "$rid"
for f in stdout wait status; do
	fails1 "b's socket: nobody cannot read its $f" \
		nb "$UNUM" 9p -V 9P2000.u -a "$BS" -A proc read "$rid/$f"
done
FIN="$tmp/kill.ctl" fails1 "b's socket: nobody cannot write its ctl" \
	nb "$UNUM" 9p -V 9P2000.u -a "$BS" -A proc write "$rid/ctl"
kill -0 "$rp" 2>/dev/null && ok "b's socket: root's process is still alive after all that" ||
	notok "b's socket: root's process is still alive after all that"

# ---- 4. a node naming another user: nobody over TLS, from namespace a ----
out=$(UNUM_KEY="$KEY" timeout 10 "${INA[@]}" "$tmp/flood" peek "$B_IP:5640" 65534 "$rid" 2>&1)
same "$out" "read: No such file or directory
signal: No such file or directory" \
	"TLS: node a naming nobody can neither read nor signal root's process on b"
kill -0 "$rp" 2>/dev/null && ok "TLS: root's process is still alive" ||
	notok "TLS: root's process is still alive"
# the same request naming root: it is the path, not the process, that works
out=$(UNUM_KEY="$KEY" timeout 10 "${INA[@]}" "$tmp/flood" peek "$B_IP:5640" 0 "$rid" 2>&1)
case "$out" in
"read: $rid "*"signal: sent") ok "TLS: node a naming root reads its status and signals it" ;;
*) notok "TLS: node a naming root reads its status and signals it: $out" ;;
esac
gone "$rp" 5 && ok "root's process on b is gone after root's KILL" ||
	notok "root's process on b is gone after root's KILL"
timeout 5 tail --pid="$c1" -f /dev/null
wait "$c1" 2>/dev/null
same "$?" "137" "and root's run on a ends with 137"

# ---- 5. nobody's own process on b, through a's relay ----
"${INA[@]}" "${NOBODY[@]}" "${RENV[@]}" "$UNUM" run -n "$B" \
	sh -c "echo \$\$ >$tmp/w/nobody.pid; exec sleep 60" \
	</dev/null >/dev/null 2>"$tmp/c5.err" &
c5=$!
pids="$pids $c5"
waitfile "$tmp/w/nobody.pid"
np=$(cat "$tmp/w/nobody.pid" 2>/dev/null)
if [ -n "$np" ] && kill -0 "$np" 2>/dev/null; then
	ok "nobody's program started on b through a's relay (pid $np)"
else
	notok "nobody's program started on b through a's relay"
	sed 's/^/# /' "$tmp/c5.err"
fi
same "$(stat -c %u "/proc/$np" 2>&1)" "65534" "it runs as nobody"
na "$UNUM" ps -n "$B" --json >"$tmp/ps" 2>&1
nid=$(idof "$np" <"$tmp/ps")
if [ -n "$nid" ] && tr '}' '\n' <"$tmp/ps" | grep "\"id\":\"$nid\"," |
	grep -q '"uid":65534,"state":"running","node":"b"'; then
	ok "relay: nobody sees their own process on b (id $nid)"
else
	notok "relay: nobody sees their own process on b"
	sed 's/^/# /' "$tmp/ps" | head -5
fi
nid=${nid:-1}
same "$(nb "$UNUM" ps -n "$BS" --json | idof "$np")" "$nid" \
	"b's socket: nobody sees it there too"
out=$(na "$UNUM" 9p -V 9P2000.u -a "$B" -A proc read "$nid/status" 2>&1)
case "$?:$out" in
"0:$nid $np "*) ok "relay: nobody reads its status" ;;
*) notok "relay: nobody reads its status: $out" ;;
esac
out=$(nb "$UNUM" 9p -V 9P2000.u -a "$BS" -A proc read "$nid/status" 2>&1)
case "$?:$out" in
"0:$nid $np "*) ok "b's socket: nobody reads its status" ;;
*) notok "b's socket: nobody reads its status: $out" ;;
esac
same "$(ra "$UNUM" ps -n "$B" --json | idof "$np")" "$nid" \
	"relay: root sees nobody's process too"
na "$UNUM" kill -n "$B" "$nid" 2>"$tmp/err"
same "$?" "0" "relay: nobody kills their own process"
timeout 8 tail --pid="$c5" -f /dev/null
wait "$c5" 2>/dev/null
same "$?" "143" "and nobody's run on a ends with 143"
gone "$np" 5 && ok "nobody's process on b is gone" ||
	notok "nobody's process on b is gone"

# ---- 6. clients killed with SIGKILL on a: their processes on b go ----
"${INA[@]}" "${RENV[@]}" "$UNUM" run -n "$B" \
	sh -c "echo \$\$ >$tmp/w/k1.pid; exec sleep 60" </dev/null >/dev/null 2>&1 &
k1=$!
pids="$pids $k1"
"${INA[@]}" "${NOBODY[@]}" "${RENV[@]}" "$UNUM" run -n "$B" \
	sh -c "echo \$\$ >$tmp/w/k2.pid; exec sleep 60" </dev/null >/dev/null 2>&1 &
k2=$!
pids="$pids $k2"
waitfile "$tmp/w/k1.pid"
waitfile "$tmp/w/k2.pid"
p1=$(cat "$tmp/w/k1.pid" 2>/dev/null)
p2=$(cat "$tmp/w/k2.pid" 2>/dev/null)
if [ -n "$p1" ] && [ -n "$p2" ] && kill -0 "$p1" "$p2" 2>/dev/null; then
	kill -9 "$k1" "$k2"
	wait "$k1" "$k2" 2>/dev/null
	i=0
	while kill -0 "$p1" 2>/dev/null || kill -0 "$p2" 2>/dev/null; do
		[ $i -ge 160 ] && break
		sleep 0.05
		i=$((i + 1))
	done
	kill -0 "$p1" 2>/dev/null &&
		notok "root's client killed on a: its process on b is gone within 8 s" ||
		ok "root's client killed on a: its process on b is gone within 8 s"
	kill -0 "$p2" 2>/dev/null &&
		notok "nobody's client killed on a: its process on b is gone within 8 s" ||
		ok "nobody's client killed on a: its process on b is gone within 8 s"
else
	notok "root's client killed on a: its program never started on b"
	notok "nobody's client killed on a: its program never started on b"
fi

# ---- 7. key rotation ----
# b on the new key, the old one still accepted; a on the old
stop b b.log
node b "$NB" "$B_IP" b2.log -k "$NEW" --previous-key "$OLD"
started "b restarts on a new key with the old as --previous-key" $? b2.log
grep -q "previous key id" "$tmp/b2.log" && ok "b says it still accepts the previous key" ||
	notok "b says it still accepts the previous key"
same "$(ra "$UNUM" run -n "$B" echo old 2>&1)" "old" \
	"rollover: a (old key) relays to b (new + previous): root's run works"
same "$(na "$UNUM" run -n "$B" id -u 2>&1)" "65534" \
	"rollover: and nobody's runs as nobody"
if grep -q "$A_IP.* uses the previous cluster key" "$tmp/b2.log"; then
	ok "rollover: b's log names a ($A_IP) as a peer on the previous key"
else
	notok "rollover: b's log names a ($A_IP) as a peer on the previous key"
	sed 's/^/# /' "$tmp/b2.log" | head -10
fi
# a moves to the new key
stop a a.log
node a "$NA" "$A_IP" a2.log -k "$NEW"
started "a restarts on the new key" $? a2.log
before=$(grep -ci "previous" "$tmp/b2.log")
same "$(ra "$UNUM" run -n "$B" echo new 2>&1)" "new" \
	"rollover: a (new key) relays to b (new + previous): the run works"
same "$(grep -ci "previous" "$tmp/b2.log")" "$before" \
	"rollover: a on the new key is not reported as on the previous one"
# b drops the old key
stop b b2.log
node b "$NB" "$B_IP" b3.log -k "$NEW"
started "b restarts on the new key only" $? b3.log
same "$(ra "$UNUM" run -n "$B" echo new 2>&1)" "new" \
	"after the rollover: a (new key) still reaches b"
UNUM_KEY="$OLD" timeout 10 "${INA[@]}" "$UNUM" run -n "$B" true </dev/null \
	>/dev/null 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" \
	"after the rollover: the old key from namespace a is refused: 255 and one line ($(head -1 "$tmp/err"))"
stop a a2.log
node a "$NA" "$A_IP" a3.log -k "$OLD"
started "a restarts on the old key" $? a3.log
ra "$UNUM" run -n "$B" touch "$tmp/w/ran" </dev/null >/dev/null 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err"):$([ -e "$tmp/w/ran" ] && echo ran)" "255:1:" \
	"after the rollover: a node left on the old key relays nothing: 255 and one line ($(head -1 "$tmp/err"))"
na "$UNUM" run -n "$B" true >/dev/null 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" \
	"and its users (nobody) get 255 and one line"

# ---- 8. every unumd still runs ----
kill -0 "$a_pid" 2>/dev/null && ok "unumd a is still running" || notok "unumd a is still running"
kill -0 "$b_pid" 2>/dev/null && ok "unumd b is still running" || notok "unumd b is still running"
stop a a3.log
stop b b3.log
done_testing
