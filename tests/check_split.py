#!/usr/bin/env python3
"""Check a profile of fixtures/record/{split,idle_split,idle_churn}.py.

Usage: check_split.py COLLAPSED [TOLERANCE_POINTS [TRUTH_FILE [GECKO]]]

The profile's share of alpha, beta and gamma: the samples of COLLAPSED
whose stack passes through each. Without GECKO they are checked against
50/30/20 within the tolerance (default 3 percentage points), or against
the split of wall time the target measured itself (TRUTH_FILE, written by
the fixture), which differs from 50/30/20 when a loaded machine made it
overrun slices or sleeps.

With GECKO (the same recording rendered with -f gecko) the verdict is the
truth at the instants pyprobe sampled, not over the whole wall time. A
loaded machine deschedules pyprobe in the same stretches as the target
(the target overran a sleep because it was starved of CPU; so was pyprobe,
which sampled few of those instants), so a right profile can be 10 points
off the wall time; a sampler can only be judged on the instants it
sampled. The instants: every distinct tick time in GECKO (meta.startTime
plus a sample's time; all the threads sampled in a tick share its time),
each classified by TRUTH_FILE.intervals (the calls, in wall-clock ns) as
the function the target was in then; ticks in no call are left out. Both
truths are printed, so a failure shows which one the profile is off.

Also counted from GECKO, and a failure: samples naming a function the
target cannot have been in when pyprobe read it. A tick's time is taken
before its reads and the next tick's after them, so the read happened in
between, however late load made it; and one call's frame can only exist
between the end of the call before it and the start of the call after it
(one function runs at a time). A sample whose function had no call in
reach of that window is a wrong stack - a stale one, typically - whatever
the load. Exits 1 if any share is off or such samples are found.
"""
import bisect
import json
import sys

NAMES = ("alpha", "beta", "gamma")
# The sample times' clock: pyprobe reads the wall clock next to the
# monotonic one they count from (microseconds apart); this leaves room.
CLOCK_SLACK_NS = 1_000_000


def profile_counts(path):
    counts = dict.fromkeys(NAMES, 0)
    for line in open(path, encoding="utf-8"):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        for frame in stack.split(";"):
            name = frame.split(" (", 1)[0]
            if name in counts:
                counts[name] += int(n)
                break
    return counts


def read_intervals(path):
    calls = []
    for line in open(path, encoding="utf-8"):
        name, start, end = line.split()
        calls.append((int(start), int(end), name))
    calls.sort()
    return calls


def gecko_samples(path):
    """[(tick ns, function or None)] over every thread: the function of
    alpha/beta/gamma the stack passes through, outermost first (as
    profile_counts reads a collapsed stack)."""
    d = json.load(open(path, encoding="utf-8"))
    strings = d["shared"]["stringArray"]
    start_ns = round(d["meta"]["startTime"] * 1e6)
    out = []
    for th in d["threads"]:
        st, ft, fn = th["stackTable"], th["frameTable"], th["funcTable"]
        memo = {}

        def named(stack):
            """The outermost of the three on the stack, or None."""
            if stack is None:
                return None
            if stack not in memo:
                outer = named(st["prefix"][stack])
                if outer is None:
                    name = strings[fn["name"][ft["func"][st["frame"][stack]]]]
                    outer = name if name in NAMES else None
                memo[stack] = outer
            return memo[stack]

        sm = th["samples"]
        for stack, t in zip(sm["stack"], sm["time"]):
            out.append((start_ns + round(t * 1e6), named(stack)))
    return out


def at_instants(ticks, calls):
    """Per function, the ticks inside one of its calls; and how many
    ticks were in none."""
    starts = [c[0] for c in calls]
    counts, outside = dict.fromkeys(NAMES, 0), 0
    for t in ticks:
        i = bisect.bisect_right(starts, t) - 1
        if i >= 0 and t <= calls[i][1] and calls[i][2] in counts:
            counts[calls[i][2]] += 1
        else:
            outside += 1
    return counts, outside


