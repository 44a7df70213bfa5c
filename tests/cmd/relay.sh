#!/usr/bin/env bash
# The relay: a user on node a reaches node b through a's unumd, with no key
# of their own.  unum run, ps, kill, 9p and mount go through it; the user
# is who a's socket says, on b too; the link is kept and shared; a relay
# never chains, never reaches a Unix socket, and needs a's key; a broken
# link fails at once and the next run makes another.  Runs as root.
# shellcheck disable=SC2154 # NAME_port, NAME_sock, NAME_pid: start_unumd
. "$(dirname "$0")/../lib/common.sh"

if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test switches users and must run as root"
	exit 1
fi
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

chmod 755 "$tmp" # other users reach a's socket
mkdir -p "$tmp/ex" && chmod 777 "$tmp/ex"
start_unumd b -e "$tmp/ex" || { notok "unumd b starts"; done_testing; exit 1; }
start_unumd a || { notok "unumd a starts"; done_testing; exit 1; }
B="127.0.0.1:$b_port"
# a user of node a: no key, a's socket
RENV=(env -u UNUM_KEY UNUM_SOCKET="$a_sock" UNUM_ADDR=)
R() { "${RENV[@]}" "$@"; }
links() { # TCP connections from a's unumd to b
	ss -Htnp state established "( dport = :$b_port )" 2>/dev/null |
		grep -c "pid=$a_pid,"
}

# ---- unum run through the relay ----
same "$(R "$UNUM" run -n "$B" sh -c 'echo out; echo err >&2; exit 7' 2>"$tmp/err"):$?:$(cat "$tmp/err")" \
	"out:7:err" "run: output, error output and exit status come through"
R "$UNUM" run -n "$B" sh -c 'kill -TERM $$' 2>/dev/null
same "$?" "143" "run: death by SIGTERM is 128+15"
same "$(printf 'abc\n' | R "$UNUM" run -n "$B" tr a-z A-Z)" "ABC" \
	"run: stdin goes through"
same "$(head -c 3000000 /dev/urandom | tee "$tmp/big" |
	R "$UNUM" run -n "$B" cat | sha256sum)" "$(sha256sum <"$tmp/big")" \
	"run: 3 MB through stdin and back, byte for byte"
same "$(R "$UNUM" run -n "$B" sh -c 'echo $PPID' | grep -c .)" "1" \
	"run: the program runs"
same "$(R "$UNUM" run -n "$B" cat /proc/self/cgroup >/dev/null; echo $?)" "0" \
	"run: a second run on the kept link"
same "$(links)" "1" "the link from a to b is one kept TCP connection"

# ---- the user is who a's socket says ----
same "$(R "${NOBODY[@]}" "$UNUM" run -n "$B" id -u)" "65534" \
	"a user's program runs as that user on b"
