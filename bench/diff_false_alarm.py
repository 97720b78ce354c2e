#!/usr/bin/env python3
"""pyprobe diff: the A/A false-alarm rate, and the detection power for
planted slowdowns, on this machine.

Method. Record a pool of POOL runs of fixtures/ci/bench.py (the same
code: A) and, for each --slow PCT, POOL runs with `parse` (~30% of the
time) given PCT% more work, all interleaved (A, slowed, A, slowed, ...) so
that the machine's load falls on every kind alike. Then draw PAIRS random
comparisons: RUNS runs a side, disjoint, drawn from the pools, and run
`pyprobe diff` on each (A vs A: any exit 1 is a false alarm; A vs slowed:
exit 1 naming parse is a detection). Comparisons drawn from one pool share
runs, so they are not independent: the rate is an estimate of what a CI
job on this machine would see, its binomial interval (Wilson, 95%) a lower
bound on the uncertainty. Runs are recorded at --rate Hz (default 1000) by
the pyprobe given (default build-bench, else build).

Usage: bench/diff_false_alarm.py [--pool 12] [--runs 3] [--pairs 100]
           [--slow 5,10,20] [--rate 1000] [--rounds 250] [--python PATH]
           [--pyprobe PATH] [--keep DIR]

Results (2026-12-02, the shared 2-CPU machine under other jobs' load,
pyprobe built with ASan+UBSan, pyenv 3.12.1) are in docs/ci.md.
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCH = os.path.join(ROOT, "fixtures", "ci", "bench.py")


def default_pyprobe():
    for b in ("build-bench", "build", "build-test"):
        p = os.path.join(ROOT, b, "src", "pyprobe")
        if os.access(p, os.X_OK):
            return p
    return "pyprobe"


def wilson(k, n, z=1.96):
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def record(a, out, extra):
    cmd = [a.pyprobe, "record", "-r", str(a.rate), "--no-progress", "-o", out, "--",
           a.python, BENCH, "--rounds", str(a.rounds)] + extra
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"record failed: {' '.join(cmd)}\n{r.stderr}")


def diff(a, base, head, work):
    """Exit status and JSON of pyprobe diff on two lists of runs."""
    for side, runs in (("b", base), ("h", head)):
        d = os.path.join(work, side)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for i, r in enumerate(runs):
            os.symlink(r, os.path.join(d, f"{i}.pyprobe"))
    r = subprocess.run([a.pyprobe, "diff", "--json", os.path.join(work, "b"),
                        os.path.join(work, "h")], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        sys.exit(f"diff failed ({r.returncode}): {r.stderr}")
    return r.returncode, json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=int, default=12)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--slow", default="5,10,20")
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=250)
    ap.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3.12")
    ap.add_argument("--pyprobe", default=default_pyprobe())
    ap.add_argument("--keep", help="keep the recordings in this directory (and reuse "
                    "those already there: another --runs on the same pool)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    slows = [float(s) for s in a.slow.split(",") if s]
    if a.pool < 2 * a.runs:
        sys.exit("--pool must be at least twice --runs (A/A draws two disjoint sets)")
    rnd = random.Random(a.seed)
    work = a.keep or tempfile.mkdtemp(prefix="pyprobe-diff-bench-")
    os.makedirs(work, exist_ok=True)
    pools = {"A": []}
    for s in slows:
        pools[s] = []
    for i in range(a.pool):
        for kind in pools:
            out = os.path.join(work, f"{kind}-{i}.pyprobe")
            if not (a.keep and os.path.exists(out)):  # --keep: reuse a pool
                record(a, out, [] if kind == "A" else ["--slow", "parse", str(kind)])
            pools[kind].append(out)
        print(f"recorded {i + 1}/{a.pool} of each", file=sys.stderr)
    print(f"pyprobe diff, {a.runs} runs a side, {a.pairs} comparisons each, pool of "
          f"{a.pool} runs a kind, -r {a.rate}, {a.rounds} rounds; {a.pyprobe}")
    alarms = 0
    for _ in range(a.pairs):
        runs = rnd.sample(pools["A"], 2 * a.runs)
        code, _ = diff(a, runs[:a.runs], runs[a.runs:], os.path.join(work, "cmp"))
        alarms += code == 1
    lo, hi = wilson(alarms, a.pairs)
    print(f"A/A: {alarms} of {a.pairs} failed the gate ({100 * alarms / a.pairs:.1f}%, "
          f"95% {100 * lo:.1f}-{100 * hi:.1f}%)")
    for s in slows:
        hits = named_only = 0
        for _ in range(a.pairs):
            base = rnd.sample(pools["A"], a.runs)
            head = rnd.sample(pools[s], a.runs)
            code, j = diff(a, base, head, os.path.join(work, "cmp"))
            names = [f["function"] for f in j["regressions"]]
            hits += code == 1 and "parse" in names
            named_only += names == ["parse"]
        lo, hi = wilson(hits, a.pairs)
        print(f"parse +{s:g}%: caught {hits} of {a.pairs} ({100 * hits / a.pairs:.1f}%, "
              f"95% {100 * lo:.1f}-{100 * hi:.1f}%), parse alone named {named_only}")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
