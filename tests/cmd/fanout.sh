#!/usr/bin/env bash
# unum run -w: one command on many nodes (three unumds on 127.0.0.1-3, and
# this node's own, through which a user reaches them): lines labelled with
# the node, -b gathering identical outputs, the highest exit status, ranges
# in node lists, an unreachable node among good ones, -f, signals.
# shellcheck disable=SC2154 # tmp, UNUM, UNUMD, KEY: common.sh
. "$(dirname "$0")/../lib/common.sh"

P=$(free_port 43)
for i in 1 2 3; do
	"$UNUMD" -c /dev/null -n "n$i" -s "$tmp/n$i.sock" -k "$KEY" \
		-l "127.0.0.$i:$P" 2>"$tmp/n$i.log" &
	pids="$pids $!"
	eval "n${i}_pid=$!"
	wait_for "127.0.0.$i:$P" $! || notok "node $i starts: $(cat "$tmp/n$i.log")"
done
"$UNUMD" -c /dev/null -n here -s "$tmp/here.sock" -k "$KEY" -l none \
	2>"$tmp/here.log" &
pids="$pids $!"
wait_for "$tmp/here.sock" $!
ALL="127.0.0.[1-3]:$P"
U() { env -u UNUM_KEY UNUM_SOCKET="$tmp/here.sock" UNUM_ADDR= "$UNUM" "$@"; }

U run -w "$ALL" sh -c 'echo one; echo two; echo oops >&2' >"$tmp/out" 2>"$tmp/err"
same "$?" "0" "three nodes: status 0"
same "$(sort "$tmp/out" | tr '\n' '|')" \
	"127.0.0.1:$P: one|127.0.0.1:$P: two|127.0.0.2:$P: one|127.0.0.2:$P: two|127.0.0.3:$P: one|127.0.0.3:$P: two|" \
	"each node's lines, labelled with the node"
same "$(sort "$tmp/err" | tr '\n' '|')" \
	"127.0.0.1:$P: oops|127.0.0.2:$P: oops|127.0.0.3:$P: oops|" \
	"error output labelled on standard error"

# node 2's program knows itself by its cgroup (unum-procs-PID of its unumd)
# shellcheck disable=SC2016 # for the remote shell
who='grep -q "unum-procs-'"$n2_pid"'/" /proc/self/cgroup'
U run -w "$ALL" sh -c "$who && exit 3; exit 1" >/dev/null 2>&1
same "$?" "3" "the exit status is the highest of the nodes'"

same "$(U run -w "$ALL" -b echo same)" "---------------
127.0.0.1:$P,127.0.0.2:$P,127.0.0.3:$P
---------------
same" "-b: one output for the nodes that printed the same"
same "$(U run -w "$ALL" -b sh -c "$who && echo odd || echo even" | grep -c '^---------------$')" \
	"4" "-b: two groups when one node differs"

U run -w "127.0.0.1:$P,127.0.0.9:1,127.0.0.3:$P" echo hi >"$tmp/out" 2>"$tmp/err"
same "$?:$(sort "$tmp/out" | tr '\n' '|')" "255:127.0.0.1:$P: hi|127.0.0.3:$P: hi|" \
	"an unreachable node: 255, the others' output all there"
grep -q "^127.0.0.9:1: unum: .*Connection refused" "$tmp/err" &&
	ok "the unreachable node's one line, labelled" ||
	notok "the unreachable node's one line, labelled: $(cat "$tmp/err")"

# what each node's program starts with ignored is what is ignored here
# (the runs are unum's own children, which ignores SIGPIPE for itself)
ign='/^SigIgn/ { print $2 }'
same "$(U run -w "$ALL" -b awk "$ign" /proc/self/status)" "---------------
127.0.0.1:$P,127.0.0.2:$P,127.0.0.3:$P
---------------
$(awk "$ign" /proc/self/status)" "every node's program ignores the signals ignored here, no more (SigIgn)"

same "$(U run -w "$ALL" -f 1 echo x | wc -l)" "3" "-f 1: one at a time, all three"
same "$(U run -w "127.0.0.1:$P,127.0.0.[2,3]:$P,127.0.0.1:$P" echo x | wc -l)" "4" \
	"lists mix names and ranges (n[2,3])"
U run -w 'x[3-1]' true 2>"$tmp/err"
same "$?:$(cat "$tmp/err")" "255:unum: bad node range '3-1' in 'x[3-1]'" \
	"a bad range: 255 and one line"
U run -w 'x[1-99999]' true 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "a range over 65536 nodes: 255 and one line"
U run -w "$ALL" -n 127.0.0.1 true 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "-w with -n: 255 and one line"
U run -w "$ALL" -f 0 true 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "255:1" "-f 0: 255 and one line"

# a signal goes to every node's program
env -u UNUM_KEY UNUM_SOCKET="$tmp/here.sock" UNUM_ADDR= "$UNUM" run -w "$ALL" \
	sh -c 'echo $$ >>'"$tmp/pids"'; exec sleep 30' >/dev/null 2>&1 &
fpid=$!
i=0
touch "$tmp/pids"
while [ "$(wc -l <"$tmp/pids")" -lt 3 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
same "$(wc -l <"$tmp/pids")" "3" "a long program started on each of the three"
kill -TERM $fpid
wait $fpid
same "$?" "143" "SIGTERM: every node's program dies of it (128+15)"
alive=0
for p in $(cat "$tmp/pids"); do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
same "$alive" "0" "none of the three is left running"
done_testing
