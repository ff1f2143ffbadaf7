"""The RPC server's listener: its ``topic``, ``topic.server`` and fanout
queues, and the requests it yields, acked on receipt as oslo servers ack
them, their replies sent through the ``ReplySender``."""
from __future__ import annotations

from typing import Any, Callable, Optional

from messaging import wire
from messaging.drivers import base
from messaging.drivers.rabbit.declarations import QueueSpec, is_stream
from messaging.drivers.rabbit.listener import RabbitListener
from messaging.drivers.rabbit.reply_sender import ReplySender
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging.drivers.rabbit.stream_fanout import StreamCursor
from messaging import log_names

LOG = log_names.get_logger(__name__)


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

    def __init__(self, connection: SharedConnection, sender: ReplySender, **kwargs: Any
                 ) -> None:
        super().__init__(connection, **kwargs)
        self._sender = sender
        self._private_fanout_tag: Optional[str] = None
        self._stream: Optional[StreamCursor] = None
        self._stream_tag: Optional[str] = None

    def consume_fanout(self, spec: QueueSpec, private: bool,
                       renew: Callable[[], QueueSpec]) -> None:
        """Consume the server's fanout queue: a stream from its tail, or a
        queue of its own (deleted on a clean stop when ``private``), of a
        new name from ``renew`` if the broker cannot serve it."""
        cursor = StreamCursor(spec.name) if is_stream(spec) else None
        tag = self.consume(spec, cursor, renew=None if cursor else renew)
        self._stream, self._stream_tag = cursor, tag
        if private:
            self._private_fanout_tag = tag

    @property
    def fanout_queue(self) -> Optional[str]:
        """The fanout queue of this server's own, to delete when it stops."""
        tag = self._private_fanout_tag
        return self._queue_of.get(tag) if tag is not None else None

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
            ctxt, msg_id, reply_q = wire.unpack_context(message)
        except wire.MalformedMessage as ex:
            self._reject(raw, ex, unique_id)
            return None
        self.connection.ack(raw.channel, raw.delivery_tag)
        if not self._recent.add_if_new(unique_id):
            LOG.info('Ignoring duplicate message %s from queue %s', wire.shorten(unique_id),
                     self.queue_of(raw))
            return None
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
