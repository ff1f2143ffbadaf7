"""The in-memory driver (``fake://``): one small broker shared by the process.

Services' test suites assert on what oslo.messaging's fake driver does, so
this one keeps its observable rules:

- every fake transport of the process talks to the same broker, so a client
  on one ``fake://`` transport reaches a server on another; ``cleanup()`` of
  any of them empties the broker (test fixtures rely on that to isolate
  tests);
- a message to a topic waits in that topic's queue until a server or
  listener takes it, even if none has started yet; each notification pool
  gets its own copy (a pool queue made later starts with a copy of what the
  topic queue holds); a message to ``topic.server`` waits in that server's
  queue; a fanout message reaches the server queues that exist when it is
  sent;
- nothing is encoded: arguments, results and contexts arrive as the very
  objects that were sent (a tuple stays a tuple, the context dict has no
  extra keys); a request is only checked to be JSON-serializable, as a real
  wire would need it to be;
- a call's failure reaches the caller as the exception object the server
  raised (``NoSuchMethod``, ``UnsupportedVersion``, a builtin exception
  with its own message);
- one consumer takes its server queue (fanout and ``topic.server``
  messages) before its topic queue, each in the order sent.

Waits end on an event rather than by polling, and a monitored call gets the
server's heartbeats, so a call never waits longer than it must.
"""
from __future__ import annotations

import copy
import queue
import threading
import time
import uuid
from typing import Any, Callable, NamedTuple, Optional

from oslo_serialization import jsonutils

from messaging import exceptions
from messaging import log_names
from messaging.drivers import base

LOG = log_names.get_logger(__name__)


class _Delivery(NamedTuple):
    """A message in a fake queue, as it was sent."""

    ctxt: Any
    message: Any
    reply_q: Optional[queue.Queue]
    requeue: Callable[[], None]
    # A monitored call's call-monitor timeout: the server heartbeats within it.
    client_timeout: Optional[float] = None


# A queue's key: ('topic', exchange, topic, pool) or ('server', exchange, topic, server).
_QueueKey = tuple


def _topic_key(exchange: str, topic: str, pool: Optional[str] = None) -> _QueueKey:
    return ('topic', exchange, topic, pool)


def _server_key(exchange: str, topic: str, server: str) -> _QueueKey:
    return ('server', exchange, topic, server)


class FakeExchangeManager:
    """The process's queues, by exchange, and one condition every waiting
    consumer sleeps on.

    ``_exchanges`` (exchange name -> that exchange's queues) is a class
    attribute read afresh by every operation, as in oslo.messaging's fake
    driver: test fixtures reset it (``FakeExchangeManager._exchanges = {}``)
    or patch it to drop every queued message between tests.
    """

    _exchanges: dict[str, dict[_QueueKey, list[_Delivery]]] = {}

    def __init__(self) -> None:
        self._cond = threading.Condition()

    def ensure_queue(self, key: _QueueKey) -> None:
        with self._cond:
            self._queue(key)

    def _queues_of(self, exchange: str) -> dict[_QueueKey, list[_Delivery]]:
        return self._exchanges.setdefault(exchange, {})

    def _queue(self, key: _QueueKey) -> list[_Delivery]:
        kind, exchange, topic, pool = key
        queues = self._queues_of(exchange)
        found = queues.get(key)
        if found is None:
            found = []
            if kind == 'topic' and pool is not None:
                # A new pool sees what the topic already holds, as its own copy.
                found = [d._replace(ctxt=copy.deepcopy(d.ctxt),
                                    message=copy.deepcopy(d.message))
                         for d in self._queue(_topic_key(exchange, topic))]
            queues[key] = found
        return found

    def deliver(self, exchange: str, topic: str, ctxt: Any, message: Any,
                server: Optional[str] = None, fanout: bool = False,
                reply_q: Optional[queue.Queue] = None,
                client_timeout: Optional[float] = None) -> None:
        """Append the message to the queues the routing rules pick."""

        def requeue() -> None:
            self.deliver(exchange, topic, ctxt, message, server, fanout, reply_q,
                         client_timeout)

        delivery = _Delivery(ctxt, message, reply_q, requeue, client_timeout)
        with self._cond:
            queues = self._queues_of(exchange)
            if fanout:
                keys = [k for k in queues if k[0] == 'server' and k[2] == topic]
            elif server is not None:
                keys = [_server_key(exchange, topic, server)]
            else:
                self._queue(_topic_key(exchange, topic))
                keys = [k for k in queues if k[0] == 'topic' and k[2] == topic]
            for key in keys:
                self._queue(key).append(delivery)
            self._cond.notify_all()

    def take(self, keys: list[_QueueKey], timeout: Optional[float],
             stopped: threading.Event) -> Optional[_Delivery]:
        """The first message of the first non-empty queue of ``keys``, in
        that order; None after ``timeout`` seconds or once ``stopped``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not stopped.is_set():
                for key in keys:
                    pending = self._queue(key)
                    if pending:
                        return pending.pop(0)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            return None

    def wake_all(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def clear(self) -> None:
        with self._cond:
            self._exchanges.clear()


# Shared by every fake transport of the process, as oslo.messaging's is.
_BROKER = FakeExchangeManager()


class FakeIncomingMessage(base.RpcIncomingMessage):
    """A message taken from a fake queue, with the objects that were sent."""

    def __init__(self, delivery: _Delivery) -> None:
        super().__init__(delivery.ctxt, delivery.message, str(uuid.uuid4()))
        self._delivery = delivery

    @property
    def client_timeout(self) -> Optional[float]:
        """The caller's call-monitor timeout, if it monitors the call."""
        return self._delivery.client_timeout

    def acknowledge(self) -> None:
        """Nothing to do: the message already left its queue."""

    def requeue(self) -> None:
        """Deliver the message again, at the back of the queues it went to."""
        self._delivery.requeue()

    def reply(self, reply: Any = None, failure: Any = None) -> None:
        """Answer a call (a cast has nobody to answer).

        ``failure`` is the exception, or an ``exc_info`` tuple holding it.
        """
        if self._delivery.reply_q is None:
            return
        if isinstance(failure, tuple):
            failure = failure[1]
        self._delivery.reply_q.put(('reply', reply, failure))

    def heartbeat(self) -> None:
        """Tell a monitoring caller that the call is still running."""
        if self._delivery.reply_q is not None:
            self._delivery.reply_q.put(('heartbeat', None, None))


