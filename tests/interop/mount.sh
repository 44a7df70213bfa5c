#!/usr/bin/env bash
# unum mount: the FUSE file system over unum's 9P client.  One battery of
# file operations runs on a plain local directory (the reference) and then
# through `unum mount` of unumd's export (attach name fs, Unix socket) and of
# Debian's diod (attach name the exported directory, TCP); each result must
# be what the reference gave: create, reads and writes at offsets, append,
# truncate, rename, symlinks, hard links, chmod/chown/utimes, mkdir/rmdir,
# 10,000 directory entries, xattrs, statfs, a tarball unpacked and a C program
# built with make and run in the mount, and a 1 GiB file (256 MiB with
# UNUM_QUICK=1) written, read back after a remount and checked by sha256.
# Then, against unumd: a process's stdout streamed through a mount of the
# proc tree, and a mount whose server is killed fails within 5 s and can be
# unmounted.  Runs as root; skipped without /dev/fuse or fusermount3.
# shellcheck disable=SC2012,SC2016,SC2154
# (ls for plain names; single-quoted scripts for bash -c; top and the
# NAME_port/NAME_pid of start_unumd come from common.sh)
. "$(dirname "$0")/../lib/common.sh"

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "1..0 # SKIP no /dev/fuse or no fusermount3 (apt-get install fuse3)"
	exit 0
fi
command -v diod >/dev/null || PATH=$PATH:/usr/sbin
if ! command -v diod >/dev/null; then
	echo "not ok 1 - diod is not installed (apt-get install diod)"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test chowns files and starts diod: run it as root"
	exit 1
fi
if ! "$UNUM" mount --help >/dev/null 2>&1; then
	echo "not ok 1 - $UNUM mount --help fails (no unum mount in this build?)"
	exit 1
fi

