"""The rates chart as plain SVG text, so the docs build needs no plotting
library: for one payload size, each workload's rate per library side by side.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

from messaging.bench.report import LIBRARY_LABELS, size_label

COLOURS = {'messaging': '#2b6cb0', 'oslo_messaging': '#c05621', 'amqp': '#718096'}
BAR_HEIGHT = 14
GROUP_GAP = 18
LABEL_WIDTH = 190
PLOT_WIDTH = 430
MARGIN = 12


def render_svg(groups: list[tuple[str, list[tuple[str, float]]]], size: int) -> str:
    """The chart of ``groups`` (what :func:`messaging.bench.chart.bars`
    returns) as an SVG document."""
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
