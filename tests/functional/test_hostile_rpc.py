"""Hostile requests published with a plain AMQP channel to a running RPC server.

Each case checks the four things an operator relies on: one log line that
names the source queue (and the message id when there is one), the
request settled (acked, or rejected without requeue) so that the queue is
empty and nothing comes back, an error reply when a caller is waiting and
one can be sent, and the server still answering a normal call.
"""
from __future__ import annotations

import json
import logging
import threading
import uuid

import pytest

import messaging
from messaging import wire
from tests.functional.rabbit_helpers import WAIT, get_raw

pytestmark = pytest.mark.timeout(60)

MAX_SIZE = 64 * 1024


class LogRecorder(logging.Handler):
    """Records every log line of a logger tree; a test can await one."""

    def __init__(self, logger_name='messaging'):
        super().__init__(logging.DEBUG)
        self.records = []
        self._wanted = None
        self._seen = threading.Event()
        self._logger = logging.getLogger(logger_name)

    def __enter__(self):
        self._level = self._logger.level
        self._logger.setLevel(logging.DEBUG)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc_info):
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record):
        self.records.append(record)
        if self._wanted is not None and self._wanted in record.getMessage():
            self._seen.set()

    def wait_for(self, text, timeout=WAIT):
        """Block until a line containing ``text`` is logged (or was)."""
        self._wanted = text
        if any(text in r.getMessage() for r in list(self.records)):
            return
        assert self._seen.wait(timeout), 'nobody logged %r; got %r' % (
            text, [r.getMessage() for r in self.records])

    def lines(self, text):
        """The lines containing ``text``, each followed by the context a
        record carries as attributes (oslo.messaging's texts leave it out)."""
        return [' '.join([r.getMessage()] + ['%s %s' % (key, getattr(r, key))
                                             for key in ('queue', 'msg_id') if hasattr(r, key)])
                for r in list(self.records) if text in r.getMessage()]


class Endpoint:
    def echo(self, ctxt, value):
        return value


def call_request(method='echo', args=None, **fields):
    message = {'method': method, 'args': {'value': 1} if args is None else args,
               '_unique_id': uuid.uuid4().hex}
    message.update(fields)
    return json.dumps(wire.serialize_msg(message)).encode()


def nested(depth):
    return '[' * depth + ']' * depth


MSG_ID = 'c0ffee' + 'a' * 26
UNIQUE = 'f' * 32

# name: (body, content_type, text of the one log line, id it names, reply failure)
CASES = {
    'body-not-json': (b'{nope', 'application/json', 'body is not valid JSON', None, None),
    'json-not-object': (b'["method", "echo"]', 'application/json',
                        'message body is a list, not a JSON object', None, None),
    'inner-not-json': (json.dumps({'oslo.version': '2.0', 'oslo.message': '{nope'}).encode(),
                       'application/json', 'envelope field oslo.message is not valid JSON',
                       None, None),
    'unknown-version': (json.dumps({'oslo.version': '3.0', 'oslo.message': '{}'}).encode(),
                        'application/json', "envelope version '3.0' is not supported", None,
                        None),
    'invalid-utf8': (b'{"method": "echo\xff", "args": {}}', 'application/json',
                     'not valid JSON in UTF-8', None, None),
    'wrong-content-type': (call_request(), 'text/plain', "content type 'text/plain'", None,
                           None),
    'no-content-type': (call_request(), None, 'content type None', None, None),
    'nested-30k': (b'{"method": "echo", "args": ' + nested(30000).encode() + b'}',
                    'application/json', 'not valid JSON', None, None),
    'nested-500': (call_request(_msg_id=MSG_ID).replace(b'{\\"value\\": 1}',
                                                        nested(500).encode()),
                   'application/json', 'deeper than %d levels' % wire.MAX_DEPTH, None,
                   None),
    'over-size-limit': (call_request(args={'blob': 'x' * MAX_SIZE}), 'application/json',
                        'over max_message_size (%d bytes)' % MAX_SIZE, None, None),
    'msg-id-not-string': (call_request(_msg_id=42, _reply_q='REPLY', _unique_id=UNIQUE),
                          'application/json', '_msg_id is a int', UNIQUE, None),
    'reply-q-missing': (call_request(_msg_id=MSG_ID, _unique_id=UNIQUE), 'application/json',
                        'no usable _reply_q', UNIQUE, None),
    'reply-q-not-string': (call_request(_msg_id=MSG_ID, _reply_q=['q'], _unique_id=UNIQUE),
                           'application/json', 'no usable _reply_q', UNIQUE, None),
    'method-missing': (call_request(method=None, _msg_id=MSG_ID, _reply_q='REPLY'),
                       'application/json', '"method" is missing', MSG_ID,
                       '"method" is missing'),
    'method-not-string': (call_request(method=['echo'], _msg_id=MSG_ID, _reply_q='REPLY'),
                          'application/json', '"method" is a list', MSG_ID,
                          '"method" is a list'),
    'args-not-object': (call_request(args=['value', 1], _msg_id=MSG_ID, _reply_q='REPLY'),
                        'application/json', "arguments of RPC method 'echo' are a list",
                        MSG_ID, 'are a list'),
    'args-not-matching': (call_request(args={'valeur': 1}, _msg_id=MSG_ID, _reply_q='REPLY'),
                          'application/json', 'Exception during message handling',
                          MSG_ID, "unexpected keyword argument 'valeur'"),
    'version-not-a-version': (call_request(version='1.x', _msg_id=MSG_ID, _reply_q='REPLY'),
                              'application/json', "version of RPC method 'echo' is '1.x'",
                              MSG_ID, 'not "X.Y"'),
    'namespace-not-string': (call_request(namespace=7, _msg_id=MSG_ID, _reply_q='REPLY'),
                             'application/json', 'namespace of RPC method', MSG_ID,
                             'is a int'),
    'method-missing-in-cast': (call_request(method=None), 'application/json',
                               'Refusing cast', None, None),
}


