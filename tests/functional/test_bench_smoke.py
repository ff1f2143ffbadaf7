"""``python -m messaging.bench --quick`` runs against RabbitMQ and writes its
results as JSON (no figures are checked: they depend on the machine)."""
import json
import os
import subprocess
import sys

import pytest

from messaging.bench import workload


def test_quick_bench_writes_every_workload_to_json(rabbit_url, tmp_path):
    path = tmp_path / 'bench.json'
    done = subprocess.run(
        [sys.executable, '-m', 'messaging.bench', '--quick', '--url', rabbit_url,
         '--count', '5', '--threads', '2', '--sizes', '100', '--bare', '--json', str(path)],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert 'sequential call' in done.stdout
    results = json.loads(path.read_text())
    ours = results['libraries']['messaging']
    assert set(ours['sizes']['100']) == {'call', 'concurrent_call', 'cast', 'notify'}
    assert set(ours['sizes']['100']['call']) == {'count', 'rate', 'p50_ms', 'p99_ms',
                                                 'max_ms'}
    assert ours['peak_rss_mb'] > 0
    assert set(results['libraries']['amqp']['sizes']['100']) == {'call', 'cast'}
    # Without a terminal, the progress of every step is a plain line.
    for library in ('messaging', 'amqp'):
        steps = [line for line in done.stderr.splitlines()
                 if line.startswith('  %s: ' % library)]
        assert len(steps) == workload.steps(library, [100]), done.stderr


def test_bench_draws_its_charts_in_the_format_of_the_extension(rabbit_url, tmp_path):
    pytest.importorskip('matplotlib', reason='matplotlib is not installed (the bench extra)')
    done = subprocess.run(
        [sys.executable, '-m', 'messaging.bench', '--quick', '--url', rabbit_url,
         '--count', '5', '--threads', '2', '--charts', str(tmp_path / 'bench.png')],
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        'bench-latency-100b.png', 'bench-rates-100b.png']
