"""Listeners that are polled, and the adapter that polls one on a thread of its own.

oslo.messaging's driver API knows two kinds of listener: a
:class:`PollStyleListener` is asked for batches (``poll``), and a callback
listener is started with a function to hand its batches to. The
:class:`PollStyleListenerAdapter` makes the second from the first by
polling on a dedicated thread. Our fake driver returns one, as oslo's does,
drivers written for oslo.messaging build their own, and a server wraps any
other listener that can neither push nor be started in one.

Services' test fixtures rely on this class being oslo's: nova patches
``PollStyleListenerAdapter.start`` and reads ``_started`` after each test to
find RPC servers a test left running. So every polled listener of a server
is started through :meth:`PollStyleListenerAdapter.start`, and ``_started``
is true from ``start`` until ``stop``.
"""
from __future__ import annotations

import abc
import threading
from typing import Any, Callable, Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds between two polls when the last one raised (a connection being
# re-established, say), so that a persistent fault does not spin.
POLL_RETRY_DELAY = 1.0


class PollStyleListener(abc.ABC):
    """Hands out received messages when polled.

    :param prefetch_size: how many messages the backend may send ahead of
        the polls; a batch is never larger (not every driver honours it).
    """

    def __init__(self, prefetch_size: int = -1) -> None:
        self.prefetch_size = prefetch_size

    @abc.abstractmethod
    def poll(self, timeout: Optional[float] = None, batch_size: int = 1,
             batch_timeout: Optional[float] = None) -> list:
        """Up to ``batch_size`` incoming messages; an empty list after
        ``timeout`` seconds (``None``: until a message comes) or once
        :meth:`stop` was called. With ``batch_timeout``, a batch returns when
        that many seconds passed since its first message, full or not."""

    def stop(self) -> None:
        """Stop receiving: a blocked or later :meth:`poll` returns at once.

        Called from another thread than the poller's."""

    def cleanup(self) -> None:
        """Release what the listener holds; called after :meth:`stop`."""


class PollStyleListenerAdapter:
    """Polls a :class:`PollStyleListener` on a thread of its own and hands
    each batch to the callback given to :meth:`start`."""

    def __init__(self, poll_style_listener: PollStyleListener, batch_size: int,
                 batch_timeout: Optional[float]) -> None:
        self.prefetch_size = getattr(poll_style_listener, 'prefetch_size', -1)
        if self.prefetch_size and self.prefetch_size > 0:
            batch_size = min(batch_size, self.prefetch_size)
        self.batch_size = batch_size
        self.batch_timeout = batch_timeout
        self.on_incoming_callback: Optional[Callable[[list], Any]] = None
        self._poll_style_listener = poll_style_listener
        self._listen_thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()
        self._started = False

    @property
    def poll_style_listener(self) -> PollStyleListener:
        """The listener this adapter polls."""
        return self._poll_style_listener

    def start(self, on_incoming_callback: Callable[[list], Any]) -> None:
        """Start polling; every non-empty batch goes to ``on_incoming_callback``."""
        self.on_incoming_callback = on_incoming_callback
        self._stopping.clear()
        self._started = True
        self._listen_thread = threading.Thread(target=self._runner, name='messaging-poller',
                                               daemon=True)
        self._listen_thread.start()

    def _runner(self) -> None:
        while self._started:
            self._poll_and_hand_over()
        # Stopped: what the listener already received is still handed over
        # (a stopped listener's poll returns at once once it is drained).
        while self._poll_and_hand_over():
            pass

    def _poll_and_hand_over(self) -> bool:
        """One poll; True when it gave a batch to the callback."""
        try:
            incoming = self._poll_style_listener.poll(
                batch_size=self.batch_size, batch_timeout=self.batch_timeout)
        except Exception:
            # A failed poll (a dropped connection, say) must not end the
            # server: the driver reconnects, so poll again after a pause.
            LOG.exception('Polling for messages failed on %s; polling again in %s s',
                          self._poll_style_listener, POLL_RETRY_DELAY)
            self._stopping.wait(POLL_RETRY_DELAY)
            return False
        if not incoming:
            return False
        callback = self.on_incoming_callback
        if callback is not None:
            callback(incoming)
        return True

    def stop(self) -> None:
        """Stop polling; the thread ends once the listener is drained
        (:meth:`join` waits for it)."""
        self._started = False
        self._stopping.set()
        self._poll_style_listener.stop()

    def join(self) -> None:
        """Wait for the polling thread, after :meth:`stop`."""
        if self._listen_thread is not None:
            self._listen_thread.join()
            self._listen_thread = None
        self.on_incoming_callback = None

    def cleanup(self) -> None:
        """Release the polled listener."""
        self._poll_style_listener.cleanup()

    def __repr__(self) -> str:
        return '<%s polling %r>' % (type(self).__name__, self._poll_style_listener)
