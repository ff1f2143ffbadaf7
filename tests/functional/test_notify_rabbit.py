"""Notifications end to end on the real RabbitMQ.

Every test uses its own exchange and topics, and deletes every queue and
exchange it caused to be declared (through the ``broker_cleanup`` fixture).
"""
from __future__ import annotations

import json
import logging
import subprocess
import threading
import time

import kombu
import pytest
from oslo_config import cfg

import messaging
from messaging import options
from tests.functional.conftest import raw_connection
from tests.unit.test_notify_listener import WAIT, InfoError, LogWaiter

PRIORITIES = ('info', 'error')


class Broker:
    """One test's exchange and topic, and the transports it opened."""

    def __init__(self, url, unique_name, cleanup):
        self.url = url
        self.cleanup = cleanup
        self.exchange = cleanup.exchange(unique_name('nex'))
        self.topic = unique_name('ntopic')
        for priority in PRIORITIES:
            cleanup.queue('%s.%s' % (self.topic, priority))
        self.transports = []

    def transport(self, url=None):
        """A notification transport whose control_exchange is this test's exchange."""
        conf = cfg.ConfigOpts()
        options.register_default_opts(conf)
        conf.set_override('control_exchange', self.exchange)
        transport = messaging.get_notification_transport(conf, url or self.url)
        self.transports.append(transport)
        return transport

    def notifier(self, driver='messagingv2', **kwargs):
        return messaging.Notifier(self.transport(), 'pub.host1', driver=driver,
                                  topics=[self.topic], **kwargs)

    def listener(self, endpoints, pool=None, **kwargs):
        if pool:
            self.cleanup.queue(pool)
        listener = messaging.get_notification_listener(
            self.transport(), [messaging.Target(exchange=self.exchange, topic=self.topic)],
            endpoints, pool=pool, **kwargs)
        listener.start()
        return listener


@pytest.fixture
def broker(rabbit_url, unique_name, broker_cleanup):
    broker = Broker(rabbit_url, unique_name, broker_cleanup)
    listeners = []
    original = broker.listener

    def tracked(*args, **kwargs):
        listeners.append(original(*args, **kwargs))
        return listeners[-1]

    broker.listener = tracked
    yield broker
    for listener in listeners:
        listener.stop()
    for listener in listeners:
        listener.wait()
    for transport in broker.transports:
        transport.cleanup()


def _raw_bodies(broker, queue, routing_key, count):
    """Bodies of ``count`` messages read with plain kombu from a capture queue."""
    bodies = []
    exchange = kombu.Exchange(broker.exchange, 'topic', durable=False)
    with raw_connection(broker.url) as conn:
        deadline = time.monotonic() + WAIT
        simple = conn.SimpleQueue(kombu.Queue(queue, exchange, routing_key, durable=False),
                                  no_ack=True)
        try:
            while len(bodies) < count and time.monotonic() < deadline:
                try:
                    bodies.append(simple.get(timeout=0.5).payload)
                except simple.Empty:
                    pass
        finally:
            simple.close()
    return bodies


@pytest.mark.parametrize('driver', ['messaging', 'messagingv2'])
def test_v1_and_v2_notifications_end_to_end(broker, unique_name, driver):
    capture = broker.cleanup.queue(unique_name('capture'))
    # Declare and bind the capture queue before anything is sent.
    assert _raw_bodies(broker, capture, broker.topic + '.info', 0) == []
    endpoint = InfoError()
    broker.listener([endpoint])
    notifier = broker.notifier(driver)
    notifier.info({}, 'compute.instance.create.end', {'drv': driver})
    notifier.error({}, 'compute.instance.delete.end', {'n': 2})
    calls = sorted(endpoint.wait_for(2))
    assert [(c[0], c[2], c[3], c[4]) for c in calls] == [
        ('error', 'pub.host1', 'compute.instance.delete.end', {'n': 2}),
        ('info', 'pub.host1', 'compute.instance.create.end', {'drv': driver})]
    assert set(calls[0][5]) == {'message_id', 'timestamp'}

    [body] = _raw_bodies(broker, capture, broker.topic + '.info', 1)
    if driver == 'messagingv2':
        assert body['oslo.version'] == '2.0'
        body = json.loads(body['oslo.message'])
    else:
        assert 'oslo.version' not in body
    assert list(body)[:7] == ['message_id', 'publisher_id', 'event_type', 'priority',
                              'payload', 'timestamp', '_unique_id']
    assert body['priority'] == 'INFO'


