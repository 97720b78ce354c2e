#!/usr/bin/env python3
"""Can `pyprobe record` sustain 5000 Hz? Missed ticks and effective rate.

Method. Per interpreter, start fixtures/bench/workload.py (1 thread, ~26
frames, always on CPU) and run `pyprobe record --pid PID -r 5000 -d 10
-f collapsed -o /dev/null --no-progress` (non-blocking). From pyprobe's
end-of-recording line: samples, effective Hz, missed ticks % (ticks whose
deadline had passed before the previous sample was done: they are skipped
and counted, never caught up), and the sampling cost median/p99.

Each run is made twice: as pyprobe runs today, and with pyprobe's timer
slack set to 1 ns by writing /proc/PID/timerslack_ns right after it starts
(Linux's default slack for a normal thread is 50 µs: an absolute-deadline
clock_nanosleep may wake up to 50 µs late, which at 5000 Hz is a quarter of
the 200 µs period). The second row shows what prctl(PR_SET_TIMERSLACK) in
pyprobe would buy; writing that file needs CAP_SYS_NICE (root here).

Usage: bench/record_rate.py [--versions 3.11] [--quick] [--rate HZ] [--duration S]
"""
import sys

from recordlib import (WORKLOAD, Target, interpreters, parser, record, table, conditions)


def set_slack(popen, ns=1):
    try:
        with open(f"/proc/{popen.pid}/timerslack_ns", "w") as f:
            f.write(str(ns))
    except OSError as e:
        print(f"cannot set timer slack: {e}", file=sys.stderr)


def main():
    ap = parser(__doc__)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--duration", type=float, help="seconds (default 10, quick 5)")
    args = ap.parse_args()
    dur = args.duration or (5 if args.quick else 10)
    print(f"# {conditions()}")
    print(f"sustained {args.rate} Hz for {dur:g} s, workload.py, non-blocking; {args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        with Target(py, [WORKLOAD]) as t:
            for slack, hook in (("default (50 µs)", None), ("1 ns", set_slack)):
                s, _, _, _ = record(args.pyprobe, ["--pid", t.pid], args.rate, dur,
                                    on_start=hook)
                rows.append([label, slack, s["samples"], f"{s['hz']:.0f}",
                             f"{s['missed_pct']:.2f}", f"{s['cost_med']:.1f}",
                             f"{s['cost_p99']:.1f}", f"{s['torn_pct']:.2f}"])
    table(["interpreter", "timer slack", "samples", "effective Hz", "missed %",
           "cost med µs", "p99 µs", "torn %"], rows)

    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
