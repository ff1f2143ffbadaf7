"""Draw the benchmark's JSON results as an SVG bar chart for the docs.

``python -m messaging.bench.chart results.json chart.svg [--size 100]``
draws, for one payload size, each workload's rate per library side by side.
Plain SVG text, so the docs build needs no plotting library.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional
from xml.sax.saxutils import escape

from messaging.bench.report import LIBRARY_LABELS, WORKLOADS, size_label

COLOURS = {'messaging': '#2b6cb0', 'oslo_messaging': '#c05621', 'amqp': '#718096'}
BAR_HEIGHT = 14
GROUP_GAP = 18
LABEL_WIDTH = 190
PLOT_WIDTH = 430
MARGIN = 12


def bars(results: dict, size: int) -> list[tuple[str, list[tuple[str, float]]]]:
    """``[(workload label, [(library, rate), ...]), ...]`` for one payload size."""
    libraries = results['libraries']
    order = [lib for lib in ('messaging', 'oslo_messaging', 'amqp') if lib in libraries]
    groups = []
    for key, label in WORKLOADS:
        rates = []
        for lib in order:
            summary = libraries[lib]['sizes'].get(str(size), {}).get(key)
            if summary is not None:
                rates.append((lib, float(summary['rate'])))
        if rates:
            groups.append((label, rates))
    return groups


def render_svg(results: dict, size: int) -> str:
    """The chart as an SVG document."""
    groups = bars(results, size)
    if not groups:
        raise ValueError('the results have no figures for %s payloads' % size_label(size))
    top = max(rate for _, rates in groups for _, rate in rates)
    legend = sorted({lib for _, rates in groups for lib, _ in rates},
                    key=list(COLOURS).index)
    y = MARGIN + 28 + 16
    parts = []
    for label, rates in groups:
        group_height = len(rates) * BAR_HEIGHT
        parts.append('<text x="%d" y="%d" text-anchor="end" dominant-baseline="middle">%s'
                     '</text>' % (LABEL_WIDTH - 8, y + group_height / 2, escape(label)))
        for lib, rate in rates:
            width = max(1.0, PLOT_WIDTH * rate / top)
            parts.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                         % (LABEL_WIDTH, y, width, BAR_HEIGHT - 2, COLOURS[lib]))
            parts.append('<text x="%.1f" y="%d" dominant-baseline="middle">%.0f/s</text>'
                         % (LABEL_WIDTH + width + 4, y + BAR_HEIGHT / 2 - 1, rate))
            y += BAR_HEIGHT
        y += GROUP_GAP
    width = LABEL_WIDTH + PLOT_WIDTH + 80
    header = ['<text x="%d" y="%d" font-weight="bold">Rates at %s payloads (higher is '
              'better)</text>' % (MARGIN, MARGIN + 12, size_label(size))]
    x = MARGIN
    for lib in legend:
        header.append('<rect x="%d" y="%d" width="10" height="10" fill="%s"/>'
                      '<text x="%d" y="%d">%s</text>'
                      % (x, MARGIN + 22, COLOURS[lib], x + 14, MARGIN + 31,
                         LIBRARY_LABELS[lib]))
        x += 110
    return ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'font-family="sans-serif" font-size="11">%s%s</svg>\n'
            % (width, y + MARGIN, ''.join(header), ''.join(parts)))


def main(argv: Optional[list[str]] = None) -> int:
    """Read the results file and write the chart; 1 on a bad file."""
    parser = argparse.ArgumentParser(prog='python -m messaging.bench.chart',
                                     description=__doc__.splitlines()[0])
    parser.add_argument('results', help='JSON written by python -m messaging.bench --json')
    parser.add_argument('output', help='the SVG file to write')
    parser.add_argument('--size', type=int, default=100, help='payload size in bytes')
    args = parser.parse_args(argv)
    try:
        with open(args.results, encoding='utf-8') as stream:
            svg = render_svg(json.load(stream), args.size)
    except (OSError, ValueError, KeyError) as ex:
        sys.stderr.write('cannot chart %s: %s\n' % (args.results, ex))
        return 1
    with open(args.output, 'w', encoding='utf-8') as stream:
        stream.write(svg)
    return 0


if __name__ == '__main__':
    sys.exit(main())
