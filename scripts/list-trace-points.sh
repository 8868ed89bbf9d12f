#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Lists every trace point in the sources, one "name file" line each,
# sorted: docs/tracing.md embeds this list and tests/e2e/trace-points.sh
# checks that it is current.
cd "$(dirname "$0")/.." || exit 1
git ls-files 'system/*.c' 'hw/*.c' 'port/*.c' 'guest-tests/*.c' \
    'miniports/*.c' 2>/dev/null |
    xargs grep -ohE 'TRACE(_ON)?\(\s*[a-z0-9_]+' /dev/null 2>/dev/null |
    sed -E 's/TRACE(_ON)?\(\s*//' | sort -u
