#!/usr/bin/env bash
# unumd and unum as an administrator meets them: --help, configuration
# errors, refused addresses, signals, hostile bytes, many clients, install.
. "$(dirname "$0")/../lib/common.sh"

check "unumd --help exits 0" "$UNUMD" --help
check "unum --help exits 0" "$UNUM" --help
check "unum 9p --help exits 0" "$UNUM" 9p --help
same "$("$UNUMD" --version)" "unumd 0.1.0" "unumd --version"

# one-line errors that name the problem
p=$(free_port 3)
"$UNUMD" -c /dev/null -s none -k "$KEY" -P "0.0.0.0:$p=fs" 2>"$tmp/err"
rc=$?
same "$rc:$(wc -l <"$tmp/err")" "1:1" \
	"plain 9P on every interface is refused in one line"
grep -q "0.0.0.0:$p" "$tmp/err" && ok "the error names the address" ||
	notok "the error names the address"

# the cluster key: no key, no network; a bad key, no start
"$UNUMD" -c /dev/null -s none -k "$tmp/no.key" -l "127.0.0.1:$p" 2>"$tmp/err"
same "$?:$(cat "$tmp/err")" \
	"1:unumd: key $tmp/no.key: No such file or directory" \
	"a named key that is missing: one line naming it"
cp "$KEY" "$tmp/open.key" && chmod 644 "$tmp/open.key"
"$UNUMD" -c /dev/null -s none -k "$tmp/open.key" -l "127.0.0.1:$p" 2>"$tmp/err"
same "$?:$(cat "$tmp/err")" \
	"1:unumd: key $tmp/open.key is readable by others (mode 0644): chmod 600 $tmp/open.key" \
	"a key others can read is refused"
printf 'abcd\n' >"$tmp/short.key" && chmod 600 "$tmp/short.key"
"$UNUMD" -c /dev/null -s none -k "$tmp/short.key" -l "127.0.0.1:$p" 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "a key of the wrong size is refused in one line"
"$UNUM" keygen "$KEY" >/dev/null 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "unum keygen does not overwrite a key"
same "$(stat -c %a "$KEY")" "600" "unum keygen makes a 0600 key"
"$UNUMD" -c /dev/null -s none -l "127.0.0.1:$p" -k /nonexistent/default 2>/dev/null
same "$?" "1" "no socket and no key: nothing to serve, exit 1"

printf 'name n\nbogus 1\n' >"$tmp/bad.conf"
"$UNUMD" -c "$tmp/bad.conf" -s none -l none 2>"$tmp/err"
same "$? $(cat "$tmp/err")" "1 unumd: $tmp/bad.conf:2: unknown setting 'bogus'" \
	"an unknown setting names file and line"
printf 'msize 12\n' >"$tmp/bad.conf"
"$UNUMD" -c "$tmp/bad.conf" -s none -l none 2>"$tmp/err"
rc=$?
same "$rc:$(wc -l <"$tmp/err")" "1:1" "an msize out of range is refused in one line"
printf "name 'unterminated\n" >"$tmp/bad.conf"
"$UNUMD" -c "$tmp/bad.conf" -s none -l none 2>"$tmp/err"
same "$?" "1" "an unterminated quote is refused"
"$UNUMD" -c "$tmp/missing.conf" -s none -l none 2>"$tmp/err"
same "$? $(cat "$tmp/err")" \
	"1 unumd: $tmp/missing.conf: No such file or directory" \
	"a named config file that is missing is an error"
"$UNUMD" --bogus 2>/dev/null
same "$?" "2" "a bad flag exits 2"

# the shipped sample configuration is valid
p=$(free_port 5)
"$UNUMD" -c "$top/etc/unumd.conf" -s "$tmp/s.sock" -l "127.0.0.1:$p" \
	2>"$tmp/s.log" &
spid=$!
pids="$pids $spid"
wait_for "$tmp/s.sock" && ok "unumd starts with etc/unumd.conf" ||
	notok "unumd starts with etc/unumd.conf"
"$UNUMD" -c /dev/null -s "$tmp/s.sock" -l none 2>"$tmp/err"
rc=$?
same "$rc:$(wc -l <"$tmp/err")" "1:1" "a second daemon on a live socket fails in one line"
kill -TERM "$spid"
i=0
while kill -0 "$spid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
wait "$spid"
same "$?" "0" "SIGTERM: unumd exits 0"
[ ! -e "$tmp/s.sock" ] && ok "SIGTERM: the socket is removed" ||
	notok "SIGTERM: the socket is removed"

