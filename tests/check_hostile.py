"""Check pyprobe's output on a hostile target (fixtures/hostile/hostile.py).

Usage: check_hostile.py MODE FIXTURE_STDOUT KIND=FILE...

FIXTURE_STDOUT holds the fixture's JSON line: what the interpreter itself
reported for each thread before anything was corrupted. From it and MODE,
this script builds what pyprobe must show for the "worker" thread (and the
main thread, which is never touched), and checks each output given:

  text=F       `pyprobe dump` (paused)
  json=F       `pyprobe dump --json` (paused)
  json_nb=F    `pyprobe dump --json --nonblocking`
  collapsed=F  `pyprobe record --idle --threads -f collapsed` output
  summary=F    that record's standard error (its summary line)

MODE is the fixture's mode, or `stopped` (the fixture's `plain` target,
stopped with SIGSTOP before pyprobe ran: every thread must say so).
Exit 0 when everything matches; otherwise every problem found, one per
line (a few lines of context each), and exit 1.

What pyprobe must show is the thread-sample model of the frame-walker
rewrite (notes: whole / cut short / unreadable / dropped; markers as
frames; unreadable name, file or line as `?`, JSON null; names longer
than 4096 code points cut to 4096 and `...` (U+2026)).
"""
import json
import re
import sys

ELLIPSIS = "\u2026"
NAME_LIMIT = 4096

PROBLEMS = []
FORMAT = []  # the new model's fields missing: reported once per file, last


def problem(msg):
    PROBLEMS.append(msg)


def format_problem(msg):
    if msg not in FORMAT:
        FORMAT.append(msg)


def marker(reason):
    return {"kind": "marker", "function": "[unreadable frame: %s]" % reason,
            "name": None, "file": None, "line": None}


def python_frame(function, name, file, line):
    return {"kind": "python", "function": function, "name": name,
            "file": file, "line": line}


def cut_name(s):
    if s is not None and len(s) > NAME_LIMIT:
        return s[:NAME_LIMIT] + ELLIPSIS
    return s


def decode(rle):
    out = []
    for function, name, file, line, count in rle:
        fr = python_frame(cut_name(function), cut_name(name), file, line)
        out.extend(dict(fr) for _ in range(count))
    return out


def expected(mode, fixture):
    """(worker frames, allowed "stack" values) that pyprobe must show."""
    t = decode(fixture["threads"]["worker"]["frames"])
    old = tuple(int(x) for x in fixture["version"].split(".")[:2]) < (3, 11)
    whole = {"whole"}
    # A frame with a `?` in it is not cut: its place in the chain is
    # known. The model names the kinds of cut, not this case; "whole" is
    # the natural reading, "cut_unreadable" is tolerated.
    question = {"whole", "cut_unreadable"}
    if mode in ("plain", "stopped", "bigline", "bigname", "deep"):
        return t, whole
    if mode == "cycle":
        return t[:3] + [marker("frame chain loops")], {"cut_unreadable"}
    if mode == "back_garbage":
        return t[:3] + [marker("frame memory not readable")], {"cut_unreadable"}
    if mode in ("code_garbage", "code_not_code"):
        return [t[0], marker("not a code object")] + t[2:], {"cut_unreadable"}
    if mode in ("name_garbage", "name_not_str", "name_huge"):
        t[1]["function"] = None
        if old:  # co_name is the function name there; 3.11+ keep co_name
            t[1]["name"] = None
        return t, question
    if mode == "file_garbage":
        t[1]["file"] = None
        return t, question
    if mode in ("line_garbage", "line_huge"):
        t[1]["line"] = None
        return t, question
    raise SystemExit("check_hostile.py: unknown mode %r" % mode)


# --- rendering the expectation as each format shows it -----------------------

def text_line(fr):
    if fr.get("kind") == "marker":
        return fr["function"]
    s = "%s (%s" % (fr["function"] if fr["function"] is not None else "?",
                    fr["file"] if fr["file"] is not None else "?")
    if fr["line"] is None:
        s += ":?"
    elif fr["line"] >= 0:
        s += ":%d" % fr["line"]
    return s + ")"


def collapsed_label(fr):
    s = text_line(fr)
    return s.replace(";", ":")


