"""The rabbit driver through its contract (send, listen, poll, reply) and the
bytes it puts on the wire, against the real broker."""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid

import pytest
from oslo_config import cfg

import messaging
from messaging import wire
from tests.functional.conftest import rabbitmqctl, queue_type
from tests.functional.rabbit_helpers import (WAIT, Responder,
                                             capture_queue, get_raw, poll,
                                             publish_raw)

pytestmark = pytest.mark.timeout(60)
def test_call_and_cast_round_trip_through_the_driver(rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    try:
        reply = driver.send(target, {'user': 'u1'}, {'method': 'echo', 'args': {'x': 1}},
                            wait_for_reply=True, timeout=WAIT)
        assert reply == {'x': 1}
        driver.send(target(server=None), {'user': 'u2'}, {'method': 'nov', 'args': {}})
        call, cast = server.wait_for(2)
        assert call.ctxt == {'user': 'u1', 'client_timeout': None}
        assert call.message == {'method': 'echo', 'args': {'x': 1}}
        assert cast.msg_id is None and cast.ctxt == {'user': 'u2', 'client_timeout': None}
    finally:
        server.stop()


def test_stop_makes_a_blocked_poll_return_promptly(rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
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


def test_raw_call_request_matches_the_wire_sheet(rabbit_transport, rabbit_names, raw_channel,
                                                 broker_cleanup):
    topic, exchange = rabbit_names
    capture = capture_queue(raw_channel, broker_cleanup, exchange, topic + '.srv')
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
    message = get_raw(raw_channel, capture, timeout=2)
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


def test_raw_cast_and_fanout_carry_no_call_fields(rabbit_transport, rabbit_names, raw_channel,
                                                  broker_cleanup):
    topic, exchange = rabbit_names
    to_topic = capture_queue(raw_channel, broker_cleanup, exchange, topic)
    to_fanout = capture_queue(raw_channel, broker_cleanup, topic + '_fanout', '', kind='fanout')
    driver = rabbit_transport()._driver
    driver.send(messaging.Target(topic=topic, exchange=exchange), {}, {'method': 'nov',
                                                                        'args': {}})
    driver.send(messaging.Target(topic=topic, fanout=True), {}, {'method': 'f', 'args': {}})
    for capture in (to_topic, to_fanout):
        message = get_raw(raw_channel, capture)
        assert 'expiration' not in message.properties
        inner = json.loads(json.loads(message.body)['oslo.message'])
        assert set(inner) == {'method', 'args', '_unique_id'}


def test_raw_reply_matches_the_wire_sheet(rabbit_transport, rabbit_names, raw_channel,
                                          broker_cleanup):
    topic, exchange = rabbit_names
    reply_q = capture_queue(raw_channel, broker_cleanup, exchange, 'unused')
    driver = rabbit_transport()._driver
    server = Responder(driver.listen(messaging.Target(topic=topic, server='srv',
                                                      exchange=exchange), 1, None),
                       handler=lambda m: 'pong')
    try:
        publish_raw(raw_channel, exchange, topic, wire.serialize_msg({
            'method': 'ping', 'args': {}, '_msg_id': 'a' * 32, '_reply_q': reply_q,
            '_timeout': None, '_unique_id': uuid.uuid4().hex}))
        message = get_raw(raw_channel, reply_q)
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
        rabbit_transport, rabbit_names, raw_channel, caplog, kind):
    topic, exchange = rabbit_names
    listener = rabbit_transport()._driver.listen(
        messaging.Target(topic=topic, server='srv', exchange=exchange), 1, None)
    bad = {'text': (b'{"method": "x"}', 'text/plain'),
           'not-json': (b'{nope', 'application/json'),
           'future-envelope': (json.dumps({'oslo.version': '3.0', 'oslo.message': '{}'})
                               .encode(), 'application/json'),
           'list': (b'[1, 2]', 'application/json')}[kind]
    with caplog.at_level(logging.ERROR):
        publish_raw(raw_channel, exchange, topic, bad[0], content_type=bad[1])
        publish_raw(raw_channel, exchange, topic, wire.serialize_msg(
            {'method': 'good', 'args': {}, '_unique_id': uuid.uuid4().hex}))
        got = poll(listener)
    listener.cleanup()
    assert [m.message['method'] for m in got] == ['good']
    assert sum('Rejecting malformed message from queue %s' % topic in r.getMessage()
               for r in caplog.records) == 1
    assert raw_channel.queue_declare(topic, passive=True).message_count == 0


def test_duplicate_unique_ids_are_dropped(rabbit_transport, rabbit_names, raw_channel, caplog):
    topic, exchange = rabbit_names
    listener = rabbit_transport()._driver.listen(
        messaging.Target(topic=topic, server='srv', exchange=exchange), 1, None)
    twice = wire.serialize_msg({'method': 'once', 'args': {}, '_unique_id': 'd' * 32})
    with caplog.at_level(logging.INFO):
        for body in (twice, twice, wire.serialize_msg({'method': 'next', 'args': {},
                                                         '_unique_id': 'e' * 32})):
            publish_raw(raw_channel, exchange, topic, body)
        got = poll(listener, count=2)
        got += listener.poll(timeout=0.3)
    listener.cleanup()
    assert [m.message['method'] for m in got] == ['once', 'next']
    assert any('duplicate' in r.getMessage() for r in caplog.records)


def test_reply_to_a_vanished_caller_is_abandoned_then_dropped_at_once(
        rabbit_transport, rabbit_names, raw_channel, caplog):
    topic, exchange = rabbit_names
    driver = rabbit_transport(kombu_missing_consumer_retry_timeout=1)._driver
    assert driver.options.kombu_missing_consumer_retry_timeout == 1
    listener = driver.listen(messaging.Target(topic=topic, server='srv',
                                              exchange=exchange), 1, None)
    gone = 'reply_' + uuid.uuid4().hex
    for _ in range(2):
        publish_raw(raw_channel, exchange, topic, wire.serialize_msg({
            'method': 'm', 'args': {}, '_msg_id': uuid.uuid4().hex, '_reply_q': gone,
            '_timeout': None, '_unique_id': uuid.uuid4().hex}))
    first, second = poll(listener, count=2)
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
        rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
    driver = rabbit_transport()._driver
    with pytest.raises(messaging.MessageUndeliverable) as undeliverable:
        driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                    {'method': 'm', 'args': {}},
                    transport_options=messaging.TransportOptions(at_least_once=True))
    assert undeliverable.value.routing_key == topic
    # The connection stays usable for the next send.
    driver.send(messaging.Target(topic=topic, exchange=exchange), {},
                {'method': 'm', 'args': {}})


