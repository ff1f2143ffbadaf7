"""The I/O thread of a shared listening connection (shared_connection.py).

One thread per connection reads its deliveries (the consumer callbacks
route each one to its listener), looks after its consumers between reads
(``ConsumerSet.upkeep``), sends its heartbeats (``Heartbeat.tick``) and
reconnects it, so the connection needs no heartbeat thread of its own.

The thread waits for the socket to become readable *without* the read
lock, and takes the lock only to read the frames that are there; another
thread that needs the connection takes a turn first (io_turns.py). The
I/O thread then waits for it to finish and looks again for frames that
thread may have left in the frame reader's buffer (see
the frame engine's ``has_buffered_frame``). Where that buffer cannot be
seen (TLS, whose records py-amqp decrypts into buffers of its own, or the
stock engine, whose reading is py-amqp's), each wake-up reads
until the socket stays quiet for ``HIDDEN_BUFFER_WAIT``.

Consumer callbacks run on whichever thread reads the frame: nearly always
the I/O thread, sometimes a thread in a synchronous method (a declaration
reads the deliveries that arrive before its answer).
"""
from __future__ import annotations

import select
import socket
import threading
import time
from typing import Optional

import amqp

from messaging.drivers.rabbit.consumer_set import ConsumerSet
from messaging.drivers.rabbit.heartbeat import Heartbeat
from messaging.drivers.rabbit.io_turns import IoTurns
from messaging.drivers.rabbit.link import Link
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


class IoLoop:
    """Reads ``link`` on a thread of its own, started by :meth:`start`.

    :param turns: the turns other threads take at ``link`` (the same
        object the link was made with).
    """

    def __init__(self, link: Link, consumers: ConsumerSet, heartbeat: Heartbeat,
                 turns: IoTurns) -> None:
        self._link = link
        self._consumers = consumers
        self._heartbeat = heartbeat
        self._turns = turns
        self._engine = link.engine
        self._thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the thread, once (never after the link closed)."""
        with self._start_lock:
            if self._thread is None and not self._link.is_closing():
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name='rabbit-io-%s' % self._link.name)
                self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (after the link closed)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def _loop(self) -> None:
        self._turns.become_reader()
        while not self._link.is_closing():
            try:
                self._step()
            except Exception:  # a bug must not end every listener's reading
                LOG.exception('Unexpected error reading %s; it reconnects', self._link.name)
                self._link.mark_broken()
                self._link.wait_closing(ERROR_PAUSE)
        LOG.debug('I/O thread of %s ended', self._link.name)

    def _step(self) -> None:
        """Wait for frames (or a poke) and read them; keep the link alive."""
        link = self._link
        channel = link.channel
        if not link.usable:
            retry_at = link.retry_at
            if retry_at is not None and retry_at > time.monotonic():
                self._turns.wait_readable(None, retry_at - time.monotonic())
                return
            link.ensure(lambda channel: None, what='consume', writes=False, background=True)
            return
        if self._consumers.upkeep() or not self._heartbeat.tick():
            return
        connection = channel.connection
        if not self._engine.has_buffered_frame(connection):
            wake_at = min(self._heartbeat.next_due, self._consumers.next_upkeep())
            self._turns.wait_readable(getattr(connection.transport, 'sock', None),
                                      wake_at - time.monotonic())
        self._turns.wait_for_turns()
        if not link.is_closing():
            link.ensure(self._read_available, what='consume', writes=False, background=True)

    def _read_available(self, channel: amqp.Channel) -> None:
        """Read the frames there are (under the read lock), and no more."""
        connection = channel.connection
        sock = getattr(connection.transport, 'sock', None)
        for _ in range(FRAMES_PER_TURN):
            if self._turns.wanted or sock is None:
                return
            buffered = self._engine.has_buffered_frame(connection)
            if buffered is None:
                timeout = HIDDEN_BUFFER_WAIT
            elif buffered or select.select([sock], [], [], 0)[0]:
                timeout = READ_TIMEOUT
            else:
                return
            self._link.wait_timeout(timeout)
            try:
                connection.blocking_read(timeout)
            except socket.timeout:
                return
