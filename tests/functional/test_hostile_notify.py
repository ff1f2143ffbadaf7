"""Hostile notifications published with a plain AMQP channel to a running
notification listener: one log line naming the queue (and the notification's
message_id when it has one), the message rejected without requeue so that
the queue is empty, and the listener still handling a good notification.
"""
from __future__ import annotations

import json
import threading

import pytest
from oslo_config import cfg

import messaging
from tests.functional.rabbit_helpers import WAIT
from tests.functional.test_hostile_rpc import LogRecorder, nested

pytestmark = pytest.mark.timeout(60)

MAX_SIZE = 64 * 1024


def notification(**fields):
    body = {'message_id': 'good-1', 'publisher_id': 'pub', 'event_type': 'ev.good',
            'priority': 'INFO', 'payload': {'n': 1}, 'timestamp': '2026-01-01 00:00:00',
            '_unique_id': 'a' * 32}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def v2(body):
    return {'oslo.version': '2.0', 'oslo.message': json.dumps(body)}


def encoded(body):
    return json.dumps(body).encode()


# name: (body, content_type, text of the one log line, message id it names)
CASES = {
    'no-event-type': (encoded(notification(message_id='bad-1', event_type=None)),
                      'application/json', 'notification event_type is None', 'bad-1'),
    'no-priority': (encoded(v2(notification(message_id='bad-2', priority=None))),
                    'application/json', 'notification priority is None', 'bad-2'),
    'priority-not-string': (encoded(notification(message_id='bad-3', priority=['INFO'])),
                            'application/json', "notification priority is ['INFO']",
                            'bad-3'),
    'event-type-not-string': (encoded(notification(message_id='bad-4', event_type={'a': 1})),
                              'application/json', 'notification event_type is', 'bad-4'),
    'body-not-json': (b'this is {not json', 'application/json', 'not valid JSON', None),
    'json-not-object': (b'"INFO"', 'application/json', 'message body is a str', None),
    'inner-not-json': (encoded({'oslo.version': '2.0', 'oslo.message': '{nope'}),
                       'application/json', 'envelope field oslo.message is not valid JSON',
                       None),
    'unknown-version': (encoded({'oslo.version': '2.1', 'oslo.message': '{}'}),
                        'application/json', "envelope version '2.1'", None),
    'invalid-utf8': (b'{"event_type": "\xc3\x28"}', 'application/json',
                     'not valid JSON in UTF-8', None),
    'wrong-content-type': (encoded(notification()), 'application/xml',
                           "content type 'application/xml'", None),
    'nested-30k': (b'{"payload": ' + nested(30000).encode() + b'}', 'application/json',
                   'not valid JSON', None),
    'nested-500': (encoded(notification(payload=json.loads(nested(500)))), 'application/json',
                   'deeper than', None),
    'over-size-limit': (encoded(notification(payload='x' * MAX_SIZE)), 'application/json',
                        'over max_message_size', None),
}


class InfoEndpoint:
    def __init__(self):
        self.received = []
        self.arrived = threading.Event()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.received.append((event_type, metadata['message_id']))
        self.arrived.set()


@pytest.fixture
def listener(rabbit_url, rabbit_names):
    topic, exchange = rabbit_names
    conf = cfg.ConfigOpts()
    conf([])
    transport = messaging.get_notification_transport(
        conf, rabbit_url + '?max_message_size=%d' % MAX_SIZE)
    endpoint = InfoEndpoint()
    server = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic, exchange=exchange)], [endpoint],
        executor='threading', allow_requeue=True)
    server.start()
    yield server, endpoint
    server.stop()
    server.wait()
    transport.cleanup()


@pytest.mark.parametrize('case', sorted(CASES))
def test_hostile_notification_is_logged_once_rejected_and_the_listener_keeps_going(
        case, listener, rabbit_names, raw_channel):
    server, endpoint = listener
    topic, exchange = rabbit_names
    queue = topic + '.info'
    body, content_type, text, message_id = CASES[case]
    with LogRecorder() as log:
        for data, kind in ((body, content_type), (encoded(notification()), 'application/json')):
            raw_channel.basic_publish(raw_channel.prepare_message(
                data, content_type=kind, content_encoding='utf-8'), exchange, queue)
        log.wait_for(text)
        assert endpoint.arrived.wait(WAIT)
        # Unsettled deliveries return to the queue when the listener's
        # connection closes: an empty queue afterwards proves both were settled.
        server.stop()
        server.wait()
    assert endpoint.received == [('ev.good', 'good-1')]
    assert raw_channel.queue_declare(queue, passive=True).message_count == 0
    [line] = log.lines(text)
    assert 'queue %s' % queue in line
    if message_id is not None:
        assert repr(message_id) in line
    assert not [r for r in log.records if 'Traceback' in r.getMessage()]
