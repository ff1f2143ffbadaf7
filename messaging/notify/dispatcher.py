"""Notification dispatchers: hand received notifications to endpoint methods.

An endpoint method is named after the lowercase priority (``info``,
``error``...) and called as ``method(ctxt, publisher_id, event_type, payload,
metadata)``; a batch endpoint's method receives a list of message dicts
instead. The dispatcher returns what the server must do with each message:
acknowledge it, or give it back to the broker (REQUEUE).
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Iterable, Optional

from messaging import serializer as msg_serializer
from messaging import wire
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['NotificationResult', 'NotificationDispatcher', 'BatchNotificationDispatcher',
           'PRIORITIES']

PRIORITIES = ['audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample']


class NotificationResult:
    """What an endpoint method may return about a notification.

    ``HANDLED`` (or None) acknowledges it; ``REQUEUE`` asks for redelivery,
    honoured only when the listener was built with ``allow_requeue=True``.
    """

    HANDLED = 'handled'
    REQUEUE = 'requeue'


class MalformedNotification(ValueError):
    """A received notification lacks what dispatching needs."""


class NotificationDispatcher:
    """Calls, for each notification, the endpoints' method for its priority.

    :param endpoints: objects with methods named after priorities, and
        optionally a ``filter_rule`` (a NotificationFilter).
    :param serializer: turns received payloads and contexts back into objects.
    """

    def __init__(self, endpoints: Iterable[Any],
                 serializer: Optional[msg_serializer.Serializer] = None) -> None:
        # The list given, as oslo.messaging keeps it.
        self.endpoints = endpoints
        self.serializer = serializer or msg_serializer.NoOpSerializer()
        self._callbacks: dict[str, list[tuple[Any, Callable]]] = {}
        for endpoint, priority in itertools.product(endpoints, PRIORITIES):
            if hasattr(endpoint, priority):
                self._callbacks.setdefault(priority, []).append(
                    (getattr(endpoint, 'filter_rule', None), getattr(endpoint, priority)))

    @property
    def supported_priorities(self):
        """The priorities some endpoint handles: the listener subscribes to these.

        A view of them in the order endpoints offer them, as oslo.messaging's.
        """
        return self._callbacks.keys()

    def _extract(self, incoming) -> tuple[str, dict]:
        """``(priority, message dict)`` for one incoming notification.

        :raises MalformedNotification: when the priority or event type is
            missing or not a string, or the payload cannot be deserialized.
        """
        message = incoming.message
        try:
            wire.check_notification(message)
        except wire.MalformedMessage as ex:
            raise MalformedNotification(str(ex)) from None
        priority, event_type = message['priority'], message['event_type']
        try:
            ctxt = self.serializer.deserialize_context(incoming.ctxt)
            payload = self.serializer.deserialize_entity(ctxt, message.get('payload'))
        except Exception as ex:
            raise MalformedNotification('cannot deserialize it: %s' % ex) from ex
        return priority.lower(), {
            'ctxt': ctxt, 'publisher_id': message.get('publisher_id'),
            'event_type': event_type, 'payload': payload,
            'metadata': {'message_id': message.get('message_id'),
                         'timestamp': message.get('timestamp')}}

    def _extract_or_log(self, incoming) -> Optional[tuple[str, dict]]:
        """Like :meth:`_extract`, but logs a malformed or unknown one and gives None."""
        try:
            priority, message = self._extract(incoming)
        except MalformedNotification as ex:
            LOG.error('Dropping malformed notification %s: %s',
                      incoming.message.get('message_id'), ex)
            return None
        if priority not in PRIORITIES:
            LOG.warning('Unknown priority "%s"', priority,
                        extra={'message_id': message['metadata']['message_id']})
            return None
        return priority, message

    @staticmethod
    def _accepted(screen: Any, message: dict) -> bool:
        return screen is None or screen.match(
            message['ctxt'], message['publisher_id'], message['event_type'],
            message['metadata'], message['payload'])

    @staticmethod
    def _run(callback: Callable, *args: Any) -> Any:
        """Call an endpoint; an exception counts as a request to requeue."""
        try:
            return callback(*args)
        except Exception:
            LOG.exception('Callback raised an exception.',
                          extra={'callback': getattr(callback, '__qualname__', repr(callback))})
            return NotificationResult.REQUEUE

    def dispatch(self, incoming) -> Optional[str]:
        """Deliver one notification; REQUEUE if an endpoint asked for it.

        Endpoints are called in order and the first REQUEUE stops the rest.
        A malformed notification, or one of unknown priority, is logged and
        gets None, as oslo.messaging answers for an unknown priority (the
        listener acknowledges it: it is never redelivered).
        """
        extracted = self._extract_or_log(incoming)
        if extracted is None:
            return None
        priority, message = extracted
        for screen, callback in self._callbacks.get(priority, ()):
            if not self._accepted(screen, message):
                continue
            if self._run(callback, message['ctxt'], message['publisher_id'],
                         message['event_type'], message['payload'],
                         message['metadata']) == NotificationResult.REQUEUE:
                return NotificationResult.REQUEUE
        return NotificationResult.HANDLED


class BatchNotificationDispatcher(NotificationDispatcher):
    """Calls endpoints with lists of message dicts, one list per priority."""

    def dispatch(self, incoming: list) -> set:
        """Deliver a batch; the incoming messages to requeue.

        If an endpoint returns REQUEUE (or raises) for a priority group,
        every message of that group is to be requeued and later endpoints
        are not called for it; other groups are unaffected.
        """
        groups: dict[str, list[tuple[Any, dict]]] = {}
        for raw in incoming:
            extracted = self._extract_or_log(raw)
            if extracted is not None:
                groups.setdefault(extracted[0], []).append((raw, extracted[1]))
        requeue: set = set()
        for priority, members in groups.items():
            for screen, callback in self._callbacks.get(priority, ()):
                messages = [m for _raw, m in members if self._accepted(screen, m)]
                if messages and self._run(callback, messages) == NotificationResult.REQUEUE:
                    requeue.update(raw for raw, _m in members)
                    break
        return requeue
