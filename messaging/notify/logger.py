"""LoggingNotificationHandler: turns Python log records into notifications.

Configure it like any logging handler, e.g. in a logging config file::

    [handler_notifier]
    class = messaging.LoggingNotificationHandler
    level = ERROR
    args = ('rabbit:///',)
"""
from __future__ import annotations

import logging
import traceback
from typing import Optional, Union

from oslo_config import cfg

from messaging import transport as msg_transport
from messaging.notify import notifier as msg_notifier
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['LoggingNotificationHandler']


class LoggingNotificationHandler(logging.Handler):
    """Sends a notification (event type ``logrecord``) for each log record.

    The priority is the record's level name (WARNING is sent as WARN); a
    record at a level with no notifier method is skipped. The payload holds
    the record's fields; ``exc_info`` is the formatted traceback text (or
    None), since exception objects cannot travel as JSON.

    :param url: the notification transport URL.
    :param topic: one topic or a list of topics (default: configured topics).
    :param serializer: a serializer class, instantiated here.
    """

    CONF = cfg.CONF
    """The configuration used; subclass and override to use another."""

    def __init__(self, url: Optional[str], publisher_id: Optional[str] = None,
                 driver: Union[str, list[str], None] = None,
                 topic: Union[str, list[str], None] = None,
                 serializer: Optional[type] = None) -> None:
        super().__init__()
        topics = [topic] if isinstance(topic, str) else topic
        self.notifier = msg_notifier.Notifier(
            msg_transport.get_notification_transport(self.CONF, url),
            publisher_id, driver, serializer() if serializer else None, topics=topics)

    def emit(self, record: logging.LogRecord) -> None:
        """Send ``record`` as a notification at its level."""
        method = getattr(self.notifier, record.levelname.lower(), None)
        if method is None:
            return
        exc_text = (''.join(traceback.format_exception(*record.exc_info))
                    if record.exc_info else None)
        method({}, 'logrecord', {
            'name': record.name,
            'levelno': record.levelno,
            'levelname': record.levelname,
            'exc_info': exc_text,
            'pathname': record.pathname,
            'lineno': record.lineno,
            'msg': record.getMessage(),
            'funcName': record.funcName,
            'thread': record.thread,
            'processName': record.processName,
            'process': record.process,
            'extra': getattr(record, 'extra', None),
        })
