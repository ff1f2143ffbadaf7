"""The frames encoded directly for publish, ack and reject are byte for byte
those py-amqp's generic frame writer produces, and writing them (through
amqp_link's frame writer) keeps py-amqp's errors, never interleaves with
py-amqp's own frames and counts as heartbeat traffic."""
from __future__ import annotations

import socket
from types import SimpleNamespace

import amqp
import pytest
from amqp import spec
from amqp.exceptions import RecoverableConnectionError
from amqp.method_framing import frame_writer
from amqp.serialization import dumps
from hypothesis import given, settings
from hypothesis import strategies as st

from messaging.drivers.rabbit.engine import amqp_link, frames

FRAME_MAX = 4096
CHUNK = FRAME_MAX - frames.FRAME_OVERHEAD
OUR_PROPERTIES = {'content_type': 'application/json', 'content_encoding': 'utf-8',
                  'application_headers': {}, 'delivery_mode': 2, 'priority': 0}


class FakeTransport:
    """Collects what is written; ``fail`` is raised by the next write;
    ``sock`` None once closed, as py-amqp's transport."""

    def __init__(self) -> None:
        self.sock = object()
        self.writes: list[bytes] = []
        self.fail: BaseException | None = None
        self.on_write = lambda: None

    def write(self, data) -> None:
        if self.fail is not None:
            raise self.fail
        self.on_write()
        self.writes.append(bytes(data))


def _link(frame_max: int = FRAME_MAX) -> tuple[amqp_link.AmqpLink, FakeTransport]:
    """An AmqpLink as far as frame writing goes: with the frame writer its
    connect() builds, over a fake transport."""
    transport = FakeTransport()
    link = amqp_link.AmqpLink(frame_max=frame_max)
    link.frame_writer = link.frame_writer_cls(link, transport)
    return link, transport


def _channel(link: amqp_link.AmqpLink | None, channel_id: int = 1) -> SimpleNamespace:
    return SimpleNamespace(connection=link, channel_id=channel_id)


def _amqp_publish(exchange: str, routing_key: str, body: bytes, properties: dict,
                  mandatory: bool, frame_max: int = FRAME_MAX, channel_id: int = 1) -> bytes:
    """The bytes py-amqp's basic_publish writes for the same message."""
    transport = FakeTransport()
    writer = frame_writer(SimpleNamespace(frame_max=frame_max, bytes_sent=0), transport)
    args = dumps('Bssbb', (0, exchange, routing_key, mandatory, False))
    writer(1, channel_id, spec.Basic.Publish, args, amqp.Message(body, **properties))
    return b''.join(transport.writes)


def _our_publish(exchange: str, routing_key: str, body: bytes, properties: dict,
                 mandatory: bool, frame_max: int = FRAME_MAX, channel_id: int = 1) -> bytes:
    return b''.join(frames.encode_publish(channel_id, frame_max, exchange, routing_key,
                                          mandatory, frames.encode_properties(properties),
                                          body))


@pytest.mark.parametrize('exchange, routing_key', [
    ('', 'reply_0123456789abcdef'),
    ('openstack', 'compute.host-1'),
    ('échange', 'clé.路由.🐇'),
])
@pytest.mark.parametrize('body_size', [0, 1, 400, CHUNK - 1, CHUNK, CHUNK + 1,
                                       3 * CHUNK, 5 * CHUNK + 17])
