"""The benchmark's table and JSON output."""
import json

from messaging.bench import report


def _results(with_others=True):
    ours = {'call': {'count': 10, 'rate': 900.0, 'p50_ms': 1.0, 'p99_ms': 2.0,
                     'max_ms': 3.0},
            'cast': {'count': 10, 'rate': 3000.0}}
    libraries = {'messaging': {'peak_rss_mb': 30.0, 'sizes': {'100': ours}}}
    if with_others:
        libraries['oslo_messaging'] = {'peak_rss_mb': 50.0, 'sizes': {'100': {
            'call': {'count': 10, 'rate': 300.0, 'p50_ms': 3.0, 'p99_ms': 8.0,
                     'max_ms': 9.0},
            'cast': {'count': 10, 'rate': 1000.0}}}}
        libraries['amqp'] = {'peak_rss_mb': 20.0, 'sizes': {'100': {
            'call': {'count': 10, 'rate': 1800.0, 'p50_ms': 0.5, 'p99_ms': 1.0,
                     'max_ms': 1.5}}}}
    return {'libraries': libraries}


def test_size_labels():
    assert [report.size_label(s) for s in (100, 10240, 1048576, 1500)] == [
        '100 B', '10 KB', '1 MB', '1500 B']


def test_table_shows_rates_latencies_and_ratios():
    table = report.format_table(_results())
    header, rule, call, cast, rss = table.splitlines()
    assert header.split()[:5] == ['size', 'workload', 'messaging', 'oslo', 'bare']
    assert set(rule.replace(' ', '')) == {'-'}
    assert '900/s (p50 1.00 p99 2.00 max 3.0 ms)' in call
    assert call.split()[-3:] == ['3.00x', '0.50x', '0.25x']
    assert cast.split()[-3:] == ['3.00x', '-', '-']
    assert rss.split() == ['peak', 'RSS', '30', 'MB', '50', 'MB', '20', 'MB']


def test_table_of_ours_alone_has_no_ratio_columns():
    table = report.format_table(_results(with_others=False))
    assert 'vs' not in table.splitlines()[0]
    assert '3000/s' in table


def test_json_round_trips(tmp_path):
    path = tmp_path / 'results.json'
    report.write_json(str(path), _results())
    assert json.loads(path.read_text()) == _results()


def test_scale_table_has_a_row_per_library():
    figures = {'threads': 30, 'connections': 3, 'rss_mb': 40.4, 'start_seconds': 1.5,
               'notify_seconds': 0.125, 'one_server': {'count': 10, 'rate': 1000.4},
               'all_servers': {'count': 10, 'rate': 950.0}}
    table = report.format_scale({'servers': 20, 'libraries': {
        'messaging': figures, 'oslo_messaging': dict(figures, threads=300)}})
    header, rule, ours, oslo = table.splitlines()
    assert [cell.strip() for cell in header.split('  ') if cell] == [
        'library', 'threads (at start)', 'connections (at start)', 'RSS MB', 'start s',
        'notify all s', 'calls/s one server', 'calls/s across 20']
    assert ours.split() == ['messaging', '30', '3', '40', '1.50', '0.12', '1000', '950']
    assert oslo.split()[:2] == ['oslo', '300']


def test_scale_table_shows_the_figures_at_start_beside_those_after_the_calls():
    figures = {'threads': 300, 'connections': 12, 'rss_mb': 40.0, 'start_seconds': 1.5,
               'notify_seconds': 0.1, 'after_start': {'threads': 64, 'connections': 11},
               'one_server': {'count': 10, 'rate': 400.0},
               'all_servers': {'count': 10, 'rate': 300.0}}
    table = report.format_scale({'servers': 3, 'libraries': {'oslo_messaging': figures}})
    assert table.splitlines()[2].split()[:5] == ['oslo', '300', '(64)', '12', '(11)']


def _cross_process():
    results = _results(with_others=False)
    ours = results['libraries']['messaging']
    ours['server_peak_rss_mb'] = 35.0
    ours['sizes']['100']['call'].update(
        cpu_us=900.0, cpu_us_by_thread={'client: MainThread': 300.0, 'server: rabbit-io': 200.0,
                                        'server: messaging-worker': 350.0})
    results['mode'] = 'cross-process'
    return results


def test_cross_process_table_shows_cpu_and_the_rss_of_both_processes():
    header, rule, call, cast, rss = report.format_table(_cross_process()).splitlines()
    assert call.endswith('900/s (p50 1.00 p99 2.00 max 3.0 ms) cpu 900 us')
    assert rss.split() == ['peak', 'RSS', '30', '+', '35', 'MB']


def test_cpu_by_thread_lists_the_threads_most_first_and_the_rest():
    assert report.format_cpu_by_thread(_cross_process()) == (
        'messaging, 100 B: 900 us = server: messaging-worker 350, client: MainThread 300, '
        'server: rabbit-io 200, other 50')


def test_the_mode_is_said_above_the_table():
    assert report.format_mode(_cross_process()).startswith(
        'RPC server and listener in one process, client in another')
    assert '(--same-process)' in report.format_mode({'mode': 'same-process'})
