"""The notification listener: its ``<topic>.<priority>`` (or pool) queues,
and the notifications it yields, acked or requeued once the endpoint is
done; a requeue that the queue's delivery limit ends is said at WARNING."""
from __future__ import annotations

from typing import Any, Optional

from messaging import wire
from messaging.drivers import base
from messaging.drivers.rabbit import delivery_limit
from messaging.drivers.rabbit.listener import RabbitListener, RecentIds
from messaging.drivers.rabbit.shared_connection import SharedConnection
from messaging import log_names

LOG = log_names.get_logger(__name__)


class NotificationIncoming(base.IncomingMessage):
    """A notification, acked or requeued once the endpoint is done."""

    def __init__(self, connection: SharedConnection, recent: RecentIds, raw: Any,
                 ctxt: dict, message: dict, unique_id: Optional[str],
                 configured_limit: int = 0) -> None:
        super().__init__(ctxt, message)
        self._connection = connection
        self._configured_limit = configured_limit
        self._recent = recent
        self._raw = raw
        self._unique_id = unique_id

    def acknowledge(self) -> None:
        """Ack it, and remember its id: a redelivery is a duplicate now."""
        self._connection.ack(self._raw.channel, self._raw.delivery_tag)
        self._recent.add(self._unique_id)

    def requeue(self) -> None:
        """basic.reject(requeue=True): the broker delivers it again, unless
        its queue's delivery limit is reached (said at WARNING, see
        delivery_limit.py)."""
        raw = self._raw
        try:
            server_version = raw.channel.connection.server_properties.get('version')
        except AttributeError:  # the channel is gone: the broker redelivers it anyway
            server_version = None
        limit = delivery_limit.limit_for(self._configured_limit, server_version)
        if delivery_limit.requeue_drops(raw, limit):
            LOG.warning('Requeueing notification %s (event type %s) from queue %s for the '
                        'last time: it was delivered %d times before and the queue\'s '
                        'delivery limit is %d, so the broker drops it, or dead-letters it '
                        'if a policy gives the queue a dead-letter exchange. Set '
                        'rabbit_quorum_delivery_limit (on new queues) or a delivery-limit '
                        'policy to allow more', self.message.get('message_id'),
                        self.message.get('event_type'), raw.delivery_info.get('routing_key'),
                        delivery_limit.delivery_count(raw), limit)
        self._connection.ack(raw.channel, raw.delivery_tag, requeue=True)


class NotificationListener(RabbitListener):
    """Consumes ``<topic>.<priority>`` queues, or one pool queue."""

    def __init__(self, *args: Any, quorum_delivery_limit: int = 0, **kwargs: Any) -> None:
        """:param quorum_delivery_limit: ``rabbit_quorum_delivery_limit``,
            which its queues were declared with."""
        super().__init__(*args, **kwargs)
        self._quorum_delivery_limit = quorum_delivery_limit

    def _incoming(self, raw: Any) -> Optional[base.IncomingMessage]:
        message = self._decode(raw)
        if message is None:
            return None
        try:
            wire.check_notification(message)
        except wire.MalformedMessage as ex:
            self._reject(raw, ex, message.get('message_id'))
            return None
        unique_id = message.get('_unique_id')
        if self._recent.seen(unique_id):
            LOG.info('Ignoring duplicate notification %s from queue %s',
                     wire.shorten(unique_id), self.queue_of(raw))
            self.connection.ack(raw.channel, raw.delivery_tag)
            return None
        ctxt, _, _ = wire.unpack_context(message)
        return NotificationIncoming(self.connection, self._recent, raw, ctxt, message,
                                    unique_id, self._quorum_delivery_limit)
