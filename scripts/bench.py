#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""make bench: storemu's I/O path measured against fio on the same host.

One run on one host, on one 1 GiB image kept in the page cache (each
measurement, storemu's and fio's alike, on a fresh, synced copy of it),
pinned to one core, after a discarded warm-up pass:
  - storemu -guest iobench, 4 KiB randread/randwrite at iodepth 1 and 32:
    host I/Os per second and host ns per I/O (median of several runs);
  - the same with -record (overhead %, trace bytes per I/O), when built,
    and with -drive ...,mmap=on (reads served from a mapping of the image);
  - replay speed of a recorded randread run, device=on and device=off;
  - fio with ioengine=psync (iodepth 1) for as many I/Os, in the same
    rounds as storemu's runs, and the ratio storemu / fio-psync as the
    median of the rounds' ratios; fio io_uring (iodepth 32) once, for
    reference;
  - instructions per I/O from callgrind (verifier on and off, and with
    -record), as the difference of two run lengths so start-up cancels
    (exact and repeatable);
  - system calls per I/O (strace -c, same difference) and peak RSS.
Prints one table and writes build/bench.json.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STOREMU = os.path.join(ROOT, "storemu")
IMAGE_SIZE = 1 << 30
RUNS = 5
COUNT = {1: 100000, 32: 200000}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def pinned(cmd):
    return (["taskset", "-c", "0"] + cmd) if shutil.which("taskset") else cmd


def run(cmd, env=None, check=True):
    """Run @cmd; returns (stdout, stderr)."""
    p = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    out, err = p.stdout.decode(), p.stderr.decode()
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode,
                                                   err[-2000:]))
    return out, err


def run_rss(cmd, env=None):
    """Run @cmd and return (stdout, peak RSS KiB) using wait4's rusage.
    Its stderr is shown only when it fails: a recorded run on the bench's
    disposable image copy warns that the image is writable, as it should."""
    pid = os.fork()
    if pid == 0:
        os.chdir(ROOT)
        for name, target in (("out.txt", 1), ("err.txt", 2)):
            fd = os.open(os.path.join(tmpdir, name),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, target)
        os.execvpe(cmd[0], cmd, env or os.environ)
    _, status, ru = os.wait4(pid, 0)
    with open(os.path.join(tmpdir, "out.txt")) as f:
        out = f.read()
    with open(os.path.join(tmpdir, "err.txt")) as f:
        err = f.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd),
                                              (out + err)[-2000:]))
    return out, ru.ru_maxrss


def storemu_has(args):
    try:
        out, err = run([STOREMU] + args, check=False)
    except OSError:
        return False
    return "not available" not in err and "no built-in" not in err


def storemu_args(miniport, extra_guest, record=None, mmap=False):
    if miniport == "virtio-scsi":
        drive = "id=d0,file=%s,cache=writeback" % image
        if mmap:
            drive += ",mmap=on"
        dev = ["-drive", drive,
               "-device", "virtio-scsi-pci,id=hba0",
               "-device", "scsi-hd,drive=d0,bus=hba0",
               "-miniport", "virtio-scsi"]
    else:
        dev = ["-miniport", "ramdisk,param.size=1G"]
    if record:
        dev += ["-record", record]
    return [STOREMU, "-m", "2G"] + dev + ["-guest", "iobench," + extra_guest]


def fresh_image():
    """Give the next measurement its own copy of the base image, written
    back and in the page cache: earlier runs leave the cache in states
    (folio sizes, dirty pages) that favour or hurt the next one."""
    shutil.copyfile(base_image, image)
    os.sync()
    with open(image, "rb") as f:
        while f.read(1 << 24):
            pass


def iobench(miniport, rw, qd, count, record=None, mmap=False):
    fresh_image()
    guest = "rw=%s,bs=4k,iodepth=%d,count=%d,format=json" % (rw, qd, count)
    out, rss = run_rss(pinned(storemu_args(miniport, guest, record, mmap)))
    line = [l for l in out.splitlines() if l.startswith("{")]
    if not line:
        raise RuntimeError("iobench printed no JSON:\n" + out[-2000:])
    j = json.loads(line[-1])
    return j, rss


def host_numbers(j):
    h = j.get("host", {})
    return h.get("ios_per_sec", 0.0), h.get("ns_per_io", 0.0)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def fio(engine, rw, qd, count=None):
    """fio's I/Os per second on a fresh copy of the image: @count I/Os, or
    two seconds after half a second's ramp when no count is given."""
    fresh_image()
    cmd = ["fio", "--name=b", "--filename=" + image, "--rw=" + rw,
           "--bs=4k", "--iodepth=%d" % qd, "--ioengine=" + engine,
           "--size=%d" % IMAGE_SIZE, "--norandommap", "--randrepeat=1",
           "--invalidate=0",  # keep the warmed page cache
           "--output-format=json"]
    if count:
        cmd.append("--io_size=%d" % (count * 4096))
    else:
        cmd += ["--runtime=2", "--time_based", "--ramp_time=0.5"]
    out, _ = run(pinned(cmd))
    j = json.loads(out[out.index("{"):])
    job = j["jobs"][0]
    side = job["read"] if rw.endswith("read") else job["write"]
    return side["iops"]


