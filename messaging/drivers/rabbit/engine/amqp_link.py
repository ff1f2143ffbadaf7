"""The py-amqp connection of the lean frame engine (lean.py): our transport,
frame reader, frame writer and dispatch registries.

Everything here goes through extension points py-amqp and kombu document,
so that the lean paths of frames.py (writing) and frame_reader.py (reading
and dispatch) need nothing private of theirs:

- ``KombuConnection`` is a ``kombu.Connection`` whose ``get_transport_cls``
  gives our ``Transport`` for every broker URL (kombu_connection.py).
- ``Transport`` is kombu's py-amqp transport building ``AmqpLink``
  connections.
- ``AmqpLink`` is kombu's py-amqp ``Connection``. Its ``Transport()`` gives
  ``LinkTransport`` (plain TCP; TLS keeps py-amqp's ``SSLTransport``), its
  ``frame_writer`` and ``frame_handler`` constructor arguments give our
  ``FrameWriter`` and ``frame_reader.FastDispatch``, its ``blocking_read``
  skips py-amqp's timeout context when the socket has the wanted timeout.
  It keeps the registries of consumers and confirm handlers FastDispatch
  serves.
- ``LinkChannel`` is kombu's py-amqp ``Channel``; it registers its
  consumers with its ``AmqpLink``.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Optional

import amqp
from amqp import method_framing
from amqp import transport as amqp_transport
from amqp.exceptions import RecoverableConnectionError
from kombu.transport import pyamqp

from messaging.drivers.rabbit.engine.frame_reader import (Confirms, Consumers, FastDispatch,
                                                          FrameReader)
from messaging.drivers.rabbit.engine.kombu_connection import PinnedKombuConnection


class FrameWriter:
    """py-amqp's frame writer of one connection, under our lock, and our
    direct writes (frames.py) under the same lock, so that the two never
    interleave frames on the socket.

    Built by py-amqp at each connect as ``frame_writer(connection,
    transport)``.
    """

    def __init__(self, connection: amqp.Connection, transport: Any) -> None:
        self.lock = threading.Lock()
        self._connection = connection
        self._transport = transport
        self._write_frame = method_framing.frame_writer(connection, transport)

    def __call__(self, frame_type: int, channel: int, method_sig: Any, args: Any,
                 content: Any) -> None:
        """Write one method (with its content) or heartbeat, as py-amqp's."""
        with self.lock:
            self._write_frame(frame_type, channel, method_sig, args, content)

    def write(self, chunks: Iterable[bytes]) -> None:
        """Write already encoded frames, in order, and count them as
        traffic for py-amqp's ``heartbeat_tick``.

        :raises RecoverableConnectionError: the transport was closed
            (py-amqp's ``collect()``, e.g. after the broker closed it).
        :raises OSError: a socket error (py-amqp's transport marks itself
            disconnected on a hard one).
        """
        transport = self._transport
        if transport.sock is None:
            raise RecoverableConnectionError('connection already closed')
        with self.lock:
            for chunk in chunks:
                transport.write(chunk)
            self._connection.bytes_sent += 1


class LinkTransport(amqp_transport.TCPTransport):
    """py-amqp's TCP transport whose frames ``frame_reader.FrameReader``
    reads, from one buffer filled by ``recv_into``."""

    frame_reader: Optional[FrameReader] = None

    def connect(self) -> None:
        """Connect as py-amqp does; frames are read by a new FrameReader."""
        super().connect()
        self.frame_reader = FrameReader(self)

    def read_frame(self, unpack: Any = None) -> tuple[int, int, bytes]:
        """The next frame as ``(type, channel, payload)``, with the errors
        of py-amqp's (``unpack`` is its argument, unused)."""
        return self.frame_reader.read_frame()


class LinkChannel(pyamqp.Channel):
    """kombu's py-amqp channel, whose consumers FastDispatch serves."""

    def basic_consume(self, queue: str = '', consumer_tag: str = '', no_local: bool = False,
                      no_ack: bool = False, exclusive: bool = False, nowait: bool = False,
                      callback: Optional[Callable[[amqp.Message], Any]] = None,
                      arguments: Optional[dict] = None,
                      on_cancel: Optional[Callable[[str], Any]] = None, **kwargs: Any) -> str:
        """Start a consumer as py-amqp does; its deliveries then take the
        lean path (registered once the broker confirmed the consumer, as
        py-amqp registers its callback)."""
        link = self.connection
        tag = super().basic_consume(queue, consumer_tag, no_local, no_ack, exclusive, nowait,
                                    callback, arguments, on_cancel, **kwargs)
        if callback is not None:
            link.consumers[(self.channel_id, tag)] = (self, callback)
        return tag

    def basic_cancel(self, consumer_tag: str, nowait: bool = False, **kwargs: Any) -> Any:
        """Cancel a consumer as py-amqp does; deliveries still in flight
        reach its callback through py-amqp's path."""
        link = self.connection
        try:
            return super().basic_cancel(consumer_tag, nowait, **kwargs)
        finally:
            if link is not None:
                link.consumers.pop((self.channel_id, consumer_tag), None)


