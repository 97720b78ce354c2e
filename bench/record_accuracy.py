#!/usr/bin/env python3
"""Is a `pyprobe record` profile unbiased on call-heavy code?

Method. Per interpreter and per mode of fixtures/record/callheavy.py
(recursion, generators, mutual, objects, deep), `pyprobe record -r RATE -f
collapsed -o TMP --no-progress -- PY callheavy.py MODE SECONDS TRUTH`
(default 200 Hz, 4 s): the fixture alternates 10 ms slices of its own CPU
time (time.thread_time) between heavy_slice (the mode's call-heavy code,
whose stack changes thousands of times a millisecond) and flat_slice (a
loop that calls nothing), and writes the CPU time it spent in each as
shares to TRUTH. Each profile is judged as tests/check_callheavy.py does
(its analyse(), imported):
- heavy %: samples through heavy_slice / samples in the fixture's loop
  (through heavy_slice, flat_slice, or cut short or started mid-stack
  without either), against the target's own share; off = the difference
  in percentage points (negative: call-heavy code under-counted);
- lost %: thread samples dropped (summary line) + drawn samples not
  reaching <module> (mid-stack starts, marker roots) + loop samples in
  neither slice, of all thread samples (drawn + dropped);
- cut %: samples drawn with a `[changing]` leaf (cut short: the outer
  frames that held still), of thread samples;
- mid: stacks starting in the middle (root an inner frame of the fixture);
- hidden %: samples the summary counts that the profile neither draws
  nor drops (before the first Python frame, or hidden as idle though the
  fixture never blocks).
Then the same with --blocking (threads paused for each read).

At 200 Hz for 4 s that is ~800 samples: the binomial standard error of a
50% share is 1.8 points, so 2-3 points off is noise, not bias.

--load N starts N busy processes (`python3 -c 'while 1: pass'`, nice 0)
for the whole run, so the target, pyprobe and the load compete for the
CPUs: run once with --load 0 and once with --load 2 (both CPUs of these
VMs busy). The bias needs pyprobe to read while the target runs, so it
shows most on a quiet machine.

Usage: bench/record_accuracy.py [--versions 3.8,3.11] [--quick] [--modes recursion,deep]
                                [--load N] [--runs N] [--no-blocking]
"""
import os
import subprocess
import sys
import tempfile

from recordlib import ROOT, conditions, interpreters, parser, record, table, test_checker

FIXTURE = os.path.join(ROOT, "fixtures", "record", "callheavy.py")
MODES = ("recursion", "generators", "mutual", "objects", "deep")


CHECK = test_checker("check_callheavy")


def one(pyprobe, py, mode, seconds, rate, extra=()):
    with tempfile.TemporaryDirectory() as d:
        out, truth = os.path.join(d, "p.collapsed"), os.path.join(d, "truth")
        s, _, _, _ = record(pyprobe, ["--", py, FIXTURE, mode, seconds, truth], rate,
                            out=out, extra=extra)
        c = CHECK.analyse(out, s["samples"], s["torn"], s["cut"])
        want = CHECK.read_truth(truth)
    ts = c["thread_samples"]
    c["share"] = CHECK.pct(c["heavy"], c["loop"])
    c["want"] = want
    c["off"] = c["share"] - want
    c["lost_pct"] = CHECK.pct(c["lost"], ts)
    c["cut_pct"] = CHECK.pct(c["cut_short"], ts)
    c["hidden_pct"] = CHECK.pct(c["hidden"], c["samples"])
    return c


def cells(c):
    return [f"{c['share']:.1f} / {c['want']:.1f}", f"{c['off']:+.1f}", f"{c['lost_pct']:.2f}",
            f"{c['cut_pct']:.2f}", c["mid_starts"], f"{c['hidden_pct']:.1f}"]


def start_load(n):
    """n busy processes at nice 0 (even if this script runs niced)."""
    def nice0():
        try:
            os.setpriority(os.PRIO_PROCESS, 0, 0)
        except OSError:
            pass
    return [subprocess.Popen([sys.executable, "-c", "while 1: pass"], preexec_fn=nice0)
            for _ in range(n)]


def main():
    ap = parser(__doc__)
    ap.add_argument("--modes", help=f"comma-separated, of {','.join(MODES)} (default all)")
    ap.add_argument("--load", type=int, default=0, help="busy processes to run alongside")
    ap.add_argument("--runs", type=int, default=1, help="recordings per row (default 1)")
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--seconds", default="4")
    ap.add_argument("--no-blocking", action="store_true", help="skip the --blocking runs")
    args = ap.parse_args()
    modes = args.modes.split(",") if args.modes else MODES
    for m in modes:
        if m not in MODES:
            ap.error(f"unknown mode {m}")
    load = start_load(args.load)
    try:
        print(f"# {conditions()}")
        print(f"call-heavy half vs flat half, callheavy.py {args.seconds} s at {args.rate} Hz, "
              f"{args.load} busy processes alongside; {args.pyprobe}")
        print()
        rows = []
        for label, py in interpreters(args):
            for mode in modes:
                for run in range(args.runs):
                    c = one(args.pyprobe, py, mode, args.seconds, args.rate)
                    row = [label, mode, c["loop"]] + cells(c)
                    if not args.no_blocking:
                        row += cells(one(args.pyprobe, py, mode, args.seconds, args.rate,
                                         ("--blocking",)))
                    rows.append(row)
        head = ["interpreter", "mode", "samples", "heavy % profile / own", "off", "lost %",
                "cut %", "mid", "hidden %"]
        if not args.no_blocking:
            head += ["--blocking: heavy %", "off", "lost %", "cut %", "mid", "hidden %"]
        table(head, rows)
        print(f"# {conditions()}")
    finally:
        for p in load:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
