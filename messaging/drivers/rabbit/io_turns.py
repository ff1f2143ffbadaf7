"""Turns at a connection that one reader at a time reads (reader.py).

The reader (a hub connection's I/O thread, or the caller holding the reply
waiter's reading turn) waits for its socket to become readable *without*
the read lock, and takes the lock only to read the frames that are there.
Another thread that needs the connection (to declare, cancel, check or
delete a queue) takes a turn: it announces itself, wakes the reader through
a socketpair and gets the read lock at once; the reader waits for every
turn to end, then reads what the other thread may have left buffered. The
link (link.py) takes a turn around ``ensure``, ``exclusive`` and ``close``.
"""
from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Iterator, Optional

# The longest single wait for readiness: a wait with no deadline of its own
# still looks again now and then, and select() rejects an infinite timeout.
LONGEST_WAIT = 3600.0


class IoTurns:
    """The reader's doorbell and the count of threads waiting on it."""

    def __init__(self) -> None:
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Threads (other than the reader) using the connection now.
        self._waiters = 0
        self._turn_done = threading.Condition()
        self._reader: Optional[threading.Thread] = None
        self._stopped = False

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """While this thread is the reader: its own uses of the connection
        take no turn. One thread at a time (the reader's caller sees to it)."""
        self._reader = threading.current_thread()
        try:
            yield
        finally:
            self._reader = None

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the reader back while this thread uses the connection."""
        if threading.current_thread() is self._reader:
            yield
            return
        with self._turn_done:
            self._waiters += 1
        self.poke()
        try:
            yield
        finally:
            with self._turn_done:
                self._waiters -= 1
                self._turn_done.notify_all()
            # Frames this thread read ahead may wait in the buffer.
            self.poke()

    @property
    def wanted(self) -> bool:
        """Whether another thread waits for (or holds) a turn: the reader
        then stops reading and lets the read lock go."""
        return self._waiters > 0

    def wait_for_turns(self) -> None:
        """On the reader: wait until no other thread holds or waits for
        a turn, or the connection closes (:meth:`stop`)."""
        with self._turn_done:
            while self._waiters and not self._stopped:
                self._turn_done.wait()

    def poke(self) -> None:
        """Wake the reader from its wait for readiness."""
        try:
            self._wake_w.send(b'.')
        except (BlockingIOError, OSError):  # full (already poked) or closed
            pass

    def stop(self) -> None:
        """The connection closes: wake the reader wherever it waits,
        and wait for turns no more."""
        with self._turn_done:
            self._stopped = True
            self._turn_done.notify_all()
        self.poke()

    def wait_readable(self, sock: Optional[socket.socket], timeout: float) -> bool:
        """Wait up to ``timeout`` for ``sock`` or a poke; swallow the pokes.
        True when ``sock`` is readable (the reader need not ask again)."""
        waited = [self._wake_r] if sock is None else [sock, self._wake_r]
        try:
            ready, _, _ = select.select(waited, [], [], min(max(timeout, 0), LONGEST_WAIT))
        except (OSError, ValueError):  # the socket closed under us: read reports it
            return False
        if self._wake_r in ready:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass
        return sock is not None and sock in ready

    def close(self) -> None:
        """Close the socketpair (once the reader ended)."""
        self._wake_r.close()
        self._wake_w.close()
