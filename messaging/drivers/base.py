"""The contract between the transport layer and a driver.

A driver is built as ``Driver(conf, url, default_exchange=...,
allowed_remote_exmods=[...])`` and moves already-serialized dicts: the RPC
and notification layers above it own serialization of arguments and
contexts; the driver owns the wire format, connections and replies.
"""
from __future__ import annotations

import abc
import time
from typing import Any, Callable, Optional

from messaging import exceptions
from messaging.drivers.polling import PollStyleListener, PollStyleListenerAdapter

# oslo.messaging's driver API names, where drivers written for it look.
__all__ = ['TransportDriverError', 'IncomingMessage', 'RpcIncomingMessage', 'Delivery',
           'Listener', 'PollStyleListener', 'PollStyleListenerAdapter', 'BaseDriver']


class TransportDriverError(exceptions.MessagingException):
    """Base class for errors a driver raises."""


class IncomingMessage(abc.ABC):
    """A received message: its context dict and its message dict.

    The server acknowledges or requeues it once it has been handled.
    """

    def __init__(self, ctxt: dict, message: dict, msg_id: Optional[str] = None) -> None:
        self.ctxt = ctxt
        self.message = message
        self.msg_id = msg_id

    @abc.abstractmethod
    def acknowledge(self) -> None:
        """Tell the broker the message was handled and may be forgotten."""

    @abc.abstractmethod
    def requeue(self) -> None:
        """Give the message back to the broker for another delivery."""


class RpcIncomingMessage(IncomingMessage):
    """An RPC request; a call (``msg_id`` set) expects a reply."""

    @property
    def client_timeout(self) -> Optional[float]:
        """The caller's call-monitor timeout: heartbeat every half of it."""
        return self.ctxt.get('client_timeout')

    @abc.abstractmethod
    def reply(self, reply: Any = None, failure: Optional[BaseException] = None) -> None:
        """Send the final reply: a result, or the exception the method raised."""

    @abc.abstractmethod
    def heartbeat(self) -> None:
        """Tell a monitoring caller that the call is still running."""


class Delivery(abc.ABC):
    """A message a pushing listener received and has not yet handed over.

    The listener's I/O thread passes it to the server, which calls
    :meth:`decode` on the thread that will handle it, or :meth:`release`
    when it will not handle it (it stopped first). Nothing is acknowledged
    before :meth:`decode`, so a delivery never decoded is not lost. Each
    delivery is decoded or released once.
    """

    @abc.abstractmethod
    def decode(self) -> Optional[IncomingMessage]:
        """The incoming message (an RPC request is acknowledged now), or
        None when the delivery was dropped (malformed, a duplicate, or from
        a connection lost since: the broker delivers it again)."""

    @abc.abstractmethod
    def release(self) -> None:
        """Return the delivery to the broker unhandled (requeued)."""


