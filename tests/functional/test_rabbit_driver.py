"""The rabbit driver through its contract (send, listen, poll, reply) and the
bytes it puts on the wire, against the real broker."""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import kombu
import pytest
from oslo_config import cfg

import messaging
from messaging.drivers import common
from messaging.drivers.rabbit.connection import AuthenticationFailure
from tests.functional.conftest import queue_type

pytestmark = pytest.mark.timeout(60)

WAIT = 10


def _amqp(url: str) -> str:
    return 'amqp://' + url.split('://', 1)[1]


@pytest.fixture
def names(unique_name, broker_cleanup):
    """A unique topic and exchange, with everything they imply cleaned up."""
    topic = unique_name('topic')
    exchange = broker_cleanup.exchange(unique_name('ex'))
    for queue in (topic, topic + '.srv', topic + '.info', topic + '.error'):
        broker_cleanup.queue(queue)
    broker_cleanup.exchange(topic + '_fanout')
    return topic, exchange


@pytest.fixture
def raw(rabbit_url):
    """A plain kombu channel, for capturing and hand-publishing messages."""
    with kombu.Connection(_amqp(rabbit_url), connect_timeout=5) as conn:
        yield conn.channel()


def _capture_queue(channel, broker_cleanup, exchange, key, kind='topic'):
    name = broker_cleanup.queue('test_capture_' + uuid.uuid4().hex[:10])
    channel.exchange_declare(exchange, kind, durable=False, auto_delete=kind == 'fanout')
    channel.queue_declare(name, durable=False, auto_delete=False)
    channel.queue_bind(name, exchange, key)
    return name


