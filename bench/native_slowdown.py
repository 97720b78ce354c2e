#!/usr/bin/env python3
"""How much `pyprobe record --native` slows its target down, at 100 Hz.

Method. record_slowdown.py's, with other modes: per interpreter,
fixtures/bench/workload.py --work N --gate (N calibrated so that an
unprofiled run takes about 2 s) prints its own wall and CPU time for the
work alone. Three modes, RUNS interleaved rounds, the order rotated every
round:
  none     nobody watches it
  100 Hz   `pyprobe record --pid PID -r 100 -f collapsed -o /dev/null`
  native   the same with --native: every sample stops every thread of the
           target (ptrace) for the native unwind, so the target pays the
           stop and the unwind's wait, not only the reads
The target is released 0.3 s after pyprobe starts; pyprobe stops when it
exits. Medians over the rounds, as a change from `none`: the target's CPU
time (what the reads and stops cost its caches and scheduling) and its wall
time (that plus the time it is stopped or waits for a CPU). pyprobe's own
samples and its µs of CPU a sample are shown for scale.

Usage: bench/native_slowdown.py [--versions 3.11,3.12] [--runs N]
"""
import statistics
import subprocess
import sys
import time

from recordlib import (WORKLOAD, cpu_s, interpreters, parser, record, table, conditions)

MODES = ("none", "100 Hz", "native")


def parse(line):
    f = line.split()
    return float(f[f.index("wall") + 1]), float(f[f.index("cpu") + 1])


def run(pyprobe, py, units, mode):
    if mode == "none":
        out = subprocess.run([py, WORKLOAD, "--work", str(units)], capture_output=True,
                             check=True).stdout.decode()
        return parse(out), 0, 0.0
    t = subprocess.Popen([py, WORKLOAD, "--work", str(units), "--gate"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert t.stdout.readline().strip() == b"ready"
        got = []

        def release(_p):
            time.sleep(0.3)
            t.stdin.write(b"go\n")
            t.stdin.flush()
            got.append(parse(t.stdout.readline().decode()))

        extra = ("--native",) if mode == "native" else ()
        s, ru, _, _ = record(pyprobe, ["--pid", t.pid], 100, on_start=release, extra=extra)
        n = s["samples"]
        return got[0], n, cpu_s(ru) / n * 1e6 if n else 0.0
    finally:
        if t.poll() is None:
            t.kill()
        t.wait()


def main():
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    print(f"# {conditions()}")
    rows = []
    for label, py in interpreters(args):
        per_unit = statistics.median(run(args.pyprobe, py, 2000, "none")[0][1]
                                     for _ in range(3)) / 2000
        units = max(1000, int(2.0 / per_unit))
        res = {m: [] for m in MODES}
        for i in range(args.runs):
            k = i % len(MODES)
            for m in MODES[k:] + MODES[:k]:
                res[m].append(run(args.pyprobe, py, units, m))
        med = {m: (statistics.median(r[0][0] for r in res[m]),
                   statistics.median(r[0][1] for r in res[m])) for m in MODES}
        bw, bc = med["none"]
        row = [label, f"{bw:.3f} / {bc:.3f}"]
        for m in MODES[1:]:
            w, c = med[m]
            row += [f"{w:.3f} ({(w / bw - 1) * 100:+.1f}%)", f"{c:.3f} ({(c / bc - 1) * 100:+.1f}%)",
                    f"{statistics.median(r[1] for r in res[m]):.0f} / "
                    f"{statistics.median(r[2] for r in res[m]):.0f} µs"]
        rows.append(row)
        print(f"  {label} done", file=sys.stderr, flush=True)
    table(["interpreter", "none wall / CPU s", "100 Hz wall", "100 Hz CPU", "samples / pyprobe CPU a sample",
           "native wall", "native CPU", "samples / pyprobe CPU a sample"], rows)
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
