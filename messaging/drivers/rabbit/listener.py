"""Listeners for RPC servers and notification listeners, and the incoming
messages they yield.

A listener owns one listening connection. Deliveries are queued by the
consumer callback and turned into incoming messages by the polling thread;
a body that cannot be decoded is logged and rejected (requeue=False) and
never reaches, or stops, the server.
"""
from __future__ import annotations

import abc
import collections
import logging
import threading
import time
from typing import Any, Callable, Optional

from messaging.drivers import base, common
from messaging.drivers.rabbit.connection import DRAIN_SLICE, Connection
from messaging.drivers.rabbit.declarations import QueueSpec, is_stream
from messaging.drivers.rabbit.reply_sender import ReplySender
from messaging.drivers.rabbit.stream_fanout import StreamCursor

LOG = logging.getLogger(__name__)

# oslo remembers this many _unique_ids per listener to drop duplicates.
DEDUP_SIZE = 16


class RecentIds:
    """The last ``DEDUP_SIZE`` ids seen; a tiny FIFO set."""

    def __init__(self, size: int = DEDUP_SIZE) -> None:
        self._ids: collections.deque = collections.deque(maxlen=size)

    def seen(self, unique_id: Optional[str]) -> bool:
        """True if ``unique_id`` is among the recent ones (None never is)."""
        return unique_id is not None and unique_id in self._ids

    def add(self, unique_id: Optional[str]) -> None:
        """Remember ``unique_id``."""
        if unique_id is not None:
            self._ids.append(unique_id)


class RabbitListener(base.Listener):
    """Polls one listening connection; subclasses turn deliveries into messages."""

    def __init__(self, connection: Connection, batch_size: int,
                 batch_timeout: Optional[float], prefetch_size: int,
                 on_cleanup: Callable[['RabbitListener'], None]) -> None:
        super().__init__(batch_size, batch_timeout, prefetch_size)
        self.connection = connection
        self.queue_names: list[str] = []
        self._deliveries: collections.deque = collections.deque()
        self._stopped = threading.Event()
        self._recent = RecentIds()
        self._on_cleanup = on_cleanup

    def consume(self, spec: QueueSpec, cursor: Optional[StreamCursor] = None) -> str:
        """Declare and consume ``spec`` on this listener; its consumer tag.

        :param cursor: where to read ``spec`` from, when it is a stream.
        """
        tag = self.connection.declare_consumer(spec, self._deliveries.append, cursor=cursor)
        self.queue_names.append(spec.name)
        return tag

    def _poll_one(self, timeout: Optional[float]) -> Optional[base.IncomingMessage]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._stopped.is_set():
            if self._deliveries:
                raw = self._deliveries.popleft()
                # A delivery from a channel lost since is requeued by the
                # broker and will come again: this copy cannot be acked.
                if raw.channel is not self.connection.channel:
                    continue
                message = self._incoming(raw)
                if message is not None:
                    return message
                continue
            left = DRAIN_SLICE if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return None
            self.connection.drain(min(left, DRAIN_SLICE))
        return None

    def _decode(self, raw: Any) -> Optional[dict]:
        """The message dict of a delivery, or None after rejecting it."""
        try:
            return self.connection.codec.decode(raw)
        except common.MalformedMessage as ex:
            self._reject(raw, ex)
            return None

    def _reject(self, raw: Any, why: Exception, message_id: Any = None) -> None:
        """Log a message that cannot be handled and reject it (no requeue)."""
        LOG.error('Rejecting malformed message%s from queue %s (routing key %s): %s. It '
                  'is dropped, or dead-lettered if the queue has a dead-letter policy.',
                  '' if message_id is None else ' ' + common.shorten(message_id),
                  self.queue_of(raw), raw.delivery_info.get('routing_key'), why)
        # A stream refuses basic.reject (540, closing the connection): its
        # deliveries are acked, which only moves this consumer on.
        self.connection.ack(raw.channel, raw.delivery_tag,
                            requeue=None if self._from_stream(raw) else False)

    def _from_stream(self, raw: Any) -> bool:
        """Whether ``raw`` came from a stream (see RpcListener)."""
        return False

    def queue_of(self, raw: Any) -> str:
        """The queue a delivery came from (consumer tags count from "1")."""
        tag = raw.delivery_info.get('consumer_tag', '')
        index = int(tag) - 1 if tag.isdigit() else -1
        return self.queue_names[index] if 0 <= index < len(self.queue_names) else tag

    @abc.abstractmethod
    def _incoming(self, raw: Any) -> Optional[base.IncomingMessage]:
        """The incoming message for a delivery, or None if it was dropped."""

    def stop(self) -> None:
        self._stopped.set()

    def cleanup(self) -> None:
        self._stopped.set()
        self.connection.cancel_consumers()
        self._delete_own_queues()
        self._on_cleanup(self)
        self.connection.close()

    def _delete_own_queues(self) -> None:
        """Delete queues nobody else uses; shared queues stay."""


