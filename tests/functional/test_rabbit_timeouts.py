"""A call's timeout says why, where the broker can tell (timeout_diagnosis.py).

Each case is made on the real broker: no queue for the target, a queue no
server consumes, a request queued behind others, a server that took the
request and never answered, and a reply queue lost during the call.
"""
from __future__ import annotations

import re
import threading

import pytest

import messaging
from tests.functional.conftest import raw_connection
from tests.unit.test_rpc_support import running_server

pytestmark = pytest.mark.timeout(90)

TIMEOUT = 1.5


class Slow:
    def __init__(self):
        self.started = threading.Event()
        self.release = threading.Event()

    def wait_here(self, ctxt):
        self.started.set()
        self.release.wait(30)


def timed_out(transport, topic, exchange, server=None, method='wait_here'):
    client = messaging.get_rpc_client(
        transport, messaging.Target(topic=topic, exchange=exchange, server=server),
        timeout=TIMEOUT)
    with pytest.raises(messaging.MessagingTimeout) as info:
        client.call({}, method)
    text = str(info.value)
    assert text.startswith('Timed out waiting for a reply to'), text
    return text


@pytest.fixture
def names(unique_name, broker_cleanup):
    topic = unique_name('timeout')
    broker_cleanup.queue(topic)
    broker_cleanup.queue(topic + '.s1')
    return topic, broker_cleanup.exchange(unique_name('timeoutx'))


@pytest.fixture
def kombu_connection(rabbit_url):
    with raw_connection(rabbit_url) as connection:
        yield connection


def test_no_queue_for_the_target(rabbit_transport, names):
    topic, exchange = names
    text = timed_out(rabbit_transport(), topic, exchange)
    assert 'queue %s does not exist: no server' % topic in text


def test_a_queue_no_server_consumes(rabbit_transport, names):
    topic, exchange = names
    transport = rabbit_transport()
    with running_server(transport, [Slow()], server='s1', topic=topic, exchange=exchange):
        pass  # its queues stay, without consumers
    text = timed_out(transport, topic, exchange)
    # The request waits there itself (until its TTL, the call's timeout).
    assert re.search(r'no server consumes queue %s \(\d message\(s\) wait in it\): every '
                     r'server of the topic is down' % topic, text), text


def test_a_request_queued_behind_others(rabbit_transport, names, kombu_connection):
    topic, exchange = names
    transport = rabbit_transport()
    with running_server(transport, [Slow()], server='s1', topic=topic, exchange=exchange):
        pass
    # A consumer that takes one message and never settles it holds the rest
    # back: what a stuck server does to the queue.
    channel = kombu_connection.channel()
    channel.basic_qos(0, 1, False)
    channel.basic_consume(topic, callback=lambda message: None)
    for _ in range(3):
        channel.basic_publish(channel.prepare_message(b'{}'), exchange=exchange,
                              routing_key=topic)
    text = timed_out(transport, topic, exchange)
    assert 'the request may still be queued: queue %s holds' % topic in text
    assert 'for 1 server consumer(s)' in text


def test_a_server_took_the_request_and_never_answered(rabbit_transport, names):
    topic, exchange = names
    transport = rabbit_transport()
    slow = Slow()
    with running_server(transport, [slow], server='s1', topic=topic, exchange=exchange):
        try:
            text = timed_out(transport, topic, exchange)
        finally:
            slow.release.set()
    assert slow.started.is_set()
    assert 'a server took the request (queue %s is empty, 1 consumer(s))' % topic in text


def test_the_reply_queue_was_lost_during_the_call(rabbit_transport, names, kombu_connection):
    topic, exchange = names
    transport = rabbit_transport()
    slow = Slow()
    with running_server(transport, [slow], server='s1', topic=topic, exchange=exchange):
        client = messaging.get_rpc_client(
            transport, messaging.Target(topic=topic, exchange=exchange), timeout=TIMEOUT * 2)
        outcome = []
        caller = threading.Thread(target=lambda: outcome.append(
            pytest.raises(messaging.MessagingTimeout, client.call, {}, 'wait_here')))
        caller.start()
        assert slow.started.wait(10)
        kombu_connection.channel().queue_delete(transport.admin.reply_queue_name)
        caller.join(30)
        slow.release.set()
    # The broker cancels the consumer of a deleted queue: the waiter declares
    # it again at once, but a reply sent in between would have been dropped.
    assert ('the reply queue %s was lost during the call and declared again'
            % transport.admin.reply_queue_name) in str(outcome[0].value)


def test_the_cli_call_prints_the_same_reason(rabbit_url, names):
    import subprocess
    import sys

    topic, exchange = names
    done = subprocess.run(
        [sys.executable, '-m', 'messaging.cli', '--transport-url', rabbit_url, 'call',
         topic, 'anything', '--exchange', exchange, '--timeout', str(TIMEOUT)],
        capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert 'queue %s does not exist' % topic in done.stderr
