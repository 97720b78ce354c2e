#!/usr/bin/env python3
"""Check non-blocking dumps of fixtures/dump/churn.py against the grammar
every real stack of that program follows (see the fixture's docstring).

Usage: check_churn.py [--root ROOT] PYPROBE PYTHON CHURN_PY [DUMPS [record]]
Starts CHURN_PY with PYTHON (with --root: `chroot ROOT PYTHON`, and
CHURN_PY, a file inside ROOT, is run by the name it has in there), takes DUMPS (default 60) non-blocking dumps,
and exits 0 if every shown stack is well-formed and enough of them were
deep; prints the first bad stack otherwise. A stack that moved while it
was read is shown cut short: a `[changing]` marker over the outer frames
that held still, which must be the outer part of a stack the program can
have (only the innermost of them may stand anywhere in its function). A
thread of which nothing held still is dropped ("stack": "dropped", no
frames): counted, not failed.

With "record", it instead records the target for 3 s at 2000 Hz
(non-blocking: the sampler reads ahead and verifies from the read-ahead,
see reader/readahead.h) into collapsed stacks, and holds every stack in
the profile to the same grammar; there DUMPS is unused.
"""
import json
import subprocess
import sys
import time

argv = sys.argv[1:]
root = None
if argv[:1] == ["--root"]:
    root, argv = argv[1], argv[2:]
pyprobe, python, host_path = argv[0:3]
ndumps = int(argv[3]) if len(argv) > 3 else 60
record = len(argv) > 4 and argv[4] == "record"
lines = open(host_path, encoding="utf-8").read().splitlines()
# The fixture's name for itself, which its frames carry.
src_path = host_path
if root:
    import os
    rel = os.path.relpath(os.path.realpath(host_path), os.path.realpath(root))
    if rel.startswith(".."):
        sys.exit(f"{host_path} is not inside {root}")
    src_path = "/" + rel
REC_LINE = next(i + 1 for i, l in enumerate(lines) if "# REC_LINE" in l)
LEAF_LINE = next(i + 1 for i, l in enumerate(lines) if "# LEAF_LINE" in l)
DRIVER_LINE = next(i + 1 for i, l in enumerate(lines) if "# DRIVER_LINE" in l)
THREAD_TAIL = ["run", "_bootstrap_inner", "_bootstrap"]


def bad(why, frames):
    print(f"malformed stack ({why}):")
    for f in frames:
        print(f"    {f['function']} ({f['file']}:{f['line']})")
    # again last: a CI log may keep only the tail of a long stack
    sys.exit(f"malformed stack ({why}), innermost first: " +
             "; ".join(f"{f['function']}:{f['line']}" for f in frames[:6]))


def record_stacks(pid):
    """One pseudo-dump holding every distinct stack of a recording, each
    innermost first, as the dump checks below expect them."""
    import os
    import tempfile
    fd, out = tempfile.mkstemp(suffix=".txt")
    os.close(fd)
    try:
        r = subprocess.run([pyprobe, "record", "--pid", str(pid), "-r", "2000",
                            "-d", "3", "--no-progress", "-f", "collapsed",
                            "-o", out], capture_output=True)
        if r.returncode != 0:
            sys.exit(f"record failed ({r.returncode}): {r.stderr.decode()}")
        sys.stderr.write(r.stderr.decode())
        threads = []
        for line in open(out, encoding="utf-8"):
            stack, _, count = line.rstrip("\n").rpartition(" ")
            frames = []
            for part in stack.split(";"):
                if part.startswith("["):
                    frames.append({"kind": "marker", "function": part, "name": None,
                                   "file": None, "line": None})
                    continue
                func, _, where = part.rpartition(" (")
                file, _, ln = where[:-1].rpartition(":")
                # names only: qualified names (3.11+) end in the bare one
                frames.append({"kind": "python", "function": func,
                               "name": func.rpartition(".")[2], "file": file,
                               "line": None if ln == "?" else int(ln)})
            frames.reverse()
            cut = bool(frames) and frames[0]["function"] == "[changing]"
            for _ in range(int(count)):
                threads.append({"frames": frames,
                                "stack": "cut_changing" if cut else "whole"})
        return {"threads": threads}
    finally:
        os.unlink(out)


