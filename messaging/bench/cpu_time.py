"""CPU time of the benchmark's processes, read from /proc around a loop.

Each process's utime + stime (``/proc/<pid>/stat``, which counts every
thread the process ever had) before and after the measured loop, and, to
see where it went, each live thread's (``/proc/<pid>/task/<tid>/stat``),
grouped by the thread's Python name. Reading /proc costs the loop nothing,
where a profiler would multiply the CPU it measures. Linux only; elsewhere
the figures are left out. Run by path like ``workload.py``: this file
imports nothing of ``messaging``.
"""
from __future__ import annotations

import os
import re
import threading
from typing import Any, Callable, NamedTuple, Optional

TICKS = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
# Thread names that carry a per-instance suffix (a counter, a queue or
# connection name): grouped under the prefix.
_KINDS = ('rabbit-io', 'rabbit-reply-waiter', 'rabbit-heartbeat', 'messaging-worker',
          'ThreadPoolExecutor')
_NUMBERED = re.compile(r'[-_ ]?\d+( \(.*\))?$')


def _stat_seconds(path: str) -> float:
    with open(path, encoding='ascii', errors='replace') as stat:
        # The command name, in brackets, may hold spaces: split after it.
        fields = stat.read().rsplit(')', 1)[1].split()
    # utime and stime, the 14th and 15th fields, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / TICKS


class Snapshot(NamedTuple):
    """A process's CPU seconds, in all and by live thread id."""

    seconds: float
    threads: dict


def snapshot(pid: int) -> Optional[Snapshot]:
    """The CPU seconds ``pid`` has used so far; None without /proc."""
    try:
        total = _stat_seconds('/proc/%d/stat' % pid)
    except OSError:
        return None
    threads = {}
    for tid in os.listdir('/proc/%d/task' % pid):
        try:
            threads[int(tid)] = _stat_seconds('/proc/%d/task/%s/stat' % (pid, tid))
        except OSError:  # ended since it was listed
            continue
    return Snapshot(total, threads)


def kind_of(name: str) -> str:
    """A thread's name without its per-instance suffix (``messaging-worker-3``
    and ``messaging-worker-9`` are both ``messaging-worker``)."""
    for prefix in _KINDS:
        if name.startswith(prefix):
            return prefix
    return _NUMBERED.sub('', name) or name


def own_thread_names() -> dict:
    """This process's threads: ``{native id: name}``. A thread that is being
    started has no native id yet, and no CPU time to name: it is left out."""
    return {thread.native_id: thread.name for thread in threading.enumerate()
            if thread.native_id is not None}


def used(before: Optional[Snapshot], after: Optional[Snapshot], names: dict) -> Optional[dict]:
    """What a process used between two snapshots: ``{'seconds': s,
    'threads': {kind: s}}``; threads that ended in between count in
    ``seconds`` only, under no kind. None without /proc."""
    if before is None or after is None:
        return None
    kinds: dict[str, float] = {}
    for tid, seconds in after.threads.items():
        spent = seconds - before.threads.get(tid, 0.0)
        if spent > 0:
            kind = kind_of(names.get(tid, '?'))
            kinds[kind] = kinds.get(kind, 0.0) + spent
    return {'seconds': after.seconds - before.seconds, 'threads': kinds}


class Side(NamedTuple):
    """A process whose CPU a run measures: its role (``client``,
    ``server``), pid, and how to learn its threads' names."""

    role: str
    pid: int
    thread_names: Callable[[], dict]


def around(sides: list, loop: Callable[[], Any]) -> tuple[Any, dict]:
    """Run ``loop()``; its result and the CPU each side used meanwhile,
    ``{role: used(...)}`` (roles without /proc left out)."""
    before = [snapshot(side.pid) for side in sides]
    result = loop()
    after = [snapshot(side.pid) for side in sides]
    cpu = {}
    for side, first, last in zip(sides, before, after):
        spent = used(first, last, side.thread_names() if last is not None else {})
        if spent is not None:
            cpu[side.role] = spent
    return result, cpu
