# shellcheck shell=bash disable=SC2034 # CL_*: for the tests that source it
# A cluster of N test hosts on this one machine, for multi-node tests
# (DESIGN.md, "Testing a cluster on one machine").  Bash; runs as root.
# Source it after common.sh:
#
#	. "$(dirname "$0")/../lib/common.sh"
#	. "$(dirname "$0")/../lib/cluster.sh"
#	cluster_up 3 || { notok "3 nodes"; done_testing; exit 1; }
#	cluster_spawn n1 "$CL_SHARED/n1.log" "$UNUMD" -c /dev/null -n n1 \
#		-s /run/unum/unumd.sock -l "${CL_IP[1]}:5640" -k "$KEY"
#	on n2 hostname              # prints n2
#
# What a node is.  Node i (1..N) is named PREFIXi (default n1..nN) and is
#   - a network namespace CL_NS[i] ("unum-cl-$$-n1"...) with lo up and one
#     interface, eth0, address CL_IP[i] = 10.X.Y.i/24.  eth0 is one end of
#     a veth pair; the other end, v<i>, is a port of the bridge br0 in one
#     more namespace, CL_BRNS ("unum-cl-$$-bridge").  The pairs are made in
#     the bridge's namespace with their peer made directly in the node's,
#     so nothing ever appears in the host's own namespace, and no packet
#     leaves the namespaces made here.  10.X.Y.0/24 (CL_SUBNET = "10.X.Y")
#     is picked at random among those that overlap no address or route of
#     the host (all tables).
#   - a UTS namespace: hostname = its name;
#   - a mount namespace (propagation private) in which /tmp and /run are
#     tmpfs of its own, /run/unum exists (empty), and /etc/hosts names
#     every node (so "n2" resolves to CL_IP[2] on every node).
# These are held by one process per node, CL_HOLDER[i] (a "sleep infinity"
# started through ip netns exec and unshare), which `on` and cluster_spawn
# enter with nsenter.  Processes in a node see the node's hostname, /tmp,
# /run and network, and the rest of the host's files.
#
# Files.  Everything outside /tmp and /run is the host's, shared by every
# node: the build directory ($UNUMD, $UNUM) in particular.  Two more
# directories are shared by every node and the host, at the same path:
#   - CL_SHARED, /var/tmp/unum-cluster-$$.XXXXXX (mode 755), for logs,
#     keys, pid files: whatever the test and its nodes must both see.
#     cluster_down removes it.
#   - the test's $tmp from common.sh (or CL_SHARE_TMP if set before
#     cluster_up; empty: none), bind-mounted into each node's private /tmp
#     at the same path, so that $KEY and the like work inside the nodes.
# Any other path under /tmp or /run is private to a node (cluster_file).
#
# Functions.  NODE is a node's name (n2) or its index (2).
#   cluster_up N [PREFIX]  makes nodes PREFIX1..PREFIXN (N 1..250); sets
#	CL_N, CL_NAME[i], CL_NS[i], CL_IP[i], CL_HOLDER[i], CL_BRNS,
#	CL_SUBNET, CL_SHARED, CL_UPTIME (seconds it took).  On failure it
#	says why on stderr, undoes what it made, and returns 1.
#   on NODE CMD...  runs CMD inside NODE, in the foreground, and returns
#	its status; standard input, output and error are the caller's.  It
#	runs in the caller's directory when the node has it (not under a
#	private /tmp or /run), else in /.  Bounded by CL_TIMEOUT seconds
#	(default 60; 0: none), then TERM, and KILL 5 s later (status 124
#	or 137 as timeout(1) says).
#   cluster_spawn NODE LOGFILE CMD...  starts CMD in the background in
#	NODE, standard input /dev/null, standard output and error to LOGFILE
#	(a path on the host, opened before entering the node, e.g. under
#	CL_SHARED or $tmp).  CL_LASTPID is CMD's own pid: nsenter and
#	setpriv exec it, so `kill $CL_LASTPID` ends CMD and `wait` gets its
#	status.  Returns 0 once the process is inside the node, 1 if it ended
#	before.  Call it in the test's own shell, not in $(...) or a pipe: the
#	process is a child of that shell, which it does not outlive (its
#	parent-death signal is KILL).
#   cluster_kill PID [SIG]  sends SIG (default TERM) to a process of the
#	cluster and waits until it has ended (CL_KILL_WAIT seconds, default
#	5; then SIGKILL).  Returns 0 if it ended of SIG, 1 if it took a
#	SIGKILL, 2 if PID is not a process of the cluster.  CL_STATUS is its
#	exit status when it was a child of this shell (e.g. 143).
#   cluster_file NODE PATH [CONTENT]  writes CONTENT and a newline (no
#	CONTENT: standard input, as is) to PATH in NODE only.  PATH must be
#	under /tmp or /run and not under the shared $tmp; missing
#	directories are made.
#   cluster_cut NODE / cluster_heal NODE  set both ends of NODE's veth down
#	/ up (its eth0 and the bridge's v<i>).  Down, the node has no route to
#	the others (its own requests fail at once) and they get no answer
#	from it.  cluster_heal returns once both ends are up (2 s at most);
#	the IPv4 routes come back by themselves.
#   cluster_down  ends every process in the cluster's namespaces, by pid
#	(TERM; those left after 3 s, KILL): those from cluster_spawn, what
#	they started, anything started with on or ip netns exec, and the
#	holders; then deletes the namespaces (and with them the bridge and
#	every veth) and CL_SHARED.  Idempotent; at most about 5 s.
#
# Cleanup.  Sourcing this file sets `trap _cl_exit EXIT`, which runs
# cluster_down and then common.sh's cleanup: the nodes must go first.  A
# test that sets its own EXIT trap after sourcing this calls both itself:
#	my_cleanup() { ...; cluster_down; cleanup; }
#	trap my_cleanup EXIT
# common.sh's `trap 'exit 1' INT TERM` makes a signal run the EXIT trap
# (tests/run.sh's timeout signals the whole process group, so a foreground
# command does not hold it up).  If the test's shell is killed with
# SIGKILL, the holders and spawned processes die with it (parent-death
# signal), but the names in /run/netns ("ip netns list | grep unum-cl-")
# and CL_SHARED stay; cluster_up refuses to reuse such names.
#
# Notes.  One cluster at a time per test (the names hold $$, which a
# subshell shares).  `on NODE CMD &` works, but $! is then a subshell on
# the host, not CMD: use cluster_spawn for what must be killed by pid
# (cluster_down ends CMD either way).  A spawned process that cluster_down
# must SIGKILL makes bash print a "Killed" job notice on stderr.
#
# Time, on the 2-CPU development VM (Debian 12, Linux 6.18): cluster_up 8
# takes 0.09-0.18 s (0.16-0.47 s right after another cluster_down, while
# the kernel is still tearing the old namespaces down), cluster_up 3
# 0.06-0.15 s, cluster_up 32 0.5 s, cluster_up 100 1.5 s: about 15 ms a
# node, most of it in the kernel making veths.  cluster_down 8 takes
# 40-130 ms when every process ends on SIGTERM.  tests/cluster/harness.sh
# prints the figure for 3 and for 8 nodes.

