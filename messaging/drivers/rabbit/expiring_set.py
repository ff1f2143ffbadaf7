"""A bounded set whose members are forgotten after a while.

The driver remembers some names for a short time only: reply queues found
gone (reply_sender.py: replies to them are dropped at once) and routing keys
no queue was bound to (unroutable.py: casts to them are dropped at once).
A name stays ``ttl`` seconds, so that a queue declared later is used again;
at most ``max_size`` names are kept, the oldest forgotten first, so that a
stream of distinct names cannot grow it without bound.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Hashable


class ExpiringSet:
    """Members kept ``ttl`` seconds each, at most ``max_size`` of them.

    :param clock: the time source (``time.monotonic``; tests inject theirs).
    """

    def __init__(self, ttl: float, max_size: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._expiry: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def add(self, member: Hashable) -> None:
        """Remember ``member`` for ``ttl`` seconds from now."""
        with self._lock:
            self._expiry.pop(member, None)
            while len(self._expiry) >= self._max_size:
                del self._expiry[next(iter(self._expiry))]
            self._expiry[member] = self._clock() + self._ttl

    def __contains__(self, member: Hashable) -> bool:
        with self._lock:
            expiry = self._expiry.get(member)
            if expiry is not None and expiry < self._clock():
                del self._expiry[member]
                expiry = None
            return expiry is not None
