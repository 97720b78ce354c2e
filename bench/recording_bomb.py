#!/usr/bin/env python3
"""How much a .pyprobe recording inflates, and what a crafted one costs.

Usage:
  python3 bench/recording_bomb.py ratios   [--pyprobe BIN] [--python PY] [--seconds S]
  python3 bench/recording_bomb.py simulate
  python3 bench/recording_bomb.py bomb     [--pyprobe BIN ...] [--mb N]

ratios    records real targets (one busy thread at 100 Hz and -r max; 50
          idle threads at 100 Hz and -r max; 500 idle threads at -r max; a
          multiprocessing pool with --subprocesses) and prints, for each
          file, its size and the inflate ratio (raw_len / compressed_len)
          of its blocks: overall and the largest. The reader's cap (256:1,
          docs/format.md) must stay far above the largest.
simulate  encodes the writer's sample records in Python (the same varints,
          zlib level 6, blocks of one second) for N idle threads, every
          thread sampled at every tick on the same stack, with the tick's
          time jittering: the most compressible thing pyprobe writes. It
          bounds what any writer could reach, beyond what was measured.
bomb      writes crafted files with fixtures/recordings/make_bomb.py (blocks
          of all-alike samples at ~1000:1, and the same just under the cap
          at 250:1) and runs `render` and `report` on each under
          /usr/bin/time -v, with each --pyprobe given (e.g. a build of the
          commit before the cap and one after): maximum RSS and wall time.

Stdlib only. Use release builds (no sanitizers): ASan's RSS is not pyprobe's.
"""
import argparse
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIX = os.path.join(ROOT, "fixtures")
MAKE_BOMB = os.path.join(FIX, "recordings", "make_bomb.py")


def block_ratios(path):
    """(file size, blocks, overall raw/compressed, largest block's)."""
    d = open(path, "rb").read()
    off = struct.unpack_from("<I", d, 12)[0]
    n = tc = tr = 0
    mx = 0.0
    while off + 16 <= len(d) and d[off:off + 4] == b"PPBK":
        c, r = struct.unpack_from("<II", d, off + 4)
        n, tc, tr = n + 1, tc + c, tr + r
        mx = max(mx, r / c)
        off += 16 + c
    return len(d), n, (tr / tc if tc else 0.0), mx


def record_pid(pyprobe, target, out, args, seconds):
    """Start target, record it by pid for `seconds`, then end it."""
    t = subprocess.Popen(target, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)  # start-up, threads started
        subprocess.run([pyprobe, "record", "--pid", str(t.pid), "-o", out, "--no-progress",
                        "-d", str(seconds)] + args, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, check=True)
    finally:
        t.kill()
        t.wait()


def cmd_ratios(a):
    py = a.python
    workload = os.path.join(FIX, "bench", "workload.py")
    pool = os.path.join(FIX, "bench", "idle_pool.py")
    cases = [
        ("1 busy thread, 100 Hz", [py, workload], []),
        ("1 busy thread, -r max", [py, workload], ["-r", "max"]),
        ("50 idle threads, 100 Hz", [py, pool, "50"], []),
        ("50 idle threads, -r max", [py, pool, "50"], ["-r", "max"]),
        ("500 idle threads, -r max", [py, pool, "500"], ["-r", "max"]),
    ]
    print("| recording | file | blocks | overall | largest block |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for label, target, args in cases:
            out = os.path.join(d, "r.pyprobe")
            record_pid(a.pyprobe, target, out, args, a.seconds)
            size, n, overall, mx = block_ratios(out)
            print(f"| {label} | {size} B | {n} | {overall:.1f}:1 | {mx:.1f}:1 |", flush=True)
        # --subprocesses: a pool of two busy workers under an idle parent
        out = os.path.join(d, "s.pyprobe")
        subprocess.run([a.pyprobe, "record", "--subprocesses", "-r", "max", "-o", out,
                        "--no-progress", "--", py, os.path.join(FIX, "record", "pool.py"),
                        str(a.seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       check=True)
        size, n, overall, mx = block_ratios(out)
        print(f"| --subprocesses, pool of 2, -r max | {size} B | {n} | {overall:.1f}:1 "
              f"| {mx:.1f}:1 |")


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def cmd_simulate(a):
    rnd = random.Random(1)
    print("| tick | jitter | threads | largest ratio |")
    print("|---|---|---|---|")
    for interval, jitter in ((10_000_000, 50_000), (1_000_000, 100), (50_000, 2_000)):
        for n in (1, 10, 50, 200, 500, 1000, 2000, 5000, 10000):
            # one block: a second of ticks, at most 8 MiB (the writer's soft
            # block size) - and at most 3 M records, to keep this quick
            ticks = max(2, min(1_000_000_000 // interval, 8_000_000 // (6 * n),
                               3_000_000 // n))
            body = bytearray()
            for _ in range(ticks):
                d = interval + rnd.randint(-jitter, jitter)
                for i in range(n):
                    # time delta (zigzag), thread, stack, GIL, OS state
                    body += varint(2 * d if i == 0 else 0) + varint(i) + varint(1000 + i % 3)
                    body += b"\x03\x02"
            ratio = len(body) / len(zlib.compress(bytes(body), 6))
            print(f"| {interval / 1e6:g} ms | {jitter} ns | {n} | {ratio:.1f}:1 |", flush=True)


RSS = re.compile(r"Maximum resident set size \(kbytes\): (\d+)")
WALL = re.compile(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)")


def timed(argv):
    p = subprocess.run(["/usr/bin/time", "-v"] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    rss = int(RSS.search(p.stderr).group(1))
    h, m, s = WALL.search(p.stderr).groups()
    wall = int(h or 0) * 3600 + int(m) * 60 + float(s)
    first = next((l for l in p.stderr.splitlines() if l.startswith("pyprobe:")), "")
    return p.returncode, rss, wall, first


def cmd_bomb(a):
    bins = a.pyprobe or [os.path.join(ROOT, "build", "src", "pyprobe")]
    print("| file | binary | command | exit | max RSS | wall |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        files = []
        for label, extra in (("~1000:1 (all-zero samples)", []),
                             ("250:1 (just under the cap)", ["--under-cap"])):
            f = os.path.join(d, f"bomb{len(files)}.pyprobe")
            subprocess.run([sys.executable, MAKE_BOMB, f, "--mb", str(a.mb)] + extra,
                           check=True, stdout=subprocess.DEVNULL)
            files.append((f"{label}, {os.path.getsize(f) / 1e6:.2f} MB", f))
        for label, f in files:
            for b in bins:
                for cmd in (["render", f, "-o", os.path.join(d, "out.svg")], ["report", f]):
                    rc, rss, wall, first = timed([b] + cmd)
                    print(f"| {label} | {b} | {cmd[0]} | {rc} | {rss / 1024:.0f} MB "
                          f"| {wall:.2f} s |", flush=True)
                    if rc:
                        print(f"  ({first})", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("ratios")
    r.add_argument("--pyprobe", default=os.path.join(ROOT, "build", "src", "pyprobe"))
    r.add_argument("--python", default="/root/.pyenv/versions/3.12.1/bin/python3.12")
    r.add_argument("--seconds", type=float, default=5)
    sub.add_parser("simulate")
    b = sub.add_parser("bomb")
    b.add_argument("--pyprobe", action="append", help="a binary; repeat to compare")
    b.add_argument("--mb", type=float, default=1.0)
    a = ap.parse_args()
    {"ratios": cmd_ratios, "simulate": cmd_simulate, "bomb": cmd_bomb}[a.cmd](a)


if __name__ == "__main__":
    main()
