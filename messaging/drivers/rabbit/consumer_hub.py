"""The hub of a driver's listening connections.

Every RPC server and notification listener of a transport consumes through
a few shared connections (shared_connection.SharedConnection) instead of one
connection, one channel and two threads each: a listener is attached to a
connection with room left, and a connection is opened when all are full
and closed when its last listener leaves. 100 servers and 100 listeners
thus take 4 connections and 4 I/O threads.

The listeners of a connection share its one channel; each consumer has a
tag unique on the connection for its life, by which deliveries are routed
to their listener. One channel (rather than one per listener) keeps the
connection's retry path as it is: every reset makes a new channel, on which
every listener's consumers are declared again. RabbitMQ applies
``basic.qos`` with ``global=False`` to each consumer, so
``rabbit_qos_prefetch_count`` still bounds each consumer's unacked
deliveries. The cost: a channel error (a 406 refusing one listener's
declaration) resets the connection under all its listeners, whose unacked
deliveries the broker then delivers again (RPC requests are deduplicated).
"""
from __future__ import annotations

import threading
from typing import Callable

from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging import log_names

LOG = log_names.get_logger(__name__)

# Listeners per shared connection. One I/O thread reads for all of them,
# which a single core keeps up with for thousands of deliveries per second;
# more connections spread a very busy service over several threads and
# bound how many listeners one reconnect or channel error disturbs.
LISTENERS_PER_CONNECTION = 64


class ConsumerHub:
    """Hands listeners a shared connection with room left.

    :param make_connection: a new, not yet connected, shared connection.
    :param per_connection: listeners per connection.
    """

    def __init__(self, make_connection: Callable[[], SharedConnection],
                 per_connection: int = LISTENERS_PER_CONNECTION) -> None:
        self._make_connection = make_connection
        self._per_connection = per_connection
        self._lock = threading.Lock()
        # Connection -> how many listeners use it.
        self._members: dict[SharedConnection, int] = {}

    @property
    def connections(self) -> list[SharedConnection]:
        """The shared connections open now."""
        with self._lock:
            return list(self._members)

    def attach(self) -> SharedConnection:
        """A connection for one more listener (detach it when done)."""
        with self._lock:
            for connection, count in self._members.items():
                if count < self._per_connection:
                    self._members[connection] = count + 1
                    return connection
            connection = self._make_connection()
            self._members[connection] = 1
            LOG.debug('Opened shared listening connection %s (%d in all)',
                      connection.name, len(self._members))
            return connection

    def detach(self, connection: SharedConnection) -> None:
        """One listener left ``connection``; the last one closes it."""
        with self._lock:
            count = self._members.get(connection)
            if count is None:
                return
            if count > 1:
                self._members[connection] = count - 1
                return
            del self._members[connection]
        connection.close()

    def close(self) -> None:
        """Close every shared connection (the driver's cleanup)."""
        with self._lock:
            connections, self._members = list(self._members), {}
        for connection in connections:
            connection.close()
