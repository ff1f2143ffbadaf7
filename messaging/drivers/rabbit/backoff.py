"""How long the retry path waits: the backoff between reconnects, and the
time left before a caller's deadline, which bounds connects and retries."""
from __future__ import annotations

import random
import time
from typing import Any, Optional

# Seconds a connect (each step of its TCP and AMQP handshakes, and each
# declaration that follows it on the new channel) may take when no deadline
# is nearer; kombu's default.
CONNECT_TIMEOUT = 5.0

# Seconds before a deadline after which no retry starts: too short a time
# to connect and do anything.
LAST_TRY = 0.1


def reconnect_delay(conf: Any, attempt: int) -> float:
    """Backoff before reconnect ``attempt``: none beyond the base delay
    (``kombu_reconnect_delay`` and its splay) for the first, then
    ``rabbit_retry_interval`` growing by ``rabbit_retry_backoff`` up to
    ``rabbit_interval_max``."""
    delay = conf.kombu_reconnect_delay
    if conf.kombu_reconnect_splay:
        delay += random.uniform(0, conf.kombu_reconnect_splay)
    if attempt > 1:
        delay += min(conf.rabbit_retry_interval + conf.rabbit_retry_backoff * (attempt - 2),
                     conf.rabbit_interval_max)
    return delay


def first_connect_delay(conf: Any, attempt: int) -> float:
    """Backoff before connect ``attempt`` of a connection that never
    connected, as oslo.messaging's (kombu's ``ensure_connection``):
    ``rabbit_retry_interval``, growing by ``rabbit_retry_backoff`` until it
    would pass ``rabbit_interval_max`` beyond the first interval."""
    start, step = float(conf.rabbit_retry_interval), float(conf.rabbit_retry_backoff)
    steps = min(attempt - 1, int(conf.rabbit_interval_max // step)) if step > 0 else 0
    return start + step * steps


def time_left(deadline: Optional[float]) -> Optional[float]:
    """Seconds until ``deadline`` (at least 1 ms), None without one."""
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.001)


def connect_timeout(deadline: Optional[float]) -> float:
    """How long each step of a connect may wait, given the deadline."""
    return min(CONNECT_TIMEOUT, time_left(deadline) or CONNECT_TIMEOUT)