def _get(channel, queue_name, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = channel.basic_get(queue_name, no_ack=True)
        if message is not None:
            return message
        time.sleep(0.02)
    raise AssertionError('nothing arrived on %s within %s s' % (queue_name, timeout))


def _publish_raw(channel, exchange, key, body, content_type='application/json'):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    channel.basic_publish(channel.prepare_message(data, content_type=content_type,
                                                  content_encoding='utf-8'),
                          exchange, key)


def _poll(listener, count=1, timeout=WAIT):
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got.extend(listener.poll(timeout=deadline - time.monotonic()))
    return got


class Responder:
    """Serves a listener on a thread, replying with ``handler(incoming)``."""

    def __init__(self, listener, handler=lambda m: m.message.get('args')):
        self.listener = listener
        self.handler = handler
        self.received = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            batch = self.listener.poll()
            if not batch:
                return
            for incoming in batch:
                self.received.append(incoming)
                if incoming.msg_id:
                    incoming.reply(self.handler(incoming))

    def stop(self):
        self.listener.stop()
        self._thread.join(timeout=WAIT)
        self.listener.cleanup()


def test_call_and_cast_round_trip_through_the_driver(rabbit_transport, names):
    topic, exchange = names
    driver = rabbit_transport()._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        reply = driver.send(target, {'user': 'u1'}, {'method': 'echo', 'args': {'x': 1}},
                            wait_for_reply=True, timeout=WAIT)
        assert reply == {'x': 1}
        driver.send(target(server=None), {'user': 'u2'}, {'method': 'nov', 'args': {}})
        deadline = time.monotonic() + WAIT
        while len(server.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        call, cast = server.received
        assert call.ctxt == {'user': 'u1', 'client_timeout': None}
        assert call.message == {'method': 'echo', 'args': {'x': 1}}
        assert cast.msg_id is None and cast.ctxt == {'user': 'u2', 'client_timeout': None}
    finally:
        server.stop()


def test_stop_makes_a_blocked_poll_return_promptly(rabbit_transport, names):
    topic, exchange = names
    listener = rabbit_transport()._driver.listen(
        messaging.Target(topic=topic, server='srv', exchange=exchange), 1, None)
    result = []
    poller = threading.Thread(target=lambda: result.append(listener.poll()))
    poller.start()
    time.sleep(0.3)  # let the poll block: that is what is being tested
    started = time.monotonic()
    listener.stop()
    poller.join(timeout=WAIT)
    assert not poller.is_alive() and result == [[]]
    assert time.monotonic() - started < 1.0
    listener.cleanup()


def test_raw_call_request_matches_the_wire_sheet(rabbit_transport, names, raw,
                                                 broker_cleanup):
    topic, exchange = names
    capture = _capture_queue(raw, broker_cleanup, exchange, topic + '.srv')
    driver = rabbit_transport()._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange, version='1.2')
    errors = []

    def call():
        try:
            driver.send(target, {'user': 'alice'}, {'method': 'echo', 'args': {'q': 1},
                                                    'version': '1.2'},
                        wait_for_reply=True, timeout=2, call_monitor_timeout=3)
        except messaging.MessagingTimeout as ex:
            errors.append(ex)

    caller = threading.Thread(target=call)
    caller.start()
    # Read it before it expires: the broker drops it after the call timeout.
    message = _get(raw, capture, timeout=2)
    caller.join(timeout=WAIT)
    assert message.properties['content_type'] == 'application/json'
    assert message.properties['content_encoding'] == 'utf-8'
    assert message.properties['delivery_mode'] == 2
    assert message.properties['priority'] == 0
    assert message.properties['expiration'] == '2000'
    assert message.delivery_info['routing_key'] == topic + '.srv'
    body = json.loads(message.body)
    assert list(body) == ['oslo.version', 'oslo.message']
    assert body['oslo.version'] == '2.0' and isinstance(body['oslo.message'], str)
    inner = json.loads(body['oslo.message'])
    assert list(inner) == ['method', 'args', 'version', '_msg_id', '_reply_q', '_timeout',
                           '_unique_id', '_context_user']
    assert inner['_reply_q'] == driver.reply_queue_name
    assert inner['_reply_q'].startswith('reply_') and len(inner['_reply_q']) == 38
    assert len(inner['_msg_id']) == 32 and len(inner['_unique_id']) == 32
    assert inner['_timeout'] == 3
    timeout, = errors
    assert inner['_msg_id'] in str(timeout) and topic in str(timeout)


def test_raw_cast_and_fanout_carry_no_call_fields(rabbit_transport, names, raw,
                                                  broker_cleanup):
    topic, exchange = names
    to_topic = _capture_queue(raw, broker_cleanup, exchange, topic)
    to_fanout = _capture_queue(raw, broker_cleanup, topic + '_fanout', '', kind='fanout')
    driver = rabbit_transport()._driver
    driver.send(messaging.Target(topic=topic, exchange=exchange), {}, {'method': 'nov',
                                                                        'args': {}})
    driver.send(messaging.Target(topic=topic, fanout=True), {}, {'method': 'f', 'args': {}})
    for capture in (to_topic, to_fanout):
        message = _get(raw, capture)
        assert 'expiration' not in message.properties
        inner = json.loads(json.loads(message.body)['oslo.message'])
        assert set(inner) == {'method', 'args', '_unique_id'}


def test_raw_reply_matches_the_wire_sheet(rabbit_transport, names, raw, broker_cleanup):
    topic, exchange = names
    reply_q = _capture_queue(raw, broker_cleanup, exchange, 'unused')
    driver = rabbit_transport()._driver
    server = Responder(driver.listen(messaging.Target(topic=topic, server='srv',
                                                      exchange=exchange), 1, None),
                       handler=lambda m: 'pong')
    try:
        _publish_raw(raw, exchange, topic, common.serialize_msg({
            'method': 'ping', 'args': {}, '_msg_id': 'a' * 32, '_reply_q': reply_q,
            '_timeout': None, '_unique_id': uuid.uuid4().hex}))
        message = _get(raw, reply_q)
    finally:
        server.stop()
    assert message.delivery_info['exchange'] == ''
    assert message.properties['delivery_mode'] == 2
    assert message.properties['content_type'] == 'application/json'
    assert 'expiration' not in message.properties
    inner = json.loads(json.loads(message.body)['oslo.message'])
    assert list(inner) == ['result', 'failure', 'ending', '_msg_id', '_unique_id']
    assert inner['result'] == 'pong' and inner['failure'] is None and inner['ending'] is True
    assert inner['_msg_id'] == 'a' * 32


@pytest.mark.parametrize('kind', ['text', 'not-json', 'future-envelope', 'list'])
def test_malformed_messages_are_rejected_and_the_listener_goes_on(
        rabbit_transport, names, raw, caplog, kind):
    topic, exchange = names
    listener = rabbit_transport()._driver.listen(
        messaging.Target(topic=topic, server='srv', exchange=exchange), 1, None)
    bad = {'text': (b'{"method": "x"}', 'text/plain'),
           'not-json': (b'{nope', 'application/json'),
           'future-envelope': (json.dumps({'oslo.version': '3.0', 'oslo.message': '{}'})
                               .encode(), 'application/json'),
           'list': (b'[1, 2]', 'application/json')}[kind]
    with caplog.at_level(logging.ERROR):
        _publish_raw(raw, exchange, topic, bad[0], content_type=bad[1])
        _publish_raw(raw, exchange, topic, common.serialize_msg(
            {'method': 'good', 'args': {}, '_unique_id': uuid.uuid4().hex}))
        got = _poll(listener)
    listener.cleanup()
    assert [m.message['method'] for m in got] == ['good']
    assert sum('Rejecting malformed message from queue %s' % topic in r.getMessage()
               for r in caplog.records) == 1
    assert raw.queue_declare(topic, passive=True).message_count == 0


def test_duplicate_unique_ids_are_dropped(rabbit_transport, names, raw, caplog):
    topic, exchange = names
    listener = rabbit_transport()._driver.listen(
        messaging.Target(topic=topic, server='srv', exchange=exchange), 1, None)
    twice = common.serialize_msg({'method': 'once', 'args': {}, '_unique_id': 'd' * 32})
    with caplog.at_level(logging.INFO):
        for body in (twice, twice, common.serialize_msg({'method': 'next', 'args': {},
                                                         '_unique_id': 'e' * 32})):
            _publish_raw(raw, exchange, topic, body)
        got = _poll(listener, count=2)
        got += listener.poll(timeout=0.3)
    listener.cleanup()
    assert [m.message['method'] for m in got] == ['once', 'next']
    assert any('duplicate' in r.getMessage() for r in caplog.records)


def test_reply_to_a_vanished_caller_is_abandoned_then_dropped_at_once(
        rabbit_transport, names, raw, caplog):
    topic, exchange = names
    driver = rabbit_transport(kombu_missing_consumer_retry_timeout=1)._driver
    assert driver.options.kombu_missing_consumer_retry_timeout == 1
    listener = driver.listen(messaging.Target(topic=topic, server='srv',
                                              exchange=exchange), 1, None)
    gone = 'reply_' + uuid.uuid4().hex
    for _ in range(2):
        _publish_raw(raw, exchange, topic, common.serialize_msg({
            'method': 'm', 'args': {}, '_msg_id': uuid.uuid4().hex, '_reply_q': gone,
            '_timeout': None, '_unique_id': uuid.uuid4().hex}))
    first, second = _poll(listener, count=2)
    with caplog.at_level(logging.WARNING):
        started = time.monotonic()
        first.reply('late')
        abandoned_after = time.monotonic() - started
        started = time.monotonic()
        second.reply('later')
        dropped_after = time.monotonic() - started
    listener.cleanup()
    assert 1.0 <= abandoned_after < 3.0
    assert dropped_after < 0.5
    assert any(r.levelno == logging.ERROR and 'Abandoning' in r.getMessage()
               and gone in r.getMessage() for r in caplog.records)


def test_at_least_once_send_to_nowhere_raises_message_undeliverable(
        rabbit_transport, names):
    topic, exchange = names
    driver = rabbit_transport()._driver
    with pytest.raises(messaging.MessageUndeliverable) as undeliverable:
        driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                    {'method': 'm', 'args': {}},
                    transport_options=messaging.TransportOptions(at_least_once=True))
    assert undeliverable.value.routing_key == topic
    # The connection stays usable for the next send.
    driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                {'method': 'm', 'args': {}})


