"""The ``test`` notification driver: keeps notifications in memory.

Tests assert on :data:`NOTIFICATIONS`, a module-level list of
``(ctxt, message, priority, retry)`` tuples, and start a new one with
:func:`reset` (as oslo.messaging's, a list fetched before stays as it was).
"""
from __future__ import annotations

from typing import Optional

from messaging.notify import notifier

NOTIFICATIONS: list[tuple[dict, dict, str, Optional[int]]] = []


def reset() -> None:
    """Start a new, empty :data:`NOTIFICATIONS` list."""
    global NOTIFICATIONS
    NOTIFICATIONS = []


class TestDriver(notifier.Driver):
    """Appends each notification to :data:`NOTIFICATIONS`."""

    # Not a test class, whatever pytest's collection rules think of the name.
    __test__ = False

    def notify(self, ctxt, message: dict, priority: str,
               retry: Optional[int]) -> None:
        """Record the notification."""
        NOTIFICATIONS.append((ctxt, message, priority, retry))
