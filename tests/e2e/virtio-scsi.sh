#!/bin/sh
# SPDX-License-Identifier: MIT
#
# End-to-end: the virtio-scsi miniport on the virtio-scsi-pci model, with
# ./storemu command lines exactly as a user types them (issue 6, "Done
# means"): boot, verify and iobench short runs on a disk image, with
# MSI-X and with msix=off, num_queues=4 on -smp 4, power transitions, a
# write checked in the image file itself, a bad parameter refused, and
# the miniport built as a shared object that needs nothing but StorPort*
# routines. Every run must end with no verifier report. When this build
# has no virtio-scsi-pci yet, every check is reported as a skip.
# Prints TAP. Run from the repository root with ./storemu built.

set -u
BIN=${STOREMU:-./storemu}
CC=${CC:-$(sed -n 's/^CC := //p' config.mak 2>/dev/null)}
CC=${CC:-cc}
. "$(dirname "$0")/tap.inc"
img=$tmp/disk.img

# run DESCRIPTION PATTERN -- ARGS...: exit 0, a line matching PATTERN and
# no verifier report in the output.
run() {
    desc=$1; pat=$2; shift 3
    "$BIN" "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ] && grep -q -- "$pat" "$out" &&
        ! grep -q 'verifier: [a-z-]*:' "$out" &&
        ! grep -q 'verifier violation' "$out"; then
        ok "$desc"
    else
        echo "# exit $rc, pattern '$pat'"
        not_ok "$desc"
    fi
}

DEV="-drive file=$img,id=d0 -device virtio-scsi-pci,id=hba0 -device scsi-hd,drive=d0,bus=hba0"

CHECKS="boot verify iobench boot-intx verify-intx iobench-4q power write-in-image
bad-param so-build so-imports so-boot"

if ! "$BIN" -device help 2>&1 | grep -q '^ *virtio-scsi-pci' ||
    "$BIN" -device help 2>&1 | grep -A1 '^ *virtio-scsi-pci' |
    grep -q 'not available'; then
    for c in $CHECKS; do
        skip "$c" "virtio-scsi-pci is not available in this build"
    done
    echo "1..$n"
    exit 0
fi
if ! "$BIN" -guest help 2>&1 | grep -q '^ *verify'; then
    for c in $CHECKS; do
        skip "$c" "no guest programs in this build"
    done
    echo "1..$n"
    exit 0
fi

truncate -s 64M "$img" 2>/dev/null || dd if=/dev/zero of="$img" bs=1M count=64 2>/dev/null

# ---- the commands of issue 6 ----
# shellcheck disable=SC2086
run "boot on an image (MSI-X)" "boot: ok" -- \
    $DEV -miniport virtio-scsi -guest boot
# shellcheck disable=SC2086
run "verify, strict verifier" "verify: ok" -- \
    $DEV -miniport virtio-scsi -verifier strict -guest verify,size=4M,bs=64K,qd=8
# shellcheck disable=SC2086
run "iobench randrw with verification" "verify: .* 0 bad" -- \
    $DEV -miniport virtio-scsi -guest iobench,rw=randrw,iodepth=16,count=2000,verify=on
DEVX="-drive file=$img,id=d0 -device virtio-scsi-pci,id=hba0,msix=off -device scsi-hd,drive=d0,bus=hba0"
# shellcheck disable=SC2086
run "boot with msix=off (INTx)" "vioscsi: started: .*INTx" -- \
    $DEVX -miniport virtio-scsi -trace miniport_print -guest boot
# shellcheck disable=SC2086
run "verify with msix=off" "verify: ok" -- \
    $DEVX -miniport virtio-scsi -verifier strict -guest verify,size=4M,bs=16K,qd=16
DEV4="-drive file=$img,id=d0 -device virtio-scsi-pci,id=hba0,num_queues=4 -device scsi-hd,drive=d0,bus=hba0"
# shellcheck disable=SC2086
if "$BIN" -smp 4 -machine sched=random,seed=3 $DEV4 -miniport virtio-scsi \
    -verifier strict -trace miniport_print \
    -guest iobench,rw=randrw,jobs=4,iodepth=8,count=500,verify=on >"$out" 2>&1 &&
    grep -q 'vioscsi: started: 4 request queue(s)' "$out" &&
    grep -q 'verify: .* 0 bad' "$out"; then
    ok "num_queues=4 on -smp 4: four request queues, data verified"
else
    not_ok "num_queues=4 on -smp 4: four request queues, data verified"
fi
# shellcheck disable=SC2086
run "stop/hibernate/resume cycles under I/O" "power: ok" -- \
    -smp 2 $DEV -miniport virtio-scsi -verifier strict -guest power,cycles=2

# ---- a write lands in the image file ----
head -c 512 /dev/urandom >"$tmp/block" 2>/dev/null ||
    dd if=/dev/urandom of="$tmp/block" bs=512 count=1 2>/dev/null
# WRITE(10) LBA 1000, one block, from the host file.
# shellcheck disable=SC2086
if "$BIN" $DEV -miniport virtio-scsi \
    -guest scsi,cdb=2a00000003e8000001,out="$tmp/block",retry=on >"$out" 2>&1 &&
    dd if="$img" of="$tmp/back" bs=512 skip=1000 count=1 2>/dev/null &&
    cmp -s "$tmp/block" "$tmp/back"; then
    ok "a WRITE(10) reaches the image file"
else
    not_ok "a WRITE(10) reaches the image file"
fi

# ---- a bad parameter is refused with a reason ----
# shellcheck disable=SC2086
if ! "$BIN" $DEV -miniport virtio-scsi,param.srb=both -trace miniport_print \
    -guest boot >"$out" 2>&1 && grep -q "parameter srb='both' is invalid" "$out"; then
    ok "a bad miniport parameter fails find-adapter"
else
    not_ok "a bad miniport parameter fails find-adapter"
fi

# ---- as a shared object ----
if $CC -shared -fPIC -O2 -fvisibility=default -Wl,-Bsymbolic -I. \
    -Iport/include -Wno-multichar -o "$tmp/vioscsi.so" miniports/virtio-scsi/*.c \
    >"$out" 2>&1; then
    ok "vioscsi.so builds as miniports/README.md says (plus -I. for the ABI header)"
    if command -v nm >/dev/null 2>&1; then
        nm -D --undefined-only "$tmp/vioscsi.so" | awk '$1 == "U" { print $2 }' |
            sed 's/@.*//' |
            grep -v -E '^(StorPort[A-Za-z0-9]*|memcpy|memmove|memset|memcmp|bcmp)$' \
                >"$out"
        if [ -s "$out" ]; then
            not_ok "vioscsi.so needs only StorPort* routines and libc mem*"
        else
            ok "vioscsi.so needs only StorPort* routines and libc mem*"
        fi
    else
        skip "so-imports" "no nm"
    fi
    # shellcheck disable=SC2086
    run "boot and verify with -miniport ./vioscsi.so" "verify: ok" -- \
        $DEV -miniport "$tmp/vioscsi.so" -guest verify,size=1M
else
    not_ok "vioscsi.so builds"
    skip "so-imports" "no vioscsi.so"
    skip "so-boot" "no vioscsi.so"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
