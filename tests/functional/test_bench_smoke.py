"""``python -m messaging.bench`` runs against RabbitMQ: its workloads, the
bare floors and the --scale mode print their tables and goal lines and
write JSON (no speeds are checked, they depend on the machine: only the
shape and that the figures are positive)."""
import json
import os
import subprocess
import sys

import pytest

from messaging.bench import bare, scale, workload
from tests.interop.conftest import oslo_python  # noqa: F401,F811 -- fixture, built if missing

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench(*arguments: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, '-m', 'messaging.bench'] + list(arguments),
                          cwd=_REPO, capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stderr
    return done


def _goal_lines(stdout: str) -> list[str]:
    return stdout.split('Goals:\n', 1)[1].splitlines()


def test_quick_bench_writes_every_workload_to_json(rabbit_url, tmp_path):
    # The default mode: each server side in a process of its own.
    path = tmp_path / 'bench.json'
    done = _bench('--quick', '--url', rabbit_url, '--count', '5', '--threads', '2',
                  '--sizes', '100', '--bare', '--json', str(path))
    assert 'sequential call' in done.stdout
    assert done.stdout.startswith('RPC server and listener in one process, client in another')
    results = json.loads(path.read_text())
    assert results['mode'] == 'cross-process'
    ours = results['libraries']['messaging']
    assert set(ours['sizes']['100']) == {'call', 'concurrent_call', 'cast', 'notify'}
    assert {'count', 'rate', 'p50_ms', 'p99_ms', 'max_ms', 'cpu_us'} <= set(
        ours['sizes']['100']['call'])
    assert set(ours['sizes']['100']['call']['cpu_us_by_process']) == {'client', 'server'}
    assert ours['peak_rss_mb'] > 0 and ours['server_peak_rss_mb'] > 0
    floors = results['libraries']['amqp']
    assert set(floors['sizes']['100']) == {'call', 'cast'}
    assert floors['sizes']['100']['call']['rate'] > 0 and floors['sizes']['100']['cast']['rate'] > 0
    assert floors['sizes']['100']['call']['p99_ms'] > 0 and floors['server_peak_rss_mb'] > 0
    # Without a terminal, the progress of every step is a plain line.
    for library, expected in (('messaging', workload.steps([100])),
                              ('amqp', bare.steps([100]))):
        steps = [line for line in done.stderr.splitlines()
                 if line.startswith('  %s: ' % library)]
        assert len(steps) == expected, done.stderr
    assert 'CPU per sequential call, by thread:\nmessaging, 100 B: ' in done.stdout
    # The floors' goals have values; oslo's are named as not measured.
    lines = _goal_lines(done.stdout)
    assert len(lines) == 7 and len(results['goals']) == 7
    assert [entry['value'] > 0 for entry in results['goals'][:3]] == [True] * 3
    assert all(line.endswith('met') for line in lines[:3]), lines
    assert all(line.endswith('(run with --compare oslo)') for line in lines[3:6]), lines


def test_same_process_mode_runs_each_library_in_one_process(rabbit_url, tmp_path):
    path = tmp_path / 'bench.json'
    _bench('--same-process', '--url', rabbit_url, '--count', '5', '--threads', '2',
           '--sizes', '100', '--bare', '--json', str(path))
    results = json.loads(path.read_text())
    assert results['mode'] == 'same-process'
    for figures in results['libraries'].values():
        assert 'server_peak_rss_mb' not in figures
        assert figures['sizes']['100']['call']['rate'] > 0


def test_cross_process_mode_compares_with_oslo(rabbit_url, tmp_path, oslo_python):  # noqa: F811
    path = tmp_path / 'bench.json'
    _bench('--url', rabbit_url, '--count', '5', '--threads', '2', '--sizes', '100',
           '--compare', 'oslo', '--oslo-python', oslo_python, '--json', str(path))
    oslo = json.loads(path.read_text())['libraries']['oslo_messaging']
    assert oslo['server_peak_rss_mb'] > 0
    assert set(oslo['sizes']['100']) == {'call', 'concurrent_call', 'cast', 'notify'}
    assert all(figures['rate'] > 0 for figures in oslo['sizes']['100'].values())


def _check_scale(results: dict, libraries: set[str], servers: int) -> None:
    assert results['servers'] == servers
    assert set(results['libraries']) == libraries
    for figures in results['libraries'].values():
        for key in ('threads', 'connections', 'rss_mb', 'start_seconds', 'notify_seconds'):
            assert figures[key] > 0, key
        assert all(figures['after_start'][key] > 0
                   for key in ('threads', 'connections', 'rss_mb'))
        for key in ('one_server', 'all_servers'):
            assert figures[key]['rate'] > 0 and figures[key]['p99_ms'] > 0


def test_scale_mode_prints_its_table_and_goals(rabbit_url, tmp_path):
    path = tmp_path / 'scale.json'
    done = _bench('--scale', '3', '--count', '10', '--url', rabbit_url, '--json', str(path))
    results = json.loads(path.read_text())
    _check_scale(results, {'messaging'}, 3)
    header, rule, ours = done.stdout.split('\n\n', 1)[0].splitlines()
    assert header.startswith('library') and 'connections (at start)' in header
    assert ours.split()[0] == 'messaging'
    lines = _goal_lines(done.stdout)
    assert lines[0].startswith('threads ours / oslo') and 'not measured' in lines[0]
    assert lines[4].startswith('calls/s across 3 servers / to one (messaging)')
    steps = [line for line in done.stderr.splitlines() if line.startswith('  messaging: ')]
    assert len(steps) == scale.STEPS, done.stderr


def test_scale_mode_compares_with_oslo(rabbit_url, tmp_path, oslo_python):  # noqa: F811
    path = tmp_path / 'scale.json'
    done = _bench('--scale', '3', '--count', '10', '--url', rabbit_url, '--compare', 'oslo',
                  '--oslo-python', oslo_python, '--json', str(path))
    results = json.loads(path.read_text())
    _check_scale(results, {'messaging', 'oslo_messaging'}, 3)
    assert [entry['value'] > 0 for entry in results['goals']] == [True] * 6
    assert done.stdout.split('\n\n', 1)[0].splitlines()[3].split()[0] == 'oslo'


def test_bench_draws_its_charts_in_the_format_of_the_extension(rabbit_url, tmp_path):
    pytest.importorskip('matplotlib', reason='matplotlib is not installed (the bench extra)')
    _bench('--quick', '--url', rabbit_url, '--count', '5', '--threads', '2',
           '--charts', str(tmp_path / 'bench.png'))
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        'bench-latency-100b.png', 'bench-rates-100b.png']