CL_TAG="unum-cl-$$"         # every namespace name starts with "$CL_TAG-"
CL_BRNS="$CL_TAG-bridge"    # the bridge's namespace
CL_TIMEOUT=${CL_TIMEOUT:-60}
CL_KILL_WAIT=${CL_KILL_WAIT:-5}
CL_N=0
CL_NAME=()
CL_NS=()
CL_IP=()
CL_HOLDER=()
CL_PIDS=()      # every pid cluster_spawn started and cluster_kill has not reaped
CL_LASTPID=""
CL_STATUS=""
CL_SUBNET=""
CL_SHARED=""
CL_UPTIME=""
_cl_sharetmp=""

# The holder of a node, in its new UTS and mount namespaces: $1 the name,
# $2 a host directory under /tmp to keep visible (or empty), $3 the hosts
# file.  It ends as "sleep infinity" once all is in place.
# shellcheck disable=SC2016 # expanded by that shell
_CL_HOLDER_SH='set -e
cd /
hostname "$1"
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/unum /run/lock
chmod 1777 /run/lock
if [ -n "$2" ]; then
	mkdir /run/.cl-tmp
	mount --bind "$2" /run/.cl-tmp
fi
mount -t tmpfs -o mode=1777 tmpfs /tmp
if [ -n "$2" ]; then
	mkdir -p "$2"
	mount --move /run/.cl-tmp "$2"
	rmdir /run/.cl-tmp
