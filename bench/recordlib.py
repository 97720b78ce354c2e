"""Shared helpers of the `pyprobe record` benchmarks (bench/record_*.py).

Stdlib only. Interpreters, the --versions/--quick/--pyprobe options, running
`pyprobe record` with its rusage, and parsing its end-of-recording line, either form:

  pyprobe: N samples in S s (R Hz), T torn (P%), M missed ticks (Q%),
  sampling cost median X µs, p99 Y µs; wrote FILE
  pyprobe: N samples in S s (R Hz), C cut short (P%, at depth D of W on
  average), U unreadable (P%), T dropped (P%), M missed ticks (Q%),
  sampling cost median X µs, p99 Y µs; wrote FILE

(the second since the thread-sample model of format 1.1: "dropped" is what
"torn" was, and is parsed into the same keys, torn and torn_pct; cut,
cut_pct, unreadable and unreadable_pct are None with the first form).
"""
import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOAD = os.path.join(ROOT, "fixtures", "bench", "workload.py")
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")

# (label, path); label is what --versions matches
INTERPRETERS = [(v.rsplit(".", 1)[0], f"{PYENV}/versions/{v}/bin/python{v.rsplit('.', 1)[0]}")
                for v in ("3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0")]
INTERPRETERS.append(("debian3.11", "/usr/bin/python3.11"))
QUICK = ("3.8", "3.11", "3.13")

SUMMARY = re.compile(
    r"pyprobe: (?P<samples>\d+) samples in (?P<secs>[\d.]+) s \((?P<hz>[\d.]+) Hz\), "
    r"(?:(?P<cut>\d+) cut short \((?P<cut_pct>[\d.]+)%[^)]*\), "
    r"(?P<unreadable>\d+) unreadable \((?P<unreadable_pct>[\d.]+)%\), )?"
    r"(?P<torn>\d+) (?:torn|dropped) \((?P<torn_pct>[\d.]+)%\), (?P<missed>\d+) missed ticks "
    r"\((?P<missed_pct>[\d.]+)%\), sampling cost median (?P<cost_med>[\d.]+) µs, "
    r"p99 (?P<cost_p99>[\d.]+) µs")


def test_checker(name):
    """tests/NAME.py as a module: the benches judge profiles with the very
    functions the tests do."""
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(ROOT, "tests", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def default_pyprobe():
    for b in ("build-bench", "build"):
        p = os.path.join(ROOT, b, "src", "pyprobe")
        if os.access(p, os.X_OK):
            return p
    return os.path.join(ROOT, "build-bench", "src", "pyprobe")


def parser(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--versions", help="comma-separated labels: 3.8,3.9,3.10,3.11,3.12,"
                    "3.13,debian3.11 (default: all installed)")
    ap.add_argument("--quick", action="store_true",
                    help=f"fewer/shorter runs, interpreters {','.join(QUICK)} unless --versions")
    ap.add_argument("--pyprobe", default=default_pyprobe(),
                    help="the binary (default: build-bench/src/pyprobe, a release build)")
    return ap


def interpreters(args):
    want = args.versions.split(",") if args.versions else (QUICK if args.quick else None)
    out = []
    for label, path in INTERPRETERS:
        if want is not None and label not in want:
            continue
        if not os.access(path, os.X_OK):
            print(f"{label}: skipped, {path} not installed", file=sys.stderr)
            continue
        out.append((label, path))
    return out


def parse_summary(stderr):
    m = SUMMARY.search(stderr)
    if not m:
        raise RuntimeError(f"no summary line in pyprobe's stderr:\n{stderr}")
    d = {k: None if v is None else float(v) for k, v in m.groupdict().items()}
    for k in ("samples", "torn", "missed", "cut", "unreadable"):
        if d[k] is not None:
            d[k] = int(d[k])
    return d


def record(pyprobe, target_args, rate, duration=None, out="/dev/null", fmt="collapsed",
           extra=(), wrapper=(), on_start=None):
    """Run `pyprobe record TARGET_ARGS -r RATE [-d D] -f FMT -o OUT` to its end.

    target_args is ["--pid", PID] or ["--", CMD...]. Returns (summary dict,
    rusage of the pyprobe process (children included when wrapper is used),
    wall seconds, stdout bytes). on_start(popen) is called once it runs.
    """
    cmd = [*wrapper, pyprobe, "record", "-r", str(rate), "-f", fmt, "-o", out,
           "--no-progress", *extra]
    if duration is not None:
        cmd += ["-d", str(duration)]
    cmd += [str(a) for a in target_args]
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as so:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=so, stderr=err)
        if on_start:
            on_start(p)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode("utf-8", "replace")
        so.seek(0)
        stdout = so.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{text}")
    return parse_summary(text), ru, wall, stdout


def cpu_s(ru):
    return ru.ru_utime + ru.ru_stime


class Target:
    """A Python process started for a benchmark; killed (by pid) on exit."""

    def __init__(self, py, argv, ready=True, stdin=None):
        self.p = subprocess.Popen([py, *argv], stdout=subprocess.PIPE, stdin=stdin)
        if ready:
            line = self.p.stdout.readline().strip()
            if line != b"ready":
                self.close()
                raise RuntimeError(f"{py} {argv}: expected 'ready', got {line!r}")

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


def conditions():
    """One line on the machine's state: benchmarks on a shared VM mean little
    without it. Printed at the start and the end of each benchmark."""
    with open("/proc/loadavg") as f:
        la = " ".join(f.read().split()[:3])
    return (f"{time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, "
            f"load average {la}")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def table(headers, rows):
    """Print a small aligned table (also valid Markdown)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        print("| " + " | ".join(c.rjust(w[i]) if i else c.ljust(w[i])
                                for i, c in enumerate(r)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    sys.stdout.flush()
