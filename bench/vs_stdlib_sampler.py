#!/usr/bin/env python3
"""pyprobe side by side with CPython 3.15's own sampler, on the same targets.

CPython 3.15 ships `python3.15 -m profiling.sampling` (attach, run, dump;
collapsed, flamegraph, gecko, pstats; --blocking; a GIL mode). Both tools
read the target from outside; this compares them on Debian sid's 3.15 in
the sid root (tools/install-deps), where the targets and the stdlib sampler
run chrooted and pyprobe runs on the host. Five questions, one table each:

1. dump: fixtures/dump/threads.py parks a dozen threads (deep recursion,
   generators, coroutines, a sub-interpreter) and writes what
   sys._current_frames() says. `pyprobe dump --json` and `profiling.sampling
   dump -a` are each compared with it thread by thread: the same functions,
   files (by base name: the stdlib tool shortens them) and lines, in order.
2. accuracy: fixtures/record/split.py (flat loops) and
   fixtures/bench/call_split.py (tiny calls, frames pushed and popped all
   the time) spend known shares of their time in alpha/beta/gamma and
   measure them; each tool launches one of them at 1 kHz (`record --`,
   `run`) and the largest difference between the profile's shares and the
   program's own is reported, in points.
3. profiler CPU per sample at 1 kHz: fixtures/bench/workload.py (one busy
   thread ~26 frames deep) attached for a short and a long run; the tool's
   own CPU time (rusage from wait4) difference over the sample-count
   difference, so start-up (pyprobe's exec, the interpreter starting and
   importing the sampler) cancels out.
4. highest rate: the same target, pyprobe `-r max` (back to back) and the
   stdlib tool at -r 100k, for a few seconds: the rate each reached.
5. target slowdown at 1 kHz: `workload.py --work N --gate` timed with no
   profiler and with each one attached, alternating, median of the runs.

Usage: bench/vs_stdlib_sampler.py [--pyprobe BUILD/src/pyprobe] [--quick]
       [--runs N] [--only dump,accuracy,cpu,rate,slowdown]
Needs root (chroot). Figures on a shared 2-CPU VM are rough; the method is
in bench/README.md.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from recordlib import ROOT, conditions, default_pyprobe, table

SID = os.environ.get("PYPROBE_SID_ROOT", "/var/lib/pyprobe/sid")
PY = "python3.15"
NAMES = ("alpha", "beta", "gamma")


# ---- running things ----------------------------------------------------------

class Env:
    """The fixtures copied into the sid root, and paths both ways."""

    def __init__(self):
        self.inside = f"/tmp/pyprobe-bench-{os.getpid()}"
        self.host = SID + self.inside
        shutil.copytree(os.path.join(ROOT, "fixtures"), os.path.join(self.host, "fixtures"))

    def fixture(self, rel):
        return f"{self.inside}/fixtures/{rel}"

    def host_path(self, inside):
        return SID + inside

    def close(self):
        shutil.rmtree(self.host, ignore_errors=True)


def chroot(*argv):
    return ["chroot", SID, *argv]


def run_rusage(cmd, timeout=300, stdin=None):
    """Run to its end: (exit code, stdout+stderr text, CPU seconds of the
    process itself, wall seconds)."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=stdin)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                _, status, ru = os.wait4(p.pid, 0)
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    return p.returncode, text, ru.ru_utime + ru.ru_stime, wall


class Target:
    """A chrooted python3.15 target that prints "ready"; killed on exit."""

    def __init__(self, argv, stdin=None):
        self.p = subprocess.Popen(chroot(PY, "-B", *argv), stdout=subprocess.PIPE,
                                  stdin=stdin)
        line = self.p.stdout.readline().strip()
        if line != b"ready":
            self.close()
            raise RuntimeError(f"{argv}: expected 'ready', got {line!r}")

    @property
    def pid(self):
        return self.p.pid

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


PP_SUMMARY = re.compile(r"pyprobe: (\d+) samples in ([\d.]+) s \(([\d.]+) Hz\)")
STD_SAMPLES = re.compile(r"Captured (\d+) samples in ([\d.]+) seconds")
STD_RATE = re.compile(r"Sample rate: ([\d.]+) samples/sec")


