#!/usr/bin/env python3
"""Check a collapsed profile of fixtures/record/callheavy.py: is it unbiased?

Usage: check_callheavy.py COLLAPSED STDERR TRUTH [--tolerance POINTS]
                          [--max-lost PCT] [--max-hidden PCT]

COLLAPSED is `pyprobe record -f collapsed` of `python callheavy.py MODE
SECONDS TRUTH`, STDERR what record printed (its summary line), TRUTH the
split the target measured itself (heavy_slice/flat_slice CPU time).

A sample is in the fixture's loop if a frame of it is loop(), a slice
function or the code they call (any callheavy.py frame but <module> and
main). Of those, it is heavy if its stack passes through heavy_slice, flat
if through flat_slice, else unattributed: cut short above the slices
(`...;loop (callheavy.py:N);[changing]`), or started in the middle (its
root a generator or other inner frame). The heavy share is heavy / all
samples in the loop: an unattributed sample counts against it, since the
code whose stack moves fastest is where samples are cut or lost.

Lost (% of thread samples, drawn + dropped): samples dropped (the summary
line's `N dropped (P%)`, or `N torn (P%)` before format 1.1), plus drawn
samples that do not reach the thread's outermost frame (root not
`<module>`: a mid-stack start in the loop, or a marker root), plus loop
samples in neither slice. Mid-stack starts and marker roots
(`[unreadable frame: ...]`, `[N more frames not read]`, a lone
`[changing]`) must not occur at all in this fixture.

Not drawn (hidden): samples the summary counts that the profile neither
shows nor dropped (a one-thread target: the summary's samples minus drawn
minus dropped). The fixture never blocks, so these are samples taken
before its first Python frame or after its last (a few percent at most,
more on a loaded machine, where start-up is slow) or samples wrongly
hidden as idle: with --max-hidden, more than PCT% fails.

Prints the figures; exits 1 if any check fails (each failure on a line
starting "FAIL:"), 2 on unusable input.
"""
import argparse
import re
import sys

FIXTURE = "callheavy.py"
SUMMARY_SAMPLES = re.compile(r"pyprobe: (\d+) samples")
SUMMARY_DROPPED = re.compile(r"(\d+) (?:torn|dropped) \(([\d.]+)%\)")
SUMMARY_CUT = re.compile(r"(\d+) cut short \(([\d.]+)%")


def frame_parts(frame):
    """(name, file) of a collapsed frame; a marker has no file."""
    if frame.startswith("[") and frame.endswith("]"):
        return frame, None
    name, sep, where = frame.rpartition(" (")
    if not sep or not where.endswith(")"):
        return frame, None
    return name, where[:-1].rpartition(":")[0]


def is_marker(frame):
    return frame_parts(frame)[1] is None and frame.startswith("[")


def in_loop(parts):
    return any(f and f.endswith(FIXTURE) and n not in ("<module>", "main") for n, f in parts)


def parse_summary(stderr_text):
    """(samples, dropped, cut short or None) from record's summary line;
    raises ValueError if it has none."""
    m = SUMMARY_DROPPED.search(stderr_text)
    s = SUMMARY_SAMPLES.search(stderr_text)
    if not m or not s:
        raise ValueError("no 'N samples' and 'N dropped (P%)' or 'N torn (P%)' in "
                         "record's summary line")
    cut = SUMMARY_CUT.search(stderr_text)
    return int(s.group(1)), int(m.group(1)), int(cut.group(1)) if cut else None


