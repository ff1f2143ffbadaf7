"""A listening connection shared by many listeners, read by one I/O thread.

A :class:`SharedConnection` is a ``Connection`` whose consumers belong to
many listeners (see consumer_hub.py). One thread per connection reads its
deliveries (the consumer callbacks route each one to its listener) and
sends its heartbeats, so the connection needs no heartbeat thread of its
own.

The thread waits for the socket to become readable *without* the read lock
(``select`` on the socket and on a wake-up socketpair) and takes the lock
only to read the frames that are there. Another thread that needs the
connection (declaring, cancelling, checking or deleting a queue) announces
itself (``_turn``), pokes the wake-up socket and gets the lock at once; the
I/O thread waits for it to finish, then looks again for frames that thread
may have left in the frame reader's buffer (see
``amqp_link.has_buffered_frame``). Where that buffer cannot be seen (TLS,
whose records py-amqp decrypts into buffers of its own), each wake-up reads
until the socket stays quiet for ``HIDDEN_BUFFER_WAIT``.

Consumer callbacks run on whichever thread reads the frame: nearly always
the I/O thread, sometimes a thread in a synchronous method (a declaration
reads the deliveries that arrive before its answer).
"""
from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from typing import Any, Callable, Iterator, Optional

import amqp

from messaging.drivers.rabbit import amqp_link, backoff
from messaging.drivers.rabbit.amqp_link import set_socket_timeout
from messaging.drivers.rabbit.connection import Connection
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.errors import RETRIED_OR_REFUSED, DeclareAgain, refusal
from messaging import log_names

LOG = log_names.get_logger(__name__)

# How long a read waits for the rest of a frame once the socket is readable.
READ_TIMEOUT = 0.1
# Where the reader's buffer is hidden (TLS): how long a wake-up keeps
# reading after the last frame, so that nothing stays behind in it.
HIDDEN_BUFFER_WAIT = 0.01
# Frames read per turn before heartbeats and waiting threads are seen to.
FRAMES_PER_TURN = 256
# How long the thread waits after an unexpected error before reading again.
ERROR_PAUSE = 1.0


