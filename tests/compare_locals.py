#!/usr/bin/env python3
"""Compare `pyprobe dump --json --locals` of fixtures/dump/locals.py with the
truth the fixture wrote about itself.

    compare_locals.py TRUTH.json DUMP.json

The thread "locals-worker" must show the frames `holder` and `inner`
(co_name), and each frame's locals must be exactly the truth's (as a set:
pyprobe lists slots in the code's order, the truth by name), each
{"name", "type", "repr"} equal. Every other Python frame must carry a
"locals" list (or null), every marker none. Exit 0 on a match, 1 with the
differences printed.
"""
import json
import sys


def main():
    truth = json.load(open(sys.argv[1], encoding="utf-8"))
    dump = json.load(open(sys.argv[2], encoding="utf-8"))
    errors = []
    workers = [t for t in dump["threads"] if t.get("name") == "locals-worker"]
    if len(workers) != 1:
        print("expected one thread named locals-worker, found %d" % len(workers))
        return 1
    for t in dump["threads"]:
        for f in t["frames"]:
            if f["kind"] == "python" and "locals" not in f:
                errors.append("python frame %s has no locals key" % f["function"])
            if f["kind"] == "marker" and "locals" in f:
                errors.append("marker %s has locals" % f["function"])
    frames = {f["name"]: f for f in workers[0]["frames"] if f["kind"] == "python"}
    for fn in ("holder", "inner"):
        f = frames.get(fn)
        if f is None:
            errors.append("no frame %s in the worker's stack" % fn)
            continue
        got = f.get("locals")
        if got is None:
            errors.append("%s: locals null" % fn)
            continue
        names = [l["name"] for l in got]
        if len(names) != len(set(names)):
            errors.append("%s: a name twice: %s" % (fn, names))
        want = {l["name"]: l for l in truth[fn]}
        have = {l["name"]: l for l in got}
        for n in sorted(set(want) | set(have)):
            if want.get(n) != have.get(n):
                errors.append("%s.%s: want %s, got %s" % (fn, n, json.dumps(want.get(n), ensure_ascii=False),
                                                         json.dumps(have.get(n), ensure_ascii=False)))
    if errors:
        print("\n".join(errors))
        return 1
    print("locals match: holder %d, inner %d" % (len(truth["holder"]), len(truth["inner"])))
    return 0


sys.exit(main())