def show(frames, limit=8):
    lines = [text_line(f) if isinstance(f, dict) else str(f) for f in frames]
    if len(lines) > limit:
        lines = lines[:limit // 2] + ["... (%d frames)" % len(lines)] + lines[-limit // 2:]
    return "\n      ".join(l[:160] for l in lines)


def first_difference(got, want):
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return i
    return min(len(got), len(want))


def compare(what, got, want, render):
    if got == want:
        return
    i = first_difference(got, want)
    problem("%s: %d frames, want %d; first difference at frame %d:\n"
            "    got  %s\n    want %s\n    got:\n      %s\n    want:\n      %s" % (
                what, len(got), len(want), i,
                render(got[i])[:300] if i < len(got) else "(none)",
                render(want[i])[:300] if i < len(want) else "(none)",
                show(got), show(want)))


# --- the formats -------------------------------------------------------------

def check_text(path, threads, stopped):
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    if "changed while it was read" in text:
        problem("%s: a paused dump says the stack changed while it was read" % path)
    blocks = {}
    cur = None
    for line in text.split("\n"):
        m = re.match(r"Thread (\d+)(.*)$", line)
        if m:
            cur = int(m.group(1))
            blocks[cur] = {"header": line, "lines": []}
        elif cur is not None and line.startswith("    "):
            blocks[cur]["lines"].append(line[4:])
    for name, (tid, frames, _) in threads.items():
        b = blocks.get(tid)
        if b is None:
            problem("%s: no thread %d (%s) in the dump" % (path, tid, name))
            continue
        if stopped and not b["header"].endswith("(stopped)"):
            problem("%s: thread %s must say it is stopped: %r" % (path, name, b["header"]))
        compare("%s: thread %s" % (path, name), b["lines"],
                [text_line(f) for f in frames], str)


def check_json(path, threads, stopped, paused):
    with open(path, encoding="utf-8") as fh:
        try:
            doc = json.load(fh)
        except ValueError as e:
            problem("%s: not JSON: %s" % (path, e))
            return
    by_tid = {t.get("native_id"): t for t in doc.get("threads", [])}
    # Without the new model's fields, say so once and compare the rest, so
    # that what is wrong in the content still shows.
    has_kind = any("kind" in fr for t in doc.get("threads", [])
                   for fr in t.get("frames", []))
    if not has_kind:
        format_problem("%s: frames carry no \"kind\"" % path)
    keys = ("kind", "function", "name", "file", "line") if has_kind else \
        ("function", "name", "file", "line")
    for name, (tid, frames, stacks) in threads.items():
        t = by_tid.get(tid)
        if t is None:
            problem("%s: no thread %d (%s)" % (path, tid, name))
            continue
        if "torn" in t:
            problem("%s: thread %s has the old \"torn\" key" % (path, name))
        if "stack" not in t:
            format_problem("%s: threads have no \"stack\"" % path)
        elif t.get("stack") not in stacks:
            problem("%s: thread %s: \"stack\": %r, want %s" % (
                path, name, t.get("stack"), " or ".join(map(repr, sorted(stacks)))))
        if stopped and t.get("os_state") != "stopped":
            problem("%s: thread %s: \"os_state\": %r, want \"stopped\"" % (
                path, name, t.get("os_state")))
        got = [{k: fr.get(k, "(missing)") for k in keys} for fr in t.get("frames", [])]
        want = [{k: fr[k] for k in keys} for fr in frames]
        compare("%s: thread %s" % (path, name), got, want, json.dumps)
        if paused and any(f.get("function") == "[changing]" for f in got):
            problem("%s: thread %s: [changing] in a paused dump" % (path, name))


def check_collapsed(path, threads):
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = [l for l in fh.read().split("\n") if l]
    seen = {name: 0 for name in threads}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            problem("%s: not a collapsed line: %.200r" % (path, line))
            continue
        frames = stack.split(";")
        m = re.match(r'thread (\d+)', frames[0])
        if not m:
            problem("%s: no thread root frame (--threads): %.200r" % (path, line))
            continue
        tid = int(m.group(1))
        for name, (want_tid, want, _) in threads.items():
            if tid == want_tid:
                seen[name] += int(count)
                compare("%s: a sample of thread %s (%s of them)" % (path, name, count),
                        frames[1:], [collapsed_label(f) for f in reversed(want)], str)
    for name, n in seen.items():
        if n == 0:
            problem("%s: no sample of thread %s" % (path, name))


SUMMARY = re.compile(
    r"pyprobe: (\d+) samples in .*?, (\d+) cut short \([^)]*\), "
    r"(\d+) unreadable \([^)]*\), (\d+) dropped \([^)]*\)")


def check_summary(path, mode, stacks):
    with open(path, encoding="utf-8", errors="replace") as fh:
        err = fh.read()
    m = SUMMARY.search(err)
    if not m:
        problem("%s: no summary line of the form `N samples in ..., C cut short (...), "
                "U unreadable (...), D dropped (...)`:\n    %s" % (
                    path, err.strip().replace("\n", "\n    ")[:600]))
        return
    samples, cut, unreadable, dropped = (int(x) for x in m.groups())
    if samples == 0:
        problem("%s: no samples: %s" % (path, m.group(0)))
    # The target sleeps: nothing moves, nothing is dropped.
    if cut:
        problem("%s: %d samples counted as cut short (changing): %s" % (path, cut, m.group(0)))
    if dropped:
        problem("%s: %d samples counted as dropped: %s" % (path, dropped, m.group(0)))
    if stacks == {"cut_unreadable"} and unreadable == 0:
        problem("%s: the worker's samples are not counted as unreadable: %s" % (path, m.group(0)))
    if stacks == {"whole"} and unreadable:
        problem("%s: %d samples counted as unreadable: %s" % (path, unreadable, m.group(0)))


def main():
    if len(sys.argv) < 4:
        raise SystemExit("usage: check_hostile.py MODE FIXTURE_STDOUT KIND=FILE...")
    mode, fixture_out = sys.argv[1], sys.argv[2]
    with open(fixture_out, encoding="utf-8") as fh:
        fixture = json.loads(fh.readline())
    worker, stacks = expected(mode, fixture)
    main_t = fixture["threads"]["MainThread"]
    threads = {
        "worker": (fixture["threads"]["worker"]["native_id"], worker, stacks),
        "MainThread": (main_t["native_id"], decode(main_t["frames"]), {"whole"}),
    }
    stopped = mode == "stopped"
    for arg in sys.argv[3:]:
        kind, _, path = arg.partition("=")
        if kind == "text":
            check_text(path, threads, stopped)
        elif kind == "json":
            check_json(path, threads, stopped, True)
        elif kind == "json_nb":
            check_json(path, threads, stopped, False)
        elif kind == "collapsed":
            check_collapsed(path, threads)
        elif kind == "summary":
            check_summary(path, mode, stacks)
        else:
            raise SystemExit("check_hostile.py: unknown output kind %r" % kind)
    if PROBLEMS or FORMAT:
        print("%s (Python %s): %d problem(s)" % (mode, fixture["version"],
                                                len(PROBLEMS) + len(FORMAT)))
        for p in PROBLEMS:
            print("- " + p)
        for p in FORMAT:
            print("- [format] " + p)
        return 1
    print("%s (Python %s): ok" % (mode, fixture["version"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
