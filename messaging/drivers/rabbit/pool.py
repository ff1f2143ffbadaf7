"""A bounded pool of send connections, and the context that lends one out.

Connections are expensive (TCP, AMQP handshake, heartbeat thread), so every
publish borrows one from the pool and gives it back. The most recently used
connection is lent first (LIFO), so under a light load the same few stay
warm while the others age out after ``ttl`` seconds of idleness.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Generic, Optional, TypeVar

from messaging import exceptions
from messaging.drivers.base import TransportDriverError
from messaging import log_names

LOG = log_names.get_logger(__name__)

C = TypeVar('C')


class ConnectionReleasedError(TransportDriverError):
    """A ConnectionContext was used after its connection went back."""


class ConnectionPool(Generic[C]):
    """Thread-safe pool of at most ``max_size`` connections.

    :param factory: makes a new connection; each must have ``close()``.
    :param min_size: idle connections kept even when older than ``ttl``.
    :param ttl: seconds an idle connection (beyond ``min_size``) is kept.
    """

    def __init__(self, factory: Callable[[], C], max_size: int, min_size: int = 0,
                 ttl: Optional[float] = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        if max_size < 1:
            raise ValueError('a connection pool needs max_size >= 1')
        self._factory = factory
        self.max_size = max_size
        self.min_size = max(0, min_size)
        self.ttl = ttl
        self._clock = clock
        self._idle: list[tuple[C, float]] = []
        self._created = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def size(self) -> int:
        """Connections in existence: lent out plus idle."""
        return self._created

    @property
    def idle(self) -> int:
        """Connections waiting in the pool."""
        return len(self._idle)

    def get(self, timeout: Optional[float] = None) -> C:
        """Lend a connection, creating one if the pool is below its bound.

        Blocks while all ``max_size`` connections are lent out.

        :raises TimeoutError: when none became free within ``timeout``.
        """
        with self._cond:
            if not self._cond.wait_for(
                    lambda: self._closed or self._idle or self._created < self.max_size,
                    timeout):
                raise TimeoutError('no pooled connection became free within %s s'
                                   % timeout)
            if self._closed:
                raise ConnectionReleasedError('the connection pool is closed')
            if self._idle:
                return self._idle.pop()[0]
            self._created += 1
        try:
            return self._factory()
        except BaseException:
            with self._cond:
                self._created -= 1
                self._cond.notify()
            raise

    def put(self, connection: C) -> None:
        """Take a healthy connection back, and close those idle too long."""
        with self._cond:
            if self._closed:
                expired = [connection]
                self._created -= 1
            else:
                self._idle.append((connection, self._clock()))
                expired = self._expire()
            self._cond.notify()
        for old in expired:
            _close(old)

    def discard(self, connection: C) -> None:
        """Close a broken connection and free its slot for a new one."""
        with self._cond:
            self._created -= 1
            self._cond.notify()
        _close(connection)

    def _expire(self) -> list[C]:
        if self.ttl is None:
            return []
        deadline = self._clock() - self.ttl
        expired = []
        # Oldest first: the list is in return order, the LIFO end is newest.
        while len(self._idle) > self.min_size and self._idle[0][1] < deadline:
            expired.append(self._idle.pop(0)[0])
            self._created -= 1
        return expired

    def close(self) -> None:
        """Close every idle connection; lent ones are closed when returned."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._created -= len(idle)
            self._cond.notify_all()
        for connection, _ in idle:
            _close(connection)


def _close(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # closing is best effort; the socket may be dead
        LOG.debug('Ignoring error while closing a pooled connection', exc_info=True)


class ConnectionContext:
    """Borrow a pooled connection for a ``with`` block; proxies its attributes.

    On exit the connection goes back to the pool, or is closed and replaced
    when the block raised a broker error (it may be half-broken). Using the
    context after that raises ``ConnectionReleasedError``.
    """

    def __init__(self, pool: ConnectionPool, timeout: Optional[float] = None) -> None:
        self._pool = pool
        self._connection = pool.get(timeout)

    @property
    def connection(self) -> Any:
        """The borrowed connection.

        :raises ConnectionReleasedError: after release.
        """
        if self._connection is None:
            raise ConnectionReleasedError('this pooled connection was already returned '
                                          'to the pool; borrow another one')
        return self._connection

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the context itself lacks.
        return getattr(self.connection, name)

    def __enter__(self) -> 'ConnectionContext':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release(broken=exc is not None and not _is_caller_error(exc))

    def release(self, broken: bool = False) -> None:
        """Give the connection back (idempotent); ``broken`` closes it."""
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if broken:
            self._pool.discard(connection)
        else:
            self._pool.put(connection)


def _is_caller_error(exc: BaseException) -> bool:
    """Errors about the message, not the connection: keep the connection.

    ``MessageUndeliverable`` (no route) and programming errors leave the
    channel usable.
    """
    return isinstance(exc, (exceptions.MessageUndeliverable, TypeError, ValueError))
