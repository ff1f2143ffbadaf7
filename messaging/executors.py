"""Executors: where a server runs its poll loop and its message handlers.

Loaded by name (``threading``, ``eventlet``) from the ``messaging.executors``
entry points. Each bounds the number of messages handled at once, so that a
busy server leaves further messages on the broker for its peers instead of
pulling them into memory.
"""
from __future__ import annotations

import logging
import threading
from concurrent import futures
from typing import Any, Callable

LOG = logging.getLogger(__name__)


class ThreadingExecutor:
    """Handles messages on a pool of OS threads."""

    def __init__(self, max_workers: int) -> None:
        self._slots = threading.BoundedSemaphore(max_workers)
        self._pool = futures.ThreadPoolExecutor(max_workers,
                                                thread_name_prefix='messaging-worker')

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker; blocks while every worker is busy."""
        self._slots.acquire()
        try:
            self._pool.submit(self._run, fn, args)
        except BaseException:
            self._slots.release()
            raise

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        try:
            fn(*args)
        finally:
            self._slots.release()

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting work; with ``wait``, let running handlers finish."""
        self._pool.shutdown(wait=wait)

    @staticmethod
    def spawn(fn: Callable[[], Any], name: str) -> '_Joinable':
        """Run the poll loop on its own (daemon) thread."""
        thread = threading.Thread(target=fn, name=name, daemon=True)
        thread.start()
        return _Joinable(thread.join)


class EventletExecutor:
    """Handles messages on a pool of green threads (eventlet)."""

    def __init__(self, max_workers: int) -> None:
        import eventlet
        from eventlet import patcher

        if not patcher.is_monkey_patched('thread'):
            LOG.warning('The eventlet executor is in use but the process is not '
                        'monkey-patched: call eventlet.monkey_patch() at start-up, '
                        'or blocking I/O will stall every green thread.')
        self._eventlet = eventlet
        self._pool = eventlet.GreenPool(max_workers)

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on a green thread; blocks while the pool is full."""
        self._pool.spawn(fn, *args)

    def shutdown(self, wait: bool = True) -> None:
        """With ``wait``, let running handlers finish."""
        if wait:
            self._pool.waitall()

    def spawn(self, fn: Callable[[], Any], name: str) -> '_Joinable':
        """Run the poll loop on its own green thread."""
        green = self._eventlet.spawn(fn)
        return _Joinable(lambda timeout=None: green.wait())


class _Joinable:
    """A running poll loop that can be waited for."""

    def __init__(self, join: Callable[..., Any]) -> None:
        self.join = join
