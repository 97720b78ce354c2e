#!/usr/bin/env python3
"""What `pyprobe watch` costs, and how soon a hang is on disk.

Method.
 1. CPU: start fixtures/bench/service20.py (20 busy threads: computing,
    contending for a lock, serving queues, an asyncio loop with 20 tasks)
    and `pyprobe watch --pid PID` beside it at its defaults (20 Hz, stall
    and stuck 30 s); from 2 s after it starts, for DURATION s (30), read the
    watch process's utime+stime (/proc/WATCH/stat, fields 14 and 15) and
    report them as a share of one CPU. The service must get no hang file.
 2. Latency: start fixtures/bench/hang_at.py KIND, which writes the wall
    clock to a file the instant its hang begins (a thread spinning on one
    line; a coroutine blocking its loop; two threads deadlocking), with
    `pyprobe watch --stuck 1 --stall 1`; the time from that instant to the
    hang's .json appearing in the out directory (its mtime: written, then
    renamed into place) less the 1 s threshold is what watch adds: up to
    one sampling period to see the hang, the paused dump, the writing.
    ROUNDS rounds (5) per kind.

 3. A/B (--compare OTHER [OTHER...]): the CPU of step 1 for several
    binaries at once, watching the same service side by side, so that each
    window of the service's work and of the machine's load is the same for
    all of them; ROUNDS windows of DURATION s, the binaries started in a
    rotating order each round. CPU from /proc/WATCH/schedstat (the task's
    run time in ns: the same quantity as utime+stime, without their 10 ms
    ticks), the load average printed at each window; medians reported.

Usage: bench/watch_cost.py [--pyprobe PATH] [--python PATH] [--duration S] [--rounds N]
                           [--compare OTHER_PYPROBE ...] [--cpu-only]
"""
import argparse
import glob
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def wait_file(path, timeout=30):
    end = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > end:
            sys.exit("timed out waiting for " + path)
        time.sleep(0.005)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def cpu_share(args, tmp):
    ready = os.path.join(tmp, "svc.ready")
    svc = subprocess.Popen([args.python, os.path.join(ROOT, "fixtures/bench/service20.py"), ready])
    try:
        wait_file(ready)
        out = os.path.join(tmp, "svc-out")
        os.mkdir(out)
        w = subprocess.Popen([args.pyprobe, "watch", "--pid", str(svc.pid), "-o", out],
                             stderr=subprocess.DEVNULL)
        time.sleep(2)
        hz = os.sysconf("SC_CLK_TCK")
        c0, t0 = cpu_ticks(w.pid), time.monotonic()
        time.sleep(args.duration)
        c1, t1 = cpu_ticks(w.pid), time.monotonic()
        w.terminate()
        w.wait()
        hangs = len(glob.glob(os.path.join(out, "*.json")))
        return 100.0 * (c1 - c0) / hz / (t1 - t0), hangs, t1 - t0
    finally:
        svc.kill()
        svc.wait()


def cpu_ns(pid):
    with open("/proc/%d/schedstat" % pid) as f:
        return int(f.read().split()[0])


def cpu_compare(args, tmp, binaries):
    """Watchers of every binary beside one service20.py; per round, each
    one's CPU share over the same window."""
    ready = os.path.join(tmp, "cmp.ready")
    svc = subprocess.Popen([args.python, os.path.join(ROOT, "fixtures/bench/service20.py"), ready])
    shares = {b: [] for b in binaries}
    try:
        wait_file(ready)
        for r in range(args.rounds):
            order = binaries[r % len(binaries):] + binaries[:r % len(binaries)]
            ws = {}
            for b in order:
                out = os.path.join(tmp, "cmp-%d-%d" % (r, binaries.index(b)))
                os.mkdir(out)
                ws[b] = (subprocess.Popen([b, "watch", "--pid", str(svc.pid), "-o", out],
                                          stderr=subprocess.DEVNULL), out)
            time.sleep(2)
            c0 = {b: cpu_ns(w.pid) for b, (w, _) in ws.items()}
            t0 = time.monotonic()
            time.sleep(args.duration)
            c1 = {b: cpu_ns(w.pid) for b, (w, _) in ws.items()}
            t1 = time.monotonic()
            for b, (w, out) in ws.items():
                w.terminate()
                w.wait()
                if glob.glob(os.path.join(out, "*.json")):
                    sys.exit("%s: a hang file for the busy service" % b)
                shares[b].append(100.0 * (c1[b] - c0[b]) / 1e9 / (t1 - t0))
            print("round %d: %s; load average %s" % (
                r + 1, ", ".join("%s %.3f%%" % (b, shares[b][-1]) for b in binaries),
                " ".join(open("/proc/loadavg").read().split()[:3])), flush=True)
    finally:
        svc.kill()
        svc.wait()
    return shares


def latency(args, tmp, kind, round_):
    start = os.path.join(tmp, "%s-%d.start" % (kind, round_))
    out = os.path.join(tmp, "%s-%d" % (kind, round_))
    os.mkdir(out)
    t = subprocess.Popen([args.python, os.path.join(ROOT, "fixtures/bench/hang_at.py"), kind, start])
    try:
        time.sleep(0.5)
        w = subprocess.Popen([args.pyprobe, "watch", "--pid", str(t.pid), "--stuck", "1",
                              "--stall", "1", "-o", out, "--once"], stderr=subprocess.DEVNULL)
        w.wait(timeout=60)
        wait_file(start)
        began = float(open(start).read())
        files = glob.glob(os.path.join(out, "*.json"))
        if len(files) != 1:
            sys.exit("%s: expected one hang file, got %s" % (kind, files))
        return os.stat(files[0]).st_mtime - began - 1.0
    finally:
        t.kill()
        t.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyprobe", default=shutil.which("pyprobe") or os.path.join(ROOT, "build", "src", "pyprobe"))
    ap.add_argument("--python", default="/root/.pyenv/versions/3.11.7/bin/python3.11")
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--compare", nargs="+", metavar="PYPROBE", default=[])
    ap.add_argument("--cpu-only", action="store_true", help="no latency rounds")
    args = ap.parse_args()
    print("# %s, %d CPUs, %s, %s, %s; load average %s" % (
        platform.node(), os.cpu_count(), args.python, args.pyprobe,
        time.strftime("%Y-%m-%d %H:%M:%S"), " ".join(open("/proc/loadavg").read().split()[:3])))
    with tempfile.TemporaryDirectory() as tmp:
        if args.compare:
            binaries = [args.pyprobe] + args.compare
            shares = cpu_compare(args, tmp, binaries)
            for b in binaries:
                print("%s: median %.3f%% of one CPU (min %.3f, max %.3f) over %d windows of %.0f s"
                      % (b, statistics.median(shares[b]), min(shares[b]), max(shares[b]),
                         len(shares[b]), args.duration))
            return
        share, hangs, wall = cpu_share(args, tmp)
        print("CPU of pyprobe watch (20 Hz) beside service20.py: %.2f%% of one CPU over %.1f s; "
              "%d hang files (expected 0)" % (share, wall, hangs))
        for kind in ("spin", "stall", "deadlock"):
            got = [latency(args, tmp, kind, r) for r in range(args.rounds)]
            print("%-8s hang start -> hang file on disk, less the 1 s threshold: median %.0f ms, "
                  "max %.0f ms (%d rounds)" % (kind, 1000 * statistics.median(got), 1000 * max(got),
                                               len(got)))


if __name__ == "__main__":
    main()
