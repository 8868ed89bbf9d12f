#!/bin/sh
# SPDX-License-Identifier: MIT
#
# End-to-end: every -fault kind through the virtio-scsi miniport, as a
# user runs it (issue 9), each run checked for the outcome the guest saw:
# its exit code, the statuses and sense in the exit summary and the guest
# program's report, the resets, the data that survived; then the same
# faults recorded twice (identical traces) and replayed, with and without
# the device models. Prints TAP. Run from the repository root with
# ./storemu and ./storemu-trace built.

set -u
BIN=${STOREMU:-./storemu}
TOOL=${STOREMU_TRACE:-./storemu-trace}
TAP_SHOW="tail -n 20"
. "$(dirname "$0")/tap.inc"

# check CODE DESCRIPTION PATTERN... -- COMMAND...: the exit code, and
# every pattern (grep -E) somewhere in the output.
check() {
    code=$1; desc=$2; shift 2
    pats=$tmp/pats
    : >"$pats"
    while [ "$1" != "--" ]; do
        printf '%s\n' "$1" >>"$pats"
        shift
    done
    shift
    "$@" >"$out" 2>&1 </dev/null
    rc=$?
    missing=
    while IFS= read -r p; do
        grep -Eq -- "$p" "$out" || missing="$missing '$p'"
    done <"$pats"
    if [ "$rc" -eq "$code" ] && [ -z "$missing" ]; then
        ok "$desc"
    else
        echo "# exit $rc, wanted $code; missing:$missing"
        not_ok "$desc"
    fi
}

# The virtual time a run stopped at (from the output file).
stopped_at() {
    sed -n 's/^storemu: stopped at \([0-9]*\) ns.*/\1/p' "$1"
}

# Runs that end in the middle of the guest program (a power cut, a hang)
# abandon its threads, whose host memory goes back with the process:
# LeakSanitizer would report it, so leak checking is off for those runs.
NOLEAK="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

M="-drive id=d0,size=16M -device virtio-scsi-pci,id=hba0 -device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi"
V="-guest verify,size=512K"

# ---- device faults ----

# shellcheck disable=SC2086
check 0 "irq-drop: time-out, HwStorResetBus, recovery, no data lost" \
    "completion interrupt dropped; the guest saw SRB_STATUS_BUS_RESET, SCSI GOOD, timed out; retried" \
    "then succeeded" "reset the bus 1 time " "verify: ok: 1024 blocks verified, 0 bad" -- \
    $BIN $M -fault irq-drop,op=write,count=1 $V

# shellcheck disable=SC2086
check 0 "irq-delay: the interrupt comes ns late, nothing fails" \
    "delayed by 2000000 ns" \
    "completion interrupt late; the guest saw SRB_STATUS_SUCCESS" \
    "verify: ok" -- \
    $BIN $M -fault irq-delay,ns=2ms,op=read,count=1 -trace fault_effect $V

# shellcheck disable=SC2086
"$BIN" $M -trace irqchip_msi $V >"$tmp/base" 2>&1
base=$(grep -c 'irqchip_msi:' "$tmp/base")
# shellcheck disable=SC2086
"$BIN" $M -fault irq-duplicate,op=write,count=3 -trace irqchip_msi $V \
    >"$out" 2>&1
dup=$(grep -c 'irqchip_msi:' "$out")
if [ "$dup" -eq $((base + 3)) ] && grep -q "verify: ok" "$out" &&
    grep -q "interrupt raised twice" "$out"; then
    ok "irq-duplicate: three more messages, the run is unharmed"
else
    echo "# messages: $dup with the fault, $base without"
    not_ok "irq-duplicate: three more messages, the run is unharmed"
fi

# shellcheck disable=SC2086
"$BIN" $M -fault irq-spurious,at=5900us -trace fault_fire -trace mp_enter $V \
    >"$out" 2>&1
if grep -A1 'fault_fire: #1 irq-spurious: interrupt to cpu 0 vector' "$out" |
    grep -q 'HwStorMessageSignaledInterruptRoutine' &&
    grep -q "verify: ok" "$out"; then
    ok "irq-spurious: the miniport's handler runs for nothing, harmlessly"
else
    not_ok "irq-spurious: the miniport's handler runs for nothing, harmlessly"
fi

# shellcheck disable=SC2086
check 1 "dma-error: the write ends in SRB_STATUS_ERROR" \
    "DMA from memory of 65536 bytes at 0x[0-9a-f]+ failed" \
    "WRITE\(16\) lba 0\+128 on 0:0: DMA error; the guest saw SRB_STATUS_ERROR" \
    "verify: write of LBA 0 \(128 blocks\) failed: SRB status ERROR" -- \
    $BIN $M -fault dma-error,op=write,count=1 -trace fault_effect $V