def pyprobe_record(args, pid, rate, seconds, out="/dev/null"):
    rc, text, cpu, wall = run_rusage([args.pyprobe, "record", "--pid", str(pid), "-r",
                                      str(rate), "-d", str(seconds), "-f", "collapsed",
                                      "-o", out, "--no-progress"])
    m = PP_SUMMARY.search(text)
    if rc != 0 or not m:
        raise RuntimeError(f"pyprobe record failed ({rc}):\n{text}")
    return int(m.group(1)), float(m.group(3)), cpu


def stdlib_attach(pid, rate, seconds, out="/dev/null"):
    rc, text, cpu, wall = run_rusage(chroot(PY, "-m", "profiling.sampling", "attach",
                                            "-r", str(rate), "-d", str(seconds),
                                            "--collapsed", "-o", out, str(pid)))
    m = STD_SAMPLES.search(text)
    r = STD_RATE.search(text)
    if rc != 0 or not m:
        raise RuntimeError(f"profiling.sampling attach failed ({rc}):\n{text}")
    return int(m.group(1)), float(r.group(1)) if r else float("nan"), cpu


# ---- 1. dump -----------------------------------------------------------------

def truth_threads(path):
    with open(path, encoding="utf-8") as f:
        t = json.load(f)
    return {th["native_id"]: [(fr["name"], fr["function"], os.path.basename(fr["file"]),
                               fr["line"]) for fr in th["frames"]] for th in t["threads"]}


def same_frames(want, got):
    """want: (name, qualname, base, line) innermost first; got: (name,
    base, line). The stdlib tool may print either name."""
    return len(want) == len(got) and all(
        g[0] in (w[0], w[1]) and g[1] == w[2] and g[2] == w[3] for w, g in zip(want, got))


def parse_stdlib_dump(text):
    """Blocks "Stack dump[ for PID P], thread T (...; most recent call last):"
    of `File "F", line N, in NAME` lines (no line for some frames); a thread
    that runs in two interpreters has a block in each (the inner one first)."""
    blocks = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"Stack dump(?: for PID \d+)?, thread (\d+)", line)
        if m:
            cur = []
            blocks.setdefault(int(m.group(1)), []).append(cur)
            continue
        m = re.match(r'\s+File "(.*?)"(?:, line (-?\d+))?, in (.*)$', line)
        if m and cur is not None:
            ln = int(m.group(2)) if m.group(2) is not None else None
            cur.append((m.group(3), os.path.basename(m.group(1)), ln))
    return {tid: [f for b in bl for f in reversed(b)] for tid, bl in blocks.items()}


def parse_pyprobe_dump(text):
    d = json.loads(text)
    return {t["native_id"]: [(f.get("name") or "", os.path.basename(f.get("file") or ""),
                              f.get("line")) for f in t["frames"]
                             if f.get("kind", "python") == "python"] for t in d["threads"]}