def wrong_samples(samples, ticks, calls):
    """The samples whose function cannot have been on the stack while the
    tick was read: [(tick ns, function, the call the tick was in)]."""
    # each call's reach: from the end of the call before to the start of
    # the call after (its frame exists nowhere outside)
    reach = {k: [] for k in NAMES}
    for i, (_, _, name) in enumerate(calls):
        lo = calls[i - 1][1] if i > 0 else -1
        hi = calls[i + 1][0] if i + 1 < len(calls) else 1 << 80
        if name in reach:
            reach[name].append((lo, hi))
    starts = [c[0] for c in calls]
    nxt = {t: (ticks[i + 1] if i + 1 < len(ticks) else 1 << 80) for i, t in enumerate(ticks)}
    wrong = []
    for t, name in samples:
        if name is None:
            continue
        lo, hi = t - CLOCK_SLACK_NS, nxt[t] + CLOCK_SLACK_NS
        r = reach[name]
        # one function's reaches are apart and in order: the last one
        # starting before hi is the only one that can reach past lo
        j = bisect.bisect_left(r, (hi, -1)) - 1
        if j >= 0 and r[j][1] > lo:
            continue
        i = bisect.bisect_right(starts, t) - 1
        inside = calls[i][2] if i >= 0 and t <= calls[i][1] else "none"
        wrong.append((t, name, inside))
    return wrong


def main(argv):
    collapsed = argv[1]
    tol = float(argv[2]) if len(argv) > 2 else 3.0
    counts = profile_counts(collapsed)
    total = sum(counts.values())
    # Against a split over time, ~200 samples keep the binomial noise of
    # a share under 3.5 points. At the instants sampled there is no such
    # noise (the truth is taken at the same instants): a few dozen judge,
    # which a machine at load 18 can leave of 800 ticks.
    least = 50 if len(argv) > 4 else 200
    if total < least:
        print(f"only {total} samples in alpha/beta/gamma: too few to judge")
        return 1
    share = {k: 100.0 * counts[k] / total for k in NAMES}
    wall = {"alpha": 50.0, "beta": 30.0, "gamma": 20.0}
    if len(argv) > 3:
        for line in open(argv[3], encoding="utf-8"):
            name, s = line.split()
            wall[name] = float(s)
    if len(argv) <= 4:
        bad = False
        for k in NAMES:
            off = share[k] - wall[k]
            print(f"{k}: {share[k]:.1f}% (want {wall[k]:.1f}%, {off:+.1f} points, "
                  f"{counts[k]} samples)")
            bad |= abs(off) > tol
        return 1 if bad else 0

    calls = read_intervals(argv[3] + ".intervals")
    samples = gecko_samples(argv[4])
    ticks = sorted({t for t, _ in samples})
    inst, outside = at_instants(ticks, calls)
    ninst = sum(inst.values())
    if ninst < least:
        print(f"only {ninst} of {len(ticks)} ticks in a call: too few to judge")
        return 1
    bad = False
    for k in NAMES:
        at = 100.0 * inst[k] / ninst
        off = share[k] - at
        print(f"{k}: profile {share[k]:.1f}% ({counts[k]} samples); at the instants sampled "
              f"{at:.1f}% ({off:+.1f} points); over the wall time {wall[k]:.1f}% "
              f"({share[k] - wall[k]:+.1f} points)")
        bad |= abs(off) > tol
    wrong = wrong_samples(samples, ticks, calls)
    named = sum(1 for _, n in samples if n)
    print(f"{len(ticks)} ticks, {ninst} in a call, {outside} between calls; "
          f"{len(wrong)} of {named} samples name a function the target was not in "
          f"while they were read")
    for t, name, inside in wrong[:5]:
        print(f"  wrong: {name} at {(t - ticks[0]) / 1e6:.3f} ms, in {inside} then")
    bad |= bool(wrong)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
