#!/usr/bin/env bash
# unum run against a node's process server: exit codes, signal deaths,
# output kept whole and apart, stdin, forwarded signals, many at once,
# no orphans, ctl errors, and users kept apart.
. "$(dirname "$0")/../lib/common.sh"

start_unumd p || { notok "unumd starts"; done_testing; exit 1; }
export UNUM_ADDR="$p_sock"
chmod 0755 "$tmp"

# every exit code
bad=""
for c in $(seq 0 255); do
	"$UNUM" run sh -c "exit $c" </dev/null
	rc=$?
	[ "$rc" = "$c" ] || bad="$bad $c:$rc"
done
same "$bad" "" "exit codes 0..255 come back as they are"

# death by every signal whose default is to end the process
bad=""
for s in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 24 25 26 27 29 30 31; do
	"$UNUM" run sh -c "kill -$s \$\$" </dev/null 2>/dev/null
	rc=$?
	[ "$rc" = "$((128 + s))" ] || bad="$bad $s:$rc"
done
same "$bad" "" "death by signal N exits 128+N"

head -c 100000000 /dev/urandom >"$tmp/big"
same "$("$UNUM" run cat "$tmp/big" </dev/null | sha256sum)" \
	"$(sha256sum <"$tmp/big")" "100 MB of output arrive intact"
same "$("$UNUM" run cat <"$tmp/big" | sha256sum)" \
	"$(sha256sum <"$tmp/big")" "100 MB of stdin stream through"
# a program that reads late: its pipe fills, and writes to its stdin are
# taken in part; what is left goes next, nothing is dropped
same "$(head -c 3000000 "$tmp/big" | "$UNUM" run sh -c 'sleep 0.5; cat' | sha256sum)" \
	"$(head -c 3000000 "$tmp/big" | sha256sum)" "stdin to a program that reads late arrives whole"
rm -f "$tmp/big"

"$UNUM" run sh -c 'for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done' \
	</dev/null >"$tmp/o" 2>"$tmp/e"
same "$(tr '\n' ' ' <"$tmp/o")|$(tr '\n' ' ' <"$tmp/e")" \
	"out1 out2 out3 out4 out5 |err1 err2 err3 err4 err5 " \
	"stdout and stderr are kept apart"
same "$(cd /tmp && "$UNUM" run pwd </dev/null)" "/tmp" \
	"the program starts in the caller's directory"
same "$(FOO='a b'\''c' "$UNUM" run sh -c 'echo "$FOO"' </dev/null)" "a b'c" \
	"the environment goes along, quoting intact"
script=$(printf 'echo one\necho "two  %sthree%s"' "'" "'")
same "$("$UNUM" run sh -c "$script" </dev/null | tr '\n' '|')" "one|two  'three'|" \
	"an argument may hold newlines and quotes"
same "$(echo x | "$UNUM" run --no-stdin cat)" "" "--no-stdin gives the program an empty stdin"

# forwarded signals
"$UNUM" run sleep 30 </dev/null &
pid=$!
sleep 0.5
kill -TERM $pid
wait $pid
same "$?" "143" "SIGTERM is forwarded: the program dies of it"
"$UNUM" run sh -c 'trap "exit 3" USR1; sleep 10 & wait' </dev/null &
pid=$!
sleep 0.5
kill -USR1 $pid
wait $pid
same "$?" "3" "SIGUSR1 is forwarded to a program that catches it"
# (env --default-signal: as a foreground job, which a script's background
# job is not: that starts with INT and QUIT ignored, and so would what it
# runs, here or there)
env --default-signal=INT,QUIT "$UNUM" run sh -c 'trap "exit 4" INT; sleep 10 & wait' </dev/null &
pid=$!
sleep 0.5
kill -INT $pid
wait $pid
same "$?" "4" "SIGINT is forwarded"
# what unum run was started with ignored, the program starts with ignored
# (as an exec keeps it): nohup's HUP, a trap ''
nohup "$UNUM" run sh -c 'sleep 1; echo alive' </dev/null >"$tmp/nohup" 2>/dev/null &
pid=$!
sleep 0.5
kill -HUP $pid
wait $pid
same "$?:$(cat "$tmp/nohup")" "0:alive" "nohup unum run: a HUP leaves the program running, as it would here"
ign='/^SigIgn/ { print $2 }'
here=$(sh -c 'trap "" USR1 TERM; exec awk "$0" /proc/self/status' "$ign")
out=$(sh -c 'trap "" USR1 TERM; exec "$0" run awk "$1" /proc/self/status' "$UNUM" "$ign" </dev/null)
[ "$out" = "$here" ] && [ $((0x$out & ((1 << 9) | (1 << 14)))) != 0 ] &&
	ok "the program starts with USR1 and TERM ignored, as unum run was (SigIgn $out)" ||
	notok "the program starts with USR1 and TERM ignored: SigIgn $out, here $here"