# ---- mounts: recorded, unmounted by the trap before anything else ----
mounts=""  # mount points made here
mpids=""   # the background processes of unum mount (found by their argv)
mounted() { awk -v m="$1" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo; }
alive() { # alive PID: running, not a zombie
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}
gone() { # gone PID [TENTHS]: waits until PID is gone (default 5 s)
	local i=0
	while alive "$1" && [ $i -lt "${2:-50}" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! alive "$1"
}
unmount_all() {
	local m p
	for m in $mounts; do
		mounted "$m" || continue
		timeout -k 2 10 "$UNUM" umount "$m" >/dev/null 2>&1 ||
			timeout -k 2 10 fusermount3 -u -z "$m" >/dev/null 2>&1 ||
			umount -l "$m" 2>/dev/null
	done
	for p in $mpids; do
		gone "$p" 30 || kill -9 "$p" 2>/dev/null
	done
}
mcleanup() {
	trap - EXIT
	unmount_all
	cleanup
}
trap mcleanup EXIT

# the process serving mount point $1: an unum whose argv ends with it
mount_pid() {
	local f p
	for f in /proc/[0-9]*/cmdline; do
		p=${f#/proc/}
		p=${p%/cmdline}
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "$(readlink -f "$UNUM")" ] ||
			continue
		tr '\0' '\n' <"$f" 2>/dev/null | tail -n 1 | grep -qxF -- "$1" &&
			echo "$p" && return 0
	done
	return 1
}
# do_mount DIR ADDR [OPTS]: unum mount; rc in $rc, stderr in $tmp/mount.err,
# the background process's pid in $mpid, what went wrong in $why
do_mount() {
	mkdir -p "$1"
	if [ -n "${3:-}" ]; then
		timeout -k 5 30 "$UNUM" mount -o "$3" "$2" "$1" >"$tmp/mount.out" 2>"$tmp/mount.err"
	else
		timeout -k 5 30 "$UNUM" mount "$2" "$1" >"$tmp/mount.out" 2>"$tmp/mount.err"
	fi
	rc=$?
	mpid=""
	why="status $rc: $(head -n 1 "$tmp/mount.err")"
	if mounted "$1"; then
		mounts="$mounts $1"
		mpid=$(mount_pid "$1") && mpids="$mpids $mpid"
	elif [ $rc = 0 ]; then
		why="exit 0, but nothing is mounted on $1"
	fi
	[ $rc = 0 ] && mounted "$1"
}
# do_umount DIR: unum umount; ok when it exits 0 and DIR is no mount point
do_umount() {
	timeout -k 5 30 "$UNUM" umount "$1" >"$tmp/umount.out" 2>&1
	rc=$?
	[ $rc = 0 ] && ! mounted "$1"
}

# agree GOT WANT DESC: ok when equal, else the diff
agree() {
	if [ "$1" = "$2" ]; then ok "$3"; else
		notok "$3"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$1") | head -20 | sed 's/^/# /'
	fi
}

# ---- what the battery needs ----
umask 022
chmod 0755 "$tmp"
XA=""
cat >"$tmp/xa.c" <<'EOF'
/* xa set|create|replace FILE NAME VALUE, xa get|size|rm FILE NAME,
 * xa list FILE: extended attributes; errors as "error: strerror" on
 * stdout, exit 1.  (setfattr cannot ask for XATTR_CREATE/XATTR_REPLACE.) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

static int
fail(void)
{
	printf("error: %s\n", strerror(errno));
	return 1;
}

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char **argv)
{
	static char buf[65536];
	char *names[1024];
	ssize_t n, i;
	int flags = 0, k = 0, j;

	if (argc < 3)
		return 2;
	if (!strcmp(argv[1], "list")) {
		if ((n = listxattr(argv[2], buf, sizeof buf)) < 0)
			return fail();
		for (i = 0; i < n && k < 1024; i += (ssize_t)strlen(buf + i) + 1)
			if (!strncmp(buf + i, "user.", 5))
				names[k++] = buf + i;
		qsort(names, (size_t)k, sizeof *names, cmp);
		for (j = 0; j < k; j++)
			printf("%s\n", names[j]);
		return 0;
	}
	if (argc < 4)
		return 2;
	if (!strcmp(argv[1], "get") || !strcmp(argv[1], "size")) {
		n = getxattr(argv[2], argv[3], argv[1][0] == 'g' ? buf : NULL,
		    argv[1][0] == 'g' ? sizeof buf : 0);
		if (n < 0)
			return fail();
		if (argv[1][0] == 's')
			printf("%zd\n", n);
		else
			fwrite(buf, 1, (size_t)n, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "rm"))
		return removexattr(argv[2], argv[3]) < 0 ? fail() : 0;
	if (argc < 5)
		return 2;
	if (!strcmp(argv[1], "create"))
		flags = XATTR_CREATE;
	else if (!strcmp(argv[1], "replace"))
		flags = XATTR_REPLACE;
	else if (strcmp(argv[1], "set"))
		return 2;
	return setxattr(argv[2], argv[3], argv[4], strlen(argv[4]), flags) < 0
	    ? fail()
	    : 0;
}
EOF
if cc -O2 -o "$tmp/xa" "$tmp/xa.c" 2>"$tmp/cc.err"; then
	XA=$tmp/xa
else
	echo "# cannot build the xattr helper: $(head -1 "$tmp/cc.err")"
fi

head -c 100000 /dev/urandom >"$tmp/r100k"
head -c 4096 /dev/urandom >"$tmp/r4k"
# a tarball of the sources, with a symlink and a hard link in it
mkdir -p "$tmp/stage"
cp -a "$top/src" "$top/tests" "$tmp/stage/"
ln -s src/9p/p9.h "$tmp/stage/p9.h-link"
ln "$tmp/stage/src/9p/fcall.c" "$tmp/stage/fcall.c-hardlink"
tar -C "$tmp/stage" -cf "$tmp/src.tar" .
rm -rf "$tmp/stage"
# a small C program in several files, with header dependencies
mkdir -p "$tmp/prog"
cat >"$tmp/prog/Makefile" <<'EOF'
CFLAGS = -O2 -Wall -MMD
hello: main.o util.o
	$(CC) -o $@ main.o util.o
-include main.d util.d
EOF
cat >"$tmp/prog/util.h" <<'EOF'
int sum(int n);
EOF
cat >"$tmp/prog/util.c" <<'EOF'
#include "util.h"
int sum(int n) { int s = 0; while (n > 0) s += n--; return s; }
EOF
cat >"$tmp/prog/main.c" <<'EOF'
#include <stdio.h>
#include "util.h"
int main(int argc, char **argv)
{
	FILE *f = fopen("out.txt", "w");
	if (!f)
		return 1;
	fprintf(f, "sum %d\n", sum(100));
	printf("hello from %s, %d args, sum %d\n", argv[0], argc - 1, sum(10));
	return fclose(f) != 0;
}
EOF

# ---- the battery: each op works in a directory of its own, prints what
# it saw; its output on the mount must equal its output on the reference
op_create() {
	printf 'hello, mount\n' >f
	cat f
	stat -c '%s %F %a' f
	: >empty
	stat -c '%s %F %a' empty
	(set -C && : >f) 2>&1
	printf 'x' >f
	cat f
	echo
	ls -A | LC_ALL=C sort
}
op_offsets() {
	cp "$tmp/r100k" w
	dd if="$tmp/r4k" of=w bs=1 seek=5001 conv=notrunc status=none
	dd if="$tmp/r4k" of=w bs=4096 seek=10 conv=notrunc status=none
	dd if="$tmp/r4k" of=w bs=4096 seek=100 conv=notrunc status=none # a hole
	stat -c %s w
	sha256sum <w
	dd if=w bs=1000 skip=7 count=3 status=none | sha256sum
	dd if=w bs=1 skip=409500 count=200 status=none | od -An -tx1 | sort -u
	tail -c 100 w | sha256sum
	exec 4<>w
	dd of=/dev/fd/4 if="$tmp/r4k" bs=1 count=10 seek=3 conv=notrunc status=none
	exec 4>&-
	head -c 20 w | od -An -tx1
}
op_append() {
	printf 'one\n' >a
	printf 'two\n' >>a
	printf 'three\n' >>a
	cat a
	exec 4>>a
	printf 'x' >&4
	printf 'y' >>a
	printf 'z\n' >&4
	exec 4>&-
	cat a
	stat -c %s a
	cat "$tmp/r100k" >>a
	stat -c %s a
	sha256sum <a
}
op_truncate() {
	printf '0123456789' >t
	truncate -s 100000 t
	stat -c %s t
	sha256sum <t
	dd if=t bs=1 skip=50000 count=4 status=none | od -An -tx1
	truncate -s 5 t
	stat -c %s t
	cat t
	echo
	printf 'abc' >>t
	cat t
	echo
	printf 'new' >t
	cat t
	echo
	truncate -s 0 t
	stat -c %s t
	cp "$tmp/r100k" t2
	exec 4<t2
	truncate -s 4097 t2
	stat -c %s t2
	sha256sum <&4
	exec 4<&-
}
op_rename() {
	printf 'old\n' >x
	printf 'new\n' >y
	mv -f y x
	cat x
	ls -A | LC_ALL=C sort
	mkdir d1 d2
	printf 'in\n' >d1/f
	mv -T d1 d2
	cat d2/f
	mkdir d3 d4
	: >d3/g
	: >d4/h
	mv -T d3 d4 2>&1
	echo "status $?"
	ls -A d4
	mv x d2/x2
	cat d2/x2
	mv d2/x2 "name with space"
	cat "name with space"
	printf 'open\n' >o
	exec 4<o
	mv o o2
	cat <&4
	exec 4<&-
	ls -A | LC_ALL=C sort
}
op_symlink() {
	printf 'target\n' >tgt
	ln -s tgt l
	readlink l
	cat l
	stat -c '%F %s' l
	stat -L -c '%F %s' l
	ln -s /nonexistent/dangling dl
	readlink dl
	cat dl 2>&1
	mkdir sub
	ln -s ../tgt sub/up
	cat sub/up
	ln -s "$(printf 'x%.0s' $(seq 200))" long
	readlink long | wc -c
	ln -s tgt l 2>&1
	rm l
	ls -A | LC_ALL=C sort
}
op_link() {
	printf 'data\n' >f
	ln f h
	stat -c '%h' f h
	printf 'more\n' >>h
	cat f
	ln f h2
	stat -c '%h' f
	rm h
	stat -c '%h' f h2
	rm h2
	stat -c '%h' f
	ln f f 2>&1
	mkdir d
	ln d dl 2>&1
}
op_chmod() {
	: >f
	chmod 0640 f
	stat -c %a f
	chmod 4755 f
	stat -c %a f
	chmod u-s,g+w f
	stat -c %a f
	mkdir d
	chmod 0700 d
	stat -c %a d
	chmod 1777 d
	stat -c %a d
	chown 65534:65534 f
	stat -c '%u:%g' f
	chmod 4755 f
	chown 1:2 f
	stat -c '%u:%g %a' f
	chown 65534 d
	stat -c '%u:%g' d
	ln -s f l
	chown -h 3:4 l
	stat -c '%u:%g' l f
	touch -d '2001-02-03 04:05:06.123456789' f
	stat -c '%y' f
	touch -m -d '2002-02-03 04:05:06' d
	stat -c '%y' d
}
op_mkdir() {
	mkdir -p a/b/c a/b2
	stat -c '%F %a' a/b/c
	stat -c %h a
	mkdir a 2>&1
	rmdir a/b/c
	ls -A a/b
	rmdir a 2>&1
	echo "status $?"
	rmdir a/b a/b2
	rmdir a
	: >f
	rmdir f 2>&1
	mkdir f/x 2>&1
	rmdir missing 2>&1
	mkdir -m 0700 m
	stat -c '%a' m
	ls -A | LC_ALL=C sort
}
op_readdir() {
	local i
	mkdir many
	for ((i = 0; i < 10000; i++)); do
		: >"many/an-entry-with-a-longer-name-$i"
	done
	ls -A many | wc -l
	ls -A many | LC_ALL=C sort | sha256sum
	find many -type f | wc -l
	rm -r many
	ls -A | LC_ALL=C sort
}
op_xattr() {
	[ -n "$XA" ] || return 0
	: >f
	"$XA" set f user.one hello
	"$XA" set f user.two "$(printf 'v%.0s' $(seq 300))"
	"$XA" list f
	"$XA" get f user.one
	echo
	"$XA" get f user.two | sha256sum
	"$XA" size f user.two
	"$XA" set f user.one replaced
	"$XA" get f user.one
	echo
	"$XA" create f user.one again
	"$XA" replace f user.three x
	"$XA" rm f user.one
	"$XA" get f user.one
	"$XA" rm f user.one
	"$XA" list f
	mkdir d
	"$XA" set d user.dir v
	"$XA" get d user.dir
	echo
}
op_statfs() {
	df -P . >/dev/null
	echo "df status $?"
	df -P . | awk 'NR == 2 { print $2 }'
	stat -f -c '%l' .
}
op_tar() {
	mkdir t
	tar -xf "$tmp/src.tar" -C t
	echo "status $?"
	(cd t && find . ! -type d -printf '%P %y %m %n %s %T@ %l\n' | LC_ALL=C sort)
	(cd t && find . -type d -printf '%P %m %n\n' | LC_ALL=C sort)
	(cd t && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
	tar -C t -cf - . | tar -tvf - | awk '{ $4 = $5 = ""; print }' |
		LC_ALL=C sort | sha256sum
}
op_build() {
	cp "$tmp/prog/"* .
	make --no-print-directory 2>&1
	echo "status $?"
	./hello one two
	cat out.txt
	make --no-print-directory 2>&1
	sleep 0.01
	touch util.h
	make --no-print-directory 2>&1
	./hello
}
ops="create offsets append truncate rename symlink link chmod mkdir readdir
xattr statfs tar build"
export tmp XA
# shellcheck disable=SC2046 # the list of functions
export -f $(for o in $ops; do echo "op_$o"; done)
# battery DIR TAG: runs every op in DIR/OP (2 min at most each), its
# output in $tmp/TAG.OP
battery() {
	local o
	for o in $ops; do
		mkdir "$1/$o" 2>/dev/null
		timeout -k 5 120 bash -c 'umask 022; cd "$1" && "op_$0"' "$o" "$1/$o" \
			>"$tmp/$2.$o" 2>&1
		echo "exit $?" >>"$tmp/$2.$o"
	done
}
mkdir "$tmp/ref"
s0=$SECONDS
battery "$tmp/ref" ref
echo "# reference: the battery took $((SECONDS - s0)) s"
[ -n "$XA" ] || echo "# the xattr helper did not build: xattrs are not checked"

# the big file: written through each mount, its sha256 checked on disk, read
# back through a new mount (nothing in the page cache) and checked again
size_mb=1024
[ "${UNUM_QUICK:-}" = 1 ] && size_mb=256
# sha256 of stdin: openssl's (SHA-NI, 5x sha256sum's speed) when there is one
sum256() {
	if command -v openssl >/dev/null; then
		openssl dgst -sha256 -r | cut -d' ' -f1
	else
		sha256sum | cut -d' ' -f1
	fi
}
# pseudo-random bytes: AES-CTR under a random key if openssl is there
if command -v openssl >/dev/null; then
	key=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	openssl enc -aes-128-ctr -K "$key" -iv 0 -in /dev/zero 2>/dev/null |
		head -c $((size_mb * 1048576)) >"$tmp/big"
fi
[ "$(stat -c %s "$tmp/big" 2>/dev/null)" = $((size_mb * 1048576)) ] ||
	head -c $((size_mb * 1048576)) /dev/urandom >"$tmp/big"
big_sum=$(sum256 <"$tmp/big")

# each_server TAG MNT ADDR EXPORTED [OPTS]: mount, the battery compared
# with the reference's, the big file, umount (the process exits), remount
each_server() {
	local tag=$1 mnt=$2 addr=$3 ex=$4 opts=${5:-} o t0 t1
	if ! do_mount "$mnt" "$addr" "$opts"; then
		notok "$tag: unum mount $addr $mnt ($why)"
		return 1
	fi
	ok "$tag: unum mount${opts:+ -o $opts} $addr"
	local p=$mpid s0=$SECONDS
	battery "$mnt" "$tag"
	echo "# $tag: the battery took $((SECONDS - s0)) s"
	for o in $ops; do
		if [ "$o" = xattr ] && [ -z "$XA" ]; then
			echo "ok $((n += 1)) # SKIP $tag: xattr (no helper)"
			continue
		fi
		agree "$(cat "$tmp/$tag.$o")" "$(cat "$tmp/ref.$o")" "$tag: $o as on a local directory"
	done
	t0=${EPOCHREALTIME/[.,]/}
	timeout -k 5 300 cp "$tmp/big" "$mnt/big"
	rc=$?
	t1=${EPOCHREALTIME/[.,]/}
	agree "$rc $({ sum256 <"$ex/big"; } 2>&1)" "0 $big_sum" \
		"$tag: $size_mb MiB written through the mount, intact on disk"
	echo "# $tag: write $(((size_mb * 1048576) / (10#$t1 - 10#$t0 + 1))) MB/s"
	if do_umount "$mnt"; then ok "$tag: unum umount"; else
		notok "$tag: unum umount (status $rc)"
		sed 's/^/# /' "$tmp/umount.out" | head -5
	fi
	if [ -n "$p" ]; then
		if gone "$p" 50; then ok "$tag: the mount's process exits after unum umount"; else
			notok "$tag: the mount's process (pid $p) is still running after unum umount"
		fi
	fi
	if ! do_mount "$mnt" "$addr" "$opts"; then
		notok "$tag: mount again ($why)"
		return 1
	fi
	t0=${EPOCHREALTIME/[.,]/}
	agree "$(timeout -k 5 300 cat "$mnt/big" | sum256)" "$big_sum" \
		"$tag: $size_mb MiB read back through a new mount"
	t1=${EPOCHREALTIME/[.,]/}
	echo "# $tag: read $(((size_mb * 1048576) / (10#$t1 - 10#$t0 + 1))) MB/s"
	rm -f "$mnt/big" 2>&1 | sed "s/^/# /"
	agree "$(ls -A "$mnt" | LC_ALL=C sort | tr '\n' ' ')" "$(ls -A "$tmp/ref" | LC_ALL=C sort | tr '\n' ' ')" \
		"$tag: the mount's root lists what the reference has"
	do_umount "$mnt" || notok "$tag: unum umount at the end (status $rc)"
}

# ---- 1. unumd's export ----
mkdir -m 0755 "$tmp/exu"
if start_unumd u -e "$tmp/exu"; then
	each_server unumd "$tmp/mu" "unix:$u_sock:fs" "$tmp/exu"
	# read-only
	if do_mount "$tmp/mro" "$u_sock" ro; then
		printf 'there\n' >"$tmp/exu/there"
		out=$( (: >"$tmp/mro/new") 2>&1)
		agree "$?:${out##*: }:$(cat "$tmp/mro/there"):$(ls "$tmp/exu/new" 2>/dev/null)" \
			"1:Read-only file system:there:" "-o ro: reads work, a create fails EROFS"
		do_umount "$tmp/mro" || notok "umount of the ro mount"
	else
		notok "unum mount -o ro $u_sock ($why)"
	fi
	# failures are one line and leave nothing mounted
	do_mount "$tmp/mx" "unix:$u_sock:nosuchtree"
	if [ "$rc" != 0 ] && [ "$(wc -l <"$tmp/mount.err")" = 1 ] && ! mounted "$tmp/mx"; then
		ok "a mount of an unknown attach name fails with one line ($(cat "$tmp/mount.err"))"
	else
		notok "a mount of an unknown attach name fails with one line (status $rc)"
		sed 's/^/# /' "$tmp/mount.err" | head -5
	fi
else
	notok "unumd -e starts"
fi
do_mount "$tmp/mx" "unix:$tmp/no-such.sock"
if [ "$rc" != 0 ] && [ "$(wc -l <"$tmp/mount.err")" = 1 ] && ! mounted "$tmp/mx"; then
	ok "a mount of a missing socket fails with one line ($(cat "$tmp/mount.err"))"
else
	notok "a mount of a missing socket fails with one line (status $rc)"
	sed 's/^/# /' "$tmp/mount.err" | head -5
fi

# ---- 2. diod's export ----
mkdir -m 0755 "$tmp/exd"
dport=$(free_port 7)
diod -f -n -l "127.0.0.1:$dport" -e "$tmp/exd" -c /dev/null -L stderr \
	2>"$tmp/diod.log" &
pids="$pids $!"
if wait_for "127.0.0.1:$dport"; then
	each_server diod "$tmp/md" "plain:127.0.0.1:$dport:$tmp/exd" "$tmp/exd"
else
	notok "diod starts"
	sed 's/^/# /' "$tmp/diod.log" | head -5
fi

# ---- 3. a process's stdout through a mount of unumd's proc tree ----
why="unumd did not start"
if [ -n "${u_sock:-}" ] && do_mount "$tmp/mp" "unix:$u_sock:proc"; then
	ok "unum mount of the proc tree"
	# the whole dialogue in a child under a timeout: a hang cannot stop the
	# test (words in ctl are quoted rc-style, with single quotes)
	timeout -k 5 30 bash -c '
		m=$1
		exec 3<>"$m/clone" || exit 1
		read -r id <&3 || exit 1
		echo "id $id"
		echo "start $EPOCHREALTIME"
		printf %s "$2" >&3 || exit 1
		cat "$m/$id/stdout" | while IFS= read -r l; do echo "line $EPOCHREALTIME $l"; done
		echo "eof $EPOCHREALTIME"
		echo "wait $(cat "$m/$id/wait")"
		exec 3>&-
	' _ "$tmp/mp" "argv sh -c 'echo one; sleep 1; echo two'
exec
" >"$tmp/proc.out" 2>&1
	rc=$?
	sed 's/^/# /' "$tmp/proc.out"
	agree "$rc $(awk '$1 == "line" { printf "%s ", $3 }' "$tmp/proc.out")" "0 one two " \
		"proc: stdout gives one, then two"
	t_start=$(awk '$1 == "start" { print $2 }' "$tmp/proc.out")
	t_one=$(awk '$1 == "line" && $3 == "one" { print $2 }' "$tmp/proc.out")
	t_two=$(awk '$1 == "line" && $3 == "two" { print $2 }' "$tmp/proc.out")
	if [ -n "$t_start" ] && [ -n "$t_one" ] && [ -n "$t_two" ] &&
		awk -v s="$t_start" -v a="$t_one" -v b="$t_two" \
			'BEGIN { exit !(a - s < 0.8 && b - a > 0.5) }'; then
		ok "proc: one arrives at once ($(awk -v s="$t_start" -v a="$t_one" -v b="$t_two" \
			'BEGIN { printf "%.3f s, two after %.3f s", a - s, b - s }'))"
	else
		notok "proc: one arrives at once, before the process ends"
	fi
	if grep -q '^wait exit 0' "$tmp/proc.out"; then ok "proc: wait gives exit 0"; else
		notok "proc: wait gives exit 0"
	fi
	do_umount "$tmp/mp" || notok "unum umount of the proc tree (status $rc)"
else
	notok "unum mount of the proc tree ($why)"
fi

# ---- 4. the server dies under a mount ----
mkdir -m 0755 "$tmp/exk"
printf 'still here\n' >"$tmp/exk/somefile"
why="unumd did not start"
if start_unumd k -e "$tmp/exk" && do_mount "$tmp/mk" "127.0.0.1:$k_port"; then
	agree "$(timeout 10 cat "$tmp/mk/somefile")" "still here" \
		"a mount over TCP with the default attach name reads a file"
	kp=$mpid
	kill -9 "$k_pid"
	t0=${EPOCHREALTIME/[.,]/}
	wait "$k_pid" 2>/dev/null
	failed="" took=0
	while [ $took -lt 5000000 ]; do
		if ! out=$(timeout -k 2 10 stat "$tmp/mk/somefile" 2>&1); then
			failed=$out
			took=$((${EPOCHREALTIME/[.,]/} - t0))
			break
		fi
		sleep 0.1
		took=$((${EPOCHREALTIME/[.,]/} - t0))
	done
	case $failed in
	*"Input/output error"* | *"Transport endpoint is not connected"*)
		ok "stat fails after the server is killed, in $((took / 1000)) ms: ${failed##*: }"
		;;
	"") notok "stat still works 5 s after the server was killed" ;;
	*) notok "stat fails after the server is killed with EIO or ENOTCONN, not: $failed" ;;
	esac
	if do_umount "$tmp/mk"; then ok "unum umount of the dead mount"; else
		notok "unum umount of the dead mount (status $rc)"
		sed 's/^/# /' "$tmp/umount.out" | head -5
	fi
	if [ -n "$kp" ]; then
		if gone "$kp" 50; then ok "the dead mount's process exits"; else
			notok "the dead mount's process (pid $kp) is still running"
		fi
	fi
else
	notok "unumd and a mount of it for the kill test ($why)"
fi

done_testing
