"""``python -m messaging.bench --quick`` runs against RabbitMQ and writes its
results as JSON (no figures are checked: they depend on the machine)."""
import json
import os
import subprocess
import sys


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
