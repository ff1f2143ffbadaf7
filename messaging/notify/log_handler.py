"""Logging handlers that publish errors as notifications.

``LoggingErrorNotificationHandler`` (alias ``PublishErrorsHandler``, its
older name) sends an ``error_notification`` for each record it handles.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from oslo_config import cfg

from messaging import options
from messaging import transport as msg_transport
from messaging.notify import notifier as msg_notifier
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['LoggingErrorNotificationHandler', 'PublishErrorsHandler']


class LoggingErrorNotificationHandler(logging.Handler):
    """Sends an ERROR notification (event ``error_notification``) per record.

    The payload is ``{'error': record.msg}`` (unformatted) and the publisher
    ``error.publisher``. Nothing is sent when the ``log`` notification
    driver is configured: it would log the notification, which this handler
    would turn into a notification again, forever.

    :param conf: the configuration to use (default: the global ``cfg.CONF``,
        as oslo.messaging does); other arguments go to ``logging.Handler``.
    """

    def __init__(self, *args: Any, conf: Optional[cfg.ConfigOpts] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._transport = msg_transport.get_notification_transport(conf or cfg.CONF)
        self._notifier = msg_notifier.Notifier(self._transport,
                                               publisher_id='error.publisher')

    def emit(self, record: logging.LogRecord) -> None:
        """Send ``record`` as an error notification."""
        drivers = self._transport.conf[options.NOTIFICATIONS_GROUP].driver
        if 'log' in drivers:
            return
        # The unformatted message, as oslo.messaging sends it.
        self._notifier.error({}, 'error_notification', {'error': record.msg})


PublishErrorsHandler = LoggingErrorNotificationHandler