same "$("$UNUM" run awk "$ign" /proc/self/status </dev/null)" "$(awk "$ign" /proc/self/status)" \
	"and otherwise with what is ignored here (SigIgn)"
"$UNUM" run sh -c 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i; sleep 0.1; done' \
	</dev/null >"$tmp/tick" &
pid=$!
sleep 0.5
kill -TSTP $pid
sleep 0.3
n1=$(wc -l <"$tmp/tick")
sleep 0.6
n2=$(wc -l <"$tmp/tick")
state=$(ps -o stat= -p $pid | cut -c1)
kill -CONT $pid
wait $pid
same "$n1:$state:$(wc -l <"$tmp/tick")" "$n2:T:30" \
	"SIGTSTP stops program and client, SIGCONT resumes both"

# many at once
spawned=""
for i in $(seq 1 200); do
	"$UNUM" run echo "n$i" </dev/null >"$tmp/c$i" 2>&1 &
	spawned="$spawned $!"
done
wait $spawned
good=0
for i in $(seq 1 200); do
	[ "$(cat "$tmp/c$i")" = "n$i" ] && good=$((good + 1))
done
same "$good" "200" "200 concurrent spawns all run"

# no orphans: the client dies, so does the program
"$UNUM" run sh -c 'echo $$; exec sleep 100' </dev/null >"$tmp/pid" &
pid=$!
sleep 0.5
rpid=$(cat "$tmp/pid")
kill -9 $pid
i=0
while kill -0 "$rpid" 2>/dev/null && [ $i -lt 70 ]; do sleep 0.1; i=$((i + 1)); done
kill -0 "$rpid" 2>/dev/null && notok "a killed client's program is gone within the grace time" ||
	ok "a killed client's program is gone within the grace time"

# unum's own failures: 255 and one line
"$UNUM" run no-such-program </dev/null 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "a missing program: 255, one line"
"$UNUM" run -n "$tmp/none.sock" true </dev/null 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "an unreachable node: 255, one line"

# ctl: a bad command changes nothing
cat >"$tmp/ctl.sh" <<EOS
exec 3<>/dev/null
EOS
out=$(printf 'argv /bin/echo hi\nbogus\nexec\n' |
	"$UNUM" 9p -a "$p_sock" -A proc write clone 2>&1)
same "$?" "1" "a ctl write with a bad line fails"
case "$out" in *"Invalid argument"*) ok "and says why" ;; *) notok "and says why: $out" ;; esac
# a slot that persists (its program runs on), so that it can be looked at
# after the bad write
id=$(printf 'persist\nenv A=1\nargv sleep 30\nexec\n' |
	"$UNUM" 9p -a "$p_sock" -A proc write clone 2>&1 &&
	"$UNUM" 9p -a "$p_sock" -A proc ls / | grep -v clone | sort -n | tail -1)
out=$(printf 'env B=2\nsignal NOSUCH\n' |
	"$UNUM" 9p -a "$p_sock" -A proc -V 9P2000.u write "$id/ctl" 2>&1)
case "$out" in
*"signal"*) ok "a bad ctl line fails the write, named in 9P2000.u" ;;
*) notok "a bad ctl line fails the write, named in 9P2000.u: $out" ;;
esac
st=$("$UNUM" 9p -a "$p_sock" -A proc read "$id/status")
st=$(echo "$st" | awk '{ print $3, $4, $5, $8, $10 }')
same "$("$UNUM" 9p -a "$p_sock" -A proc read "$id/env")|$st" \
	"A=1|running 0 p - sleep" \
	"the slot is as it was: env unchanged, the program still runs"
printf 'signal KILL\n' | "$UNUM" 9p -a "$p_sock" -A proc write "$id/ctl"

# users apart
"$UNUM" run sleep 30 </dev/null &
rootpid=$!
sleep 0.5
id=$("$UNUM" 9p -a "$p_sock" -A proc ls / | grep -v clone | tail -1)
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
same "$(as_nobody "$UNUM" 9p -a "$p_sock" -A proc ls / | grep -c -v clone)" "0" \
	"another user does not see root's process"
as_nobody "$UNUM" 9p -a "$p_sock" -A proc read "$id/status" >/dev/null 2>&1 &&
	notok "another user cannot read its status" ||
	ok "another user cannot read its status"
