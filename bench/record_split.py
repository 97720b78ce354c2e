#!/usr/bin/env python3
"""Is a `pyprobe record` profile right? Shares of a known 50/30/20 split.

Method. Per interpreter, `pyprobe record -r 200 -o TMP.pyprobe
--no-progress -- PY fixtures/record/split.py 4 TRUTH`, rendered with
`pyprobe render -f collapsed` and `-f gecko`: the fixture spends its wall
time in 10 ms slices, 5 in alpha, 3 in beta, 2 in gamma, busy looping,
and logs when each call began and ended (a loaded machine can make it
overrun a slice), writing the shares of wall time to TRUTH and the calls
to TRUTH.intervals. As tests/check_split.py does, we count the collapsed
profile's samples whose stack passes through alpha, beta or gamma, and
report each function's share of them beside two truths: the target's
share at the instants pyprobe sampled (the gecko samples' wall times
classified by the calls; what a sampler can be judged on) and its share
of the wall time (which a loaded machine, starving pyprobe in the same
stretches as the target, can put points away from a right profile). At
200 Hz for 4 s that is ~800 samples: against the wall time the binomial
standard error of a 50% share is 1.8 points, so differences of 2-3
points are sampling noise; at the instants sampled there is no such
noise. With --runs N, N recordings per interpreter; the table shows each
run's max deviation from both truths and the shares of the first.

Usage: bench/record_split.py [--versions 3.8,3.11] [--quick] [--runs N]
"""
import os
import subprocess
import tempfile

from recordlib import (ROOT, interpreters, parser, record, table, conditions, test_checker)

SPLIT = os.path.join(ROOT, "fixtures", "record", "split.py")
NAMES = ("alpha", "beta", "gamma")


CHECK = test_checker("check_split")


def pct(counts):
    total = sum(counts.values())
    return {k: 100.0 * counts[k] / total if total else 0.0 for k in NAMES}, total


def one(pyprobe, py, seconds, rate):
    with tempfile.TemporaryDirectory() as d:
        rec, truth = os.path.join(d, "p.pyprobe"), os.path.join(d, "truth")
        out, gecko = os.path.join(d, "p.collapsed"), os.path.join(d, "p.json")
        s, _, _, _ = record(pyprobe, ["--", py, SPLIT, seconds, truth], rate, out=rec,
                            fmt="pyprobe")
        for path, fmt in ((out, "collapsed"), (gecko, "gecko")):
            subprocess.run([pyprobe, "render", rec, "-f", fmt, "-o", path], check=True)
        got, n = pct(CHECK.profile_counts(out))
        samples = CHECK.gecko_samples(gecko)
        inst, _ = pct(CHECK.at_instants(sorted({t for t, _ in samples}),
                                        CHECK.read_intervals(truth + ".intervals"))[0])
        wall = {}
        for line in open(truth, encoding="utf-8"):
            k, v = line.split()
            wall[k] = float(v)
    dev_inst = max(abs(got[k] - inst[k]) for k in NAMES)
    dev_wall = max(abs(got[k] - wall[k]) for k in NAMES)
    return got, inst, wall, dev_inst, dev_wall, n, s


def main():
    ap = parser(__doc__)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", default="4")
    args = ap.parse_args()
    print(f"# {conditions()}")
    print(f"profile shares vs the target's own at the instants sampled and over the wall time, "
          f"split.py {args.seconds} s at {args.rate} Hz; {args.pyprobe}")
    rows = []
    for label, py in interpreters(args):
        results = [one(args.pyprobe, py, args.seconds, args.rate) for _ in range(args.runs)]
        got, inst, wall, _, _, n, s = results[0]
        rows.append([label, n] +
                    [f"{got[k]:.1f} / {inst[k]:.1f} / {wall[k]:.1f}" for k in NAMES] +
                    [f"{s['torn_pct']:.2f}", f"{s['missed_pct']:.2f}",
                     " ".join(f"{r[3]:.1f}" for r in results),
                     " ".join(f"{r[4]:.1f}" for r in results)])
    table(["interpreter", "samples", "alpha % profile / at instants / wall", "beta %", "gamma %",
           "torn %", "missed %", "max deviation from instants (points)",
           "from wall time"], rows)

    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
