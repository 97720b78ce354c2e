#!/usr/bin/env python3
"""How often a non-blocking `pyprobe record` sample is torn (and dropped).

Method. Per interpreter, start fixtures/dump/churn.py: three threads that
call and return as fast as they can (recursion 1-30 deep), so frames die
and their memory is reused while pyprobe walks them without pausing the
process. Record it with `pyprobe record --pid PID -r 1000 -d D -f collapsed
-o /dev/null --no-progress` (non-blocking) and read pyprobe's
end-of-recording line: torn thread-samples (a walk that failed its
consistency checks; the thread's sample is dropped) as a % of all thread
samples, with missed ticks and the sampling cost. The same with
--blocking (threads paused for each read) is the control: it must show 0
torn, and its cost shows what the pause adds. The workload fixture (1
thread, steady 26-frame stack) is the third: the torn rate of a program
that does not churn. As dropping torn samples can bias a profile (if a
walk is more likely to tear in some code than in other code), the workload
is recorded both ways and the share of samples whose innermost frame is a
leaf_* function (the arithmetic loops, where it spends nearly all its time)
is compared: non-blocking (torn samples dropped) against paused (nothing
torn).

Usage: bench/record_torn.py [--versions 3.8,3.11] [--quick] [--duration D]
"""
import os
import tempfile

from recordlib import (ROOT, WORKLOAD, Target, interpreters, parser, record, table, conditions)

CHURN = os.path.join(ROOT, "fixtures", "dump", "churn.py")


def leaf_share(collapsed):
    """% of samples whose innermost frame is one of workload.py's leaf_*."""
    leaf = total = 0
    for line in open(collapsed, encoding="utf-8"):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        total += int(n)
        if stack.rsplit(";", 1)[-1].startswith("leaf_"):
            leaf += int(n)
    return 100.0 * leaf / total if total else float("nan")


def main():
    ap = parser(__doc__)
    ap.add_argument("--duration", type=float, help="seconds per run (default 5, quick 3)")
    args = ap.parse_args()
    dur = args.duration or (3 if args.quick else 5)
    print(f"# {conditions()}")
    print(f"torn samples at 1000 Hz, {dur:g} s per run; {args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        cells = [label]
        for fixture, extra in ((CHURN, ()), (CHURN, ("--blocking",)), (WORKLOAD, ())):
            with Target(py, [fixture]) as t:
                s, _, _, _ = record(args.pyprobe, ["--pid", t.pid], 1000, dur, extra=extra)
            cells += [f"{s['torn_pct']:.2f}", f"{s['missed_pct']:.2f}", f"{s['cost_med']:.1f}"]
        leaf = []
        with Target(py, [WORKLOAD]) as t, tempfile.TemporaryDirectory() as d:
            for extra in ((), ("--blocking",)):
                out = os.path.join(d, "p.collapsed")
                record(args.pyprobe, ["--pid", t.pid], 1000, dur, out=out, extra=extra)
                leaf.append(leaf_share(out))
        cells.append(f"{leaf[0]:.1f} / {leaf[1]:.1f}")
        rows.append(cells)
    table(["interpreter", "churn torn %", "missed %", "cost µs",
           "churn --blocking torn %", "missed %", "cost µs",
           "workload torn %", "missed %", "cost µs",
           "workload leaf % non-blocking / paused"], rows)

    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
