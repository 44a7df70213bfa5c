#!/bin/sh
# Runs every test and counts TAP results; the last line is
# "N passed, N failed".  Suites: unit tests (build/tests), the same under
# ASan+UBSan (build/asan/tests), shell tests (tests/interop, tests/cluster),
# and each fuzz target for FUZZ_SECONDS.  FUZZ_ONLY=1 runs the fuzzers
# alone (make fuzz).  TESTS=PATTERN runs only suites matching it.
cd "$(dirname "$0")/.." || exit 1
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
out=$(mktemp -d /tmp/unum-tests.XXXXXX)
trap 'rm -rf "$out"' EXIT INT TERM
passed=0
failed=0

# Runs one suite (a command printing TAP) and counts its results.
suite() {
	name=$1
	shift
	case "$name" in *${TESTS:-}*) ;; *) return ;; esac
	log="$out/log"
	start=$(date +%s)
	CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 5 600 "$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log")
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# died or hung without reporting a failure: count that
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	printf '%-40s %4d passed %4d failed  %3ss\n' "$name" "$p" "$f" \
		"$(($(date +%s) - start))"
	case "$name" in fuzz/*) grep '^ok' "$log" | sed 's/^/    /' ;; esac
	if [ "$f" -ne 0 ]; then
		grep -E '^not ok|^# |ERROR|Sanitizer|runtime error' "$log" |
			head -40 | sed 's/^/    /'
	fi
}

if [ -z "${FUZZ_ONLY:-}" ]; then
	for t in build/tests/test_*; do
		[ -x "$t" ] && suite "unit/$(basename "$t")" "$t"
	done
	for t in build/asan/tests/test_*; do
		[ -x "$t" ] && ASAN_OPTIONS=detect_leaks=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
			suite "asan+ubsan/$(basename "$t")" "$t"
	done
	for t in tests/cmd/*.sh tests/interop/*.sh tests/cluster/*.sh; do
		[ -f "$t" ] && suite "${t#tests/}" bash "$t"
	done
fi
for f in build/fuzz/fuzz_*; do
	case "$f" in *-*) continue ;; esac
	[ -x "$f" ] && FUZZ_SECONDS=$FUZZ_SECONDS \
		suite "fuzz/$(basename "$f")" sh tests/fuzz/run.sh "$f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
