"""The AMQP 0-9-1 frames written for every message, encoded directly:
basic.publish with its content header and body, basic.ack and basic.reject.

py-amqp writes every method through one generic path that interprets the
method's argument signature, flushes bits and builds struct formats on each
call, and serialises content properties the same way: about half the CPU of
publishing a small message. Here each frame has a precomputed layout and a
whole publish goes to the socket in one write.

The lean frame engine's writing half (see lean.py). The frames are
written by the connection's ``write_frames`` (amqp_link.AmqpLink): through
py-amqp's transport, so socket errors are py-amqp's own, and under the lock
of the frame writer py-amqp writes through, so they never interleave with
frames py-amqp writes itself (heartbeats, the close-ok it answers while
reading).
"""
from __future__ import annotations

import struct
from typing import Any, Callable, Iterator, Mapping

import amqp
from amqp import serialization
from amqp.exceptions import RecoverableConnectionError

from messaging.drivers.rabbit.engine.connection_state import open_channel

_FRAME_END = b'\xce'
# Frame type, channel, payload size, then the frame end: what a frame adds
# to its payload. A body frame's payload is at most frame_max minus this.
FRAME_OVERHEAD = 8
# Body bytes joined into one socket write at most: a large message is not
# copied whole a second time, only this much of it at once.
WRITE_BATCH = 1 << 20

_OCTET = struct.Struct('>B')
_LONGLONG = struct.Struct('>Q')
_FLAGS = struct.Struct('>H')
# basic.publish (60, 40) up to the exchange's bytes: frame type 1, channel,
# payload size; class, method, reserved-1 (0), length of the exchange name.
_PUBLISH_START = struct.Struct('>BHIHHHB')
# After the routing key: the bits octet and the frame end; then the content
# header frame (type 2) up to its property flags: channel, payload size,
# class 60, weight 0, body size.
_PUBLISH_BITS_HEADER = struct.Struct('>BBBHIHHQ')
_BODY_START = struct.Struct('>BHI')
# basic.ack (60, 80) and basic.reject (60, 90): a whole method frame of a
# delivery tag and one bit.
_SETTLE = struct.Struct('>BHIHHQBB')
_SETTLE_SIZE = 13
_EMPTY_TABLE = b'\x00\x00\x00\x00'


def _shortstr(value: str | bytes) -> bytes:
    if isinstance(value, str):
        value = value.encode('utf-8', 'surrogatepass')
    return _OCTET.pack(len(value)) + value


def _table(value: Mapping[str, Any]) -> bytes:
    return serialization.dumps('F', [value]) if value else _EMPTY_TABLE


# The basic class's properties in AMQP flag order (first = bit 15), each
# with its encoder.
_PROPERTIES: tuple[tuple[str, int, Callable[[Any], bytes]], ...] = tuple(
    (name, 1 << (15 - index), encode) for index, (name, encode) in enumerate((
        ('content_type', _shortstr),
        ('content_encoding', _shortstr),
        ('application_headers', _table),
        ('delivery_mode', _OCTET.pack),
        ('priority', _OCTET.pack),
        ('correlation_id', _shortstr),
        ('reply_to', _shortstr),
        ('expiration', _shortstr),
        ('message_id', _shortstr),
        ('timestamp', _LONGLONG.pack),
        ('type', _shortstr),
        ('user_id', _shortstr),
        ('app_id', _shortstr),
        ('cluster_id', _shortstr),
    )))


def encode_properties(properties: Mapping[str, Any]) -> bytes:
    """The property flags and list of a content header, as py-amqp's
    ``Message`` would send ``properties``.

    Properties that are None are absent; names that are not basic
    properties are ignored, as py-amqp does. ``timestamp`` is an int
    (seconds since the epoch).
    """
    flags = 0
    fields = []
    for name, flag, encode in _PROPERTIES:
        value = properties.get(name)
        if value is not None:
            flags |= flag
            fields.append(encode(value))
    return _FLAGS.pack(flags) + b''.join(fields)