fi
[ ! -f /etc/hosts ] || mount --bind "$3" /etc/hosts
exec sleep infinity'

_cl_err() { echo "# cluster: $*" >&2; }

# _cl_idx NODE: sets _cl_i to the node's index
_cl_idx() {
	local j
	_cl_i=""
	if [ "$CL_N" -eq 0 ]; then
		_cl_err "no cluster is up"
		return 2
	fi
	case $1 in
	'' | *[!0-9]*) ;;
	*)
		if [ "$1" -ge 1 ] && [ "$1" -le "$CL_N" ]; then
			_cl_i=$1
			return 0
		fi
		;;
	esac
	for ((j = 1; j <= CL_N; j++)); do
		if [ "${CL_NAME[j]}" = "$1" ]; then
			_cl_i=$j
			return 0
		fi
	done
	_cl_err "no node '$1'"
	return 2
}

# _cl_alive PID: the process exists and is not a zombie
_cl_alive() {
	local s
	read -r s 2>/dev/null <"/proc/$1/stat" || return 1
	s=${s##*) }
	case ${s%% *} in Z | X | x) return 1 ;; esac
	return 0
}

# _cl_gone SECONDS PID...: until none of them is alive
_cl_gone() {
	local k p left
	for ((k = 0; k <= $1 * 50; k++)); do
		left=0
		for p in "${@:2}"; do
			if _cl_alive "$p"; then
				left=1
				break
			fi
		done
		[ $left = 0 ] && return 0
		sleep 0.02
	done
	return 1
}

# _cl_ours PID: the process is in one of the cluster's namespaces
_cl_ours() {
	local j
	for ((j = 1; j <= CL_N; j++)); do
		if [[ /proc/$1/ns/net -ef /run/netns/${CL_NS[j]} ]] ||
			[[ /proc/$1/ns/mnt -ef /proc/${CL_HOLDER[j]:-0}/ns/mnt ]]; then
			return 0
		fi
	done
	[[ /proc/$1/ns/net -ef /run/netns/$CL_BRNS ]]
}

# _cl_nsids: sets _cl_ids to the namespaces of the cluster, as in
# /proc/PID/ns: those named "$CL_TAG-*" and the nodes' mount namespaces
_cl_nsids() {
	local h
	_cl_ids=$(stat -L -c 'net:[%i]' "/run/netns/$CL_TAG-"* 2>/dev/null)
	for h in "${CL_HOLDER[@]}"; do
		_cl_ids+=$'\n'$(readlink "/proc/$h/ns/mnt" 2>/dev/null)
	done
}

# _cl_procs: the pids of every process in one of $_cl_ids
_cl_procs() {
	[ -n "${_cl_ids//$'\n'/}" ] || return 0
	find /proc/[0-9]*/ns/net /proc/[0-9]*/ns/mnt -maxdepth 0 \
		-printf '%p %l\n' 2>/dev/null |
		awk -v ids="$_cl_ids" '
		BEGIN { n = split(ids, a, "\n"); for (i = 1; i <= n; i++) if (a[i] != "") want[a[i]] = 1 }
		$2 in want { split($1, f, "/"); if (!(f[3] in seen)) { seen[f[3]] = 1; print f[3] } }'
}

