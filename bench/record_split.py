#!/usr/bin/env python3
"""Is a `pyprobe record` profile right? Shares of a known 50/30/20 split.

Method. Per interpreter, `pyprobe record -r 200 -f collapsed -o TMP
--no-progress -- PY fixtures/record/split.py 4 TRUTH`: the fixture spends
its wall time in 10 ms slices, 5 in alpha, 3 in beta, 2 in gamma, busy
looping, and measures the share of time it really spent in each (a loaded
machine can make it overrun a slice), writing it to TRUTH. We count the
collapsed profile's samples whose stack passes through alpha, beta or gamma
(as tests/check_split.py does) and report each function's share of them,
the target's own share, and the largest absolute difference in percentage
points. At 200 Hz for 4 s that is ~800 samples: the binomial standard error
of a 50% share is 1.8 points, so differences of 2-3 points are sampling
noise, not bias. With --runs N, N recordings per interpreter; the table shows
each run's max deviation and the shares of the first.

Usage: bench/record_split.py [--versions 3.8,3.11] [--quick] [--runs N]
"""
import os
import tempfile

from recordlib import (ROOT, interpreters, parser, record, table, conditions)

SPLIT = os.path.join(ROOT, "fixtures", "record", "split.py")
NAMES = ("alpha", "beta", "gamma")


def shares(collapsed):
    counts = dict.fromkeys(NAMES, 0)
    for line in open(collapsed, encoding="utf-8"):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        for frame in stack.split(";"):
            name = frame.split(" (", 1)[0]
            if name in counts:
                counts[name] += int(n)
                break
    total = sum(counts.values())
    return {k: 100.0 * v / total for k, v in counts.items()}, total


def one(pyprobe, py, seconds, rate):
    with tempfile.TemporaryDirectory() as d:
        out, truth = os.path.join(d, "p.collapsed"), os.path.join(d, "truth")
        s, _, _, _ = record(pyprobe, ["--", py, SPLIT, seconds, truth], rate, out=out)
        got, n = shares(out)
        want = {}
        for line in open(truth, encoding="utf-8"):
            k, v = line.split()
            want[k] = float(v)
    dev = max(abs(got[k] - want[k]) for k in NAMES)
    return got, want, dev, n, s


def main():
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", default="4")
    args = ap.parse_args()
    print(f"# {conditions()}")
    print(f"profile shares vs the target's own, split.py {args.seconds} s at {args.rate} Hz; "
          f"{args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        results = [one(args.pyprobe, py, args.seconds, args.rate) for _ in range(args.runs)]
        got, want, _, n, s = results[0]
        rows.append([label, n] +
                    [f"{got[k]:.1f} / {want[k]:.1f}" for k in NAMES] +
                    [f"{s['torn_pct']:.2f}", f"{s['missed_pct']:.2f}",
                     " ".join(f"{r[2]:.1f}" for r in results)])
    table(["interpreter", "samples", "alpha % profile / own", "beta %", "gamma %",
           "torn %", "missed %", "max deviation (points)"], rows)

    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
