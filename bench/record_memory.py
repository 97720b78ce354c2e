#!/usr/bin/env python3
"""How pyprobe record's memory grows with a long recording.

Method. pyprobe keeps every sample in memory until it writes the output
(16-byte records, src/profile.h) plus the distinct stacks, frames and
strings it has seen. Memory is a function of the number of samples and of
distinct stacks, not of time, so we compress time: per interpreter, record
fixtures/bench/workload.py (a steady workload: a fixed set of ~20 distinct
stacks) at 1000 Hz for D seconds (default 60) with
`pyprobe record --pid PID -r 1000 -d D -f FMT -o OUT --no-progress`, and
read VmRSS from /proc/PYPROBE/status every 0.5 s. The samples kept by time
t are estimated as t x the rate of kept samples over the run (from
pyprobe's end-of-recording line: samples less torn ones, which are dropped
and stored nowhere; the workload has one thread). A least-squares line of RSS
against samples, over the points after the first second, gives bytes per
sample; the peak (VmHWM, polled every 50 ms until pyprobe exits, so it
includes most of writing the output) is reported too. (os.wait4's
ru_maxrss would not do: Linux carries the forking Python parent's peak
across exec.) Extrapolation to one hour at 100 Hz
(360 000 samples): RSS at 1 s + bytes per sample x 360 000. That holds for
a process whose set of stacks stops growing, as here; a program that keeps
reaching new stacks adds their cost (a stack node per new frame) on top.

Usage: bench/record_memory.py [--versions 3.11] [--quick] [--duration D]
                              [--format collapsed|raw]
"""
import os
import tempfile
import threading
import time

from recordlib import (WORKLOAD, Target, interpreters, parser, record, table, conditions)

HOUR_SAMPLES = 360_000


def rss_hwm_kib(pid):
    """(VmRSS, VmHWM) in KiB, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            v = {k: int(rest.split()[0]) for k, _, rest in
                 (line.partition(":") for line in f) if k in ("VmRSS", "VmHWM")}
        return v["VmRSS"], v["VmHWM"]
    except (OSError, KeyError):
        return None


def fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def main():
    ap = parser(__doc__)
    ap.add_argument("--duration", type=float, help="seconds at 1000 Hz (default 60, quick 20)")
    # "raw" is the old name of the recording's format (-f pyprobe)
    ap.add_argument("--format", default="collapsed", choices=("collapsed", "pyprobe", "raw"))
    args = ap.parse_args()
    dur = args.duration or (20 if args.quick else 60)
    print(f"# {conditions()}")
    print(f"pyprobe record memory, workload.py at 1000 Hz for {dur:g} s, -f {args.format}; "
          f"{args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        points = []  # (seconds since start, KiB)
        hwm = [0]

        def poll(popen):
            def run():
                t0 = time.perf_counter()
                last = -1.0
                while True:
                    v = rss_hwm_kib(popen.pid)
                    if not v:
                        break
                    now = time.perf_counter() - t0
                    hwm[0] = max(hwm[0], v[1])
                    if now - last >= 0.5:
                        points.append((now, v[0]))
                        last = now
                    time.sleep(0.05)
            threading.Thread(target=run, daemon=True).start()

        with Target(py, [WORKLOAD]) as t, tempfile.TemporaryDirectory() as d:
            fmt = "pyprobe" if args.format == "raw" else args.format
            out = os.path.join(d, "out.pyprobe") if fmt == "pyprobe" else "/dev/null"
            s, _, _, _ = record(args.pyprobe, ["--pid", t.pid], 1000, dur, out=out,
                                 fmt=fmt, on_start=poll)
        # samples kept: one thread, so every snapshot is one sample, less
        # the torn ones, which are dropped and cost no memory
        rate = (s["samples"] - s["torn"]) / s["secs"]
        pts = [(tt * rate, kib * 1024) for tt, kib in points if 1.0 <= tt <= s["secs"]]
        slope, icpt = fit([p[0] for p in pts], [p[1] for p in pts])
        at1 = icpt + slope * rate
        hour = at1 + slope * HOUR_SAMPLES
        rows.append([label, s["samples"] - s["torn"], f"{at1 / 2**20:.1f}", f"{pts[-1][1] / 2**20:.1f}",
                     f"{hwm[0] / 1024:.1f}", f"{slope:.1f}", f"{hour / 2**20:.1f}"])
    table(["interpreter", "kept samples", "RSS at 1 s MiB", "RSS at end MiB", "peak MiB",
           "bytes/sample", "1 h @ 100 Hz MiB"], rows)

    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
