"""The heartbeats of one link.

AMQP heartbeats must flow both ways while a connection is idle, or the
broker drops it and we do not notice it dead. :meth:`Heartbeat.tick` is the
one policy: when due (``heartbeat_timeout_threshold / heartbeat_rate / 2``
seconds after the last), py-amqp sends ours and checks that the broker's
keep coming; a failure is logged with oslo.messaging's words and marks the
link broken, so that its next operation reconnects.

Who calls ``tick``: the reader of a listening connection, in each step
(reader.py); for a send connection, the heartbeat's own thread, which
also reads the broker's heartbeats when nobody else is reading.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Optional

import amqp

from messaging.drivers.rabbit.link import Link
from messaging import log_names

LOG = log_names.get_logger(__name__)

# How long the heartbeat's own thread reads an idle connection each time.
IDLE_READ = 0.01


class Heartbeat:
    """Keeps ``link`` alive with heartbeats.

    :param link: the link whose heartbeats these are.
    :param threshold: ``heartbeat_timeout_threshold``; 0 or less: none.
    :param rate: ``heartbeat_rate``, ticks per threshold (py-amqp's).
    :param own_thread: start a thread of its own (named
        ``rabbit-heartbeat-<connection>``) at the link's first connect;
        else the caller's loop calls :meth:`tick`.
    """

    def __init__(self, link: Link, threshold: float, rate: int,
                 own_thread: bool = False) -> None:
        self._link = link
        self._rate = rate
        self.interval = threshold / max(rate, 1) / 2.0 if threshold > 0 else None
        self._next = 0.0
        self._thread: Optional[threading.Thread] = None
        self._thread_lock = threading.Lock()
        if own_thread and self.interval is not None:
            link.add_channel_user(self)

    @property
    def next_due(self) -> float:
        """When the next heartbeat is due (``time.monotonic()``; infinity
        without heartbeats)."""
        return self._next if self.interval is not None else float('inf')

    def tick(self) -> bool:
        """Send a heartbeat if one is due; False when that failed (the
        broker's heartbeats are missing or the socket broke: the link is
        then marked broken)."""
        now = time.monotonic()
        if self.interval is None or now < self._next:
            return True
        self._next = now + self.interval
        # The AMQP connection off the channel: kombu's would reconnect on
        # access, which is not the heartbeat's job.
        channel = self._link.channel
        connection = channel.connection if channel is not None else None
        if connection is None or not self._link.usable:
            return True
        try:
            with self._link.writing():
                connection.heartbeat_tick(rate=self._rate)
        except Exception as ex:
            self._failed(ex)
            return False
        return True

    def _failed(self, ex: Exception) -> None:
        # oslo.messaging's text; the link reconnects on its next use.
        LOG.info('A recoverable connection/channel error occurred, trying to reconnect: %s',
                 ex, extra={'connection_name': self._link.name, 'broker': self._link.host})
        self._link.mark_broken()

    # -- the heartbeat's own thread ------------------------------------------

    def channel_opened(self, channel: amqp.Channel) -> None:
        """Start the thread at the link's first connect (once)."""
        with self._thread_lock:
            if self._thread is not None or self._link.is_closing():
                return
            self._next = time.monotonic() + self.interval
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='rabbit-heartbeat-%s' % self._link.name)
            self._thread.start()

    def _run(self) -> None:
        while not self._link.wait_closing(max(self._next - time.monotonic(), 0.0)):
            if not self.tick():
                continue
            try:
                self._read_if_idle()
            except Exception as ex:
                self._failed(ex)

    def _read_if_idle(self) -> None:
        """Read what the broker sent (its heartbeats), unless another
        thread is reading (it reads them then)."""
        with self._link.reading_if_free() as channel:
            if channel is not None:
                try:
                    channel.connection.drain_events(timeout=IDLE_READ)
                except socket.timeout:
                    pass

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (after the link closed)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)


def heartbeat_of(link: Link, conf: Any, own_thread: bool) -> Heartbeat:
    """The heartbeat ``conf`` (``heartbeat_timeout_threshold``,
    ``heartbeat_rate``) asks for ``link``."""
    return Heartbeat(link, conf.heartbeat_timeout_threshold, conf.heartbeat_rate,
                     own_thread=own_thread)
