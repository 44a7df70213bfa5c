#!/usr/bin/env bash
# fsrv, the directory export of unumd (-e DIR, attach name fs): diod's
# clients list, read and load it over TCP; users are who their connection
# says (Unix socket and TCP loopback), checked with root and nobody; paths
# and symlinks cannot leave the tree; --read-only, --squash and the
# configuration file; the 9P2000 and 9P2000.u clients agree with 9P2000.L.
# Runs as root.
. "$(dirname "$0")/../lib/common.sh"

command -v diodls >/dev/null || PATH=$PATH:/usr/sbin
if ! command -v diodls >/dev/null; then
	echo "not ok 1 - diod's clients are not installed (apt-get install diod)"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "not ok 1 - this test switches users and must run as root"
	exit 1
fi
if command -v setpriv >/dev/null; then
	NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
else
	NOBODY=(runuser -u nobody --)
fi
# the sockets live in $tmp: nobody must be able to reach them
chmod 0755 "$tmp"

# run CMD...: runs a client (30 s at most); stdout in $tmp/o, stderr in
# $tmp/e, the exit status in $rc.
run() {
	timeout 30 "$@" >"$tmp/o" 2>"$tmp/e"
	rc=$?
}
# refused DESC REASON: the last run exited 1, printed nothing on stdout
# and gave REASON on stderr.
refused() {
	if [ "$rc" = 1 ] && [ ! -s "$tmp/o" ] && grep -q "$2" "$tmp/e"; then
		ok "$1"
	else
		notok "$1"
		echo "# want status 1 and '$2'; got status $rc:"
		sed 's/^/# /' "$tmp/e" | head -3
		head -c 300 "$tmp/o" | sed 's/^/# stdout: /'
	fi
}
# holds DESC COMMAND...: ok if the command succeeds (nothing printed)
holds() {
	d=$1
	shift
	if "$@"; then ok "$d"; else notok "$d"; fi
}
owner() { stat -c '%u:%g' "$1"; }
sorted() { LC_ALL=C sort; }

# ---- the exported tree ----
ex=$tmp/ex
mkdir -p "$ex/list/sub" "$ex/list/many" "$ex/perm" "$ex/esc/in" \
	"$ex/ver/sub" "$tmp/outside"
