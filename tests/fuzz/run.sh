#!/bin/sh
# Runs one libFuzzer target for FUZZ_SECONDS on its seed corpus (copied to
# build/fuzz, so the tree is not touched) and reports it as one TAP test.
bin=$1
name=$(basename "$bin")
corpus="build/fuzz/corpus-$name"
seed="tests/fuzz/corpus_${name#fuzz_}"
log=$(mktemp /tmp/unum-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
mkdir -p "$corpus"
[ -d "$seed" ] && cp -n "$seed"/* "$corpus"/ 2>/dev/null
"$bin" -max_total_time="${FUZZ_SECONDS:-20}" -print_final_stats=1 \
	-artifact_prefix="build/fuzz/$name-" "$corpus" >"$log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
if [ "$rc" -eq 0 ]; then
	echo "ok - $name: ${runs:-?} executions in ${FUZZ_SECONDS:-20}s, no crash"
else
	echo "not ok - $name: crash after ${runs:-?} executions"
	grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -5 | sed 's/^/# /'
fi
