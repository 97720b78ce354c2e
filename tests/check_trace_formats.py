#!/usr/bin/env python3
"""Check a chrometrace or gecko file pyprobe wrote against its format.

  check_trace_formats.py chrometrace FILE [--expect NAME ...]
  check_trace_formats.py gecko FILE [--expect NAME ...]

chrometrace: the JSON Object Format of the Trace Event Format document
(Chrome's "Trace Event Format", the one Perfetto and chrome://tracing
read): an object with a traceEvents array; every event's keys among the
document's fields and of their types; complete events ("X") with name,
cat, ph, ts, dur, pid, tid; metadata events ("M") of the document's
names with their args; every (pid, tid) with complete events named by a
thread_name event; complete events of a thread properly nested (a child
inside its parent), as a track can draw them.

gecko: the Firefox Profiler's processed profile format, version 57 (the
version CPython 3.15's sampler writes): meta with interval, startTime,
version, preprocessedProfileVersion 57 and categories; threads with the
samples, stackTable, frameTable, funcTable, resourceTable, nativeSymbols
and markers tables, each a struct of equally long columns with `length`;
every index in range (a stack's prefix before it, a frame's func, a
func's name and file in shared.stringArray, categories and
subcategories in meta's); sample times not decreasing.

--expect NAME: a function that must appear (a span's name, a func's
name). Exit 0 when the file conforms, 1 with the first problems printed.
"""
import json
import sys

TRACE_FIELDS = {
    "name": str, "cat": str, "ph": str, "ts": (int, float), "tts": (int, float),
    "pid": int, "tid": int, "args": dict, "dur": (int, float), "tdur": (int, float),
    "id": (str, int), "s": str, "bp": str, "cname": str, "sf": (int, str),
    "stack": list, "estack": list, "esf": (int, str), "id2": dict, "scope": str,
}
METADATA_NAMES = {"process_name", "process_labels", "process_sort_index",
                  "thread_name", "thread_sort_index"}
PHASES = set("BEXiIMCbneSTpFsftPOND(){}R") | {"c"}


class Problems:
    def __init__(self):
        self.list = []

    def __call__(self, cond, msg):
        if not cond and len(self.list) < 20:
            self.list.append(msg)
        return cond


def num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_chrometrace(d, expect):
    ok = Problems()
    if not ok(isinstance(d, dict) and isinstance(d.get("traceEvents"), list),
              "not an object with a traceEvents array"):
        return ok.list, set()
    ok(d.get("displayTimeUnit", "ms") in ("ms", "ns"), "displayTimeUnit is not ms or ns")
    ok(isinstance(d.get("otherData", {}), dict), "otherData is not an object")
    names, spans = {}, {}
    for i, e in enumerate(d["traceEvents"]):
        where = "traceEvents[%d]" % i
        if not ok(isinstance(e, dict), where + " is not an object"):
            continue
        for k, v in e.items():
            t = TRACE_FIELDS.get(k)
            if ok(t is not None, "%s has %r, not a Trace Event Format field" % (where, k)):
                ok(isinstance(v, t) and not isinstance(v, bool),
                   "%s.%s is %r" % (where, k, type(v).__name__))
        ph = e.get("ph")
        ok(ph in PHASES, "%s.ph %r is no phase" % (where, ph))
        if ph == "M":
            ok(e.get("name") in METADATA_NAMES, "%s: metadata %r" % (where, e.get("name")))
            args = e.get("args", {})
            if e.get("name", "").endswith("_name"):
                ok(isinstance(args.get("name"), str), where + ": no args.name")
            if e.get("name") == "thread_name":
                names[(e.get("pid"), e.get("tid"))] = args.get("name")
        elif ph == "X":
            for k in ("name", "cat", "ts", "dur", "pid", "tid"):
                ok(k in e, "%s: complete event without %s" % (where, k))
            if all(k in e for k in ("ts", "dur", "pid", "tid")) and num(e["ts"]) and num(e["dur"]):
                ok(e["ts"] >= 0 and e["dur"] >= 0, where + ": negative ts or dur")
                spans.setdefault((e["pid"], e["tid"]), []).append(
                    (e["ts"], -e["dur"], e.get("name")))
    seen = set()
    for track, evs in spans.items():
        ok(track in names, "thread %r has spans but no thread_name" % (track,))
        evs.sort()
        open_ends = []
        for ts, negdur, name in evs:
            seen.add(name)
            end = ts - negdur
            while open_ends and open_ends[-1] <= ts + 1e-9:
                open_ends.pop()
            if open_ends:
                ok(end <= open_ends[-1] + 1e-6,
                   "thread %r: %s at %.3f..%.3f overlaps its parent's end %.3f"
                   % (track, name, ts, end, open_ends[-1]))
            open_ends.append(end)
    ok(len(spans) > 0 or not expect, "no complete events")
    return ok.list, seen


def check_table(ok, where, t, cols):
    if not ok(isinstance(t, dict), where + " is not an object"):
        return 0
    n = t.get("length")
    if not ok(isinstance(n, int) and n >= 0, where + ".length missing"):
        return 0
    for c in cols:
        col = t.get(c)
        ok(isinstance(col, list) and len(col) == n,
           "%s.%s is not a list of length %d" % (where, c, n))
    return n


def idx(ok, v, n, what, nullable=False, minus1=False):
    if v is None:
        return ok(nullable, what + " is null")
    if minus1 and v == -1:
        return True
    return ok(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n,
              "%s = %r out of range 0..%d" % (what, v, n))


