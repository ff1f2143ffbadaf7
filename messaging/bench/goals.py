"""The benchmark's performance goals, checked against a run's figures.

Each goal is a ratio of two figures of the same run and a bound on it. A goal whose figures
the run did not measure (no ``--bare``, no ``--compare oslo``) is listed
with no value and says which option measures it, so that the report always
shows every goal.
"""
from __future__ import annotations

import math
import operator
from typing import NamedTuple, Optional

from messaging.bench.report import size_label
from messaging.bench.stats import ratio


class Goal(NamedTuple):
    """``ours[workload][figure] / theirs[their_workload][figure]`` against
    ``bound`` (``'>='`` or ``'<='``)."""

    name: str
    workload: str
    theirs: str
    their_workload: str
    figure: str
    relation: str
    bound: float


WORKLOAD_GOALS = (
    Goal('sequential call / bare round-trip floor', 'call', 'amqp', 'call',
         'rate', '>=', 0.8),
    Goal('cast end to end / bare confirmed floor', 'cast', 'amqp', 'cast',
         'rate', '>=', 0.9),
    Goal('notification end to end / bare confirmed floor', 'notify', 'amqp', 'cast',
         'rate', '>=', 0.9),
    Goal('sequential calls ours / oslo', 'call', 'oslo_messaging', 'call',
         'rate', '>=', 3.0),
    Goal('{threads}-thread calls ours / oslo', 'concurrent_call', 'oslo_messaging',
         'concurrent_call', 'rate', '>=', 3.0),
    Goal('p99 of sequential calls ours / oslo', 'call', 'oslo_messaging', 'call',
         'p99_ms', '<=', 1 / 3),
    Goal('CPU per sequential call / bare round-trip floor', 'call', 'amqp', 'call',
         'cpu_us', '<=', 1.3),
)
SCALE_GOALS = (
    Goal('threads ours / oslo', '', 'oslo_messaging', '', 'threads', '<=', 0.2),
    Goal('broker connections ours / oslo', '', 'oslo_messaging', '', 'connections',
         '<=', 0.1),
)
# "As fast" across N servers as to one, with room for a noisy machine.
SPREAD_BOUND = 0.9
OPTION_OF = {'amqp': '--bare', 'oslo_messaging': '--compare oslo'}
# How the two figures of a goal are shown beside its ratio.
FIGURE_FORMATS = {'rate': '%.0f/s', 'p99_ms': '%.2f ms', 'cpu_us': '%.0f us',
                  'threads': '%d', 'connections': '%d'}
_RELATIONS = {'>=': operator.ge, '<=': operator.le}


def verdict(name: str, ours: Optional[float], theirs: Optional[float], relation: str,
            bound: float, missing: str = '', figure: str = 'rate', **where: object) -> dict:
    """One goal's line: the two figures, their ratio (``value``), the bound
    and whether it is met (None when there is no ratio, ``missing`` then
    says which option measures it)."""
    value = ratio(ours, theirs)
    entry = dict(where, goal=name, ours=ours, theirs=theirs, figure=figure, value=value,
                 relation=relation, bound=bound,
                 met=None if value is None else _RELATIONS[relation](value, bound))
    if value is None and missing:
        entry['missing'] = missing
    return entry


def workload_goals(results: dict) -> list[dict]:
    """Every goal of :data:`WORKLOAD_GOALS` for every size of the run."""
    libraries = results['libraries']
    ours = libraries['messaging']['sizes']
    entries = []
    for size in sorted(ours, key=int):
        for goal in WORKLOAD_GOALS:
            mine = ours[size].get(goal.workload)
            theirs = libraries.get(goal.theirs, {}).get('sizes', {}).get(size, {}).get(
                goal.their_workload)
            name = goal.name.format(threads=results.get('threads', ''))
            entries.append(verdict(name, mine and mine.get(goal.figure),
                                   theirs and theirs.get(goal.figure), goal.relation,
                                   goal.bound, missing='run with %s' % OPTION_OF[goal.theirs],
                                   figure=goal.figure, size=int(size)))
    return entries


def scale_goals(results: dict) -> list[dict]:
    """The goals of a ``--scale`` run: threads and connections ours / oslo,
    right after the start and after the calls (when oslo.messaging's
    executor pools have grown), and per library calls across all servers as
    fast as to one."""
    libraries = results['libraries']
    ours, oslo = libraries['messaging'], libraries.get('oslo_messaging')
    entries = []
    for goal in SCALE_GOALS:
        for when, name in (('after_start', '%s right after the start'), ('', '%s')):
            mine = ours.get(when, {}) if when else ours
            theirs = (oslo.get(when, {}) if when else oslo) if oslo else None
            entries.append(verdict(
                name % goal.name, mine.get(goal.figure), theirs and theirs.get(goal.figure),
                goal.relation, goal.bound, missing='run with %s' % OPTION_OF[goal.theirs],
                figure=goal.figure))
    for library, figures in libraries.items():
        entries.append(verdict(
            'calls/s across %d servers / to one (%s)' % (results['servers'], library),
            figures['all_servers']['rate'], figures['one_server']['rate'],
            '>=', SPREAD_BOUND))
    return entries


def _shown_ratio(entry: dict) -> str:
    """The ratio to two decimals, rounded away from the bound, so that a
    goal missed by a hair does not read as exactly on it."""
    scaled = entry['value'] * 100
    shown = math.floor(scaled) if entry['relation'] == '>=' else math.ceil(scaled)
    return '%.2f' % (shown / 100)


def format_goals(entries: list[dict]) -> str:
    """The goal lines, aligned: size (if any), goal, ratio, the two figures,
    bound, verdict."""
    rows = []
    for entry in entries:
        if entry['value'] is None:
            value, figures = '-', ''
            met = 'not measured (%s)' % entry.get('missing', 'no figures')
        else:
            shown = FIGURE_FORMATS.get(entry.get('figure', 'rate'), '%.3g')
            value, met = _shown_ratio(entry), 'met' if entry['met'] else 'not met'
            figures = '(%s / %s)' % (shown % entry['ours'], shown % entry['theirs'])
        row = [entry['goal'], value, figures,
               'goal %s %.3g' % (entry['relation'], entry['bound']), met]
        if 'size' in entry:
            row.insert(0, size_label(entry['size']))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows if i < len(row))
              for i in range(max(map(len, rows), default=0))]
    return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)
