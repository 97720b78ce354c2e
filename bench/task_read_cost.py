#!/usr/bin/env python3
"""What naming the asyncio Task costs `record` (format 1.3, 3.11+).

Method. A target whose event loop is busy in one named Task the whole
time (a coroutine burning CPU in pure Python, never awaiting: every
sample of the loop thread runs a callback, so every one reads the Task)
runs for SECONDS under `pyprobe record -r 100 -o FILE.pyprobe`, RUNS
times per interpreter. pyprobe's summary gives, per run, the median cost
of reading a snapshot (the stack read, timed around the reader's sample
call: the per-sample cost without the Task) and the median and mean of
the Task read that follows it for a busy-loop sample (its own timer; the
mean includes the first read, which finds what later reads keep). A run
counts only if all but at most 3 busy-loop samples named a Task (the
rest: asyncio.run's plain callbacks, a done callback, which no Task
runs) and `pyprobe report` names it in the stall. Figures:
medians over the runs; the load average is printed before and after.

Usage: bench/task_read_cost.py [--pyprobe PATH] [--runs N] [--seconds S]
                               [--versions 3.12.1,sid-3.14,...]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SID = "/var/lib/pyprobe/sid"

TARGET = r'''
import asyncio, sys, time
async def busy(seconds):
    end = time.monotonic() + seconds
    x = 1
    while time.monotonic() < end:
        x = x * 3 % 1000003
    return x
async def main():
    await asyncio.create_task(busy(float(sys.argv[1])), name="busy-task")
asyncio.run(main())
'''


def interpreter(spec, tmp):
    """argv prefix and the target's path as that interpreter sees it."""
    if spec.startswith("sid-"):
        path = "/tmp/pyprobe_task_read_cost.py"
        with open(SID + path, "w") as f:
            f.write(TARGET)
        return ["chroot", SID, "python" + spec[4:]], path
    pyenv = subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(tmp, "target.py")
    with open(path, "w") as f:
        f.write(TARGET)
    return [f"{pyenv}/versions/{spec}/bin/python3"], path


def one_run(pyprobe, spec, seconds, tmp):
    argv, target = interpreter(spec, tmp)
    out = os.path.join(tmp, "r.pyprobe")
    p = subprocess.run([pyprobe, "record", "-r", "100", "-o", out, "--"] + argv +
                       [target, str(seconds)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{spec}: record failed: {p.stderr}")
    m = re.search(r"sampling cost median ([\d.]+) µs", p.stderr)
    t = re.search(r"asyncio Tasks: (\d+) thread samples in an event loop callback, (\d+) "
                  r"named; reading the Task: median ([\d.]+) µs, p99 ([\d.]+) µs, "
                  r"mean ([\d.]+) µs", p.stderr)
    if not m or not t:
        sys.exit(f"{spec}: no figures in record's summary:\n{p.stderr}")
    rep = subprocess.run([pyprobe, "report", "--json", out], capture_output=True, text=True)
    stalls = json.loads(rep.stdout)["stalls"] if rep.returncode == 0 else []
    # asyncio.run's own plain callbacks (a done callback at the end) are
    # busy samples that no Task runs: a few may go unnamed
    ok = (int(t.group(1)) > 0 and int(t.group(2)) >= int(t.group(1)) - 3 and
          any(s.get("task_name") == "busy-task" for s in stalls))
    if not ok:
        print(f"  ({spec}: run not counted: {t.group(2)} of {t.group(1)} busy samples named, "
              f"stalls named {[x.get('task_name') for x in stalls]})", file=sys.stderr)
    return ok, float(m.group(1)), float(t.group(3)), float(t.group(4)), float(t.group(5)), \
        int(t.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyprobe", default=os.path.join(ROOT, "build-rel/src/pyprobe"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--versions", default="3.11.7,3.12.1,3.13.0,sid-3.14")
    a = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print("| interpreter | runs ok | busy samples/run | stack read median µs | "
          "Task read median µs | Task read p99 µs | Task read mean µs |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in a.versions.split(","):
            rows = [one_run(a.pyprobe, spec, a.seconds, tmp) for _ in range(a.runs)]
            good = [r for r in rows if r[0]]
            if not good:
                print(f"| {spec} | 0/{a.runs} | | | | | |")
                continue
            med = lambda k: statistics.median(r[k] for r in good)  # noqa: E731
            print(f"| {spec} | {len(good)}/{a.runs} | {med(5):.0f} | {med(1):.1f} | "
                  f"{med(2):.1f} | {med(3):.1f} | {med(4):.1f} |")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
