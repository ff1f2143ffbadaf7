"""Noticing that a consumed queue vanished without the consumer being told.

When a cluster node stops, the classic (non-replicated) queues it hosted
are deleted with their bindings. Consumers on other nodes are normally
sent ``basic.cancel``, and the connection reconnects and declares the
queue again. But a consumer that (re)declared its queue while that node
was shutting down, after its connections were closed and before its
queues were, attaches to the dying queue and is never told when the queue
goes: its channel stays open and silent. An RPC server then stops getting
requests, or a reply waiter stops getting replies, with nothing to show.

A passive declare of each consumed queue every ``CHECK_INTERVAL`` seconds
turns that silent state into a 404 NOT_FOUND, which the connection's one
retry path (``Connection.ensure``) handles like any broken channel:
reconnect, declare the queues again, consume again.
"""
from __future__ import annotations

import logging
import time
from typing import Callable, Iterable

from messaging.drivers.rabbit.connection import Connection

LOG = logging.getLogger(__name__)

# Seconds between checks: bounds how long a vanished queue goes unnoticed,
# at the cost of one round trip per consumed queue.
CHECK_INTERVAL = 5.0


class QueueCheck:
    """Passively declares the queues a connection consumes, now and then.

    :param connection: the listening connection whose queues are checked.
    :param names: returns the names of the queues consumed right now.
    :param interval: seconds between two checks.
    """

    def __init__(self, connection: Connection, names: Callable[[], Iterable[str]],
                 interval: float = CHECK_INTERVAL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._connection = connection
        self._names = names
        self._interval = interval
        self._clock = clock
        self._next = clock() + interval

    def maybe_run(self) -> None:
        """Check the queues if ``interval`` seconds passed since the last check.

        A missing queue makes the connection reconnect and consume again
        (and log that it did) before this returns.
        """
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._interval
        names = list(self._names())
        if not names:
            return

        def _check(channel) -> None:
            for name in names:
                channel.queue_declare(name, passive=True)

        LOG.debug('Checking that queues %s still exist on %s', ', '.join(names),
                  self._connection.host)
        self._connection.ensure(_check, what='check of consumed queues %s'
                                % ', '.join(names))
