"""The CPU time the benchmark reads from /proc around its loops."""
import os
import sys
import threading
import time

import pytest

from messaging.bench import cpu_time

pytestmark = pytest.mark.skipif(not os.path.exists('/proc/self/stat'), reason='no /proc')


def _busy(seconds):
    """Spin until this thread used ``seconds`` of CPU (a loaded machine
    gives it less in the same wall time)."""
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        pass


@pytest.mark.parametrize('name, kind', [
    ('messaging-worker-3', 'messaging-worker'), ('rabbit-io-bench_ab12', 'rabbit-io'),
    ('rabbit-reply-waiter-reply_0f3a', 'rabbit-reply-waiter'),
    ('ThreadPoolExecutor-0_7', 'ThreadPoolExecutor'), ('Thread-12 (worker)', 'Thread'),
    ('MainThread', 'MainThread'), ('bench-bare-server', 'bench-bare-server')])
def test_thread_names_lose_their_instance_suffix(name, kind):
    assert cpu_time.kind_of(name) == kind


def test_a_busy_loop_is_counted_for_the_process_and_its_thread():
    side = cpu_time.Side('process', os.getpid(), cpu_time.own_thread_names)
    _, cpu = cpu_time.around([side], lambda: _busy(0.2))
    assert set(cpu) == {'process'}
    assert 0.15 <= cpu['process']['seconds'] <= 1.0
    assert cpu['process']['threads']['MainThread'] >= 0.15


def test_a_thread_that_ended_counts_for_its_process_only():
    before = cpu_time.snapshot(os.getpid())
    worker = threading.Thread(target=_busy, args=(0.2,), name='short-lived-1')
    worker.start()
    worker.join()
    after = cpu_time.snapshot(os.getpid())
    used = cpu_time.used(before, after, cpu_time.own_thread_names())
    assert used['seconds'] >= 0.15
    assert 'short-lived' not in used['threads']


def test_a_process_that_is_gone_has_no_figures():
    import subprocess

    child = subprocess.Popen([sys.executable, '-c', 'pass'])
    child.wait()
    assert cpu_time.snapshot(child.pid) is None
    side = cpu_time.Side('server', child.pid, dict)
    assert cpu_time.around([side], lambda: 7) == (7, {})


def test_a_thread_not_started_yet_has_no_name_to_give(monkeypatch):
    unstarted = threading.Thread(target=lambda: None, name='not-yet')
    monkeypatch.setattr(threading, 'enumerate', lambda: [threading.current_thread(), unstarted])
    names = cpu_time.own_thread_names()
    assert 'not-yet' not in names.values()
    assert None not in names
