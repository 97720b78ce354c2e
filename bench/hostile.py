#!/usr/bin/env python3
"""What hostile stacks cost: a 100,000-deep stack and a looping frame chain.

Method: for each interpreter, start fixtures/hostile/hostile.py in mode
`deep` (a thread 100,000 recursive calls deep, asleep at the bottom) and
then in mode `cycle` (a thread whose outer frame links back to its inner
one), and wait for its `ready`. Against each:
  - `pyprobe dump --pid PID --json`, paused (default) and --nonblocking,
    RUNS times each, timing the whole command (spawn to exit) with
    time.perf_counter() in this process; median and max. Each dump is
    parsed and the worker thread's frames counted and its "stack" (or the
    old "torn") noted, so a read that gave up cannot look fast.
  - `pyprobe record --pid PID -d SECS --idle -f collapsed -o /dev/null`:
    the wall time of the command, and pyprobe's own end-of-recording
    figures: samples, and the sampling cost median and p99 (the wall time
    of one snapshot of every thread, timed inside pyprobe). On the cycle,
    the p99 is the worst case of one sample; with -d 2 at 100 Hz, ~200
    samples, half of them of the looping thread.
Binary: a release build without sanitizers (bench/recordlib.py's default,
build-bench/src/pyprobe, else build/), or --pyprobe.

Usage: bench/hostile.py [--runs N] [--seconds S] [--versions ...] [--pyprobe PATH]
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time

import recordlib

FIXTURE = os.path.join(recordlib.ROOT, "fixtures", "hostile", "hostile.py")
TIMEOUT_S = 600   # the issue saw 28 s for one recording; give a hang room to show
COST = re.compile(r"(\d+) samples in ([\d.]+) s .*sampling cost median ([\d.]+) µs, "
                  r"p99 ([\d.]+) µs")


def start(python, mode):
    p = subprocess.Popen([python, "-X", "utf8", "-E", "-s", "-B", FIXTURE, mode, "3600"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = p.stdout.readline()
    if p.stdout.readline().strip() != b"ready":
        p.kill()
        sys.exit(f"{python} {mode}: fixture not ready: {p.stderr.read().decode()[-2000:]}")
    return p, json.loads(first)


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT_S)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr.decode()[-2000:]}")
    return dt, r


def worker_shape(out, tid):
    """(frames shown, how: "whole"/"cut_..."/"torn"/...) of the worker."""
    d = json.loads(out)
    for t in d["threads"]:
        if t["native_id"] == tid:
            how = t.get("stack") or ("torn" if t.get("torn") else "ok")
            return len(t["frames"]), how
    return 0, "missing"


def dumps(pyprobe, pid, tid, runs):
    row = {}
    for label, extra in (("paused", []), ("nonblocking", ["--nonblocking"])):
        ts, shapes = [], set()
        for _ in range(runs):
            dt, r = timed([pyprobe, "dump", "--pid", str(pid), "--json", *extra])
            ts.append(dt)
            shapes.add("%d %s" % worker_shape(r.stdout, tid))
        row[label] = (statistics.median(ts), max(ts), ",".join(sorted(shapes)))
    return row


def record(pyprobe, pid, seconds):
    dt, r = timed([pyprobe, "record", "--pid", str(pid), "-d", str(seconds), "--idle",
                   "--no-progress", "-f", "collapsed", "-o", "/dev/null"])
    err = r.stderr.decode()
    m = COST.search(err)
    if not m:
        sys.exit(f"no summary line:\n{err}")
    return dt, int(m.group(1)), float(m.group(3)), float(m.group(4))


def main():
    ap = recordlib.parser(__doc__)
    ap.add_argument("--runs", type=int, default=5, help="dumps per mode (default 5)")
    ap.add_argument("--seconds", type=float, default=2.0, help="record -d (default 2)")
    args = ap.parse_args()
    print(f"# {recordlib.conditions()}")
    print(f"hostile stacks (fixtures/hostile/hostile.py); {args.pyprobe}")
    print(f"dumps: {args.runs} per mode, wall ms median / max, the worker's frames shown "
          f"and how; record -d {args.seconds} --idle: wall s, samples, sampling cost "
          f"median and p99 (ms)\n")
    rows = []
    for label, python in recordlib.interpreters(args):
        for mode in ("deep", "cycle"):
            p, info = start(python, mode)
            try:
                tid = info["threads"]["worker"]["native_id"]
                d = dumps(args.pyprobe, p.pid, tid, args.runs)
                wall, samples, med, p99 = record(args.pyprobe, p.pid, args.seconds)
            finally:
                p.kill()
                p.wait()
            pa, nb = d["paused"], d["nonblocking"]
            rows.append([label, mode, f"{pa[0] * 1e3:.1f} / {pa[1] * 1e3:.1f}", pa[2],
                         f"{nb[0] * 1e3:.1f} / {nb[1] * 1e3:.1f}", nb[2], f"{wall:.2f}",
                         samples, f"{med / 1e3:.3f}", f"{p99 / 1e3:.3f}"])
            print(f"  {label} {mode}: done", file=sys.stderr, flush=True)
    recordlib.table(["interpreter", "target", "dump paused ms", "frames",
                     "dump nonblocking ms", "frames", "record wall s", "samples",
                     "cost median ms", "cost p99 ms"], rows)
    print(f"# {recordlib.conditions()}")

if __name__ == "__main__":
    main()
