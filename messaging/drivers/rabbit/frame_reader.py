"""A lean inbound path for py-amqp's plain-TCP connections.

py-amqp reads each frame with three exact-size reads that slice ``bytes``
and copy the unread rest of its buffer, waits inside a context manager that
asks the socket for its timeout, and routes every method through generic
argument decoding and dispatch. For the methods on our hot path (deliveries
and publisher confirms) that is most of the client's CPU per message.

``install`` puts three replacements on a connected ``amqp.Connection``:

- ``FrameReader.read_frame`` replaces the transport's: frames come out of
  one receive buffer filled by ``recv_into``, with the semantics of
  py-amqp's (timeouts keep partial frames, EOF and hard errors mark the
  transport disconnected, a bad frame-end byte raises ``UnexpectedFrame``);
- ``FastDispatch.on_frame`` replaces ``on_inbound_frame``: it assembles
  ``basic.deliver`` with its content and hands ``basic.ack``/``basic.nack``
  to the channel's own handlers, and passes every other frame to py-amqp's
  handler unchanged;
- ``blocking_read`` skips py-amqp's timeout context manager when the socket
  has the wanted timeout already (our waits set it themselves).

Installed once per connection, so everything that reads on it (py-amqp's
synchronous methods too) goes through the one buffer.
"""
from __future__ import annotations

import errno
import socket
from struct import unpack_from
from typing import Any, Callable, Optional

import amqp
from amqp import spec
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

    :param transport: py-amqp's ``TCPTransport``, connected; bytes it has
        read ahead already are taken over.
    """

    def __init__(self, transport: amqp_transport.TCPTransport) -> None:
        self._transport = transport
        self._sock = transport.sock
        pending = transport._read_buffer
        transport._read_buffer = amqp_transport.EMPTY_BUFFER
        self._buf = bytearray(max(BUFFER_SIZE, len(pending)))
        self._view = memoryview(self._buf)
        self._buf[:len(pending)] = pending
        # Unread bytes are _buf[_start:_end].
        self._start = 0
        self._end = len(pending)

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


class FastDispatch:
    """Routes inbound frames: deliveries and confirms here, the rest to py-amqp.

    :param link: the connected ``amqp.Connection``.
    :param fallback: py-amqp's frame handler of ``link``.
    """

    def __init__(self, link: amqp.Connection, fallback: Callable[[tuple], bool]) -> None:
        self._link = link
        self._fallback = fallback
        # Deliveries awaiting content, by channel: [next frame type, Message].
        self._partial: dict[int, list] = {}
        # Channels where py-amqp assembles a content method (basic.return).
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
                    self._link.bytes_recv += 1
                    self._partial[channel_id] = [
                        2, Message(frame_method=_DELIVER, frame_args=payload)]
                    return False
                if method_id == _ACK[1] or method_id == _NACK[1]:
                    _channel, handler = self._handler(channel_id, (class_id, method_id))
                    if handler is not None:
                        self._link.bytes_recv += 1
                        delivery_tag, bits = unpack_from('>QB', payload, 4)
                        handler(delivery_tag, bits & 1 == 1)
                        return True
        return self._pass(frame)

    def _on_content(self, partial: list, frame_type: int, channel_id: int,
                    payload: bytes) -> bool:
        expected, msg = partial
        if frame_type != expected and frame_type != 8:
            raise UnexpectedFrame(
                f'Received frame {frame_type} while expecting type: {expected}')
        self._link.bytes_recv += 1
        if frame_type == 2:
            class_id, msg.body_size = unpack_from('>HxxQ', payload, 0)
            msg.properties = PROPERTY_CLASSES[class_id](payload, 12)[0]
            if msg.body_size:
                partial[0] = 3
                return False
            msg.ready = True
        elif frame_type == 3:
            msg.body_received += len(payload)
            chunks = msg._pending_chunks
            if msg.body_received < msg.body_size:
                chunks.append(payload)
                return False
            if chunks:
                chunks.append(payload)
                msg.body = b''.join(chunks)
                chunks[:] = []
            else:
                msg.body = payload
            msg.ready = True
        else:
            return False  # a heartbeat between content frames
        del self._partial[channel_id]
        self._deliver(channel_id, msg)
        return True

    def _deliver(self, channel_id: int, msg: Message) -> None:
        """Dispatch a complete delivery as ``Channel.dispatch_method`` does."""
        channel, handler = self._handler(channel_id, _DELIVER)
        if handler is None:
            self._link.on_inbound_method(channel_id, _DELIVER, msg.frame_args, msg)
            return
        encoding = msg.properties.get('content_encoding')
        if encoding is not None and channel.auto_decode:
            try:
                msg.body = msg.body.decode(encoding)
            except Exception:  # py-amqp keeps the body undecoded then
                pass
        args = msg.frame_args
        size = args[4]
        consumer_tag = args[5:5 + size].decode('utf-8', 'surrogatepass')
        offset = 5 + size
        delivery_tag, bits = unpack_from('>QB', args, offset)
        offset += 9
        size = args[offset]
        exchange = args[offset + 1:offset + 1 + size].decode('utf-8', 'surrogatepass')
        offset += 1 + size
        size = args[offset]
        routing_key = args[offset + 1:offset + 1 + size].decode('utf-8', 'surrogatepass')
        handler(consumer_tag, delivery_tag, bits & 1 == 1, exchange, routing_key, msg)

    def _handler(self, channel_id: int, method_sig: tuple[int, int]
                 ) -> tuple[Any, Optional[Callable[..., Any]]]:
        """The channel and its handler of ``method_sig``; the handler is
        None when py-amqp's generic dispatch must run (no such channel, a
        closing channel, a synchronous wait for this method, no handler)."""
        channels = self._link.channels
        channel = channels.get(channel_id) if channels is not None else None
        if channel is None or channel.is_closing or method_sig in channel._pending:
            return channel, None
        return channel, channel._callbacks.get(method_sig)

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


def has_buffered_frame(link: amqp.Connection) -> Optional[bool]:
    """Whether ``link``'s lean reader holds a whole unread frame; None when
    ``link`` reads through py-amqp's own path (TLS), whose buffers are not
    visible, so that a caller cannot rely on the socket's readiness alone."""
    reader = getattr(getattr(link.transport, 'read_frame', None), '__self__', None)
    if type(reader) is not FrameReader or reader._transport is not link.transport:
        return None
    return reader.has_frame()


def install(link: amqp.Connection) -> None:
    """Put the lean inbound path on ``link``, a connected py-amqp connection.

    TLS transports read through their own buffered ``SSLSocket`` and keep
    py-amqp's path. A later reconnect of the same object (new transport)
    falls back to py-amqp's path by itself.
    """
    transport = link.transport
    if type(transport) is not amqp_transport.TCPTransport or transport.sock is None:
        return
    reader = FrameReader(transport)
    read_frame = transport.read_frame = reader.read_frame
    on_frame = link.on_inbound_frame = FastDispatch(link, link.on_inbound_frame).on_frame
    sock = transport.sock
    generic_read = link.blocking_read

    def blocking_read(timeout: Optional[float] = None) -> bool:
        # py-amqp sets the timeout around each read and restores it; our
        # waits leave the socket with theirs, so that work is skipped.
        # A new transport (connect() again) has neither reader nor dispatch.
        if link._transport is not transport or (
                timeout is not None and sock.gettimeout() != timeout):
            return generic_read(timeout)
        return on_frame(read_frame())

    link.blocking_read = blocking_read