class FakeListener(base.Listener):
    """Takes messages from fixed fake queues, the first listed first."""

    def __init__(self, keys: list[_QueueKey], batch_size: int = 1,
                 batch_timeout: Optional[float] = None) -> None:
        super().__init__(batch_size, batch_timeout)
        self._keys = keys
        self._stopped = threading.Event()
        for key in keys:
            _BROKER.ensure_queue(key)

    def _poll_one(self, timeout: Optional[float]) -> Optional[FakeIncomingMessage]:
        delivery = _BROKER.take(self._keys, timeout, self._stopped)
        if delivery is None:
            return None
        return FakeIncomingMessage(delivery)

    def stop(self) -> None:
        self._stopped.set()
        _BROKER.wake_all()

    def cleanup(self) -> None:
        """Nothing to release: the queues belong to the shared broker."""


class FakeDriver(base.BaseDriver):
    """In-memory driver: the embedded default for tests and demos."""

    def __init__(self, conf, url, default_exchange: Optional[str] = None,
                 allowed_remote_exmods: Optional[list[str]] = None) -> None:
        super().__init__(conf, url, default_exchange, allowed_remote_exmods)

    @property
    def _exchange_manager(self) -> FakeExchangeManager:
        # oslo's name for the driver's broker, which heat's service code
        # reaches to reset it (``_exchange_manager._exchanges = {}``).
        return _BROKER

    def require_features(self, requeue: bool = True) -> None:
        """Every feature is there: requeue included."""

    def _exchange(self, target) -> Optional[str]:
        return target.exchange or self._default_exchange

    @staticmethod
    def _check_serializable(message: Any) -> None:
        # What a real wire cannot carry fails here too, as with oslo's driver.
        jsonutils.dumps(message)

    def send(self, target, ctxt, message, wait_for_reply=None, timeout=None,
             call_monitor_timeout=None, retry=None, transport_options=None):
        """Deliver a request; for a call, wait for the reply and return it."""
        self._check_serializable(message)
        reply_q = queue.Queue() if wait_for_reply else None
        _BROKER.deliver(self._exchange(target), target.topic, ctxt, message,
                        server=target.server, fanout=target.fanout, reply_q=reply_q,
                        client_timeout=call_monitor_timeout if reply_q else None)
        if reply_q is None:
            return None
        return self._wait_for_reply(reply_q, target, timeout, call_monitor_timeout)

    @staticmethod
    def _wait_for_reply(reply_q: queue.Queue, target, timeout: Optional[float],
                        call_monitor_timeout: Optional[float]) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            waits = [w for w in (call_monitor_timeout,
                                 None if deadline is None else deadline - time.monotonic())
                     if w is not None]
            try:
                kind, reply, failure = reply_q.get(timeout=max(min(waits), 0)
                                                   if waits else None)
            except queue.Empty:
                raise exceptions.MessagingTimeout('No reply on topic %s' % target.topic)
            if kind == 'heartbeat':
                continue
            if failure is not None:
                raise failure
            return reply

    def fanout_call(self, target, ctxt, message, timeout):
        """Call every server of ``target.topic``; their answers within ``timeout``."""
        self._check_serializable(message)
        reply_q: queue.Queue = queue.Queue()
        _BROKER.deliver(self._exchange(target), target.topic, ctxt, message,
                        fanout=True, reply_q=reply_q)
        deadline = time.monotonic() + timeout
        answers = []
        while True:
            try:
                kind, reply, failure = reply_q.get(
                    timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return answers
            if kind == 'reply':
                answers.append((time.monotonic(), reply if failure is None else failure))

    def send_notification(self, target, ctxt, message, version, retry=None):
        """Deliver a notification to ``target.topic`` (``<topic>.<priority>``)."""
        self._check_serializable(message)
        _BROKER.deliver(self._exchange(target), target.topic, ctxt, message)

    def listen(self, target, batch_size, batch_timeout):
        """A server's listener: its server queue first, then its topic queue;
        polled on a thread of its own, as oslo's fake driver's is."""
        exchange = self._exchange(target)
        keys = [_topic_key(exchange, target.topic) if target.server is None
                else _server_key(exchange, target.topic, target.server),
                _topic_key(exchange, target.topic)]
        return base.PollStyleListenerAdapter(FakeListener(keys, batch_size, batch_timeout),
                                             batch_size, batch_timeout)

    def listen_for_notification(self, targets_and_priorities, pool, batch_size,
                                batch_timeout):
        """A listener on ``<topic>.<priority>`` of each pair, through ``pool``'s
        copy when a pool is given."""
        keys = []
        for target, priority in targets_and_priorities:
            key = _topic_key(self._exchange(target), '%s.%s' % (target.topic, priority),
                             pool)
            if key not in keys:
                keys.append(key)
        return base.PollStyleListenerAdapter(FakeListener(keys, batch_size, batch_timeout),
                                             batch_size, batch_timeout)

    def cleanup(self) -> None:
        """Empty the shared broker, as oslo.messaging's fake driver does."""
        _BROKER.clear()
        _BROKER.wake_all()
