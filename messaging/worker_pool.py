"""One elastic pool of OS threads that every threading executor of the
process runs its handlers on.

A pool per server would keep a thread per server once each had a message
(a service with a hundred servers, a hundred idle threads). Here a thread
is started only when a handler is due and no thread of the pool is idle,
and a thread idle for ``IDLE_EXIT`` seconds ends.

Past ``limit`` threads (the largest executor's bound: a process with one
server behaves as with a pool of its own), handlers wait in the pool's
queue; an executor's only running handler goes to the front of it. Should
the queue not move for ``STUCK_AFTER`` seconds (every thread busy, say
with handlers that wait for another server of the same process), one more
thread is started, and so on until it moves: a full pool delays work but
cannot deadlock it.
"""
from __future__ import annotations

import collections
import os
import threading
from typing import Any, Callable, Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds a worker waits for more work before it ends.
IDLE_EXIT = 30.0
# Seconds the queue of a full pool may stand still before another thread starts.
STUCK_AFTER = 1.0
THREAD_NAME = 'messaging-worker'


class WorkerPool:
    """Runs callables on threads that are started on demand and end when idle."""

    def __init__(self, idle_exit: float = IDLE_EXIT) -> None:
        self._idle_exit = idle_exit
        self._lock = threading.Condition(threading.Lock())
        self._tasks: collections.deque = collections.deque()
        self._idle = 0
        self._threads = 0
        self._started = 0
        self._limit = 1
        # Tasks taken from the queue so far, and whether a check is due.
        self._taken = 0
        self._check_pending = False

    @property
    def threads(self) -> int:
        """Worker threads alive now."""
        return self._threads

    @property
    def idle(self) -> int:
        """Worker threads waiting for work now."""
        return self._idle

    def allow(self, threads: int) -> None:
        """Let the pool grow to ``threads`` threads (never shrinks the limit)."""
        with self._lock:
            self._limit = max(self._limit, threads)

    def run(self, fn: Callable[..., Any], *args: Any, first: bool = False) -> None:
        """Run ``fn(*args)`` on an idle worker, a new one, or the first to
        be free once the pool is at its limit.

        Never blocks; an exception from ``fn`` is logged, not raised.

        :param first: when it must wait, it goes before the waiting work
            (an executor's only running handler).
        """
        task = (fn, args)
        with self._lock:
            # One queue, taken from in order, so that work starts in the
            # order it came (a new thread takes the oldest task too).
            waiting = len(self._tasks)
            if first and self._threads >= self._limit:
                self._tasks.appendleft(task)
            else:
                self._tasks.append(task)
            if self._idle > waiting:
                self._lock.notify()
                return
            if self._threads >= self._limit:
                self._watch_queue()
                return
        self._start_thread()

    def _start_thread(self) -> None:
        """Start a worker, which takes the oldest task."""
        with self._lock:
            self._threads += 1
            self._started += 1
            name = '%s-%d' % (THREAD_NAME, self._started)
        try:
            threading.Thread(target=self._work, name=name, daemon=True).start()
        except BaseException:
            with self._lock:
                self._threads -= 1
            raise

    def _watch_queue(self) -> None:
        """Under the lock: check in ``STUCK_AFTER`` s that the queue moved."""
        if self._check_pending:
            return
        self._check_pending = True
        timer = threading.Timer(STUCK_AFTER, self._check_queue_moved, (self._taken,))
        timer.daemon = True
        timer.start()

    def _check_queue_moved(self, taken_before: int) -> None:
        with self._lock:
            self._check_pending = False
            if not self._tasks:
                return
            stuck = self._taken == taken_before
            self._watch_queue()
        if stuck:
            LOG.warning('All %d message handler threads were busy for %.0f s with %d '
                        'more message(s) waiting; starting another (handlers that wait '
                        'for servers of the same process can cause this)',
                        self._threads, STUCK_AFTER, len(self._tasks))
            self._start_thread()

    def _work(self) -> None:
        task = self._next_task()
        while task is not None:
            fn, args = task
            try:
                fn(*args)
            except Exception:
                LOG.exception('Unhandled error in %s', getattr(fn, '__qualname__', fn))
            del fn, args
            task = self._next_task()

    def _next_task(self) -> Optional[tuple]:
        """The next task, waiting up to the idle time; None ends the thread."""
        with self._lock:
            while not self._tasks:
                self._idle += 1
                woken = self._lock.wait(self._idle_exit)
                self._idle -= 1
                if not woken and not self._tasks:
                    self._threads -= 1
                    return None
            self._taken += 1
            return self._tasks.popleft()


_pool = WorkerPool()


def shared() -> WorkerPool:
    """The process's pool (a new, empty one in a forked child)."""
    return _pool


def _renew_after_fork() -> None:
    # The parent's workers do not exist in the child; its queued tasks
    # belong to the parent.
    global _pool
    _pool = WorkerPool()


os.register_at_fork(after_in_child=_renew_after_fork)
