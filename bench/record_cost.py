#!/usr/bin/env python3
"""What one sample of `pyprobe record` costs: wall µs, profiler CPU, syscalls.

Method. Per interpreter, start fixtures/bench/workload.py (single thread,
~26 frames deep, always on CPU) and record it non-blocking with
`pyprobe record --pid PID -r R -d D -f collapsed -o /dev/null --no-progress`
at R = 1000 Hz and at R = max (back to back: each sample starts as soon as
the last one is done, with no clock and no sleep in between).

- sampling cost median/p99, torn %, missed %, effective Hz: pyprobe's own
  end-of-recording line (the cost is the wall time of one snapshot read,
  pp_target_sample, timed by pyprobe itself).
- profiler CPU per sample: user+system CPU of the pyprobe process from
  os.wait4's rusage, for a short run (1 s) and a long one (D s) at the same
  rate; (CPU_long - CPU_short) / (samples_long - samples_short). The
  difference cancels the fixed costs (exec, attach: maps, ELF symbols,
  version; writing the output), leaving the steady per-sample cost: the read,
  converting it into the profile, the clock and the sleep/wake-up.
- wake-up floor: what a tick costs beyond the read, = CPU per sample at
  1 kHz - the sampling cost median at 1 kHz. For scale, the CPU per
  iteration of a Python loop of time.sleep(0.001) (same differential method
  with 0 and 3000 iterations), which is a nanosleep wake-up plus a little
  interpreter work.
- syscalls per sample: `strace -c -f` around pyprobe at 1 kHz for 1 s and
  3 s; per-syscall (calls_long - calls_short) / (samples_long -
  samples_short). strace slows pyprobe down (fewer samples, more missed
  ticks), but a count per sample does not depend on that.

Usage: bench/record_cost.py [--versions 3.8,3.11] [--quick] [--duration D]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

from recordlib import (WORKLOAD, Target, cpu_s, interpreters, parser, record, table, conditions)

RATES = (1000, "max")
SHOWN_SYSCALLS = ("process_vm_readv", "pread64", "getdents64", "openat", "close",
                  "newfstatat", "clock_nanosleep")


def cost_at(pyprobe, pid, rate, duration):
    short, ru_s, _, _ = record(pyprobe, ["--pid", pid], rate, 1)
    long_, ru_l, _, _ = record(pyprobe, ["--pid", pid], rate, duration)
    dn = long_["samples"] - short["samples"]
    long_["cpu_per_sample_us"] = (cpu_s(ru_l) - cpu_s(ru_s)) / dn * 1e6 if dn > 0 else float("nan")
    return long_


STRACE_LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$")


def strace_counts(pyprobe, pid, duration):
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        s, _, _, _ = record(pyprobe, ["--pid", pid], 1000, duration,
                            wrapper=["strace", "-c", "-f", "-o", f.name])
        counts = {}
        for line in f:
            m = STRACE_LINE.match(line)
            if m and m.group(2) != "total":
                counts[m.group(2)] = int(m.group(1))
    return s["samples"], counts


def syscalls_per_sample(pyprobe, pid):
    n1, c1 = strace_counts(pyprobe, pid, 1)
    n3, c3 = strace_counts(pyprobe, pid, 3)
    dn = n3 - n1
    per = {k: (c3.get(k, 0) - c1.get(k, 0)) / dn for k in set(c1) | set(c3)}
    return {k: v for k, v in per.items() if abs(v) >= 0.005}


def python_sleep_floor():
    """CPU µs per iteration of `time.sleep(0.001)` in a Python loop."""
    def run(n):
        p = subprocess.Popen([sys.executable, "-c",
                              f"import time\nfor _ in range({n}): time.sleep(0.001)"])
        _, _, ru = os.wait4(p.pid, 0)
        p.returncode = 0
        return cpu_s(ru)
    samples = [(run(3000) - run(0)) / 3000 * 1e6 for _ in range(3)]
    return sorted(samples)[1]


def main():
    ap = parser(__doc__)
    ap.add_argument("--duration", type=float, help="long run seconds (default 6, quick 3)")
    args = ap.parse_args()
    dur = args.duration or (3 if args.quick else 6)
    have_strace = shutil.which("strace") is not None
    print(f"# {conditions()}")
    print(f"pyprobe record cost, workload.py (1 thread, ~26 frames), non-blocking, "
          f"{dur:g} s runs; {args.pyprobe}")
    rows, sys_rows = [], []
    for label, py in interpreters(args):
        with Target(py, [WORKLOAD]) as t:
            r = {rate: cost_at(args.pyprobe, t.pid, rate, dur) for rate in RATES}
            sc = syscalls_per_sample(args.pyprobe, t.pid) if have_strace else {}
        a, b = r[1000], r["max"]
        rows.append([label,
                     f"{a['cost_med']:.1f}", f"{a['cost_p99']:.1f}",
                     f"{a['cpu_per_sample_us']:.1f}",
                     f"{a['cpu_per_sample_us'] - a['cost_med']:.1f}",
                     f"{a['torn_pct']:.2f}", f"{a['missed_pct']:.2f}",
                     f"{b['hz']:.0f}", f"{b['cost_med']:.1f}", f"{b['cost_p99']:.1f}",
                     f"{b['cpu_per_sample_us']:.1f}", f"{b['torn_pct']:.2f}"])
        if sc:
            other = sum(v for k, v in sc.items() if k not in SHOWN_SYSCALLS)
            sys_rows.append([label, *(f"{sc.get(k, 0):.2f}" for k in SHOWN_SYSCALLS),
                             f"{other:.2f}", f"{sum(sc.values()):.2f}"])
        print(f"  {label} done", file=sys.stderr, flush=True)
    print("\n1 kHz and back to back (-r max); µs are medians/p99 of pyprobe's own timing, "
          "CPU from rusage (differential)")
    table(["interpreter", "1k cost med µs", "p99 µs", "CPU/sample µs", "wake-up floor µs",
           "torn %", "missed %", "max: Hz", "cost med µs", "p99 µs", "CPU/sample µs",
           "torn %"], rows)
    if sys_rows:
        print("\nsyscalls per sample at 1 kHz (strace -c, differential 3 s - 1 s)")
        table(["interpreter", *SHOWN_SYSCALLS, "other", "total"], sys_rows)
    print(f"\nPython loop of time.sleep(0.001): {python_sleep_floor():.1f} µs CPU per "
          f"iteration ({sys.executable})")
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
