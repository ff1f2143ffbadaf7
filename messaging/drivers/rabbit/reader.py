"""The one way a listening connection is read: a step of waiting, reading
and upkeep, taken by one thread at a time.

Who steps: a hub connection's I/O thread, in a loop (io_loop.py); on the
reply connection, whichever thread holds the reply waiter's reading turn
(reply_turns.py): a caller waiting for its reply, or the waiter's
background thread. Either way a step does the same work:

- while the broker is down, wait for the backoff's next try, then reconnect
  (``Link.ensure``, which declares the consumers again);
- look after the consumers (``ConsumerSet.upkeep``) and send a heartbeat
  when one is due (``Heartbeat.tick``), so that a listening connection needs
  no heartbeat thread of its own;
- wait for the socket to become readable *without* the read lock, then take
  it to read the frames that are there, and no more; a thread that needs the
  connection meanwhile takes a turn (io_turns.py) and wakes the reader.

After a turn the reader looks again for frames the other thread may have
left in the frame reader's buffer (the frame engine's ``has_buffered_frame``). Where
that buffer cannot be seen (TLS, whose records py-amqp decrypts into
buffers of its own, or the stock frame engine, whose reading is py-amqp's),
each step reads until the socket stays quiet for ``HIDDEN_BUFFER_WAIT``.

Consumer callbacks run on the thread that reads the frame: nearly always
the stepping thread, sometimes a thread in a synchronous method (a
declaration reads the deliveries that arrive before its answer).
"""
from __future__ import annotations

import contextlib
import socket
import time
from typing import Callable, Iterator, Optional

import amqp

from messaging.drivers.rabbit.consumer_set import ConsumerSet
from messaging.drivers.rabbit.heartbeat import Heartbeat
from messaging.drivers.rabbit.io_turns import IoTurns
from messaging.drivers.rabbit.link import Link

# How long a read waits for the rest of a frame once the socket is readable.
READ_TIMEOUT = 0.1
# Where the reader's buffer is hidden (TLS): how long a step keeps reading
# after the last frame, so that nothing stays behind in it.
HIDDEN_BUFFER_WAIT = 0.01
# Frames read per step before heartbeats and waiting threads are seen to.
FRAMES_PER_STEP = 256


class Reader:
    """Reads ``link`` a step at a time (see the module docstring).

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

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Make this thread the reader: its own uses of the link (the
        reconnect and reads of a step, a declaration by a consumer callback)
        take no turn. One thread at a time; the caller sees to that."""
        with self._turns.reading():
            yield

    def step(self, longest: float, done: Optional[Callable[[], bool]] = None) -> None:
        """Wait up to ``longest`` seconds for frames (or a poke, or the next
        heartbeat or upkeep), read them, keep the link alive. Called inside
        :meth:`reading`. Broker failures are handled by the link's retry
        path (logged, backed off); anything else is raised.

        :param done: the stepping thread waits for something a read delivers
            (a caller for its reply): the step ends as soon as ``done()``
            is true. Where the frame reader's buffer is hidden, such a step
            reads at once, for up to ``longest``, instead of first waiting
            for the socket, which a frame left in that buffer would not
            wake; another thread's turn then waits for that read to end.
        """
        link = self._link
        channel = link.channel
        until = time.monotonic() + longest
        if not link.usable:
            retry_at = link.retry_at
            if retry_at is not None and retry_at > time.monotonic():
                self._turns.wait_readable(None, min(retry_at, until) - time.monotonic())
                return
            link.ensure(lambda channel: None, what='consume', writes=False, background=True)
            return
        if self._consumers.upkeep() or not self._heartbeat.tick():
            return
        connection = channel.connection
        if connection is None:
            # Another thread's turn reset the link since the step began
            # (a broker-closed connection): the next step reconnects.
            return
        wake_at = min(self._heartbeat.next_due, self._consumers.next_upkeep(), until)
        buffered = self._engine.has_buffered_frame(connection)
        first_read = READ_TIMEOUT
        if buffered is None and done is not None:
            readable, first_read = True, max(wake_at - time.monotonic(), 0.001)
        elif not buffered:
            readable = self._turns.wait_readable(getattr(connection.transport, 'sock', None),
                                                 wake_at - time.monotonic())
        else:
            readable = False
        if self._turns.wanted:
            # Another thread's turn came first: what it leaves is looked at anew.
            self._turns.wait_for_turns()
            readable = False
        if not link.is_closing():
            link.ensure(lambda channel: self._read_available(channel, readable, first_read,
                                                             done),
                        what='consume', writes=False, background=True)

    def _read_available(self, channel: amqp.Channel, readable: bool, first_read: float,
                        done: Optional[Callable[[], bool]]) -> None:
        """Read the frames there are (under the read lock), and no more: a
        read of the socket when the step saw it readable, then whatever
        that read left in the frame reader's buffer. Frames that come in
        meanwhile are the next step's (its wait sees them at once), which
        spares a system call per step.

        :param readable: the step's wait saw the socket readable (or, with
            a hidden buffer, the step reads at once).
        :param first_read: how long that first read may wait.
        :param done: see :meth:`step`.
        """
        connection = channel.connection
        sock = getattr(connection.transport, 'sock', None)
        for _ in range(FRAMES_PER_STEP):
            if self._turns.wanted or sock is None:
                return
            if readable:
                timeout, readable = first_read, False
            else:
                buffered = self._engine.has_buffered_frame(connection)
                if buffered is None:
                    timeout = HIDDEN_BUFFER_WAIT
                elif buffered:
                    timeout = READ_TIMEOUT
                else:
                    return
            self._link.wait_timeout(timeout)
            try:
                connection.blocking_read(timeout)
            except socket.timeout:
                return
            if done is not None and done():
                return