def _notification(priority='INFO'):
    return {'message_id': str(uuid.uuid4()), 'publisher_id': 'compute.host1',
            'event_type': 'compute.instance.create.end', 'priority': priority,
            'payload': {'id': 7}, 'timestamp': '2026-11-21 13:15:33.318036'}


@pytest.mark.parametrize('version', [1.0, 2.0])
def test_notification_is_queued_by_the_notifier_and_listened(
        rabbit_transport, names, raw, version):
    topic, exchange = names
    driver = rabbit_transport()._driver
    sent = _notification()
    driver.send_notification(messaging.Target(topic=topic + '.info', exchange=exchange),
                             {'user': 'u1'}, sent, version)
    # The notifier declared the queue: the message waits there.
    message = _get(raw, topic + '.info')
    body = json.loads(message.body)
    inner = json.loads(body['oslo.message']) if version == 2.0 else body
    assert 'oslo.version' in body if version == 2.0 else 'oslo.version' not in body
    assert list(inner)[:7] == list(sent) + ['_unique_id']
    assert inner['_context_user'] == 'u1'

    driver.send_notification(messaging.Target(topic=topic + '.info', exchange=exchange),
                             {}, sent, version)
    listener = driver.listen_for_notification(
        [(messaging.Target(topic=topic, exchange=exchange), 'info')], None, 1, None)
    first, = _poll(listener)
    first.requeue()
    again, = _poll(listener)
    again.acknowledge()
    assert again.message['event_type'] == sent['event_type']
    assert again.ctxt == {'client_timeout': None}
    assert listener.poll(timeout=0.3) == []
    listener.cleanup()