def replay_speed(miniport, data):
    """Record a randread qd32 run, replay it; events per host second."""
    tr = os.path.join(tmpdir, "replay.trace")
    iobench(miniport, "randread", 32, COUNT[32], tr + ",data=" + data)
    out, err = run(pinned([STOREMU, "-replay",
                           tr + (",device=off" if data == "full" else "")]))
    m = re.search(r"([0-9]+) events per host second", out + err)
    if not m:
        raise RuntimeError("replay printed no speed:\n" + (out + err)[-2000:])
    return int(m.group(1))


def callgrind_instructions(miniport, count, verifier="on", record=False):
    out_file = os.path.join(tmpdir, "cg.out")
    env = dict(os.environ, STOREMU_AIO="sync")
    guest = "rw=randread,bs=4k,iodepth=32,count=%d,format=json" % count
    trace = os.path.join(tmpdir, "cg.trace") if record else None
    args = storemu_args(miniport, guest, trace)
    args[1:1] = ["-verifier", verifier]
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file,
           ] + args
    run(cmd, env=env)
    with open(out_file) as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    raise RuntimeError("no callgrind summary")


def syscalls(miniport, count):
    out_file = os.path.join(tmpdir, "strace.txt")
    guest = "rw=randread,bs=4k,iodepth=32,count=%d,format=json" % count
    run(["strace", "-f", "-c", "-o", out_file] + storemu_args(miniport, guest))
    with open(out_file) as f:
        for line in f:
            if line.strip().endswith("total"):
                return int(line.split()[3])
    raise RuntimeError("no strace total")