class AmqpLink(pyamqp.Connection):
    """kombu's py-amqp connection with our transport, frame writer, frame
    handler and dispatch registries (see the module's docstring)."""

    Channel = LinkChannel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        #: Consumer callbacks FastDispatch serves, by (channel id, tag).
        self.consumers: Consumers = {}
        #: Confirm handlers FastDispatch serves, by channel id.
        self.confirm_handlers: Confirms = {}
        self._writer: Optional[FrameWriter] = None
        # (transport, read_frame, on_frame) of our blocking_read's short path.
        self._lean_read: Optional[tuple] = None
        super().__init__(*args, frame_handler=self._new_frame_handler,
                         frame_writer=self._new_frame_writer, **kwargs)

    def Transport(self, host: str, connect_timeout: Optional[float], ssl: Any = False,
                  read_timeout: Optional[float] = None, write_timeout: Optional[float] = None,
                  socket_settings: Optional[dict] = None, **kwargs: Any) -> Any:
        """A ``LinkTransport``, or py-amqp's own ``SSLTransport`` for TLS
        (which reads through its ``SSLSocket``'s buffer)."""
        if ssl:
            return super().Transport(host, connect_timeout, ssl, read_timeout, write_timeout,
                                     socket_settings=socket_settings, **kwargs)
        return LinkTransport(host, connect_timeout=connect_timeout, ssl=ssl,
                             read_timeout=read_timeout, write_timeout=write_timeout,
                             socket_settings=socket_settings, **kwargs)

    def _new_frame_handler(self, connection: amqp.Connection,
                           callback: Callable[..., Any]) -> Callable[[tuple], bool]:
        """py-amqp's ``frame_handler`` factory, called at each connect
        once the transport is connected."""
        dispatch = FastDispatch(connection, callback, self.consumers, self.confirm_handlers)
        transport = connection.transport
        reader = getattr(transport, 'frame_reader', None)
        self._lean_read = (None if reader is None
                           else (transport, reader.read_frame, dispatch.on_frame))
        return dispatch.on_frame

    def _new_frame_writer(self, connection: amqp.Connection, transport: Any) -> FrameWriter:
        """py-amqp's ``frame_writer`` factory, called at each connect."""
        self._writer = FrameWriter(connection, transport)
        return self._writer

    def write_frames(self, chunks: Iterable[bytes]) -> None:
        """Write already encoded frames under the frame writer's lock (see
        ``FrameWriter.write``)."""
        writer = self._writer
        if writer is None:
            raise RecoverableConnectionError('connection already closed')
        writer.write(chunks)

    def register_confirms(self, channel: amqp.Channel, on_ack: Callable[[int, bool], Any],
                          on_nack: Callable[[int, bool], Any]) -> None:
        """Have the broker's ``basic.ack``/``basic.nack`` on ``channel``
        handled by ``on_ack``/``on_nack(delivery_tag, multiple)``."""
        self.confirm_handlers[channel.channel_id] = (channel, on_ack, on_nack)

    def blocking_read(self, timeout: Optional[float] = None) -> bool:
        """Read and handle one frame, as py-amqp's.

        py-amqp sets the socket's timeout around each read and restores
        it; our waits leave the socket with theirs (``set_socket_timeout``),
        so when it already has ``timeout`` that work is skipped.
        """
        lean = self._lean_read
        if lean is not None:
            transport, read_frame, on_frame = lean
            sock = transport.sock
            if sock is not None and (timeout is None or sock.gettimeout() == timeout):
                return on_frame(read_frame())
        return super().blocking_read(timeout)


class Transport(pyamqp.Transport):
    """kombu's py-amqp transport, with ``AmqpLink`` connections."""

    Connection = AmqpLink


class KombuConnection(PinnedKombuConnection):
    """A ``kombu.Connection`` with our ``Transport`` for every broker URL."""

    transport_class = Transport


def has_buffered_frame(link: amqp.Connection) -> Optional[bool]:
    """Whether ``link``'s frame reader holds a whole unread frame; None when
    py-amqp's own transport reads (TLS), whose buffers are not visible, so
    that a caller cannot rely on the socket's readiness alone. False once
    ``link`` is closed (another thread may reset it under a reader)."""
    transport = link.transport
    if transport is None:
        return False
    reader = getattr(transport, 'frame_reader', None)
    if reader is None:
        return None
    return reader.has_frame()
