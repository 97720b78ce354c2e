#!/usr/bin/env python3
"""Compare `pyprobe dump --json` output with a fixture's truth file.

usage: compare_dump.py [--min-threads N] [--no-state-checks] [--root ROOT] TRUTH.json DUMP.json

TRUTH.json is written by fixtures/dump/threads.py from the interpreter's own
sys._current_frames(); DUMP.json is pyprobe's stdout. Exit 0 when they agree,
1 on any difference (the first ones are printed, readably), 2 when an input
cannot be read at all. Runs on any Python 3.8+.

What "agree" means:
  * the dump follows the schema of the contract (every key present, every
    value of the right type, gil/os_state from their fixed sets);
  * pid, python version, executable and libpython are the target's (with
    --root, the target ran chrooted in ROOT: the truth names its files from
    inside, pyprobe as the kernel shows them to us, ROOT/...);
  * exactly one thread has native_id == pid, and it is "MainThread";
  * the dump has the same set of native ids as the truth (the truth already
    leaves out its reporter thread, which has exited by dump time), no
    duplicates (one entry per OS thread);
  * per thread: ns_native_id (the id the target itself sees), name,
    interpreter_id, frame count and every frame's
    function, name, file and line are identical;
  * state checks (default on; --no-state-checks turns them off): every
    fixture thread is parked in a system call, so each must be reported
    os_state "sleeping", gil "released" and a non-empty syscall name. A
    reader that reports the stop it caused itself ("stopped") or a stale
    GIL holder fails here.
"""
import json
import os
import sys

MAX_DIFFS = 25
GIL_STATES = {"held", "waiting", "released", "unknown"}
OS_STATES = {"running", "sleeping", "disk", "stopped", "zombie"}


class Diffs:
    def __init__(self):
        self.items = []

    def add(self, msg):
        self.items.append(msg)

    def __bool__(self):
        return bool(self.items)


def is_int(v):
    # bool is an int subclass in Python; JSON true is not a number.
    return isinstance(v, int) and not isinstance(v, bool)


def type_name(v):
    return "null" if v is None else type(v).__name__


def check_fields(obj, spec, where, diffs):
    """spec: key -> predicate description tuple (predicate, wanted)."""
    if not isinstance(obj, dict):
        diffs.add("%s: expected an object, got %s" % (where, type_name(obj)))
        return False
    ok = True
    for key, (pred, wanted) in spec.items():
        if key not in obj:
            diffs.add("%s: missing key %r" % (where, key))
            ok = False
        elif not pred(obj[key]):
            diffs.add("%s.%s: expected %s, got %s %r" % (
                where, key, wanted, type_name(obj[key]), obj[key]))
            ok = False
    return ok


STR = (lambda v: isinstance(v, str), "string")
STR_OR_NULL = (lambda v: v is None or isinstance(v, str), "string or null")
INT = (is_int, "integer")
LIST = (lambda v: isinstance(v, list), "array")
DICT = (lambda v: isinstance(v, dict), "object")

TOP = {"pid": INT, "cmdline": STR, "python": DICT, "threads": LIST}
PYTHON = {"version": STR, "executable": STR, "libpython": STR_OR_NULL}
THREAD = {
    "native_id": INT, "ns_native_id": INT, "name": STR_OR_NULL, "interpreter_id": INT,
    "gil": (lambda v: v in GIL_STATES, "one of %s" % sorted(GIL_STATES)),
    "os_state": (lambda v: v in OS_STATES, "one of %s" % sorted(OS_STATES)),
    "syscall": STR_OR_NULL,
    # a paused dump of these fixtures is whole: nothing moves, nothing is broken
    "stack": (lambda v: v == "whole", '"whole"'),
    "frames": LIST,
}
FRAME = {"kind": (lambda v: v == "python", '"python"'), "function": STR, "name": STR,
         "file": STR, "line": INT}


def check_schema(dump, diffs):
    """True when the dump is well-formed enough to compare content."""
    # Keep going after the first problem: one run should name them all.
    ok = check_fields(dump, TOP, "dump", diffs)
    if not isinstance(dump, dict):
        return False
    if isinstance(dump.get("python"), dict):
        ok = check_fields(dump["python"], PYTHON, "dump.python", diffs) and ok
    threads = dump.get("threads")
    for i, t in enumerate(threads if isinstance(threads, list) else []):
        where = "dump.threads[%d]" % i
        if not check_fields(t, THREAD, where, diffs):
            ok = False
            continue
        for j, f in enumerate(t["frames"]):
            if not check_fields(f, FRAME, "%s.frames[%d]" % (where, j), diffs):
                ok = False
    return ok


ROOT = "/"


def same_path(a, b):
    """a: a path as pyprobe names it; b: as the target does."""
    if a is None or b is None:
        return a is b
    return os.path.realpath(a) in (os.path.realpath(b),
                                   os.path.realpath(ROOT + "/" + b.lstrip("/")))


def fmt_frame(f):
    if f is None:
        return "(none)"
    return "%s [%s] %s:%s" % (f.get("function"), f.get("name"),
                              f.get("file"), f.get("line"))


def label(t):
    return "thread %s %r" % (t.get("native_id"), t.get("name"))


def compare_frames(want, got, who, diffs):
    fields = ("function", "name", "file", "line")
    first = None
    for i in range(min(len(want), len(got))):
        w, g = want[i], got[i]
        if any(w[k] != g[k] for k in fields):
            first = i
            break
    if first is None and len(want) == len(got):
        return
    if first is None:
        first = min(len(want), len(got))
    lines = ["%s: frames differ (want %d frames, got %d); first difference "
             "at frame #%d (0 = innermost):" % (who, len(want), len(got), first)]
    lo = max(0, first - 2)
    hi = min(max(len(want), len(got)), first + 3)
    for i in range(lo, hi):
        w = want[i] if i < len(want) else None
        g = got[i] if i < len(got) else None
        mark = "  " if (w is not None and g is not None and
                        all(w[k] == g[k] for k in fields)) else "!!"
        lines.append("  %s #%-4d want %s" % (mark, i, fmt_frame(w)))
        lines.append("  %s       got  %s" % (mark, fmt_frame(g)))
    diffs.add("\n".join(lines))


