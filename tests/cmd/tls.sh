#!/usr/bin/env bash
# Trust under attack: every case leaves unumd up and another client's work
# finishing.  A damaged TLS record; a slowloris of idle half-open
# connections; 100,000 walks making fids; oversized ctl writes; a local
# user forging another uid; a key rollover.  unumd's RSS is read before and
# after each flood and must come back within 10 %.
# shellcheck disable=SC2154 # NAME_port, NAME_sock, NAME_pid: start_unumd
. "$(dirname "$0")/../lib/common.sh"

command -v perl >/dev/null || { echo "1..0 # SKIP no perl"; exit 0; }
cc -Isrc -I"$top/src" -o "$tmp/flood" "$top/tests/lib/flood.c" \
	"$top/build/libunum.a" $(pkg-config --libs libuv openssl) -pthread \
	2>"$tmp/cc.err" || { echo "not ok 1 - the flood client builds"; exit 1; }

start_unumd t || { notok "unumd starts"; done_testing; exit 1; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$t_pid/status"; }
within10() { # within10 BEFORE AFTER NAME
	if [ "$2" -le $(($1 + $1 / 10)) ]; then
		ok "$3: RSS $1 kB before, $2 kB after"
	else
		notok "$3: RSS $1 kB before, $2 kB after (more than 10 %)"
	fi
}
works() { # works NAME: another client's spawn finishes
	same "$(timeout 20 "$UNUM" run -n "$t_sock" echo alive </dev/null 2>&1)" \
		"alive" "$1: another client's program runs"
}

# ---- a damaged record: the relay flips a byte of each client chunk after
# the first (the ClientHello); the handshake must fail, nothing run ----
cat >"$tmp/flip.pl" <<'PL'
use strict; use IO::Socket::INET; use IO::Select;
my ($lport, $dport) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $lport,
    Listen => 8, ReuseAddr => 1) or die "listen: $!\n";
while (my $c = $l->accept) {
	my $d = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$dport") or next;
	my $s = IO::Select->new($c, $d); my $n = 0;
	LOOP: while (my @r = $s->can_read(10)) {
		for my $h (@r) {
			my $buf; my $k = sysread($h, $buf, 65536);
			last LOOP unless $k;
			if ($h == $c && $n++ > 0) { # flip one bit in the middle
				my $i = int(length($buf) / 2);
				substr($buf, $i, 1) = chr(ord(substr($buf, $i, 1)) ^ 1);
			}
			syswrite($h == $c ? $d : $c, $buf);
		}
	}
	close $c; close $d;
}
PL
fp=$(free_port 61)
perl "$tmp/flip.pl" "$fp" "$t_port" 2>/dev/null &
pids="$pids $!"
wait_for "127.0.0.1:$fp"
timeout 20 "$UNUM" run -n "127.0.0.1:$fp" touch "$tmp/flipped" </dev/null 2>"$tmp/err"
same "$?:$([ -e "$tmp/flipped" ] && echo ran)" "255:" \
	"a flipped byte: the connection is closed, nothing runs"
grep -q "TLS handshake failed\|record refused" "$tmp/t.log" &&
	ok "unumd logs the damaged stream" || notok "unumd logs the damaged stream"
works "after the damaged stream"

# ---- slowloris: 5000 idle connections that never speak TLS ----
# (one TLS session first: OpenSSL sets itself up once, not per flood)
"$UNUM" 9p -a "127.0.0.1:$t_port" read node >/dev/null
before=$(rss)
(
	ulimit -n 8192
	exec perl -e '
		use IO::Socket::INET; my @s;
		for (1..5000) {
			my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]",
			    Timeout => 2);
			push @s, $s if $s;
		}
		print scalar(@s), "\n"; close STDOUT; sleep 12;' "$t_port"
) >"$tmp/loris" &
lpid=$!
pids="$pids $lpid"
sleep 3
works "during 5000 idle connections"
kill -0 "$t_pid" && ok "slowloris: unumd still runs" || notok "slowloris: unumd still runs"
grep -q "refusing a connection from 127.0.0.1" "$tmp/t.log" &&
	ok "slowloris: one address may not take every slot" ||
	notok "slowloris: one address may not take every slot"
