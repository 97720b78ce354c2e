"""Compare `pyprobe dump --core CORE --native --json` with the live
`dump --native --json` taken of the same still process just before the
core.

Usage: python3 compare_native_core.py LIVE.json CORE.json merged|separate

Both must say the same per thread: whether its stacks were merged or shown
apart, and why (native_note); every frame (kind, function, file, line,
library, offset, inlined) of the merged stack, or of the Python and the
native stacks apart - the same program counters, symbolised the same; and
the dump-level note. Then, so that two equally broken dumps do not pass:
merged - the main thread's stack is merged, and it has a native frame of
libc inner to its innermost Python frame; separate - the dump says once
that no evaluator was recognised, and the main thread's native stack
names a function. Prints what differs and exits 1; exits 0 when all holds.
"""
import json
import sys

FIELDS = ("kind", "function", "file", "line", "library", "offset", "inlined")


def frames(fs):
    return [tuple(f.get(k) for k in FIELDS) for f in fs]


def main():
    live = json.load(open(sys.argv[1], encoding="utf-8"))
    core = json.load(open(sys.argv[2], encoding="utf-8"))
    mode = sys.argv[3]
    errors = []
    if live.get("native_note") != core.get("native_note"):
        errors.append("native_note: live %r, core %r"
                      % (live.get("native_note"), core.get("native_note")))
    a = {t["native_id"]: t for t in live["threads"]}
    b = {t["native_id"]: t for t in core["threads"]}
    if sorted(a) != sorted(b):
        errors.append("threads: live %s, core %s" % (sorted(a), sorted(b)))
    for tid in sorted(set(a) & set(b)):
        x, y = a[tid], b[tid]
        who = "thread %d %r" % (tid, x["name"])
        for k in ("native", "native_note"):
            if x.get(k) != y.get(k):
                errors.append("%s: %s live %r, core %r" % (who, k, x.get(k), y.get(k)))
        for k in ("frames", "native_frames"):
            fx, fy = frames(x.get(k, [])), frames(y.get(k, []))
            if fx == fy:
                continue
            at = next((i for i, (p, q) in enumerate(zip(fx, fy)) if p != q),
                      min(len(fx), len(fy)))
            errors.append("%s: %s differ (live %d, core %d) at %d:\n  live %s\n  core %s"
                          % (who, k, len(fx), len(fy), at,
                             fx[at] if at < len(fx) else None,
                             fy[at] if at < len(fy) else None))
    main = b.get(core.get("pid"))
    if main is None:
        errors.append("no main thread in the core's dump")
    elif mode == "merged":
        fs = main["frames"]
        first_py = next((i for i, f in enumerate(fs) if f["kind"] == "python"), None)
        if main.get("native") != "merged":
            errors.append("main thread: native %r (%s), want merged"
                          % (main.get("native"), main.get("native_note")))
        elif first_py is None or not any(
                f["kind"] == "native" and "libc" in (f.get("library") or "")
                and f["function"] for f in fs[:first_py]):
            errors.append("main thread: no named libc frame inner to its Python frames: %s"
                          % [(f["kind"], f["function"]) for f in fs[:12]])
    else:
        if not core.get("native_note"):
            errors.append("separate: no dump-level native_note")
        if not any(f["function"] for f in main.get("native_frames", [])):
            errors.append("main thread: no named native frame")
    for e in errors:
        print(e)
    if not errors:
        print("same: %d threads, native %s" % (len(b), mode))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
