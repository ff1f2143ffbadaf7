"""RPC over RabbitMQ through the public API: clients, servers, failures."""
from __future__ import annotations

import contextlib
import multiprocessing
import subprocess
import sys
import threading
import time
import uuid

import pytest

import messaging
from tests.functional.conftest import close_our_connections
from tests.functional.rabbit_helpers import FAST_RECONNECT, WAIT, catch
from tests.unit.test_rpc_support import running_server

pytestmark = pytest.mark.timeout(90)



class AllowedError(Exception):
    """An exception clients allow to be rebuilt from this module."""


class Endpoint:
    def __init__(self, name='srv'):
        self.name = name
        self.calls = []
        self.cast_received = threading.Event()
        self.release = threading.Event()

    def echo(self, ctxt, value):
        self.calls.append(value)
        return {'server': self.name, 'value': value, 'user': ctxt.get('user')}

    def note(self, ctxt, value):
        self.calls.append(value)
        self.cast_received.set()

    def fail_builtin(self, ctxt):
        raise ValueError('bad value', 42)

    def fail_allowed(self, ctxt):
        raise AllowedError('allowed')

    def slow(self, ctxt, seconds):
        # A long-running method: the call-monitor heartbeats are under test.
        self.release.wait(seconds)
        return 'done'


@pytest.fixture
def topology(unique_name, broker_cleanup):
    """A unique topic and exchange; queues for servers s1/s2 are cleaned up."""
    topic = unique_name('rpc')
    exchange = broker_cleanup.exchange(unique_name('rpcx'))
    for queue in (topic, topic + '.s1', topic + '.s2'):
        broker_cleanup.queue(queue)
    broker_cleanup.exchange(topic + '_fanout')
    return topic, exchange


def serving(transport, target, endpoint):
    """A threaded RPC server of ``target`` while the block runs."""
    return running_server(transport, [endpoint], server=target.server, topic=target.topic,
                          exchange=target.exchange, executor='threading')


@contextlib.contextmanager
def two_servers(transport, topic, exchange):
    """Servers s1 and s2 of ``topic`` while the block runs; yields their endpoints."""
    s1, s2 = Endpoint('s1'), Endpoint('s2')
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 s1), \
            serving(transport, messaging.Target(topic=topic, server='s2',
                                                exchange=exchange), s2):
        yield s1, s2


def _client(transport, topic, exchange, **kwargs):
    kwargs.setdefault('timeout', WAIT)
    return messaging.get_rpc_client(transport, messaging.Target(topic=topic,
                                                                exchange=exchange),
                                    **kwargs)