# hostile bytes do not take the daemon down
start_unumd h || { notok "unumd starts"; done_testing; exit 1; }
for i in 1 2 3 4 5 6 7 8 9 10; do
	head -c 5000 /dev/urandom >"$tmp/junk"
	timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$h_port; cat '$tmp/junk' >&3" 2>/dev/null
done
# a message claiming 4 GiB, then hang up
timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$h_port; printf '\377\377\377\377\144\377\377' >&3" 2>/dev/null
kill -0 "$h_pid" && ok "random bytes on 10 connections: unumd still runs" ||
	notok "random bytes on 10 connections: unumd still runs"
same "$("$UNUM" 9p -a "127.0.0.1:$h_port" read node | sed -n 's/^name //p')" \
	"h" "and still serves"

# many clients at once
clients=""
for i in $(seq 1 100); do
	timeout 30 "$UNUM" 9p -a "$h_sock" read node >"$tmp/c$i" 2>&1 &
	clients="$clients $!"
done
wait $clients
good=$(grep -l '^name h$' "$tmp"/c* | wc -l)
same "$good" "100" "100 clients at once are all served"

# a failed operation: one line, exit 1
"$UNUM" 9p -a "$h_sock" read no/such/file 2>"$tmp/err"
same "$?:$(wc -l <"$tmp/err")" "1:1" "unum 9p on a missing file: exit 1, one line"
p=$(free_port 9)
"$UNUM" 9p -a "127.0.0.1:$p" ls / 2>"$tmp/err"
same "$?:$(cat "$tmp/err")" \
	"1:unum: cannot connect to 127.0.0.1:$p: Connection refused" \
	"unum 9p to a closed port says so"

# TLS: the key or nothing
"$UNUM" keygen "$tmp/other.key" >/dev/null
UNUM_KEY="$tmp/other.key" "$UNUM" 9p -a "127.0.0.1:$h_port" read node 2>"$tmp/err"
same "$?:$(cat "$tmp/err")" \
	"1:unum: cannot connect to 127.0.0.1:$h_port: Key was rejected by service" \
	"TLS with the wrong key is refused"
"$UNUM" 9p -a "plain:127.0.0.1:$h_port" read node >/dev/null 2>&1
same "$?" "1" "plain 9P on the TLS port is refused"
kill -0 "$h_pid" && ok "and the daemon still runs" || notok "and the daemon still runs"
same "$("$UNUM" 9p -a "127.0.0.1:$h_port" read node | sed -n 's/^name //p')" \
	"h" "and serves the right key over TLS"
grep -q "cluster key $KEY (id " "$tmp/h.log" && ok "unumd logs the key's id" ||
	notok "unumd logs the key's id"

# make install into a staging directory
if make -C "$top" -s install PREFIX=/usr DESTDIR="$tmp/root" >"$tmp/inst" 2>&1; then
	miss=""
	for f in usr/sbin/unumd usr/bin/unum etc/unum/unumd.conf \
		usr/share/man/man8/unumd.8 usr/share/man/man1/unum.1 \
		usr/share/man/man5/unumd.conf.5 usr/lib/systemd/system/unumd.service \
		usr/sbin/unum-clusterd etc/unum/clusterd.conf \
		usr/share/man/man8/unum-clusterd.8 usr/share/man/man5/clusterd.conf.5 \
		usr/lib/systemd/system/unum-clusterd.service etc/unum/session.conf \
		usr/share/man/man5/session.conf.5 usr/lib/unum/libunum.so \
		usr/lib/unum/unum-ghost; do
		[ -e "$tmp/root/$f" ] || [ -L "$tmp/root/$f" ] || miss="$miss $f"
	done
	same "$miss" "" "make install DESTDIR= installs binaries, config, man pages, unit"
	grep -q '^ExecStart=/usr/sbin/unumd$' "$tmp/root/usr/lib/systemd/system/unumd.service" &&
		ok "the unit runs the installed unumd" || notok "the unit runs the installed unumd"
	grep -q '^ExecStart=/usr/sbin/unum-clusterd$' "$tmp/root/usr/lib/systemd/system/unum-clusterd.service" &&
		ok "the cluster unit runs the installed unum-clusterd" ||
		notok "the cluster unit runs the installed unum-clusterd"
	"$tmp/root/usr/sbin/unum-clusterd" -c "$tmp/root/etc/unum/clusterd.conf" --help >/dev/null &&
		ok "unum-clusterd --help" || notok "unum-clusterd --help"
else
	notok "make install"
	sed 's/^/# /' "$tmp/inst"
fi
done_testing
