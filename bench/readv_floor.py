#!/usr/bin/env python3
"""What the kernel's part of one sample costs, and each part of that read.

Method. Per interpreter, start fixtures/bench/workload.py (one thread, ~26
frames, always on CPU) and record it for a second under strace, which logs
every process_vm_readv with its remote ranges. The most frequent list of
ranges is the sample's one vectored read (the read-ahead, see
reader/readahead.h). Its ranges fall into: the structure (runtime,
interpreter, thread state; the C-stack frame pointer on 3.11/3.12), the
frame windows (each read three times: once for the walk, twice more to
verify it), the thread's data-stack top (3.11+, read before each
verification copy), and the code objects' identities at the end.

bench/readv_floor.c (compiled here with cc -O2) then times, against the
same running workload, process_vm_readv of growing prefixes of that list,
in pyprobe's order: one 8-byte range (the floor of any read), the
structure, + the frames once (what a read with no checks needs), + the
first verification copy, + the second (all but the code identities), and
the whole list (pyprobe's read). 2000 calls per round, rounds interleaved,
medians. Last column: pyprobe's own sampling cost median back to back
(`-r max`), i.e. that read plus the walk, the checks and the bookkeeping.

Usage: bench/readv_floor.py [--versions 3.11,3.13] [--quick] [--pyprobe PATH]
"""
import collections
import os
import re
import subprocess
import sys
import tempfile

from recordlib import HERE, WORKLOAD, Target, conditions, interpreters, parser, record, table

# the remote ranges: strace prints the local buffers' bytes as strings
RANGE = re.compile(r"\{iov_base=0x([0-9a-f]+), iov_len=(\d+)\}")


def build_timer(tmp):
    exe = os.path.join(tmp, "readv_floor")
    subprocess.run(["cc", "-O2", "-Wall", "-o", exe, os.path.join(HERE, "readv_floor.c")],
                   check=True)
    return exe


def sample_read(pyprobe, pid):
    """The remote ranges of the sample's usual vectored read, in order."""
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as f:
        record(pyprobe, ["--pid", pid], 100, 1,
               wrapper=["strace", "-e", "trace=process_vm_readv", "-e", "verbose=all",
                        "-s", "512", "-o", f.name])
        lists = []
        for line in f:
            if line.startswith("process_vm_readv(") and re.search(r"\) = \d+$", line):
                lists.append(tuple((int(a, 16), int(n)) for a, n in RANGE.findall(line)))
    shapes = collections.Counter(lists[len(lists) // 2:])
    return list(shapes.most_common(1)[0][0]) if shapes else []


PARTS = ("one range of 8 B", "structure", "+ frames once", "+ 1st check", "+ 2nd check",
         "+ code identities")


def prefixes(ranges):
    """Growing prefixes of the read, by what each part is for."""
    seen = collections.defaultdict(list)
    for i, r in enumerate(ranges):
        seen[r].append(i)
    thrice = [v for v in seen.values() if len(v) == 3]
    if not thrice:
        raise RuntimeError("no frame window read three times in this sample's read")
    first = min(v[0] for v in thrice)
    once = [v[0] for v in thrice]
    check1 = max(v[1] for v in thrice) + 1
    check2 = max(v[2] for v in thrice) + 1
    structure = ranges[:first]
    frames_once = structure + [ranges[i] for i in sorted(once)]
    return list(zip(PARTS, ([(ranges[0][0], 8)], structure, frames_once, ranges[:check1],
                            ranges[:check2], ranges)))


def main():
    ap = parser(__doc__)
    args = ap.parse_args()
    rounds = 3 if args.quick else 10
    print(f"# {conditions()}")
    print(f"process_vm_readv of one sample's read and its parts, workload.py; {args.pyprobe}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        timer = build_timer(tmp)
        for label, py in interpreters(args):
            with Target(py, [WORKLOAD]) as t:
                ranges = sample_read(args.pyprobe, t.pid)
                parts = prefixes(ranges)
                spec = [f"p{i}=" + ",".join(f"{a:x}:{n}" for a, n in rs)
                        for i, (_, rs) in enumerate(parts)]
                out = subprocess.run([timer, str(t.pid), str(rounds), *spec], check=True,
                                     capture_output=True, text=True).stdout.split("\n")
                us = dict(line.split() for line in out if line)
                s, _, _, _ = record(args.pyprobe, ["--pid", t.pid], "max", 2)
            rows.append([label, len(ranges), sum(n for _, n in ranges),
                         *(f"{float(us[f'p{i}']):.2f} ({len(rs)})"
                           for i, (_, rs) in enumerate(parts)),
                         f"{s['cost_med']:.1f}"])
            print(f"  {label} done", file=sys.stderr, flush=True)
    print("\nmedian µs of one process_vm_readv (ranges in it); the last column is pyprobe's "
          "whole sample, back to back")
    table(["interpreter", "ranges", "bytes", *PARTS,
           "pyprobe sample µs"], rows)
    print(f"# {conditions()}")


if __name__ == "__main__":
    main()
