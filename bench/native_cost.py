#!/usr/bin/env python3
"""What --native costs: `dump --native` latency, and `record --native`'s
cost per sample and its target's slowdown at 100 Hz.

Method.
dump: per interpreter, start bench/deep_threads.py (10 threads, each 50
Python frames deep, parked in time.sleep), wait for "ready", then run
`pyprobe dump --pid PID --json --native` RUNS times (and, for comparison,
the same without --native), timing each whole command from fork to exit
with time.perf_counter(): exec, attach, building the symboliser (libdw
reading every mapped file's symbols and, where present, DWARF - libc's
separate debug file included, whose compressed sections it inflates), the pause,
unwinding every thread, symbolising, merging, rendering. Each dump is
checked: 10 threads merged, each at least 50 Python frames, so a broken
run cannot look fast. Median and maximum wall time, and the median of
pyprobe's own CPU time (getrusage of the child): on a loaded machine the
wall time is mostly waiting for a CPU.
record: fixtures/bench/workload.py --work N --gate (pure-Python CPU work,
N calibrated to ~2 s unprofiled) runs unwatched, then under `pyprobe
record --pid PID -r 100 --native -f collapsed -o /dev/null`, then under
the same without --native, and under the same with --blocking instead
(the pause alone, without unwinding), ROUNDS rounds interleaved. Figures, medians: the
target's wall and CPU time as a change from unwatched, and pyprobe's own
summary line's sampling cost per sample (median) and its unwinding time a
sample (the part --native adds: unwinding every thread while paused).

Where the time of `dump --native` goes (--no-debug-files): the same dump
again in a private mount namespace whose /usr/lib/debug is an empty tmpfs,
so that libdw finds no separate debug files (libc6-dbg's for libc, libm,
ld.so) and names those libraries' frames from their ELF symbols alone,
without file:line or inlined calls - not the output pyprobe shows, a
measurement of what those files cost. The three kinds of dump are
interleaved run by run.

With --compare OTHER..., the dumps of every binary are interleaved run by
run (before/after in one run).

Usage: bench/native_cost.py [--pyprobe PATH] [--runs N] [--rounds N]
                            [--versions 3.8.18,3.11.7,...] [--record-only]
                            [--dump-only] [--no-debug-files] [--compare PYPROBE...]
"""
import argparse
import ctypes
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")
THREADS, DEPTH = 10, 50


def interpreter(v):
    return "/usr/bin/python3.11" if v == "debian" else \
        f"{PYENV}/versions/{v}/bin/python{v.rsplit('.', 1)[0]}"


def hide_debug_files():
    """In the child, before exec: a mount namespace of its own, private,
    with an empty /usr/lib/debug."""
    libc = ctypes.CDLL(None, use_errno=True)
    CLONE_NEWNS, MS_REC, MS_PRIVATE = 0x20000, 0x4000, 1 << 18
    if libc.unshare(CLONE_NEWNS) != 0 or \
       libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0 or \
       libc.mount(b"none", b"/usr/lib/debug", b"tmpfs", 0, None) != 0:
        os._exit(99)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def dump_once(pyprobe, pid, native, nodebug=False):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run([pyprobe, "dump", "--pid", str(pid), "--json"]
                         + (["--native"] if native else []),
                         capture_output=True, check=True,
                         preexec_fn=hide_debug_files if nodebug else None).stdout
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
    return dt, cpu


def bench_dump(pyprobes, py, runs, nodebug=False):
    p = subprocess.Popen([py, os.path.join(HERE, "deep_threads.py"), str(THREADS),
                          str(DEPTH)], stdout=subprocess.PIPE, text=True)
    try:
        if p.stdout.readline().strip() != "ready":
            sys.exit("deep_threads.py did not start")
        kinds = [(b, False, False) for b in pyprobes] + \
            [(b, True, False) for b in pyprobes] + \
            ([(b, True, True) for b in pyprobes] if nodebug else [])
        ts = {k: [] for k in kinds}
        for _ in range(runs):  # interleaved
            for k in kinds:
                ts[k].append(dump_once(*k[:1], p.pid, *k[1:]))
        res = {}
        for k, v in ts.items():
            wall = [t[0] for t in v]
            res[k] = (statistics.median(wall) * 1e3, max(wall) * 1e3,
                      statistics.median(t[1] for t in v) * 1e3)
        return res
    finally:
        p.kill()
        p.wait()


