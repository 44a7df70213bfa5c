#!/usr/bin/env bash
# The multi-node harness itself (tests/lib/cluster.sh): three nodes on this
# machine, each with its own hostname, /tmp, /run and address on one
# bridge; a link cut and healed; processes started in the nodes; and
# nothing left behind afterwards, on the host's network or elsewhere.
# Then eight nodes, to time cluster_up.  Runs as root.
# shellcheck disable=SC2154 # tmp, KEY: common.sh
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test makes network namespaces and must run as root"
	exit 1
fi
for c in ip unshare nsenter setpriv; do
	command -v "$c" >/dev/null || { echo "1..0 # SKIP no $c"; exit 0; }
done
exec </dev/null

# the host's own interfaces and addresses
links() {
	ip -o link | cut -d: -f1,2
	ip -o addr | awk '{ print $2, $3, $4 }'
}
# reach NODE HOST: NODE reaches HOST: ping -c1 -W1 where there is a ping;
# else a TCP connection to port 9 is refused within 1 s (only a host that
# answers refuses it)
reach() {
	if command -v ping >/dev/null; then
		on "$1" ping -c1 -W1 "$2" >/dev/null 2>&1
		return
	fi
	case "$(on "$1" timeout 1 env LC_ALL=C bash -c "exec 3<>/dev/tcp/$2/9" 2>&1)" in
	*"Connection refused"*) return 0 ;;
	esac
	return 1
}
# reach_soon NODE HOST: the same, a few tries
reach_soon() {
	local k
	for k in 1 2 3 4 5; do
		reach "$1" "$2" && return 0
		sleep 0.2
	done
	return 1
}
# gone_soon PID...: each has ended and been reaped, within 2 s
gone_soon() {
	local p k
	for p in "$@"; do
		for ((k = 0; k < 100; k++)); do
			[ -e "/proc/$p" ] || continue 2
			sleep 0.02
		done
		echo "# $p is still there: $(cat "/proc/$p/comm" 2>/dev/null)"
		return 1
	done
}
# ppid PID
ppid() {
	local s
	read -r s <"/proc/$1/stat" || return 1
	s=${s##*) }
	s=${s#* }
	echo "${s%% *}"
}

before=$(links)
hostname_before=$(hostname)

# ---- 1. three nodes ----
if cluster_up 3; then
	ok "cluster_up 3: n1..n3 on $CL_SUBNET.0/24 in $CL_UPTIME s"
else
	notok "cluster_up 3"
	done_testing
	exit 1
fi
tag=$CL_TAG
same "${CL_NAME[*]}" "n1 n2 n3" "the nodes are n1 n2 n3"
same "${CL_IP[2]}" "$CL_SUBNET.2" "n2's address is $CL_SUBNET.2"
for i in 1 2 3; do
	same "$(on "n$i" hostname 2>&1)" "n$i" "n$i's hostname is n$i"
done
same "$(hostname)" "$hostname_before" "the host's hostname is unchanged"
same "$(on 2 ip -4 -o addr show dev eth0 | awk '{ print $4 }')" \
	"${CL_IP[2]}/24" "n2 (by index) has ${CL_IP[2]}/24 on eth0"
nets=$(for i in 1 2 3; do on "$i" readlink /proc/self/ns/net; done
	readlink /proc/self/ns/net)
same "$(echo "$nets" | sort -u | wc -l)" 4 \
	"each node has a network namespace of its own"
same "$(links)" "$before" \
	"while the nodes are up, the host has no new interface or address"
case "$(ip netns list | cut -d' ' -f1 | grep -c "^$tag-")" in
4) ok "four namespaces named $tag-*: three nodes and the bridge's" ;;
*) notok "four namespaces named $tag-*: $(ip netns list | tr '\n' ' ')" ;;
esac

# ---- 2. files ----
cluster_file n1 /tmp/only-n1 "on n1"
same "$(on n1 cat /tmp/only-n1 2>&1)" "on n1" "cluster_file n1 /tmp/only-n1: n1 reads it"
check "n2 has no /tmp/only-n1" on n2 test ! -e /tmp/only-n1
check "the host has no /tmp/only-n1" test ! -e /tmp/only-n1
printf 'a\nb' | cluster_file n3 "/run/unum/harness-$$/sock.txt"
same "$(on n3 cat "/run/unum/harness-$$/sock.txt" | od -c | head -1)" \
	"$(printf 'a\nb' | od -c | head -1)" \
	"cluster_file with standard input: n3 has it, exactly"
check "n1 has no /run/unum/harness-$$" on n1 test ! -e "/run/unum/harness-$$"
check "the host has no /run/unum/harness-$$" test ! -e "/run/unum/harness-$$"
# shellcheck disable=SC2016 # the node's shell expands it
check "every node has an empty /run/unum of its own" \
	on n2 sh -c '[ -d /run/unum ] && [ -z "$(ls -A /run/unum)" ]'
cluster_file n2 /etc/passwd x 2>/dev/null
same "$?" 2 "cluster_file refuses a path outside /tmp and /run"
on n2 sh -c "echo from n2 >$CL_SHARED/f"
same "$(cat "$CL_SHARED/f" 2>&1)" "from n2" \
	"a file n2 writes in CL_SHARED ($CL_SHARED) is the host's"
check "the test's \$tmp is visible on n3 (the key: $KEY)" \
	on n3 cmp "$KEY" "$tmp/cluster.key"
on n1 sh -c "echo from n1 >$tmp/from-n1"
same "$(cat "$tmp/from-n1" 2>&1)" "from n1" "and shared: n1 writes there, the host reads it"
check "the build directory is visible on n2" on n2 test -x "$UNUMD"

