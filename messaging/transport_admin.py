"""What tools may do with a transport beyond sending and listening.

The ``messaging`` command and the benchmark need a few operations that
services do not: check that the broker can be used at all, connect before
timing anything, call every server of a topic at once, delete a queue they
made for themselves, retire a shared queue whose type a fleet changes, and
name the reply queue they declared. A transport offers them as
``transport.admin``, so that no tool reaches into its driver. Drivers that
lack an operation (the in-memory one, drivers written for oslo.messaging)
make it a no-op where that is true (nothing to check, connect or delete)
and an error where it is not.
"""
from __future__ import annotations

from typing import Any, Optional


class TransportAdmin:
    """The tool operations of one transport (``transport.admin``)."""

    def __init__(self, driver: Any) -> None:
        self._driver = driver

    def check_broker(self, timeout: Optional[float] = None) -> None:
        """Log in to the broker once (each host of the URL until one lets
        us in), each within ``timeout`` seconds or a few.

        :raises MessageDeliveryFailure: no host did; the text names each
            broker and why (refused, unknown host, TLS, credentials, vhost).
        """
        check = getattr(self._driver, 'check_reachable', None)
        if check is not None:
            check(timeout)

    def connect(self, timeout: float) -> None:
        """Connect now (the reply queue and one connection to send on),
        within ``timeout`` seconds, rather than on first use.

        :raises MessagingTimeout: the broker was not reached in time.
        """
        connect = getattr(self._driver, 'connect', None)
        if connect is not None:
            connect(timeout)

    def fanout_call(self, target: Any, ctxt: dict, message: dict,
                    timeout: float) -> list[tuple[float, Any]]:
        """Call every server of ``target.topic``; the answers that came
        within ``timeout`` as ``(arrival time, result or exception)``.

        :raises NotImplementedError: the driver cannot.
        """
        return self._driver.fanout_call(target, ctxt, message, timeout)

    def delete_queue(self, name: str) -> None:
        """Delete a queue this process made for itself (a private pool)."""
        delete = getattr(self._driver, 'delete_queue', None)
        if delete is not None:
            delete(name)

    def retire_queue(self, name: str, exchange: Optional[str] = None,
                     timeout: float = 30.0) -> Any:
        """Retire the shared queue of topic ``name`` so that its servers
        declare it again as now configured (another queue type), losing
        nothing: unbind it from ``exchange`` (default: the control
        exchange), let its servers empty it, delete it, and wait for them
        to declare it again, all within ``timeout`` seconds.

        :returns: a ``RetiredQueue``: its backlog and how long each step took.
        :raises QueueNotRetired: it was not deleted, and is bound as before
            (the text says why: no such queue, nobody consumes it, it did
            not empty in time).
        :raises NotImplementedError: the driver has no shared queues to retire.
        """
        retire = getattr(self._driver, 'retire_queue', None)
        if retire is None:
            raise NotImplementedError('the %s driver has no queues to retire'
                                      % type(self._driver).__name__)
        return retire(name, exchange, timeout)

    @property
    def reply_queue_name(self) -> Optional[str]:
        """The reply queue this transport declared for its calls (None
        before its first call, or for drivers without one)."""
        return getattr(self._driver, 'reply_queue_name', None)