def compare(truth, dump, state_checks, min_threads):
    diffs = Diffs()
    if not check_schema(dump, diffs):
        return diffs

    pid = truth["pid"]
    if dump["pid"] != pid:
        diffs.add("pid: want %d, got %d" % (pid, dump["pid"]))
    py = dump["python"]
    if py["version"] != truth["version"]:
        diffs.add("python.version: want %r, got %r" % (truth["version"],
                                                       py["version"]))
    if not same_path(py["executable"], truth["executable"]):
        diffs.add("python.executable: want %r (or a path to the same file), "
                  "got %r" % (truth["executable"], py["executable"]))
    if not same_path(py["libpython"], truth["libpython"]):
        diffs.add("python.libpython: want %r, got %r" % (truth["libpython"],
                                                         py["libpython"]))

    want_threads = truth["threads"]
    if len(want_threads) < min_threads:
        diffs.add("truth has only %d threads, the fixture parks at least %d: "
                  "the fixture itself is broken" % (len(want_threads),
                                                    min_threads))

    mains = [t for t in dump["threads"] if t["native_id"] == pid]
    if len(mains) != 1:
        diffs.add("want exactly one thread with native_id == pid %d, got %d"
                  % (pid, len(mains)))
    elif mains[0]["name"] != "MainThread":
        diffs.add("thread %d (native_id == pid) is named %r, want 'MainThread'"
                  % (pid, mains[0]["name"]))

    got_by_id = {}
    for t in dump["threads"]:
        if t["native_id"] in got_by_id:
            diffs.add("native_id %d appears more than once (one entry per OS "
                      "thread)" % t["native_id"])
        got_by_id[t["native_id"]] = t
    want_by_id = {t["native_id"]: t for t in want_threads}

    missing = sorted(set(want_by_id) - set(got_by_id))
    extra = sorted(set(got_by_id) - set(want_by_id))
    for tid in missing:
        diffs.add("missing %s" % label(want_by_id[tid]))
    for tid in extra:
        note = (" (the fixture's reporter thread, which should have exited)"
                if tid == truth.get("reporter_native_id") else "")
        diffs.add("unexpected %s%s" % (label(got_by_id[tid]), note))

    for tid in sorted(set(want_by_id) & set(got_by_id)):
        w, g = want_by_id[tid], got_by_id[tid]
        who = label(w)
        if g["name"] != w["name"]:
            diffs.add("%s: name: want %r, got %r" % (who, w["name"], g["name"]))
        # the truth's id is the one the target sees (threading.get_native_id())
        if g["ns_native_id"] != w["native_id"]:
            diffs.add("%s: ns_native_id: want %d, got %d" % (
                who, w["native_id"], g["ns_native_id"]))
        if g["interpreter_id"] != w["interpreter_id"]:
            diffs.add("%s: interpreter_id: want %d, got %d" % (
                who, w["interpreter_id"], g["interpreter_id"]))
        # The interpreter has no "no line" for a parked frame; a null in the
        # truth would be a fixture bug, and -1 is the dump's spelling of it.
        want_frames = [dict(f, line=-1 if f["line"] is None else f["line"])
                       for f in w["frames"]]
        compare_frames(want_frames, g["frames"], who, diffs)
        if state_checks:
            if g["os_state"] != "sleeping":
                diffs.add("%s: os_state: want 'sleeping' (parked in a system "
                          "call), got %r" % (who, g["os_state"]))
            if g["gil"] != "released":
                diffs.add("%s: gil: want 'released' (every thread is parked), "
                          "got %r" % (who, g["gil"]))
            if not g["syscall"]:
                diffs.add("%s: syscall: want the name of the system call it "
                          "is parked in, got %r" % (who, g["syscall"]))
    return diffs


def load(path, what):
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as e:
        print("compare_dump: cannot read %s %s: %s" % (what, path, e))
        return None


def main(argv):
    args = list(argv[1:])
    state_checks = True
    min_threads = 1
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        if opt == "--no-state-checks":
            state_checks = False
        elif opt == "--min-threads" and args:
            min_threads = int(args.pop(0))
        elif opt == "--root" and args:
            global ROOT
            ROOT = args.pop(0)
        else:
            args = []
            break
    if len(args) != 2:
        print(__doc__.strip().splitlines()[2])
        return 2
    truth = load(args[0], "truth")
    if truth is None:
        return 2
    dump = load(args[1], "dump")
    if dump is None:
        # Not parseable JSON is pyprobe's fault, not the comparer's.
        return 1
    diffs = compare(truth, dump, state_checks, min_threads)
    if diffs:
        shown = diffs.items[:MAX_DIFFS]
        print("DUMP DIFFERS FROM TRUTH (%d difference%s%s)" % (
            len(diffs.items), "" if len(diffs.items) == 1 else "s",
            ", first %d shown" % len(shown) if len(shown) < len(diffs.items)
            else ""))
        print("  truth: %s\n  dump:  %s" % (args[0], args[1]))
        for d in shown:
            print("- " + d)
        return 1
    nframes = sum(len(t["frames"]) for t in truth["threads"])
    print("OK: %d threads, %d frames identical (python %s, pid %d)" % (
        len(truth["threads"]), nframes, truth["version"], truth["pid"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