# ---- 3. the network, a cut, a heal ----
probe=ping
command -v ping >/dev/null || probe="TCP (no ping here)"
check "n1 reaches n2 (${CL_IP[2]}, $probe)" reach n1 "${CL_IP[2]}"
check "n3 reaches n1 by name (/etc/hosts)" reach n3 n1
check "n2 reaches itself" reach n2 "${CL_IP[2]}"
check "cluster_cut n2" cluster_cut n2
if reach n1 "${CL_IP[2]}"; then
	notok "after cluster_cut n2, n1 does not reach n2"
else
	ok "after cluster_cut n2, n1 does not reach n2"
fi
if reach n2 "${CL_IP[3]}"; then
	notok "after cluster_cut n2, n2 does not reach n3"
else
	ok "after cluster_cut n2, n2 does not reach n3"
fi
check "after cluster_cut n2, n1 still reaches n3" reach n1 "${CL_IP[3]}"
check "cluster_heal n2" cluster_heal n2
check "after cluster_heal n2, n1 reaches n2 again" reach_soon n1 "${CL_IP[2]}"
check "and n2 reaches n3" reach_soon n2 "${CL_IP[3]}"

# ---- 4. processes ----
cluster_spawn n2 "$CL_SHARED/sleep.log" sleep 300
same "$?" 0 "cluster_spawn n2 sleep 300"
p=$CL_LASTPID
for ((k = 0; k < 50; k++)); do
	[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && break
	sleep 0.02
done
same "$(cat "/proc/$p/comm" 2>&1)" sleep "CL_LASTPID ($p) is sleep itself"
same "$(ppid "$p")" "$$" "a child of the test's shell"
if [[ /proc/$p/ns/uts -ef /proc/${CL_HOLDER[2]}/ns/uts ]] &&
	[[ /proc/$p/ns/mnt -ef /proc/${CL_HOLDER[2]}/ns/mnt ]] &&
	[[ /proc/$p/ns/net -ef /run/netns/${CL_NS[2]} ]]; then
	ok "in n2's UTS, mount and network namespaces"
else
	notok "in n2's UTS, mount and network namespaces"
fi
cluster_kill "$p"
same "$?:$CL_STATUS" "0:143" "cluster_kill ends it with SIGTERM (status 143)"
check "and it is gone" gone_soon "$p"
cluster_kill "$$" 2>/dev/null
same "$?" 2 "cluster_kill refuses a process outside the cluster"
cluster_spawn n3 "$tmp/spawn.log" sh -c "echo \$(hostname) >&2; exit 3"
q=$CL_LASTPID
timeout 5 tail --pid="$q" -f /dev/null
wait "$q"
same "$?:$(cat "$tmp/spawn.log")" "3:n3" "its status and its LOGFILE (on the host)"

# left for cluster_down: a daemon with a child, and a process that
# outlived the `on` that started it
cluster_spawn n3 "$CL_SHARED/d.log" \
	sh -c "sleep 300 & echo \$! >$CL_SHARED/child.pid; wait"
d=$CL_LASTPID
stray=$(on n1 sh -c 'sleep 300 >/dev/null 2>&1 & echo $!')
for ((k = 0; k < 100; k++)); do
	[ -s "$CL_SHARED/child.pid" ] && break
	sleep 0.02
done
child=$(cat "$CL_SHARED/child.pid" 2>/dev/null)
if [ -n "$child" ] && [ -n "$stray" ] && kill -0 "$d" "$child" "$stray"; then
	ok "a daemon ($d), its child ($child) and a stray process ($stray) run"
else
	notok "a daemon ($d), its child ($child) and a stray process ($stray) run"
fi

# ---- 5. cluster_down ----
all="${CL_HOLDER[*]} $d $child $stray"
shared=$CL_SHARED
t0=${EPOCHREALTIME//[.,]/}
cluster_down
same "$?" 0 "cluster_down"
t=$((${EPOCHREALTIME//[.,]/} - t0))
echo "# cluster_down took $((t / 1000)) ms"
same "$(ip netns list | cut -d' ' -f1 | grep "^$tag-")" "" \
	"no namespace named $tag-* is left"
# shellcheck disable=SC2086 # a list of pids
check "no process it started is left (holders, daemon, child, stray)" gone_soon $all
check "CL_SHARED is gone" test ! -e "$shared"
same "$(mount | grep -c "$tag")" 0 "no mount names $tag"
same "$(links)" "$before" "the host has no new interface or address"
check "the host still has no /tmp/only-n1" test ! -e /tmp/only-n1
check "cluster_down again does nothing, and succeeds" cluster_down
on n1 true 2>/dev/null
same "$?" 2 "on fails once the cluster is down"

# ---- 6. eight nodes, timed ----
if cluster_up 8 m; then
	ms=$((10#${CL_UPTIME//./}))
	if [ "$ms" -lt 2000 ]; then
		ok "cluster_up 8 m: m1..m8 in $CL_UPTIME s (under 2 s)"
	else
		notok "cluster_up 8 m: m1..m8 in $CL_UPTIME s, want under 2 s"
	fi
	same "$(on m8 hostname)" m8 "m8's hostname is m8"
	check "m1 reaches m8 by name" reach_soon m1 m8
	all="${CL_HOLDER[*]}"
	cluster_down
	same "$(ip netns list | cut -d' ' -f1 | grep "^$tag-")" "" \
		"after cluster_down, no namespace named $tag-* is left"
	# shellcheck disable=SC2086 # a list of pids
	check "and no holder" gone_soon $all
else
	notok "cluster_up 8 m"
fi
same "$(links)" "$before" "the host has no new interface or address at the end"
done_testing