command = ["chroot", root, python] if root else [python]
target = subprocess.Popen(command + ["-B", src_path], stdout=subprocess.PIPE)
try:
    if target.stdout.readline().strip() != b"ready":
        sys.exit("churn fixture did not start")
    time.sleep(0.3)  # let the main thread get from "ready" into driver()
    dumps = []
    if record:
        dumps.append(record_stacks(target.pid))
    for _ in range(0 if record else ndumps):
        r = subprocess.run([pyprobe, "dump", "--pid", str(target.pid),
                            "--nonblocking", "--json"], capture_output=True)
        if r.returncode != 0:
            sys.exit(f"dump failed ({r.returncode}): {r.stderr.decode()}")
        dumps.append(json.loads(r.stdout))
    alive = target.poll() is None
finally:
    target.kill()
    target.wait()
if not alive:
    sys.exit("the target died during the dumps")

shown = dropped = cut = deep = 0
for d in dumps:
    for t in d["threads"]:
        fr = t["frames"]
        if t["stack"] == "dropped":
            dropped += 1
            if fr:
                bad("dropped thread with frames", fr)
            continue
        if t["stack"] not in ("whole", "cut_changing"):
            bad(f"stack {t['stack']}", fr)
        markers = [f for f in fr if f["kind"] != "python"]
        if any(f["kind"] == "python" and f["line"] is None for f in fr):
            bad("a line that could not be read, in a program whose line tables are fine", fr)
        changing = t["stack"] == "cut_changing"
        if changing:
            if not fr or fr[0]["function"] != "[changing]" or len(markers) != 1:
                bad("cut short without one [changing] marker, innermost", fr)
            fr = fr[1:]
            cut += 1
        elif markers:
            bad("markers in a whole stack", fr)
        shown += 1
        # Cut short, the innermost frame shown is wherever its function
        # was when it was read; every frame outside it is exact.
        free = 1 if changing else 0
        i = 0
        if fr and fr[0]["name"] == "leaf":
            i = 1
        start = i
        while i < len(fr) and fr[i]["name"] == "rec" and fr[i]["file"] == src_path:
            i += 1
        nrec = i - start
        if nrec == 0 and start == 1:
            bad("leaf without rec", fr)
        # The innermost rec may be anywhere in rec, or on the leaf call
        # when leaf is above it; every rec below it is mid-recursion.
        if start == 1 and fr[1]["line"] != LEAF_LINE:
            bad(f"rec calling leaf not on line {LEAF_LINE}", fr)
        for k in range(max(start + 1, free), i):
            if fr[k]["line"] != REC_LINE:
                bad(f"rec frame {k} not on line {REC_LINE}", fr)
        if nrec > 30:
            bad("deeper than the program ever goes", fr)
        if i >= len(fr):
            bad("no driver under the rec frames", fr)
        tail_names = [f["name"] for f in fr[i:]]
        if fr[i]["name"] == "driver":
            if nrec and fr[i]["line"] != DRIVER_LINE:
                bad(f"driver not on line {DRIVER_LINE}", fr)
            if tail_names[1:] not in (THREAD_TAIL, ["<module>"]):
                bad("wrong frames under driver", fr)
        elif not changing or nrec or not any(
                tail_names == tail[len(tail) - len(tail_names):]
                for tail in (THREAD_TAIL, ["<module>"])):
            # cut below driver: only the outermost frames of a thread
            bad("no driver under the rec frames", fr)
        deep += nrec >= 5
print(f"{shown} stacks shown ({cut} cut short), {dropped} dropped, {deep} at least 5 deep")
if deep < shown // 10 or shown == 0:
    print("too few deep stacks: the check proved little")
    sys.exit(1)
