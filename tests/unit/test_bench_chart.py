"""The benchmark's charts: their figures, the plain SVG, and the format
chosen by the file's extension."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from messaging.bench import chart, chart_svg


def figures(rate, p50=None):
    summary = {'count': 10, 'rate': rate}
    if p50 is not None:
        summary.update(p50_ms=p50, p99_ms=p50 * 2, max_ms=p50 * 3)
    return summary


RESULTS = {'libraries': {
    'messaging': {'sizes': {'100': {'call': figures(1000.0, 1.0), 'cast': figures(3000.0)},
                            '10240': {'call': figures(900.0, 1.2), 'cast': figures(2500.0)}},
                  'peak_rss_mb': 70},
    'oslo_messaging': {'sizes': {'100': {'call': figures(400.0, 2.0), 'cast': figures(1500.0)},
                                 '10240': {'call': figures(300.0, 3.0)}},
                       'peak_rss_mb': 130},
}}
PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


def test_bars_group_each_workload_by_library_in_a_fixed_order():
    assert chart.bars(RESULTS, 100) == [
        ('sequential call', [('messaging', 1000.0), ('oslo_messaging', 400.0)]),
        ('cast, end to end', [('messaging', 3000.0), ('oslo_messaging', 1500.0)])]


def test_latencies_are_those_of_the_call_workloads():
    [(label, per_library)] = chart.latencies(RESULTS, 100)
    assert label == 'sequential call'
    assert [(lib, summary['p99_ms']) for lib, summary in per_library] == [
        ('messaging', 2.0), ('oslo_messaging', 4.0)]


def test_size_series_follow_each_library_over_the_sizes():
    series = chart.size_series(RESULTS)
    assert series['sequential call'] == {'messaging': [(100, 1000.0), (10240, 900.0)],
                                         'oslo_messaging': [(100, 400.0), (10240, 300.0)]}
    assert series['cast, end to end']['oslo_messaging'] == [(100, 1500.0)]


def test_svg_is_well_formed_with_one_bar_per_figure_scaled_to_the_largest(tmp_path):
    path = tmp_path / 'c.svg'
    chart.draw(RESULTS, str(path), 'rates', 100)
    root = ElementTree.fromstring(path.read_text())
    bars = [r for r in root.iter('{http://www.w3.org/2000/svg}rect')
            if float(r.get('height')) > 10]
    widths = sorted(float(bar.get('width')) for bar in bars)
    assert len(bars) == 4
    assert widths[-1] == chart_svg.PLOT_WIDTH
    assert widths[0] == pytest.approx(chart_svg.PLOT_WIDTH * 400 / 3000, abs=0.1)


def test_a_size_with_no_figures_is_an_error(tmp_path):
    with pytest.raises(chart.ChartError, match='1 MB'):
        chart.draw(RESULTS, str(tmp_path / 'c.svg'), 'rates', 1024 * 1024)


def test_an_extension_it_cannot_draw_is_refused_and_nothing_is_written(tmp_path):
    with pytest.raises(chart.ChartError, match=r'\.png'):
        chart.draw(RESULTS, str(tmp_path / 'chart.gif'))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize('kind', chart.KINDS)
def test_png_is_drawn_for_every_kind(tmp_path, kind):
    pytest.importorskip('matplotlib', reason='matplotlib is not installed (the bench extra)')
    path = tmp_path / ('%s.png' % kind)
    chart.draw(RESULTS, str(path), kind, 100)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_the_other_kinds_as_svg_come_from_matplotlib(tmp_path):
    pytest.importorskip('matplotlib', reason='matplotlib is not installed (the bench extra)')
    path = tmp_path / 'latency.svg'
    chart.draw(RESULTS, str(path), 'latency', 100)
    assert ElementTree.parse(path).getroot().tag == '{http://www.w3.org/2000/svg}svg'


def test_draw_all_names_a_chart_per_kind_and_size(tmp_path):
    pytest.importorskip('matplotlib', reason='matplotlib is not installed (the bench extra)')
    written = chart.draw_all(RESULTS, str(tmp_path / 'bench.png'))
    assert [path.rsplit('/', 1)[-1] for path in written] == [
        'bench-rates-100b.png', 'bench-latency-100b.png', 'bench-rates-10kb.png',
        'bench-latency-10kb.png', 'bench-sizes.png']
    assert all(open(path, 'rb').read(8) == PNG_MAGIC for path in written)


def test_main_writes_the_file_and_reports_a_bad_one(tmp_path, capsys):
    results, output = tmp_path / 'r.json', tmp_path / 'c.svg'
    results.write_text(json.dumps(RESULTS))
    assert chart.main([str(results), str(output)]) == 0
    assert output.read_text().startswith('<svg')
    assert chart.main([str(results), str(tmp_path / 'c.txt')]) == 1
    assert 'name a file ending in' in capsys.readouterr().err
    results.write_text('not json')
    assert chart.main([str(results), str(output)]) == 1
    assert 'cannot chart' in capsys.readouterr().err


def test_without_matplotlib_a_png_says_which_extra_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)  # import matplotlib fails
    with pytest.raises(chart.ChartError, match=r"messaging\[bench\]"):
        chart.draw(RESULTS, str(tmp_path / 'c.png'))
    chart.draw(RESULTS, str(tmp_path / 'c.svg'))  # the plain SVG needs nothing


def test_the_chart_module_runs_without_a_runpy_warning():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(chart.__file__))))
    done = subprocess.run([sys.executable, '-W', 'error::RuntimeWarning', '-m',
                           'messaging.bench.chart', '--help'],
                          cwd=repo, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and 'usage:' in done.stdout, done.stderr
    assert 'RuntimeWarning' not in done.stderr
