"""What RPC and notification listeners share (their kinds are
rpc_listener.py's and notification_listener.py's): consuming, pushing or
polling deliveries, decoding and rejecting them, and dropping duplicates.

A listener consumes through a connection it shares with other listeners of
the driver (consumer_hub.py), whose I/O thread routes each delivery to it.
A polled listener queues its deliveries for ``poll()``; a pushing one
(``start_push``) hands each to the server as a :class:`RabbitDelivery`,
turned into an incoming message by ``take()`` on the handling thread. A body
that cannot be decoded is logged and rejected (requeue=False) and never
reaches, or stops, the server.
"""
from __future__ import annotations

import abc
import collections
import threading
import time
from typing import Any, Callable, Optional

from messaging import wire
from messaging.drivers import base
from messaging.drivers.rabbit.declarations import QueueSpec
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging.drivers.rabbit.stream_fanout import StreamCursor
from messaging import log_names

LOG = log_names.get_logger(__name__)

# oslo remembers this many _unique_ids per listener to drop duplicates.
DEDUP_SIZE = 16


class RecentIds:
    """The last ``DEDUP_SIZE`` ids seen; a tiny FIFO set, safe across the
    threads that take a pushing listener's deliveries."""

    def __init__(self, size: int = DEDUP_SIZE) -> None:
        self._ids: collections.deque = collections.deque(maxlen=size)
        self._lock = threading.Lock()

    def seen(self, unique_id: Optional[str]) -> bool:
        """True if ``unique_id`` is among the recent ones (None never is)."""
        if unique_id is None:
            return False
        with self._lock:
            return unique_id in self._ids

    def add(self, unique_id: Optional[str]) -> None:
        """Remember ``unique_id``."""
        if unique_id is not None:
            with self._lock:
                self._ids.append(unique_id)

    def add_if_new(self, unique_id: Optional[str]) -> bool:
        """Remember ``unique_id`` and say True, or say False if it is among
        the recent ones: one step, so that two threads taking copies of one
        message cannot both find it new (None is always new)."""
        if unique_id is None:
            return True
        with self._lock:
            if unique_id in self._ids:
                return False
            self._ids.append(unique_id)
            return True


class RabbitDelivery(base.Delivery):
    """One delivery a pushing listener received, not yet settled."""

    __slots__ = ('_listener', '_raw', '_settled')

    def __init__(self, listener: 'RabbitListener', raw: Any) -> None:
        self._listener = listener
        self._raw = raw
        self._settled = False

    def decode(self) -> Optional[base.IncomingMessage]:
        if self._settled:
            raise RuntimeError('delivery %s was decoded or released already'
                               % self._raw.delivery_tag)
        self._settled = True
        return self._listener.decode_delivery(self._raw)

    def release(self) -> None:
        """Requeue it; a delivery decoded already stays with its handler."""
        if self._settled:
            LOG.debug('Not releasing delivery %s: it was settled already',
                      self._raw.delivery_tag)
            return
        self._settled = True
        self._listener.release_delivery(self._raw)


