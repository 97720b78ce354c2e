"""Check `pyprobe dump --json --native` of fixtures/dump/native.py against
the plain `dump --json` of the same, still process.

Usage: python3 check_native_dump.py PLAIN.json NATIVE.json merged|separate

Every thread's Python frames must be the plain dump's, in order (merged:
the Python frames among the merged stack; separate: "frames"). Each parked
thread's blocking C function must be shown: merged, as a native frame
inner to its park function with nothing but native frames between;
separate, among its native frames (where the library has a symbol for it).
Prints what differs and exits 1; exits 0 when all holds.
"""
import json
import re
import sys

# thread name -> (park function, pattern of the blocking C function)
PARKS = {
    "sleeper": ("park_sleep", r"clock_nanosleep|nanosleep|select"),
    "locker": ("park_lock", r"futex|sem_wait|sem_clockwait|sem_timedwait|pthread_cond|lll_lock|_PySemaphore|_PyMutex"),
    "selector": ("park_select", r"select"),
    "ctypes": ("park_ctypes", r"pause"),
}
# Functions a stripped libc names for the separate path (the others are
# local symbols there).
EXPORTED = {"sleeper": r"clock_nanosleep", "ctypes": r"^pause$"}


def key(f):
    return (f["function"], f["file"], f["line"])


def main():
    plain = json.load(open(sys.argv[1]))
    native = json.load(open(sys.argv[2]))
    mode = sys.argv[3]
    errors = []
    by_id = {t["native_id"]: t for t in plain["threads"]}
    seen = set()
    for t in native["threads"]:
        name = t["name"]
        p = by_id.get(t["native_id"])
        if p is None:
            errors.append("thread %s not in the plain dump" % name)
            continue
        if t.get("native") != mode:
            errors.append("thread %s: native is %r (%s), want %s"
                          % (name, t.get("native"), t.get("native_note"), mode))
            continue
        frames = t["frames"]
        for f in frames + t.get("native_frames", []):
            if f["kind"] not in ("python", "native", "marker"):
                errors.append("thread %s: frame kind %r" % (name, f["kind"]))
            if f["kind"] == "native" and not ("library" in f and "offset" in f):
                errors.append("thread %s: native frame without library/offset" % name)
        py = [key(f) for f in frames if f["kind"] != "native"]
        want = [key(f) for f in p["frames"]]
        if py != want:
            errors.append("thread %s: Python frames\n  %s\nwant\n  %s" % (name, py, want))
        if name not in PARKS:
            continue
        seen.add(name)
        park, pattern = PARKS[name]
        if mode == "merged":
            at = [i for i, f in enumerate(frames)
                  if f["kind"] == "python" and f["function"] == park]
            if not at:
                errors.append("thread %s: no %s frame" % (name, park))
                continue
            inner = frames[:at[0]]
            if not inner or any(f["kind"] != "native" for f in inner):
                errors.append("thread %s: frames inner to %s are not all native: %s"
                              % (name, park, [f["function"] for f in inner]))
            if not any(f["function"] and re.search(pattern, f["function"]) for f in inner):
                errors.append("thread %s: no native frame matching %r inner to %s: %s"
                              % (name, pattern, park, [f["function"] for f in inner]))
        else:
            nf = t.get("native_frames", [])
            if len(nf) < 4:
                errors.append("thread %s: only %d native frames" % (name, len(nf)))
            if name in EXPORTED and not any(
                    f["function"] and re.search(EXPORTED[name], f["function"]) for f in nf):
                errors.append("thread %s: no native frame matching %r: %s"
                              % (name, EXPORTED[name], [f["function"] for f in nf]))
            if not t.get("native_note"):
                errors.append("thread %s: separate without a native_note" % name)
    if seen != set(PARKS):
        errors.append("threads missing: %s" % sorted(set(PARKS) - seen))
    if mode == "separate" and not native.get("native_note"):
        errors.append("no dump-level native_note")
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
