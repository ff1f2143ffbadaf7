"""The SVG chart drawn from benchmark results."""
import json
import xml.etree.ElementTree as ElementTree

import pytest

from messaging.bench import chart

RESULTS = {'libraries': {
    'messaging': {'sizes': {'100': {'call': {'rate': 1000.0}, 'cast': {'rate': 3000.0}}},
                  'peak_rss_mb': 70},
    'oslo_messaging': {'sizes': {'100': {'call': {'rate': 400.0}, 'cast': {'rate': 1500.0}}},
                       'peak_rss_mb': 130},
}}


def test_bars_group_each_workload_by_library_in_a_fixed_order():
    assert chart.bars(RESULTS, 100) == [
        ('sequential call', [('messaging', 1000.0), ('oslo_messaging', 400.0)]),
        ('cast, end to end', [('messaging', 3000.0), ('oslo_messaging', 1500.0)])]


def test_svg_is_well_formed_with_one_bar_per_figure_scaled_to_the_largest():
    root = ElementTree.fromstring(chart.render_svg(RESULTS, 100))
    bars = [r for r in root.iter('{http://www.w3.org/2000/svg}rect')
            if float(r.get('height')) > 10]
    widths = sorted(float(bar.get('width')) for bar in bars)
    assert len(bars) == 4
    assert widths[-1] == chart.PLOT_WIDTH
    assert widths[0] == pytest.approx(chart.PLOT_WIDTH * 400 / 3000, abs=0.1)


def test_a_size_with_no_figures_is_an_error():
    with pytest.raises(ValueError, match='1 MB'):
        chart.render_svg(RESULTS, 1024 * 1024)


def test_main_writes_the_file_and_reports_a_bad_one(tmp_path, capsys):
    results, output = tmp_path / 'r.json', tmp_path / 'c.svg'
    results.write_text(json.dumps(RESULTS))
    assert chart.main([str(results), str(output)]) == 0
    assert output.read_text().startswith('<svg')
    results.write_text('not json')
    assert chart.main([str(results), str(output)]) == 1
    assert 'cannot chart' in capsys.readouterr().err