# shellcheck disable=SC2086
check 0 "doorbell-ignore: the request times out and is recovered" \
    "its doorbell was ignored; the guest saw SRB_STATUS_BUS_RESET, SCSI GOOD, timed out" \
    "reset the bus 1 time " "verify: ok" -- \
    $BIN $M -fault doorbell-ignore,queue=0,after=3,count=1 $V

# shellcheck disable=SC2086
check 0 "hang: time-out, bus reset, device reset, no acknowledged data lost" \
    "in the hung device; the guest saw SRB_STATUS_BUS_RESET, SCSI GOOD, timed out; retried" \
    "bus reset incomplete .* resetting the device" \
    "reset the bus 1 time " "verify: ok: 1024 blocks verified, 0 bad" -- \
    $BIN $M -fault hang,op=write,after=2,count=1 -trace miniport_print $V

# shellcheck disable=SC2086
check 0 "fatal: DEVICE_NEEDS_RESET, the miniport resets, requests retried" \
    "the device needs a reset" \
    "in the failed device; the guest saw SRB_STATUS_BUS_RESET, SCSI GOOD; retried 1 time, then succeeded" \
    "verify: ok" -- \
    $BIN $M -fault fatal,op=read,count=1 -trace miniport_print $V

# A function that reads all ones: the miniport's reset cannot restart
# it, logs an adapter error, fails what it held with SRB_STATUS_NO_HBA
# and marks the adapter failed, so the I/O after it fails at once with
# SRB_STATUS_NO_DEVICE from the port instead of meeting BUSY until the
# port's retry limit (the bug: thousands of BUSY returns); the run must
# end without a crash. The port's note is a "storemu:" line, not glib's
# "** Message:" with the host's time.
# shellcheck disable=SC2086
$NOLEAK "$BIN" $M -fault surprise-remove,op=write,count=1 -trace fault_removed \
    -trace bnd_reg_read $V >"$out" 2>&1
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -le 5 ] &&
    sed -n '/fault_removed/,$p' "$out" | grep -q -- '-> 0xff$' &&
    grep -q "SP_INTERNAL_ADAPTER_ERROR" "$out" &&
    grep -q "in the removed device; the guest saw SRB_STATUS_NO_HBA" "$out" &&
    grep -q "^storemu: storport: .*marked adapter failed" "$out" &&
    ! grep -q '^\*\*' "$out" &&
    grep -q "write of LBA 896 .*failed: SRB status NO_DEVICE" "$out" &&
    grep -q "flush FAILED: SRB status NO_DEVICE" "$out" &&
    grep -q "; 0 BUSY returns;" "$out"; then
    ok "surprise-remove: the adapter error is logged, later I/O fails at once"
else
    echo "# exit $rc"
    not_ok "surprise-remove: the adapter error is logged, later I/O fails at once"
fi

# shellcheck disable=SC2086
"$BIN" $M $V >"$tmp/base" 2>&1
# shellcheck disable=SC2086
"$BIN" $M -fault latency,ns=1ms,op=write $V >"$out" 2>&1
t0=$(stopped_at "$tmp/base")
t1=$(stopped_at "$out")
if [ -n "$t0" ] && [ -n "$t1" ] && [ "$t1" -ge $((t0 + 2000000)) ] &&
    grep -q "fired 8 times" "$out" && grep -q "verify: ok" "$out"; then
    ok "latency: 8 writes, 2 waves of 4, the run 2 ms longer"
else
    echo "# stopped at $t1 ns with the fault, $t0 ns without"
    not_ok "latency: 8 writes, 2 waves of 4, the run 2 ms longer"
fi

# Reads complete out of order: the port sees a later request done first.
# shellcheck disable=SC2086
"$BIN" $M -fault reorder,op=read -trace port_done $V >"$out" 2>&1
if grep -q "completed out of order" "$out" && grep -q "verify: ok" "$out" &&
    sed -n 's/.*port_done: req=\([0-9]*\) .*/\1/p' "$out" |
    awk 'NR > 1 && $1 < last { found = 1 } { last = $1 } END { exit !found }'
then
    ok "reorder: requests complete out of submission order"
else
    not_ok "reorder: requests complete out of submission order"
fi

# ---- SCSI faults ----

# shellcheck disable=SC2086
check 1 "check-condition: SRB_STATUS_ERROR, sense 3/11/00 with INFORMATION" \
    "status: CHECK CONDITION \(0x02\), SRB status ERROR \(0x04\)" \
    "0000  f0 00 03 00 00 00 64" \
    "sense: key 0x3 MEDIUM ERROR, ASC/ASCQ 0x11/0x00" \
    "sense 3/11/00 info 100" -- \
    $BIN $M -fault check-condition,lba=100,op=read,sense=3/11/00,count=1 \
    -guest scsi,cdb=88000000000000000064000000010000,in=512

