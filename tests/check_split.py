#!/usr/bin/env python3
"""Check a collapsed profile of fixtures/record/split.py.

Usage: check_split.py COLLAPSED [TOLERANCE_POINTS [TRUTH_FILE]]
Counts the samples whose stack passes through alpha, beta or gamma and
checks their shares against 50/30/20 within the tolerance (default 3
percentage points) -- or, with TRUTH_FILE (written by split.py), against
the split the target measured itself, which differs from 50/30/20 when a
loaded machine made it overrun slices. Prints the shares; exits 1 if any
is off.
"""
import sys

path = sys.argv[1]
tol = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
counts = {"alpha": 0, "beta": 0, "gamma": 0}
for line in open(path, encoding="utf-8"):
    stack, _, n = line.rstrip("\n").rpartition(" ")
    for frame in stack.split(";"):
        name = frame.split(" (", 1)[0]
        if name in counts:
            counts[name] += int(n)
            break
total = sum(counts.values())
if total < 200:
    sys.exit(f"only {total} samples in alpha/beta/gamma: too few to judge")
want = {"alpha": 50.0, "beta": 30.0, "gamma": 20.0}
if len(sys.argv) > 3:
    for line in open(sys.argv[3], encoding="utf-8"):
        name, share = line.split()
        want[name] = float(share)
bad = False
for k in ("alpha", "beta", "gamma"):
    share = 100.0 * counts[k] / total
    off = share - want[k]
    print(f"{k}: {share:.1f}% (want {want[k]:.1f}%, {off:+.1f} points, {counts[k]} samples)")
    bad |= abs(off) > tol
sys.exit(1 if bad else 0)
