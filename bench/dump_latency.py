#!/usr/bin/env python3
"""How long `pyprobe dump` takes against a 10-thread, 50-frame process.

Method: for each interpreter, start deep_threads.py (10 threads, each with a
50-frame Python stack, parked), wait until it is ready, then run
`pyprobe dump --pid PID --json` RUNS times in each mode (default: threads
paused with ptrace; --nonblocking) and time each whole command from fork to
exit with time.perf_counter(). That wall time includes exec, attaching
(maps, ELF symbol lookup, version detection), reading every thread, names,
rendering and writing; the pause itself is a part of it. We report the
median and the maximum. Each dump's frame count is checked, so a broken
read cannot look fast.

With --locals, every dump is `dump --locals` (each frame's arguments and
locals read and formatted too: deep_threads.py's frames hold a few each).

Usage: bench/dump_latency.py [--runs N] [--pyprobe PATH] [--locals]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
INTERPRETERS = [f"{PYENV}/versions/{v}/bin/python{v.rsplit('.', 1)[0]}"
                for v in ("3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1",
                          "3.13.0")] + ["/usr/bin/python3.11"]
THREADS, DEPTH = 10, 50


def run_dump(pyprobe, pid, extra):
    t0 = time.perf_counter()
    out = subprocess.run([pyprobe, "dump", "--pid", str(pid), "--json", *extra],
                         capture_output=True, check=True).stdout
    dt = time.perf_counter() - t0
    d = json.loads(out)
    frames = sorted(len(t["frames"]) for t in d["threads"])
    if len(frames) != THREADS or frames[0] < DEPTH:
        sys.exit(f"bad dump: {len(frames)} threads, depths {frames}")
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--pyprobe", default=os.path.join(HERE, "..", "build", "src", "pyprobe"))
    ap.add_argument("--locals", action="store_true")
    args = ap.parse_args()
    more = ["--locals"] if args.locals else []
    print(f"pyprobe dump{' --locals' if args.locals else ''}, {THREADS} threads x >= {DEPTH} "
          f"frames, {args.runs} runs per mode")
    print(f"{'interpreter':38} {'paused median':>14} {'max':>8} {'nonblocking median':>19} {'max':>8}")
    for py in INTERPRETERS:
        if not os.access(py, os.X_OK):
            print(f"{py:38} skipped: not installed")
            continue
        target = subprocess.Popen([py, os.path.join(HERE, "deep_threads.py"),
                                   str(THREADS), str(DEPTH)], stdout=subprocess.PIPE)
        try:
            assert target.stdout.readline().strip() == b"ready"
            row = []
            for extra in (more, more + ["--nonblocking"]):
                run_dump(args.pyprobe, target.pid, extra)  # warm the page cache
                ts = [run_dump(args.pyprobe, target.pid, extra) for _ in range(args.runs)]
                row += [statistics.median(ts) * 1e3, max(ts) * 1e3]
            print(f"{py:38} {row[0]:11.1f} ms {row[1]:5.1f} ms {row[2]:16.1f} ms {row[3]:5.1f} ms")
        finally:
            target.kill()
            target.wait()


if __name__ == "__main__":
    main()