class RpcIncoming(base.RpcIncomingMessage):
    """An RPC request, already acked on receipt as oslo servers do.

    ``queue`` names the queue it came from, for the server's log lines.
    """

    def __init__(self, sender: ReplySender, ctxt: dict, message: dict,
                 msg_id: Optional[str], reply_q: Optional[str], queue: str = '') -> None:
        super().__init__(ctxt, message, msg_id)
        self.reply_q = reply_q
        self.queue = queue
        self._sender = sender

    def acknowledge(self) -> None:
        """Nothing to do: the request was acked when it was received."""

    def requeue(self) -> None:
        """Nothing to do: an acked request cannot go back to the queue."""

    def reply(self, reply: Any = None, failure: Optional[BaseException] = None) -> None:
        if self.msg_id and self.reply_q:
            self._sender.send(self.reply_q, self.msg_id, reply, failure, ending=True)

    def heartbeat(self) -> None:
        if self.msg_id and self.reply_q:
            self._sender.send(self.reply_q, self.msg_id, ending=False)


class RpcListener(RabbitListener):
    """Consumes ``topic``, ``topic.server`` and a fanout queue of its own."""

    def __init__(self, connection: Connection, sender: ReplySender, **kwargs: Any) -> None:
        super().__init__(connection, **kwargs)
        self._sender = sender
        self.fanout_queue: Optional[str] = None
        self._stream: Optional[StreamCursor] = None
        self._stream_tag: Optional[str] = None

    def consume_fanout(self, spec: QueueSpec, private: bool) -> None:
        """Consume the server's fanout queue: a stream from its tail, or a
        queue of its own (deleted on a clean stop when ``private``)."""
        cursor = StreamCursor(spec.name) if is_stream(spec) else None
        tag = self.consume(spec, cursor)
        self._stream, self._stream_tag = cursor, tag
        if private:
            self.fanout_queue = spec.name

    def _from_stream(self, raw: Any) -> bool:
        return (self._stream is not None
                and raw.delivery_info.get('consumer_tag') == self._stream_tag)

    def _incoming(self, raw: Any) -> Optional[base.IncomingMessage]:
        if self._from_stream(raw):
            # Taken from here on, whatever becomes of it: a reconnect
            # resumes after it.
            self._stream.handled(raw)
        message = self._decode(raw)
        if message is None:
            return None
        unique_id = message.get('_unique_id')
        try:
            ctxt, msg_id, reply_q = common.unpack_context(message)
        except common.MalformedMessage as ex:
            self._reject(raw, ex, unique_id)
            return None
        self.connection.ack(raw.channel, raw.delivery_tag)
        if self._recent.seen(unique_id):
            LOG.info('Ignoring duplicate message %s from queue %s', common.shorten(unique_id),
                     self.queue_of(raw))
            return None
        self._recent.add(unique_id)
        return RpcIncoming(self._sender, ctxt, message, msg_id, reply_q,
                           self.queue_of(raw))

    def _delete_own_queues(self) -> None:
        """Delete this server's fanout queue (graceful stop, WIRE.md §4.4)."""
        if self.fanout_queue is not None:
            try:
                self.connection.delete_queue(self.fanout_queue)
            except Exception as ex:
                LOG.warning('Could not delete fanout queue %s: %s (the broker '
                            'expires it)', self.fanout_queue, ex)


class NotificationIncoming(base.IncomingMessage):
    """A notification, acked or requeued once the endpoint is done."""

    def __init__(self, listener: 'NotificationListener', raw: Any, ctxt: dict,
                 message: dict, unique_id: Optional[str]) -> None:
        super().__init__(ctxt, message)
        self._listener = listener
        self._raw = raw
        self._unique_id = unique_id

    def acknowledge(self) -> None:
        self._listener.connection.ack(self._raw.channel, self._raw.delivery_tag)
        self._listener._recent.add(self._unique_id)

    def requeue(self) -> None:
        """basic.reject(requeue=True): the broker delivers it again."""
        self._listener.connection.ack(self._raw.channel, self._raw.delivery_tag,
                                      requeue=True)


class NotificationListener(RabbitListener):
    """Consumes ``<topic>.<priority>`` queues, or one pool queue."""

    def _incoming(self, raw: Any) -> Optional[base.IncomingMessage]:
        message = self._decode(raw)
        if message is None:
            return None
        try:
            common.check_notification(message)
        except common.MalformedMessage as ex:
            self._reject(raw, ex, message.get('message_id'))
            return None
        unique_id = message.get('_unique_id')
        if self._recent.seen(unique_id):
            LOG.info('Ignoring duplicate notification %s from queue %s',
                     common.shorten(unique_id), self.queue_of(raw))
            self.connection.ack(raw.channel, raw.delivery_tag)
            return None
        ctxt, _, _ = common.unpack_context(message)
        return NotificationIncoming(self, raw, ctxt, message, unique_id)
