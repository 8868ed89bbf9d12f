#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs every test of `make check` and ends with one line
# "N passed, N failed[, N skipped]".
#  - GTest binaries (unit and device tests) given as arguments, run in TAP
#    mode: each "ok"/"not ok" line is one test.
#  - End-to-end scripts tests/e2e/*.sh: each prints TAP lines too.
# Logs of every run land in build/test-logs/.

set -u
logdir=build/test-logs
mkdir -p "$logdir"
pass=0; fail=0; skip=0
failed_names=

count_tap() {
    # $1: log file, $2: test name (for the failure list)
    p=$(grep -c '^ok ' "$1" | tr -d ' ')
    s=$(grep -E -c '^ok .*# *(SKIP|skip)' "$1" | tr -d ' ')
    f=$(grep -c '^not ok ' "$1" | tr -d ' ')
    p=$((p - s))
    pass=$((pass + p)); skip=$((skip + s)); fail=$((fail + f))
    if [ "$f" -gt 0 ]; then
        failed_names="$failed_names $2"
        grep '^not ok ' "$1" | sed "s|^|  $2: |"
    fi
}

run_one() {
    # $1: name, rest: command; a non-zero exit with no TAP failure counts
    # as one failure (a crash or an abort in the middle of a binary).
    name=$1; shift
    log="$logdir/$(echo "$name" | tr '/' '_').log"
    "$@" > "$log" 2>&1
    rc=$?
    before=$fail
    count_tap "$log" "$name"
    if [ $rc -ne 0 ] && [ $fail -eq $before ]; then
        fail=$((fail + 1))
        failed_names="$failed_names $name"
        echo "  $name: exited with status $rc (log: $log)"
        tail -n 5 "$log" | sed 's/^/    /'
    fi
    printf '%-44s %s\n' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAIL)"
}

for bin in "$@"; do
    run_one "${bin#build/}" "$bin" --tap
done

for t in tests/e2e/*.sh; do
    [ -f "$t" ] || continue
    run_one "$t" sh "$t"
done
run_one guest-tests/tests.cfg sh scripts/run-guest-tests.sh

if [ -n "$failed_names" ]; then
    echo "failed:$failed_names"
fi
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
