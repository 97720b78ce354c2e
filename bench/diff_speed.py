#!/usr/bin/env python3
"""How long `pyprobe diff` takes on two large recordings.

Method. Record fixtures/ci/bench.py twice (base, then head with `parse`
given 20% more work) at --rate Hz until each recording holds at least
--samples samples (the recording is stopped with -d; the duration needed
is found from a short calibration run), or take two given recordings.
Then run `pyprobe diff` on them --repeat times, alone and as the CI job
runs it (--json, --markdown, -o diff.svg), and report the median and the
range of the wall time, and the median CPU time (user + system, from
getrusage of the children: what load does not stretch).

Usage: bench/diff_speed.py [--samples 100000] [--rate 5000] [--repeat 7]
           [--python PATH] [--pyprobe PATH] [--keep DIR | BASE HEAD]
"""
import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BENCH = os.path.join(ROOT, "fixtures", "ci", "bench.py")


def record(pyprobe, python, out, rate, seconds, extra):
    r = subprocess.run([pyprobe, "record", "-r", str(rate), "-d", str(seconds), "--no-progress",
                        "-o", out, "--", python, BENCH, "--rounds", "100000"] + extra,
                       capture_output=True, text=True)
    m = re.search(r"pyprobe: (\d+) samples in ([\d.]+) s", r.stderr)
    if not m:
        sys.exit(f"diff_speed: record failed:\n{r.stderr}")
    return int(m.group(1)), float(m.group(2))


def timed(argv):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    p.stderr.read()
    code = p.wait()
    t = time.monotonic() - t0
    if code not in (0, 1):
        sys.exit(f"diff_speed: {' '.join(argv)} exited {code}")
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return t, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=100000)
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3.12")
    ap.add_argument("--pyprobe", default=os.path.join(ROOT, "build-rel", "src", "pyprobe"))
    ap.add_argument("--keep")
    ap.add_argument("recordings", nargs="*")
    a = ap.parse_args()
    work = a.keep or tempfile.mkdtemp(prefix="diff-speed-")
    os.makedirs(work, exist_ok=True)
    if len(a.recordings) == 2:
        base, head = a.recordings
    else:
        base, head = os.path.join(work, "base.pyprobe"), os.path.join(work, "head.pyprobe")
        n, s = record(a.pyprobe, a.python, base, a.rate, 3, [])
        seconds = max(3, round(s * a.samples / max(n, 1) * 1.15))
        for path, extra in ((base, []), (head, ["--slow", "parse", "20"])):
            while True:
                n, s = record(a.pyprobe, a.python, path, a.rate, seconds, extra)
                print(f"{os.path.basename(path)}: {n} samples in {s:.1f} s", flush=True)
                if n >= a.samples:
                    break
                seconds = round(seconds * a.samples / max(n, 1) * 1.15) + 1
    load = os.getloadavg()
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} CPUs, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for label, extra in (("diff", []),
                         ("diff --json --markdown -o svg",
                          ["--json", "--markdown", os.path.join(work, "c.md"),
                           "-o", os.path.join(work, "d.svg")])):
        runs = [timed([a.pyprobe, "diff"] + extra + [base, head]) for _ in range(a.repeat)]
        ts, cpu = [t for t, _ in runs], [c for _, c in runs]
        print(f"{label:32s} wall median {statistics.median(ts):.3f} s "
              f"(min {min(ts):.3f}, max {max(ts):.3f}), CPU median {statistics.median(cpu):.3f} s")


if __name__ == "__main__":
    main()
