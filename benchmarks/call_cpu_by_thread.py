"""Where a sequential call's CPU goes, thread by thread: ``messaging`` (or
``oslo_messaging``, run with its interpreter) against the bare round-trip
floor of ``messaging.bench --bare``.

Reads each thread's CPU time from /proc before and after the calls, so it
costs the run nothing (a profiler would triple the CPU it measures).

    python3 benchmarks/call_cpu_by_thread.py messaging
    python3 benchmarks/call_cpu_by_thread.py bare
"""
from __future__ import annotations

import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from messaging.bench.bare import RoundTripFloor  # noqa: E402
from messaging.bench.workload import LibraryRig, delete_declared  # noqa: E402

URL = 'rabbit://guest:guest@127.0.0.1:5672/'
CALLS = 5000
WARM_UP = 300
TICKS = os.sysconf('SC_CLK_TCK')


def cpu_by_thread() -> dict[int, tuple[str, float]]:
    """Each thread's ``(name, CPU seconds)``, by native id."""
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    times = {}
    for tid in os.listdir('/proc/self/task'):
        with open('/proc/self/task/%s/stat' % tid) as stat:
            fields = stat.read().rsplit(')', 1)[1].split()
        # utime and stime, in clock ticks.
        times[int(tid)] = (names.get(int(tid), '?'),
                           (int(fields[11]) + int(fields[12])) / TICKS)
    return times


def kind_of(name: str) -> str:
    """A thread's name without its per-instance suffix."""
    for prefix in ('rabbit-io', 'rabbit-reply-waiter', 'rabbit-heartbeat',
                   'messaging-worker'):
        if name.startswith(prefix):
            return prefix
    return name


def main(kind: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    rig = RoundTripFloor(URL, suffix) if kind == 'bare' else LibraryRig(kind, URL, suffix)
    try:
        for _ in range(WARM_UP):
            rig.call('w')
        before, started = cpu_by_thread(), time.perf_counter()
        for _ in range(CALLS):
            rig.call('x' * 100)
        wall, after = time.perf_counter() - started, cpu_by_thread()
    finally:
        if kind == 'bare':
            rig.close()
        else:
            queues, exchanges = rig.declared()
            rig.close()
            delete_declared(URL, queues, exchanges)
    per_kind: dict[str, float] = {}
    for tid, (name, cpu) in after.items():
        used = cpu - before.get(tid, (name, 0.0))[1]
        per_kind[kind_of(name)] = per_kind.get(kind_of(name), 0.0) + used
    print('%s: %.0f calls/s, %.0f us of wall time per call' % (kind, CALLS / wall,
                                                               wall / CALLS * 1e6))
    for name, used in sorted(per_kind.items(), key=lambda item: -item[1]):
        if used > 0:
            print('  %-24s %5.0f us CPU per call' % (name, used / CALLS * 1e6))
    print('  %-24s %5.0f us CPU per call' % ('all threads', sum(per_kind.values()) / CALLS * 1e6))


if __name__ == '__main__':
    main(sys.argv[1] if len(sys.argv) > 1 else 'messaging')