def encode_publish(channel_id: int, frame_max: int, exchange: str, routing_key: str,
                   mandatory: bool, properties: bytes, body: bytes) -> Iterator[bytes]:
    """The frames of a basic.publish of ``body``, in the chunks to write.

    One chunk unless the body is larger than ``WRITE_BATCH``; the body is
    cut into frames of ``frame_max - FRAME_OVERHEAD`` bytes.

    :param properties: from :func:`encode_properties`.
    :raises struct.error: an exchange or routing key over 255 bytes.
    """
    exchange_raw = exchange.encode('utf-8', 'surrogatepass')
    key_raw = routing_key.encode('utf-8', 'surrogatepass')
    size = len(body)
    parts: list[Any] = [
        _PUBLISH_START.pack(1, channel_id, 9 + len(exchange_raw) + len(key_raw),
                            60, 40, 0, len(exchange_raw)),
        exchange_raw, _OCTET.pack(len(key_raw)), key_raw,
        _PUBLISH_BITS_HEADER.pack(1 if mandatory else 0, 0xCE, 2, channel_id,
                                  12 + len(properties), 60, 0, size),
        properties, _FRAME_END]
    frame_size = frame_max - FRAME_OVERHEAD
    if size <= frame_size:
        if size:
            parts += (_BODY_START.pack(3, channel_id, size), body, _FRAME_END)
        yield b''.join(parts)
        return
    # A memoryview cuts frames without copying; the join copies once.
    view = memoryview(body)
    batched = 0
    for start in range(0, size, frame_size):
        piece = view[start:start + frame_size]
        parts += (_BODY_START.pack(3, channel_id, len(piece)), piece, _FRAME_END)
        batched += len(piece)
        if batched >= WRITE_BATCH:
            yield b''.join(parts)
            parts, batched = [], 0
    if parts:
        yield b''.join(parts)


def encode_ack(channel_id: int, delivery_tag: int, multiple: bool = False) -> bytes:
    """The basic.ack frame settling ``delivery_tag`` (and, with
    ``multiple``, every earlier delivery)."""
    return _SETTLE.pack(1, channel_id, _SETTLE_SIZE, 60, 80, delivery_tag,
                        1 if multiple else 0, 0xCE)


def encode_reject(channel_id: int, delivery_tag: int, requeue: bool) -> bytes:
    """The basic.reject frame of ``delivery_tag``; ``requeue`` False drops
    (or dead-letters) it."""
    return _SETTLE.pack(1, channel_id, _SETTLE_SIZE, 60, 90, delivery_tag,
                        1 if requeue else 0, 0xCE)


def publish(channel: amqp.Channel, exchange: str, routing_key: str, body: bytes,
            properties: bytes, mandatory: bool = False) -> None:
    """Write a basic.publish of ``body`` on ``channel``, as
    ``Channel.basic_publish`` does and with its errors.

    py-amqp's publish also reads pending frames first when the broker can
    block connections; a publish with confirms reads them right after, in
    its confirm wait, so this one does not.

    :param properties: from :func:`encode_properties`.
    :raises RecoverableConnectionError: the channel is closed
        (``basic_publish: connection closed``) or the socket timed out
        (``basic_publish: timed out``).
    :raises OSError: any other socket error.
    """
    link, channel_id = open_channel(channel, 'basic_publish: connection closed')
    try:
        link.write_frames(encode_publish(channel_id, link.frame_max, exchange,
                                         routing_key, mandatory, properties, body))
    except TimeoutError as ex:
        # py-amqp's word: a write timeout means the socket is dead, a
        # connection error for retries to reconnect.
        raise RecoverableConnectionError('basic_publish: timed out') from ex


def ack(channel: amqp.Channel, delivery_tag: int) -> None:
    """Ack one delivery received on ``channel``, as ``Channel.basic_ack`` does.

    :raises RecoverableConnectionError: the channel is closed.
    :raises OSError: a socket error.
    """
    link, channel_id = open_channel(channel, 'connection already closed')
    link.write_frames((encode_ack(channel_id, delivery_tag),))


def reject(channel: amqp.Channel, delivery_tag: int, requeue: bool) -> None:
    """Reject one delivery received on ``channel``, as
    ``Channel.basic_reject`` does.

    :raises RecoverableConnectionError: the channel is closed.
    :raises OSError: a socket error.
    """
    link, channel_id = open_channel(channel, 'connection already closed')
    link.write_frames((encode_reject(channel_id, delivery_tag, requeue),))