# shellcheck disable=SC2086
check 1 "check-condition: a medium error on a range fails verify" \
    "read of LBA 0 \(128 blocks\) failed: CHECK CONDITION: MEDIUM ERROR 03/11/00" \
    "0 bad blocks, 1 I/O error" -- \
    $BIN $M -fault check-condition,lba=100-120,op=read -guest verify,lba=0-999,retry=off

# shellcheck disable=SC2086
check 0 "busy: retried by the class driver" \
    "WRITE\(16\) lba 0\+128 on 0:0: BUSY \(2 attempts hit\); the guest saw SRB_STATUS_ERROR, SCSI BUSY; retried 2 times, then succeeded" \
    "retries: unit-attention 1, scsi-busy 5" -- \
    $BIN $M -fault busy,op=write,count=5 $V

# shellcheck disable=SC2086
check 0 "task-set-full: retried as QUEUE FULL" \
    "TASK SET FULL" "queue-full 3" -- \
    $BIN $M -fault task-set-full,op=read,count=3 $V

# shellcheck disable=SC2086
check 1 "short-transfer: the residual reaches the guest" \
    "short transfer: 4096 bytes; the guest saw SRB_STATUS_DATA_OVERRUN" \
    "failed: short transfer \(4096 bytes\)" -- \
    $BIN $M -fault short-transfer,op=read,bytes=4096,count=1 $V

# shellcheck disable=SC2086
check 1 "corrupt: the pattern check names the corrupted block" \
    "read data corrupted; the guest saw SRB_STATUS_SUCCESS" \
    "verify: LBA [0-9]+: corrupted" "1 bad block \(corrupted 1\)" -- \
    $BIN $M -fault corrupt,op=read,count=1 $V

# shellcheck disable=SC2086
check 0 "unit-attention: the sense is 6/2a/01 and the class driver retries" \
    "sense 6/2a/01; retried 1 time, then succeeded" \
    "unit-attention 3" -- \
    $BIN $M -fault unit-attention,asc=2a/01,op=write,count=2 $V

# ---- backend faults ----

# shellcheck disable=SC2086
check 1 "eio: MEDIUM ERROR with the failed LBA" \
    "host I/O error EIO; the guest saw SRB_STATUS_ERROR, SCSI CHECK CONDITION, sense 3/11/00 info 384" \
    "CHECK CONDITION: MEDIUM ERROR 03/11/00" -- \
    $BIN $M -fault eio,op=read,lba=400,count=1 $V

# shellcheck disable=SC2086
check 1 "enospc: DATA PROTECT, SPACE ALLOCATION FAILED" \
    "sense 7/27/07" "DATA PROTECT 07/27/07" -- \
    $BIN $M -fault enospc,op=write,count=1 $V

# Power cut: pass 1 is written and flushed, pass 2 is cut after 3
# acknowledged writes. The next boot (a second run on the image) finds
# exactly pass 1: the flushed data, nothing of the unflushed writes.
img=$tmp/disk.img
truncate -s 16M "$img"
PM="-drive id=d0,file=$img -device virtio-scsi-pci,id=hba0 -device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi"
# shellcheck disable=SC2086
check 0 "power-cut: the run ends, the unflushed writes are dropped" \
    "power cut at [0-9]+ ns: 262144 bytes of unflushed writes lost" \
    "in flight at the power cut" -- \
    $NOLEAK $BIN $PM -fault power-cut,op=write,after=10,count=1 \
    -guest verify,size=512K,passes=2
# shellcheck disable=SC2086
check 0 "power-cut: the next boot reads exactly the flushed pass" \
    "check of pass 1's data: read back 1024 blocks: 0 bad" -- \
    $BIN $PM -guest verify,size=512K,check=1
# shellcheck disable=SC2086
check 1 "power-cut: none of the acknowledged, unflushed pass-2 writes survived" \
    "1024 bad blocks \(lost write 1024\)" -- \
    $BIN $PM -guest verify,size=512K,check=2
# Without the flush, everything written is lost.
rm -f "$img"
truncate -s 16M "$img"
# shellcheck disable=SC2086
check 0 "power-cut: without a flush every write is in the cache" \
    "524288 bytes of unflushed writes lost" -- \
    $NOLEAK $BIN $PM -fault power-cut,op=read,count=1 \
    -guest verify,size=512K,flush=off