def main():
    global image, base_image, tmpdir
    if not os.path.exists(STOREMU):
        sys.exit("bench: build first (make)")
    tmpdir = tempfile.mkdtemp(prefix="storemu-bench-")
    base_image = os.path.join(tmpdir, "base.img")
    image = os.path.join(tmpdir, "bench.img")
    results = {"runs": RUNS, "image_bytes": IMAGE_SIZE}
    try:
        log("bench: writing a 1 GiB image and warming the page cache")
        with open(base_image, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(IMAGE_SIZE >> 20):
                f.write(block)
        fresh_image()
        if storemu_has(storemu_args("virtio-scsi", "count=1")[:-2] +
                       ["-guest", "boot"]):
            miniport = "virtio-scsi"
        else:
            miniport = "ramdisk"
            log("bench: the virtio-scsi miniport is not built; measuring the "
                "RAM-disk miniport (no device, no image) instead")
        results["path"] = miniport
        have_record = storemu_has(["-record", os.path.join(tmpdir, "x.trace")])
        have_mmap = miniport == "virtio-scsi" and storemu_has(
            storemu_args(miniport, "count=1", mmap=True)[:-2] +
            ["-guest", "boot"])
        have_fio = shutil.which("fio") is not None
        rows = []
        for rw in ("randread", "randwrite"):
            for qd in (1, 32):
                if have_mmap:
                    # The same, reading through a mapping of the image.
                    iobench(miniport, rw, qd, COUNT[qd] // 10, mmap=True)
                    mm = [host_numbers(iobench(miniport, rw, qd, COUNT[qd],
                                               mmap=True)[0])[0]
                          for _ in range(RUNS)]
                iobench(miniport, rw, qd, COUNT[qd] // 10)  # warm-up
                # Plain runs, recorded runs and fio psync runs of as many
                # I/Os alternate, so that the host's drift over the minutes
                # of the bench falls on all alike; the record overhead and
                # the ratio to fio are the medians of each round's.
                tr = os.path.join(tmpdir, "r.trace")
                ios, ns, rec, ovh, rss = [], [], [], [], 0
                psync, ratio = [], []
                for _ in range(RUNS):
                    j, r = iobench(miniport, rw, qd, COUNT[qd])
                    a, b = host_numbers(j)
                    ios.append(a)
                    ns.append(b)
                    rss = max(rss, r)
                    if have_record:
                        j, _ = iobench(miniport, rw, qd, COUNT[qd], tr)
                        rec.append(host_numbers(j)[0])
                        ovh.append(100.0 * (1 - rec[-1] / a))
                    if have_fio:
                        psync.append(fio("psync", rw, 1, COUNT[qd]))
                        ratio.append(a / psync[-1])
                row = {"rw": rw, "iodepth": qd, "ios_per_sec": median(ios),
                       "ns_per_io": median(ns), "peak_rss_kib": rss}
                if have_mmap:
                    row["mmap_ios_per_sec"] = median(mm)
                if have_fio:
                    row["psync_qd1_ios_per_sec"] = median(psync)
                    row["vs_psync"] = median(ratio)
                    row["vs_psync_runs"] = ratio
                if have_record:
                    row["record_ios_per_sec"] = median(rec)
                    row["record_overhead_pct"] = median(ovh)
                    row["record_overhead_pct_runs"] = ovh
                    row["trace_bytes_per_io"] = os.path.getsize(tr) / COUNT[qd]
                rows.append(row)
                log("bench: storemu %s qd%d: %.0f IO/s" % (rw, qd,
                                                           row["ios_per_sec"]))
        results["storemu"] = rows
        if have_record:
            results["replay_events_per_sec"] = replay_speed(miniport, "hash")
            results["replay_device_off_events_per_sec"] = replay_speed(
                miniport, "full")
        base = {}
        if have_fio:
            for rw in ("randread", "randwrite"):
                base[rw] = {"psync_qd1": fio("psync", rw, 1),
                            "io_uring_qd32": fio("io_uring", rw, 32)}
            results["fio"] = base
        if shutil.which("valgrind"):
            n1, n2 = 2000, 6000
            i1 = callgrind_instructions(miniport, n1)
            i2 = callgrind_instructions(miniport, n2)
            results["instructions_per_io"] = (i2 - i1) / (n2 - n1)
            o1 = callgrind_instructions(miniport, n1, "off")
            o2 = callgrind_instructions(miniport, n2, "off")
            results["instructions_per_io_verifier_off"] = (o2 - o1) / (n2 - n1)
            if have_record:
                # What recording adds, counted: wall-clock overhead swings
                # by tens of percent on a shared host.
                r1 = callgrind_instructions(miniport, n1, record=True)
                r2 = callgrind_instructions(miniport, n2, record=True)
                results["instructions_per_io_recording"] = (r2 - r1) / (n2 - n1)
        if shutil.which("strace"):
            n1, n2 = 5000, 25000
            s1, s2 = syscalls(miniport, n1), syscalls(miniport, n2)
            results["syscalls_per_io"] = (s2 - s1) / (n2 - n1)
        guest_ram_kib = 2 << 20
        results["guest_ram_kib"] = guest_ram_kib
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    print("storemu benchmark (%s path, 4 KiB, one core, median of %d)"
          % (results["path"], RUNS))
    print("%-10s %3s %12s %10s %11s %9s %10s %9s %12s %9s" %
          ("rw", "qd", "IO/s", "ns/IO", "vs psync", "rec ovh", "B/IO rec",
           "RSS MiB", "mmap IO/s", "vs psync"))
    for r in results["storemu"]:
        ps = r.get("psync_qd1_ios_per_sec")
        mm = r.get("mmap_ios_per_sec")
        print("%-10s %3d %12.0f %10.0f %11s %9s %10s %9.0f %12s %9s" % (
            r["rw"], r["iodepth"], r["ios_per_sec"], r["ns_per_io"],
            ("%.2fx" % r["vs_psync"]) if ps else "-",
            ("%.1f%%" % r["record_overhead_pct"])
            if "record_overhead_pct" in r else "-",
            ("%.1f" % r["trace_bytes_per_io"])
            if "trace_bytes_per_io" in r else "-",
            r["peak_rss_kib"] / 1024,
            ("%.0f" % mm) if mm else "-",
            ("%.2fx" % (mm / ps)) if mm and ps else "-"))
    for rw, b in results.get("fio", {}).items():
        print("fio %-9s psync qd1 %10.0f IO/s   io_uring qd32 %10.0f IO/s" %
              (rw, b["psync_qd1"], b["io_uring_qd32"]))
    if "instructions_per_io" in results:
        print("instructions per I/O (callgrind, randread qd32): %.0f "
              "(%.0f with -verifier off)" %
              (results["instructions_per_io"],
               results["instructions_per_io_verifier_off"]))
    if "instructions_per_io_recording" in results:
        print("instructions per I/O with -record: %.0f (+%.0f%%)" %
              (results["instructions_per_io_recording"],
               100.0 * (results["instructions_per_io_recording"] /
                        results["instructions_per_io"] - 1)))
    if "replay_events_per_sec" in results:
        print("replay (randread qd32 trace): %.2fM events per host second "
              "device=on, %.2fM device=off" %
              (results["replay_events_per_sec"] / 1e6,
               results["replay_device_off_events_per_sec"] / 1e6))
    if "syscalls_per_io" in results:
        print("system calls per I/O (strace, randread qd32): %.2f" %
              results["syscalls_per_io"])
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    with open(os.path.join(ROOT, "build", "bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    print("(also in build/bench.json)")


if __name__ == "__main__":
    main()
