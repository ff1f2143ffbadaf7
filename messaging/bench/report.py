"""The benchmark's output: the table printed at the end, and the JSON file."""
from __future__ import annotations

import json
from typing import Optional

from messaging.bench.stats import ratio

WORKLOADS = (('call', 'sequential call'), ('concurrent_call', 'concurrent call'),
             ('cast', 'cast, end to end'), ('notify', 'notification, end to end'))
LIBRARY_LABELS = {'messaging': 'messaging', 'oslo_messaging': 'oslo', 'amqp': 'bare amqp'}


def size_label(size: int) -> str:
    """``100 B``, ``10 KB``, ``1 MB``."""
    for unit, scale in (('MB', 1024 * 1024), ('KB', 1024)):
        if size >= scale and size % scale == 0:
            return '%d %s' % (size // scale, unit)
    return '%d B' % size


def _cell(summary: Optional[dict]) -> str:
    if summary is None:
        return '-'
    text = '%.0f/s' % summary['rate']
    if 'p50_ms' in summary:
        text += ' (p50 %.2f p99 %.2f max %.1f ms)' % (
            summary['p50_ms'], summary['p99_ms'], summary['max_ms'])
    if 'cpu_us' in summary:
        text += ' cpu %.0f us' % summary['cpu_us']
    return text


def _rss(figures: dict) -> str:
    if 'server_peak_rss_mb' in figures:
        return '%.0f + %.0f MB' % (figures['peak_rss_mb'], figures['server_peak_rss_mb'])
    return '%.0f MB' % figures['peak_rss_mb']


def format_mode(results: dict) -> str:
    """What the run measured, in a line or two above the table."""
    if results.get('mode') == 'same-process':
        where = ('Client, RPC server and listener in one process per library '
                 '(--same-process).')
        rss = 'peak RSS of that process'
    else:
        where = ('RPC server and listener in one process, client in another '
                 '(--same-process puts them in one).')
        rss = 'peak RSS of client + server'
    return ('%s\nRates end to end; cpu: microseconds of CPU per message, all threads '
            'of all processes; %s.\n' % (where, rss))


def format_cpu_by_thread(results: dict, workload: str = 'call') -> str:
    """Where the CPU of ``workload`` went at the smallest size, a line per
    library: the total per message, then each process's kinds of thread,
    most first (``other``: threads that ended during the loop, and
    rounding)."""
    libraries = results['libraries']
    lines = []
    for lib in ('messaging', 'oslo_messaging', 'amqp'):
        sizes = libraries.get(lib, {}).get('sizes', {})
        if not sizes:
            continue
        size = min(sizes, key=int)
        summary = sizes[size].get(workload) or {}
        if 'cpu_us' not in summary:
            continue
        parts = sorted(summary['cpu_us_by_thread'].items(), key=lambda item: -item[1])
        other = summary['cpu_us'] - sum(value for _, value in parts)
        cells = ['%s %.0f' % (name, value) for name, value in parts if value >= 0.5]
        if other >= 0.5:
            cells.append('other %.0f' % other)
        lines.append('%s, %s: %.0f us = %s' % (LIBRARY_LABELS[lib], size_label(int(size)),
                                               summary['cpu_us'], ', '.join(cells)))
    return '\n'.join(lines) or '(no CPU figures: /proc is not readable here)'


def _ratio_cell(value: Optional[float]) -> str:
    return '-' if value is None else '%.2fx' % value


def format_table(results: dict) -> str:
    """The results as a fixed-width text table.

    ``results`` is what :func:`messaging.bench.cli.collect` returns:
    ``{'libraries': {lib: {'sizes': {size: {workload: summary}},
    'peak_rss_mb': float}}}``. With oslo and/or bare amqp results, ratio
    columns (ours / theirs, rates; theirs / ours for p99 latency) follow.
    """
    libraries = results['libraries']
    order = [lib for lib in ('messaging', 'oslo_messaging', 'amqp') if lib in libraries]
    others = [lib for lib in order if lib != 'messaging']
    header = ['size', 'workload'] + [LIBRARY_LABELS[lib] for lib in order]
    header += ['vs %s' % LIBRARY_LABELS[lib] for lib in others]
    if 'oslo_messaging' in others:
        header.append('p99 ours/oslo')
    rows = [header]
    sizes = sorted({int(size) for lib in order for size in libraries[lib]['sizes']})
    for size in sizes:
        for key, label in WORKLOADS:
            cells = [libraries[lib]['sizes'].get(str(size), {}).get(key) for lib in order]
            if all(cell is None for cell in cells):
                continue
            row = [size_label(size), label] + [_cell(cell) for cell in cells]
            ours = cells[0]
            for theirs in cells[1:]:
                row.append(_ratio_cell(ratio(ours and ours['rate'],
                                             theirs and theirs['rate'])))
            if 'oslo_messaging' in others:
                oslo = cells[order.index('oslo_messaging')]
                row.append(_ratio_cell(ratio(ours and ours.get('p99_ms'),
                                             oslo and oslo.get('p99_ms'))))
            rows.append(row)
    rows.append(['', 'peak RSS'] + [_rss(libraries[lib]) for lib in order])
    return _aligned(rows)


def _aligned(rows: list[list[str]]) -> str:
    """Rows as fixed-width columns, the first row a header with a rule."""
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(len(rows[0]))]
    lines = ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in rows]
    lines.insert(1, '  '.join('-' * width for width in widths))
    return '\n'.join(lines)


def _then_and_at_start(figures: dict, start: dict, key: str) -> str:
    """``after (at start)``, or the one figure of a run without ``after_start``."""
    if key not in start:
        return str(figures[key])
    return '%d (%d)' % (figures[key], start[key])


def format_scale(results: dict) -> str:
    """The table of a ``--scale`` run, a row per library.

    ``results`` is what :func:`messaging.bench.cli.collect_scale` returns:
    ``{'servers': N, 'libraries': {lib: {'threads', 'connections',
    'rss_mb', 'start_seconds', 'notify_seconds', 'one_server': summary,
    'all_servers': summary}}}``.
    """
    servers = results['servers']
    # Threads and connections after the calls, and right after the start.
    rows = [['library', 'threads (at start)', 'connections (at start)', 'RSS MB', 'start s',
             'notify all s', 'calls/s one server', 'calls/s across %d' % servers]]
    for lib in ('messaging', 'oslo_messaging'):
        figures = results['libraries'].get(lib)
        if figures is None:
            continue
        start = figures.get('after_start', {})
        rows.append([LIBRARY_LABELS[lib], _then_and_at_start(figures, start, 'threads'),
                     _then_and_at_start(figures, start, 'connections'),
                     '%.0f' % figures['rss_mb'], '%.2f' % figures['start_seconds'],
                     '%.2f' % figures['notify_seconds'],
                     '%.0f' % figures['one_server']['rate'],
                     '%.0f' % figures['all_servers']['rate']])
    return _aligned(rows)


def write_json(path: str, results: dict) -> None:
    """Write ``results`` to ``path`` as indented JSON."""
    with open(path, 'w', encoding='utf-8') as stream:
        json.dump(results, stream, indent=2, sort_keys=True)
        stream.write('\n')