def test_pool_is_one_queue_named_as_the_pool_bound_on_each_target(
        rabbit_transport, names, unique_name, broker_cleanup):
    topic, exchange = names
    pool = broker_cleanup.queue(unique_name('pool'))
    other = broker_cleanup.exchange(unique_name('ex2'))
    broker_cleanup.queue(topic + '.error')
    driver = rabbit_transport()._driver
    targets = [(messaging.Target(topic=topic, exchange=exchange), 'info'),
               (messaging.Target(topic=topic, exchange=other), 'error')]
    listener = driver.listen_for_notification(targets, pool, 4, 1)
    assert listener.queue_names == [pool]
    for target, priority in targets:
        broker_cleanup.queue(target.topic + '.' + priority)
        driver.send_notification(target(topic=target.topic + '.' + priority), None,
                                 _notification(priority.upper()), 2.0)
    got = _poll(listener, count=2)
    for incoming in got:
        incoming.acknowledge()
    listener.cleanup()
    assert sorted(m.message['priority'] for m in got) == ['ERROR', 'INFO']


def test_quorum_queues_are_declared_as_quorum(rabbit_transport, names):
    topic, exchange = names
    driver = rabbit_transport(rabbit_quorum_queue='true',
                              rabbit_quorum_delivery_limit=5)._driver
    listener = driver.listen(messaging.Target(topic=topic, server='srv',
                                              exchange=exchange), 1, None)
    try:
        assert queue_type(topic) == 'quorum'
        assert queue_type(topic + '.srv') == 'quorum'
        assert queue_type(listener.fanout_queue) == 'classic'
    finally:
        listener.cleanup()


def test_url_query_overrides_an_option_for_that_transport_only(rabbit_transport):
    tuned = rabbit_transport(kombu_missing_consumer_retry_timeout=3)
    plain = rabbit_transport()
    assert tuned._driver.options.kombu_missing_consumer_retry_timeout == 3
    assert plain._driver.options.kombu_missing_consumer_retry_timeout == 60
    assert tuned.conf.oslo_messaging_rabbit.kombu_missing_consumer_retry_timeout == 60


def test_unknown_url_query_key_is_refused(rabbit_url):
    conf = cfg.ConfigOpts()
    conf([])
    with pytest.raises(cfg.NoSuchOptError) as refused:
        messaging.get_rpc_transport(conf, rabbit_url + '?control_exchange=x')
    assert 'no such option control_exchange in group [oslo_messaging_rabbit]' in str(
        refused.value)


