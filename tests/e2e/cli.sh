#!/bin/sh
# SPDX-License-Identifier: MIT
#
# End-to-end: run the storemu binary the way a user does and check exit
# codes and output. Prints TAP.

set -u
BIN=${STOREMU:-./storemu}
n=0
fails=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect CODE DESCRIPTION PATTERN -- ARGS...
expect() {
    code=$1; desc=$2; pat=$3; shift 4
    n=$((n + 1))
    "$BIN" "$@" >"$out" 2>&1
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$out"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc (exit $rc, wanted $code; pattern '$pat')"
        sed 's/^/# /' "$out" | head -n 8
        fails=$((fails + 1))
    fi
}

expect 0 "no arguments runs the main job" "stopped at" --
expect 0 "--version" "storemu [0-9]" -- --version
expect 0 "--help lists exit codes" "deadlock or hang" -- --help
expect 0 "-device help lists drivers" "virtio-scsi-pci" -- -device help
expect 0 "-fault help lists kinds" "irq-drop" -- -fault help
expect 0 "random scheduler with a seed" "sched=random seed=9" -- \
    -machine smp=4,sched=random,seed=9
expect 0 "-m shorthand in MiB" "64 MiB RAM" -- -m 64
expect 2 "unknown option" "unknown option" -- -bogus
expect 2 "positional argument" "disk.img" -- disk.img
expect 2 "missing argument" "-smp" -- -smp
expect 2 "bad number" "smp" -- -machine smp=many
expect 2 "out of range" "out of range" -- -smp 65
expect 2 "unknown sub-option key" "colour" -- -machine colour=red
expect 2 "bad size" "mem" -- -machine mem=lots
expect 2 "RAM below the minimum" "out of range (4M..3G)" -- -m 1
# A size past 64 bits is too large, not "at least 512" or "not a size".
expect 2 "disk size overflowing 64 bits" \
    "size: '99999999999999999999G' is too large: it overflows 64 bits (512\.\." \
    -- -drive id=d0,size=99999999999999999999G
# 2^63 fits 64 bits but no host file (offsets are signed).
expect 2 "disk size of 2^63 bytes" "out of range (512\.\.9223372036854775296)" \
    -- -drive id=d0,size=9223372036854775808
expect 2 "disk size of 2^64 bytes" "is too large: it overflows 64 bits" -- \
    -drive id=d0,size=18446744073709551616
expect 2 "RAM size overflowing 64 bits" \
    "-m: '99999999999999999999G' is too large: it overflows 64 bits (4M..3G)" \
    -- -m 99999999999999999999G
expect 2 "mem= overflowing 64 bits" \
    "mem: .* is too large: it overflows 64 bits (4M..3G)" -- \
    -machine mem=99999999999999999999G
expect 2 "bad scheduler" "sched" -- -machine sched=roundrobin
expect 2 "device fetch delay past a second" "fetch_delay: '2s' is out of range" -- \
    -device virtio-scsi-pci,fetch_delay=2s
expect 0 "device fetch delay of 0" "boot: ok" -- -drive id=d0,size=8M \
    -device virtio-scsi-pci,id=hba0,fetch_delay=0 \
    -device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi
expect 2 "device latency past a minute" "latency: '61s' is out of range (0..60s)" -- \
    -device virtio-scsi-pci,latency=61s
expect 2 "device latency near 2^64 ns refused" "latency: .* is out of range" -- \
    -device virtio-scsi-pci,latency=18446744073709551000ns
expect 0 "device latency of a second" "boot: ok" -- -drive id=d0,size=8M \
    -device virtio-scsi-pci,id=hba0,latency=1s \
    -device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi
expect 2 "fault delay near 2^64 ns refused" "ns: .* is out of range (0..60s)" -- \
    -drive id=d0,size=8M -device virtio-scsi-pci,id=hba0 \
    -device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi \
    -fault latency,ns=18446744073709551000ns
expect 2 "a device fault without a device refused" "this machine has none" -- -fault irq-drop
expect 2 "bad trace pattern" "trace" -- -trace 'a/b'
expect 2 "trace file in a missing directory" "cannot open" -- \
    -trace file=/nonexistent/dir/t.log
expect 0 "trace to a file" "stopped at" -- -trace 'sched_*' \
    -trace file=/dev/null

echo "1..$n"
[ "$fails" -eq 0 ]
