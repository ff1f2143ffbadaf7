"""The frame engine interface on each engine (lean and stock): the same
frames on the wire for a publish, an ack and a reject, publisher confirms
reaching the handlers registered with the engine, a closed channel failing
as py-amqp fails, the transport kept on failover, and the option naming
the engines."""
from __future__ import annotations

import contextlib
import struct
from types import ModuleType
from typing import Any, Iterator

import pytest
from amqp.exceptions import RecoverableConnectionError
from kombu.transport import pyamqp

from messaging.drivers.rabbit import options as rabbit_options
from messaging.drivers.rabbit.engine import ENGINES, amqp_link, engine_named, lean, stock
from tests import frame_engine

FRAME_MAX = 4096
DEAD_URLS = ['amqp://guest:guest@127.0.0.1:1//', 'amqp://guest:guest@127.0.0.1:2//']
PROPERTIES = {'content_type': 'application/json', 'content_encoding': 'utf-8',
              'application_headers': {'x': 1}, 'delivery_mode': 2, 'priority': 0,
              'expiration': None}


class FakeTransport:
    """Collects what is written, as py-amqp's transport would send it."""

    def __init__(self) -> None:
        self.sock = object()
        self.writes: list[bytes] = []

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    @contextlib.contextmanager
    def having_timeout(self, timeout: Any) -> Iterator[Any]:
        yield self.sock


@pytest.fixture(params=sorted(ENGINES))
def engine(request) -> ModuleType:
    return ENGINES[request.param]


def _channel(engine: ModuleType) -> tuple[Any, FakeTransport]:
    """A channel (id 1) of the py-amqp connection class the engine's kombu
    connection makes, with the frame writer and frame handler its connect()
    would build, over a fake transport."""
    kombu_connection = engine.kombu_connection(DEAD_URLS)
    connection = kombu_connection.get_transport_cls().Connection(frame_max=FRAME_MAX)
    transport = FakeTransport()
    connection.transport = transport
    connection.frame_writer = connection.frame_writer_cls(connection, transport)
    connection.on_inbound_frame = connection.frame_handler_cls(
        connection, connection.on_inbound_method)
    return connection.Channel(connection, 1), transport


def _written(engine: ModuleType) -> list[bytes]:
    channel, transport = _channel(engine)
    engine.publish(channel, 'openstack', 'compute.host1', b'{"a": 1}' * 1400,
                   engine.encode_properties(PROPERTIES), mandatory=True)
    engine.ack(channel, 7)
    engine.reject(channel, 8, requeue=False)
    return transport.writes


def test_both_engines_put_the_same_bytes_on_the_wire():
    lean_bytes, stock_bytes = _written(lean), _written(stock)
    # A body over frame_max: several body frames.
    assert len(b''.join(lean_bytes)) > 2 * FRAME_MAX
    assert b''.join(lean_bytes) == b''.join(stock_bytes)


@pytest.mark.parametrize('method_id, outcome', [(80, 'ack'), (120, 'nack')])
def test_a_confirm_reaches_the_handlers_registered_with_the_engine(engine, method_id,
                                                                   outcome):
    channel, _transport = _channel(engine)
    heard = []
    engine.register_confirms(channel, lambda tag, multiple: heard.append(('ack', tag, multiple)),
                             lambda tag, multiple: heard.append(('nack', tag, multiple)))
    payload = struct.pack('>HHQB', 60, method_id, 5, 1)
    channel.connection.on_inbound_frame((1, 1, payload))
    assert heard == [(outcome, 5, True)]


@pytest.mark.parametrize('settle', ['ack', 'reject', 'publish'])
def test_a_channel_closed_by_another_thread_fails_as_py_amqp_does(engine, settle):
    channel, transport = _channel(engine)
    channel.collect()  # what a reading thread does when the broker closes it
    calls = {'ack': lambda: engine.ack(channel, 1),
             'reject': lambda: engine.reject(channel, 1, True),
             'publish': lambda: engine.publish(channel, '', 'q', b'x',
                                               engine.encode_properties(PROPERTIES))}
    with pytest.raises(RecoverableConnectionError):
        calls[settle]()
    assert transport.writes == []


def test_each_engine_keeps_its_transport_for_every_broker_url(engine):
    connection = engine.kombu_connection(DEAD_URLS)
    expected = amqp_link.Transport if engine is lean else pyamqp.Transport
    assert connection.get_transport_cls() is expected
    connection.maybe_switch_next()
    assert connection.get_transport_cls() is expected


def test_only_the_lean_engine_sees_its_receive_buffer(engine):
    channel, _transport = _channel(engine)
    # A transport without our frame reader (TLS on the lean engine).
    assert engine.has_buffered_frame(channel.connection) is None


def test_the_option_names_the_engines_and_is_marked_as_ours():
    # Its default is the test run's engine here (tests/conftest.py); the
    # sample configuration shows the shipped one.
    [option] = [opt for opt in rabbit_options.rabbit_opts if opt.name == 'rabbit_frame_engine']
    assert set(option.type.choices) == set(ENGINES)
    assert option.default == frame_engine.NAME
    assert 'Not an oslo.messaging option' in option.help
    with pytest.raises(ValueError, match='no frame engine'):
        engine_named('fast')