def test_wrong_password_fails_fast_without_showing_it(rabbit_transport, rabbit_url,
                                                      names):
    topic, exchange = names
    host = rabbit_url.split('@', 1)[1]
    driver = rabbit_transport('rabbit://guest:s3cr3t-wrong@' + host)._driver
    started = time.monotonic()
    with pytest.raises(AuthenticationFailure) as failure:
        driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                    {'method': 'm', 'args': {}})
    assert time.monotonic() - started < 5
    assert 'ACCESS_REFUSED' in str(failure.value)
    assert 's3cr3t' not in str(failure.value)


def test_cleanup_stops_every_thread_the_driver_started(rabbit_transport, names):
    topic, exchange = names
    before = set(threading.enumerate())
    transport = rabbit_transport()
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(transport._driver.listen(target, 1, None))
    transport._driver.send(target, {}, {'method': 'm', 'args': {}}, wait_for_reply=True,
                           timeout=WAIT)
    server.stop()
    transport.cleanup()
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []


FAST_RECONNECT = 'kombu_reconnect_delay=0.05&rabbit_retry_interval=0.05&rabbit_retry_backoff=0.05'


def test_send_gives_up_after_its_retries_without_showing_the_password(
        rabbit_transport, names, caplog):
    topic, exchange = names
    driver = rabbit_transport('rabbit://guest:pw-hidden@127.0.0.1:1/?' + FAST_RECONNECT
                              )._driver
    with caplog.at_level(logging.WARNING):
        with pytest.raises(messaging.MessageDeliveryFailure, match='after 3 attempt'):
            driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                        {'method': 'm', 'args': {}}, retry=2)
    assert len([r for r in caplog.records if 'reconnecting' in r.getMessage()]) == 2
    assert all('pw-hidden' not in r.getMessage() for r in caplog.records)


def test_a_dead_host_in_the_url_is_failed_over(rabbit_transport, rabbit_url, names):
    topic, exchange = names
    live = rabbit_url.split('://', 1)[1].rstrip('/')
    driver = rabbit_transport('rabbit://guest:guest@127.0.0.1:1,%s/?%s'
                              % (live, FAST_RECONNECT))._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        for value in range(3):
            assert driver.send(target, {}, {'method': 'm', 'args': {'v': value}},
                               wait_for_reply=True, timeout=WAIT) == {'v': value}
    finally:
        server.stop()


def test_compressed_bodies_round_trip_and_say_so_in_a_header(rabbit_transport, names, raw,
                                                              broker_cleanup):
    topic, exchange = names
    capture = _capture_queue(raw, broker_cleanup, exchange, topic + '.srv')
    driver = rabbit_transport(kombu_compression='gzip')._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    driver.send(target, {}, {'method': 'big', 'args': {'text': 'x' * 1000}})
    message = _get(raw, capture)
    assert message.properties['application_headers'] == {
        'compression': 'application/x-gzip'}
    assert message.body[:2] == b'\x78\x9c'
    server = Responder(driver.listen(target, 1, None))
    try:
        assert driver.send(target, {}, {'method': 'big', 'args': {'text': 'y' * 1000}},
                           wait_for_reply=True, timeout=WAIT) == {'text': 'y' * 1000}
    finally:
        server.stop()


def test_heartbeats_keep_idle_connections_open(rabbit_transport, names, caplog):
    topic, exchange = names
    driver = rabbit_transport(heartbeat_timeout_threshold=1, heartbeat_rate=2)._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        with caplog.at_level(logging.WARNING, logger='messaging.drivers.rabbit'):
            driver.send(target, {}, {'method': 'm', 'args': {}}, wait_for_reply=True,
                        timeout=WAIT)
            # Stay idle for several heartbeat intervals: without heartbeats
            # the broker closes the connections after two.
            time.sleep(4)
            driver.send(target, {}, {'method': 'm', 'args': {}}, wait_for_reply=True,
                        timeout=WAIT)
    finally:
        server.stop()
    assert [r.getMessage() for r in caplog.records] == []
