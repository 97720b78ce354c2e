#!/usr/bin/env python3
"""What a stack that moves while it is read costs a sample, next to a steady one.

Method. Per interpreter, start fixtures/bench/workload.py twice: as it is
(one thread 26 frames deep, the stack changing every ~0.1 ms, when a unit
of work ends) and with --churn (the same functions and depth, leaves of one
iteration: the 20-deep recursion returns and descends again every couple
of microseconds, so most reads find the stack moving). Record each with
`pyprobe record --pid PID -r R -d D -f collapsed -o /dev/null` at R = max
(back to back) and R = 1000, and take pyprobe's own summary line: the
sampling cost median and p99 (wall time of one pp_target_sample), how many
samples were cut short, dropped, and the rate achieved. The ratio is
churn / steady of the median, measured in the same run, one after the
other. A reader that re-read moving stacks until they held still (the
0.1 design) paid 2-5x here.

Usage: bench/record_churn_cost.py [--versions 3.8,3.11] [--quick] [--duration D]
"""
import sys

from recordlib import (WORKLOAD, Target, conditions, interpreters, parser, record, table)


def main():
    ap = parser(__doc__)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per recording")
    args = ap.parse_args()
    duration = 1.0 if args.quick else args.duration
    print(f"# {conditions()}; {args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        for rate in ("max", 1000):
            got = {}
            for kind, extra in (("steady", []), ("churn", ["--churn"])):
                with Target(py, [WORKLOAD, *extra]) as t:
                    s, _, _, _ = record(args.pyprobe, ["--pid", t.pid], rate, duration)
                got[kind] = s
            st, ch = got["steady"], got["churn"]
            rows.append([label, rate,
                         f"{st['cost_med']:.1f} / {st['cost_p99']:.1f}",
                         f"{ch['cost_med']:.1f} / {ch['cost_p99']:.1f}",
                         f"{ch['cost_med'] / st['cost_med']:.2f}x",
                         f"{st['cut_pct'] or 0:.1f}% / {ch['cut_pct'] or 0:.1f}%",
                         f"{st['torn_pct']:.2f}% / {ch['torn_pct']:.2f}%",
                         f"{st['hz']:.0f} / {ch['hz']:.0f}"])
            print(f"{label} {rate}: done", file=sys.stderr)
    table(["python", "-r", "steady µs (median / p99)", "churn µs (median / p99)",
           "churn / steady", "cut short (steady / churn)", "dropped", "Hz"], rows)
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