same "$(R "$UNUM" run -n "$B" id -u)" "0" "root's runs as root on b"
"${RENV[@]}" "$UNUM" run -n "$B" sh -c 'echo x; exec sleep 60' >"$tmp/rootout" &
rpid=$!
pids="$pids $rpid"
i=0
while [ ! -s "$tmp/rootout" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
rid=$(R "$UNUM" ps -n "$B" --json | tr '}' '\n' |
	sed -n 's/.*"id":"\([0-9]*\)".*"command":"sleep".*/\1/p' | head -1)
[ -n "$rid" ] && ok "ps through the relay shows root's process ($rid)" ||
	notok "ps through the relay shows root's process"
same "$(R "${NOBODY[@]}" "$UNUM" ps -n "$B" --json | grep -c '"sleep"')" "0" \
	"another user does not see it through the relay"
R "${NOBODY[@]}" "$UNUM" kill -n "$B" "$rid" 2>"$tmp/err"
same "$?:$(kill -0 $rpid 2>/dev/null && echo alive)" "1:alive" \
	"another user cannot kill it through the relay"
R "${NOBODY[@]}" "$UNUM" 9p -a "$B" -A proc read "$rid/stdout" >/dev/null 2>&1
same "$?" "1" "nor read its output"
R "$UNUM" kill -n "$B" "$rid"
wait $rpid
same "$?" "143" "root kills it through the relay: its run ends with 143"

# ---- a client that goes: its process on b goes too ----
"${RENV[@]}" "$UNUM" run -n "$B" sh -c 'echo $$ >'"$tmp/ex/pid"'; exec sleep 60' &
cpid=$!
i=0
while [ ! -s "$tmp/ex/pid" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
rp=$(cat "$tmp/ex/pid")
kill -9 $cpid
wait $cpid 2>/dev/null
i=0
while kill -0 "$rp" 2>/dev/null && [ $i -lt 160 ]; do sleep 0.05; i=$((i + 1)); done
kill -0 "$rp" 2>/dev/null && notok "a killed client's process on b is gone within 8 s" ||
	ok "a killed client's process on b is gone within 8 s"

# ---- files and other trees through the relay ----
printf 'hello\n' | R "$UNUM" 9p -a "$B" -A fs write hello.txt
same "$(cat "$tmp/ex/hello.txt")" "hello" "9p write of b's fs through the relay"
same "$(R "$UNUM" 9p -a "$B" -A ram read node | sed -n 's/^name //p')" "b" \
	"9p read of b's /node through the relay"
mkdir "$tmp/ex/many"
(cd "$tmp/ex/many" && seq -f "%06g$(printf '%0180d' 0)" 6000 | xargs touch)
for v in 9P2000 9P2000.u 9P2000.L; do
	same "$(R "$UNUM" 9p -V "$v" -a "$B" -A ram ls / 2>&1 | tr '\n' ' ')" \
		"node tmp " "$v: a directory listed through the relay"
	# 6000 names of 186 bytes: more than one read of 1 MiB
	same "$(R "$UNUM" 9p -V "$v" -a "$B" -A fs ls /many 2>&1 | sort | md5sum)" \
		"$(ls "$tmp/ex/many" | sort | md5sum)" \
		"$v: 6000 entries (several reads) listed through the relay"
done
if [ -e /dev/fuse ]; then
	mkdir -p "$tmp/mnt"
	if R "$UNUM" mount "$B:fs" "$tmp/mnt" 2>"$tmp/err"; then
		same "$(cat "$tmp/mnt/hello.txt")" "hello" "unum mount of b's fs through the relay"
		echo more >"$tmp/mnt/more.txt"
		same "$(cat "$tmp/ex/more.txt" 2>&1)" "more" "a file written through the relay mount"
		"$UNUM" umount "$tmp/mnt"
	else
		notok "unum mount of b's fs through the relay: $(cat "$tmp/err")"
	fi
fi

# ---- many at once ----
par=""
for i in $(seq 50); do
	R "$UNUM" run -n "$B" sh -c "echo $i" >"$tmp/par.$i" 2>&1 &
	par="$par $!"
done
for p in $par; do wait "$p"; done
same "$(cat "$tmp"/par.* | sort -n | tr '\n' ' ' | cut -c1-20)" \
	"1 2 3 4 5 6 7 8 9 10" "50 runs at once through one relay all finish"
same "$(cat "$tmp"/par.* | wc -l)" "50" "and each says its line"

# ---- what a relay refuses ----
R "$UNUM" 9p -V 9P2000.u -a "unix:$a_sock" -A "unix:$b_sock!proc" ls / 2>"$tmp/err"
grep -q "not a node's HOST" "$tmp/err" && ok "a relay to a Unix socket is refused" ||
	notok "a relay to a Unix socket is refused: $(cat "$tmp/err")"
"$UNUM" 9p -V 9P2000.u -a "$B" -A "127.0.0.1:$a_port!proc" ls / 2>"$tmp/err"
grep -q "this node's users only" "$tmp/err" && ok "a node cannot relay onward (no chains)" ||
	notok "a node cannot relay onward: $(cat "$tmp/err")"
if [ -e /etc/unum/cluster.key ]; then
	ok "# SKIP this host has a cluster key: no keyless unumd to ask"
else
	"$UNUMD" -c /dev/null -n nk -s "$tmp/nk.sock" 2>"$tmp/nk.log" &
	nkpid=$!
	pids="$pids $nkpid"
	wait_for "$tmp/nk.sock" $nkpid
	env -u UNUM_KEY UNUM_SOCKET="$tmp/nk.sock" "$UNUM" run -n "$B" true 2>"$tmp/err"
	same "$?:$(grep -c 'no cluster key' "$tmp/err")" "255:1" \
		"a node without the key relays nothing, and says so in one line"
fi
p=$(free_port 97)
R "$UNUM" run -n "127.0.0.1:$p" true 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "an unreachable node: 255 and one line"
grep -q "127.0.0.1:$p" "$tmp/err" && ok "the line names the node" ||
	notok "the line names the node: $(cat "$tmp/err")"

# ---- b restarts: the link breaks; the next run makes another ----
kill "$b_pid"
wait "$b_pid" 2>/dev/null
R "$UNUM" run -n "$B" true 2>"$tmp/err"
same "$?" "255" "b down: a run fails with 255"
"$UNUMD" -c /dev/null -n b -s "$b_sock" -l "$B" -k "$KEY" -e "$tmp/ex" 2>>"$tmp/b.log" &
b_pid=$!
pids="$pids $b_pid"
wait_for "$B" $b_pid
same "$(R "$UNUM" run -n "$B" echo back 2>&1)" "back" \
	"b back: the next run goes through a new link"
kill -0 "$a_pid" && ok "unumd a is still up" || notok "unumd a is still up"
done_testing