def analyse(collapsed, samples, dropped, summary_cut=None):
    """Counts of one profile (a dict), given the summary line's samples,
    dropped thread samples and cut-short ones (None: not in that line)."""
    c = dict(drawn=0, heavy=0, flat=0, unattributed=0, cut_above=0, mid_starts=0,
             marker_roots=0, not_outermost=0, cut_short=0, loop=0)
    with open(collapsed, encoding="utf-8") as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            n = int(n)
            frames = stack.split(";")
            parts = [frame_parts(x) for x in frames]
            names = [p[0] for p in parts]
            c["drawn"] += n
            if frames[-1] == "[changing]":
                c["cut_short"] += n
            root = frames[0]
            outermost = parts[0][0] == "<module>" and parts[0][1] is not None
            looped = in_loop(parts)
            if is_marker(root):
                c["marker_roots"] += n
            elif not outermost and looped:
                c["mid_starts"] += n
            if not outermost and (looped or is_marker(root)):
                c["not_outermost"] += n
            if not looped:
                continue
            c["loop"] += n
            if "heavy_slice" in names:
                c["heavy"] += n
            elif "flat_slice" in names:
                c["flat"] += n
            else:
                c["unattributed"] += n
                if outermost:
                    c["cut_above"] += n
    c.update(samples=samples, dropped=dropped, summary_cut=summary_cut)
    c["thread_samples"] = c["drawn"] + dropped
    c["lost"] = dropped + c["not_outermost"] + c["cut_above"]
    c["hidden"] = max(0, samples - c["thread_samples"])
    return c


def pct(a, b):
    return 100.0 * a / b if b else 0.0


def read_truth(path):
    want = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, share = line.split()
            want[name] = float(share)
    return want["heavy_slice"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("collapsed")
    ap.add_argument("stderr")
    ap.add_argument("truth")
    ap.add_argument("--tolerance", type=float, default=3.0,
                    help="heavy share vs the target's own, points (default 3)")
    ap.add_argument("--max-lost", type=float, default=2.0, help="lost %% (default 2)")
    ap.add_argument("--max-hidden", type=float,
                    help="samples neither drawn nor dropped, %% (default: not checked)")
    a = ap.parse_args()
    try:
        with open(a.stderr, encoding="utf-8", errors="replace") as f:
            c = analyse(a.collapsed, *parse_summary(f.read()))
        want = read_truth(a.truth)
    except (OSError, ValueError, KeyError) as e:
        print(f"unusable input: {e}")
        return 2
    ts = c["thread_samples"]
    share = pct(c["heavy"], c["loop"])
    off = share - want
    print(f"heavy_slice: {share:.1f}% of {c['loop']} samples in the loop (target's own "
          f"{want:.1f}%, {off:+.1f} points); heavy {c['heavy']}, flat {c['flat']}, "
          f"in neither {c['unattributed']}")
    print(f"lost: {pct(c['lost'], ts):.2f}% of {ts} thread samples: {c['dropped']} dropped, "
          f"{c['not_outermost']} not reaching <module> ({c['mid_starts']} mid-stack starts, "
          f"{c['marker_roots']} marker roots), {c['cut_above']} cut short above the slices")
    print(f"cut short ([changing] leaf): {c['cut_short']} ({pct(c['cut_short'], ts):.2f}%)"
          + (f"; summary line: {c['summary_cut']}" if c["summary_cut"] is not None else ""))
    print(f"not drawn (no Python frames yet, or hidden as idle): {c['hidden']} of {c['samples']} samples "
          f"({pct(c['hidden'], c['samples']):.2f}%)")
    fails = []
    if c["loop"] < 200:
        fails.append(f"only {c['loop']} samples in the loop: too few to judge")
    if abs(off) > a.tolerance:
        fails.append(f"heavy share {share:.1f}% is {off:+.1f} points off the target's own "
                     f"{want:.1f}% (tolerance {a.tolerance:g})")
    if pct(c["lost"], ts) > a.max_lost:
        fails.append(f"{pct(c['lost'], ts):.2f}% of thread samples lost (at most {a.max_lost:g}%)")
    if c["mid_starts"]:
        fails.append(f"{c['mid_starts']} stacks start in the middle (root not <module>)")
    if c["marker_roots"]:
        fails.append(f"{c['marker_roots']} stacks have a marker at the root")
    if a.max_hidden is not None and pct(c["hidden"], c["samples"]) > a.max_hidden:
        fails.append(f"{pct(c['hidden'], c['samples']):.2f}% of samples neither drawn nor "
                     f"dropped (at most {a.max_hidden:g}%)")
    for f in fails:
        print("FAIL: " + f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
