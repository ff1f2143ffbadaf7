"""Notification queues that nobody reads.

A notifier declares the queue of each topic it sends to (``<topic>.<priority>``,
as oslo.messaging does), so that nothing is lost before a listener comes.
When no listener ever comes (a service left ``notifications`` on with no
consumer, as many deployments do), the queue grows until the broker's
memory or disk alarm stops every publisher. This notices it at the sender:
at most every ``CHECK_INTERVAL`` seconds per queue, one passive declare
reads its depth and consumers, and a queue with no consumer that grew since
the last look gets one WARNING (then none until it is read again), which
says how to fix or bound it.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Optional

from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds between two looks at one queue.
CHECK_INTERVAL = 60.0


class UnreadNotifications:
    """Watches the notification queues a driver sends to."""

    def __init__(self, interval: Optional[float] = None) -> None:
        self._interval = CHECK_INTERVAL if interval is None else interval
        self._lock = threading.Lock()
        # Queue -> (monotonic time of the last look, depth then or None).
        self._looked: dict[str, tuple[float, Optional[int]]] = {}
        self._warned: set[str] = set()

    def due(self, queue: str, now: Optional[float] = None) -> bool:
        """Whether ``queue`` should be looked at now (and claim the look)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._looked.get(queue)
            if last is not None and now - last[0] < self._interval:
                return False
            self._looked[queue] = (now, None if last is None else last[1])
            return True

    def look(self, connection: Any, queue: str) -> None:
        """Read ``queue``'s depth and consumers on ``connection``; warn once
        when nobody reads it and it grows. Never raises."""
        try:
            state = connection.queue_state(queue)
        except Exception as ex:
            LOG.debug('Could not look at notification queue %s: %s', queue, ex)
            return
        if state is not None:
            self.observe(queue, *state)

    def observe(self, queue: str, messages: int, consumers: int) -> None:
        """Record a look: ``messages`` ready in ``queue``, ``consumers`` on it."""
        with self._lock:
            looked_at, before = self._looked.get(queue, (time.monotonic(), None))
            self._looked[queue] = (looked_at, messages)
            if consumers:
                self._warned.discard(queue)
                return
            growing = before is not None and messages > before
            if not growing or queue in self._warned:
                return
            self._warned.add(queue)
        LOG.warning('Notification queue %s has no consumer and grows (%d messages, %d more '
                    'than %d s ago): nobody reads these notifications. Start a listener, '
                    'stop sending them ([oslo_messaging_notifications] driver = noop), or '
                    'bound the queue with a broker policy (max-length, overflow, '
                    'message-ttl) so that it cannot fill the broker.', queue, messages,
                    messages - before, int(self._interval),
                    extra={'queue': queue, 'depth': messages})
