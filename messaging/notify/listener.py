"""Notification listeners: servers that consume notifications.

A listener subscribes to ``<topic>.<priority>`` for every target and every
priority its endpoints implement, either through the shared queues (no
pool: listeners share the messages) or through one queue named after its
pool (each pool gets its own copy of every notification). See WIRE.md 7.6.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Optional

from messaging import observability
from messaging import server as msg_server
from messaging import transport as msg_transport
from messaging.notify import dispatcher as notify_dispatcher
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['NotificationServerBase', 'NotificationServer', 'BatchNotificationServer',
           'get_notification_listener', 'get_batch_notification_listener']


class NotificationServerBase(msg_server.MessageHandlingServer):
    """What notification servers share: subscriptions, pool, requeue policy."""

    def __init__(self, transport, targets: Iterable[Any], dispatcher,
                 executor: Optional[str] = None, allow_requeue: bool = True,
                 pool: Optional[str] = None, batch_size: Optional[int] = 1,
                 batch_timeout: Optional[float] = None) -> None:
        super().__init__(transport, dispatcher, executor)
        if allow_requeue:
            # Fail now, not on the first REQUEUE, when the driver cannot requeue.
            transport._require_driver_features(requeue=True)
        self._allow_requeue = allow_requeue
        self._pool = pool
        self.targets = targets
        self._targets_priorities = list(itertools.product(
            self.targets, dispatcher.supported_priorities))
        self._batch_size = batch_size
        self._batch_timeout = batch_timeout

    def _create_listener(self):
        return self.transport._listen_for_notification(
            self._targets_priorities, self._pool, self._batch_size, self._batch_timeout)

    def _settle(self, message, requeue: bool) -> None:
        """Acknowledge ``message``, or requeue it if asked and allowed."""
        try:
            if requeue and self._allow_requeue:
                message.requeue()
            else:
                message.acknowledge()
        except Exception:
            LOG.exception('Fail to ack/requeue message.',
                          extra={'message_id': message.message.get('message_id'),
                                 'requeue': requeue and self._allow_requeue})


class NotificationServer(NotificationServerBase):
    """Handles notifications one at a time."""

    def __init__(self, transport, targets: Iterable[Any], dispatcher,
                 executor: Optional[str] = None, allow_requeue: bool = True,
                 pool: Optional[str] = None) -> None:
        if not isinstance(transport, msg_transport.NotificationTransport):
            LOG.warning('Using RPC transport for notifications. Please use '
                        'get_notification_transport to obtain a notification '
                        'transport instance.')
        super().__init__(transport, targets, dispatcher, executor, allow_requeue, pool)

    def _process_incoming(self, incoming: list) -> None:
        message = incoming[0]
        try:
            with observability.notification_dispatch(self.conf, message):
                result = self.dispatcher.dispatch(message)
        except Exception:
            LOG.exception('Exception during message handling.',
                          extra={'message_id': message.message.get('message_id')})
            result = notify_dispatcher.NotificationResult.REQUEUE
        self._settle(message, result == notify_dispatcher.NotificationResult.REQUEUE)


class BatchNotificationServer(NotificationServerBase):
    """Handles notifications in batches of up to ``batch_size``.

    A batch is delivered when it is full or when ``batch_timeout`` seconds
    have passed since the listener started gathering it.
    """

    def _process_incoming(self, incoming: list) -> None:
        try:
            requeue = self.dispatcher.dispatch(incoming)
        except Exception:
            LOG.exception('Exception during messages handling.',
                          extra={'batch_size': len(incoming)})
            requeue = set(incoming)
        for message in incoming:
            self._settle(message, message in requeue)


def get_notification_listener(transport, targets: Iterable[Any], endpoints: Iterable[Any],
                              executor: Optional[str] = None, serializer=None,
                              allow_requeue: bool = False,
                              pool: Optional[str] = None) -> NotificationServer:
    """A listener calling ``endpoints`` for notifications sent to ``targets``.

    :param targets: Targets whose topics (and exchanges) to consume.
    :param endpoints: objects with a method per priority they handle.
    :param executor: ``threading`` (the default) or ``eventlet``.
    :param serializer: deserializes payloads and contexts.
    :param allow_requeue: honour REQUEUE results (and endpoint errors) by
        giving the message back to the broker; otherwise acknowledge.
    :param pool: a pool name: listeners in a pool share its messages, and
        each pool receives every notification.
    """
    dispatcher = notify_dispatcher.NotificationDispatcher(endpoints, serializer)
    return NotificationServer(transport, targets, dispatcher, executor, allow_requeue, pool)


def get_batch_notification_listener(transport, targets: Iterable[Any],
                                    endpoints: Iterable[Any], executor: Optional[str] = None,
                                    serializer=None, allow_requeue: bool = False,
                                    pool: Optional[str] = None,
                                    batch_size: Optional[int] = None,
                                    batch_timeout: Optional[float] = None
                                    ) -> BatchNotificationServer:
    """Like :func:`get_notification_listener`, delivering lists of messages.

    :param batch_size: the most notifications per call.
    :param batch_timeout: seconds to wait for a batch to fill before
        delivering what has arrived.
    """
    dispatcher = notify_dispatcher.BatchNotificationDispatcher(endpoints, serializer)
    return BatchNotificationServer(transport, targets, dispatcher, executor, allow_requeue,
                                   pool, batch_size, batch_timeout)
