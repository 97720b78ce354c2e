"""compare_tasks.py TRUTH DUMP_JSON: does `pyprobe dump --tasks --json`
show the tasks fixtures/dump/tasks.py says it has?

Every task of the truth must be in the dump (in one loop) under its name,
pending, with the same coroutine stack (qualified name and line, innermost
first) and awaiting the same tasks; the dump may have no other task but the
fixture's "reporter" (done, or finishing). Prints what differs; exit 1 then.
"""
import json
import sys

truth = json.load(open(sys.argv[1]))["tasks"]
dump = json.load(open(sys.argv[2]))
errors = []
loops = dump.get("asyncio", {}).get("loops", [])
if len(loops) != 1:
    errors.append(f"{len(loops)} loops, want 1")
got = {}
for loop in loops:
    for t in loop["tasks"]:
        if t["name"] == "reporter":
            continue
        if t["name"] in got:
            errors.append(f"task {t['name']!r} twice")
        got[t["name"]] = t
for name, want in truth.items():
    t = got.get(name)
    if t is None:
        errors.append(f"task {name!r} missing")
        continue
    if t["state"] != "pending":
        errors.append(f"task {name!r} is {t['state']}, want pending")
    stack = [[f["function"], f["line"]] for f in t["stack"]]
    if stack != want["stack"]:
        errors.append(f"task {name!r} stack {stack}, want {want['stack']}")
    if sorted(t["awaits"]) != sorted(want["awaits"]):
        errors.append(f"task {name!r} awaits {t['awaits']}, want {want['awaits']}")
for name in got:
    if name not in truth:
        errors.append(f"task {name!r} is not the fixture's")
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