@pytest.mark.parametrize('headers, expiration, mandatory', [
    ({}, None, False),
    ({'compression': 'application/x-gzip'}, '60000', True),
    ({}, '1500', True),
    ({'compression': 'application/x-gzip', 'n': 3, 'ok': True}, None, False),
])
def test_a_publish_is_what_py_amqp_writes(exchange, routing_key, body_size, headers,
                                          expiration, mandatory):
    body = bytes(range(256)) * (body_size // 256) + b'\x07' * (body_size % 256)
    properties = dict(OUR_PROPERTIES, application_headers=headers, expiration=expiration)
    assert (_our_publish(exchange, routing_key, body, properties, mandatory)
            == _amqp_publish(exchange, routing_key, body, properties, mandatory))


_HEADER_VALUES = st.one_of(st.text(max_size=20), st.integers(-2**31, 2**31 - 1),
                           st.booleans(), st.none())
_SHORTSTR = st.text(max_size=60)  # at most 4 bytes a character: under 255
_ANY_PROPERTIES = st.fixed_dictionaries({}, optional={
    'content_type': _SHORTSTR, 'content_encoding': _SHORTSTR,
    'application_headers': st.dictionaries(st.text(min_size=1, max_size=20),
                                           _HEADER_VALUES, max_size=4),
    'delivery_mode': st.integers(1, 2), 'priority': st.integers(0, 255),
    'correlation_id': _SHORTSTR, 'reply_to': _SHORTSTR, 'expiration': _SHORTSTR,
    'message_id': _SHORTSTR, 'timestamp': st.integers(0, 2**63), 'type': _SHORTSTR,
    'user_id': _SHORTSTR, 'app_id': _SHORTSTR, 'cluster_id': _SHORTSTR,
})


@settings(max_examples=300, deadline=None)
@given(properties=_ANY_PROPERTIES, exchange=_SHORTSTR, routing_key=_SHORTSTR,
       body=st.binary(max_size=3 * 600), frame_max=st.integers(512, 700),
       mandatory=st.booleans(), channel_id=st.integers(1, 65535))
def test_any_publish_with_any_basic_properties_is_what_py_amqp_writes(
        properties, exchange, routing_key, body, frame_max, mandatory, channel_id):
    ours = _our_publish(exchange, routing_key, body, properties, mandatory, frame_max,
                        channel_id)
    assert ours == _amqp_publish(exchange, routing_key, body, properties, mandatory,
                                 frame_max, channel_id)


def test_a_large_body_is_written_in_batches_of_whole_frames(monkeypatch):
    monkeypatch.setattr(frames, 'WRITE_BATCH', 3 * CHUNK)
    body = b'\x01\x02\x03' * (4 * CHUNK)
    chunks = list(frames.encode_publish(1, FRAME_MAX, '', 'q', False,
                                        frames.encode_properties(OUR_PROPERTIES), body))
    assert len(chunks) == 4
    assert all(chunk.endswith(b'\xce') for chunk in chunks)
    assert b''.join(chunks) == _amqp_publish('', 'q', body, OUR_PROPERTIES, False)


def test_a_routing_key_over_255_bytes_is_refused_as_py_amqp_refuses_it():
    with pytest.raises(Exception) as ours:
        _our_publish('', 'k' * 256, b'', OUR_PROPERTIES, False)
    with pytest.raises(Exception) as theirs:
        _amqp_publish('', 'k' * 256, b'', OUR_PROPERTIES, False)
    assert type(ours.value) is type(theirs.value)


@pytest.mark.parametrize('delivery_tag', [1, 2**40 + 3, 2**64 - 1])
@pytest.mark.parametrize('flag', [False, True])
def test_ack_and_reject_are_what_py_amqp_writes(delivery_tag, flag):
    for method, ours in ((spec.Basic.Ack, frames.encode_ack(7, delivery_tag, flag)),
                         (spec.Basic.Reject, frames.encode_reject(7, delivery_tag, flag))):
        link, transport = _link()
        link.frame_writer(1, 7, method, dumps('Lb', (delivery_tag, flag)), None)
        assert transport.writes == [ours]


def test_our_writes_and_py_amqps_take_the_one_frame_writer_lock_and_count_as_traffic():
    link, transport = _link()
    lock = link.frame_writer.lock
    held = []
    transport.on_write = lambda: held.append(lock.locked())
    frames.publish(_channel(link), 'x', 'k', b'{}', frames.encode_properties({}), True)
    frames.ack(_channel(link), 1)
    frames.reject(_channel(link), 2, requeue=True)
    link.send_heartbeat()  # py-amqp's own frame
    assert held == [True, True, True, True]
    assert len(transport.writes) == 4 and link.bytes_sent == 4
    assert not lock.locked()


def test_a_write_timeout_is_py_amqps_recoverable_timed_out_error():
    link, transport = _link()
    transport.fail = socket.timeout('timed out')
    with pytest.raises(RecoverableConnectionError, match='basic_publish: timed out'):
        frames.publish(_channel(link), '', 'q', b'x', frames.encode_properties({}))
    assert link.bytes_sent == 0
    # An ack's timeout stays the socket error it is, as py-amqp's.
    with pytest.raises(socket.timeout):
        frames.ack(_channel(link), 1)


def test_other_socket_errors_pass_through():
    link, transport = _link()
    transport.fail = ConnectionResetError('reset by peer')
    with pytest.raises(ConnectionResetError):
        frames.publish(_channel(link), '', 'q', b'x', frames.encode_properties({}))


def test_a_closed_channel_or_connection_raises_py_amqps_errors():
    with pytest.raises(RecoverableConnectionError, match='basic_publish: connection closed'):
        frames.publish(_channel(None), '', 'q', b'x', frames.encode_properties({}))
    with pytest.raises(RecoverableConnectionError, match='connection already closed'):
        frames.ack(_channel(None), 1)
    link, transport = _link()
    transport.sock = None  # what py-amqp's collect() leaves
    with pytest.raises(RecoverableConnectionError, match='connection already closed'):
        frames.reject(_channel(link), 1, requeue=False)
    never_connected = amqp_link.AmqpLink()
    with pytest.raises(RecoverableConnectionError, match='connection already closed'):
        frames.ack(_channel(never_connected), 1)
