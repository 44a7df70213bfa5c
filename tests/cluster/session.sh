#!/usr/bin/env bash
# Sessions and the ghost, on three nodes in network namespaces: what a
# user checks when unmodified programs run under `unum exec`.
#   - a shell script with pipes and redirections, xargs -P8 and find -exec
#     give the output they give without unum, and their programs ran on
#     other nodes;
#   - exit codes and every signal death come back through the ghost (the
#     parent sees its child die of the signal), and job control (TSTP,
#     CONT) reaches the program;
#   - a C project built with `make -j` under unum exec has the same object
#     hashes as a local build, with compiles on other nodes;
#   - ^C during a distributed `make -j` leaves nothing running on any node;
#     `unum kill -s` ends a whole session, also what left its process
#     group; leaving the session leaves nothing behind here or there;
#     `unum ps -s` lists the session's processes, on every node;
#   - what stays here: setuid programs, programs handed extra descriptors,
#     programs unum-clusterd learnt are shorter than sending them;
#   - a path named on the command line that only the origin has is seen
#     there.
# Runs as root.
# shellcheck disable=SC2154 # tmp, KEY, UNUM, UNUMD: common.sh; CL_*: cluster.sh
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/cluster.sh"

cluster_prelude

# Test programs in $tmp/bin ($tmp is shared by every node at the same
# path): each notes where it ran in $tmp/where ("NAME HOST").
B="$tmp/bin"
W="$tmp/where"
mkdir -p "$B"
prog() { # NAME BODY: a sh script noting its host first
	printf '#!/bin/sh\necho "%s $(hostname)" >>%s\n%s\n' "$1" "$W" "$2" >"$B/$1"
	chmod 755 "$B/$1"
}
prog up 'sleep 0.05; exec tr a-z A-Z'
prog slowhost 'sleep 0.1; hostname'
prog wcx 'sleep 0.05; exec wc -c "$@"'
prog die 'sleep 0.05; kill -s "$1" $$; sleep 1; exit 99'
prog code 'sleep 0.05; exit "$1"'
prog catx 'sleep 0.05; exec cat "$@"'
prog hold 'exec sleep "$@"'
prog bgd 'setsid sleep 319 </dev/null >/dev/null 2>&1 & exec sleep 318'
prog bgexit 'setsid sleep 319 </dev/null >/dev/null 2>&1 & sleep 0.05'
prog quick 'hostname'
prog mycc 'exec gcc "$@"'
cp /bin/hostname "$B/suidhost" && chmod 4755 "$B/suidhost"
export PATH="$B:$PATH"
# where NAME: the hosts NAME ran on, sorted, unique, one line
where() { awk -v n="$1" '$1 == n { print $2 }' "$W" | sort -u | tr '\n' ' '; }
others() { where "$1" | tr ' ' '\n' | grep -c '^t[23]$'; }

cluster_up 3 t || { notok "three nodes"; done_testing; exit 1; }
cluster_unum "$KEYC" -p roundrobin || notok "unumd and unum-clusterd on three nodes that see each other"
X() { on t1 "$UNUM" exec "$@"; }

# ---- a shell script with pipes and redirections ----
: >"$W"
printf 'pear\napple\nfig\n' >"$tmp/fruit"
out=$(X -d up -d wcx sh -c "up <'$tmp/fruit' | sort >'$tmp/sorted' 2>'$tmp/err'; up <'$tmp/sorted' | wcx; cat '$tmp/sorted'")
same "$out" "$(printf '15\nAPPLE\nFIG\nPEAR')" \
	"a script with pipes and redirections: the output it gives without unum"
[ "$(others up)$(others wcx)" != "00" ] &&
	ok "its programs ran on other nodes too (up on $(where up), wcx on $(where wcx))" ||
	notok "its programs ran on other nodes: up on $(where up), wcx on $(where wcx)"

# ---- xargs -P8, find -exec ----
: >"$W"
out=$(X -d slowhost sh -c 'seq 16 | xargs -P8 -n1 sh -c slowhost' | sort | uniq -c | awk '{ s += $1; n++ } END { print s, n }')
same "$out" "16 3" "xargs -P8: sixteen runs, on all three nodes"
mkdir -p "$tmp/tree/a/b"
printf 'x\n' >"$tmp/tree/one.txt"
printf 'yy\n' >"$tmp/tree/a/two.txt"
printf 'zzz\n' >"$tmp/tree/a/b/three.txt"
: >"$W"
out=$(X -d wcx find "$tmp/tree" -name '*.txt' -exec wcx {} \; | awk '{ print $1 }' | sort | tr '\n' ' ')
same "$out" "2 3 4 " "find -exec: each file counted"
[ "$(others wcx)" -ge 1 ] && ok "find -exec's programs ran elsewhere too ($(where wcx))" ||
	notok "find -exec's programs ran elsewhere: $(where wcx)"

