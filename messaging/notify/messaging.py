"""Notification drivers that publish on the transport (RabbitMQ).

``messaging`` sends format 1.0 (a bare JSON object), ``messagingv2`` the 2.0
envelope; both publish once per topic with routing key
``<topic>.<priority lowercase>`` on the transport's control exchange.
"""
from __future__ import annotations

from typing import Optional

from messaging import log_names
from messaging import observability
from messaging import target as msg_target
from messaging.notify import notifier

LOG = log_names.get_logger(__name__)


class MessagingDriver(notifier.Driver):
    """Publishes each notification to every topic, in format ``version``.

    A topic that fails is logged and the remaining topics are still tried,
    so one unreachable destination does not hide the others.
    """

    def __init__(self, conf, topics: list[str], transport, version: float = 2.0) -> None:
        super().__init__(conf, topics, transport)
        self.version = version

    def notify(self, ctxt: dict, message: dict, priority: str,
               retry: Optional[int]) -> bool:
        """Publish on ``<topic>.<priority>`` for each topic; False if any failed."""
        level = priority.lower()
        delivered = True
        for topic in self.topics:
            target = msg_target.Target(topic='%s.%s' % (topic, level))
            try:
                # The send hook sits here, in the notification layer, as the
                # RPC one sits in the RPC client.
                with observability.notify_send(self.transport.conf, target, message, ctxt):
                    self.transport._send_notification(target, ctxt, message,
                                                      version=self.version, retry=retry)
            except Exception:
                delivered = False
                LOG.exception('Could not send notification to %(topic)s. Payload=%(message)s',
                              {'topic': topic, 'message': message},
                              extra={'message_id': message.get('message_id'),
                                     'event_type': message.get('event_type')})
        return delivered


MessagingV2Driver = MessagingDriver


class MessagingV1Driver(MessagingDriver):
    """Publishes format 1.0: the message without the 2.0 envelope."""

    def __init__(self, conf, topics: list[str], transport) -> None:
        super().__init__(conf, topics, transport, version=1.0)