# _cl_wd: sets _cl_dir to the directory a node's command starts in
_cl_wd() {
	_cl_dir=$PWD
	if [ -n "$_cl_sharetmp" ]; then
		case "$PWD/" in "$_cl_sharetmp"/*) return ;; esac
	fi
	case "$PWD/" in /tmp/* | /run/*) _cl_dir=/ ;; esac
}

# _cl_pick_subnet: sets CL_SUBNET to a 10.X.Y that overlaps nothing the
# host has (addresses and routes of every table)
_cl_pick_subnet() {
	local used p net len a b c d x y lo hi plo phi try
	used=$({ ip -4 -o addr show; ip -4 route show table all; } 2>/dev/null |
		grep -oE '([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?')
	for ((try = 0; try < 100; try++)); do
		x=$((RANDOM % 191 + 64))
		y=$((RANDOM % 254 + 1))
		lo=$(((10 << 24) | (x << 16) | (y << 8)))
		hi=$((lo + 255))
		for p in $used; do
			net=${p%/*}
			len=32
			[ "$p" = "$net" ] || len=${p#*/}
			IFS=. read -r a b c d <<<"$net"
			plo=$((((a << 24) | (b << 16) | (c << 8) | d) & ((0xffffffff << (32 - len)) & 0xffffffff)))
			phi=$((plo + (1 << (32 - len)) - 1))
			# 0.0.0.0/0 (default) overlaps everything and means nothing
			if [ "$len" -gt 0 ] && [ $plo -le $hi ] && [ $phi -ge $lo ]; then
				continue 2
			fi
		done
		CL_SUBNET="10.$x.$y"
		return 0
	done
	_cl_err "no free 10.X.Y.0/24 in 100 tries"
	return 1
}