class Listener(PollStyleListener):
    """Yields incoming messages for one subscription (topic, server, pool...).

    Subclasses implement :meth:`_poll_one`; :meth:`poll` gathers batches of
    the listener's own ``batch_size`` and ``batch_timeout`` unless told
    otherwise.
    """

    def __init__(self, batch_size: int = 1, batch_timeout: Optional[float] = None,
                 prefetch_size: int = 0) -> None:
        super().__init__(prefetch_size)
        self.batch_size = max(1, batch_size or 1)
        if prefetch_size > 0:
            self.batch_size = min(self.batch_size, prefetch_size)
        self.batch_timeout = batch_timeout

    def poll(self, timeout: Optional[float] = None, batch_size: Optional[int] = None,
             batch_timeout: Optional[float] = None) -> list[IncomingMessage]:
        """Up to ``batch_size`` messages.

        Waits at most ``batch_timeout`` (else ``timeout``; ``None`` = until
        a message arrives or the listener stops) for the whole batch, and
        returns early when a wait ends empty. An empty list means time-out
        or stop.
        """
        size = batch_size or self.batch_size
        budget = batch_timeout or self.batch_timeout or timeout
        deadline = None if budget is None else time.monotonic() + budget
        batch: list[IncomingMessage] = []
        while len(batch) < size:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            message = self._poll_one(left)
            if message is None:
                break
            batch.append(message)
        return batch

    def start_push(self, deliver: Callable[[Delivery], None]) -> bool:
        """Ask the listener to push its messages instead of being polled.

        A listener that can returns True and from then on calls
        ``deliver(delivery)`` from its I/O thread for each message, until
        :meth:`stop` returns; ``deliver`` must not block, since one I/O
        thread may serve many listeners. A listener that cannot (batches,
        drivers without an I/O loop) returns False and is polled.
        """
        return False

    @abc.abstractmethod
    def _poll_one(self, timeout: Optional[float]) -> Optional[IncomingMessage]:
        """One message, or None after ``timeout`` seconds or on stop."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop receiving: a blocked or later poll returns at once."""

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Release what the listener holds (consumers, connection)."""


class BaseDriver(abc.ABC):
    """What every transport driver offers the transport layer."""

    prefetch_size = 0

    def __init__(self, conf, url, default_exchange: Optional[str] = None,
                 allowed_remote_exmods: Optional[list[str]] = None) -> None:
        self.conf = conf
        self._url = url
        self._default_exchange = default_exchange
        self._allowed_remote_exmods = list(allowed_remote_exmods or [])

    def require_features(self, requeue: bool = False) -> None:
        """Raise NotImplementedError when the driver lacks a feature."""

    @abc.abstractmethod
    def send(self, target, ctxt: dict, message: dict, wait_for_reply: Optional[bool] = None,
             timeout: Optional[float] = None, call_monitor_timeout: Optional[float] = None,
             retry: Optional[int] = None, transport_options=None) -> Any:
        """Send an RPC request; for a call, wait and return the reply.

        :raises MessagingTimeout: when no reply came within ``timeout``, or
            no sign of life within ``call_monitor_timeout``.
        :raises Exception: the remote exception, rebuilt.
        """

    @abc.abstractmethod
    def send_notification(self, target, ctxt: dict, message: dict, version: float,
                          retry: Optional[int] = None) -> None:
        """Publish a notification in format ``version`` (1.0 or 2.0).

        ``target.topic`` is already the routing key ``<topic>.<priority>``
        (the notifier builds it, as oslo's does); the exchange is
        ``target.exchange`` or the driver's default exchange. ``message``
        holds message_id, publisher_id, event_type, priority, payload and
        timestamp; the driver adds ``_unique_id`` and the packed context.
        """

    @abc.abstractmethod
    def listen(self, target, batch_size: int, batch_timeout: Optional[float]) -> Listener:
        """A listener for an RPC server's topic, topic.server and fanout."""

    @abc.abstractmethod
    def listen_for_notification(self, targets_and_priorities, pool: Optional[str],
                                batch_size: int, batch_timeout: Optional[float]
                                ) -> Listener:
        """A listener for notifications of the given (target, priority) pairs.

        Each pair subscribes to routing key ``<target.topic>.<priority>`` on
        ``target.exchange`` (or the default exchange): through the shared
        queue of that name, or, with ``pool``, through one queue named
        exactly ``pool``. Incoming ``message`` dicts hold the notification
        keys (context keys stripped into ``ctxt``).
        """

    def fanout_call(self, target, ctxt: dict, message: dict,
                    timeout: float) -> list[tuple[float, Any]]:
        """Call every server of ``target.topic`` at once; gather the answers.

        For surveys such as ``messaging ping --all``: the request goes to the
        topic's fanout exchange with a reply address, and every final reply
        that arrives within ``timeout`` is returned as ``(monotonic arrival
        time, result or rebuilt exception)``, in arrival order.
        """
        raise NotImplementedError('the %s driver cannot call every server of a topic'
                                  % type(self).__name__)

    def delete_queue(self, queue: str) -> None:
        """Remove a queue this process made for itself (a private listener pool).

        Drivers without such queues have nothing to remove.
        """

    @abc.abstractmethod
    def cleanup(self) -> None:
        """Close every connection and thread the driver owns."""
