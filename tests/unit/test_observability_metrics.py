"""Metrics on the fake driver, read from a unix socket bound by the test:
the datagrams oslo.messaging 18.3 sends, and a daemon that is down."""
import json
import logging
import socket
import threading

import pytest

import messaging
from tests.interop.observed_scenario import Echo
from messaging.observability import metrics_socket
from messaging.observability.options import METRICS_GROUP

CLIENT_LABELS = ['call_type', 'exchange', 'topic', 'namespace', 'version', 'server',
                 'fanout', 'method', 'timeout']


@pytest.fixture
def daemon_socket(tmp_path):
    """A bound datagram socket standing in for the oslo.metrics daemon."""
    path = str(tmp_path / 'metrics.sock')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    yield path, sock
    sock.close()


@pytest.fixture
def transport(conf, daemon_socket):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    conf.set_override('metrics_enabled', True, METRICS_GROUP)
    conf.set_override('metrics_socket_file', daemon_socket[0], METRICS_GROUP)
    conf.set_override('metrics_process_name', 'unit-proc', METRICS_GROUP)
    yield transport
    transport.cleanup()


def receive(sock, count):
    return [json.loads(sock.recv(65536)) for _ in range(count)]


def serve(transport, topic):
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic=topic, server='s1'), [Echo()])
    server.start()
    return server


def stop(server):
    server.stop()
    server.wait()


def test_a_call_sends_oslo_client_metrics_in_oslo_order(transport, daemon_socket):
    server = serve(transport, 'metered')
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic='metered'))
        client.call({}, 'echo', value=1)
    finally:
        stop(server)
    got = receive(daemon_socket[1], 6)
    client_metrics = [m for m in got if m['name'].startswith('rpc_client_')]
    assert [m['name'] for m in client_metrics] == [
        'rpc_client_invocation_start_total', 'rpc_client_processing_seconds',
        'rpc_client_invocation_end_total']
    start = client_metrics[0]
    assert list(start) == ['module', 'name', 'action', 'labels']
    assert start['module'] == 'oslo_messaging'
    assert start['action'] == {'value': None, 'action': 'inc'}
    assert list(start['labels']) == CLIENT_LABELS + ['process']
    assert start['labels'] == {
        'call_type': 'call', 'exchange': None, 'topic': 'metered', 'namespace': None,
        'version': None, 'server': None, 'fanout': None, 'method': 'echo',
        'timeout': None, 'process': 'unit-proc'}
    observed = client_metrics[1]['action']
    assert observed['action'] == 'observe' and observed['value'] >= 0


def test_the_server_sends_the_rpc_server_metrics_oslo_metrics_defines(
        transport, daemon_socket):
    server = serve(transport, 'metered_srv')
    try:
        messaging.get_rpc_client(transport, messaging.Target(topic='metered_srv')).call(
            {}, 'echo', value=1)
    finally:
        stop(server)
    got = [m for m in receive(daemon_socket[1], 6) if m['name'].startswith('rpc_server_')]
    assert [m['name'] for m in got] == [
        'rpc_server_invocation_start_total', 'rpc_server_processing_seconds',
        'rpc_server_invocation_end_total']
    assert got[0]['labels'] == {
        'endpoint': 'Echo', 'namespace': None, 'version': None, 'method': 'echo',
        'exchange': None, 'topic': 'metered_srv', 'server': 's1', 'process': 'unit-proc'}


def test_a_failed_call_counts_the_exception_class_on_both_sides(transport, daemon_socket):
    server = serve(transport, 'metered_fail')
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic='metered_fail'))
        with pytest.raises(ValueError):
            client.call({}, 'fail')
    finally:
        stop(server)
    got = {m['name']: m for m in receive(daemon_socket[1], 4)}
    assert set(got) == {'rpc_client_invocation_start_total', 'rpc_client_exception_total',
                        'rpc_server_invocation_start_total', 'rpc_server_exception_total'}
    assert got['rpc_server_exception_total']['labels']['exception'] == 'ValueError'
    # The fake driver re-raises the class itself; over RabbitMQ it is ValueError_Remote.
    assert got['rpc_client_exception_total']['labels']['exception'].startswith('ValueError')