# cluster_up N [PREFIX]
cluster_up() {
	local count=${1:-} prefix=${2-n} i k t0 ready h s
	if [ "$CL_N" -ne 0 ]; then
		_cl_err "cluster_up: a cluster is already up (cluster_down first)"
		return 1
	fi
	case $count in '' | *[!0-9]*) count=0 ;; esac
	if [ "$count" -lt 1 ] || [ "$count" -gt 250 ]; then
		_cl_err "usage: cluster_up N [PREFIX] (N from 1 to 250)"
		return 1
	fi
	case $prefix in *[!A-Za-z0-9-]*)
		_cl_err "cluster_up: PREFIX is letters, digits and -"
		return 1
		;;
	esac
	if [ "$EUID" -ne 0 ]; then
		_cl_err "cluster_up: network namespaces need root"
		return 1
	fi
	if ip netns list 2>/dev/null | grep -q "^$CL_TAG-"; then
		_cl_err "cluster_up: namespaces named $CL_TAG-* exist (left by a" \
			"killed test that had this pid?); see ip netns list"
		return 1
	fi
	t0=$EPOCHREALTIME
	_cl_pick_subnet || return 1
	CL_SHARED=$(mktemp -d "/var/tmp/unum-cluster-$$.XXXXXX") || {
		CL_SHARED=""
		return 1
	}
	chmod 755 "$CL_SHARED"
	_cl_sharetmp=${CL_SHARE_TMP-${tmp:-}}
	case $_cl_sharetmp in /tmp/?*) [ -d "$_cl_sharetmp" ] || _cl_sharetmp="" ;; *) _cl_sharetmp="" ;; esac
	_cl_sharetmp=${_cl_sharetmp%/}
	CL_N=$count # from here on, cluster_down undoes what was made
	{
		printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
		for ((i = 1; i <= count; i++)); do
			CL_NAME[i]=$prefix$i
			CL_NS[i]=$CL_TAG-$prefix$i
			CL_IP[i]=$CL_SUBNET.$i
			printf '%s\t%s\n' "${CL_IP[i]}" "${CL_NAME[i]}"
		done
	} >"$CL_SHARED/hosts"

	# the namespaces, in one ip process
	if ! {
		echo "netns add $CL_BRNS"
		for ((i = 1; i <= count; i++)); do echo "netns add ${CL_NS[i]}"; done
	} | ip -batch - 2>"$CL_SHARED/ip.err"; then
		_cl_err "cluster_up: ip netns add: $(head -3 "$CL_SHARED/ip.err")"
		cluster_down
		return 1
	fi
	# the holders, all at once; they get ready while the links are made
	for ((i = 1; i <= count; i++)); do
		ip netns exec "${CL_NS[i]}" setpriv --pdeathsig KILL -- \
			unshare --uts --mount --propagation private \
			sh -c "$_CL_HOLDER_SH" holder "${CL_NAME[i]}" "$_cl_sharetmp" \
			"$CL_SHARED/hosts" </dev/null >/dev/null \
			2>"$CL_SHARED/holder-${CL_NAME[i]}.err" &
		CL_HOLDER[i]=$!
	done
	# the bridge, and a veth pair per node made from the bridge's side
	if ! {
		echo "link add br0 type bridge"
		echo "link set br0 up"
		for ((i = 1; i <= count; i++)); do
			echo "link add v$i type veth peer name eth0 netns ${CL_NS[i]}"
			echo "link set v$i master br0 up"
		done
	} | ip -n "$CL_BRNS" -batch - 2>"$CL_SHARED/ip.err"; then
		_cl_err "cluster_up: the bridge: $(head -3 "$CL_SHARED/ip.err")"
		cluster_down
		return 1
	fi
	for ((i = 1; i <= count; i++)); do
		if ! printf 'link set lo up\naddr add %s/24 dev eth0\nlink set eth0 up\n' \
			"${CL_IP[i]}" | ip -n "${CL_NS[i]}" -batch - 2>"$CL_SHARED/ip.err"; then
			_cl_err "cluster_up: ${CL_NAME[i]}'s link: $(head -3 "$CL_SHARED/ip.err")"
			cluster_down
			return 1
		fi
	done
	# every holder is "sleep" once its namespaces are in place (5 s at most)
	for ((k = 0; k < 250; k++)); do
		ready=0
		for ((i = 1; i <= count; i++)); do
			h=${CL_HOLDER[i]}
			if ! _cl_alive "$h"; then
				_cl_err "cluster_up: the holder of ${CL_NAME[i]} failed:" \
					"$(head -3 "$CL_SHARED/holder-${CL_NAME[i]}.err")"
				cluster_down
				return 1
			fi
			s=""
			read -r s 2>/dev/null <"/proc/$h/comm"
			[ "$s" = sleep ] && ready=$((ready + 1))
		done
		[ $ready = "$count" ] && break
		sleep 0.02
	done
	if [ $ready != "$count" ]; then
		_cl_err "cluster_up: the holders were not ready within 5 s"
		cluster_down
		return 1
	fi
	k=$((10#${EPOCHREALTIME//[.,]/} - 10#${t0//[.,]/}))
	CL_UPTIME=$(printf '%d.%03d' $((k / 1000000)) $((k / 1000 % 1000)))
	return 0
}

# on NODE CMD...
on() {
	local i
	_cl_idx "${1:-}" || return 2
	i=$_cl_i
	shift
	if [ $# -eq 0 ]; then
		_cl_err "usage: on NODE CMD..."
		return 2
	fi
	_cl_wd
	timeout -k 5 "$CL_TIMEOUT" nsenter --target "${CL_HOLDER[i]}" \
		--net --uts --mount --wd="$_cl_dir" -- "$@"
}

# cluster_spawn NODE LOGFILE CMD...
cluster_spawn() {
	local i log p k
	_cl_idx "${1:-}" || return 2
	i=$_cl_i
	log=${2:-}
	if [ $# -lt 3 ] || [ -z "$log" ]; then
		_cl_err "usage: cluster_spawn NODE LOGFILE CMD..."
		return 2
	fi
	shift 2
	_cl_wd
	nsenter --target "${CL_HOLDER[i]}" --net --uts --mount --wd="$_cl_dir" \
		-- setpriv --pdeathsig KILL -- "$@" </dev/null >"$log" 2>&1 &
	p=$!
	CL_PIDS+=("$p")
	CL_LASTPID=$p
	for ((k = 0; k < 250; k++)); do
		[[ /proc/$p/ns/mnt -ef /proc/${CL_HOLDER[i]}/ns/mnt ]] && return 0
		_cl_alive "$p" || return 1
		sleep 0.02
	done
	return 1
}

# cluster_kill PID [SIG]
cluster_kill() {
	local p=${1:-} sig=${2:-TERM} rc=0 q keep=()
	case $p in '' | *[!0-9]*)
		_cl_err "usage: cluster_kill PID [SIG]"
		return 2
		;;
	esac
	sig=${sig#-}
	sig=${sig#SIG}
	CL_STATUS=""
	if _cl_alive "$p"; then
		if ! _cl_ours "$p"; then
			_cl_err "cluster_kill: $p is not a process of the cluster"
			return 2
		fi
		kill -s "$sig" "$p" 2>/dev/null
		if ! _cl_gone "$CL_KILL_WAIT" "$p"; then
			kill -s KILL "$p" 2>/dev/null
			_cl_gone 2 "$p"
			rc=1
		fi
	fi
	if ! _cl_alive "$p"; then
		wait "$p" 2>/dev/null
		CL_STATUS=$?
		[ "$CL_STATUS" = 127 ] && CL_STATUS="" # not a child of this shell
		for q in "${CL_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
		CL_PIDS=("${keep[@]}")
	fi
	return $rc
}

# cluster_file NODE PATH [CONTENT]
cluster_file() {
	local node=${1:-} path=${2:-}
	_cl_idx "$node" || return 2
	case $path in /tmp/?* | /run/?*) ;; *)
		_cl_err "cluster_file: PATH must be under /tmp or /run"
		return 2
		;;
	esac
	if [ -n "$_cl_sharetmp" ]; then
		case "$path/" in "$_cl_sharetmp"/*)
			_cl_err "cluster_file: $path is in the shared $_cl_sharetmp"
			return 2
			;;
		esac
	fi
	# shellcheck disable=SC2016 # $1 is the inner shell's
	set -- "$node" sh -c 'mkdir -p "${1%/*}" && cat >"$1"' sh "$path" "${@:3}"
	if [ $# -eq 7 ]; then
		printf '%s\n' "$7" | on "${@:1:6}"
	else
		on "${@:1:6}"
	fi
}

# cluster_cut NODE
cluster_cut() {
	local i
	_cl_idx "${1:-}" || return 2
	i=$_cl_i
	ip -n "$CL_BRNS" link set "v$i" down &&
		ip -n "${CL_NS[i]}" link set eth0 down
}

# cluster_heal NODE
cluster_heal() {
	local i k
	_cl_idx "${1:-}" || return 2
	i=$_cl_i
	ip -n "$CL_BRNS" link set "v$i" up &&
		ip -n "${CL_NS[i]}" link set eth0 up || return 1
	for ((k = 0; k < 100; k++)); do
		case "$(ip -n "${CL_NS[i]}" -o link show eth0 2>/dev/null)" in
		*" state UP "*)
			case "$(ip -n "$CL_BRNS" -o link show "v$i" 2>/dev/null)" in
			*" state UP "*) return 0 ;;
			esac
			;;
		esac
		sleep 0.02
	done
	_cl_err "cluster_heal: ${CL_NAME[i]}'s link is not up within 2 s"
	return 1
}

# cluster_down
cluster_down() {
	local pids=() p ns names=() t0 t sig=TERM
	local -A sent=()
	# TERM to every process in the cluster, and to those that turn up
	# meanwhile; after 3 s, KILL to all that are left; 5 s at most
	t0=${EPOCHREALTIME//[.,]/}
	_cl_nsids
	while :; do
		mapfile -t pids < <(_cl_procs)
		[ ${#pids[@]} -eq 0 ] && break
		t=$((${EPOCHREALTIME//[.,]/} - t0))
		[ $t -ge 5000000 ] && break
		[ $t -ge 3000000 ] && sig=KILL
		for p in "${pids[@]}"; do
			if [ $sig = KILL ] || [ -z "${sent[$p]:-}" ]; then
				kill -s $sig "$p" 2>/dev/null
				sent[$p]=1
			fi
		done
		sleep 0.02
	done
	[ ${#pids[@]} -eq 0 ] ||
		_cl_err "cluster_down: processes left in the nodes: ${pids[*]}"
	# reap this shell's children (holders, spawned), which are zombies now
	for p in "${CL_HOLDER[@]}" "${CL_PIDS[@]}"; do
		_cl_alive "$p" || wait "$p" 2>/dev/null
	done
	for ns in $(ip netns list 2>/dev/null | cut -d' ' -f1); do
		case $ns in "$CL_TAG"-*) names+=("$ns") ;; esac
	done
	if [ ${#names[@]} -gt 0 ]; then
		printf 'netns del %s\n' "${names[@]}" | ip -force -batch - 2>/dev/null
	fi
	case $CL_SHARED in /var/tmp/unum-cluster-$$.*) rm -rf "$CL_SHARED" ;; esac
	CL_N=0
	CL_NAME=()
	CL_NS=()
	CL_IP=()
	CL_HOLDER=()
	CL_PIDS=()
	CL_SHARED=""
	CL_SUBNET=""
	_cl_sharetmp=""
	return 0
}

_cl_exit() {
	cluster_down
	if declare -F cleanup >/dev/null; then cleanup; fi
}
trap _cl_exit EXIT

# ---- helpers for tests of unum's cluster ----

# within SECS CMD...: CMD succeeds within SECS (tried every 0.05 s); how
# long it took in $took (seconds)
within() {
	local secs=$1 t0 k
	shift
	t0=$(date +%s.%N)
	for ((k = 0; k < secs * 20; k++)); do
		if "$@"; then
			took=$(echo "$(date +%s.%N) - $t0" | bc)
			return 0
		fi
		sleep 0.05
	done
	took=$secs
	return 1
}
# alive_count NODE: the members NODE's unum-clusterd sees alive
alive_count() {
	on "$1" "$UNUM" nodes --json 2>/dev/null | grep -o '"state":"alive"' | wc -l
}
# state_of NODE OF: OF's state as NODE sees it
state_of() {
	on "$1" "$UNUM" nodes --json 2>/dev/null | tr '}' '\n' |
		sed -n "s/.*\"node\":\"$2\",\"state\":\"\([a-z]*\)\".*/\1/p"
}
# cluster_unum KEYFILE [CLUSTERD-ARG...]: on every node, unumd (TLS with
# KEYFILE, listening on CL_IP:5640, exporting / for the others' imports)
# and unum-clusterd (CL_IP:5641, node 1 the seed, with the extra args);
# logs in $tmp/uI.log and $tmp/cI.log.  Returns once every node sees all
# alive (10 s at most; else 1) and the placement tables have seen them.
cluster_unum() {
	local key=$1 i _cu # (wait_for sets i)
	shift
	for ((_cu = 1; _cu <= CL_N; _cu++)); do
		cluster_spawn "$_cu" "$tmp/u$_cu.log" "$UNUMD" -c /dev/null \
			-n "${CL_NAME[_cu]}" -k "$key" -l "${CL_IP[_cu]}:5640" -e / ||
			return 1
	done
	for ((_cu = 1; _cu <= CL_N; _cu++)); do
		wait_for "${CL_IP[_cu]}:5640" 2>/dev/null
		cluster_spawn "$_cu" "$tmp/c$_cu.log" "${CLUSTERD:-$top/build/unum-clusterd}" \
			-c /dev/null -n "${CL_NAME[_cu]}" -k "$key" \
			-l "${CL_IP[_cu]}:5641" -a "${CL_IP[_cu]}:5640" \
			-j "${CL_IP[1]}:5641" "$@" || return 1
	done
	_cl_all_alive() {
		local j
		for ((j = 1; j <= CL_N; j++)); do
			[ "$(alive_count "$j")" = "$CL_N" ] || return 1
		done
	}
	within 10 _cl_all_alive || return 1
	sleep 0.3 # (unum-clusterd's placement table: every 250 ms)
}
# cluster_prelude: the start of a multi-node test: root or "not ok" and
# exit; stdin /dev/null; $tmp readable by the nodes' users; KEYC, a copy
# of the test's cluster key with mode 600 (as unumd wants it).
cluster_prelude() {
	if [ "$(id -u)" != 0 ]; then
		echo "not ok 1 - this test makes network namespaces and must run as root"
		exit 1
	fi
	exec </dev/null
	chmod 755 "$tmp"
	KEYC="$tmp/cluster-600.key"
	cp "$KEY" "$KEYC" && chmod 600 "$KEYC"
}
