#!/bin/sh
# SPDX-License-Identifier: MIT
#
# docs/tracing.md lists every trace point the sources define. Prints TAP.
set -u
want=$(sh scripts/list-trace-points.sh)
have=$(sed -n '/<!-- trace-points -->/,/<!-- \/trace-points -->/p' \
    docs/tracing.md | grep '^    ' | sed 's/^    //')
if [ "$want" = "$have" ]; then
    echo "ok 1 - docs/tracing.md lists every trace point"
else
    echo "not ok 1 - docs/tracing.md is out of date: run"
    echo "#   scripts/list-trace-points.sh and update its list"
    t=$(mktemp -d)
    echo "$have" > "$t/have"
    echo "$want" > "$t/want"
    diff "$t/have" "$t/want" | sed 's/^/# /' | head -20
    rm -rf "$t"
fi
echo "1..1"
[ "$want" = "$have" ]