def test_quorum_queues_are_declared_as_quorum(rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
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


def test_cleanup_stops_every_thread_the_driver_started(rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
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


def test_compressed_bodies_round_trip_and_say_so_in_a_header(
        rabbit_transport, rabbit_names, raw_channel, broker_cleanup):
    topic, exchange = rabbit_names
    capture = capture_queue(raw_channel, broker_cleanup, exchange, topic + '.srv')
    driver = rabbit_transport(kombu_compression='gzip')._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    driver.send(target, {}, {'method': 'big', 'args': {'text': 'x' * 1000}})
    message = get_raw(raw_channel, capture)
    assert message.properties['application_headers'] == {
        'compression': 'application/x-gzip'}
    assert message.body[:2] == b'\x78\x9c'
    server = Responder(driver.listen(target, 1, None))
    try:
        assert driver.send(target, {}, {'method': 'big', 'args': {'text': 'y' * 1000}},
                           wait_for_reply=True, timeout=WAIT) == {'text': 'y' * 1000}
    finally:
        server.stop()


def test_graceful_stop_deletes_the_fanout_queue_but_keeps_shared_ones(
        rabbit_transport, rabbit_names, raw_channel):
    topic, exchange = rabbit_names
    listener = rabbit_transport()._driver.listen(
        messaging.Target(topic=topic, server='srv', exchange=exchange), 1, None)
    assert listener.queue_names == [topic, topic + '.srv', listener.fanout_queue]
    assert listener.fanout_queue.startswith(topic + '_fanout_')
    listener.cleanup()
    assert queue_type(listener.fanout_queue) == ''
    assert raw_channel.queue_declare(topic, passive=True).consumer_count == 0


def test_prefetch_count_sets_qos_and_caps_batches(rabbit_transport, rabbit_names):
    topic, exchange = rabbit_names
    driver = rabbit_transport(rabbit_qos_prefetch_count=3)._driver
    listener = driver.listen(messaging.Target(topic=topic, server='srv',
                                              exchange=exchange), 10, 1)
    try:
        assert driver.prefetch_size == 3 and listener.batch_size == 3
        consumers = [line.split('\t') for line in rabbitmqctl(
            'list_consumers', '--no-table-headers', 'queue_name', 'prefetch_count'
        ).splitlines()]
        assert [topic, '3'] in consumers
    finally:
        listener.cleanup()
