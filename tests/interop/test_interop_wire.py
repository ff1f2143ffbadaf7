"""The bytes each library puts on the wire, side by side.

The other interop tests check that each library understands the other; these
check that the two write the same thing, including what a tolerant oslo
receiver would not notice (delivery mode, headers, id formats, key sets).
Messages are captured raw from queues of the test's own, reduced to a
*shape* (ids and timestamps replaced by their format) and compared.
"""
from __future__ import annotations

import json
import re
import socket
import time
import uuid

import amqp
import pytest

from tests.functional.conftest import raw_connection
from tests.interop.harness import unique_name

pytestmark = pytest.mark.interop

LIBRARIES = ['ours', 'oslo']
CAPTURE_TIMEOUT = 10
FORMATS = [
    ('<hex32>', re.compile(r'^[0-9a-f]{32}$')),
    ('<reply_q>', re.compile(r'^reply_[0-9a-f]{32}$')),
    ('<uuid>', re.compile(r'^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$')),
    ('<timestamp>', re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$')),
]
PROPERTIES = ('content_type', 'content_encoding', 'delivery_mode', 'priority',
              'application_headers', 'expiration', 'correlation_id', 'reply_to')
CTXT = {'user': 'alice', 'request_id': 'req-1', 'auth_token': 'secret'}


def shape(value):
    """``value`` with ids and timestamps replaced by the name of their format;
    JSON strings nested in envelopes and failures are parsed and shaped too."""
    if isinstance(value, dict):
        shaped = {key: shape(item) for key, item in value.items()}
        if isinstance(value.get('oslo.message'), str):
            shaped['oslo.message'] = shape(json.loads(value['oslo.message']))
        if isinstance(value.get('failure'), str):
            failure = json.loads(value['failure'])
            assert failure['tb'][0] == 'Traceback (most recent call last):\n', failure
            shaped['failure'] = shape(dict(failure, tb='<traceback>'))
        return shaped
    if isinstance(value, list):
        return [shape(item) for item in value]
    if isinstance(value, str):
        for name, pattern in FORMATS:
            if pattern.match(value):
                return name
    return value


class Capture:
    """Queues of the test's own where raw messages are read back as they come."""

    def __init__(self, url: str, cleanup) -> None:
        self._cleanup = cleanup
        self._conn = raw_connection(url)
        self._channel = self._conn.channel()
        self._messages: dict[str, list] = {}

    def queue(self, name: str, bind_to: tuple = ()) -> str:
        """Consume queue ``name``, bound to ``(exchange, type, flags, key)`` if given."""
        self._cleanup.queue(name)
        self._channel.queue_declare(name, durable=False, auto_delete=False)
        if bind_to:
            exchange, kind, auto_delete, key = bind_to
            self._channel.exchange_declare(exchange, kind, durable=False,
                                           auto_delete=auto_delete)
            self._channel.queue_bind(name, exchange, key)
        self._messages[name] = []
        self._channel.basic_consume(name, no_ack=True,
                                    callback=self._messages[name].append)
        return name

    def take(self, queue: str, count: int = 1) -> list[dict]:
        """The next ``count`` messages of ``queue``: properties, routing and body."""
        deadline = time.monotonic() + CAPTURE_TIMEOUT
        while len(self._messages[queue]) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError('%d of %d messages on %s within %ss'
                                     % (len(self._messages[queue]), count, queue,
                                        CAPTURE_TIMEOUT))
            try:
                self._conn.drain_events(timeout=remaining)
            except socket.timeout:
                pass
        taken, self._messages[queue][:count] = self._messages[queue][:count], []
        return [self._describe(message) for message in taken]

    @staticmethod
    def _describe(message: amqp.Message) -> dict:
        properties = {key: message.properties.get(key) for key in PROPERTIES}
        return {'properties': properties,
                'exchange': message.delivery_info['exchange'],
                'routing_key': message.delivery_info['routing_key'],
                'body': json.loads(message.body)}

    def publish(self, body: dict, exchange: str, routing_key: str) -> None:
        self._channel.basic_publish(
            amqp.Message(json.dumps(body), content_type='application/json',
                         content_encoding='utf-8', delivery_mode=2),
            exchange=exchange, routing_key=routing_key)

    def close(self) -> None:
        self._conn.release()


@pytest.fixture(scope='module')
def exchange(module_peers) -> str:
    return module_peers.cleanup.exchange(unique_name('wx'))


@pytest.fixture(scope='module')
def capture(module_peers):
    capture = Capture(module_peers.url, module_peers.cleanup)
    yield capture
    capture.close()


@pytest.fixture(scope='module')
def clients(module_peers, exchange) -> dict:
    return {lib: module_peers.start(lib, 'rpc-client', {'exchange': exchange})
            for lib in LIBRARIES}


@pytest.fixture(scope='module')
def notifiers(module_peers, exchange) -> dict:
    return {lib: module_peers.start(lib, 'notifier', {'exchange': exchange})
            for lib in LIBRARIES}


@pytest.fixture(scope='module')
def servers(module_peers, exchange) -> dict:
    """Per library, a server on its own topic; the topic is in ``.topic``."""
    servers = {}
    for lib in LIBRARIES:
        topic = unique_name('wire_%s' % lib)
        for name in (topic, '%s.wire' % topic):
            module_peers.cleanup.queue(name)
        module_peers.cleanup.exchange('%s_fanout' % topic)
        servers[lib] = module_peers.start(lib, 'rpc-server', {
            'exchange': exchange, 'servers': [{'topic': topic, 'server': 'wire'}]})
        servers[lib].topic = topic
    return servers


def sent_by_both(capture, queue, send) -> dict:
    """What ``send(library)`` put on ``queue``, per library, shaped."""
    shapes = {}
    for lib in LIBRARIES:
        send(lib)
        shapes[lib] = shape(capture.take(queue)[0])
    return shapes


REQUESTS = {
    'cast': dict(op='cast', target={}),
    'cast to a server, versioned': dict(op='cast', target={'server': 's1', 'version': '1.2',
                                                           'namespace': 'ns'}),
    'call': dict(op='call', target={}, timeout=1),
    'call with call monitoring': dict(op='call', target={}, timeout=1,
                                      call_monitor_timeout=3),
}


@pytest.mark.parametrize('kind', REQUESTS)
def test_requests_are_written_alike(kind, capture, clients, exchange):
    topic = unique_name('wire_req')
    request = REQUESTS[kind]
    key = '%s.%s' % (topic, request['target']['server']) if 'server' in request['target'] \
        else topic
    queue = capture.queue(unique_name('capture'), (exchange, 'topic', False, key))
    shapes = sent_by_both(capture, queue, lambda lib: clients[lib].request(dict(
        request, target=dict(request['target'], topic=topic), method='echo',
        args={'x': [1, 'two', None]}, ctxt=CTXT), timeout=15))
    assert shapes['ours'] == shapes['oslo']


def test_fanout_casts_are_written_alike(capture, clients, module_peers):
    topic = unique_name('wire_fan')
    module_peers.cleanup.exchange('%s_fanout' % topic)
    queue = capture.queue(unique_name('capture'), ('%s_fanout' % topic, 'fanout', True, topic))
    shapes = sent_by_both(capture, queue, lambda lib: clients[lib].request({
        'op': 'cast', 'target': {'topic': topic, 'fanout': True}, 'method': 'echo',
        'args': {}, 'ctxt': CTXT}))
    assert shapes['ours'] == shapes['oslo']


@pytest.mark.parametrize('driver', ['messaging', 'messagingv2'])
def test_notifications_are_written_alike(driver, capture, notifiers, module_peers):
    topic = unique_name('wire_note')
    module_peers.cleanup.queue('%s.warn' % topic)

    def send(lib):
        notifiers[lib].request({
            'op': 'notify', 'driver': driver, 'topic': topic, 'priority': 'warning',
            'event_type': 'thing.happened', 'publisher_id': 'svc.host', 'ctxt': CTXT,
            'payload': {'n': 1, 'l': ['\u00e9', None]}})
        if lib == LIBRARIES[0]:  # the notifier declared the queue: read it
            capture.queue('%s.warn' % topic)

    shapes = {}
    for lib in LIBRARIES:
        send(lib)
        shapes[lib] = shape(capture.take('%s.warn' % topic)[0])
    assert shapes['ours'] == shapes['oslo']


# request fields -> (its _timeout, how many replies it gets)
REPLIES = {
    'result': ({'method': 'give', 'args': {'value': {'a': [1.5, None]}}}, None, 1),
    'builtin failure': ({'method': 'fail_builtin', 'args': {'message': 'bad'}}, None, 1),
    'custom failure': ({'method': 'fail_custom', 'args': {'message': 'b\u00f6\u00f6m'}},
                       None, 1),
    'expected failure': ({'method': 'fail_expected', 'args': {'message': 'x'}}, None, 1),
    'no such method': ({'method': 'nothing_here', 'args': {}}, None, 1),
    'unsupported version': ({'method': 'versioned_echo', 'args': {}, 'version': '2.0',
                             'namespace': 'interop_ns'}, None, 1),
    'heartbeats': ({'method': 'slow', 'args': {'seconds': 1.5}}, 2, 2),
}


@pytest.mark.parametrize('kind', REPLIES)
def test_replies_are_written_alike(kind, capture, servers, exchange):
    message, monitor, count = REPLIES[kind]
    reply_q = capture.queue(unique_name('capture_reply'))
    shapes = {}
    for lib in LIBRARIES:
        inner = dict(message, _msg_id=uuid.uuid4().hex, _reply_q=reply_q, _timeout=monitor,
                     _unique_id=uuid.uuid4().hex, _context_user='alice')
        capture.publish({'oslo.version': '2.0', 'oslo.message': json.dumps(inner)},
                        exchange, servers[lib].topic)
        shapes[lib] = [shape(reply) for reply in capture.take(reply_q, count)]
    assert shapes['ours'] == shapes['oslo']
