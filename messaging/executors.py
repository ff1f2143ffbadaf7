"""Executors: where a server runs its poll loop and its message handlers.

Loaded by name (``threading``, ``eventlet``) from the ``messaging.executors``
entry points. Each bounds the number of messages handled at once, so that a
busy server leaves further messages on the broker for its peers instead of
pulling them into memory.

Work comes in two ways. A polling server's loop calls :meth:`submit`, which
blocks while the executor is full, and so stops pulling. A listener that
pushes (one I/O thread serving many listeners) must never block, so its
server calls :meth:`offer`: past the bound, work waits in the executor's
backlog, in order, and a handler that finishes takes the next.
"""
from __future__ import annotations

import abc
import collections
import threading
from typing import Any, Callable

from messaging import worker_pool
from messaging import log_names

LOG = log_names.get_logger(__name__)


class _BoundedExecutor(abc.ABC):
    """The bound, the backlog and the wait for running handlers;
    subclasses say how to start one handler (:meth:`_start`)."""

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max_workers
        self._running = 0
        self._backlog: collections.deque = collections.deque()
        self._idle = threading.Condition(threading.Lock())

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)``; blocks while every worker is busy."""
        with self._idle:
            while self._running >= self._max_workers:
                self._idle.wait()
            self._running += 1
            alone = self._running == 1
        self._start_or_release(fn, args, alone)

    def offer(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` now if a worker is free, else after the work
        offered before it; never blocks."""
        with self._idle:
            if self._running >= self._max_workers:
                self._backlog.append((fn, args))
                return
            self._running += 1
            alone = self._running == 1
        self._start_or_release(fn, args, alone)

    def take_backlog(self) -> list[tuple]:
        """Remove and return the ``args`` of all work not started yet."""
        with self._idle:
            backlog, self._backlog = self._backlog, collections.deque()
        return [args for _fn, args in backlog]

    def shutdown(self, wait: bool = True) -> None:
        """With ``wait``, return once the running handlers (and the
        backlog, unless taken) are done."""
        if not wait:
            return
        with self._idle:
            while self._running:
                self._idle.wait()

    def _start_or_release(self, fn: Callable[..., Any], args: tuple, alone: bool) -> None:
        try:
            self._start(self._run, fn, args, alone)
        except BaseException:
            self._finished()
            raise

    def _run(self, fn: Callable[..., Any], args: tuple) -> None:
        while True:
            try:
                fn(*args)
            except Exception:
                LOG.exception('Unhandled error in %s', getattr(fn, '__qualname__', fn))
            with self._idle:
                if not self._backlog:
                    self._finished_locked()
                    return
                fn, args = self._backlog.popleft()

    def _finished(self) -> None:
        with self._idle:
            self._finished_locked()

    def _finished_locked(self) -> None:
        """Under the lock: one handler less; wake a full submit or a shutdown."""
        self._running -= 1
        self._idle.notify_all()

    @abc.abstractmethod
    def _start(self, run: Callable[..., None], fn: Callable[..., Any], args: tuple,
               alone: bool) -> None:
        """Start ``run(fn, args)`` on a worker of this kind; ``alone``: no
        other handler of this executor runs."""


class ThreadingExecutor(_BoundedExecutor):
    """Handles messages on the process's shared pool of OS threads
    (worker_pool), at most ``max_workers`` of this server's at once."""

    def __init__(self, max_workers: int) -> None:
        super().__init__(max_workers)
        worker_pool.shared().allow(max_workers)

    def _start(self, run: Callable[..., None], fn: Callable[..., Any], args: tuple,
               alone: bool) -> None:
        worker_pool.shared().run(run, fn, args, first=alone)


class EventletExecutor(_BoundedExecutor):
    """Handles messages on green threads (eventlet)."""

    def __init__(self, max_workers: int) -> None:
        import eventlet
        from eventlet import patcher

        if not patcher.is_monkey_patched('thread'):
            LOG.warning('The eventlet executor is in use but the process is not '
                        'monkey-patched: call eventlet.monkey_patch() at start-up, '
                        'or blocking I/O will stall every green thread.')
        super().__init__(max_workers)
        self._eventlet = eventlet

    def _start(self, run: Callable[..., None], fn: Callable[..., Any], args: tuple,
               alone: bool) -> None:
        self._eventlet.spawn_n(run, fn, args)
