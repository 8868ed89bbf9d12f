#!/bin/sh
# SPDX-License-Identifier: MIT
#
# End-to-end: every guest program run the way a user runs it, with good
# keys (against the ramdisk miniport when it is built) and with bad ones:
# an unknown key or a bad value exits 2 with a message naming the key.
# Prints TAP.

set -u
BIN=${STOREMU:-./storemu}
n=0
fails=0
out=$(mktemp)
file=$(mktemp)
trap 'rm -f "$out" "$file"' EXIT

# expect CODE DESCRIPTION PATTERN -- ARGS...
expect() {
    code=$1; desc=$2; pat=$3; shift 4
    n=$((n + 1))
    "$BIN" "$@" >"$out" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -q -- "$pat" "$out"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc (exit $rc, wanted $code; pattern '$pat')"
        sed 's/^/# /' "$out" | head -n 12
        fails=$((fails + 1))
    fi
}

# Like expect, but reported as skipped when the ramdisk is not built.
with_ramdisk() {
    if [ "$have_ramdisk" = yes ]; then
        expect "$@"
    else
        n=$((n + 1))
        echo "ok $n - $2 # SKIP needs ramdisk"
    fi
}

"$BIN" -miniport ramdisk -guest boot,reads=0 >"$out" 2>&1 </dev/null
if grep -q "no built-in miniport" "$out"; then
    have_ramdisk=no
else
    have_ramdisk=yes
fi

# ---- listing and help ----
expect 0 "-guest help lists the programs" "t-multiqueue" -- -guest help
for p in boot verify iobench scsi power t-lifecycle t-scan t-integrity \
    t-errors t-power t-qdepth t-multiqueue; do
    expect 0 "-guest $p,help lists its keys" "\[name=\]STR" -- \
        -guest "$p,help"
    expect 2 "$p: an unknown key is refused by name" "colour" -- \
        -guest "$p,colour=red"
done
expect 0 "KEY=help explains one key" "access pattern" -- \
    -guest iobench,rw=help
expect 2 "an unknown program" "'nosuch' is not a known guest program" -- \
    -guest nosuch
expect 2 "a program that drives a miniport needs -miniport" \
    "give one with -miniport" -- -guest verify

# ---- bad values, refused by the command line ----
expect 2 "boot: reads out of range" "reads" -- -guest boot,reads=99999
expect 2 "boot: retry not a boolean" "retry" -- -guest boot,retry=maybe
expect 2 "verify: bs not a multiple of 512" "bs: '1000'" -- \
    -guest verify,bs=1000
expect 2 "verify: lba not a range" "lba: '9-3'" -- -guest verify,lba=9-3
expect 2 "verify: qd zero" "qd" -- -guest verify,qd=0
expect 2 "verify: passes not a number" "passes" -- -guest verify,passes=two
expect 2 "iobench: rw unknown" "rw: 'sideways'" -- \
    -guest iobench,rw=sideways
expect 2 "iobench: iodepth zero" "iodepth" -- -guest iobench,iodepth=0
expect 2 "iobench: jobs above 64" "jobs" -- -guest iobench,jobs=65
expect 2 "iobench: count zero" "count: '0'" -- -guest iobench,count=0
expect 2 "iobench: runtime not a time" "runtime" -- \
    -guest iobench,runtime=5parsecs
expect 2 "iobench: rwmixread above 100" "rwmixread" -- \
    -guest iobench,rwmixread=101
expect 2 "iobench: format unknown" "format: 'xml'" -- \
    -guest iobench,format=xml
expect 2 "iobench: verify not a boolean" "verify" -- \
    -guest iobench,verify=perhaps
expect 2 "iobench: size not a multiple of 512" "size" -- \
    -guest iobench,size=1000
