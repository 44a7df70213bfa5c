#!/usr/bin/env bash
# An intermediary on the process-server connection: a program that serves
# the same 9P process API, named in UNUM_PSC, carries every process call
# of the session's whole subtree.  tests/lib/psc-proxy.c passes the
# session's 9P to t1's unumd, logs every attach and spawn, and turns each
# attach of "proc" into one of "T3:5640!proc" (unumd relays it to t3).
# The programs of tests/cluster/shim.sh, unchanged, then run all on t3,
# where without it the cluster spreads them; t1's unum-clusterd places
# none of them (the session still asks it once for the cluster's view of
# t1, its origin).  Runs as root.
# shellcheck disable=SC2154,SC2153 # tmp, KEY, UNUM, UNUMD: common.sh; CL_*: cluster.sh
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"
# shellcheck source=SCRIPTDIR/../lib/cluster.sh
. "$(dirname "$0")/../lib/cluster.sh"

cluster_prelude
if ! cc -O2 -pthread -o "$tmp/spawners" "$top/tests/lib/spawners.c" ||
	! cc -O2 -pthread -o "$tmp/psc-proxy" "$top/tests/lib/psc-proxy.c"; then
	notok "the spawners program and the proxy build"
	done_testing
	exit 1
fi

# three nodes as in shim.sh; the unum-clusterds trace their 9P (-D), to
# show which runs t1's placed
cluster_up 3 t || { notok "three nodes"; done_testing; exit 1; }
cluster_unum "$KEYC" --learn no -p roundrobin -D || notok "unumd and unum-clusterd on three nodes that see each other"

# The proxy, in t1: upstream t1's unumd (its default socket, private to
# t1), listening in the shared $tmp.
psc="$tmp/psc.sock"
plog="$tmp/psc.log"
to="${CL_IP[3]}:5640!proc"
cluster_spawn 1 "$tmp/proxy.err" "$tmp/psc-proxy" -l "$psc" \
	-u /run/unum/unumd.sock -a "$to" -L "$plog" || notok "the proxy starts in t1"
wait_for "$psc" || notok "the proxy listens"

# in t1, a session whose process-server connection is the proxy
proxied() { on t1 env UNUM_PSC="$psc" "$UNUM" exec "$@"; }
# what was logged since the last call, into $lines
seen=0
since() {
	lines=$(tail -n +"$((seen + 1))" "$plog")
	seen=$(wc -l <"$plog")
}
count() { printf '%s\n' "$lines" | grep -c -- "$1"; }
# how many of each node, as "N NODE" lines
tally() { sort | uniq -c | awk '{ print $1, $2 }'; }
# spread DESCRIPTION NODE...: ok if two nodes or more are named
spread() {
	local d=$1 k
	shift
	k=$(printf '%s\n' "$@" | sort -u | grep -c .)
	if [ "$k" -ge 2 ]; then ok "$d: $*"; else notok "$d: $*"; fi
}
# t1's unum-clusterd: the attaches of proc it took since the last call,
# into $cprocs
cseen=0
cl_procs() {
	cprocs=$(tail -n +"$((cseen + 1))" "$tmp/c1.log" | grep -c "Tattach .* aname 'proc'")
	cseen=$(wc -l <"$tmp/c1.log")
}

# ---- the control: the same programs without the proxy spread ----
cl_procs
# shellcheck disable=SC2046 # a word a node
spread "without the proxy, spawners' children spread" \
	$(on t1 "$UNUM" exec -d hostname "$tmp/spawners" | awk '{ print $2 }' | sort -u)
# shellcheck disable=SC2046
spread "without the proxy, a shell loop's spread" \
	$(on t1 "$UNUM" exec -d hostname sh -c 'for i in 1 2 3 4 5 6; do hostname; done' | sort -u)
# shellcheck disable=SC2046
spread "without the proxy, xargs -P4's spread" \
	$(on t1 "$UNUM" exec -d hostname sh -c 'seq 8 | xargs -P4 -n1 sh -c hostname' | sort -u)
cl_procs
if [ "$cprocs" -gt 0 ]; then ok "t1's unum-clusterd placed them ($cprocs attaches of proc)"; else
	notok "t1's unum-clusterd placed them"
fi
since
same "$lines" "" "the proxy saw none of it"

# ---- every way C starts a program ----
out=$(proxied -d hostname "$tmp/spawners" 2>"$tmp/sp.err")
rc=$?
same "$rc" "0" "spawners through the proxy: every child exits 0 through the ghost"
[ -s "$tmp/sp.err" ] && sed 's/^/# /' "$tmp/sp.err"
same "$(echo "$out" | awk '{ print $1 }' | sort | tr '\n' ' ')" \
	"fork popen posix_spawn posix_spawnp system threads vfork " \
	"system, popen, posix_spawn(p), vfork+execve, fork+execvp, fork after threads: each started hostname"
same "$(echo "$out" | awk '{ print $2 }' | tally)" "7 t3" \
	"system, popen, posix_spawn(p), vfork, fork and fork after threads: all on t3"
since
spawned=$(echo "$out" | awk '$2 == "t3"' | wc -l)
same "$(count '^spawn ')" "$spawned" "the proxy logged a spawn for each of the $spawned children on t3"
same "$(count '^spawn .*/hostname.$')" "$spawned" "each of them hostname"
# one attach a ghost, and one at the session's end: it ends what is
# left of the session, through the same connection
same "$(count "^attach proc -> $to\$")" "$((spawned + 1))" \
	"it turned each ghost's attach of proc, and the session end's, into $to"
same "$(count '^attach')" "$((spawned + 1))" "no other tree was asked for"

# ---- shells, xargs ----
same "$(proxied -d hostname sh -c 'for i in 1 2 3 4 5 6; do hostname; done' | tally)" \
	"6 t3" "a shell loop: six hostnames, all on t3"
since
same "$(count '^spawn .*/hostname.$')/$(count '^spawn ')" 6/6 "the proxy logged six spawns, of hostname"
same "$(proxied -d hostname sh -c 'seq 8 | xargs -P4 -n1 sh -c hostname' | tally)" \
	"8 t3" "xargs -P4: eight hostnames, all on t3"
since
same "$(count '^spawn .*/hostname.$')/$(count '^spawn ')" 8/8 "the proxy logged eight spawns, of hostname"
same "$(count "^attach proc -> $to\$")/$(count '^attach')" "9/9" \
	"and turned their nine attaches of proc (eight and the end's)"

# ---- a status through the proxy; what is not named ----
same "$(proxied -d sh sh -c 'sh -c "hostname; exit 3"; echo $?' | tr '\n' ' ')" \
	"t3 3 " "an exit status comes back through the proxy (3, from t3)"
since
same "$(count "^spawn '[^']*/sh' '-c' 'hostname; exit 3'\$")/$(count '^spawn ')" "1/1" \
	"its one spawn, logged with its arguments: $(printf '%s\n' "$lines" | grep '^spawn ')"
same "$(proxied -d hostname sh -c 'uname -n')" "t1" "a program not named stays here"
since
same "$(count '^spawn ')" 0 "and is not logged"
cl_procs
same "$cprocs" 0 "t1's unum-clusterd placed nothing run through the proxy"
[ -s "$tmp/proxy.err" ] && sed 's/^/# proxy: /' "$tmp/proxy.err"
done_testing
