#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs the guest test programs listed in guest-tests/tests.cfg (format
# described there) with the storemu binary and prints TAP: one "ok" or
# "not ok" line per test, "# SKIP needs X" for a test whose miniport,
# device or option is not in this build, and the plan line at the end.
#
#   sh scripts/run-guest-tests.sh [TESTS.CFG]      (STOREMU=path overrides
#                                                   the binary)
# Each run's output lands in build/test-logs/guest/NAME.log.

set -u
BIN=${STOREMU:-./storemu}
CFG=${1:-guest-tests/tests.cfg}
logdir=build/test-logs/guest
limit=${GUEST_TEST_TIMEOUT:-120}
n=0
fails=0

if [ ! -x "$BIN" ]; then
    echo "Bail out! no storemu binary at $BIN (run make)"
    exit 1
fi
if [ ! -r "$CFG" ]; then
    echo "Bail out! cannot read $CFG"
    exit 1
fi
mkdir -p "$logdir"
# Wall-clock guard against a hung run (the machine detects deadlocks and
# hangs itself; this is for the emulator failing to).
if command -v timeout >/dev/null 2>&1; then
    guard="timeout $limit"
else
    guard=
fi

# The file is read on descriptor 3 so that storemu's stdin stays free.
while read -r name needs rest <&3; do
    case "$name" in
    '' | '#'*) continue ;;
    esac
    n=$((n + 1))
    want=0
    case "$rest" in
    exit=*)
        want=${rest%%[ 	]*}
        want=${want#exit=}
        rest=${rest#exit=$want}
        ;;
    esac
    log="$logdir/$name.log"
    # Split the arguments at blanks, without globbing.
    set -f
    # shellcheck disable=SC2086
    set -- $rest
    set +f
    echo "# $BIN $*" >"$log"
    # shellcheck disable=SC2086
    $guard "$BIN" "$@" >>"$log" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq 2 ] && [ "$needs" != "-" ] &&
        grep -q -e "not available yet" -e "no built-in miniport" "$log"; then
        echo "ok $n - $name # SKIP needs $needs"
    elif [ "$rc" -eq "$want" ]; then
        echo "ok $n - $name"
    else
        fails=$((fails + 1))
        if [ "$rc" -eq 124 ] && [ -n "$guard" ]; then
            echo "not ok $n - $name (no end after $limit s; log: $log)"
        else
            echo "not ok $n - $name (exit $rc, wanted $want; log: $log)"
        fi
        grep -E '^(FAIL|storemu:|[a-z-]+: FAILED)' "$log" | head -n 10 |
            sed 's/^/# /'
    fi
done 3<"$CFG"

echo "1..$n"
[ "$fails" -eq 0 ]
