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
    """The figures of one workload run: rate per second and, when it has
    latencies, p50/p99/max in milliseconds."""
    summary = {'count': run['count'], 'rate': run['count'] / run['seconds']
               if run['seconds'] > 0 else float('inf')}
    latencies = run.get('latencies')
    if latencies:
        for name, fraction in (('p50_ms', 0.5), ('p99_ms', 0.99), ('max_ms', 1.0)):
            summary[name] = percentile(latencies, fraction) * 1000.0
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
