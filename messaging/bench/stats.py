"""Statistics of the benchmark: percentiles and rates from raw timings."""
from __future__ import annotations

import math
from typing import Optional, Sequence


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """The nearest-rank percentile (``fraction`` 0.5 = p50) of ``values``.

    None for no values. Nearest rank, not interpolation: the figure is a
    latency some call really had.
    """
    if not values:
        return None
    if not 0.0 <= fraction <= 1.0:
        raise ValueError('a percentile fraction is between 0 and 1, not %r' % fraction)
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(run: dict) -> dict:
    """The figures of one workload run: rate per second; when it has
    latencies, p50/p99/max in milliseconds; when it has CPU times, the
    microseconds of CPU per message of all processes (``cpu_us``), of each
    (``cpu_us_by_process``) and of each kind of thread
    (``cpu_us_by_thread``, keyed ``process: thread``)."""
    count = run['count']
    summary = {'count': count, 'rate': count / run['seconds']
               if run['seconds'] > 0 else float('inf')}
    latencies = run.get('latencies')
    if latencies:
        for name, fraction in (('p50_ms', 0.5), ('p99_ms', 0.99), ('max_ms', 1.0)):
            summary[name] = percentile(latencies, fraction) * 1000.0
    cpu = run.get('cpu')
    if cpu:
        per_message = 1e6 / count
        summary['cpu_us'] = sum(used['seconds'] for used in cpu.values()) * per_message
        summary['cpu_us_by_process'] = {role: used['seconds'] * per_message
                                        for role, used in cpu.items()}
        summary['cpu_us_by_thread'] = {'%s: %s' % (role, kind): seconds * per_message
                                       for role, used in cpu.items()
                                       for kind, seconds in used['threads'].items()}
    return summary


def best_of(summaries: Sequence[dict]) -> dict:
    """Of several rounds of one workload, the one with the highest rate.

    On a shared machine the slow rounds measure the neighbours; the best
    round is the closest to what the library itself can do.
    """
    return max(summaries, key=lambda summary: summary['rate'])


def ratio(ours: Optional[float], theirs: Optional[float]) -> Optional[float]:
    """``ours / theirs``, or None when either is missing or zero."""
    if not ours or not theirs:
        return None
    return ours / theirs
