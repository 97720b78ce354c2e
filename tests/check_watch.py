"""Check what `pyprobe watch` wrote for scenarios of fixtures/watch/hangs.py.

    check_watch.py FIXTURE (SCENARIO OUT_DIR WATCH_STDERR)...

Exit 0 when all are right; otherwise print what is wrong and exit 1.
"""
import glob
import json
import os
import sys


class Wrong(Exception):
    pass


def check(scenario, out_dir, err_file, fixture):
    err = open(err_file, encoding="utf-8", errors="replace").read()
    jsons = sorted(glob.glob(os.path.join(out_dir, "pyprobe-hang-*.json")))
    txts = sorted(glob.glob(os.path.join(out_dir, "pyprobe-hang-*.txt")))
    left = [f for f in os.listdir(out_dir) if ".tmp" in f]

    def fail(msg):
        raise Wrong("%s: %s\n--- watch's stderr:\n%s" % (scenario, msg, err))

    def line_of(marker):
        for i, line in enumerate(open(fixture, encoding="utf-8"), 1):
            if marker in line:
                return i
        fail("no line with %r in the fixture" % marker)

    if left:
        fail("temporary files left: %s" % left)
    if scenario == "control":
        if jsons or txts:
            fail("a hang was written for the control: %s\n%s" % (
                jsons, open(txts[0]).read() if txts else ""))
        if "0 hangs written" not in err:
            fail("no '0 hangs written' line")
        return
    if len(jsons) != 1 or len(txts) != 1:
        fail("expected exactly one hang (.json and .txt), found %s %s" % (jsons, txts))
    if jsons[0][:-5] != txts[0][:-4]:
        fail("the .json and .txt differ in name")
    h = json.load(open(jsons[0], encoding="utf-8"))
    if "1 hang written" not in err:
        fail("no '1 hang written' line")
    if err.count("wrote ") != 1 or os.path.basename(txts[0]) not in err:
        fail("stderr does not name the file once")
    if h["dump"] is None or not h["dump"]["threads"]:
        fail("no dump: %s" % h["dump_error"])
    if not h["recent"]["collapsed"]:
        fail("no recent profile")
    f = h["findings"]
    by_name = {x["name"]: x for x in f}
    expect = {"stall": "stall", "deadlock": "deadlock", "spin": "stuck", "heartbeat": "heartbeat"}
    if h["condition"] != expect[scenario]:
        fail("condition %r, expected %r" % (h["condition"], expect[scenario]))
    if scenario == "stall":
        x = f[0]
        if (x["condition"], x["name"], x["function"], x["task"]) != ("stall", "MainThread", "blocker", "blocker"):
            fail("wrong culprit: %s" % x)
        if x["line"] != line_of("time.sleep(HANG_FOR)"):
            fail("wrong line: %s" % x)
        if "blocker" not in err:
            fail("stderr does not name blocker")
        # the Task as well as its coroutine, where pyprobe reads tasks (3.11+)
        v = tuple(int(p) for p in h["dump"]["python"]["version"].split(".")[:2])
        want = "blocker-task" if v >= (3, 11) else None
        if x["task_name"] != want:
            fail("task_name %r, expected %r (Python %s)" % (x["task_name"], want, v))
        if want and 'loop running task "blocker-task" (coroutine blocker)' not in err:
            fail("stderr does not name the task blocker-task")
    elif scenario == "deadlock":
        if set(by_name) != {"worker-a", "worker-b"}:
            fail("deadlock names %s, expected worker-a and worker-b" % sorted(by_name))
        for name, fn, marker in (("worker-a", "take_a", "with lock_2:  # worker-b"),
                                 ("worker-b", "take_b", "with lock_1:  # worker-a")):
            x = by_name[name]
            if (x["function"], x["activity"], x["line"]) != (fn, "lock wait", line_of(marker)):
                fail("wrong finding for %s: %s" % (name, x))
    elif scenario == "spin":
        x = f[0]
        if len(f) != 1 or (x["name"], x["function"], x["activity"]) != ("spinner", "spin_here", "running"):
            fail("wrong culprit: %s" % f)
        if x["line"] != line_of("# noqa: E701"):
            fail("wrong line: %s" % x)
        if "spinner" not in err or "spin_here" not in err:
            fail("stderr does not name spinner / spin_here")
    elif scenario == "heartbeat":
        if len(f) != 1 or f[0]["condition"] != "heartbeat" or f[0]["native_id"] is not None:
            fail("wrong findings: %s" % f)
        if f[0]["seconds"] < 1.0:
            fail("fired early: %s" % f)
    return


bad = 0
fixture = sys.argv[1]
args = sys.argv[2:]
for i in range(0, len(args) - 2, 3):
    try:
        check(args[i], args[i + 1], args[i + 2], fixture)
    except Wrong as e:
        print(e)
        bad += 1
sys.exit(1 if bad else 0)