wait "$lpid"
sleep 1
same "$(timeout 20 "$UNUM" 9p -a "127.0.0.1:$t_port" read node | sed -n 's/^name //p')" \
	"t" "slowloris: TLS is served again once they are gone"
within10 "$before" "$(rss)" "slowloris"

# ---- 100,000 walks making fids ----
before=$(rss)
timeout 120 "$tmp/flood" fids "$t_sock" 100000 >"$tmp/fids" 2>&1
case "$(cat "$tmp/fids")" in
"walks 100000 made 65535 refused-emfile 34465 other 0")
	ok "100,000 walks: 65,535 fids, the rest refused (EMFILE)" ;;
*) notok "100,000 walks: $(cat "$tmp/fids")" ;;
esac
works "after the fid flood"
sleep 1
within10 "$before" "$(rss)" "fid flood"

# ---- ctl writes over the limits ----
big=$(head -c 2000000 /dev/zero | tr '\0' a)
printf 'argv echo %s\nexec\n' "$big" |
	"$UNUM" 9p -a "$t_sock" -A proc write clone >/dev/null 2>"$tmp/err"
same "$?" "1" "a 2 MB ctl write (over msize) fails"
# one word of 200 kB: under msize, over the kernel's 128 kB per string
arg=$(head -c 200000 /dev/zero | tr '\0' a)
printf 'argv echo %s\nexec\n' "$arg" |
	"$UNUM" 9p -V 9P2000.u -a "$t_sock" -A proc write clone >/dev/null 2>"$tmp/err"
case "$?:$(cat "$tmp/err")" in
1:*"a string of 200001 bytes, over the 131072"*)
	ok "an argv string over the kernel's 128 KiB: refused before exec, said so" ;;
*) notok "an argv over the kernel's limit: $(head -c 200 "$tmp/err")" ;;
esac
# argv and env together over the node's max-arg-bytes (here 64 KiB)
printf 'max-arg-bytes 64K\n' >"$tmp/args.conf"
start_unumd ar -c "$tmp/args.conf" || notok "unumd with max-arg-bytes starts"
words=$(head -c 40000 /dev/zero | tr '\0' a)
printf 'argv echo %s\nenv A=%s\nexec\n' "$words" "$words" |
	"$UNUM" 9p -V 9P2000.u -a "$ar_sock" -A proc write clone >/dev/null 2>"$tmp/err"
case "$?:$(cat "$tmp/err")" in
1:*"over this node's limit of 65536 (max-arg-bytes)"*)
	ok "argv and env over max-arg-bytes: refused in one line naming the setting" ;;
*) notok "argv and env over max-arg-bytes: $(head -c 200 "$tmp/err")" ;;
esac
same "$(printf 'argv echo %s\nexec\n' "$words" |
	"$UNUM" 9p -V 9P2000.u -a "$ar_sock" -A proc write clone 2>&1; echo $?)" "0" \
	"argv alone under max-arg-bytes runs"
same "$("$UNUM" run -n "$ar_sock" sh -c 'echo ${#1}' x "$words")" "40000" \
	"a 40 kB argument reaches the program whole"
works "after the oversized ctl writes"

# ---- a local user forging another uid ----
if command -v setpriv >/dev/null; then
	chmod 755 "$tmp"
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$tmp/flood" forge "$t_sock" 0 2>&1)
	same "$out" "attach as 0: Operation not permitted" \
		"nobody claiming uid 0 on the Unix socket is refused"
else
	echo "ok $((n += 1)) # SKIP no setpriv"
fi

# ---- a node names the user: that user sees none of another's processes,
# over TLS as on the Unix socket ----
timeout 60 "$UNUM" run -n "$t_sock" sleep 30 </dev/null >/dev/null 2>&1 &
rootrun=$!
pids="$pids $rootrun"
sleep 1
slot=$("$UNUM" ps -n "$t_sock" --json | tr '}' '\n' | sed -n 's/.*"id": *"\([0-9]*\)".*/\1/p' | tail -1)
out=$("$tmp/flood" peek "127.0.0.1:$t_port" 65534 "$slot" 2>&1)
same "$out" "read: No such file or directory
signal: No such file or directory" \
	"over TLS, a node's user nobody can neither read nor signal root's process"
