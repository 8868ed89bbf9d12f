#!/bin/sh
# SPDX-License-Identifier: MIT
#
# End-to-end: a miniport built outside storemu, as a shared object, with
# the command miniports/README.md gives, then loaded with
# "-miniport ./ramdisk.so". Checks that the object needs nothing but
# StorPort* routines and libc memory helpers, that storemu loads it and
# runs its own code (not the built-in copy of the same miniport), that
# registry parameters reach it, and that guest programs run on it. The
# guest-program checks are skipped when the binary has no guest programs.
# Prints TAP. Run from the repository root with ./storemu built.

set -u
BIN=${STOREMU:-./storemu}
CC=${CC:-$(sed -n 's/^CC := //p' config.mak 2>/dev/null)}
CC=${CC:-cc}
TAP_SHOW="head -n 12"
. "$(dirname "$0")/tap.inc"

# run CODE DESCRIPTION PATTERN -- ARGS...: exit code and an output line.
run() {
    code=$1; desc=$2; pat=$3; shift 4
    "$BIN" "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$out"; then
        ok "$desc"
    else
        echo "# exit $rc (wanted $code), pattern '$pat'"
        not_ok "$desc"
    fi
}

# The command of miniports/README.md, "Building a shared object".
build_so() {
    # $1: source directory, $2: output
    $CC -shared -fPIC -O2 -fvisibility=default -Wl,-Bsymbolic \
        -Iport/include -Wno-multichar -o "$2" "$1"/*.c >"$out" 2>&1
}

if build_so miniports/ramdisk "$tmp/ramdisk.so"; then
    ok "ramdisk.so builds with the README command"
else
    not_ok "ramdisk.so builds with the README command"
    echo "1..$n"
    exit 1
fi

# A kernel driver may call the port and nothing else (memcpy/memset/memcmp
# are what Rtl*Memory expand to; clang may turn memcmp into bcmp).
if command -v nm >/dev/null 2>&1; then
    nm -D --undefined-only "$tmp/ramdisk.so" | awk '$1 == "U" { print $2 }' |
        sed 's/@.*//' |
        grep -v -E '^(StorPort[A-Za-z0-9]*|memcpy|memmove|memset|memcmp|bcmp)$' \
            >"$out"
    if [ -s "$out" ]; then
        not_ok "ramdisk.so needs only StorPort* routines and libc mem*"
    else
        ok "ramdisk.so needs only StorPort* routines and libc mem*"
    fi
    if nm -D --defined-only "$tmp/ramdisk.so" | grep -q ' T DriverEntry$'; then
        ok "ramdisk.so exports DriverEntry"
    else
        nm -D --defined-only "$tmp/ramdisk.so" >"$out"
        not_ok "ramdisk.so exports DriverEntry"
    fi
else
    skip "ramdisk.so needs only StorPort* routines and libc mem*" "no nm"
    skip "ramdisk.so exports DriverEntry" "no nm"
fi

# Loading resolves every StorPort* import against the storemu binary.
"$BIN" -miniport "$tmp/ramdisk.so" >"$out" 2>&1
if grep -q "cannot load\|has no DriverEntry" "$out"; then
    not_ok "storemu loads ramdisk.so (StorPort* resolved from the binary)"
else
    ok "storemu loads ramdisk.so (StorPort* resolved from the binary)"
fi
run 2 "a missing shared object is refused" "cannot load" -- \
    -miniport "$tmp/missing.so"

if ! "$BIN" -guest help 2>&1 | grep -q '^  boot '; then
    for t in "boot enumerates the .so's units" \
        "registry parameters reach the .so" "luns=3 gives three units" \
        "the .so runs its own code, not the built-in copy" \
        "verify with work-item completion, random scheduling" \
        "verify with DPC completion and classic SRBs" \
        "a bad parameter fails find-adapter"; do
        skip "$t" "no guest programs in this binary"
    done
    echo "1..$n"
    [ "$fails" -eq 0 ]
    exit
fi

run 0 "boot enumerates the .so's units" "STOREMU  RAMDISK" -- \
    -miniport "$tmp/ramdisk.so" -guest boot
run 0 "registry parameters reach the .so" "8192 x 512" -- \
    -miniport "$tmp/ramdisk.so,param.luns=3,param.size=4M" -guest boot
if ! grep -q "3 logical units" "$out"; then
    not_ok "luns=3 gives three units"
else
    ok "luns=3 gives three units"
fi

# A copy with another product name: the run must show it, which fails if
# the loader bound the object's calls to the built-in ramdisk instead.
mkdir -p "$tmp/src"
cp miniports/ramdisk/*.c miniports/ramdisk/*.h "$tmp/src/"
sed -i 's/"RAMDISK         "/"SO-RAMDISK      "/' "$tmp/src/ramdisk.h"
if build_so "$tmp/src" "$tmp/renamed.so"; then
    run 0 "the .so runs its own code, not the built-in copy" "SO-RAMDISK" -- \
        -miniport "$tmp/renamed.so" -guest boot
else
    not_ok "the .so runs its own code, not the built-in copy"
fi

run 0 "verify with work-item completion, random scheduling" "verify: ok" -- \
    -machine smp=3,sched=random,seed=7 \
    -miniport "$tmp/ramdisk.so,param.completion=workitem,param.size=2M" \
    -guest verify,qd=8
run 0 "verify with DPC completion and classic SRBs" "verify: ok" -- \
    -machine smp=2 \
    -miniport "$tmp/ramdisk.so,param.completion=dpc,param.srb=scsi,param.size=2M" \
    -guest verify
run 1 "a bad parameter fails find-adapter" "SP_RETURN_BAD_CONFIG" -- \
    -miniport "$tmp/ramdisk.so,param.size=1K" -guest boot

echo "1..$n"
[ "$fails" -eq 0 ]
