#!/bin/sh
# SPDX-License-Identifier: MIT
#
# make style: every C file matches .clang-format, starts with an SPDX line,
# and keeps to the 100-column hard limit (STYLE.md).

set -u
fail=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
if ! command -v clang-format >/dev/null 2>&1; then
    echo "style: clang-format not found (apt-get install clang-format)" >&2
    exit 2
fi
for f in $files; do
    if ! head -n 1 "$f" | grep -q 'SPDX-License-Identifier'; then
        echo "$f:1: missing SPDX-License-Identifier line"
        fail=1
    fi
    awk -v f="$f" 'length($0) > 100 { print f ":" NR ": line over 100 columns"; bad=1 }
                   END { exit bad }' "$f" || fail=1
done
# shellcheck disable=SC2086
if ! clang-format --dry-run --Werror $files 2>/tmp/style.$$; then
    grep -E '^[^ ].*(warning|error):' /tmp/style.$$ | sed 's/: warning: code should be clang-formatted.*//' | sort -u | head -50
    echo "style: run 'clang-format -i FILE' on the files above"
    fail=1
fi
rm -f /tmp/style.$$
[ $fail -eq 0 ] && echo "style: ok"
exit $fail
