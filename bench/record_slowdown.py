#!/usr/bin/env python3
"""How much `pyprobe record` slows its target down.

Method. Per interpreter, fixtures/bench/workload.py --work N --gate runs a
fixed amount of pure-Python work (N calibrated per interpreter so that an
unprofiled run takes about 2 s, 1 s with --quick) and prints its own wall
time (time.perf_counter around the work only). Three modes:
  none    nobody watches it
  1 kHz   `pyprobe record --pid PID -r 1000 -f collapsed -o /dev/null`
  10 kHz  the same at -r 10000
  spin    no profiler, but a neighbour process spinning in a `while 1: pass`
          loop for the whole run: a control. On these 2-vCPU VMs the two
          vCPUs are not independent (any busy neighbour slows the target),
          so "slowdown" mixes pyprobe's interference through the target's
          memory with merely using the other CPU; the spin row is the cost
          of a neighbour using 100% of it.
(non-blocking, pyprobe's default). pyprobe's own CPU use during each run
(rusage / wall, in % of one CPU) is reported to put the two side by side. With a profiler, the target is started
gated (it prints "ready" and waits for a line on stdin), pyprobe is
started, and the target is released 0.3 s later, once pyprobe is attached
and sampling (attaching takes a few ms); pyprobe stops by itself when the
target exits. Runs are interleaved, RUNS rounds of the three modes with the
order rotated every round, so drift of a noisy VM hits every mode alike.
We report the median wall time per mode and the slowdown of the medians,
(median profiled / median unprofiled - 1) in %, with the samples taken.

Usage: bench/record_slowdown.py [--versions 3.8,3.11,3.13] [--quick] [--runs N]
"""
import statistics
import subprocess
import sys
import time

from recordlib import (WORKLOAD, cpu_s, interpreters, parser, record, table, conditions)

MODES = (None, 1000, 10000, "spin")


def run_plain(py, units):
    out = subprocess.run([py, WORKLOAD, "--work", str(units)], capture_output=True,
                         check=True).stdout.decode()
    return float(out.split()[-1])


def run_spin(py, units):
    spinner = subprocess.Popen([py, "-c", "while 1: pass"])
    try:
        time.sleep(0.1)
        return run_plain(py, units)
    finally:
        spinner.kill()
        spinner.wait()


def run_profiled(pyprobe, py, units, rate):
    t = subprocess.Popen([py, WORKLOAD, "--work", str(units), "--gate"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert t.stdout.readline().strip() == b"ready"
        wall = []

        def release(_pyprobe_popen):
            time.sleep(0.3)
            t.stdin.write(b"go\n")
            t.stdin.flush()
            wall.append(float(t.stdout.readline().split()[-1]))

        s, ru, pwall, _ = record(pyprobe, ["--pid", t.pid], rate, on_start=release)
        return wall[0], s["samples"], cpu_s(ru) / pwall
    finally:
        if t.poll() is None:
            t.kill()
        t.wait()


def main():
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, help="rounds (default 5, quick 3)")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    goal = 1.0 if args.quick else 2.0
    print(f"# {conditions()}")
    print(f"target slowdown, workload.py --work N (~{goal:g} s unprofiled), {runs} interleaved "
          f"rounds, non-blocking; {args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        units = max(1000, int(2000 * goal / run_plain(py, 2000)))
        walls = {m: [] for m in MODES}
        samples = {m: [] for m in MODES}
        cpu = {m: [] for m in MODES}
        for i in range(runs):
            k = i % len(MODES)
            for m in MODES[k:] + MODES[:k]:
                if m is None:
                    walls[m].append(run_plain(py, units))
                elif m == "spin":
                    walls[m].append(run_spin(py, units))
                else:
                    w, n, c = run_profiled(args.pyprobe, py, units, m)
                    walls[m].append(w)
                    samples[m].append(n)
                    cpu[m].append(c)
        base = statistics.median(walls[None])
        row = [label, units, f"{base:.3f}"]
        for m in MODES[1:3]:
            med = statistics.median(walls[m])
            row += [f"{med:.3f}", f"{(med / base - 1) * 100:+.1f}%",
                    f"{statistics.median(samples[m]):.0f}",
                    f"{100 * statistics.median(cpu[m]):.0f}%"]
        med = statistics.median(walls["spin"])
        row += [f"{med:.3f}", f"{(med / base - 1) * 100:+.1f}%"]
        rows.append(row)
        print(f"  {label}: " + ", ".join(f"{m or 'none'}: " + " ".join(f"{w:.3f}" for w in walls[m])
                                       for m in MODES), file=sys.stderr, flush=True)
    table(["interpreter", "N", "none s", "1 kHz s", "slowdown", "samples", "pyprobe CPU",
           "10 kHz s", "slowdown", "samples", "pyprobe CPU", "spin s", "slowdown"], rows)

    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
