"""Metrics and traces across libraries, on the real broker and the real
oslo.metrics daemon: the same calls from oslo.messaging 18.3.1 and from
``messaging`` give the same Prometheus series, and a trace begun in either
library's client continues in the other library's server."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import messaging
from messaging.observability.options import METRICS_GROUP, TRACING_GROUP
from tests.functional.conftest import BrokerCleanup
from tests.interop.harness import unique_name
from tests.tracing_memory import memory_exporter

pytestmark = [pytest.mark.interop, pytest.mark.oslo_tracing]

INTEROP_DIR = Path(__file__).resolve().parent
PEER = INTEROP_DIR / 'oslo_observed_peer.py'
sys.path.insert(0, str(INTEROP_DIR))
from observed_scenario import Echo, run_scenario  # noqa: E402,I100

DAEMON_START_TIMEOUT = 30
SCRAPE_TIMEOUT = 20
PEER_TIMEOUT = 60
# What the scenario (3 calls, 2 casts, 1 fanout cast, 1 failing call) counts.
EXPECTED_STARTS = 7


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def metrics_daemon(tmp_path_factory):
    """The oslo.metrics daemon on a temporary socket and a free port:
    ``(socket path, scrape URL)``."""
    pytest.importorskip('oslo_metrics')
    workdir = tmp_path_factory.mktemp('oslo-metrics')
    sock_path, port = str(workdir / 'metrics.sock'), free_port()
    config = workdir / 'oslo-metrics.conf'
    config.write_text('[oslo_metrics]\nmetrics_socket_file = %s\nprometheus_host = 127.0.0.1\n'
                      'prometheus_port = %d\n' % (sock_path, port))
    daemon = subprocess.Popen([sys.executable, '-m', 'oslo_metrics', '--config-file',
                               str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    url = 'http://127.0.0.1:%d/metrics' % port
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            if os.path.exists(sock_path):
                break
        except OSError:
            pass
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            pytest.fail('oslo.metrics did not start: %s' % daemon.stderr.read()[-2000:])
        time.sleep(0.1)
    yield sock_path, url
    daemon.terminate()
    daemon.wait(10)


def scrape(url: str) -> dict:
    """``{process: {(sample name, labels without process): value}}`` of the
    RPC client series (counters and histogram counts)."""
    from prometheus_client.parser import text_string_to_metric_families
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    series: dict = {}
    for family in text_string_to_metric_families(text):
        if not family.name.startswith('oslo_messaging_rpc_client'):
            continue
        for sample in family.samples:
            if not sample.name.endswith(('_total', '_count')):
                continue
            labels = dict(sample.labels)
            process = labels.pop('process')
            series.setdefault(process, {})[
                (sample.name, tuple(sorted(labels.items())))] = sample.value
    return series


def scrape_until(url: str, done) -> dict:
    """Scrape until ``done(series)`` (the daemon takes datagrams in the background)."""
    deadline = time.monotonic() + SCRAPE_TIMEOUT
    while True:
        series = scrape(url)
        if done(series) or time.monotonic() > deadline:
            return series
        time.sleep(0.2)


def starts(series: dict, process: str) -> float:
    return sum(value for (name, _labels), value in series.get(process, {}).items()
               if name == 'oslo_messaging_rpc_client_invocation_start_total')


def run_oslo(python: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([python, str(PEER), *args], cwd=str(INTEROP_DIR),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def spans_of(output: str) -> list[dict]:
    return [json.loads(line)['span'] for line in output.splitlines()
            if line.startswith('{"span"')]


@pytest.fixture
def our_transport(rabbit_url, metrics_daemon):
    from oslo_config import cfg
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_rpc_transport(conf, rabbit_url)
    conf.set_override('metrics_enabled', True, METRICS_GROUP)
    conf.set_override('metrics_socket_file', metrics_daemon[0], METRICS_GROUP)
    conf.set_override('metrics_process_name', 'ours', METRICS_GROUP)
    conf.set_override('tracing_enabled', True, TRACING_GROUP)
    yield transport
    transport.cleanup()


@pytest.fixture
def server_queues(rabbit_url):
    """``add(topic, server)`` registers a server's topic and server queues
    for deletion after the test (its fanout queue deletes itself)."""
    cleanup = BrokerCleanup(rabbit_url)

    def add(topic: str, server: str) -> str:
        cleanup.queue(topic)
        cleanup.queue('%s.%s' % (topic, server))
        cleanup.exchange('%s_fanout' % topic)
        return topic
    yield add
    cleanup.run()


@pytest.fixture
def our_server(our_transport, server_queues):
    topic = server_queues(unique_name('observe'), 'our-server')
    server = messaging.get_rpc_server(
        our_transport, messaging.Target(topic=topic, server='our-server'), [Echo()])
    server.start()
    yield topic
    server.stop()
    server.wait()


def test_oslo_and_messaging_clients_give_the_same_prometheus_series_and_oslo_traces_continue(
        oslo_tracing_python, rabbit_url, metrics_daemon, our_transport, our_server):
    spans = memory_exporter()
    run_scenario(messaging, our_transport, our_server)
    peer = run_oslo(oslo_tracing_python, 'client', rabbit_url, our_server,
                    metrics_daemon[0])
    out, err = peer.communicate(timeout=PEER_TIMEOUT)
    assert peer.returncode == 0, err[-3000:]

    series = scrape_until(metrics_daemon[1], lambda s: starts(s, 'ours') >= EXPECTED_STARTS
                          and starts(s, 'oslo') >= EXPECTED_STARTS)
    ours, oslo = series.get('ours', {}), series.get('oslo', {})
    assert starts(series, 'oslo') == EXPECTED_STARTS
    assert ours == oslo
    exceptions = {dict(labels).get('exception') for (name, labels) in ours
                  if name == 'oslo_messaging_rpc_client_exception_total'}
    assert len(exceptions) == 1 and exceptions.pop().startswith('ValueError')

    # The oslo client's call spans are the parents of our server's spans.
    oslo_calls = {s['span_id']: s for s in spans_of(out) if s['name'] == our_server + '.echo'}
    assert len(oslo_calls) == 6  # 3 calls, 2 casts, 1 fanout cast
    received = [s for s in spans.get_finished_spans() if s.name == 'echo receive'
                and '%016x' % s.parent.span_id in oslo_calls]
    assert len(received) == 6
    for span in received:
        parent = oslo_calls['%016x' % span.parent.span_id]
        assert '%032x' % span.context.trace_id == parent['trace_id']
        assert span.parent.is_remote


def test_a_trace_begun_in_our_client_continues_in_an_oslo_server(
        oslo_tracing_python, rabbit_url, our_transport, server_queues):
    spans = memory_exporter()
    topic = server_queues(unique_name('observe_oslo'), 'oslo-server')
    peer = run_oslo(oslo_tracing_python, 'server', rabbit_url, topic)
    try:
        assert json.loads(peer.stdout.readline()) == {'ready': True}, peer.stderr.read()
        client = messaging.get_rpc_client(our_transport, messaging.Target(topic=topic),
                                          timeout=30)
        assert client.call({'request_id': 'req-ours'}, 'echo', value=5) == 5
        out, err = peer.communicate('', timeout=PEER_TIMEOUT)
    finally:
        if peer.poll() is None:
            peer.kill()
    assert peer.returncode == 0, err[-3000:]
    sent = [s for s in spans.get_finished_spans() if s.name == topic + '.echo']
    assert len(sent) == 1
    received = [s for s in spans_of(out) if s['name'] == 'echo receive']
    assert len(received) == 1
    assert received[0]['trace_id'] == '%032x' % sent[0].context.trace_id
    assert received[0]['parent_id'] == '%016x' % sent[0].context.span_id
    assert received[0]['attributes']['openstack.request_id'] == 'req-ours'