def bench_dump(args, env):
    truth_in = f"{env.inside}/truth.json"
    truth = env.host_path(truth_in)
    p = subprocess.Popen(chroot(PY, "-X", "utf8", "-B", env.fixture("dump/threads.py"),
                                truth_in), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(truth):
            if time.monotonic() > deadline or p.poll() is not None:
                raise RuntimeError("threads.py wrote no truth")
            time.sleep(0.05)
        time.sleep(1.0)  # its reporter thread exits
        want = truth_threads(truth)
        tools = [
            ("pyprobe dump --json (paused)",
             [args.pyprobe, "dump", "--json", "--pid", str(p.pid)], parse_pyprobe_dump),
            ("pyprobe dump --json --nonblocking",
             [args.pyprobe, "dump", "--json", "--nonblocking", "--pid", str(p.pid)],
             parse_pyprobe_dump),
            ("profiling.sampling dump -a",
             chroot(PY, "-m", "profiling.sampling", "dump", "-a", str(p.pid)),
             parse_stdlib_dump),
            ("profiling.sampling dump -a --blocking",
             chroot(PY, "-m", "profiling.sampling", "dump", "-a", "--blocking", str(p.pid)),
             parse_stdlib_dump),
        ]
        rows = []
        for label, cmd, parse in tools:
            walls, ok_threads, ok_frames, first_bad = [], 0, 0, ""
            for _ in range(args.dumps):
                t0 = time.perf_counter()
                r = subprocess.run(cmd, capture_output=True, text=True)
                walls.append(time.perf_counter() - t0)
            got = parse(r.stdout + r.stderr) if r.returncode == 0 else {}
            for tid, frames in sorted(want.items()):
                g = got.get(tid)
                if g is not None and same_frames(frames, g):
                    ok_threads += 1
                    ok_frames += len(frames)
                elif not first_bad:
                    first_bad = f"thread {tid}: {len(frames)} frames, got " + (
                        "none" if g is None else f"{len(g)}")
            rows.append([label, f"{ok_threads}/{len(want)}",
                         f"{ok_frames}/{sum(len(f) for f in want.values())}",
                         f"{1000 * statistics.median(walls):.0f} ms",
                         first_bad or "-"])
        print(f"\n1. dump of threads.py ({len(want)} threads) vs sys._current_frames()")
        table(["tool", "threads identical", "frames identical", "wall (median)",
               "first difference"], rows)
    finally:
        p.kill()
        p.wait()


# ---- 2. accuracy -------------------------------------------------------------

def shares_pyprobe(path):
    counts = dict.fromkeys(NAMES, 0)
    for line in open(path, encoding="utf-8"):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        for frame in stack.split(";"):
            name = frame.split(" (", 1)[0].rpartition(".")[2]
            if name in counts:
                counts[name] += int(n)
                break
    return counts


def shares_stdlib(path):
    """Collapsed lines: tid:N;file:func:line;... COUNT"""
    counts = dict.fromkeys(NAMES, 0)
    for line in open(path, encoding="utf-8"):
        stack, _, n = line.rstrip("\n").rpartition(" ")
        for frame in stack.split(";"):
            parts = frame.split(":")
            name = parts[1] if len(parts) >= 3 else ""
            if name in counts:
                counts[name] += int(n)
                break
    return counts


def bench_accuracy(args, env):
    rows = []
    for fixture in ("record/split.py", "bench/call_split.py"):
        for tool in ("pyprobe", "profiling.sampling"):
            devs, first = [], None
            for k in range(args.runs):
                truth_in = f"{env.inside}/acc-{k}.truth"
                out_in = f"{env.inside}/acc-{k}.collapsed"
                target = [PY, "-B", env.fixture(fixture), str(args.seconds), truth_in]
                if tool == "pyprobe":
                    out = env.host_path(out_in)
                    cmd = [args.pyprobe, "record", "-r", "1000", "-f", "collapsed",
                           "-o", out, "--no-progress", "--", *chroot(*target)]
                else:
                    out = env.host_path(out_in)
                    cmd = chroot(PY, "-m", "profiling.sampling", "run", "-r", "1000",
                                 "--collapsed", "-o", out_in, *target[2:])
                rc, text, _, _ = run_rusage(cmd)
                if rc != 0:
                    raise RuntimeError(f"{' '.join(cmd)} failed ({rc}):\n{text}")
                counts = (shares_pyprobe if tool == "pyprobe" else shares_stdlib)(out)
                total = sum(counts.values()) or 1
                got = {k2: 100.0 * v / total for k2, v in counts.items()}
                want = {}
                for line in open(env.host_path(truth_in), encoding="utf-8"):
                    name, v = line.split()
                    want[name] = float(v)
                devs.append(max(abs(got[n] - want[n]) for n in NAMES))
                if first is None:
                    first = (got, want, total)
            got, want, total = first
            rows.append([os.path.basename(fixture), tool, total] +
                        [f"{got[n]:.1f} / {want[n]:.1f}" for n in NAMES] +
                        [" ".join(f"{d:.1f}" for d in devs)])
    print(f"\n2. accuracy: shares at 1 kHz, {args.seconds} s, profile / the program's own")
    table(["fixture", "tool", "samples", "alpha %", "beta %", "gamma %",
           "max deviation per run (points)"], rows)


# ---- 3. CPU per sample, 4. highest rate ------------------------------------------

def bench_cpu(args, env):
    rows = []
    short, long_ = (1, 3) if args.quick else (2, 6)
    with Target([env.fixture("bench/workload.py")]) as t:
        for label, fn in (("pyprobe", lambda s: pyprobe_record(args, t.pid, 1000, s)),
                          ("profiling.sampling", lambda s: stdlib_attach(t.pid, 1000, s))):
            per = []
            for _ in range(args.runs):
                n1, _, c1 = fn(short)
                n2, hz2, c2 = fn(long_)
                per.append(1e6 * (c2 - c1) / max(1, n2 - n1))
            rows.append([label, f"{statistics.median(per):.0f} µs",
                         " ".join(f"{x:.0f}" for x in per), f"{hz2:.0f}"])
    print(f"\n3. profiler CPU per sample at 1 kHz (workload.py, ({long_} s - {short} s) runs)")
    table(["tool", "CPU per sample (median)", "per run (µs)", "rate reached (Hz)"], rows)


def bench_rate(args, env):
    rows = []
    seconds = 2 if args.quick else 4
    with Target([env.fixture("bench/workload.py")]) as t:
        n, hz, cpu = pyprobe_record(args, t.pid, "max", seconds)
        rows.append(["pyprobe -r max", f"{hz:.0f}", n, f"{100 * cpu / seconds:.0f}%"])
        n, hz, cpu = stdlib_attach(t.pid, 100000, seconds)
        rows.append(["profiling.sampling -r 100k", f"{hz:.0f}", n, f"{100 * cpu / seconds:.0f}%"])
    print(f"\n4. highest rate, {seconds} s on workload.py")
    table(["tool", "samples/s reached", "samples", "profiler CPU"], rows)


# ---- 5. slowdown -------------------------------------------------------------------

def one_slowdown(args, env, tool, units):
    """Wall seconds of N units of workload.py with `tool` attached at 1 kHz."""
    t = Target([env.fixture("bench/workload.py"), "--work", str(units), "--gate"],
               stdin=subprocess.PIPE)
    prof = None
    try:
        if tool == "pyprobe":
            prof = subprocess.Popen([args.pyprobe, "record", "--pid", str(t.pid), "-r", "1000",
                                     "-f", "collapsed", "-o", "/dev/null", "--no-progress"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elif tool == "profiling.sampling":
            prof = subprocess.Popen(chroot(PY, "-m", "profiling.sampling", "attach", "-r", "1000",
                                           "--collapsed", "-o", "/dev/null", str(t.pid)),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if prof:
            time.sleep(1.5)  # attached and sampling before the clock starts
        t.p.stdin.write(b"go\n")
        t.p.stdin.flush()
        line = t.p.stdout.readline().decode()
        m = re.match(r"wall ([\d.]+) cpu ([\d.]+)", line)
        if not m:
            raise RuntimeError(f"workload printed {line!r}")
        return float(m.group(1))
    finally:
        t.close()
        if prof:
            try:
                prof.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prof.kill()
                prof.wait()


def bench_slowdown(args, env):
    units = 10000 if args.quick else 30000
    walls = {"none": [], "pyprobe": [], "profiling.sampling": []}
    for _ in range(args.runs):
        for tool in walls:
            walls[tool].append(one_slowdown(args, env, tool, units))
    base = statistics.median(walls["none"])
    rows = [[tool, f"{statistics.median(w):.3f} s",
             "-" if tool == "none" else f"{100 * (statistics.median(w) / base - 1):+.1f}%",
             " ".join(f"{x:.2f}" for x in w)] for tool, w in walls.items()]
    print(f"\n5. target slowdown at 1 kHz (workload.py --work {units}, median of {args.runs})")
    table(["profiler", "wall (median)", "slowdown", "runs (s)"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pyprobe", default=default_pyprobe())
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    ap.add_argument("--runs", type=int, default=None, help="repeats (default 3, --quick 1)")
    ap.add_argument("--dumps", type=int, default=5, help="dumps per tool (wall median)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="accuracy runs' length (default 4, --quick 2)")
    ap.add_argument("--only", default="dump,accuracy,cpu,rate,slowdown")
    args = ap.parse_args()
    args.runs = args.runs or (1 if args.quick else 3)
    args.seconds = args.seconds or (2 if args.quick else 4)
    if os.geteuid() != 0:
        sys.exit("vs_stdlib_sampler: needs root (the targets run chrooted in the sid root)")
    if not os.access(os.path.join(SID, "usr", "bin", PY), os.X_OK):
        sys.exit(f"vs_stdlib_sampler: no {SID}/usr/bin/{PY}; run tools/install-deps")
    version = subprocess.run(chroot(PY, "-VV"), capture_output=True, text=True).stdout.strip()
    print(f"# {conditions()}")
    print(f"# target and profiling.sampling: {version} (sid root {SID}); pyprobe: {args.pyprobe}")
    env = Env()
    try:
        parts = {"dump": bench_dump, "accuracy": bench_accuracy, "cpu": bench_cpu,
                 "rate": bench_rate, "slowdown": bench_slowdown}
        for name in args.only.split(","):
            parts[name](args, env)
    finally:
        env.close()
    print(f"\n# {conditions()}")


if __name__ == "__main__":
    main()
