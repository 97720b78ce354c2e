#!/usr/bin/env python3
"""What `dump --core CORE --native` costs, against `dump --core` and the live
`dump --native` of the same process.

Method. Per interpreter, start bench/deep_threads.py (10 threads, each 50
Python frames deep, parked in time.sleep), wait for "ready", take a core
with gdb's `gcore` (the process runs on), and then, RUNS rounds
interleaved: `pyprobe dump --pid PID --json --native` of the process,
`pyprobe dump --core CORE --json` and `pyprobe dump --core CORE --json
--native`. Each command is timed whole, fork to exit (time.perf_counter):
exec, opening the core, the build-id checks, building the symboliser
(libdw reading every mapped file's symbols and DWARF), unwinding every
thread from the core's saved registers and stacks, symbolising, merging,
rendering. Every dump is checked (10 threads, each at least 50 Python
frames; with --native every thread merged), and the core's --native
frames must equal the live ones, so a broken run cannot look fast.
Figures: median and maximum wall time, and the median of pyprobe's own CPU
time (getrusage of the child): on a loaded machine the wall time is mostly
waiting for a CPU. The core is deleted afterwards.

Usage: bench/core_native_cost.py [--pyprobe PATH] [--runs N]
                                 [--versions 3.12.1,debian,...]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
THREADS, DEPTH = 10, 50
FIELDS = ("kind", "function", "file", "line", "library", "offset")


def interpreter(v):
    return "/usr/bin/python3.11" if v == "debian" else \
        f"{PYENV}/versions/{v}/bin/python{v.rsplit('.', 1)[0]}"


def run(pyprobe, args, native):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([pyprobe, "dump", "--json"] + args + (["--native"] if native else []),
                         capture_output=True, check=True).stdout
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    d = json.loads(out)
    if len(d["threads"]) != THREADS:
        sys.exit(f"bad dump: {len(d['threads'])} threads")
    for t in d["threads"]:
        py = [f for f in t["frames"] if f["kind"] == "python"]
        if len(py) < DEPTH or (native and t.get("native") != "merged"):
            sys.exit(f"bad dump: {len(py)} Python frames, native {t.get('native')}")
    stacks = [[tuple(f.get(k) for k in FIELDS) for f in t["frames"]] for t in d["threads"]]
    return dt, cpu, stacks


def bench(pyprobe, py, runs, tmp):
    p = subprocess.Popen([py, os.path.join(HERE, "deep_threads.py"), str(THREADS),
                          str(DEPTH)], stdout=subprocess.PIPE, text=True)
    core = None
    try:
        if p.stdout.readline().strip() != "ready":
            sys.exit("deep_threads.py did not start")
        prefix = os.path.join(tmp, "core")
        subprocess.run(["gcore", "-o", prefix, str(p.pid)], capture_output=True, check=True)
        core = f"{prefix}.{p.pid}"
        kinds = {"live --native": (["--pid", str(p.pid)], True),
                 "core": (["--core", core], False),
                 "core --native": (["--core", core], True)}
        ts = {k: [] for k in kinds}
        for _ in range(runs):
            for k, (args, native) in kinds.items():
                ts[k].append(run(pyprobe, args, native))
        if ts["live --native"][-1][2] != ts["core --native"][-1][2]:
            sys.exit("the core's native stacks differ from the live ones")
        return {k: (statistics.median(t[0] for t in v) * 1e3, max(t[0] for t in v) * 1e3,
                    statistics.median(t[1] for t in v) * 1e3) for k, v in ts.items()}
    finally:
        p.kill()
        p.wait()
        if core and os.path.exists(core):
            os.unlink(core)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyprobe", default=os.path.join(ROOT, "build-rel/src/pyprobe"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--versions", default="3.8.18,3.12.1,3.13.0,debian")
    a = ap.parse_args()
    print("# %s, %d CPUs, load average %s" % (time.strftime("%Y-%m-%d %H:%M:%S"),
          os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
    print("| interpreter | live `dump --native` | `dump --core` | `dump --core --native` |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for v in a.versions.split(","):
            r = bench(a.pyprobe, interpreter(v), a.runs, tmp)
            cell = lambda k: "%.0f / %.0f (CPU %.0f)" % r[k]  # noqa: E731
            print(f"| {v} | {cell('live --native')} | {cell('core')} | "
                  f"{cell('core --native')} |", flush=True)


if __name__ == "__main__":
    main()
