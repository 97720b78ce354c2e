#!/usr/bin/env python3
"""Check `pyprobe report --json` of the GIL and asyncio fixtures.

Usage:
  check_gil_report.py threads REPORT.json N TOLERANCE_POINTS
      fixtures/gil/primes.py --threads N: each worker-K thread holds the GIL
      100/N percent of its samples, within the tolerance, and waits for it
      in most of the rest.
  check_gil_report.py hashing REPORT.json
      fixtures/gil/hashing.py: the hasher runs without the GIL (released)
      in most of its samples, and more often than it holds it.
  check_gil_report.py stalls REPORT.json MANIFEST.json TOLERANCE_PERCENT
      fixtures/asyncio/stalls.py: every stall of the manifest (what the
      program measured itself) is reported once, with its function and
      line as the innermost frame and its duration within the tolerance;
      nothing else is reported.
Prints what it compared; exits 1 on a mismatch.
"""
import json
import sys


def fail(msg):
    print(msg)
    sys.exit(1)


def threads(report, n, tol):
    workers = [t for t in report["threads"] if (t["name"] or "").startswith("worker-")]
    if len(workers) != n:
        fail(f"expected {n} worker threads, found {[t['name'] for t in report['threads']]}")
    want = 100.0 / n
    bad = []
    for t in workers:
        held, wait = t["gil_held_pct"], t["gil_wait_pct"]
        print(f"{t['name']}: held {held:.1f}% waiting {wait:.1f}% released "
              f"{t['released_pct']:.1f}% idle {t['idle_pct']:.1f}% ({t['samples']} samples)")
        total = held + wait + t["released_pct"] + t["idle_pct"]
        if abs(total - 100) > 1:
            bad.append(f"{t['name']}: shares sum to {total:.1f}")
        if abs(held - want) > tol:
            bad.append(f"{t['name']}: held {held:.1f}%, want {want:.1f} +- {tol}")
        if n > 1 and wait < (100 - held) / 2:
            bad.append(f"{t['name']}: waiting {wait:.1f}% is not most of the rest")
    print(f"GIL held {report['gil']['held_pct']:.1f}%, contention "
          f"{report['gil']['contention_pct']:.1f}%")
    if bad:
        fail("\n".join(bad))


def hashing(report):
    t = next((t for t in report["threads"] if t["name"] == "hasher"), None)
    if t is None:
        fail("no thread named hasher")
    print(f"hasher: held {t['gil_held_pct']:.1f}% waiting {t['gil_wait_pct']:.1f}% "
          f"released {t['released_pct']:.1f}% idle {t['idle_pct']:.1f}%")
    if t["released_pct"] < 50 or t["released_pct"] <= t["gil_held_pct"]:
        fail("the hasher should run without the GIL most of the time")


def stalls(report, manifest, tol, names):
    got = report["stalls"]
    for s in got:
        top = s["stack"][0] if s["stack"] else {}
        print(f"reported: {s['duration_ms']:.0f} ms at {s['start_s']:.3f} s in "
              f"{top.get('function')}:{top.get('line')} (task {s['task']}, "
              f"task_name {s['task_name']})")
    for m in manifest:
        print(f"expected: {m['duration_ms']:.0f} ms at {m['start_s']:.3f} s in "
              f"{m['function']}:{m['line']}")
    bad = []
    used = set()
    for m in manifest:
        match = [i for i, s in enumerate(got)
                 if s["stack"] and s["stack"][0]["function"] == m["function"]
                 and s["stack"][0]["line"] == m["line"]]
        if len(match) != 1:
            bad.append(f"{m['function']}:{m['line']}: reported {len(match)} times")
            continue
        used.add(match[0])
        # 3.11+ (names): the Task the manifest names, none for the plain
        # callback; before: never a name
        want = m["task"] if names else None
        if got[match[0]]["task_name"] != want:
            bad.append(f"{m['function']}:{m['line']}: task_name "
                       f"{got[match[0]]['task_name']!r}, the program ran it in {want!r}")
        d = got[match[0]]["duration_ms"]
        # The tolerance, or what report says its duration can be off by
        # when the sampler missed ticks next to it (its edges lie in the
        # gaps), whichever is wider.
        err = got[match[0]]["duration_error_ms"]
        if abs(d - m["duration_ms"]) > max(m["duration_ms"] * tol / 100, err):
            bad.append(f"{m['function']}:{m['line']}: {d:.0f} ms (give or take {err:.0f}), "
                       f"the program measured {m['duration_ms']:.0f} ms (tolerance {tol}%)")
    extra = [s for i, s in enumerate(got) if i not in used]
    if extra:
        bad.append(f"{len(extra)} stall(s) reported that the program did not make")
    if bad:
        fail("\n".join(bad))


def task_names(report, names):
    """fixtures/asyncio/task_names.py: three stalls, each named with the
    name its Task had then (the program's "names" line)."""
    got = [s["task_name"] for s in report["stalls"]]
    print(f"stalls named {got}, the program's Tasks were {names}")
    if got != names:
        fail(f"task names {got}, not {names}")


def main():
    mode, path = sys.argv[1], sys.argv[2]
    report = json.load(open(path, encoding="utf-8"))
    if mode == "threads":
        threads(report, int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "hashing":
        hashing(report)
    elif mode == "task_names":
        task_names(report, sys.argv[3:])
    elif mode == "stalls":
        stalls(report, json.load(open(sys.argv[3], encoding="utf-8")), float(sys.argv[4]),
               len(sys.argv) > 5 and sys.argv[5] == "names")
    else:
        fail(f"unknown mode {mode}")


main()