# ---- statuses, signals, job control ----
: >"$W"
out=$(X -d code sh -c 'for c in 0 1 2 42 255; do code $c; printf "%s " $?; done')
same "$out" "0 1 2 42 255 " "exit codes 0 1 2 42 255 come back through the ghost"
want=""
sigs="HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM XCPU XFSZ VTALRM PROF SYS"
for s in $sigs; do want="$want$((128 + $(kill -l "$s"))) "; done
out=$(X -d die sh -c "for s in $sigs; do die \$s; printf '%s ' \$?; done" 2>/dev/null)
same "$out" "$want" "every signal death comes back as 128+N (20 signals)"
[ "$(others die)" -ge 1 ] && ok "the signalled programs ran on $(where die)" ||
	notok "the signalled programs ran elsewhere: $(where die)"
out=$(X -d die perl -e 'my $p = fork; if (!$p) { exec "die", "SEGV" } waitpid($p, 0); print $? & 127, "\n"')
same "$out" "11" "the parent sees its child die of the signal itself (SIGSEGV), not an exit"
# ^Z and fg: TSTP stops the ghost and the program there; CONT resumes both
: >"$W"
out=$(X -d hold sh -c '
	hold 3 & p=$!; sleep 1
	kill -TSTP $p; sleep 0.5
	st=$(cut -d" " -f3 /proc/$p/stat)
	kill -CONT $p; wait $p; echo "$st $?"' 2>&1)
same "$out" "T 0" "job control: TSTP stops the ghost (T), CONT resumes it and the program ends 0"

# signals ignored where a program starts stay ignored where it runs: a
# shell's trap '' (or nohup's HUP) reaches the programs placed elsewhere,
# and a signal the ghost is sent then does not end them
: >"$W"
prog sigign 'sleep 0.05; exec awk "/^SigIgn/ { print \$2 }" /proc/self/status'
out=$(X -d sigign sh -c 'trap "" HUP INT; for k in 1 2 3; do sigign; done' | sort -u)
here=$(sh -c 'trap "" HUP INT; exec awk "/^SigIgn/ { print \$2 }" /proc/self/status')
[ "$out" = "$here" ] && [ $((0x$out & 3)) = 3 ] &&
	ok "programs started with HUP and INT ignored start so on every node ($out)" ||
	notok "programs started with HUP and INT ignored start so on every node: $out, here $here"
[ "$(others sigign)" -ge 1 ] && ok "(they ran on $(where sigign))" ||
	notok "they ran on other nodes too: $(where sigign)"
: >"$W"
out=$(X -d hold sh -c 'trap "" INT
	hold 2 & a=$!; hold 2 & b=$!; hold 2 & c=$!; sleep 0.7
	kill -INT $a $b $c; wait $a; x=$?; wait $b; y=$?; wait $c; echo "$x $y $?"' 2>&1)
same "$out" "0 0 0" "kill -INT to ghosts of programs that ignore INT: they run on and end 0"
[ "$(others hold)" -ge 1 ] && ok "(they ran on $(where hold))" ||
	notok "they ran on other nodes too: $(where hold)"

# ---- a build: same objects as a local one ----
P="$tmp/proj"
mkdir -p "$P"
for i in $(seq 1 12); do
	printf '#include <stdio.h>\nint f%d(int x) { int s = 0; for (int i = 0; i < x; i++) s += i * %d; return s; }\n' "$i" "$i" >"$P/f$i.c"
done
printf 'int main(void) { return 0; }\n' >"$P/main.c"
{
	printf 'OBJS = main.o'
	for i in $(seq 1 12); do printf ' f%d.o' "$i"; done
	printf '\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%%.o: %%.c\n\t$(CC) -O2 -g -c -o $@ $<\n'
	printf 'clean:\n\trm -f prog *.o\n'
} >"$P/Makefile"
on t1 make -s -C "$P" -j4 CC=gcc >/dev/null 2>&1
local_sums=$(cd "$P" && sha256sum ./*.o | sort -k2)
on t1 make -s -C "$P" clean >/dev/null
: >"$W"
X -d mycc make -s -C "$P" -j6 CC=mycc >"$tmp/build.out" 2>&1
rc=$?
same "$rc" "0" "make -j6 under unum exec builds"
same "$(cd "$P" && sha256sum ./*.o | sort -k2)" "$local_sums" \
	"its 13 objects have the same hashes as a local build's"
[ "$(others mycc)" -ge 1 ] && ok "compiles ran on $(where mycc)" ||
	notok "compiles ran on other nodes: $(where mycc)"

# ---- ^C during a distributed make -j: nothing left anywhere ----
M="$tmp/mk"
mkdir -p "$M"
{
	printf 'all: t1 t2 t3 t4 t5 t6\n'
	for i in 1 2 3 4 5 6; do printf 't%d:\n\thold 317\n' "$i"; done
} >"$M/Makefile"
# in a process group of its own with INT and QUIT at their defaults, as
# a shell's foreground job is (a script's background job starts with both
# ignored, and so would make); ^C is SIGINT to that group
on t1 setsid env --default-signal=INT,QUIT "$UNUM" exec --session cc-test -d hold make -s -C "$M" -j6 \
	>/dev/null 2>&1 &
mkpid=$!
running() { [ "$(on t1 "$UNUM" ps -s cc-test 2>/dev/null | grep -c ' running ')" -ge 6 ]; }
within 15 running && ok "unum ps -s lists the six runs of the session on the nodes" ||
	notok "unum ps -s lists the six runs: $(on t1 "$UNUM" ps -s cc-test 2>&1)"
nodes=$(on t1 "$UNUM" ps -s cc-test --json 2>/dev/null | grep -o '"node":"t[0-9]"' | sort -u | wc -l)
[ "$nodes" -ge 2 ] && ok "they run on $nodes nodes" || notok "they run on several nodes: $nodes"
pg=$(pgrep -f "^$UNUM exec --session cc-test" | head -1)
[ -n "$pg" ] && kill -INT -- "-$pg"
# (the nodes share the host's process ids: one pgrep sees them all)
gone() { ! pgrep -f "^sleep $1" >/dev/null; }
within 10 gone 317 && ok "^C (SIGINT to the foreground job): no 'sleep 317' left on any node" ||
	notok "^C leaves nothing running: $(pgrep -af '^sleep 317')"
wait "$mkpid"
rc=$?
# (GNU make itself ends 130 or, when a child's death reaches it before
# its own SIGINT does, 2 with "wait: No child processes": 11 times in 40
# with plain make -j6 and six local sleeps)
case $rc in 130 | 2) ok "unum exec ends as make did ($rc)" ;;
*) notok "unum exec ends as make did: 130 or 2, got $rc" ;; esac
# ^C to a foreground job whose program was placed elsewhere: the program
# there dies of it, and so do the ghost and unum exec (130)
on t1 setsid env --default-signal=INT,QUIT "$UNUM" exec --session cc-one \
	-d hold hold 316 >/dev/null 2>&1 &
onepid=$!
one_running() { on t1 "$UNUM" ps -s cc-one 2>/dev/null | grep -q ' running '; }
within 10 one_running || notok "the session's one program runs"
pg=$(pgrep -f "^$UNUM exec --session cc-one" | head -1)
[ -n "$pg" ] && kill -INT -- "-$pg"
wait "$onepid"
same "$?" "130" "unum exec ends as its command did: of SIGINT (130)"
within 10 gone 316 && ok "and nothing of it is left on any node" ||
	notok "nothing of it is left: $(pgrep -af '^sleep 316')"

# ---- kill -s: the whole session, also what left its process group ----
on t1 setsid "$UNUM" exec --session ks -d bgd sh -c 'bgd & bgd & wait' \
	>/dev/null 2>&1 &
kspid=$!
started() { [ "$(pgrep -f '^sleep 319' | wc -l)" -ge 2 ]; }
within 10 started || notok "the session's daemons started"
on t1 "$UNUM" kill -s ks
same "$?" "0" "unum kill -s SESSION"
within 10 gone '31[89]' && ok "kill -s: nothing of the session left, not even its setsid daemons" ||
	notok "kill -s leaves nothing: $(pgrep -af '^sleep 31')"
wait "$kspid"
on t1 "$UNUM" kill -s ks 2>"$tmp/err"
same "$?:$(cat "$tmp/err")" "1:unum: kill -s ks: no running process of that session on the cluster" \
	"kill -s of a session with nothing running: one line, status 1"
out=$(on t1 "$UNUM" kill -s 'bad name' 2>&1)
same "$?:$out" "2:unum: kill: 'bad name' is not a session name" "a bad session name is refused"

# ---- leaving the session leaves nothing behind ----
X -d bgexit sh -c 'bgexit; setsid sleep 320 & exit 0' >/dev/null 2>&1
within 10 gone '3(19|20)' && ok "leaving the session: its daemons here and there are gone" ||
	notok "leaving leaves nothing: $(pgrep -af '^sleep 3')"
cg=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
nocg() { [ -z "$(find "$cg" -maxdepth 8 -type d -name "s0.$1" 2>/dev/null)" ]; }
X --session cgt -d slowhost slowhost >/dev/null
within 5 nocg cgt && ok "no session cgroup is left on any node" ||
	notok "no session cgroup left: $(find "$cg" -maxdepth 8 -type d -name 's0.cgt')"

# ---- what stays here ----
: >"$W"
same "$(X -d suidhost sh -c 'suidhost; suidhost; suidhost' | sort -u)" "t1" \
	"a setuid program stays here"
same "$(X -d slowhost sh -c 'slowhost 3</dev/null; slowhost 3</dev/null; slowhost 3</dev/null' | sort -u)" "t1" \
	"a program handed a descriptor beyond 0-2 stays here"
printf 'quick 1 40\nquick 1 40\n' | on t1 "$UNUM" 9p -a /run/unum/clusterd.sock -A proc write learn
sleep 0.5
same "$(X -d quick sh -c 'quick; quick; quick; quick' | sort -u)" "t1" \
	"a program learnt to run shorter than sending it stays here"
: >"$W"
X -d slowhost sh -c 'slowhost; slowhost; slowhost' >/dev/null
sleep 0.5
on t1 grep -qa slowhost /run/unum/clusterd.sock.times &&
	ok "the ghosts told unum-clusterd how long their programs ran" ||
	notok "the ghosts told unum-clusterd how long their programs ran"
out=$(printf 'x 1\n' | on t1 "$UNUM" 9p -a /run/unum/clusterd.sock -A proc -V 9P2000.u write learn 2>&1)
case "$out" in *"PROGRAM RUN_MS COST_MS"*) ok "a bad learn line is refused with a reason" ;;
*) notok "a bad learn line is refused: $out" ;; esac
out=$(printf 'x86_64-linux-gnu-gcc-12 -1 5\n' | on t1 "$UNUM" 9p -a /run/unum/clusterd.sock -A proc -V 9P2000.u write learn 2>&1)
case "$out" in *"PROGRAM RUN_MS COST_MS"*) ok "a negative time is refused" ;;
*) notok "a negative time is refused: $out" ;; esac
printf 'x86_64-linux-gnu-gcc-12 900 5\n' | on t1 "$UNUM" 9p -a /run/unum/clusterd.sock -A proc write learn &&
	ok "a program name with dashes is learnt" || notok "a program name with dashes is learnt"

# ---- patterns and session.conf ----
: >"$W"
X -d 'slow*' sh -c 'slowhost; slowhost; slowhost; slowhost' >/dev/null
[ "$(others slowhost)" -ge 1 ] && ok "-d 'slow*': a pattern sends slowhost elsewhere ($(where slowhost))" ||
	notok "-d 'slow*' sends slowhost elsewhere: $(where slowhost)"
same "$(X -d slowhost -l '*host' sh -c 'slowhost; slowhost; slowhost' | sort -u)" "t1" \
	"-l '*host' keeps it here, over -d"
printf '# test\nremote up slowhost\nlocal vi\n' >"$tmp/ses.conf"
: >"$W"
on t1 env UNUM_SESSION_CONF="$tmp/ses.conf" "$UNUM" exec sh -c 'slowhost; slowhost; slowhost; slowhost' >/dev/null
[ "$(others slowhost)" -ge 1 ] && ok "session.conf's remote line sends slowhost elsewhere" ||
	notok "session.conf's remote line sends slowhost elsewhere: $(where slowhost)"
printf 'remote up\nfaraway x\n' >"$tmp/bad.conf"
out=$(on t1 env UNUM_SESSION_CONF="$tmp/bad.conf" "$UNUM" exec true 2>&1)
same "$?:$out" "255:unum: $tmp/bad.conf:2: unknown setting 'faraway' (remote, local)" \
	"a bad session.conf line: the session does not start, one line says where"
out=$(on t1 "$UNUM" exec -d 'a/b' true 2>&1)
same "$?:$out" "255:unum: exec: 'a/b' is not a program name pattern" "a bad pattern is refused"

# ---- a path on the command line that only the origin has ----
cluster_file t1 /tmp/only-here/in.txt "seen from afar"
: >"$W"
out=$(X -d catx sh -c 'catx /tmp/only-here/in.txt; catx /tmp/only-here/in.txt; catx /tmp/only-here/in.txt' 2>&1)
same "$out" "$(printf 'seen from afar\nseen from afar\nseen from afar')" \
	"a file named on the command line, on the origin only, is read wherever it runs"
[ "$(others catx)" -ge 1 ] && ok "(it ran on $(where catx))" ||
	notok "it ran on another node: $(where catx)"
done_testing
