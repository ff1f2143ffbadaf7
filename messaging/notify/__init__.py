"""Notifications: the Notifier, notification listeners, filters and handlers.

Names match oslo.messaging's, so ``messaging.Notifier`` stands in for
``oslo_messaging.Notifier``.
"""
from messaging.notify.dispatcher import NotificationResult
from messaging.notify.filter import NotificationFilter
from messaging.notify.listener import BatchNotificationServer
from messaging.notify.listener import get_batch_notification_listener
from messaging.notify.listener import get_notification_listener
from messaging.notify.listener import NotificationServer
from messaging.notify.listener import NotificationServerBase
from messaging.notify.log_handler import LoggingErrorNotificationHandler
from messaging.notify.log_handler import PublishErrorsHandler
from messaging.notify.logger import LoggingNotificationHandler
from messaging.notify.notifier import Driver
from messaging.notify.notifier import Notifier
from messaging.transport import get_notification_transport

__all__ = ['Notifier', 'LoggingNotificationHandler', 'get_notification_transport',
           'get_notification_listener', 'get_batch_notification_listener',
           'NotificationResult', 'NotificationFilter', 'PublishErrorsHandler',
           'LoggingErrorNotificationHandler', 'Driver', 'NotificationServerBase',
           'NotificationServer', 'BatchNotificationServer']
