"""The benchmark's charts drawn with matplotlib (the ``bench`` extra), for
PNG, or SVG and PDF of the charts the plain SVG writer does not draw.

Uses matplotlib's object API (``Figure``), not ``pyplot``: no global figure
state and no display backend, so it runs the same on a headless machine.
"""
from __future__ import annotations

from typing import Any

from messaging.bench.chart_svg import COLOURS
from messaging.bench.report import LIBRARY_LABELS, size_label

DPI = 110


def _figure(height: float) -> Any:
    from matplotlib.figure import Figure
    return Figure(figsize=(7.5, height), dpi=DPI, layout='constrained')


def rates(groups: list[tuple[str, list[tuple[str, float]]]], size: int, path: str) -> None:
    """Horizontal bars, a group per workload, a bar per library."""
    figure = _figure(0.5 + 0.32 * sum(len(rates) for _, rates in groups))
    axes = figure.add_subplot()
    y, ticks, seen = 0.0, [], set()
    for label, group_rates in reversed(groups):
        start = y
        for lib, rate in reversed(group_rates):
            axes.barh(y, rate, height=0.8, color=COLOURS[lib],
                      label=None if lib in seen else LIBRARY_LABELS[lib])
            axes.text(rate, y, ' %.0f/s' % rate, va='center', fontsize=8)
            seen.add(lib)
            y += 1
        ticks.append(((start + y - 1) / 2, label))
        y += 0.6
    axes.set_yticks([tick for tick, _ in ticks], [label for _, label in ticks])
    axes.set_xlabel('messages per second (higher is better)')
    axes.set_title('Rates at %s payloads' % size_label(size))
    axes.margins(x=0.15)
    _legend(axes)
    figure.savefig(path)


def latency(groups: list[tuple[str, list[tuple[str, dict]]]], size: int, path: str) -> None:
    """p50, p99 and max latency of each call workload, per library."""
    figure = _figure(0.8 + 1.4 * len(groups))
    for index, (label, per_library) in enumerate(groups):
        axes = figure.add_subplot(len(groups), 1, index + 1)
        names = ('p50_ms', 'p99_ms', 'max_ms')
        width = 0.8 / len(per_library)
        for offset, (lib, figures) in enumerate(per_library):
            xs = [tick + offset * width for tick in range(len(names))]
            values = [figures[name] for name in names]
            axes.bar(xs, values, width=width, color=COLOURS[lib], label=LIBRARY_LABELS[lib])
            for x, value in zip(xs, values):
                axes.text(x, value, '%.1f' % value, ha='center', va='bottom', fontsize=7)
        axes.set_xticks([tick + 0.4 - width / 2 for tick in range(len(names))],
                        ['p50', 'p99', 'max'])
        axes.set_ylabel('ms')
        axes.set_title('%s latency at %s payloads (lower is better)'
                       % (label, size_label(size)), fontsize=10)
        axes.margins(y=0.2)
        _legend(axes)
    figure.savefig(path)


def sizes(series: dict[str, dict[str, list[tuple[int, float]]]], path: str) -> None:
    """Rate against payload size, a panel per workload, a line per library."""
    figure = _figure(1.0 + 1.6 * ((len(series) + 1) // 2))
    for index, (label, per_library) in enumerate(series.items()):
        axes = figure.add_subplot((len(series) + 1) // 2, 2, index + 1)
        for lib, points in per_library.items():
            axes.plot([size for size, _ in points], [rate for _, rate in points],
                      marker='o', color=COLOURS[lib], label=LIBRARY_LABELS[lib])
        all_sizes = sorted({size for points in per_library.values() for size, _ in points})
        axes.set_xscale('log')
        axes.set_yscale('log')
        axes.set_xticks(all_sizes, [size_label(size) for size in all_sizes])
        axes.minorticks_off()
        axes.set_ylabel('per second')
        axes.set_title(label, fontsize=10)
        _legend(axes)
    figure.suptitle('Rates by payload size (higher is better)')
    figure.savefig(path)


def _legend(axes: Any) -> None:
    """The legend with the libraries in the report's order, whatever order
    the bars were drawn in."""
    order = list(LIBRARY_LABELS.values())
    handles, labels = axes.get_legend_handles_labels()
    pairs = sorted(zip(handles, labels), key=lambda pair: order.index(pair[1]))
    axes.legend([handle for handle, _ in pairs], [label for _, label in pairs],
                fontsize=8, loc='best', frameon=False)
