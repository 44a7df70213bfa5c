# Shared by the shell tests: TAP output, daemons started on free loopback
# ports and ended by pid, and a cleanup trap.  Source it; set `top`.
top=$(cd "$(dirname "$0")/../.." && pwd)
UNUMD="$top/build/unumd"
UNUM="$top/build/unum"
n=0
nfail=0
pids=""
tmp=$(mktemp -d /tmp/unum-test.XXXXXX)

cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null
	done
	for p in $pids; do
		# bounded wait, then force
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { n=$((n + 1)); echo "ok $n - $*"; }
notok() { n=$((n + 1)); nfail=$((nfail + 1)); echo "not ok $n - $*"; }
# check DESCRIPTION COMMAND...: ok if the command succeeds
check() {
	d=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$d"; else
		notok "$d"
		sed 's/^/# /' "$tmp/out" | head -20
	fi
}
# same TEXT1 TEXT2 DESCRIPTION
same() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		notok "$3"
		echo "# want: $2" | head -5
		echo "# got:  $1" | head -5
	fi
}
done_testing() {
	echo "1..$n"
	[ "$nfail" -eq 0 ]
}

# wait_for ADDR [PID]: waits until a TCP port or Unix socket answers (5 s
# at most), or until the process PID has ended.
wait_for() {
	i=0
	while [ $i -lt 100 ]; do
		# A daemon that has died will not answer.
		[ -n "${2:-}" ] && ! kill -0 "$2" 2>/dev/null && return 1
		case "$1" in
		/*) [ -S "$1" ] && return 0 ;;
		*) (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null && return 0 ;;
		esac
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# A port nobody listens on, from a range the tests own: below the
# kernel's ephemeral range (32768 and up on Linux), where a client's
# connection could be holding the port without listening on it.
free_port() {
	p=$((20000 + ($$ * 7 + ${1:-0} * 131) % 12000))
	while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do
		p=$((p + 1))
	done
	echo "$p"
}

# The cluster key of the test's nodes; unum's clients find it in UNUM_KEY,
# so their TCP connections to the nodes are TLS.
KEY="$tmp/cluster.key"
"$UNUM" keygen "$KEY" >/dev/null || echo "# unum keygen failed"
export UNUM_KEY="$KEY"

# start_unumd NAME [ARGS...]: sets NAME_port (TLS, the cluster key),
# NAME_sock, NAME_pid.  With PLAIN=ANAME[,ANAME] set, also a plain 9P
# listener for those trees (every user anonymous): NAME_pport.
start_unumd() {
	name=$1
	shift
	seed=$(echo "$name" | cksum | cut -c1-4)
	try=0
	while :; do
		if start_unumd_on "$name" "$seed" "$@"; then
			return 0
		fi
		# Another program took a port between the look and the bind:
		# try other ports, a few times.
		try=$((try + 1))
		if [ $try -ge 3 ] ||
		    ! grep -q "Address already in use" "$tmp/$name.log"; then
			echo "# unumd $name did not start:"
			sed 's/^/# /' "$tmp/$name.log"
			return 1
		fi
		wait "$pid" 2>/dev/null
		seed=$((seed + 17))
	done
}

start_unumd_on() {
	name=$1
	port=$(free_port "$2")
	shift 2
	sock="$tmp/$name.sock"
	set -- -k "$KEY" "$@"
	pport=""
	if [ -n "${PLAIN:-}" ]; then
		pport=$(free_port "$((port + 7))")
		[ "$pport" = "$port" ] && pport=$((port + 1))
		set -- -P "127.0.0.1:$pport=$PLAIN" "$@"
	fi
	"$UNUMD" -c /dev/null -n "$name" -s "$sock" -l "127.0.0.1:$port" \
		"$@" 2>"$tmp/$name.log" &
	pid=$!
	pids="$pids $pid"
	wait_for "127.0.0.1:$port" $pid && wait_for "$sock" $pid &&
		{ [ -z "$pport" ] || wait_for "127.0.0.1:$pport" $pid; } ||
		return 1
	eval "${name}_port=$port ${name}_sock=$sock ${name}_pid=$pid"
	eval "${name}_pport=$pport"
}
