#!/bin/sh
# make demo: three unumd nodes on this machine (loopback addresses
# 127.0.0.1-3), real work across them over 9P, then everything is cleaned
# up.  Each step prints what it runs.
set -u
cd "$(dirname "$0")/.." || exit 1
UNUMD=$PWD/build/unumd
UNUM=$PWD/build/unum
PORT=${UNUM_DEMO_PORT:-5640}
work=$(mktemp -d /tmp/unum-demo.XXXXXX)
pids=""
mnt=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
	done
	for m in ${mnt:+"$mnt/proc" "$mnt/fs"}; do
		if mountpoint -q "$m"; then
			"$UNUM" umount "$m" 2>/dev/null || umount -l "$m"
		fi
	done
	rm -rf "$work"
	echo "demo: stopped the nodes and removed $work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

run() {
	echo "\$ $*"
	"$@"
}

# the nodes share a cluster key: their TCP is TLS, authenticated by it
echo "\$ unum keygen $work/cluster.key"
"$UNUM" keygen "$work/cluster.key" || exit 1
export UNUM_KEY="$work/cluster.key"
for i in 1 2 3; do
	# each node exports a directory of its own, with a file only it has
	mkdir -p "$work/export$i"
	echo "made on node$i" >"$work/export$i/only-on-node$i"
	"$UNUMD" -c /dev/null -n "node$i" -s "$work/node$i.sock" -k "$work/cluster.key" \
		-l "127.0.0.$i:$PORT" -P "127.0.0.$i:$((PORT + 1))=fs" \
		-e "$work/export$i" 2>"$work/node$i.log" &
	pids="$pids $!"
done
for i in 1 2 3; do
	n=0
	# up when it says it serves its TCP address (the port may be taken)
	until grep -q "serving 127.0.0.$i:$PORT" "$work/node$i.log" ||
		[ $n -ge 100 ]; do
		sleep 0.05; n=$((n + 1))
	done
	if ! grep -q "serving 127.0.0.$i:$PORT" "$work/node$i.log"; then
		echo "demo: node$i did not start:" >&2
		cat "$work/node$i.log" >&2
		exit 1
	fi
done
echo "demo: three nodes serve 9P over TLS on 127.0.0.1-3:$PORT (and their files, read by anyone, in plain 9P on :$((PORT + 1)))"
echo

for i in 1 2 3; do
	run "$UNUM" 9p -a "127.0.0.$i:$PORT" -A ram read node | head -2
done
echo
echo "demo: each node serves its own files; this shell reads any of them"
run "$UNUM" 9p -a "127.0.0.3:$PORT" -A fs ls -l /
run "$UNUM" 9p -a "127.0.0.3:$PORT" -A fs read only-on-node3
run "$UNUM" 9p -a "127.0.0.1:$PORT" -A fs read only-on-node1
echo
echo "demo: make 20 MB of data on node1, then copy it node1 -> node2 -> node3"
head -c 20000000 /dev/urandom >"$work/data"
t0=$(date +%s.%N)
run sh -c "'$UNUM' 9p -a 127.0.0.1:$PORT -A fs write data <'$work/data'"
run sh -c "'$UNUM' 9p -a 127.0.0.1:$PORT -A fs read data | '$UNUM' 9p -a 127.0.0.2:$PORT -A fs write data"
run sh -c "'$UNUM' 9p -a 127.0.0.2:$PORT -A fs read data | '$UNUM' 9p -a 127.0.0.3:$PORT -A fs write data"
t1=$(date +%s.%N)
echo "demo: 3 transfers of 20 MB in $(echo "$t1 - $t0" | awk '{printf "%.2f", $1 - $3}')s"
echo
want=$(sha256sum <"$work/data" | cut -d' ' -f1)
ok=1
for i in 1 2 3; do
	got=$(sha256sum <"$work/export$i/data" | cut -d' ' -f1)
	echo "node$i: $work/export$i/data sha256 $got"
	[ "$got" = "$want" ] || ok=0