def test_call_and_cast_to_a_topic_and_to_one_server(rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport()
    with two_servers(transport, topic, exchange) as (s1, s2):
        client = _client(transport, topic, exchange)
        assert client.call({'user': 'alice'}, 'echo', value=1)['value'] == 1
        for _ in range(3):
            assert client.prepare(server='s2').call({}, 'echo', value=2)['server'] == 's2'
        client.prepare(server='s1').cast({}, 'note', value=3)
        assert s1.cast_received.wait(WAIT)
        assert 2 not in s1.calls and 3 not in s2.calls


def test_fanout_cast_reaches_every_server(rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport()
    with two_servers(transport, topic, exchange) as (s1, s2):
        _client(transport, topic, exchange).prepare(fanout=True).cast({}, 'note', value=9)
        assert s1.cast_received.wait(WAIT) and s2.cast_received.wait(WAIT)


def test_a_call_and_reply_of_many_frames_and_socket_writes_arrive_whole(
        rabbit_transport, topology):
    # About 6 MB once JSON-escaped: some 50 body frames at RabbitMQ's
    # frame_max, written in several batches (rabbit.engine.frames.WRITE_BATCH).
    topic, exchange = topology
    transport = rabbit_transport()
    value = ''.join(chr(0x20 + i % 0x2000) for i in range(1024 * 1024))
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 Endpoint('s1')):
        client = _client(transport, topic, exchange)
        assert client.call({}, 'echo', value=value)['value'] == value
        assert client.call({}, 'echo', value='small')['value'] == 'small'


def test_calls_to_a_topic_are_spread_over_its_servers(rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport()
    with two_servers(transport, topic, exchange) as (s1, s2):
        client = _client(transport, topic, exchange)
        served = [client.call({}, 'echo', value=i)['server'] for i in range(20)]
    assert served.count('s1') >= 5 and served.count('s2') >= 5


def test_two_exchanges_are_kept_apart(rabbit_transport, topology, unique_name,
                                      broker_cleanup):
    topic, exchange = topology
    other = broker_cleanup.exchange(unique_name('rpcx'))
    transport = rabbit_transport()
    here, there = Endpoint('here'), Endpoint('there')
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 here), \
            serving(transport, messaging.Target(topic=topic, server='s2', exchange=other),
                    there):
        for _ in range(4):
            assert _client(transport, topic, exchange).call({}, 'echo', value=1)[
                'server'] == 'here'
            assert _client(transport, topic, other).call({}, 'echo', value=1)[
                'server'] == 'there'


def test_remote_exceptions_are_rebuilt_only_from_allowed_modules(rabbit_transport,
                                                                 topology):
    topic, exchange = topology
    allowing = rabbit_transport(allowed_remote_exmods=[__name__])
    strict = rabbit_transport()
    with serving(allowing, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 Endpoint()):
        with pytest.raises(ValueError) as builtin:
            _client(strict, topic, exchange).call({}, 'fail_builtin')
        assert builtin.value.args[0].startswith("('bad value', 42)\nTraceback")
        with pytest.raises(AllowedError) as allowed:
            _client(allowing, topic, exchange).call({}, 'fail_allowed')
        assert type(allowed.value).__name__ == 'AllowedError_Remote'
        with pytest.raises(messaging.RemoteError) as remote:
            _client(strict, topic, exchange).call({}, 'fail_allowed')
        assert remote.value.exc_type == 'AllowedError'


def test_call_to_a_topic_nobody_serves_times_out(rabbit_transport, topology):
    topic, exchange = topology
    client = _client(rabbit_transport(), topic, exchange, timeout=1)
    started = time.monotonic()
    with pytest.raises(messaging.MessagingTimeout) as timeout:
        client.call({}, 'echo', value=1)
    assert 0.9 < time.monotonic() - started < 3
    assert topic in str(timeout.value)


def test_call_monitoring_keeps_a_long_call_alive(rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport()
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 Endpoint()):
        client = _client(transport, topic, exchange, timeout=WAIT, call_monitor_timeout=2)
        started = time.monotonic()
        assert client.call({}, 'slow', seconds=4) == 'done'
        assert time.monotonic() - started >= 3.9


SERVER_SCRIPT = '''
import sys, threading
from oslo_config import cfg
import messaging
url, topic, exchange = sys.argv[1:4]
conf = cfg.ConfigOpts(); conf([])
transport = messaging.get_rpc_transport(conf, url)
class Endpoint:
    def slow(self, ctxt, seconds):
        print('busy', flush=True)
        threading.Event().wait(seconds)
server = messaging.get_rpc_server(
    transport, messaging.Target(topic=topic, server='s1', exchange=exchange), [Endpoint()])
server.start()
print('ready', server.listener.fanout_queue, flush=True)
threading.Event().wait()
'''


def test_call_monitoring_fails_a_call_whose_server_died(rabbit_url, rabbit_transport,
                                                         topology, broker_cleanup):
    topic, exchange = topology
    server = subprocess.Popen([sys.executable, '-c', SERVER_SCRIPT, rabbit_url, topic,
                               exchange], stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split()
        assert ready[0] == 'ready'
        broker_cleanup.queue(ready[1])
        client = _client(rabbit_transport(), topic, exchange, timeout=60,
                         call_monitor_timeout=2)
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(catch(
            client.call, {}, 'slow', seconds=60)))
        caller.start()
        assert server.stdout.readline().strip() == 'busy'
        server.kill()
        killed = time.monotonic()
        caller.join(timeout=WAIT)
        assert isinstance(outcome[0], messaging.MessagingTimeout)
        assert time.monotonic() - killed < 4
    finally:
        server.kill()
        server.wait(timeout=WAIT)


def test_idle_server_and_client_survive_a_dropped_connection(rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport(**FAST_RECONNECT)
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 Endpoint()):
        client = _client(transport, topic, exchange)
        assert client.call({}, 'echo', value=1)['value'] == 1
        assert close_our_connections() >= 3
        for value in range(5):
            assert client.call({}, 'echo', value=value)['value'] == value


def test_calls_in_flight_during_a_dropped_connection_do_not_break_later_ones(
        rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport(**FAST_RECONNECT)
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 Endpoint()):
        client = _client(transport, topic, exchange, timeout=5)
        in_flight = []
        callers = [threading.Thread(target=lambda: in_flight.append(
            catch(client.call, {}, 'slow', seconds=0.5))) for _ in range(4)]
        for caller in callers:
            caller.start()
        close_our_connections()
        for caller in callers:
            caller.join(timeout=WAIT)
        assert all(result == 'done' or isinstance(result, messaging.MessagingTimeout)
                   for result in in_flight), in_flight
        for value in range(5):
            assert client.call({}, 'echo', value=value)['value'] == value


def test_each_connection_is_named_program_pid_uuid(rabbit_transport):
    driver = rabbit_transport()._driver
    with driver._borrow() as connection:
        program, pid, connection_uuid = connection.name.split(':')
    assert pid == str(__import__('os').getpid())
    assert str(uuid.UUID(connection_uuid)) == connection_uuid
    assert program


def test_concurrent_callers_share_the_reply_queue_and_get_their_own_replies(
        rabbit_transport, topology):
    topic, exchange = topology
    transport = rabbit_transport()
    # The server replies on a transport of its own: its replies borrow send
    # connections too, and would blur the count of the callers' ones.
    server_transport = rabbit_transport()
    results = {}
    with serving(server_transport,
                 messaging.Target(topic=topic, server='s1', exchange=exchange), Endpoint()):
        client = _client(transport, topic, exchange)

        def caller(number):
            results[number] = [client.call({}, 'echo', value=(number, i))['value']
                               for i in range(20)]

        callers = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join(timeout=60)
    assert results == {n: [[n, i] for i in range(20)] for n in range(16)}
    # One send connection per concurrent caller at most, none per call.
    assert transport._driver._pool.size <= 16


def _call_in_child(client, results) -> None:
    try:
        value = client.call({}, 'echo', value='child')['value']
    except Exception as ex:
        value = repr(ex)
    results.put((value, client.transport._driver.reply_queue_name))


def test_a_forked_child_gets_its_own_connections_and_reply_queue(
        rabbit_transport, topology, broker_cleanup):
    topic, exchange = topology
    transport = rabbit_transport()
    with serving(transport, messaging.Target(topic=topic, server='s1', exchange=exchange),
                 Endpoint()):
        client = _client(transport, topic, exchange)
        assert client.call({}, 'echo', value='parent')['value'] == 'parent'
        context = multiprocessing.get_context('fork')
        results = context.Queue()
        child = context.Process(target=_call_in_child, args=(client, results))
        child.start()
        try:
            value, child_reply_queue = results.get(timeout=WAIT)
        finally:
            child.join(timeout=WAIT)
        broker_cleanup.queue(child_reply_queue)
        assert value == 'child'
        assert child_reply_queue != transport._driver.reply_queue_name
        assert client.call({}, 'echo', value='again')['value'] == 'again'
