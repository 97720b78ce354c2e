#!/usr/bin/env python3
"""What idle threads add to a sample: a busy thread plus a pool of blocked ones.

Method. Per interpreter and pool size N (0, 10, 50), start
fixtures/bench/idle_pool.py N: the main thread runs workload.py's 26-frame
pure-Python work, N threads wait in queue.Queue.get() 12 frames deep and
never run. Record it non-blocking for 3 s back to back (`-r max`) and for
3 s at 100 Hz, `-f collapsed -o /dev/null`; report pyprobe's sampling cost
median from its summary line and, at 100 Hz, pyprobe's CPU (rusage) as a
share of one CPU. With --baseline PATH the same runs are made with another
pyprobe binary (e.g. a build of an older commit) on the same targets,
interleaved, for a before/after in one run.

A blocked pool thread that has not run since the last sample is taken
over from it (reader/quiet.h): one pread of its /proc/.../schedstat
instead of its frames, their verification copies and its
/proc/.../syscall. So the cost per idle thread is what to read here.

Usage: bench/record_idle.py [--versions 3.8,3.11] [--quick] [--baseline PATH]
"""
import os
import sys

from recordlib import ROOT, Target, conditions, cpu_s, interpreters, parser, record, table

POOL = os.path.join(ROOT, "fixtures", "bench", "idle_pool.py")


def measure(pyprobe, pid):
    b2b, _, _, _ = record(pyprobe, ["--pid", pid], "max", 3)
    at100, ru, wall, _ = record(pyprobe, ["--pid", pid], 100, 3)
    return b2b["cost_med"], at100["cost_med"], 100.0 * cpu_s(ru) / wall


def main():
    ap = parser(__doc__)
    ap.add_argument("--baseline", help="another pyprobe binary to compare with")
    args = ap.parse_args()
    sizes = (0, 50) if args.quick else (0, 10, 50)
    binaries = [("this", args.pyprobe)] + ([("baseline", args.baseline)] if args.baseline else [])
    print(f"# {conditions()}")
    print(f"busy thread + N idle threads (idle_pool.py), non-blocking, 3 s runs; "
          + ", ".join(f"{k}: {v}" for k, v in binaries))
    rows = []
    for label, py in interpreters(args):
        for n in sizes:
            with Target(py, [POOL, str(n)]) as t:
                got = {k: measure(b, t.pid) for k, b in binaries}
            row = [label, n]
            for k, _ in binaries:
                b2b, c100, cpu = got[k]
                row += [f"{b2b:.1f}", f"{c100:.1f}", f"{cpu:.1f}"]
            rows.append(row)
            print(f"  {label} N={n} done", file=sys.stderr, flush=True)
    heads = ["interpreter", "idle threads"]
    for k, _ in binaries:
        heads += [f"{k}: cost µs back to back", "cost µs at 100 Hz", "CPU % at 100 Hz"]
    print("\nsampling cost medians (pyprobe's summary line); CPU = pyprobe's user+system "
          "time / wall time")
    table(heads, rows)
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
