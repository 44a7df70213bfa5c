#!/usr/bin/env bash
# Interoperability with Debian's diod package: diod's clients (diodls,
# diodcat) read unumd's tree over TCP, and unum's client reads a real diod
# server's export.  diod's clients speak plain 9P: unumd serves them the
# ram tree on a plain listener (every user is the anonymous one there).
. "$(dirname "$0")/../lib/common.sh"

command -v diodls >/dev/null || PATH=$PATH:/usr/sbin
if ! command -v diodls >/dev/null; then
	echo "not ok 1 - diod's clients are not installed (apt-get install diod)"
	exit 1
fi

PLAIN=ram start_unumd n1 || { notok "unumd starts"; done_testing; exit 1; }
A="127.0.0.1:$n1_pport"
export UNUM_ADDR="$n1_sock"

head -c 3000000 /dev/urandom >"$tmp/big"
printf 'hello, 9P\n' >"$tmp/small"
check "unum 9p write makes a small file" sh -c "'$UNUM' 9p write tmp/small <'$tmp/small'"
check "unum 9p write makes a 3 MB file" sh -c "'$UNUM' 9p write tmp/big <'$tmp/big'"
check "unum 9p mkdir makes a directory" "$UNUM" 9p mkdir tmp/sub

same "$(diodls -s "$A" -a ram / | sort | tr '\n' ' ')" "node tmp " \
	"diodls lists the root"
same "$(diodls -s "$A" -a ram /tmp | sort | tr '\n' ' ')" "big small sub " \
	"diodls lists a directory made through unum"
same "$(diodls -l -s "$A" -a ram /tmp | awk '$NF=="big"{print $5}')" \
	"3000000" "diodls -l shows the size"
same "$(diodls -l -s "$A" -a ram /tmp | awk '$NF=="sub"{print substr($1,1,1)}')" \
	"d" "diodls -l shows a directory"
same "$(diodcat -s "$A" -a ram tmp/small)" "hello, 9P" "diodcat reads a file"
same "$(diodcat -s "$A" -a ram -m 1048600 tmp/big | sha256sum)" \
	"$(sha256sum <"$tmp/big")" "diodcat reads 3 MB intact at msize 1 MiB"
same "$(diodcat -s "$A" -a ram -m 8192 tmp/big | sha256sum)" \
	"$(sha256sum <"$tmp/big")" "diodcat reads 3 MB intact at msize 8 KiB"
same "$(diodcat -s "$A" -a ram node | sed -n 's/^name //p')" "n1" \
	"diodcat reads /node"
if diodcat -s "$A" -a ram tmp/missing >/dev/null 2>&1; then
	notok "diodcat of a missing file fails"
else ok "diodcat of a missing file fails"; fi
if diodcat -s "$A" -a nosuchtree node >"$tmp/err" 2>&1; then
	notok "an unknown attach name is refused"
else ok "an unknown attach name is refused"; fi
# many diod clients at once
cats=""
for i in 1 2 3 4 5 6 7 8; do
	timeout 60 diodcat -s "$A" -a ram tmp/big >"$tmp/par$i" &
	cats="$cats $!"
done
wait $cats
good=0
for i in 1 2 3 4 5 6 7 8; do
	cmp -s "$tmp/par$i" "$tmp/big" && good=$((good + 1))
done
same "$good" 8 "8 diodcat clients at once all read the file intact"
kill -0 "$n1_pid" 2>/dev/null && ok "unumd is still up" || notok "unumd is still up"
# the plain listener serves what it was told to, to the anonymous user
diodcat -s "$A" -a proc clone >/dev/null 2>&1
same "$?" "1" "no process API on a plain listener"
diodls -s "$A" -a fs / >/dev/null 2>&1
same "$?" "1" "no tree it was not told to serve"
grep -q "serving 127.0.0.1:$n1_pport in plain 9P" "$tmp/n1.log" &&
	ok "unumd warns of the plain listener" || notok "unumd warns of the plain listener"

# unum's client against diod's server
dport=$(free_port 77)
mkdir -p "$tmp/export/dir"
printf 'from diod\n' >"$tmp/export/dir/f"
cp "$tmp/big" "$tmp/export/big"
/usr/sbin/diod -f -n -l "127.0.0.1:$dport" -e "$tmp/export" -c /dev/null \
	-L stderr 2>"$tmp/diod.log" &
pids="$pids $!"
if wait_for "127.0.0.1:$dport"; then
	D="plain:127.0.0.1:$dport"
	same "$("$UNUM" 9p -a "$D" -A "$tmp/export" read dir/f)" "from diod" \
		"unum 9p reads a file from diod"
	same "$("$UNUM" 9p -a "$D" -A "$tmp/export" read big | sha256sum)" \
		"$(sha256sum <"$tmp/big")" "unum 9p reads 3 MB from diod intact"
	same "$("$UNUM" 9p -a "$D" -A "$tmp/export" ls / | sort | tr '\n' ' ')" \
		"big dir " "unum 9p lists diod's export"
	check "unum 9p writes through diod" sh -c \
		"'$UNUM' 9p -a '$D' -A '$tmp/export' write dir/new <'$tmp/small'"
	same "$(cat "$tmp/export/dir/new")" "hello, 9P" \
		"the file written through diod is on disk"
else
	notok "diod starts"
	sed 's/^/# /' "$tmp/diod.log"
fi
done_testing
