#!/usr/bin/env bash
# unum mount against unumd, beyond the file battery of
# tests/interop/mount.sh: its command line and errors, plain 9P2000,
# -o reconnect across a server restart (paths, the working directory and
# an open file), and a mount made by an ordinary user through fusermount3.
# Runs as root; skipped without /dev/fuse or fusermount3.
# shellcheck disable=SC2154 # NAME_sock, NAME_pid come from start_unumd
. "$(dirname "$0")/../lib/common.sh"

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "1..0 # SKIP no /dev/fuse or no fusermount3 (apt-get install fuse3)"
	exit 0
fi

mounts=""
unmount_all() {
	local m
	for m in $mounts; do
		mountpoint -q "$m" && { "$UNUM" umount "$m" || umount -l "$m"; }
	done 2>/dev/null
	cleanup
}
trap unmount_all EXIT

# the test's own directory is walked by the user of the last test
chmod 755 "$tmp"
mkdir -p "$tmp/ex/sub" "$tmp/m1" "$tmp/m2" "$tmp/m3"
printf 'hello\n' >"$tmp/ex/sub/f.txt"
start_unumd m -e "$tmp/ex" || exit 1

# ---- the command ----
"$UNUM" mount --help | grep -q "usage: unum mount" && ok "mount --help" ||
	notok "mount --help"
"$UNUM" mount -o msize=1 "unix:$m_sock" "$tmp/m1" 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "a bad option: exit 1, one line"
"$UNUM" mount "unix:$tmp/none.sock" "$tmp/m1" 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "an unreachable server: exit 1, one line"
mountpoint -q "$tmp/m1" && notok "and nothing is mounted" || ok "and nothing is mounted"
"$UNUM" mount "unix:$m_sock:nosuch" "$tmp/m1" 2>"$tmp/err"
case "$?:$(cat "$tmp/err")" in
1:*nosuch*) ok "an unknown attach name is named" ;;
*) notok "an unknown attach name is named: $(cat "$tmp/err")" ;;
esac

# ---- plain 9P2000 ----
if "$UNUM" mount -o version=9P2000 "unix:$m_sock" "$tmp/m1"; then
	mounts="$mounts $tmp/m1"
	same "$(cat "$tmp/m1/sub/f.txt")" "hello" "9P2000: a file reads"
	printf 'plan9\n' >"$tmp/m1/sub/new" &&
		same "$(cat "$tmp/ex/sub/new")" "plan9" "9P2000: create and write"
	mv "$tmp/m1/sub/new" "$tmp/m1/sub/renamed" &&
		[ -f "$tmp/ex/sub/renamed" ] && ok "9P2000: rename in a directory (wstat)" ||
		notok "9P2000: rename in a directory (wstat)"
	chmod 600 "$tmp/m1/sub/renamed"
	same "$(stat -c %a "$tmp/ex/sub/renamed")" "600" "9P2000: chmod (wstat)"
	mkdir "$tmp/m1/sub/d" && rm "$tmp/m1/sub/renamed" && rmdir "$tmp/m1/sub/d"
	same "$(ls "$tmp/ex/sub")" "f.txt" "9P2000: mkdir, rm, rmdir"
	ln -s x "$tmp/m1/sub/l" 2>"$tmp/err"
	case "$(cat "$tmp/err")" in
	*"not implemented"* | *"not supported"*) ok "9P2000: no symlinks, said so" ;;
	*) notok "9P2000: no symlinks, said so: $(cat "$tmp/err")" ;;
	esac
	"$UNUM" umount "$tmp/m1" && ok "9P2000: unmounted" || notok "9P2000: unmounted"
else
	notok "unum mount -o version=9P2000"
fi

