"""A TCP proxy for fault tests: forwards to a broker and can freeze.

A frozen proxy keeps every socket open but forwards nothing either way, the
way a stalled network or a hung broker looks to a client: no error, no
close, just silence. Only heartbeats can tell such a connection is dead.
"""
from __future__ import annotations

import contextlib
import select
import socket
import threading

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
            self._start(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        """Copy ``source`` to ``sink`` while flowing, until either closes."""
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
                sink.sendall(data)
        except (OSError, ValueError):  # the other side or close() ended it
            return
