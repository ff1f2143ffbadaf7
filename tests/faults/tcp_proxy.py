"""A TCP proxy for fault tests: forwards to a broker and can freeze, or
withhold some of the broker's methods.

A frozen proxy keeps every socket open but forwards nothing either way, the
way a stalled network or a hung broker looks to a client: no error, no
close, just silence. Only heartbeats can tell such a connection is dead.

A withholding proxy forwards everything but the broker's methods it was
told to withhold, on connections old and new, with the content frames of a
withheld delivery. Withholding ``CONFIRMS`` and ``DELIVERIES`` is how a
RabbitMQ 4 node cut off from its cluster's majority looks to its clients: it
takes their connections, declarations and publishes, and answers
heartbeats, but reaches no queue leader, so nothing is confirmed and no
consumer gets anything. Withholding ``DECLARE_OK`` is a broker holding a
declaration (of a queue whose leader is out of its reach).
"""
from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
from typing import Callable, Optional

# AMQP 0-9-1 (class, method) pairs a proxy can withhold.
CONFIRMS = ((60, 80), (60, 120))     # basic.ack, basic.nack
DELIVERIES = ((60, 60),)             # basic.deliver, with its content
DECLARE_OK = ((50, 11),)             # queue.declare-ok

# How long a forwarding thread waits before looking at the state again:
# bounds how late freeze(), thaw() and close() take effect.
_TICK = 0.05


class TcpProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``host:port``.

    ``accepted`` counts the client connections taken so far, so a test can
    see that a client reconnected. ``listen_port`` makes it listen on that
    port instead: a port a client was refused on until the proxy started.
    """

    def __init__(self, port: int, host: str = '127.0.0.1', listen_port: int = 0) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(('127.0.0.1', listen_port))
        self.port: int = self._listener.getsockname()[1]
        self.accepted = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._withheld: frozenset[tuple[int, int]] = frozenset()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept_loop)

    def freeze(self) -> None:
        """Stop forwarding in both directions; sockets stay open."""
        self._flowing.clear()

    def thaw(self) -> None:
        """Forward again, starting with what was held while frozen."""
        self._flowing.set()

    def withhold(self, *methods: tuple[int, int]) -> None:
        """From now on, forward none of the broker's ``methods`` ((class,
        method) pairs: ``CONFIRMS``, ``DELIVERIES``, ``DECLARE_OK``)."""
        self._withheld = frozenset(methods)

    def withheld(self) -> frozenset[tuple[int, int]]:
        """The broker's methods not forwarded now."""
        return self._withheld

    def drop(self) -> None:
        """Cut every forwarded connection (both ends); keep listening, so
        clients can connect again."""
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        """Stop listening and close every forwarded connection."""
        self._closed.set()
        self._flowing.set()
        self._listener.close()
        self.drop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True,
                                  name='tcp-proxy-%d' % self.port)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:  # closed by close()
                return
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.accepted += 1
                self._sockets.extend((client, upstream))
            self._start(self._pump, client, upstream)
            self._start(self._pump, upstream, client, _FrameFilter(self.withheld))

    def _pump(self, source: socket.socket, sink: socket.socket,
              frames: Optional['_FrameFilter'] = None) -> None:
        """Copy ``source`` to ``sink`` while flowing, until either closes;
        the broker's side through ``frames``."""
        try:
            while not self._closed.is_set():
                readable, _, _ = select.select([source], [], [], _TICK)
                if not readable:
                    continue
                data = source.recv(65536)
                # Held, not dropped, while frozen (an end of stream too):
                # a thaw delivers it.
                while not self._flowing.wait(_TICK):
                    if self._closed.is_set():
                        return
                if not data:
                    sink.shutdown(socket.SHUT_WR)
                    return
                if frames is not None:
                    data = frames.feed(data)
                sink.sendall(data)
        except (OSError, ValueError):  # the other side or close() ended it
            return


# AMQP 0-9-1 frame types.
_METHOD, _HEADER, _BODY = 1, 2, 3
_FRAME_HEAD = struct.Struct('>BHI')
_FRAME_END = 1
_DELIVER = (60, 60)


class _FrameFilter:
    """Cuts the broker's byte stream into frames and drops the methods
    ``withheld()`` names (a ``basic.deliver`` with the content frames that
    follow it on its channel)."""

    def __init__(self, withheld: Callable[[], frozenset]) -> None:
        self._withheld_now = withheld
        self._pending = b''
        # Channels whose content frames belong to a dropped delivery.
        self._dropping_content: set[int] = set()

    def feed(self, data: bytes) -> bytes:
        """The whole frames of ``data`` (and of what came before) to
        forward; a partial frame waits for the next feed."""
        buffer = self._pending + data
        forwarded = []
        offset = 0
        while len(buffer) - offset >= _FRAME_HEAD.size:
            kind, channel, size = _FRAME_HEAD.unpack_from(buffer, offset)
            end = offset + _FRAME_HEAD.size + size + _FRAME_END
            if len(buffer) < end:
                break
            if not self._withheld(kind, channel, buffer, offset + _FRAME_HEAD.size):
                forwarded.append(buffer[offset:end])
            offset = end
        self._pending = buffer[offset:]
        return b''.join(forwarded)

    def _withheld(self, kind: int, channel: int, buffer: bytes, payload: int) -> bool:
        if kind == _METHOD:
            self._dropping_content.discard(channel)
            method = struct.unpack_from('>HH', buffer, payload)
            if method not in self._withheld_now():
                return False
            if method == _DELIVER:
                self._dropping_content.add(channel)
            return True
        return kind in (_HEADER, _BODY) and channel in self._dropping_content