done
echo
echo "demo: programs run on each node at once (unum run), output and status relayed"
jobs=""
for i in 1 2 3; do
	"$UNUM" run -n "127.0.0.$i:$PORT" sh -c \
		"cd '$work/export$i' && sha256sum data | cut -c1-16 | sed 's/^/node$i computed /'" \
		</dev/null &
	jobs="$jobs $!"
done
wait $jobs
rc=0
run "$UNUM" run -n "127.0.0.2:$PORT" sh -c 'echo "a job on node2"; exit 3' \
	</dev/null || rc=$?
echo "(exit status $rc, as if it ran here)"
"$UNUM" run -n "127.0.0.3:$PORT" sleep 2 </dev/null &
job=$!
sleep 0.3
run "$UNUM" ps -n "127.0.0.3:$PORT"
wait $job
echo
if command -v setpriv >/dev/null; then
	echo "demo: a user without the key runs on node2 through node1's unumd (the relay), as themselves"
	chmod 0755 "$work"
	echo "\$ setpriv --reuid=65534 ... env -u UNUM_KEY UNUM_SOCKET=$work/node1.sock $UNUM run -n 127.0.0.2:$PORT id -un"
	setpriv --reuid=65534 --regid=65534 --clear-groups env -u UNUM_KEY \
		UNUM_SOCKET="$work/node1.sock" "$UNUM" run -n "127.0.0.2:$PORT" \
		id -un </dev/null
fi
echo
echo "demo: diod's own client lists node3's export (plain 9P: interoperability)"
if command -v /usr/sbin/diodls >/dev/null; then
	run /usr/sbin/diodls -l -s "127.0.0.3:$((PORT + 1))" -a fs /
fi
echo
echo "demo: the export is confined and permissions are the user's"
run "$UNUM" 9p -a "127.0.0.2:$PORT" -A fs read ../../etc/passwd ||
	echo "(refused, as it must be)"
if command -v setpriv >/dev/null; then
	chmod 0600 "$work/export2/data"
	chmod 0755 "$work"
	echo "\$ setpriv --reuid=65534 ... $UNUM 9p -a $work/node2.sock -A fs read data"
	setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$UNUM" 9p -a "$work/node2.sock" -A fs read data >/dev/null ||
		echo "(nobody may not read root's 0600 file)"
fi
echo
run "$UNUM" 9p -a "127.0.0.2:$PORT" -A fs ls --json /
echo
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
	echo "demo: node3's files and processes as a file system here (unum mount)"
	mnt=$work/n3
	mkdir -p "$mnt/fs" "$mnt/proc"
	run "$UNUM" mount "127.0.0.3:$PORT:fs" "$mnt/fs"
	run ls -l "$mnt/fs"
	run head -c 64 "$mnt/fs/only-on-node3"
	run "$UNUM" mount "127.0.0.3:$PORT:proc" "$mnt/proc"
	echo "\$ exec 3<>$mnt/proc/clone; read id <&3; echo 'argv ...' >&3"
	exec 3<>"$mnt/proc/clone"
	read -r id <&3
	printf "argv sh -c 'for i in 1 2 3; do echo tick \$i; sleep 0.3; done'\nexec\n" >&3
	run cat "$mnt/proc/$id/stdout"
	run cat "$mnt/proc/$id/wait"
	exec 3>&-
	run "$UNUM" umount "$mnt/proc"
	run "$UNUM" umount "$mnt/fs"
	mnt=""
	echo
fi
if [ $ok -eq 1 ]; then
	echo "demo: all three copies match the original"
else
	echo "demo: a copy differs from the original" >&2
	exit 1
fi
echo
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	command -v nsenter >/dev/null && [ -c /dev/fuse ]; then
	echo "demo: now a cluster (unum-clusterd) of three nodes in network namespaces"
	env -u UNUM_KEY -u UNUM_ADDR -u UNUM_SOCKET -u UNUM_CLUSTER \
		bash scripts/demo-cluster.sh || exit 1
else
	echo "demo: the cluster part (network namespaces) needs root; skipped"
fi
