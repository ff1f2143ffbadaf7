"""The heartbeat thread of a rabbit Connection.

AMQP heartbeats must flow both ways while a connection is idle: this thread
sends ours and, when no other thread is reading the socket, reads the
broker's, so that an idle connection is neither dropped by the broker nor
left dead without our noticing.
"""
from __future__ import annotations

import socket
import threading
from typing import Any, Callable, Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)


class Heartbeat:
    """Sends and reads heartbeats of one connection on a daemon thread.

    :param name: the connection's name, for the thread and the log.
    :param channel: the connection's current channel (None while down).
    :param is_broken: whether the connection awaits a reconnect.
    :param on_failure: called with the error when a heartbeat fails; the
        connection then reconnects on its next use.
    :param read_lock: held by whoever reads the socket; taken only when free.
    :param write_lock: held by whoever writes a frame.
    :param stopping: set when the connection closes.
    """

    def __init__(self, name: str, channel: Callable[[], Optional[Any]],
                 is_broken: Callable[[], bool], on_failure: Callable[[Exception], None],
                 read_lock: Any, write_lock: Any, stopping: threading.Event) -> None:
        self._name = name
        self._channel = channel
        self._is_broken = is_broken
        self._on_failure = on_failure
        self._read_lock = read_lock
        self._write_lock = write_lock
        self._stopping = stopping
        self._thread: Optional[threading.Thread] = None

    def start(self, threshold: float, rate: int) -> None:
        """Start the thread (once) for ``heartbeat_timeout_threshold`` and
        ``heartbeat_rate``; a threshold of 0 or less means no heartbeats."""
        if threshold <= 0 or self._thread is not None:
            return
        interval = threshold / max(rate, 1) / 2.0
        self._thread = threading.Thread(target=self._loop, args=(interval, rate),
                                        name='rabbit-heartbeat-%s' % self._name, daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end (after ``stopping`` was set)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)

    def _loop(self, interval: float, rate: int) -> None:
        while not self._stopping.wait(interval):
            channel = self._channel()
            # Read the AMQP connection off the channel: kombu's would
            # reconnect on access, which is not this thread's job.
            link = channel.connection if channel is not None else None
            if link is None or self._is_broken():
                continue
            try:
                with self._write_lock:
                    link.heartbeat_tick(rate=rate)
                if self._read_lock.acquire(blocking=False):
                    try:
                        if self._channel() is channel:
                            link.drain_events(timeout=0.01)
                    except socket.timeout:
                        pass
                    finally:
                        self._read_lock.release()
            except Exception as ex:
                self._on_failure(ex)