expect 2 "scsi: cdb is required" "cdb" -- -guest scsi,in=36
expect 2 "scsi: cdb not hex" "cdb: 'xyz'" -- -guest scsi,cdb=xyz
expect 2 "scsi: cdb with an odd digit" "cdb" -- -guest scsi,cdb=120
expect 2 "scsi: cdb longer than 16 bytes" "cdb" -- \
    -guest scsi,cdb=000102030405060708090a0b0c0d0e0f10
expect 2 "scsi: in zero" "in" -- -guest scsi,cdb=12,in=0
expect 2 "power: cycles zero" "cycles" -- -guest power,cycles=0
expect 2 "power: bs not a multiple of 512" "bs" -- -guest power,bs=100
expect 2 "t-qdepth: depth zero" "depth" -- -guest t-qdepth,depth=0
expect 2 "t-power: cycles too many" "cycles" -- -guest t-power,cycles=1000

# ---- good runs, and errors only the program can see ----
with_ramdisk 0 "boot prints the inventory" "STOREMU  RAMDISK" -- \
    -miniport ramdisk -guest boot
with_ramdisk 0 "boot with no -guest at all" "boot: ok" -- \
    -miniport ramdisk
with_ramdisk 0 "verify a range" "verify: ok" -- \
    -miniport ramdisk -guest verify,lba=100-4195,bs=8K,qd=4
with_ramdisk 2 "verify: lba beyond the disk names the key" \
    "verify: lba: '0-99999999' goes beyond" -- \
    -miniport ramdisk -guest verify,lba=0-99999999
with_ramdisk 2 "verify: lba and size together" "verify: size: give lba=" -- \
    -miniport ramdisk -guest verify,lba=0-9,size=1M
with_ramdisk 2 "verify: no such LUN" "verify: lun: no LUN 7" -- \
    -miniport ramdisk -guest verify,lun=7
with_ramdisk 0 "iobench text output" "host ns per I/O" -- \
    -miniport ramdisk -guest iobench,rw=randrw,iodepth=4,count=500
with_ramdisk 0 "iobench JSON output" '^{"program":"iobench"' -- \
    -miniport ramdisk -guest iobench,count=200,format=json
with_ramdisk 2 "iobench: more jobs than vCPUs" "jobs: 2 jobs need 2 vCPUs" -- \
    -miniport ramdisk -guest iobench,jobs=2
with_ramdisk 0 "iobench: one job per vCPU" "jobs=2" -- \
    -smp 2 -miniport ramdisk -guest iobench,jobs=2,count=100,verify=on
with_ramdisk 0 "scsi INQUIRY" "RAMDISK" -- \
    -miniport ramdisk -guest scsi,cdb=12:00:00:00:24:00,in=36
with_ramdisk 1 "scsi: CHECK CONDITION exits 1, sense decoded" \
    "LOGICAL BLOCK ADDRESS OUT OF RANGE" -- -miniport ramdisk -guest \
    scsi,cdb=88000000000000100000000000010000,in=512
head -c 512 /dev/zero >"$file"
with_ramdisk 0 "scsi: data-out from a file" "512 bytes transferred" -- \
    -miniport ramdisk -guest "scsi,cdb=2a000000000000000100,out=$file"
with_ramdisk 2 "scsi: in and out together" "scsi: out: give in= or out=" -- \
    -miniport ramdisk -guest "scsi,cdb=12,in=36,out=$file"
with_ramdisk 2 "scsi: out file missing" "scsi: out: cannot read" -- \
    -miniport ramdisk -guest scsi,cdb=2a000000000000000100,out=/no/such
with_ramdisk 0 "power cycles" "power: ok: 1 cycle" -- \
    -smp 2 -miniport ramdisk -guest power,cycles=1
for t in t-lifecycle t-scan t-integrity t-errors t-power t-qdepth \
    t-multiqueue; do
    with_ramdisk 0 "$t passes" "0 unexpected failures" -- \
        -smp 2 -miniport ramdisk -guest "$t"
done

echo "1..$n"
[ "$fails" -eq 0 ]