def workload(py, n, pyprobe=None, extra=()):
    p = subprocess.Popen([py, os.path.join(ROOT, "fixtures/bench/workload.py"), "--work",
                          str(n), "--gate"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    rec = None
    if pyprobe:
        rec = subprocess.Popen([pyprobe, "record", "--pid", str(p.pid), "-r", "100",
                                "-f", "collapsed", "-o", "/dev/null", "--no-progress"]
                               + list(extra), stderr=subprocess.PIPE, text=True)
        time.sleep(0.5 if extra else 0.3)
    p.stdin.write("go\n")
    p.stdin.flush()
    line = p.stdout.readline().split()
    p.wait()
    wall, cpu = float(line[1]), float(line[3])
    cost = unwind = None
    if rec:
        err = rec.communicate()[1]
        m = re.search(r"sampling cost median ([0-9.]+) µs", err)
        cost = float(m.group(1)) if m else None
        m = re.search(r"unwinding ([0-9.]+) µs a sample", err)
        unwind = float(m.group(1)) if m else None
    return wall, cpu, cost, unwind


def bench_record(pyprobe, py, rounds):
    n = 2000
    base = workload(py, n)[0]
    n = max(1000, int(n * 2.0 / base))
    modes = {"none": [], "record": [], "record --blocking": [], "record --native": []}
    for r in range(rounds):
        order = list(modes)
        order = order[r % 4:] + order[:r % 4]
        for m in order:
            modes[m].append(workload(py, n, None if m == "none" else pyprobe,
                                     m.split()[1:]))
    med = {m: [statistics.median(x[i] for x in v) if v[0][i] is not None else None
               for i in range(4)] for m, v in modes.items()}
    return med


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyprobe", default=os.path.join(ROOT, "build-rel/src/pyprobe"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--versions", default="3.8.18,3.11.7,3.12.1,3.13.0,debian")
    ap.add_argument("--record-only", action="store_true")
    ap.add_argument("--dump-only", action="store_true")
    ap.add_argument("--compare", nargs="+", default=[], metavar="PYPROBE",
                    help="dumps: other binaries too, interleaved run by run")
    ap.add_argument("--no-debug-files", action="store_true",
                    help="also dump --native with /usr/lib/debug hidden (root)")
    a = ap.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, {a.pyprobe}, "
          f"load average {loadavg()}")
    print(f"dump: {THREADS} threads x {DEPTH} frames, {a.runs} runs, ms: wall median / max,"
          " pyprobe's CPU (user+sys) median")
    binaries = [a.pyprobe] + a.compare
    for v in a.versions.split(",") if not a.record_only else ():
        r = bench_dump(binaries, interpreter(v), a.runs, a.no_debug_files)
        for b in binaries:
            line = (f"  {v:8}  plain {r[b, False, False][0]:6.1f} / {r[b, False, False][1]:6.1f}, "
                    f"CPU {r[b, False, False][2]:5.1f}   --native {r[b, True, False][0]:6.1f} / "
                    f"{r[b, True, False][1]:6.1f}, CPU {r[b, True, False][2]:5.1f}")
            if (b, True, True) in r:
                line += (f"   --native without debug files {r[b, True, True][0]:6.1f} / "
                         f"{r[b, True, True][1]:6.1f}, CPU {r[b, True, True][2]:5.1f}")
            print(line + (f"   [{b}]" if len(binaries) > 1 else ""))
        print(f"  (load average {loadavg()})", flush=True)
    if a.dump_only:
        return
    print(f"record at 100 Hz, {a.rounds} rounds: target wall/CPU change, "
          "pyprobe cost a sample, unwinding a sample")
    for v in a.versions.split(","):
        med = bench_record(a.pyprobe, interpreter(v), a.rounds)
        print(f"  {v:8} (load average {loadavg()})")
        w0, c0 = med["none"][0], med["none"][1]
        for m in ("record", "record --blocking", "record --native"):
            w, c, cost, unw = med[m]
            print(f"  {v:8} {m:16} wall {100 * (w / w0 - 1):+5.1f}%  "
                  f"CPU {100 * (c / c0 - 1):+5.1f}%  cost {cost:7.1f} µs"
                  + (f"  unwinding {unw:7.1f} µs" if unw is not None else ""))


if __name__ == "__main__":
    main()