def test_a_cast_is_measured_as_a_cast(transport, daemon_socket):
    client = messaging.get_rpc_client(transport, messaging.Target(topic='nobody_here'))
    client.prepare(fanout=True).cast({}, 'echo', value=1)
    got = receive(daemon_socket[1], 3)
    assert {m['labels']['call_type'] for m in got} == {'cast'}
    assert {m['labels']['fanout'] for m in got} == {True}


def test_a_missing_daemon_is_logged_once_and_calls_go_on(conf, tmp_path, caplog):
    transport = messaging.get_rpc_transport(conf, 'fake://')
    path = str(tmp_path / 'absent.sock')
    conf.set_override('metrics_enabled', True, METRICS_GROUP)
    conf.set_override('metrics_socket_file', path, METRICS_GROUP)
    caplog.set_level(logging.INFO, logger=metrics_socket.__name__)
    server = serve(transport, 'metered_down')
    try:
        client = messaging.get_rpc_client(transport, messaging.Target(topic='metered_down'))
        assert [client.call({}, 'echo', value=i) for i in range(5)] == list(range(5))
        sender = messaging.observability.metrics.sender_for(conf)
        assert sender.flush(10)
        down = [r for r in caplog.records if r.name == metrics_socket.__name__]
        assert len(down) == 1 and down[0].levelno == logging.WARNING
        assert path in down[0].getMessage()
        # The daemon starts: the next metric reaches it, and that is said once.
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(10)
        messaging.get_rpc_client(transport, messaging.Target(topic='nobody')).cast({}, 'x')
        assert json.loads(sock.recv(65536))['name'] == 'rpc_client_invocation_start_total'
        assert sender.flush(10)
        sock.close()
    finally:
        stop(server)
        transport.cleanup()
    messages = [r.getMessage() for r in caplog.records if r.name == metrics_socket.__name__]
    assert len(messages) == 2 and 'reachable again' in messages[1]


def test_a_full_buffer_drops_metrics_and_warns_once(tmp_path, caplog):
    sender = metrics_socket.MetricsSocketSender(str(tmp_path / 'x.sock'), 1, 5)
    blocked = threading.Event()
    # Hold the sending thread on its first datagram so that the queue fills.
    release = threading.Event()

    def slow_send(datagram):
        blocked.set()
        release.wait(10)
    sender._send = slow_send
    caplog.set_level(logging.WARNING, logger=metrics_socket.__name__)
    sender.put(b'first')
    assert blocked.wait(10)
    for _ in range(5):
        sender.put(b'more')
    release.set()
    assert sender.flush(10)
    said = [r.getMessage() for r in caplog.records if r.name == metrics_socket.__name__]
    # One warning when it fills, one when the sender has caught up: not one per drop.
    assert len(said) == 2, said
    assert 'is full' in said[0] and 'caught up after dropping 4 metrics' in said[1]


def test_the_datagram_is_what_oslo_metrics_decodes():
    message_type = pytest.importorskip('oslo_metrics.message_type')
    datagram = metrics_socket.encode_metric('rpc_client_processing_seconds', 'observe',
                                            0.000123456789, {'topic': 't'})
    metric = message_type.Metric.from_json(datagram.decode())
    assert (metric.module, metric.name, metric.action.action, metric.action.value,
            metric.labels) == ('oslo_messaging', 'rpc_client_processing_seconds',
                               'observe', 0.000123456789, {'topic': 't'})
    assert datagram.decode() == message_type.Metric(
        'oslo_messaging', 'rpc_client_processing_seconds',
        message_type.MetricAction('observe', 0.000123456789), topic='t').to_json()
