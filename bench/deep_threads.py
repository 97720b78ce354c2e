"""Benchmark target: THREADS threads, each parked DEPTH Python frames deep.

Usage: python deep_threads.py THREADS DEPTH
Prints "ready" once every thread is parked, then sleeps until killed.
"""
import sys
import threading
import time

THREADS, DEPTH = int(sys.argv[1]), int(sys.argv[2])
parked = threading.Barrier(THREADS + 1)


def descend(n):
    if n > 1:
        return descend(n - 1)
    parked.wait()
    time.sleep(10**6)


for i in range(THREADS - 1):
    threading.Thread(target=descend, args=(DEPTH - 3,), name=f"worker-{i}",
                     daemon=True).start()
# the main thread is one of the THREADS: it parks the same way
threading.Thread(target=lambda: (parked.wait(), print("ready", flush=True)),
                 daemon=True).start()
descend(DEPTH - 1)
