"""The order of a server's start, stop and wait, whichever threads call them.

oslo.messaging's contract: each step runs once per round, ``stop`` waits
for ``start`` and ``wait`` for ``stop`` (so a ``stop`` from another thread
before ``start`` is not lost, it waits), callers of a step that is running
wait for it to finish, and a ``start`` after a completed ``stop`` begins a
new round. Every wait can be bounded (``timeout``, raising ``TaskTimeout``)
and logs a possible hang after ``log_after`` seconds.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Callable, Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)

STEPS = ('start', 'stop', 'wait')
_RUNNING, _DONE = 'running', 'done'


class Lifecycle:
    """Runs the steps of one server in order (see the module docstring)."""

    def __init__(self, timeout_error: type[Exception]) -> None:
        """``timeout_error(what)`` is raised when a wait exceeds its timeout."""
        self._timeout_error = timeout_error
        self._cond = threading.Condition()
        self._round: dict[str, str] = {}

    def run(self, step: str, fn: Callable[[], None], timeout: Optional[float],
            log_after: float) -> None:
        """Run ``fn`` as ``step`` once this round, after the step before it."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if step == STEPS[0] and self._round.get(STEPS[1]) == _DONE:
                self._round = {}
            states = self._round  # this round's, even if a new one begins
            before = STEPS[STEPS.index(step) - 1] if step != STEPS[0] else None
            if before is not None:
                self._wait(lambda: states.get(before) == _DONE,
                           '%s is waiting for %s to complete' % (step, before),
                           deadline, log_after)
            if states.get(step) == _RUNNING:
                self._wait(lambda: states.get(step) != _RUNNING,
                           '%s is waiting for another thread to complete' % step,
                           deadline, log_after)
            if step in states:
                return
            states[step] = _RUNNING
        try:
            fn()
        finally:
            with self._cond:
                states[step] = _DONE
                self._cond.notify_all()

    def _wait(self, ready: Callable[[], bool], what: str, deadline: Optional[float],
              log_after: float) -> None:
        """Wait (holding the condition) until ``ready()``."""
        log_at = time.monotonic() + log_after if log_after else None
        while not ready():
            now = time.monotonic()
            if log_at is not None and now >= log_at:
                LOG.warning('Possible hang: %s', what)
                LOG.debug(''.join(traceback.format_stack()))
                log_at = None
            if deadline is not None and now >= deadline:
                raise self._timeout_error(what)
            limits = [t - now for t in (log_at, deadline) if t is not None]
            self._cond.wait(min(limits) if limits else None)