def check_gecko(d, expect):
    ok = Problems()
    if not ok(isinstance(d, dict), "not an object"):
        return ok.list, set()
    meta = d.get("meta", {})
    ok(num(meta.get("interval")) and meta.get("interval") > 0, "meta.interval")
    ok(num(meta.get("startTime")), "meta.startTime")
    ok(isinstance(meta.get("version"), int), "meta.version")
    ok(meta.get("preprocessedProfileVersion") == 57, "meta.preprocessedProfileVersion is not 57")
    cats = meta.get("categories")
    if not ok(isinstance(cats, list) and cats, "meta.categories"):
        cats = []
    for i, c in enumerate(cats):
        ok(isinstance(c, dict) and isinstance(c.get("name"), str) and isinstance(c.get("color"), str)
           and isinstance(c.get("subcategories"), list) and c["subcategories"],
           "meta.categories[%d]" % i)
    ok(isinstance(d.get("libs"), list), "libs")
    strings = d.get("shared", {}).get("stringArray")
    if not ok(isinstance(strings, list) and all(isinstance(s, str) for s in strings),
              "shared.stringArray is not a list of strings"):
        strings = []
    threads = d.get("threads")
    if not ok(isinstance(threads, list) and threads, "no threads"):
        return ok.list, set()
    seen = set()
    for ti, th in enumerate(threads):
        w = "threads[%d]" % ti
        ok(isinstance(th.get("name"), str), w + ".name")
        ok(isinstance(th.get("pid"), str), w + ".pid is not a string")
        ok(isinstance(th.get("tid"), (int, str)), w + ".tid")
        ok(isinstance(th.get("isMainThread"), bool), w + ".isMainThread")
        ok(th.get("processType") == "default", w + ".processType")
        for k in ("processStartupTime", "registerTime"):
            ok(num(th.get(k)), "%s.%s" % (w, k))
        ok(isinstance(th.get("pausedRanges"), list), w + ".pausedRanges")
        ns = check_table(ok, w + ".stackTable", th.get("stackTable"),
                         ("frame", "category", "subcategory", "prefix"))
        nf = check_table(ok, w + ".frameTable", th.get("frameTable"),
                         ("address", "category", "subcategory", "func", "nativeSymbol",
                          "innerWindowID", "line", "column", "inlineDepth"))
        nfn = check_table(ok, w + ".funcTable", th.get("funcTable"),
                          ("name", "isJS", "relevantForJS", "resource", "fileName",
                           "lineNumber", "columnNumber"))
        nr = check_table(ok, w + ".resourceTable", th.get("resourceTable"),
                         ("lib", "name", "host", "type"))
        nsm = check_table(ok, w + ".samples", th.get("samples"), ("stack", "time"))
        check_table(ok, w + ".nativeSymbols", th.get("nativeSymbols"),
                    ("libIndex", "address", "name", "functionSize"))
        check_table(ok, w + ".markers", th.get("markers"),
                    ("data", "name", "startTime", "endTime", "phase", "category"))
        if ok.list:
            break
        st, ft, fn, rt, sm = (th["stackTable"], th["frameTable"], th["funcTable"],
                              th["resourceTable"], th["samples"])

        def cat_ok(where, c, sc):
            if idx(ok, c, len(cats), where + ".category"):
                idx(ok, sc, len(cats[c]["subcategories"]), where + ".subcategory")
        for i in range(ns):
            idx(ok, st["frame"][i], nf, "%s.stackTable.frame[%d]" % (w, i))
            idx(ok, st["prefix"][i], i, "%s.stackTable.prefix[%d]" % (w, i), nullable=True)
            cat_ok("%s.stackTable[%d]" % (w, i), st["category"][i], st["subcategory"][i])
        for i in range(nf):
            idx(ok, ft["func"][i], nfn, "%s.frameTable.func[%d]" % (w, i))
            line = ft["line"][i]
            ok(line is None or (isinstance(line, int) and line >= 0), "%s.frameTable.line[%d]" % (w, i))
            cat_ok("%s.frameTable[%d]" % (w, i), ft["category"][i], ft["subcategory"][i])
        for i in range(nfn):
            if idx(ok, fn["name"][i], len(strings), "%s.funcTable.name[%d]" % (w, i)):
                seen.add(strings[fn["name"][i]])
            idx(ok, fn["fileName"][i], len(strings), "%s.funcTable.fileName[%d]" % (w, i), nullable=True)
            idx(ok, fn["resource"][i], nr, "%s.funcTable.resource[%d]" % (w, i), minus1=True)
            ok(isinstance(fn["isJS"][i], bool) and isinstance(fn["relevantForJS"][i], bool),
               "%s.funcTable.isJS[%d]" % (w, i))
        for i in range(nr):
            idx(ok, rt["name"][i], len(strings), "%s.resourceTable.name[%d]" % (w, i))
        last = None
        for i in range(nsm):
            idx(ok, sm["stack"][i], ns, "%s.samples.stack[%d]" % (w, i), nullable=True)
            t = sm["time"][i]
            if ok(num(t), "%s.samples.time[%d]" % (w, i)):
                ok(last is None or t >= last, "%s.samples.time decreases at %d" % (w, i))
                last = t
        ok(sm.get("weightType", "samples") in ("samples", "tracing-ms", "bytes"),
           w + ".samples.weightType")
    return ok.list, seen


def main(argv):
    if len(argv) < 3 or argv[1] not in ("chrometrace", "gecko"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    expect = [argv[i + 1] for i in range(3, len(argv) - 1) if argv[i] == "--expect"]
    try:
        with open(argv[2], encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print("%s: not JSON: %s" % (argv[2], e))
        return 1
    problems, seen = (check_chrometrace if argv[1] == "chrometrace" else check_gecko)(d, expect)
    for name in expect:
        if name not in seen:
            problems.append("no %r in the file" % name)
    for p in problems:
        print("%s: %s" % (argv[2], p))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