# ---- reconnect ----
if "$UNUM" mount -o reconnect,attr_timeout=0,entry_timeout=0 \
	"unix:$m_sock" "$tmp/m2"; then
	mounts="$mounts $tmp/m2"
	exec 4<"$tmp/m2/sub/f.txt"
	(
		cd "$tmp/m2/sub" || exit 1
		kill "$m_pid"
		for _ in $(seq 50); do kill -0 "$m_pid" 2>/dev/null || break; sleep 0.1; done
		t0=$(date +%s%N)
		out=$(timeout 10 cat f.txt 2>&1)
		t1=$(date +%s%N)
		case "$out" in
		*"Input/output error"*) echo "ok: $(((t1 - t0) / 1000000))" ;;
		*) echo "bad: $out" ;;
		esac >"$tmp/outage"
		# the server comes back on the same socket
		"$UNUMD" -c /dev/null -n m -s "$m_sock" -l "127.0.0.1:$(free_port 5720)" \
			-e "$tmp/ex" 2>"$tmp/m2.log" &
		echo $! >"$tmp/m2.pid"
		got=""
		for _ in $(seq 100); do
			got=$(cat f.txt 2>/dev/null) && break
			sleep 0.1
		done
		echo "$got" >"$tmp/after"
	)
	pids="$pids $(cat "$tmp/m2.pid")"
	case "$(cat "$tmp/outage")" in
	ok:*) ok "reconnect: during the outage, EIO in $(cut -d' ' -f2 "$tmp/outage") ms" ;;
	*) notok "reconnect: during the outage, EIO: $(cat "$tmp/outage")" ;;
	esac
	same "$(cat "$tmp/after")" "hello" \
		"reconnect: the working directory works again once the server is back"
	same "$(cat "$tmp/m2/sub/f.txt")" "hello" "reconnect: a path reads"
	same "$(head -c 100 <&4)" "hello" "reconnect: a file open before reads on"
	exec 4<&-
	printf 'after\n' >"$tmp/m2/sub/g.txt"
	same "$(cat "$tmp/ex/sub/g.txt" 2>&1)" "after" "reconnect: a new file is written"
	"$UNUM" umount "$tmp/m2" && ok "reconnect: unmounted" || notok "reconnect: unmounted"
else
	notok "unum mount -o reconnect"
fi