def test_each_pool_gets_every_notification_and_a_pool_shares_them(broker, unique_name):
    lock = threading.Condition()
    pool_a = [InfoError(cond=lock), InfoError(cond=lock)]
    pool_b = InfoError()
    pool_a_name, pool_b_name = unique_name('poolA'), unique_name('poolB')
    for endpoint in pool_a:
        broker.listener([endpoint], pool=pool_a_name)
    broker.listener([pool_b], pool=pool_b_name)
    notifier = broker.notifier()
    for n in range(10):
        notifier.info({}, 'ev', {'n': n})
    assert sorted(c[4]['n'] for c in pool_b.wait_for(10)) == list(range(10))
    with lock:
        assert lock.wait_for(lambda: sum(len(e.calls) for e in pool_a) >= 10, WAIT)
    assert sorted(c[4]['n'] for e in pool_a for c in e.calls) == list(range(10))


def test_requeued_notification_is_redelivered(broker):
    endpoint = InfoError(results=[messaging.NotificationResult.REQUEUE])
    broker.listener([endpoint], allow_requeue=True)
    broker.notifier().info({}, 'ev', {'n': 1})
    first, second = endpoint.wait_for(2)
    assert first[5]['message_id'] == second[5]['message_id']
    assert second[4] == {'n': 1}


@pytest.mark.parametrize('body, logger_name, text', [
    ('this is {not json', 'messaging.drivers.rabbit.listener', 'malformed'),
    (json.dumps({'priority': 'INFO', 'message_id': 'no-event-type'}),
     'messaging.drivers.rabbit.listener', 'no-event-type'),
])
def test_malformed_body_is_logged_acknowledged_and_listener_lives(
        broker, body, logger_name, text):
    waiter = LogWaiter(text)
    logging.getLogger(logger_name).addHandler(waiter)
    try:
        endpoint = InfoError()
        listener = broker.listener([endpoint], allow_requeue=True)
        queue = broker.topic + '.info'
        with raw_connection(broker.url) as conn:
            conn.Producer().publish(body, exchange=broker.exchange, routing_key=queue,
                                    content_type='application/json',
                                    content_encoding='utf-8')
        broker.notifier().info({}, 'ev', {'ok': True})
        [call] = endpoint.wait_for(1)
        assert call[4] == {'ok': True}
        assert waiter.seen.wait(WAIT)
        # Closing the listener's connection would return unsettled deliveries
        # to the queue, so an empty queue afterwards proves both were settled.
        listener.stop()
        listener.wait()
        assert _ready_count(broker, queue) == 0
    finally:
        logging.getLogger(logger_name).removeHandler(waiter)


def _ready_count(broker, queue):
    with raw_connection(broker.url) as conn:
        _name, ready, _consumers = conn.default_channel.queue_declare(queue, passive=True)
        return ready


@pytest.mark.parametrize('retry', [0, 1])
def test_notifier_with_broker_down_returns_promptly_and_logs(broker, caplog, retry):
    transport = broker.transport('rabbit://guest:guest@127.0.0.1:1/')
    notifier = messaging.Notifier(transport, 'pub', driver='messagingv2',
                                  topics=[broker.topic], retry=retry)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger='messaging.notify.messaging'):
        assert notifier._notify({}, 'ev', {'n': 1}, 'INFO') is False
        notifier.info({}, 'ev', {'n': 2})
    assert time.monotonic() - started < 30
    assert caplog.text.count('Could not send notification') == 2


def test_send_notification_cli_reaches_a_listener(broker, tmp_path):
    endpoint = InfoError()
    broker.listener([endpoint])
    config = tmp_path / 'notify.conf'
    config.write_text('[DEFAULT]\ncontrol_exchange = %s\n' % broker.exchange)
    result = subprocess.run(
        ['messaging-send-notification', '--config-file', str(config), '--transport-url',
         broker.url, '--topic', broker.topic, '--priority', 'error', '--publisher-id',
         'cli.host', '--event-type', 'cli.sent', '--payload', '{"k": [1]}', '--retry', '0'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [call] = endpoint.wait_for(1)
    assert (call[0], call[2], call[3], call[4]) == ('error', 'cli.host', 'cli.sent', {'k': [1]})


def test_send_notification_cli_with_broker_down_fails_with_status_1():
    result = subprocess.run(
        ['messaging-send-notification', '--transport-url', 'rabbit://guest:guest@127.0.0.1:1/',
         '--retry', '0'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'not sent' in result.stderr