class RabbitListener(base.Listener):
    """Receives from consumers on a shared connection; subclasses turn
    deliveries into messages."""

    def __init__(self, connection: SharedConnection, batch_size: int,
                 batch_timeout: Optional[float], prefetch_size: int,
                 on_cleanup: Callable[['RabbitListener'], None]) -> None:
        super().__init__(batch_size, batch_timeout, prefetch_size)
        self.connection = connection
        # Consumer tag -> queue, in the order consumed: for log lines and
        # to cancel them.
        self._queue_of: dict[str, str] = {}
        self._deliveries: collections.deque = collections.deque()
        # Guards _deliveries, _push and _delivering; notified on arrival,
        # on stop and when a push call ends.
        self._arrived = threading.Condition()
        self._push: Optional[Callable[[base.Delivery], None]] = None
        # Threads inside the push callback now (thread id -> calls).
        self._delivering: collections.Counter = collections.Counter()
        self._stopped = threading.Event()
        self._recent = RecentIds()
        self._on_cleanup = on_cleanup

    def consume(self, spec: QueueSpec, cursor: Optional[StreamCursor] = None,
                renew: Optional[Callable[[], QueueSpec]] = None) -> str:
        """Declare and consume ``spec`` on this listener; its consumer tag.

        :param cursor: where to read ``spec`` from, when it is a stream.
        :param renew: for a queue of this listener's own, makes one of a new
            name to consume when the broker cannot serve ``spec`` (its node
            is down: ``ConsumerSet.declare``).
        """
        name = spec.name
        tag: Optional[str] = None

        def renewed(_old: QueueSpec) -> QueueSpec:
            # Before the declaration returned, its tag is not known yet.
            nonlocal name
            new = renew()
            name = new.name
            if tag is not None:
                self._queue_of[tag] = name
            return new

        tag = self.connection.declare_consumer(spec, self._on_delivery, cursor=cursor,
                                               renew=renewed if renew is not None else None)
        self._queue_of[tag] = name
        return tag

    @property
    def queue_names(self) -> list[str]:
        """The queues this listener consumes, in the order it began."""
        return list(self._queue_of.values())

    def _on_delivery(self, raw: Any) -> None:
        """A consumer callback (on the reading thread): queue or push ``raw``."""
        me = threading.get_ident()
        with self._arrived:
            if self._stopped.is_set():
                push = None
            elif self._push is None:
                self._deliveries.append(raw)
                self._arrived.notify()
                return
            else:
                push = self._push
                self._delivering[me] += 1
        if push is None:
            self.release_delivery(raw)
            return
        try:
            push(RabbitDelivery(self, raw))
        except Exception:
            LOG.exception('The server did not take delivery %s from queue %s; it is '
                          'given back', raw.delivery_tag, self.queue_of(raw))
            self.release_delivery(raw)
        finally:
            self._done_delivering(me)

    def start_push(self, deliver: Callable[[base.Delivery], None]) -> bool:
        """Push deliveries to ``deliver`` from now on (batch_size 1 only);
        deliveries queued for ``poll()`` already are pushed first."""
        if self.batch_size != 1:
            return False
        me = threading.get_ident()
        with self._arrived:
            self._push = deliver
            queued = list(self._deliveries)
            self._deliveries.clear()
            # Counted as a push under way, so that a stop waits for it too.
            self._delivering[me] += 1
        try:
            for raw in queued:
                deliver(RabbitDelivery(self, raw))
        finally:
            self._done_delivering(me)
        return True

    def _done_delivering(self, me: int) -> None:
        """Thread ``me`` left a push call; a waiting stop may go on."""
        with self._arrived:
            self._delivering[me] -= 1
            if not self._delivering[me]:
                del self._delivering[me]
                self._arrived.notify_all()

    def _poll_one(self, timeout: Optional[float]) -> Optional[base.IncomingMessage]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._arrived:
                while not self._deliveries:
                    if self._stopped.is_set():
                        return None
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return None
                    self._arrived.wait(left)
                if self._stopped.is_set():
                    return None
                raw = self._deliveries.popleft()
            message = self.decode_delivery(raw)
            if message is not None:
                return message

    def decode_delivery(self, raw: Any) -> Optional[base.IncomingMessage]:
        """The incoming message of a raw delivery (see Delivery.decode)."""
        # A delivery from a channel lost since is requeued by the broker
        # and will come again: this copy cannot be acked.
        if raw.channel is not self.connection.channel:
            return None
        return self._incoming(raw)

    def release_delivery(self, raw: Any) -> None:
        """Requeue an unhandled delivery. A stream's cannot be rejected
        (540): it is acked, and its cursor stays, so that a reconnect reads
        it again."""
        self.connection.ack(raw.channel, raw.delivery_tag,
                            requeue=None if self._from_stream(raw) else True)

    def _decode(self, raw: Any) -> Optional[dict]:
        """The message dict of a delivery, or None after rejecting it."""
        try:
            return self.connection.codec.decode(raw)
        except wire.MalformedMessage as ex:
            self._reject(raw, ex)
            return None

    def _reject(self, raw: Any, why: Exception, message_id: Any = None) -> None:
        """Log a message that cannot be handled and reject it (no requeue)."""
        LOG.error('Rejecting malformed message%s from queue %s (routing key %s): %s. It '
                  'is dropped, or dead-lettered if the queue has a dead-letter policy.',
                  '' if message_id is None else ' ' + wire.shorten(message_id),
                  self.queue_of(raw), raw.delivery_info.get('routing_key'), why)
        # A stream refuses basic.reject (540, closing the connection): its
        # deliveries are acked, which only moves this consumer on.
        self.connection.ack(raw.channel, raw.delivery_tag,
                            requeue=None if self._from_stream(raw) else False)

    def _from_stream(self, raw: Any) -> bool:
        """Whether ``raw`` came from a stream (see RpcListener)."""
        return False

    def queue_of(self, raw: Any) -> str:
        """The queue a delivery came from (its consumer tag if unknown)."""
        tag = raw.delivery_info.get('consumer_tag', '')
        return self._queue_of.get(tag, tag)

    @abc.abstractmethod
    def _incoming(self, raw: Any) -> Optional[base.IncomingMessage]:
        """The incoming message for a delivery, or None if it was dropped."""

    def stop(self) -> None:
        """No more deliveries: a poll returns, and once this returns no push
        call is under way on another thread or will be made."""
        me = threading.get_ident()
        with self._arrived:
            self._stopped.set()
            self._arrived.notify_all()
            while any(thread != me for thread in self._delivering):
                self._arrived.wait()

    def cleanup(self) -> None:
        """Cancel this listener's consumers, requeue what it did not hand
        over, and leave the shared connection."""
        self.stop()
        self.release()
        self._delete_own_queues()
        self._on_cleanup(self)

    def release(self) -> None:
        """Cancel the consumers and requeue the deliveries still queued."""
        self.connection.cancel_consumers(list(self._queue_of))
        with self._arrived:
            queued = list(self._deliveries)
            self._deliveries.clear()
        for raw in queued:
            self.release_delivery(raw)

    def _delete_own_queues(self) -> None:
        """Delete queues nobody else uses; shared queues stay."""
