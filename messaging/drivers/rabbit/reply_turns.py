"""Who reads the reply connection: a caller waiting for its reply, when
there is one, else the reply waiter's background thread.

A reply read by a thread other than its caller's must wake the caller, and
that hand-over is a large part of a round trip (about 0.2 ms of a bare
py-amqp round trip's 0.45 ms on a 2-core machine, ``benchmarks/README.md``).
So a waiting caller takes its turn at reading: while it reads, the replies
of other callers reach their mailboxes, and when it has its own it hands
the turn to another waiting caller. The background thread reads only after
no call has waited for ``IDLE_BEFORE_BACKGROUND`` seconds, for late replies
and the queue's upkeep.
"""
from __future__ import annotations

import collections
import queue
import threading
import time
from typing import Callable, Optional

# Seconds without a waiting caller before the background thread reads.
IDLE_BEFORE_BACKGROUND = 0.25


class Mailbox:
    """The replies delivered to one call, its wake-up and the reply queue
    its request named."""

    def __init__(self, lock: threading.Lock, reply_queue: str = '') -> None:
        self.replies: collections.deque = collections.deque()
        self.wakeup = threading.Condition(lock)
        self.reply_queue = reply_queue


class ReadingTurns:
    """Hands out the one turn at reading the reply connection.

    :param read: ``read(seconds, done)`` reads the connection for at most
        ``seconds`` and runs the delivery callbacks (which call
        :meth:`deliver`); a caller's read ends once ``done()`` (its mailbox
        has a reply), the background thread's ``done`` is None.
    :param slice_: the longest single read, so that a stop is noticed.
    """

    def __init__(self, read: Callable[[float, Optional[Callable[[], bool]]], None],
                 slice_: float) -> None:
        self._read = read
        self._slice = slice_
        self._lock = threading.Lock()
        self._background_wakeup = threading.Condition(self._lock)
        self._reading = False
        # Callers wait without reading until the connection is consuming.
        self._callers_read = False
        self._waiting: dict[Mailbox, None] = {}
        self._callers = 0
        self._idle_since = time.monotonic()

    def let_callers_read(self) -> None:
        """From now on a waiting caller reads when the turn is free."""
        with self._lock:
            self._callers_read = True

    def mailbox(self, reply_queue: str = '') -> Mailbox:
        """A new, empty mailbox for one call whose request names ``reply_queue``."""
        return Mailbox(self._lock, reply_queue)

    def deliver(self, mailbox: Mailbox, reply: dict) -> None:
        """Put ``reply`` in ``mailbox`` and wake its caller."""
        with self._lock:
            mailbox.replies.append(reply)
            mailbox.wakeup.notify()

    def next_reply(self, mailbox: Mailbox, timeout: Optional[float]) -> dict:
        """The next reply of ``mailbox``, reading the connection when it is
        this caller's turn.

        :raises queue.Empty: none came within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._callers += 1
        try:
            while True:
                with self._lock:
                    if not self._await_turn(mailbox, deadline):
                        return mailbox.replies.popleft()
                try:
                    left = self._slice if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise queue.Empty
                    self._read(min(left, self._slice), lambda: bool(mailbox.replies))
                finally:
                    with self._lock:
                        self._reading = False
                        self._wake_next_reader()
        finally:
            with self._lock:
                self._callers -= 1
                self._waiting.pop(mailbox, None)
                if not self._callers:
                    self._idle_since = time.monotonic()
                self._wake_next_reader()

    def _await_turn(self, mailbox: Mailbox, deadline: Optional[float]) -> bool:
        """Under the lock: False once ``mailbox`` has a reply, True once
        this caller holds the turn to read.

        :raises queue.Empty: the deadline passed first.
        """
        while not mailbox.replies:
            if not self._reading and self._callers_read:
                self._reading = True
                self._waiting.pop(mailbox, None)
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise queue.Empty
            self._waiting[mailbox] = None
            mailbox.wakeup.wait(left)
        return False

    def _wake_next_reader(self) -> None:
        """Under the lock: offer a free turn to one waiting caller. The
        background thread is not woken: it reads only after calls have
        idled a while, which its own timed wait finds out."""
        if self._reading or not self._waiting:
            return
        mailbox = next(iter(self._waiting))
        del self._waiting[mailbox]
        mailbox.wakeup.notify()

    def run_background(self, stopping: threading.Event) -> None:
        """Read whenever no caller has waited for a while, until ``stopping``."""
        while not stopping.is_set():
            with self._lock:
                if not self._take_background_turn():
                    continue
            try:
                self._read(self._slice, None)
            finally:
                with self._lock:
                    self._reading = False
                    self._wake_next_reader()

    def _take_background_turn(self) -> bool:
        """Under the lock: take the turn if it is free and calls have been
        idle long enough; else wait a while and say False."""
        idle_for = time.monotonic() - self._idle_since
        if self._reading or self._callers:
            self._background_wakeup.wait(self._slice)
            return False
        if idle_for < IDLE_BEFORE_BACKGROUND:
            self._background_wakeup.wait(IDLE_BEFORE_BACKGROUND - idle_for)
            return False
        self._reading = True
        return True

    def wake_background(self) -> None:
        """Wake the background thread (to stop, or to do upkeep)."""
        with self._lock:
            self._background_wakeup.notify()
