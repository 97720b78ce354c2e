#!/bin/sh
# Record a small multi-threaded script with pyprobe, render it as
# chrometrace and gecko, check both with tests/check_trace_formats.py and
# open them in the viewers (README.md). Screenshots in out/.
#   ./check.sh [PYTHON]     (FIREFOX_PROFILER_DIST: the profiler's dist/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
pyprobe=${PYPROBE:-$root/build/src/pyprobe}
python=${1:-python3}
mkdir -p "$here/out"
cd "$here/out"
cat > hot.py <<'PY'
import threading, time
def leaf(n):
    s = 0
    for i in range(n):
        s += i
    return s
def mid(secs):
    t = time.time()
    while time.time() - t < secs:
        leaf(2000)
def worker():
    mid(3)
def other():
    while True:
        time.sleep(0.05); leaf(300000)
threading.Thread(target=other, daemon=True, name="sleeper").start()
th = threading.Thread(target=worker, name="crunch"); th.start(); mid(3); th.join()
PY
"$pyprobe" record --no-progress -o hot.pyprobe -- "$python" hot.py
"$pyprobe" render hot.pyprobe -o hot.trace.json
"$pyprobe" render hot.pyprobe -o hot.gecko.json
python3 "$root/tests/check_trace_formats.py" chrometrace hot.trace.json --expect leaf
python3 "$root/tests/check_trace_formats.py" gecko hot.gecko.json --expect leaf
node "$here/speedscope.mjs" hot.trace.json speedscope-trace.png
node "$here/speedscope.mjs" hot.gecko.json speedscope-gecko.png || echo "speedscope: gecko refused (expected, README.md)"
if [ -n "${FIREFOX_PROFILER_DIST:-}" ]; then
	node "$here/firefox-profiler.mjs" "$FIREFOX_PROFILER_DIST" hot.gecko.json fp-gecko.png calltree
	node "$here/firefox-profiler.mjs" "$FIREFOX_PROFILER_DIST" hot.trace.json fp-trace.png stack-chart
fi
echo "screenshots in $here/out"
