"""A lean inbound path for py-amqp connections: frames read from one buffer,
deliveries and publisher confirms dispatched without py-amqp's generic path.

py-amqp reads each frame with three exact-size reads that slice ``bytes``
and copy the unread rest of its buffer, and routes every method through
generic argument decoding and dispatch. For the methods on our hot path
(deliveries and publisher confirms) that is most of the client's CPU per
message. This module holds the two pure parts; amqp_link puts them into the
py-amqp connection the driver uses:

- ``FrameReader.read_frame`` is the ``read_frame`` of our TCP transport:
  frames come out of one receive buffer filled by ``recv_into``, with the
  semantics of py-amqp's (timeouts keep partial frames, EOF and hard errors
  mark the transport disconnected, a bad frame-end byte raises
  ``UnexpectedFrame``);
- ``FastDispatch.on_frame`` is the connection's frame handler: it assembles
  ``basic.deliver`` with its content for the consumers in our registry and
  hands ``basic.ack``/``basic.nack`` to the confirm handlers in our
  registry; every other frame, and any delivery or confirm nobody
  registered, goes to py-amqp's handler unchanged.
"""
from __future__ import annotations

import errno
import socket
from struct import unpack_from
from typing import Any, Callable, Dict, Tuple

import amqp
from amqp import method_framing, spec
from amqp import transport as amqp_transport
from amqp.basic_message import Message
from amqp.exceptions import UnexpectedFrame
from amqp.serialization import PROPERTY_CLASSES

# Initial size of the receive buffer: one recv takes many small frames.
# It grows to hold a frame larger than this (up to the negotiated frame_max).
BUFFER_SIZE = 65536
# Free space below which the unread bytes move to the front before a
# recv, so that each recv can take several frames.
MIN_RECV = 4096

FRAME_END = 206
_HEADER = 7
_RETRY_ERRNOS = (errno.EAGAIN, errno.EINTR)
# py-amqp's set of errnos after which the socket stays usable.
_UNAVAIL = {errno.EAGAIN, errno.EINTR, errno.ENOENT, errno.EWOULDBLOCK}

_DELIVER = spec.Basic.Deliver
_ACK = spec.Basic.Ack
_NACK = spec.Basic.Nack
_BASIC_CLASS = spec.Basic.Deliver[0]
_CONTENT_METHODS = frozenset([spec.Basic.Return, spec.Basic.Deliver, spec.Basic.GetOk])


class FrameReader:
    """Reads AMQP frames of one TCP transport from a single buffer.

    :param transport: py-amqp's ``TCPTransport``, connected, that has read
        nothing yet: every frame it receives is read here.
    """

    def __init__(self, transport: amqp_transport.TCPTransport) -> None:
        self._transport = transport
        self._sock = transport.sock
        self._buf = bytearray(BUFFER_SIZE)
        self._view = memoryview(self._buf)
        # Unread bytes are _buf[_start:_end].
        self._start = 0
        self._end = 0

    def read_frame(self) -> tuple[int, int, bytes]:
        """The next frame as ``(type, channel, payload)``, as py-amqp's.

        A frame already buffered costs no system call. Bytes of a frame
        not yet complete stay buffered across a ``socket.timeout``.

        :raises socket.timeout: the socket's timeout passed first.
        :raises OSError: EOF (``Server unexpectedly closed connection``) or
            a socket error; the transport is then marked disconnected.
        :raises UnexpectedFrame: the frame does not end with 0xCE.
        """
        while True:
            start = self._start
            end = self._end
            if end - start >= _HEADER:
                frame_type, channel, size = unpack_from('>BHI', self._buf, start)
                stop = start + _HEADER + size + 1
                if stop <= end:
                    payload = self._view[start + _HEADER:stop - 1].tobytes()
                    frame_end = self._buf[stop - 1]
                    if stop == end:
                        self._start = self._end = 0
                    else:
                        self._start = stop
                    if frame_end != FRAME_END:
                        raise UnexpectedFrame(
                            f'Received frame_end {frame_end:#04x} while expecting 0xce')
                    return frame_type, channel, payload
                self._receive(stop - start, initial=False)
            else:
                self._receive(_HEADER, initial=True)

    def has_frame(self) -> bool:
        """Whether a whole frame is buffered: ``read_frame`` returns it
        without a system call (and a wait on the socket would miss it)."""
        start = self._start
        if self._end - start < _HEADER:
            return False
        return start + _HEADER + unpack_from('>I', self._buf, start + 3)[0] + 1 <= self._end

    def _receive(self, frame_size: int, initial: bool) -> None:
        """One ``recv_into`` after the buffered part of the current frame
        (``frame_size`` bytes in all), with py-amqp's error handling.

        :param initial: the frame header is incomplete; py-amqp reports an
            interrupted read there as a timeout (``raise_on_initial_eintr``).
        """
        if self._start + frame_size > len(self._buf) or (
                self._start and len(self._buf) - self._end < MIN_RECV):
            self._make_room(frame_size)
        transport = self._transport
        while True:
            try:
                received = self._sock.recv_into(self._view[self._end:])
            except socket.timeout:
                raise
            except OSError as exc:
                if exc.errno in _RETRY_ERRNOS:
                    if initial and transport.raise_on_initial_eintr:
                        raise socket.timeout() from exc
                    continue
                if exc.errno not in _UNAVAIL:
                    transport.connected = False
                raise
            if not received:
                transport.connected = False
                raise OSError('Server unexpectedly closed connection')
            self._end += received
            return

    def _make_room(self, frame_size: int) -> None:
        """Move the unread bytes to the front, in a larger buffer when a
        frame of ``frame_size`` bytes would not fit."""
        unread = self._buf[self._start:self._end]
        if frame_size > len(self._buf):
            self._buf = bytearray(frame_size + MIN_RECV)
            self._view = memoryview(self._buf)
        self._buf[:len(unread)] = unread
        self._start, self._end = 0, len(unread)


