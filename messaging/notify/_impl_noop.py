"""The ``noop`` notification driver: accepts notifications and drops them.

Useful to keep a notifier "enabled" (``is_enabled()`` is True) while sending
nothing, e.g. in tests or while a consumer is being set up.
"""
from __future__ import annotations

from typing import Optional

from messaging.notify import notifier


class NoOpDriver(notifier.Driver):
    """Drops every notification."""

    def notify(self, ctxt: dict, message: dict, priority: str,
               retry: Optional[int]) -> None:
        """Do nothing."""