kill -0 "$rootrun" && ok "and root's program still runs" || notok "and root's program still runs"
out=$("$tmp/flood" peek "127.0.0.1:$t_port" 0 "$slot" 2>&1)
case "$out" in
"read: $slot "*) ok "over TLS, the node's root reads it" ;;
*) notok "over TLS, the node's root reads it: $out" ;;
esac
kill "$rootrun" 2>/dev/null

# ---- idle connections go; busy ones stay ----
printf 'idle-timeout 2\n' >"$tmp/idle.conf"
PLAIN=fs start_unumd i -c "$tmp/idle.conf" -e "$tmp" ||
	notok "unumd with an idle timeout starts"
t0=$(date +%s%N)
timeout 15 bash -c "exec 3<>/dev/tcp/127.0.0.1/$i_pport; cat <&3" 2>/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$ms" -ge 1900 ] && [ "$ms" -le 5000 ]; then
	ok "a connection that does nothing is closed after the idle timeout ($ms ms)"
else
	notok "a connection that does nothing is closed after the idle timeout ($ms ms)"
fi
same "$(timeout 20 "$UNUM" run -n "$i_sock" sh -c 'sleep 4; echo stayed' </dev/null 2>&1)" \
	"stayed" "a connection with a process open outlives the idle timeout"

# ---- processes per user ----
if command -v setpriv >/dev/null; then
	printf 'max-processes-per-user 2\n' >"$tmp/lim.conf"
	start_unumd l -c "$tmp/lim.conf" || notok "unumd with a process limit starts"
	chmod 755 "$tmp"
	as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	for i in 1 2; do
		"${as_nobody[@]}" "$UNUM" run -n "$l_sock" sleep 30 </dev/null >/dev/null 2>&1 &
		pids="$pids $!"
	done
	sleep 1
	"${as_nobody[@]}" "$UNUM" run -n "$l_sock" true </dev/null 2>"$tmp/err"
	case "$?:$(cat "$tmp/err")" in
	255:*"too many processes for uid 65534 (limit 2)"*)
		ok "a user over max-processes-per-user is refused, and told the limit" ;;
	*) notok "a user over max-processes-per-user: $(cat "$tmp/err")" ;;
	esac
	same "$(timeout 20 "$UNUM" run -n "$l_sock" echo root </dev/null 2>&1)" "root" \
		"another user (root) still runs programs"
else
	echo "ok $((n += 1)) # SKIP no setpriv"
	echo "ok $((n += 1)) # SKIP no setpriv"
fi

# ---- a key rollover: a node on the new key still accepts the old one,
# and says who uses it ----
"$UNUM" keygen "$tmp/new.key" >/dev/null
start_unumd r -k "$tmp/new.key" --previous-key "$KEY" ||
	notok "unumd with a new and a previous key starts"
same "$(timeout 20 "$UNUM" run -n "127.0.0.1:$r_port" echo old </dev/null 2>&1)" \
	"old" "rollover: a node on the old key still reaches it"
grep -q "uses the previous cluster key" "$tmp/r.log" &&
	ok "rollover: unumd reports the peer on the old key" ||
	notok "rollover: unumd reports the peer on the old key"
same "$(UNUM_KEY="$tmp/new.key" timeout 20 "$UNUM" run -n "127.0.0.1:$r_port" echo new </dev/null 2>&1)" \
	"new" "rollover: a node on the new key reaches it"
"$UNUM" keygen "$tmp/third.key" >/dev/null
UNUM_KEY="$tmp/third.key" timeout 20 "$UNUM" run -n "127.0.0.1:$r_port" true </dev/null 2>/dev/null
same "$?" "255" "rollover: any other key is refused"

kill -0 "$t_pid" && ok "unumd survived all of it" || notok "unumd survived all of it"
done_testing
