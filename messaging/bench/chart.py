"""Draw the benchmark's JSON results as charts for the docs.

``python -m messaging.bench.chart results.json chart.png [--kind rates]
[--size 100]`` draws one chart; the file's extension chooses the format.
``--all`` draws every chart of the results next to the given name
(``chart-rates-100b.png``, ``chart-latency-100b.png``, ..., ``chart-sizes.png``).

Kinds: ``rates`` (each workload's rate per library at one payload size),
``latency`` (p50/p99/max of the call workloads at one size) and ``sizes``
(rates over the payload sizes: how each library scales with the payload).
A ``.svg`` rates chart is plain SVG text and needs nothing; every other chart
and format (``.png``, ``.pdf``) is drawn with matplotlib, from the ``bench``
extra (``pip install 'messaging[bench]'``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

from messaging.bench import chart_svg
from messaging.bench.report import WORKLOADS, size_label

LIBRARIES = ('messaging', 'oslo_messaging', 'amqp')
KINDS = ('rates', 'latency', 'sizes')
FORMATS = ('.png', '.svg', '.pdf')
CALL_WORKLOADS = ('call', 'concurrent_call')


class ChartError(Exception):
    """A chart that cannot be drawn, with what to do about it."""


def _libraries(results: dict) -> list[str]:
    return [lib for lib in LIBRARIES if lib in results['libraries']]


def _summary(results: dict, lib: str, size: int, key: str) -> Optional[dict]:
    return results['libraries'][lib]['sizes'].get(str(size), {}).get(key)


def bars(results: dict, size: int) -> list[tuple[str, list[tuple[str, float]]]]:
    """``[(workload label, [(library, rate), ...]), ...]`` for one payload size."""
    groups = []
    for key, label in WORKLOADS:
        rates = [(lib, float(summary['rate'])) for lib in _libraries(results)
                 for summary in [_summary(results, lib, size, key)] if summary is not None]
        if rates:
            groups.append((label, rates))
    return groups


def latencies(results: dict, size: int) -> list[tuple[str, list[tuple[str, dict]]]]:
    """``[(workload label, [(library, {'p50_ms': ..., 'p99_ms': ..., 'max_ms':
    ...}), ...]), ...]`` of the call workloads at one payload size."""
    groups = []
    for key, label in WORKLOADS:
        if key not in CALL_WORKLOADS:
            continue
        figures = [(lib, summary) for lib in _libraries(results)
                   for summary in [_summary(results, lib, size, key)]
                   if summary is not None and 'p50_ms' in summary]
        if figures:
            groups.append((label, figures))
    return groups


def size_series(results: dict) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """``{workload label: {library: [(size, rate), ...]}}`` over every size."""
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for key, label in WORKLOADS:
        for lib in _libraries(results):
            points = sorted((int(size), float(figures[key]['rate']))
                            for size, figures in results['libraries'][lib]['sizes'].items()
                            if key in figures)
            if points:
                series.setdefault(label, {})[lib] = points
    return series


def sizes_of(results: dict) -> list[int]:
    """Every payload size the results have figures for."""
    return sorted({int(size) for lib in _libraries(results)
                   for size in results['libraries'][lib]['sizes']})


def check_format(path: str, kind: str = 'latency') -> str:
    """The extension of ``path`` when a ``kind`` chart can be drawn there
    (``latency`` stands for any chart that needs matplotlib).

    :raises ChartError: an extension of no known format, or matplotlib
        missing for a chart that needs it.
    """
    extension = os.path.splitext(path)[1].lower()
    if extension not in FORMATS:
        raise ChartError('cannot draw %r: name a file ending in %s'
                         % (path, ', '.join(FORMATS)))
    if kind != 'rates' or extension != '.svg':
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ChartError('drawing %s needs matplotlib: pip install \'messaging[bench]\''
                             % path) from None
    return extension


def draw(results: dict, path: str, kind: str = 'rates', size: int = 100) -> None:
    """Write one chart to ``path`` in the format its extension names.

    :raises ChartError: an unknown extension or kind, no figures for it,
        or matplotlib missing for a format that needs it.
    """
    extension = check_format(path, kind)
    if kind not in KINDS:
        raise ChartError('unknown chart kind %r (one of %s)' % (kind, ', '.join(KINDS)))
    data = {'rates': lambda: bars(results, size), 'latency': lambda: latencies(results, size),
            'sizes': lambda: size_series(results)}[kind]()
    if not data:
        raise ChartError('the results have no %s figures%s' % (
            kind, '' if kind == 'sizes' else ' for %s payloads' % size_label(size)))
    if kind == 'rates' and extension == '.svg':
        with open(path, 'w', encoding='utf-8') as stream:
            stream.write(chart_svg.render_svg(data, size))
        return
    from messaging.bench import chart_plot
    if kind == 'sizes':
        chart_plot.sizes(data, path)
    else:
        getattr(chart_plot, kind)(data, size, path)


def draw_all(results: dict, path: str) -> list[str]:
    """Every chart the results allow, named after ``path``; the files written.

    ``out/bench.png`` gives ``out/bench-rates-100b.png``,
    ``out/bench-latency-100b.png`` per size and ``out/bench-sizes.png``.
    """
    stem, extension = os.path.splitext(path)
    written = []
    for size in sizes_of(results):
        tag = size_label(size).replace(' ', '').lower()
        for kind in ('rates', 'latency'):
            target = '%s-%s-%s%s' % (stem, kind, tag, extension)
            draw(results, target, kind, size)
            written.append(target)
    if len(sizes_of(results)) > 1:
        target = '%s-sizes%s' % (stem, extension)
        draw(results, target, 'sizes')
        written.append(target)
    return written


def main(argv: Optional[list[str]] = None) -> int:
    """Read the results file and write the chart(s); 1 on a bad file or chart."""
    parser = argparse.ArgumentParser(prog='python -m messaging.bench.chart',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('results', help='JSON written by python -m messaging.bench --json')
    parser.add_argument('output', help='the file to write; its extension (%s) chooses '
                                       'the format' % ', '.join(FORMATS))
    parser.add_argument('--kind', choices=KINDS, default='rates', help='(%(default)s)')
    parser.add_argument('--size', type=int, default=100,
                        help='payload size in bytes of the rates and latency charts')
    parser.add_argument('--all', action='store_true',
                        help='every chart, named after OUTPUT')
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding='utf-8') as stream:
            results = json.load(stream)
        if args.all:
            written = draw_all(results, args.output)
        else:
            draw(results, args.output, args.kind, args.size)
            written = [args.output]
    except (OSError, ValueError, KeyError, ChartError) as ex:
        sys.stderr.write('cannot chart %s: %s\n' % (args.results, ex))
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