# ---- caching: what the kernel keeps, and close-to-open ----
# long entry and attribute caches, missing names remembered, a walk and
# its open in one round trip: a file replaced by a rename on the server
# (the kernel's entry still names the old one) reads new at the next open
mkdir -p "$tmp/m4"
if "$UNUM" mount -o pipeline,attr_timeout=30,entry_timeout=30,negative_timeout=30 \
	"unix:$m_sock" "$tmp/m4"; then
	mounts="$mounts $tmp/m4"
	printf 'one\n' >"$tmp/ex/sub/cto.txt"
	same "$(cat "$tmp/m4/sub/cto.txt")" "one" "cache: a file reads"
	printf 'two\n' >"$tmp/ex/sub/cto.new" && mv "$tmp/ex/sub/cto.new" "$tmp/ex/sub/cto.txt"
	same "$(cat "$tmp/m4/sub/cto.txt")" "two" \
		"cache: replaced by a rename on the server, it reads new at the next open"
	printf 'three\n' >"$tmp/ex/sub/cto.txt"
	same "$(cat "$tmp/m4/sub/cto.txt")" "three" \
		"cache: rewritten in place on the server, it reads new at the next open"
	[ -e "$tmp/m4/sub/later.txt" ] && notok "cache: a missing name is missing" ||
		ok "cache: a missing name is missing"
	printf 'x\n' >"$tmp/ex/sub/later.txt"
	[ -e "$tmp/m4/sub/later.txt" ] && notok "cache: ...and stays so while remembered (30 s)" ||
		ok "cache: ...and stays so while remembered (30 s)"
	printf 'made here\n' >"$tmp/m4/sub/here.txt"
	same "$(cat "$tmp/ex/sub/here.txt")" "made here" "cache: a file made through the mount is on the server"
	"$UNUM" umount "$tmp/m4" && ok "cache: unmounted" || notok "cache: unmounted"
	# a file whose open answers another qid than its walk (procsrv's
	# clone: the open makes a slot) is not taken for a replaced one
	if "$UNUM" mount -o pipeline,entry_timeout=30 "unix:$m_sock:proc" "$tmp/m4"; then
		out=$(timeout -k 5 20 bash -c 'exec 3<>"$1/clone" && read -r id <&3 &&
			printf "argv echo via-clone\nexec\n" >&3 && cat "$1/$id/stdout"' _ "$tmp/m4" 2>&1)
		same "$out" "via-clone" "cache: a clone file opens through a pipelined mount"
		"$UNUM" umount "$tmp/m4"
	else
		notok "unum mount -o pipeline of the proc tree"
	fi
else
	notok "unum mount -o pipeline,attr_timeout=30,entry_timeout=30,negative_timeout=30"
fi

# ---- changes told by unumd's feed ----
# everything kept 30 s and opens not asking: without the feed, a change on
# the server would not be seen for 30 s; with it, at once after a sync
# (getxattr "unum.sync", what unumd does before it starts a program on
# imported files) and within the feed's second without one
mkdir -p "$tmp/m5"
printf '#include <sys/xattr.h>\nint main(int c, char **v) { return c == 2 && getxattr(v[1], "unum.sync", 0, 0) < 0 ? 0 : 1; }\n' |
	cc -x c -o "$tmp/sync" - || notok "the sync helper builds"
if "$UNUM" mount -o pipeline,changes=60,attr_timeout=30,entry_timeout=30,negative_timeout=30,revalidate=30 \
	"unix:$m_sock" "$tmp/m5"; then
	mounts="$mounts $tmp/m5"
	printf 'one\n' >"$tmp/ex/sub/ch.txt"
	same "$(cat "$tmp/m5/sub/ch.txt")" "one" "changes: a file reads"
	[ -e "$tmp/m5/sub/ch-new" ] && notok "changes: a missing name is missing" ||
		ok "changes: a missing name is missing"
	printf 'two-two\n' >"$tmp/ex/sub/ch.txt"
	printf 'x\n' >"$tmp/ex/sub/ch-new"
	"$tmp/sync" "$tmp/m5" && ok "changes: a sync returns" || notok "changes: a sync returns"
	same "$(cat "$tmp/m5/sub/ch.txt")" "two-two" \
		"changes: rewritten on the server, it reads new after a sync"
	[ -e "$tmp/m5/sub/ch-new" ] && ok "changes: a name made on the server is there after a sync" ||
		notok "changes: a name made on the server is there after a sync"
	rm "$tmp/ex/sub/ch-new"
	"$tmp/sync" "$tmp/m5"
	[ -e "$tmp/m5/sub/ch-new" ] && notok "changes: a name removed on the server is gone after a sync" ||
		ok "changes: a name removed on the server is gone after a sync"
	printf 'three-three\n' >"$tmp/ex/sub/ch.txt"
	i=0
	while [ "$(cat "$tmp/m5/sub/ch.txt")" != "three-three" ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ $i -le 25 ] && ok "changes: without a sync, seen within the feed's second ($((i * 100)) ms)" ||
		notok "changes: without a sync, seen within the feed's second (not after $((i * 100)) ms)"
	# attributes: kept while the feed says nothing, never over a change
	# made here or told by the feed
	cat "$tmp/m5/sub/ch.txt" >/dev/null
	same "$(stat -c %s "$tmp/m5/sub/ch.txt")" "12" "changes: stat after a read (answered here)"
	printf 'more\n' >>"$tmp/m5/sub/ch.txt"
	same "$(stat -c %s "$tmp/m5/sub/ch.txt"):$(stat -c %s "$tmp/ex/sub/ch.txt")" "17:17" \
		"changes: appended through the mount, stat says so at once"
	printf 'four\n' >"$tmp/ex/sub/ch.txt"
	"$tmp/sync" "$tmp/m5"
	same "$(stat -c %s "$tmp/m5/sub/ch.txt")" "5" "changes: rewritten on the server, stat says so after a sync"
	truncate -s 2 "$tmp/m5/sub/ch.txt"
	same "$(stat -c %s "$tmp/m5/sub/ch.txt"):$(stat -c %s "$tmp/ex/sub/ch.txt")" "2:2" \
		"changes: truncated through the mount, stat says so at once"
	"$UNUM" umount "$tmp/m5"
else
	notok "unum mount -o changes=60"
fi
"$UNUM" mount -o changes=x "unix:$m_sock" "$tmp/m5" 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "changes=x: exit 1, one line"

# ---- an ordinary user ----
# Debian makes /dev/fuse 0666; where it is not, a private mount namespace
# gets a 0666 node of its own (the same device).
if command -v unshare >/dev/null && command -v setpriv >/dev/null; then
	mkdir -p "$tmp/ex/pub" && chmod 777 "$tmp/ex/pub"
	chown nobody "$tmp/m3"
	mknod -m 666 "$tmp/fuse" c 10 229
	as_nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
	unshare -m --propagation private sh -c '
		mount --bind "$1/fuse" /dev/fuse || exit 1
		$2 "$3" mount "unix:$4" "$1/m3" || { echo "mount failed"; exit 1; }
		$2 sh -c "cat \"$1/m3/sub/f.txt\"; echo made >\"$1/m3/pub/byuser\""
		grep -c " $1/m3 fuse.unum .*user_id=65534" /proc/mounts
		$2 "$3" umount "$1/m3" && echo unmounted
	' sh "$tmp" "$as_nobody" "$UNUM" "$m_sock" >"$tmp/user.out" 2>&1
	same "$(tr '\n' ' ' <"$tmp/user.out")" "hello 1 unmounted " \
		"a user mounts (fusermount3), reads, writes and unmounts"
	same "$(stat -c %U "$tmp/ex/pub/byuser" 2>&1)" "nobody" \
		"what the user made is the user's on the server"
else
	echo "ok $((n += 1)) # SKIP no unshare or setpriv"
	echo "ok $((n += 1)) # SKIP no unshare or setpriv"
fi

done_testing
