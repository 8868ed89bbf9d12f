#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Lists every trace point in the sources, one name per line, sorted:
# docs/tracing.md embeds this list and tests/e2e/trace-points.sh checks
# that it is current.
cd "$(dirname "$0")/.." || exit 1
sources() {
    # The tracked files when this is the top of a checkout; otherwise (CI's
    # sanitizer tree is a copy inside the clone) every source file there.
    if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
        git ls-files 'system/*.c' 'hw/*.c' 'port/*.c' 'guest-tests/*.c' \
            'miniports/*.c'
    else
        find system hw port guest-tests miniports -name '*.c'
    fi
}
sources | xargs grep -ohE 'TRACE(_ON)?\(\s*[a-z0-9_]+' /dev/null 2>/dev/null |
    sed -E 's/TRACE(_ON)?\(\s*//' | sort -u