# shellcheck disable=SC2086
check 1 "power-cut: the next boot finds nothing written" \
    "1024 bad blocks \(never written \(zeros\) 1024\)" -- \
    $BIN $PM -guest verify,size=512K,check=1

# ---- guest services ----

# shellcheck disable=SC2086
"$BIN" $M -fault pool-fail -verifier strict $V >"$out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q "HwStorFindAdapter failed" "$out" &&
    grep -q "StorPortGetUncachedExtension(8000 bytes) fails" "$out" &&
    ! grep -q "verifier violation" "$out"; then
    ok "pool-fail at HwStorFindAdapter: the adapter fails cleanly, no leak"
else
    echo "# exit $rc"
    not_ok "pool-fail at HwStorFindAdapter: the adapter fails cleanly, no leak"
fi

# shellcheck disable=SC2086
check 0 "timer-jitter: the reset watchdog fires late, recovery still works" \
    "a timer due in 500000000 ns fires [0-9]+ ns late" "verify: ok" -- \
    $BIN $M -fault hang,op=write,count=1 -fault timer-jitter,ns=300ms $V

# shellcheck disable=SC2086
check 0 "power: stop then resume under I/O, the data verified" \
    "power transition: stop" "power transition: resume" "verify: ok" -- \
    $BIN $M -fault power,power=stop,after=4,count=1 \
    -fault power,power=resume,after=4,count=1 $V

# shellcheck disable=SC2086
check 0 "power: hibernate and resume at points in time" \
    "fault #1 power,power=hibernate,at=5900us: fired 1 time" "verify: ok" -- \
    $BIN $M -fault power,power=hibernate,at=5900us \
    -fault power,power=resume,at=6000us $V

# shellcheck disable=SC2086
check 1 "power: surprise removal fails the I/O with SRB_STATUS_NO_DEVICE" \
    "power transition: surprise-removal" "SRB status NO_DEVICE" -- \
    $BIN $M -fault power,power=surprise-removal,after=4,count=1 $V

# shellcheck disable=SC2086
check 2 "a device fault on a machine without a device is refused" \
    "kind 'hang' acts on a SCSI HBA's device" -- \
    $BIN -miniport ramdisk -fault hang -guest boot

# ---- determinism, record and replay ----

# Two reorder faults: a request released by the first can be held again
# by the second while another waits, and both go when the next command
# completes. They used to go in the order of a hash table keyed by host
# addresses, so no two runs recorded the same trace.
R="-fault reorder,op=read -fault reorder,op=read"
R="$R -guest iobench,rw=randread,bs=4k,iodepth=32,count=3000"
# shellcheck disable=SC2086
"$BIN" $M $R -record "$tmp/r1.trc" >/dev/null 2>&1
# shellcheck disable=SC2086
"$BIN" $M $R -record "$tmp/r2.trc" >/dev/null 2>&1
if [ -s "$tmp/r1.trc" ] && cmp -s "$tmp/r1.trc" "$tmp/r2.trc"; then
    ok "reorder held twice: byte-identical traces"
else
    not_ok "reorder held twice: byte-identical traces"
fi

F="-fault irq-drop,op=write,count=1 -fault check-condition,op=read,p=0.2"
F="$F -fault corrupt,op=read,p=0.2 -fault timer-jitter,ns=100ms"
F="$F -fault reorder,op=write,every=3"
# shellcheck disable=SC2086
"$BIN" -machine seed=3 $M $F $V -record "$tmp/a.trc,data=full" >/dev/null 2>&1
# shellcheck disable=SC2086
"$BIN" -machine seed=3 $M $F $V -record "$tmp/b.trc,data=full" >/dev/null 2>&1
if [ -s "$tmp/a.trc" ] && cmp -s "$tmp/a.trc" "$tmp/b.trc"; then
    ok "same seed, same faults: byte-identical traces"
else
    not_ok "same seed, same faults: byte-identical traces"
fi
if [ -x "$TOOL" ]; then
    check 0 "the trace holds every firing" \
        'fault code [0-9]+ "#1 irq-drop: interrupt to cpu 0 vector 0x[0-9a-f]+ dropped"' -- \
        "$TOOL" dump "$tmp/a.trc"
else
    n=$((n + 1))
    echo "ok $n - the trace holds every firing # SKIP storemu-trace not built"
fi
check 1 "the replay re-fires the faults and checks them" \
    "fault firing\(s\) as recorded" "the run ended as recorded" -- \
    "$BIN" -replay "$tmp/a.trc"
check 1 "device=off: dropped interrupts and failed DMA acted out from the trace" \
    "the run ended as recorded" -- \
    "$BIN" -replay "$tmp/a.trc,device=off"

echo "1..$n"
[ "$fails" -eq 0 ]