chmod 0755 "$ex" "$ex"/*
printf 'hello, fsrv\n' >"$ex/list/small"
: >"$ex/list/empty"
: >"$ex/list/.hidden"
printf 'spaces\n' >"$ex/list/with space"
head -c 100000 /dev/urandom >"$ex/list/sub/r"
ln -s small "$ex/list/link"
ln -s /nonexistent/target "$ex/list/dangling"
mkfifo "$ex/list/fifo"
# enough entries for several directory reads
for i in $(seq 1 1500); do
	: >"$ex/list/many/entry-with-a-longish-name-$i"
done
head -c 50000000 /dev/urandom >"$ex/big"
head -c 1048576 /dev/zero >"$ex/zero" # diodload reads "zero"...
# ... and writes "null": on the plain listener it is the anonymous user
: >"$ex/null" && chmod 666 "$ex/null"
: >"$ex/null"                          # ... and writes "null"

printf 'secret\n' >"$ex/perm/secret"
chmod 0600 "$ex/perm/secret"
printf 'public\n' >"$ex/perm/public"
chmod 0644 "$ex/perm/public"
mkdir -m 0777 "$ex/perm/open"
mkdir -m 0755 "$ex/perm/closed"

printf 'outside\n' >"$tmp/outside/kept"
ln -s /etc/passwd "$ex/esc/pw"
ln -s ../.. "$ex/esc/up"          # above the export root
ln -s up "$ex/esc/up2"            # a chain to it
ln -s in/../../.. "$ex/esc/rel"   # through a real directory
ln -s /etc "$ex/esc/etcdir"
ln -s "$tmp/outside/new" "$ex/esc/evil"      # to a missing outside file
ln -s "$tmp/outside/kept" "$ex/esc/evil2"    # to an existing one
ln -s "$tmp/outside" "$ex/esc/outdir"
ln -s "$(realpath --relative-to="$ex/esc" "$tmp/outside")" "$ex/esc/outrel"

printf 'version test\n' >"$ex/ver/f"
head -c 300000 /dev/urandom >"$ex/ver/r"
printf 'nobody owns this\n' >"$ex/ver/nb"
chown 65534:65534 "$ex/ver/nb"
ln -s f "$ex/ver/link"

# diod's clients speak plain 9P: a plain listener serves them fs, as the
# anonymous user; unum's client reaches the node over TLS (T)
PLAIN=fs start_unumd fs -e "$ex" || {
	notok "unumd -e starts"
	done_testing
	exit 1
}
A="127.0.0.1:$fs_pport"
T="127.0.0.1:$fs_port"
S=$fs_sock
passwd1=$(head -1 /etc/passwd)

# ---- 1. diod's clients over TCP ----
# diodls lists neither . nor .., diodls -l lists both: drop them
dls() { diodls -s "$A" -a fs "$@" | grep -vxF -e . -e ..; }
for d in list list/sub list/many .; do
	same "$(dls "$d" | sorted)" "$(ls -A "$ex/$d" | sorted)" \
		"diodls $d lists what ls -A lists"
done
# "-rw-r--r--.    1 root root   12 Nov 26 01:15 name": name TAB size
dlsl() {
	diodls -l -s "$A" -a fs "$1" | sed -E \
		's/^[^ ]+ +[0-9]+ +[^ ]+ +[^ ]+ +([0-9]+) +[^ ]+ +[^ ]+ +[^ ]+ (.*)$/\2\t\1/' |
		grep -v -e '^\.	' -e '^\.\.	'
}
# stat's size of each entry of directory $1: name TAB size
statsizes() {
	(cd "$ex/$1" && ls -A | while IFS= read -r f; do
		printf '%s\t%s\n' "$f" "$(stat -c %s -- "$f")"
	done)
}
for d in list list/sub .; do
	same "$(dlsl "$d" | sorted)" "$(statsizes "$d" | sorted)" \
		"diodls -l $d: every size is stat's"
done
want=$(sha256sum <"$ex/big")
same "$(timeout 60 diodcat -s "$A" -a fs -m 65536 big | sha256sum)" "$want" \
	"diodcat reads 50 MB intact at msize 65536"
same "$(timeout 60 diodcat -s "$A" -a fs -m 1048600 big | sha256sum)" "$want" \
	"diodcat reads 50 MB intact at msize 1048600"
same "$(diodcat -s "$A" -a fs list/small)" "hello, fsrv" "diodcat reads a small file"
run diodcat -s "$A" -a fs list/missing
refused "diodcat of a missing file fails" "No such file"

# diodload attaches to aname "ctl" only, then reads "zero" and writes
# "null" (or, with -g, getattrs "null").  A relay that renames the aname
# in Tauth/Tattach to "fs" puts it on the export.
cat >"$tmp/aname.pl" <<'EOF'
# aname.pl LPORT PORT FROM TO: relays 127.0.0.1:LPORT to 127.0.0.1:PORT,
# rewriting the aname FROM to TO in Tauth and Tattach.
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
my ($lport, $dport, $from, $to) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $lport,
    Listen => 64, ReuseAddr => 1) or die "listen 127.0.0.1:$lport: $!\n";
my $sel = IO::Select->new($l);
my (%peer, %up, %buf);
for (;;) {
	for my $s ($sel->can_read) {
		if ($s == $l) {
			my $c = $l->accept or next;
			my $d = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$dport")
			    or do { close $c; next };
			$peer{$c} = $d; $peer{$d} = $c; $up{$c} = 1; $buf{$c} = '';
			$sel->add($c, $d);
			next;
		}
		my $p = $peer{$s} or next;
		my $data;
		if (!sysread($s, $data, 1 << 20)) {
			$sel->remove($s, $p);
			delete @peer{$s, $p}; delete @up{$s, $p}; delete @buf{$s, $p};
			close $s; close $p;
			next;
		}
		if ($up{$s}) { # whole messages: size[4] type[1] tag[2] ...
			$buf{$s} .= $data;
			$data = '';
			while (length $buf{$s} >= 7) {
				my $len = unpack 'V', $buf{$s};
				last if length $buf{$s} < $len;
				my $m = substr $buf{$s}, 0, $len, '';
				my $t = ord substr $m, 4, 1;
				if ($t == 102 || $t == 104) { # [fid[4]] afid[4] uname[s] aname[s]
					my $o = $t == 104 ? 15 : 11;
					$o += 2 + unpack 'v', substr $m, $o, 2;
					my $n = unpack 'v', substr $m, $o, 2;
					if (substr($m, $o + 2, $n) eq $from) {
						substr($m, $o, 2 + $n) = pack 'v/a*', $to;
						substr($m, 0, 4) = pack 'V', length $m;
					}
				}
				$data .= $m;
			}
		}
		my $off = 0;
		while ($off < length $data) {
			my $w = syswrite $p, $data, length($data) - $off, $off;
			last unless $w;
			$off += $w;
		}
	}
}
EOF
pp=$(free_port 11)
perl "$tmp/aname.pl" "$pp" "$fs_pport" ctl fs 2>"$tmp/aname.log" &
pids="$pids $!"
if wait_for "127.0.0.1:$pp"; then
	# diodload exits 0 even when every thread failed: read what it says
	timeout 60 diodload -s "127.0.0.1:$pp" -n 8 -r 2 -g >"$tmp/o" 2>"$tmp/e"
	rc=$?
	if [ "$rc" = 0 ] && [ "$(wc -l <"$tmp/e")" = 1 ] &&
		grep -Eq '^diodload: [1-9][0-9]* ops/s' "$tmp/e"; then
		ok "diodload -g: 2 s of getattrs, no error, $(cut -d' ' -f2- "$tmp/e")"
	else
		notok "diodload -g: 2 s of getattrs, no error, a rate"
		sed 's/^/# /' "$tmp/e" | head -5
	fi
	timeout 60 diodload -s "127.0.0.1:$pp" -n 8 -r 2 >"$tmp/o" 2>"$tmp/e"
	rc=$?
	if [ "$rc" = 0 ] && [ "$(wc -l <"$tmp/e")" = 1 ] &&
		grep -Eq '^diodload: [1-9][0-9]* ops/s, [1-9][0-9]* rMB/s, [1-9][0-9]* wMB/s' "$tmp/e"; then
		ok "diodload: 2 s of reads and writes, no error, $(cut -d' ' -f2- "$tmp/e")"
	else
		notok "diodload: 2 s of reads and writes, no error, a rate"
		sed 's/^/# /' "$tmp/e" | head -5
	fi
else
	notok "the aname relay for diodload starts"
	sed 's/^/# /' "$tmp/aname.log"
fi
holds "unumd is still up after diod's clients" kill -0 "$fs_pid"

# ---- 2. users: root and nobody, Unix socket and TCP loopback ----
run "$UNUM" 9p -a "$S" -A fs read perm/secret
same "$rc:$(cat "$tmp/o")" "0:secret" "unix: root reads a 0600 root file"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs read perm/secret
refused "unix: nobody cannot read a 0600 root file" "Permission denied"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs read perm/public
same "$rc:$(cat "$tmp/o")" "0:public" "unix: nobody reads a 0644 root file"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs write perm/public <<<"defaced"
refused "unix: nobody cannot write a 0644 root file" "Permission denied"
same "$(cat "$ex/perm/public")" "public" "and the file is unchanged"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs write perm/open/by-nobody <<<"mine"
same "$rc:$(owner "$ex/perm/open/by-nobody"):$(cat "$ex/perm/open/by-nobody")" \
	"0:65534:65534:mine" "unix: a file nobody makes in a 0777 dir is nobody's on disk"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs mkdir perm/open/dir-by-nobody
same "$rc:$(owner "$ex/perm/open/dir-by-nobody")" "0:65534:65534" \
	"unix: a directory nobody makes is nobody's on disk"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs mkdir perm/closed/d
refused "unix: nobody cannot mkdir in a 0755 root dir" "Permission denied"
same "$(ls -A "$ex/perm/closed")" "" "and nothing is made"
run "${NOBODY[@]}" "$UNUM" 9p -a "$S" -A fs rm perm/public
refused "unix: nobody cannot remove a root file from a 0755 root dir" \
	"Permission denied"
# TLS: a node (it holds the cluster key) names the user
run "$UNUM" 9p -a "$T" -A fs read perm/secret
same "$rc:$(cat "$tmp/o")" "0:secret" "tls: root reads the 0600 file"
run "${NOBODY[@]}" "$UNUM" 9p -a "$T" -A fs read perm/public
case "$rc:$(cat "$tmp/e")" in
255:*"needs the cluster key"*) ok "tls: nobody, who cannot read the key, does not reach the node" ;;
*) notok "tls: nobody, who cannot read the key, does not reach the node: $rc $(cat "$tmp/e")" ;;
esac
# plain 9P: whoever connects is the anonymous user, whatever it claims
run "${NOBODY[@]}" diodcat -s "$A" -a fs perm/secret
refused "plain: nobody cannot read the 0600 file with diodcat" "Permission denied"
run diodcat -s "$A" -a fs -u 0 perm/secret
refused "plain: root claiming uid 0 is still the anonymous user (0600 refused)" \
	"Permission denied"
run "${NOBODY[@]}" diodcat -s "$A" -a fs -u 1 perm/public
same "$rc:$(cat "$tmp/o")" "0:public" "plain: anyone reads the 0644 file"
run diodcat -s "$A" -a fs -u 65534 perm/secret
refused "plain: root attaching as uid 65534 acts as nobody (0600 refused)" \
	"Permission denied"

# ---- 3. nothing leaves the tree ----
for V in 9P2000.L 9P2000.u 9P2000; do
	for p in ../../etc/passwd ../../../../../../etc/passwd /../etc/passwd \
		esc/../../etc/passwd esc/pw esc/up/etc/passwd \
		esc/up2/etc/passwd esc/rel/etc/passwd esc/etcdir/passwd; do
		run "$UNUM" 9p -V "$V" -a "$S" -A fs read "$p"
		if [ "$rc" != 0 ] && [ ! -s "$tmp/o" ] &&
			! grep -qF "$passwd1" "$tmp/e"; then
			ok "$V: read $p fails, shows nothing"
		else
			notok "$V: read $p fails, shows nothing"
			head -3 "$tmp/o" "$tmp/e" | sed 's/^/# /'
		fi
	done
	run "$UNUM" 9p -V "$V" -a "$S" -A fs ls esc/etcdir
	if [ "$rc" != 0 ] && ! grep -q passwd "$tmp/o"; then
		ok "$V: ls of a symlink to /etc lists nothing"
	else notok "$V: ls of a symlink to /etc lists nothing"; fi
	run "$UNUM" 9p -V "$V" -a "$S" -A fs write esc/evil <<<"escaped"
	if [ "$rc" != 0 ] && [ ! -e "$tmp/outside/new" ]; then
		ok "$V: write through a symlink to a missing outside file fails, makes nothing"
	else notok "$V: write through a symlink to a missing outside file fails, makes nothing"; fi
	run "$UNUM" 9p -V "$V" -a "$S" -A fs write esc/evil2 <<<"escaped"
	same "$rc:$(cat "$tmp/outside/kept")" "1:outside" \
		"$V: write through a symlink to an outside file fails, leaves it be"
	for p in esc/outdir/new-dir esc/outrel/new-dir esc/up/new-dir; do
		run "$UNUM" 9p -V "$V" -a "$S" -A fs mkdir "$p"
		if [ "$rc" != 0 ] && [ ! -e "$tmp/outside/new-dir" ] &&
			[ ! -e "$tmp/new-dir" ]; then
			ok "$V: mkdir $p fails, makes nothing outside"
		else notok "$V: mkdir $p fails, makes nothing outside"; fi
	done
	run "$UNUM" 9p -V "$V" -a "$S" -A fs write esc/outdir/new-file <<<"escaped"
	if [ "$rc" != 0 ] && [ ! -e "$tmp/outside/new-file" ]; then
		ok "$V: write through a symlinked directory fails, makes nothing"
	else notok "$V: write through a symlinked directory fails, makes nothing"; fi
	# rm takes the link, never what it points to
	ln -s "$tmp/outside/kept" "$ex/esc/victim"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs rm esc/victim
	same "$rc:$([ -L "$ex/esc/victim" ] && echo link):$(cat "$tmp/outside/kept")" \
		"0::outside" "$V: rm of a symlink removes the link, not its target"
	rm -f "$ex/esc/victim"
done
for p in esc/pw esc/etcdir/passwd esc/up/etc/passwd; do
	run diodcat -s "$A" -a fs "$p"
	if [ "$rc" != 0 ] && [ ! -s "$tmp/o" ]; then
		ok "diodcat $p fails, shows nothing"
	else notok "diodcat $p fails, shows nothing"; fi
done
same "$(ls -A "$tmp/outside")" "kept" "nothing was made outside the export"
run "$UNUM" 9p -a "$S" -A fs rm /
refused "rm of the export root fails" "Device or resource busy"
holds "the export root is still there" test -d "$ex"

# ---- 4. options ----
# snap: the whole tree, to see that nothing changed
snap() {
	find "$ex" -printf '%P %y %s %m %U %G %T@\n' | sorted
	sha256sum "$ex/perm/public" "$ex/list/small"
}
PLAIN=fs start_unumd ro --read-only --export "$ex" --anon nobody --workers 4 ||
	notok "unumd --read-only --export --anon --workers starts"
printf 'export %s\nread-only yes\n' "$ex" >"$tmp/ro.conf"
PLAIN=fs start_unumd cf -c "$tmp/ro.conf" || notok "unumd with export and read-only in a file starts"
before=$(snap)
for d in ro cf; do
	eval "s=\$${d}_sock"
	case $d in ro) how="--read-only" ;; cf) how="read-only yes" ;; esac
	run "$UNUM" 9p -a "$s" -A fs write perm/public <<<"changed"
	refused "$how: write to a file fails" "Read-only file system"
	run "$UNUM" 9p -a "$s" -A fs write perm/new <<<"new"
	refused "$how: write of a new file fails" "Read-only file system"
	run "$UNUM" 9p -a "$s" -A fs mkdir perm/newdir
	refused "$how: mkdir fails" "Read-only file system"
	run "$UNUM" 9p -a "$s" -A fs rm list/small
	refused "$how: rm of a file fails" "Read-only file system"
	run "$UNUM" 9p -a "$s" -A fs rm perm/closed
	refused "$how: rm of a directory fails" "Read-only file system"
	run "$UNUM" 9p -V 9P2000.u -a "$s" -A fs write perm/new <<<"new"
	refused "$how: 9P2000.u create fails" "Read-only file system"
	run "$UNUM" 9p -a "$s" -A fs read list/small
	same "$rc:$(cat "$tmp/o")" "0:hello, fsrv" "$how: read works"
	run "$UNUM" 9p -a "$s" -A fs ls list/sub
	same "$rc:$(cat "$tmp/o")" "0:r" "$how: ls works"
	same "$(timeout 60 diodcat -s "127.0.0.1:$(eval echo "\$${d}_pport")" -a fs big |
		sha256sum)" "$want" "$how: diodcat reads 50 MB"
	same "$(snap)" "$before" "$how: the tree is unchanged"
done
# the file and the flag say the same thing in the same words
for d in ro cf; do
	eval "s=\$${d}_sock"
	for op in "write perm/x" "mkdir perm/x" "rm list/small" "read perm/public"; do
		# shellcheck disable=SC2086
		timeout 30 "$UNUM" 9p -a "$s" -A fs $op </dev/null 2>&1 |
			sed "s|$s|SOCK|"
		echo "status ${PIPESTATUS[0]}"
	done >"$tmp/said.$d"
done
same "$(cat "$tmp/said.cf")" "$(cat "$tmp/said.ro")" \
	"a config file's export and read-only act as -e and -r"

PLAIN=fs start_unumd sq --squash nobody -e "$ex" || notok "unumd --squash starts"
run "$UNUM" 9p -a "$sq_sock" -A fs write perm/open/squashed <<<"sq"
same "$rc:$(owner "$ex/perm/open/squashed")" "0:65534:65534" \
	"--squash nobody: a file root makes is nobody's on disk"
run "$UNUM" 9p -a "127.0.0.1:$sq_port" -A fs mkdir perm/open/squashed-dir
same "$rc:$(owner "$ex/perm/open/squashed-dir")" "0:65534:65534" \
	"--squash nobody: a directory root makes over TCP is nobody's"
run "$UNUM" 9p -a "$sq_sock" -A fs read perm/secret
refused "--squash nobody: root cannot read a 0600 root file" "Permission denied"
run diodcat -s "127.0.0.1:$sq_pport" -a fs -u 0 perm/secret
refused "--squash nobody: attaching as uid 0 does not help" "Permission denied"

"$UNUMD" -c /dev/null -s none -l none --anon no-such-user -e "$ex" 2>"$tmp/e"
same "$?:$(cat "$tmp/e")" "2:unumd: no user 'no-such-user'" "--anon of an unknown user: exit 2"
"$UNUMD" -c /dev/null -s none -l none --workers 0 -e "$ex" 2>"$tmp/e"
same "$?:$(wc -l <"$tmp/e")" "2:1" "--workers 0: exit 2, one line"

for how in flag file; do
	if [ $how = flag ]; then
		timeout 10 "$UNUMD" -c /dev/null -s none -l none -e "$tmp/no/such/dir" \
			>"$tmp/o" 2>"$tmp/e"
	else
		printf 'export %s/no/such/dir\n' "$tmp" >"$tmp/missing.conf"
		timeout 10 "$UNUMD" -c "$tmp/missing.conf" -s none -l none \
			>"$tmp/o" 2>"$tmp/e"
	fi
	rc=$?
	same "$rc:$(wc -l <"$tmp/e"):$(grep -c "$tmp/no/such/dir" "$tmp/e")" "1:1:1" \
		"export of a missing directory ($how): exit 1, one line naming it"
done
printf 'not a directory\n' >"$tmp/plain"
timeout 10 "$UNUMD" -c /dev/null -s none -l none -e "$tmp/plain" 2>"$tmp/e"
same "$?:$(wc -l <"$tmp/e"):$(grep -c "$tmp/plain" "$tmp/e")" "1:1:1" \
	"export of a plain file: exit 1, one line naming it"

# ---- 5. 9P2000 and 9P2000.u agree with 9P2000.L ----
# Directory sizes are 0 in a 9P2000 stat (as in Plan 9); 9P2000 carries
# no numeric uid or gid, so those columns are left out for it.
norm() { tr -s ' ' | sed -E '/^d/s/^([^ ]+ [^ ]+ [^ ]+ )[0-9]+/\10/'; }
noids() { sed -E 's/^([^ ]+) [^ ]+ [^ ]+ /\1 - - /'; }
lsl() { timeout 30 "$UNUM" 9p -V "$1" -a "$S" -A fs ls -l "$2" | norm; }
for V in 9P2000.u 9P2000; do
	f="cat"
	[ "$V" = 9P2000 ] && f=noids
	for d in ver list list/many; do
		same "$(lsl "$V" "$d" | $f | sorted)" \
			"$(lsl 9P2000.L "$d" | $f | sorted)" \
			"$V: ls -l $d agrees with 9P2000.L"
	done
	same "$(timeout 30 "$UNUM" 9p -V "$V" -a "$S" -A fs stat ver/nb | norm | $f)" \
		"$(timeout 30 "$UNUM" 9p -a "$S" -A fs stat ver/nb | norm | $f)" \
		"$V: stat agrees with 9P2000.L"
	same "$(timeout 30 "$UNUM" 9p -V "$V" -a "$S" -A fs read ver/r | sha256sum)" \
		"$(sha256sum <"$ex/ver/r")" "$V: read of 300 KB is intact"
	same "$(timeout 30 "$UNUM" 9p -V "$V" -a "$S" -A fs read ver/f)" \
		"version test" "$V: read of a small file"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs write "ver/new-$V" <"$ex/ver/r"
	holds "$V: write makes a file, intact on disk" cmp -s "$ex/ver/new-$V" "$ex/ver/r"
	printf 'a longer old content\n' >"$ex/perm/open/trunc"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs write perm/open/trunc <<<"new"
	same "$rc:$(cat "$ex/perm/open/trunc")" "0:new" "$V: write truncates an existing file"
	same "$(timeout 30 "$UNUM" 9p -a "$S" -A fs read "ver/new-$V" | sha256sum)" \
		"$(sha256sum <"$ex/ver/r")" "$V: 9P2000.L reads what $V wrote"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs mkdir "ver/d-$V"
	same "$rc:$(stat -c %F "$ex/ver/d-$V" 2>&1)" "0:directory" "$V: mkdir"
	same "$(timeout 30 "$UNUM" 9p -a "$S" -A fs ls -l ver | grep " d-$V\$" | cut -c1)" \
		"d" "$V: 9P2000.L sees the directory $V made"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs mkdir "ver/d-$V"
	refused "$V: mkdir of an existing directory fails" "File exists"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs rm ver/..
	refused "$V: rm of the export root fails" "Device or resource busy"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs rm "ver/new-$V"
	same "$rc:$(ls "$ex/ver/new-$V" 2>/dev/null)" "0:" "$V: rm of a file"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs rm "ver/d-$V"
	same "$rc:$(ls -d "$ex/ver/d-$V" 2>/dev/null)" "0:" "$V: rm of a directory"
	run "$UNUM" 9p -V "$V" -a "$S" -A fs rm ver/missing
	refused "$V: rm of a missing file fails" "No such file"
	run "${NOBODY[@]}" "$UNUM" 9p -V "$V" -a "$S" -A fs write "perm/open/$V" <<<"x"
	same "$rc:$(owner "$ex/perm/open/$V")" "0:65534:65534" \
		"$V: a file nobody makes is nobody's on disk"
	run "${NOBODY[@]}" "$UNUM" 9p -V "$V" -a "$S" -A fs read perm/secret
	refused "$V: nobody cannot read the 0600 file" "Permission denied"
done

for d in fs ro cf sq; do
	eval "p=\$${d}_pid"
	holds "unumd $d is still up" kill -0 "$p"
done
done_testing
