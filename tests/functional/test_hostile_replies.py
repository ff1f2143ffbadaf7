"""Hostile replies on a real reply queue: replies nobody waits for, replies
that are no replies, and hand-crafted failures for a real waiting call
that name modules the caller must never import.
"""
from __future__ import annotations

import json
import threading
import uuid

import pytest

import messaging
from messaging import wire
from tests.functional.rabbit_helpers import WAIT, Responder, capture_queue, catch, get_raw
from tests.functional.test_hostile_rpc import LogRecorder

pytestmark = pytest.mark.timeout(60)

HERE = __name__


class NeedsTwo(Exception):
    """Allowed to be rebuilt, but only from exactly two arguments."""

    def __init__(self, first, second):
        super().__init__(first, second)


def publish(channel, queue, body, content_type='application/json'):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    channel.basic_publish(channel.prepare_message(data, content_type=content_type,
                                                  content_encoding='utf-8'), '', queue)


def reply(msg_id, **fields):
    inner = {'result': 'forged', 'failure': None, 'ending': True, '_msg_id': msg_id,
             '_unique_id': uuid.uuid4().hex}
    inner.update(fields)
    return wire.serialize_msg(inner)


# name: (body, text of the one log line)
STRAY_REPLIES = {
    'unknown-msg-id': (reply('b' * 32), 'No calling threads waiting for msg_id : bbbbbbbbbb'),
    'msg-id-a-list': (reply(['b']), "No calling threads waiting for msg_id : ['b']"),
    'msg-id-missing': (reply(None), 'No calling threads waiting for msg_id : None'),
    'not-json': (b'{nope', 'Dropping malformed reply'),
    'not-an-object': (b'[1]', 'Dropping malformed reply'),
}


@pytest.mark.parametrize('case', sorted(STRAY_REPLIES))
def test_a_stray_reply_is_logged_once_dropped_and_calls_go_on(
        case, rabbit_transport, rabbit_names, raw_channel):
    topic, exchange = rabbit_names
    transport = rabbit_transport()
    driver = transport._driver
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    server = Responder(driver.listen(target, 1, None))
    body, text = STRAY_REPLIES[case]
    try:
        with LogRecorder() as log:
            assert driver.send(target, {}, {'method': 'm', 'args': {'n': 1}},
                               wait_for_reply=True, timeout=WAIT) == {'n': 1}
            publish(raw_channel, driver.reply_queue_name, body)
            log.wait_for(text)
            assert driver.send(target, {}, {'method': 'm', 'args': {'n': 2}},
                               wait_for_reply=True, timeout=WAIT) == {'n': 2}
    finally:
        server.stop()
    transport.cleanup()
    [line] = log.lines(text)
    [record] = [r for r in log.records if r.getMessage() == line]
    # The queue is named in the text, or (where the line keeps
    # oslo.messaging's words) in the record's reply_queue attribute.
    assert (driver.reply_queue_name in line
            or getattr(record, 'reply_queue', None) == driver.reply_queue_name)
    assert not [r for r in log.records if r.exc_info]
    assert raw_channel.queue_declare(driver.reply_queue_name, passive=True).message_count == 0


def call_answered_with(rabbit_transport, rabbit_names, raw_channel, broker_cleanup, failure):
    """What a real call raises when its reply carries ``failure`` (a dict)."""
    topic, exchange = rabbit_names
    requests = capture_queue(raw_channel, broker_cleanup, exchange, topic)
    client = messaging.get_rpc_client(
        rabbit_transport(allowed_remote_exmods=[HERE, 'messaging.exceptions']),
        messaging.Target(topic=topic, exchange=exchange), timeout=WAIT)
    outcome = []
    caller = threading.Thread(target=lambda: outcome.append(catch(client.call, {}, 'm')))
    caller.start()
    request = json.loads(json.loads(get_raw(raw_channel, requests).body)['oslo.message'])
    failure = dict({'message': 'forged failure', 'tb': ['  forged frame\n'], 'args': [],
                    'kwargs': {}}, **failure)
    publish(raw_channel, request['_reply_q'],
            reply(request['_msg_id'], result=None, failure=json.dumps(failure)))
    caller.join(WAIT)
    [raised] = outcome
    return raised


@pytest.mark.parametrize('module, cls', [
    ('os', 'system'), ('subprocess', 'Popen'), ('subprocess', 'CalledProcessError'),
    ('no_such_module_at_all', 'Boom'), ('a..b', 'Exception'), ('..', 'Exception'),
    ('__builtins__', 'Exception'), ('__main__', 'Exception'), ('importlib', 'Exception'),
    ('m' * 5000, 'Exception'), ('.'.join(['x'] * 1000), 'Exception'),
])
def test_a_forged_failure_naming_a_disallowed_module_raises_remote_error_unimported(
        module, cls, imports, rabbit_transport, rabbit_names, raw_channel, broker_cleanup):
    raised = call_answered_with(rabbit_transport, rabbit_names, raw_channel, broker_cleanup,
                                {'class': cls, 'module': module, 'args': ['rm -rf /']})
    assert isinstance(raised, messaging.RemoteError)
    assert raised.exc_type == cls and raised.value == 'forged failure'
    assert imports == []


def test_an_allowed_class_refusing_the_forged_args_raises_remote_error(
        imports, rabbit_transport, rabbit_names, raw_channel, broker_cleanup, caplog):
    raised = call_answered_with(rabbit_transport, rabbit_names, raw_channel, broker_cleanup,
                                {'class': 'NeedsTwo', 'module': HERE, 'args': ['one']})
    assert isinstance(raised, messaging.RemoteError)
    assert raised.exc_type == 'NeedsTwo' and 'forged failure' in str(raised)
    assert raised.traceback == ['  forged frame\n']
    assert imports == [HERE]


def test_an_allowed_class_with_fitting_args_is_rebuilt(
        rabbit_transport, rabbit_names, raw_channel, broker_cleanup):
    raised = call_answered_with(rabbit_transport, rabbit_names, raw_channel, broker_cleanup,
                                {'class': 'NeedsTwo', 'module': HERE, 'args': [1, 2]})
    assert isinstance(raised, NeedsTwo) and raised.args == (1, 2)
