"""The I/O thread of a hub connection (shared_connection.py): steps its
reader (reader.py) until the link closes.

One thread per hub connection reads its deliveries (the consumer callbacks
route each one to its listener), looks after its consumers, sends its
heartbeats and reconnects it: all of it is the reader's step.
"""
from __future__ import annotations

import threading
from typing import Optional

from messaging.drivers.rabbit.io_turns import LONGEST_WAIT
from messaging.drivers.rabbit.link import Link
from messaging.drivers.rabbit.reader import Reader
from messaging import log_names

LOG = log_names.get_logger(__name__)

# How long the thread waits after an unexpected error before reading again.
ERROR_PAUSE = 1.0


class IoLoop:
    """Steps ``reader`` on a thread of its own, started by :meth:`start`."""

    def __init__(self, link: Link, reader: Reader) -> None:
        self._link = link
        self._reader = reader
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
        with self._reader.reading():
            while not self._link.is_closing():
                try:
                    self._reader.step(LONGEST_WAIT)
                except Exception:  # a bug must not end every listener's reading
                    LOG.exception('Unexpected error reading %s; it reconnects',
                                  self._link.name)
                    self._link.mark_broken()
                    self._link.wait_closing(ERROR_PAUSE)
        LOG.debug('I/O thread of %s ended', self._link.name)