@pytest.fixture
def server(rabbit_transport, rabbit_names):
    """A running RPC server and a client of it; the server is stopped by the test."""
    topic, exchange = rabbit_names
    transport = rabbit_transport(max_message_size=MAX_SIZE)
    target = messaging.Target(topic=topic, server='srv', exchange=exchange)
    rpc_server = messaging.get_rpc_server(transport, target, [Endpoint()],
                                          executor='threading')
    rpc_server.start()
    client = messaging.get_rpc_client(transport, messaging.Target(topic=topic,
                                                                  exchange=exchange),
                                      timeout=WAIT)
    yield rpc_server, client
    rpc_server.stop()
    rpc_server.wait()


@pytest.mark.parametrize('case', sorted(CASES))
def test_hostile_request_is_logged_once_settled_and_the_server_keeps_serving(
        case, server, rabbit_names, raw_channel, broker_cleanup, unique_name):
    rpc_server, client = server
    topic, exchange = rabbit_names
    body, content_type, text, message_id, reply_text = CASES[case]
    reply_q = broker_cleanup.queue(unique_name('reply'))
    raw_channel.queue_declare(reply_q, durable=False, auto_delete=False)
    body = body.replace(b'REPLY', reply_q.encode())
    with LogRecorder() as log:
        raw_channel.basic_publish(raw_channel.prepare_message(
            body, content_type=content_type, content_encoding='utf-8'), exchange, topic)
        log.wait_for(text)
        if reply_text is not None:
            reply = json.loads(json.loads(get_raw(raw_channel, reply_q).body)['oslo.message'])
            failure = json.loads(reply['failure'])
            assert reply['_msg_id'] == MSG_ID and reply['ending'] is True
            assert failure['class'] == 'TypeError' and reply_text in failure['message']
        assert client.call({}, 'echo', value='still serving') == 'still serving'
        # Stopping closes the server's connection: a request left unsettled
        # would go back to the queue, so an empty queue proves it was settled.
        rpc_server.stop()
        rpc_server.wait()
    assert raw_channel.queue_declare(topic, passive=True).message_count == 0
    [line] = log.lines(text)
    assert 'queue %s' % topic in line
    if message_id is not None:
        assert message_id in line
    assert not [r for r in log.records if 'Traceback' in r.getMessage()
                or 'RecursionError' in r.getMessage()]
    if reply_text is None:
        assert raw_channel.queue_declare(reply_q, passive=True).message_count == 0


def test_a_duplicate_of_a_rejected_request_is_rejected_again_not_run(
        server, rabbit_names, raw_channel):
    """A rejected message is not remembered as seen: resending it is refused again."""
    rpc_server, client = server
    topic, exchange = rabbit_names
    body = call_request(_msg_id=MSG_ID, _unique_id=UNIQUE)
    with LogRecorder() as log:
        for _ in range(2):
            raw_channel.basic_publish(raw_channel.prepare_message(
                body, content_type='application/json', content_encoding='utf-8'),
                exchange, topic)
        assert client.call({}, 'echo', value=2) == 2
        rpc_server.stop()
        rpc_server.wait()
    assert len(log.lines('no usable _reply_q')) == 2