echo "signal KILL" | as_nobody "$UNUM" 9p -a "$p_sock" -A proc write "$id/ctl" \
	>/dev/null 2>&1 && notok "another user cannot signal it" ||
	ok "another user cannot signal it"
kill -0 $rootpid && ok "root's process still runs" || notok "root's process still runs"
same "$(as_nobody "$UNUM" run id -u </dev/null)" "65534" \
	"a user's program runs as that user"
kill -TERM $rootpid
wait $rootpid
# unum ps and unum kill
env --default-signal=INT "$UNUM" run sleep 30 </dev/null &
spid=$!
sleep 0.5
json=$("$UNUM" ps --json)
id=$(echo "$json" | tr '}' '\n' | grep '"state":"running".*"command":"sleep"' |
	head -1 | sed 's/.*"id":"\([0-9]*\)".*/\1/')
[ -n "$id" ] && ok "unum ps --json lists the running program" ||
	notok "unum ps --json lists the running program: $json"
"$UNUM" ps | grep -q " running .* sleep$" && ok "unum ps shows it in a table" ||
	notok "unum ps shows it in a table"
"$UNUM" kill -INT "$id"
wait $spid
same "$?" "130" "unum kill -INT ID: the program dies of SIGINT"
"$UNUM" kill 99999 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "unum kill of no such process: exit 1, one line"

# -t: a terminal, its size followed, ^C delivered, under tmux
if command -v tmux >/dev/null; then
	S="unumtest$$"
	tmux -L "$S" new-session -d -x 100 -y 30 \
		"UNUM_ADDR=$p_sock $UNUM run -t sh; echo EXIT=\$?; sleep 30"
	sleep 1
	tmux -L "$S" send-keys 'stty size' Enter
	sleep 0.5
	tmux -L "$S" resize-window -x 120 -y 40
	sleep 0.5
	tmux -L "$S" send-keys 'stty size; tty' Enter
	sleep 0.5
	tmux -L "$S" send-keys 'sleep 30' Enter
	sleep 0.5
	tmux -L "$S" send-keys C-c
	sleep 0.5
	tmux -L "$S" send-keys 'exit 3' Enter
	sleep 1
	tmux -L "$S" capture-pane -p >"$tmp/pane"
	tmux -L "$S" kill-server
	grep -q '^30 100' "$tmp/pane" && ok "-t: the program's terminal has our size" ||
		notok "-t: the program's terminal has our size"
	grep -q '^40 120' "$tmp/pane" && ok "-t: a resize reaches it" ||
		notok "-t: a resize reaches it"
	grep -q '^/dev/pts/' "$tmp/pane" && ok "-t: it runs on a pty" ||
		notok "-t: it runs on a pty"
	grep -q '^EXIT=3' "$tmp/pane" && ok "-t: ^C stops the remote sleep, exit status comes back" ||
		{ notok "-t: ^C stops the remote sleep, exit status comes back"; sed 's/^/# /' "$tmp/pane"; }
else
	notok "tmux is missing (apt-get install tmux)"
fi
# "last" is the slot this attach made: a new attach has none
"$UNUM" 9p -V 9P2000.u -A proc read last/status >/dev/null 2>"$tmp/err"
same "$?:$(grep -c 'No such file' "$tmp/err")" "1:1" \
	"last: a new attach has made no slot, so there is none"
printf 'argv true\nexec\n' | "$UNUM" 9p -A proc write clone >/dev/null
"$UNUM" 9p -V 9P2000.u -A proc read last/status >/dev/null 2>&1
same "$?" "1" "last: another attach's slot is not this one's last"

# what a program daemonises (a new session, out of its process group) dies
# with its slot when cgroup v2 is there to find it
if grep -q ' cgroup2 rw' /proc/mounts; then
	"$UNUM" run sh -c 'setsid sh -c "echo \$\$; exec sleep 99" >"$1" 2>/dev/null </dev/null &
		sleep 0.3' sh "$tmp/dpid" </dev/null
	dpid=$(cat "$tmp/dpid" 2>/dev/null)
	[ -n "$dpid" ] || dpid=1 # nothing started: PID 1 lives, and fails it
	i=0
	while kill -0 "$dpid" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
	kill -0 "$dpid" 2>/dev/null && { notok "a daemonised child dies with its slot (cgroup.kill)"; kill "$dpid"; } ||
		ok "a daemonised child dies with its slot (cgroup.kill)"
else
	ok "# SKIP no writable cgroup v2: process groups only"
fi
done_testing