class SharedConnection(Connection):
    """A listening connection whose consumers one I/O thread serves."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        # Threads (other than the I/O thread) using the connection now.
        self._waiters = 0
        self._turn_done = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._next_tick = 0.0
        # Consumers the broker refused on a reconnect, by tag: (spec,
        # callback, cursor), refusals in a row, when to try again.
        self._set_aside: dict[str, tuple[tuple, int, float]] = {}

    # -- other threads' turns ------------------------------------------------

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Hold the I/O thread back while this thread uses the connection."""
        if threading.current_thread() is self._thread:
            yield
            return
        with self._turn_done:
            self._waiters += 1
        self._poke()
        try:
            yield
        finally:
            with self._turn_done:
                self._waiters -= 1
                self._turn_done.notify_all()
            # Frames this thread read ahead may wait in the buffer.
            self._poke()

    def _poke(self) -> None:
        try:
            self._wake_w.send(b'.')
        except (BlockingIOError, OSError):  # full (already poked) or closed
            pass

    def ensure(self, method: Callable[[amqp.Channel], Any], *args: Any, **kwargs: Any
               ) -> Any:
        with self._turn():
            return super().ensure(method, *args, **kwargs)

    def declare_consumer(self, spec: QueueSpec, callback: Callable[[Any], None],
                         deadline: Optional[float] = None, cursor: Any = None) -> str:
        """As ``Connection.declare_consumer``; the I/O thread starts with
        the first consumer."""
        tag = super().declare_consumer(spec, callback, deadline, cursor)
        with self._turn_done:
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name='rabbit-io-%s' % self.name)
                self._thread.start()
        return tag

    def _replay_consumers(self) -> None:
        """Declare every consumer again; one the broker now refuses for good
        (its queue was declared since with other arguments, a deprecated
        feature it needs is denied, a permission was taken away) is set
        aside, so that it cannot keep the other listeners' consumers down:
        the channel it closed is made again for the rest, and it is tried
        again with backoff (``_retry_set_aside``) until an operator's fix
        lets it through."""
        for tag, (spec, callback, cursor) in list(self._consumers.items()):
            self._declare_or_set_aside(tag, spec, callback, cursor)

    def _declare_or_set_aside(self, tag: str, spec: QueueSpec, callback: Callable,
                              cursor: Any) -> None:
        """Declare and consume one consumer, or set it aside when refused.

        :raises DeclareAgain: it was set aside (the broker closed the
            channel, or the connection, on refusing it).
        """
        try:
            self._declare_and_consume(spec, tag, callback, cursor)
        except RETRIED_OR_REFUSED as ex:
            error = refusal(ex, 'declare consumer of %s' % spec.name, self.host, self.vhost)
            if error is None:
                raise
            self._consumers.pop(tag, None)
            attempts = self._set_aside.get(tag, (None, 0, 0.0))[1] + 1
            delay = backoff.reconnect_delay(self._conf, attempts)
            self._set_aside[tag] = ((spec, callback, cursor), attempts,
                                    time.monotonic() + delay)
            LOG.error('%s; consumer %s of %s tries again in %.1f s (attempt %d), the other '
                      'consumers of the connection go on', error, tag, self.name, delay,
                      attempts)
            raise DeclareAgain('queue', spec.name) from ex
        if tag in self._set_aside:
            _entry, attempts, _retry_at = self._set_aside.pop(tag)
            LOG.info('Consumer %s of queue %s on %s is declared again, after %d refusal(s)',
                     tag, spec.name, self.name, attempts)
        self._consumers[tag] = (spec, callback, cursor)

    def _retry_set_aside(self, channel: amqp.Channel) -> None:
        """Try again the consumers set aside whose backoff has passed."""
        now = time.monotonic()
        for tag, (entry, _attempts, retry_at) in list(self._set_aside.items()):
            if retry_at <= now:
                self._declare_or_set_aside(tag, *entry)

    def _set_aside_due(self) -> float:
        """When the next consumer set aside is due to be tried (or never)."""
        return min((retry_at for _entry, _attempts, retry_at in self._set_aside.values()),
                   default=float('inf'))

    def cancel_consumers(self, tags: Optional[list[str]] = None) -> None:
        with self._turn():
            for tag in list(self._set_aside) if tags is None else tags:
                self._set_aside.pop(tag, None)
            super().cancel_consumers(tags)

    def _start_heartbeat(self) -> None:
        """The I/O thread sends the heartbeats: no thread of their own."""

    def close(self) -> None:
        """Stop the I/O thread and close the connection."""
        self._closing.set()
        with self._turn_done:
            self._turn_done.notify_all()
        self._poke()
        with self._turn():
            super().close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._wake_r.close()
        self._wake_w.close()

    # -- the I/O thread ------------------------------------------------------

    def _loop(self) -> None:
        while not self._closing.is_set():
            try:
                self._step()
            except Exception:  # a bug must not end every listener's reading
                LOG.exception('Unexpected error reading %s; it reconnects', self.name)
                self._broken = True
                self._closing.wait(ERROR_PAUSE)
        LOG.debug('I/O thread of %s ended', self.name)

    def _step(self) -> None:
        """Wait for frames (or a poke) and read them; keep the link alive."""
        channel = self._channel
        if channel is None or self._broken:
            retry_at = self._retry_at
            if retry_at is not None and retry_at > time.monotonic():
                self._wait_readable(None, retry_at - time.monotonic())
                return
            self.ensure(lambda channel: None, what='consume', writes=False,
                        background=True)
            return
        rechecks = self._rechecks
        now = time.monotonic()
        if rechecks and now >= rechecks[0]:
            self._rechecks = rechecks[1:]
            self._check_redeclared_queues()
            return
        if self._set_aside_due() <= now:
            self.ensure(self._retry_set_aside, what='declare consumers set aside',
                        background=True)
            return
        link = channel.connection
        if not self._tick(link, now):
            return
        if not amqp_link.has_buffered_frame(link):
            wake_at = min([self._next_tick, self._set_aside_due()]
                          + list(self._rechecks[:1]))
            self._wait_readable(getattr(link.transport, 'sock', None),
                                wake_at - time.monotonic())
        with self._turn_done:
            while self._waiters and not self._closing.is_set():
                self._turn_done.wait()
        if not self._closing.is_set():
            self.ensure(self._read_available, what='consume', writes=False,
                        background=True)

    def _wait_readable(self, sock: Optional[socket.socket], timeout: float) -> None:
        """Wait up to ``timeout`` for ``sock`` or a poke; swallow the pokes."""
        waited = [self._wake_r] if sock is None else [sock, self._wake_r]
        try:
            ready, _, _ = select.select(waited, [], [], max(timeout, 0))
        except (OSError, ValueError):  # the socket closed under us: read reports it
            return
        if self._wake_r in ready:
            try:
                while self._wake_r.recv(4096):
                    pass
            except (BlockingIOError, OSError):
                pass

    def _tick(self, link: amqp.Connection, now: float) -> bool:
        """Send a heartbeat when due; False when the broker's are missing."""
        threshold = self._conf.heartbeat_timeout_threshold
        if threshold <= 0:
            self._next_tick = now + 3600.0
            return True
        if now < self._next_tick:
            return True
        rate = self._conf.heartbeat_rate
        self._next_tick = now + threshold / max(rate, 1) / 2.0
        try:
            with self._write_lock:
                link.heartbeat_tick(rate=rate)
        except Exception as ex:
            self._heartbeat_failed(ex)
            return False
        return True

    def _read_available(self, channel: amqp.Channel) -> None:
        """Read the frames there are (under the read lock), and no more."""
        link = channel.connection
        sock = getattr(link.transport, 'sock', None)
        for _ in range(FRAMES_PER_TURN):
            if self._waiters or sock is None:
                return
            buffered = amqp_link.has_buffered_frame(link)
            if buffered is None:
                timeout = HIDDEN_BUFFER_WAIT
            elif buffered or select.select([sock], [], [], 0)[0]:
                timeout = READ_TIMEOUT
            else:
                return
            set_socket_timeout(link, timeout)
            try:
                link.blocking_read(timeout)
            except socket.timeout:
                return
