"""Notifications: the Notifier, notification listeners, filters and handlers.

Names match oslo.messaging's, so ``messaging.Notifier`` stands in for
``oslo_messaging.Notifier``.
"""
from messaging.notify.dispatcher import NotificationResult
from messaging.notify.filter import NotificationFilter
from messaging.notify.listener import BatchNotificationServer  # noqa: F401
from messaging.notify.listener import get_batch_notification_listener
from messaging.notify.listener import get_notification_listener
from messaging.notify.listener import NotificationServer  # noqa: F401
from messaging.notify.listener import NotificationServerBase  # noqa: F401
from messaging.notify.log_handler import LoggingErrorNotificationHandler
from messaging.notify.log_handler import PublishErrorsHandler
from messaging.notify.logger import LoggingNotificationHandler
from messaging.notify.notifier import Driver  # noqa: F401
from messaging.notify.notifier import Notifier
from messaging.transport import get_notification_transport

# oslo's __all__; Driver and the notification servers are reachable here as
# attributes (as oslo's star imports leave them), not exported to the top level.
__all__ = ['Notifier', 'LoggingNotificationHandler', 'get_notification_transport',
           'get_notification_listener', 'get_batch_notification_listener',
           'NotificationResult', 'NotificationFilter', 'PublishErrorsHandler',
           'LoggingErrorNotificationHandler']