# A consumer's callback, by channel id and consumer tag, with its channel.
Consumers = Dict[Tuple[int, str], Tuple[amqp.Channel, Callable[[Message], Any]]]
# A channel's confirm handlers (ack, nack), by channel id, with the channel.
Confirms = Dict[int, Tuple[amqp.Channel, Callable[[int, bool], Any],
                           Callable[[int, bool], Any]]]


class _Delivery:
    """A ``basic.deliver`` to a registered consumer, awaiting its content."""

    __slots__ = ('expected', 'msg', 'chunks', 'consumer_tag', 'channel', 'callback')

    def __init__(self, msg: Message, consumer_tag: str, channel: amqp.Channel,
                 callback: Callable[[Message], Any]) -> None:
        self.expected = 2  # the frame type that must come next
        self.msg = msg
        self.chunks: list[bytes] = []
        self.consumer_tag = consumer_tag
        self.channel = channel
        self.callback = callback


class FastDispatch:
    """Routes inbound frames: deliveries and confirms for our registries
    here, everything else to py-amqp's frame handler.

    :param link: the ``amqp.Connection`` whose frames these are.
    :param on_method: py-amqp's method callback of ``link``
        (``on_inbound_method``), which its frame handler calls.
    :param consumers: consumer callbacks; a delivery to a consumer not in
        it is assembled and dispatched by py-amqp.
    :param confirms: confirm handlers; an ack or nack on a channel not in
        it goes to py-amqp.
    """

    def __init__(self, link: amqp.Connection, on_method: Callable[..., Any],
                 consumers: Consumers, confirms: Confirms) -> None:
        self._link = link
        self._on_method = on_method
        self._fallback = method_framing.frame_handler(link, on_method)
        self._consumers = consumers
        self._confirms = confirms
        # Deliveries awaiting content, by channel.
        self._partial: dict[int, _Delivery] = {}
        # Channels where py-amqp assembles a content method.
        self._amqp_content: set[int] = set()

    def on_frame(self, frame: tuple[int, int, bytes]) -> bool:
        """Handle one frame as py-amqp's ``on_inbound_frame`` does.

        Returns True once a method (with its content) was dispatched,
        False while content is awaited or for a heartbeat.
        """
        frame_type, channel_id, payload = frame
        partial = self._partial.get(channel_id)
        if partial is not None:
            return self._on_content(partial, frame_type, channel_id, payload)
        if frame_type == 1 and channel_id not in self._amqp_content:
            class_id, method_id = unpack_from('>HH', payload, 0)
            if class_id == _BASIC_CLASS:
                if method_id == _DELIVER[1]:
                    size = payload[4]
                    tag = payload[5:5 + size].decode('utf-8', 'surrogatepass')
                    consumer = self._consumers.get((channel_id, tag))
                    if consumer is not None:
                        self._link.bytes_recv += 1
                        self._partial[channel_id] = _Delivery(
                            Message(frame_method=_DELIVER, frame_args=payload), tag,
                            *consumer)
                        return False
                elif method_id == _ACK[1] or method_id == _NACK[1]:
                    confirm = self._confirms.get(channel_id)
                    if confirm is not None and self._live(channel_id, confirm[0]):
                        self._link.bytes_recv += 1
                        delivery_tag, bits = unpack_from('>QB', payload, 4)
                        handler = confirm[1] if method_id == _ACK[1] else confirm[2]
                        handler(delivery_tag, bits & 1 == 1)
                        return True
        return self._pass(frame)

    def _on_content(self, partial: _Delivery, frame_type: int, channel_id: int,
                    payload: bytes) -> bool:
        expected = partial.expected
        if frame_type != expected and frame_type != 8:
            raise UnexpectedFrame(
                f'Received frame {frame_type} while expecting type: {expected}')
        self._link.bytes_recv += 1
        msg = partial.msg
        if frame_type == 2:
            class_id, msg.body_size = unpack_from('>HxxQ', payload, 0)
            msg.properties = PROPERTY_CLASSES[class_id](payload, 12)[0]
            if msg.body_size:
                partial.expected = 3
                return False
            msg.ready = True
        elif frame_type == 3:
            msg.body_received += len(payload)
            chunks = partial.chunks
            if msg.body_received < msg.body_size:
                chunks.append(payload)
                return False
            if chunks:
                chunks.append(payload)
                msg.body = b''.join(chunks)
            else:
                msg.body = payload
            msg.ready = True
        else:
            return False  # a heartbeat between content frames
        del self._partial[channel_id]
        self._deliver(channel_id, partial)
        return True

    def _deliver(self, channel_id: int, delivery: _Delivery) -> None:
        """Dispatch a complete delivery as py-amqp's channel does
        (``dispatch_method``, then ``basic.deliver``'s handler)."""
        msg = delivery.msg
        channel = delivery.channel
        if not self._live(channel_id, channel):
            # py-amqp's word on a delivery to a closing or closed channel.
            self._on_method(channel_id, _DELIVER, msg.frame_args, msg)
            return
        encoding = msg.properties.get('content_encoding')
        if encoding is not None and channel.auto_decode:
            try:
                msg.body = msg.body.decode(encoding)
            except Exception:  # py-amqp keeps the body undecoded then
                pass
        args = msg.frame_args
        offset = 5 + args[4]  # after the consumer tag
        delivery_tag, bits = unpack_from('>QB', args, offset)
        offset += 9
        size = args[offset]
        exchange = args[offset + 1:offset + 1 + size].decode('utf-8', 'surrogatepass')
        offset += 1 + size
        size = args[offset]
        routing_key = args[offset + 1:offset + 1 + size].decode('utf-8', 'surrogatepass')
        msg.channel = channel
        msg.delivery_info = {'consumer_tag': delivery.consumer_tag, 'delivery_tag': delivery_tag,
                             'redelivered': bits & 1 == 1, 'exchange': exchange,
                             'routing_key': routing_key}
        delivery.callback(msg)

    def _live(self, channel_id: int, channel: amqp.Channel) -> bool:
        """Whether ``channel`` is still the link's open channel of that id
        (py-amqp ignores methods on a closing channel)."""
        channels = self._link.channels
        return (channels is not None and channels.get(channel_id) is channel
                and not channel.is_closing)

    def _pass(self, frame: tuple[int, int, bytes]) -> bool:
        """Give ``frame`` to py-amqp, noting on which channels it assembles
        content, whose header and body frames must follow it there."""
        frame_type, channel_id, payload = frame
        if frame_type == 1:
            done = self._fallback(frame)
            if unpack_from('>HH', payload, 0) in _CONTENT_METHODS:
                self._amqp_content.add(channel_id)
            return done
        if frame_type in (2, 3) and channel_id in self._amqp_content:
            try:
                done = self._fallback(frame)
            except Exception:
                self._amqp_content.discard(channel_id)
                raise
            if done:
                self._amqp_content.discard(channel_id)
            return done
        return self._fallback(frame)
