#!/bin/sh
# SPDX-License-Identifier: MIT
#
# End-to-end: record and replay as a user runs them (issue 8). Record a
# RAM-disk and a virtio-scsi run, replay them with the device models and
# without (device=off), stop at an event in gdb, look at the traces with
# storemu-trace (dump, stats, diff, export --perfetto), and the refusals:
# a changed image, a damaged trace, options next to -replay, device=off
# on a data=hash trace. Prints TAP. Run from the repository root with
# ./storemu and ./storemu-trace built.

set -u
BIN=${STOREMU:-./storemu}
TOOL=${STOREMU_TRACE:-./storemu-trace}
. "$(dirname "$0")/tap.inc"

# check CODE PATTERN DESCRIPTION -- COMMAND...: exit code and output
check() {
    code=$1; pat=$2; desc=$3; shift 4
    "$@" >"$out" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$out"; then
        ok "$desc"
    else
        echo "# exit $rc, wanted $code; pattern '$pat'"
        not_ok "$desc"
    fi
}

if [ ! -x "$TOOL" ]; then
    echo "1..1"
    skip "record and replay" "storemu-trace is not built"
    exit 0
fi

# ---- RAM disk ----
rd=$tmp/ramdisk.trc
check 0 "storemu: record: $rd:" "record a RAM-disk iobench run" -- \
    "$BIN" -smp 2 -machine sched=random,seed=5 -miniport ramdisk \
    -guest iobench,count=500,jobs=2,rw=randrw,verify=on -record "$rd"
check 0 "the run ended as recorded" "replay it from the trace alone" -- \
    "$BIN" -replay "$rd"
check 0 "bytes per I/O" "storemu-trace stats" -- "$TOOL" stats "$rd"
check 0 "srb-start   req" "storemu-trace dump shows requests" -- \
    "$TOOL" dump "$rd"
check 2 "only -trace may be added" "options next to -replay are refused" -- \
    "$BIN" -replay "$rd" -smp 4
check 2 "data=full" "device=off needs data=full" -- \
    "$BIN" -replay "$rd,device=off"

# Same seed: the same bytes; another seed: a difference, with context.
"$BIN" -smp 2 -machine sched=random,seed=5 -miniport ramdisk \
    -guest iobench,count=500,jobs=2,rw=randrw,verify=on \
    -record "$tmp/again.trc" >/dev/null 2>&1
check 0 "identical" "same seed, identical trace" -- \
    "$TOOL" diff "$rd" "$tmp/again.trc"
if cmp -s "$rd" "$tmp/again.trc"; then
    ok "same seed, byte-identical files"
else
    not_ok "same seed, byte-identical files"
fi
"$BIN" -smp 2 -machine sched=random,seed=6 -miniport ramdisk \
    -guest iobench,count=500,jobs=2,rw=randrw,verify=on \
    -record "$tmp/other.trc" >"$out" 2>&1
check 1 "first difference at record" "another seed differs, diff says where" \
    -- "$TOOL" diff "$rd" "$tmp/other.trc"

# stop-at: a report, the replay goes on, and a breakpoint gdb can take.
check 0 "reached event 40" "stop-at=40" -- "$BIN" -replay "$rd,stop-at=40"
if command -v gdb >/dev/null 2>&1; then
    check 0 "Breakpoint 1, storemu_replay_stop (event=" \
        "gdb breaks in storemu_replay_stop" \
        -- gdb -batch -ex 'break storemu_replay_stop' -ex run -ex bt \
        --args "$BIN" -replay "$rd,stop-at=40"
else
    skip "gdb breaks in storemu_replay_stop" "gdb not installed"
fi

# A damaged trace: the reader names the offset; replay stops there.
cp "$rd" "$tmp/cut.trc"
truncate -s 900 "$tmp/cut.trc"
check 1 "truncated at byte 900" "a truncated trace is named as such" -- \
    "$TOOL" dump "$tmp/cut.trc"
# The replay stops in the middle of the guest program: its threads are
# abandoned and their host memory goes back with the process, which
# LeakSanitizer would report; leak checking is off for this run only.
check 2 "replay cannot go on after event" "a truncated trace replays up to the cut" \
    -- env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$BIN" -replay "$tmp/cut.trc"
cp "$rd" "$tmp/bad.trc"
printf 'X' | dd of="$tmp/bad.trc" bs=1 seek=2000 conv=notrunc 2>/dev/null
check 1 "corrupt at bytes" "a corrupt chunk is named with its offset" -- \
    "$TOOL" stats "$tmp/bad.trc"

# export --perfetto: JSON a trace viewer loads.
check 0 "traceEvents" "export --perfetto" -- "$TOOL" export --perfetto "$rd"
"$TOOL" export --perfetto "$rd" -o "$tmp/trace.json"
if command -v python3 >/dev/null 2>&1; then
    check 0 "srb" "the export is JSON with requests and IRQL bands" -- \
        python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
cats = {e.get("cat") for e in d["traceEvents"]}
assert {"srb", "irql"} <= cats, cats
print(" ".join(sorted(c for c in cats if c)))' "$tmp/trace.json"
else
    skip "the export is JSON" "python3 not installed"
fi

# ---- virtio-scsi on an image ----
if ! "$BIN" -device help 2>/dev/null | grep -q virtio-scsi-pci ||
    "$BIN" -miniport virtio-scsi -guest boot 2>&1 | grep -q "no built-in"; then
    skip "virtio-scsi record and replay" "virtio-scsi not in this build"
else
    img=$tmp/disk.img
    truncate -s 8M "$img"
    vs="-device virtio-scsi-pci,id=hba0 -device scsi-hd,drive=d0,bus=hba0 -miniport virtio-scsi"
    # shellcheck disable=SC2086
    check 0 "is writable without snapshot=on" \
        "a writable image is warned about" -- \
        "$BIN" -drive "id=d0,file=$img" $vs -guest boot,reads=0 \
        -record "$tmp/w.trc"
    # A temporary image starts as zeros in the replay too: no warning,
    # and the header names no file.
    "$BIN" -drive id=d0,size=8M $vs -guest boot,reads=0 \
        -record "$tmp/t.trc" >"$out" 2>&1 </dev/null
    if [ $? -eq 0 ] && ! grep -q "writable without" "$out" &&
        "$TOOL" dump "$tmp/t.trc" 2>/dev/null | grep -q "(temporary)"; then
        ok "a temporary image is not warned about"
    else
        not_ok "a temporary image is not warned about"
    fi
    # shellcheck disable=SC2086
    check 0 "storemu: record:" "record virtio-scsi with data=full" -- \
        "$BIN" -drive "id=d0,file=$img,snapshot=on" $vs \
        -guest iobench,count=300,rw=randrw -record "$tmp/vs.trc,data=full"
    check 0 "the run ended as recorded" "replay virtio-scsi with the device" \
        -- "$BIN" -replay "$tmp/vs.trc"
    check 0 "device=off), the run ended as recorded" \
        "replay virtio-scsi without device or image" -- \
        "$BIN" -replay "$tmp/vs.trc,device=off"
    check 0 "notify" "dump names virtio-scsi registers" -- \
        "$TOOL" dump "$tmp/vs.trc"
    printf 'Z' | dd of="$img" bs=1 seek=4096 conv=notrunc 2>/dev/null
    check 2 "is not the one recorded" "a changed image is refused" -- \
        "$BIN" -replay "$tmp/vs.trc"
    check 0 "device=off), the run ended as recorded" \
        "device=off does not need the image" -- \
        "$BIN" -replay "$tmp/vs.trc,device=off"
fi

echo "1..$n"
[ "$fails" -eq 0 ]
