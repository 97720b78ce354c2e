#!/usr/bin/env python3
"""Target slowdown, measured in alternating windows of one run.

Why. record_slowdown.py compares separate runs, profiled and not; on these
shared VMs two runs of the same thing differ by more than the 2-4% the
issue asks about (profiled runs even came out faster). Here both
conditions share one run of the target, interleaved finely enough that
the host's drift hits them alike.

Method. Per interpreter and rate (1000, 10000 Hz), start
fixtures/bench/workload.py --progress 20 (the 26-frame pure-Python work,
printing the monotonic time after every 20 units, ~2 ms) and attach
`pyprobe record --pid PID -r RATE -f collapsed -o /dev/null` to it. Then
alternate 200 ms windows: pyprobe running, pyprobe stopped (SIGSTOP: a
non-blocking recording never stops or traces the target, so a stopped
pyprobe costs it nothing). The target's work rate in each window (units
per second from its own progress lines, the first 20 ms after each switch
left out) is compared with the next window's: the slowdown is the median
over the pairs of (rate stopped / rate running - 1), with the 25th-75th
percentile of the pairs for spread. The same alternation with no pyprobe
at all (the A/A row, "none") shows what the method reads when there is
nothing to find. Each is done twice: with the target kept on CPU 0 and
pyprobe on CPU 1 (what reading the target costs it), and with both left
to the scheduler (on a 2-CPU machine shared with other work they often
share a CPU, and pyprobe's wake-ups then preempt the target).

Usage: bench/record_slowdown_paired.py [--versions 3.8,3.11] [--quick] [--windows N]
"""
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

from recordlib import WORKLOAD, conditions, interpreters, parser, table

WINDOW = 0.200
SETTLE = 0.020


class Progress:
    """The target's "TIME UNITS" lines, collected as they come."""

    def __init__(self, stream):
        self.points = []
        self.t = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.t.start()

    def _read(self, stream):
        for line in stream:
            f = line.split()
            if len(f) == 2:
                self.points.append((float(f[0]), int(f[1])))

    def rate(self, t0, t1):
        pts = [p for p in list(self.points) if t0 <= p[0] <= t1]
        if len(pts) < 3:
            return None
        return (pts[-1][1] - pts[0][1]) / (pts[-1][0] - pts[0][0])


def quartiles(xs):
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def on_cpu(cpu):
    """A preexec_fn that keeps the child on one CPU (None: anywhere)."""
    return None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))


def measure(pyprobe, py, rate, windows, pin):
    """Per-pair slowdowns (%) of the target with pyprobe running vs stopped;
    rate None: no pyprobe (A/A). pin: the target on CPU 0, pyprobe on 1."""
    t = subprocess.Popen([py, WORKLOAD, "--progress", "20"], stdout=subprocess.PIPE, text=True,
                         preexec_fn=on_cpu(0 if pin else None))
    prof = None
    try:
        assert t.stdout.readline().strip() == "ready"
        prog = Progress(t.stdout)
        if rate is not None:
            prof = subprocess.Popen([pyprobe, "record", "--pid", str(t.pid), "-r", str(rate),
                                     "-f", "collapsed", "-o", "/dev/null", "--no-progress",
                                     "-d", str(windows * WINDOW + 5)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    preexec_fn=on_cpu(1 if pin else None))
        time.sleep(0.5)  # attached and sampling
        spans = []
        for i in range(windows):
            running = i % 2 == 0
            if prof:
                prof.send_signal(signal.SIGCONT if running else signal.SIGSTOP)
            start = time.perf_counter()
            time.sleep(WINDOW)
            spans.append((running, start + SETTLE, time.perf_counter()))
        time.sleep(0.05)
        pairs = []
        for (r1, a1, b1), (r2, a2, b2) in zip(spans[0::2], spans[1::2]):
            on, off = prog.rate(a1, b1), prog.rate(a2, b2)
            if on and off:
                pairs.append((off / on - 1) * 100)
        return pairs
    finally:
        if prof:
            prof.send_signal(signal.SIGCONT)
            prof.kill()
            prof.wait()
        t.kill()
        t.wait()


def main():
    ap = parser(__doc__)
    ap.add_argument("--windows", type=int, help="windows per rate (default 60, quick 30)")
    args = ap.parse_args()
    windows = args.windows or (30 if args.quick else 60)
    windows += windows % 2
    print(f"# {conditions()}")
    print(f"target slowdown in alternating {WINDOW * 1000:.0f} ms windows (pyprobe running / "
          f"stopped), {windows} windows per row, workload.py; {args.pyprobe}")
    rows = []
    pins = (True, False) if (os.cpu_count() or 1) >= 2 else (False,)
    for label, py in interpreters(args):
        for pin in pins:
            for rate in (None, 1000, 10000):
                pairs = measure(args.pyprobe, py, rate, windows, pin)
                lo, med, hi = quartiles(pairs)
                rows.append([label, "own CPUs" if pin else "anywhere",
                             "none (A/A)" if rate is None else f"{rate} Hz", len(pairs),
                             f"{med:+.2f}%", f"{lo:+.2f}% .. {hi:+.2f}%"])
                print(f"  {label} {pin} {rate} done", file=sys.stderr, flush=True)
    print("\nslowdown = work rate with pyprobe stopped / running - 1, per pair of windows; "
          "own CPUs: target on CPU 0, pyprobe on CPU 1; anywhere: where the scheduler puts them")
    table(["interpreter", "placement", "pyprobe", "pairs", "median slowdown",
           "25th..75th percentile"], rows)
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
