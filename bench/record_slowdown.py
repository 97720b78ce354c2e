#!/usr/bin/env python3
"""How much `pyprobe record` slows its target down.

Method. Per interpreter, fixtures/bench/workload.py --work N --gate runs a
fixed amount of pure-Python work (N calibrated per interpreter, from the
median of 3 runs, so that an unprofiled run takes about 2 s, 1 s with
--quick) and prints its own wall time and CPU time (time.perf_counter and
time.process_time around the work only). Four modes:
  none    nobody watches it
  1 kHz   `pyprobe record --pid PID -r 1000 -f collapsed -o /dev/null`
  10 kHz  the same at -r 10000
  spin    no profiler, but a neighbour process spinning in `while 1: pass`
          for the whole run: a control for "another process uses the other
          CPU", which on these VMs slows a process down by itself (the two
          vCPUs are not independent, and how much depends on the host's
          load at the moment).
(non-blocking, pyprobe's default). With a profiler the target is started
gated (it prints "ready" and waits for a line on stdin), pyprobe is started
and the target released 0.3 s later, once pyprobe is attached and sampling
(attaching takes a few ms); pyprobe stops by itself when the target exits.
Runs are interleaved, RUNS rounds of the four modes, the order rotated
every round, so drift of a noisy VM hits every mode alike.

Two figures per mode, medians over the rounds, as a change from `none`:
  CPU   the target's own CPU time for the same work: what reading its
        memory costs it (caches, TLB, its memory map's lock, /proc reads),
        without the time it spent waiting for a CPU. On a shared VM this is
        the stable figure.
  wall  its wall time: the CPU figure plus waiting for a CPU, which on a
        2-CPU machine also depends on everything else running.
pyprobe's own CPU (rusage / its wall time, % of one CPU) and samples taken
are shown for scale.

Usage: bench/record_slowdown.py [--versions 3.8,3.11,3.13] [--quick] [--runs N]
"""
import statistics
import subprocess
import sys
import time

from recordlib import (WORKLOAD, cpu_s, interpreters, parser, record, table, conditions)

MODES = ("none", 1000, 10000, "spin")


def parse(line):
    f = line.split()
    return float(f[f.index("wall") + 1]), float(f[f.index("cpu") + 1])


def run_plain(py, units):
    return parse(subprocess.run([py, WORKLOAD, "--work", str(units)], capture_output=True,
                                check=True).stdout.decode())


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
        got = []

        def release(_pyprobe_popen):
            time.sleep(0.3)
            t.stdin.write(b"go\n")
            t.stdin.flush()
            got.append(parse(t.stdout.readline().decode()))

        s, ru, pwall, _ = record(pyprobe, ["--pid", t.pid], rate, on_start=release)
        return got[0], s["samples"], cpu_s(ru) / pwall
    finally:
        if t.poll() is None:
            t.kill()
        t.wait()


def pct(x, base):
    return f"{(x / base - 1) * 100:+.1f}%"


def main():
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, help="rounds (default 5, quick 3)")
    args = ap.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    goal = 1.0 if args.quick else 2.0
    print(f"# {conditions()}")
    print(f"target slowdown, workload.py --work N (~{goal:g} s unprofiled), {runs} interleaved "
          f"rounds, non-blocking; {args.pyprobe}")
    cpu_rows, wall_rows = [], []
    for label, py in interpreters(args):
        per_unit = statistics.median(run_plain(py, 2000)[1] for _ in range(3)) / 2000
        units = max(1000, int(goal / per_unit))
        wall = {m: [] for m in MODES}
        cpu = {m: [] for m in MODES}
        samples = {m: [] for m in MODES}
        pcpu = {m: [] for m in MODES}
        for i in range(runs):
            k = i % len(MODES)
            for m in MODES[k:] + MODES[:k]:
                if m == "none":
                    w, c = run_plain(py, units)
                elif m == "spin":
                    w, c = run_spin(py, units)
                else:
                    (w, c), n, pc = run_profiled(args.pyprobe, py, units, m)
                    samples[m].append(n)
                    pcpu[m].append(pc)
                wall[m].append(w)
                cpu[m].append(c)
        med = {m: (statistics.median(wall[m]), statistics.median(cpu[m])) for m in MODES}
        bw, bc = med["none"]
        cpu_rows.append([label, units, f"{bc:.3f}"] +
                        [x for m in MODES[1:] for x in (f"{med[m][1]:.3f}", pct(med[m][1], bc))])
        wall_rows.append([label, f"{bw:.3f}"] +
                         [x for m in MODES[1:] for x in (f"{med[m][0]:.3f}", pct(med[m][0], bw))] +
                         [f"{statistics.median(samples[m]):.0f} / "
                          f"{100 * statistics.median(pcpu[m]):.0f}%" for m in MODES[1:3]])
        print(f"  {label}: " + "; ".join(
            f"{m}: " + " ".join(f"{w:.2f}/{c:.2f}" for w, c in zip(wall[m], cpu[m]))
            for m in MODES), file=sys.stderr, flush=True)
    print("\ntarget CPU time (time.process_time) for the same work, medians")
    table(["interpreter", "N", "none s", "1 kHz s", "change", "10 kHz s", "change",
           "spin s", "change"], cpu_rows)
    print("\ntarget wall time, medians; pyprobe samples / pyprobe CPU")
    table(["interpreter", "none s", "1 kHz s", "change", "10 kHz s", "change",
           "spin s", "change", "1 kHz: samples / CPU", "10 kHz: samples / CPU"], wall_rows)
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
