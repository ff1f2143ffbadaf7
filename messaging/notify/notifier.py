"""The Notifier: builds notification messages and hands them to its drivers.

Drivers are loaded by name from the ``messaging.notify.drivers`` entry points
(``messaging``, ``messagingv2``, ``log``, ``noop``, ``routing``, ``test``).
As with oslo.messaging, every notification is built (payload and context
through the serializer, timestamp from ``oslo_utils.timeutils``) even when no
driver is loaded, and only a notifier whose sole driver is ``noop`` reports
itself disabled. Errors a driver raises are logged and swallowed, because a
notification is never worth failing the caller's operation for.
"""
from __future__ import annotations

import abc
from typing import Any, Optional, Union

from oslo_utils import timeutils
from stevedore import named

from messaging import _inplace
from messaging import wire
from messaging import options
from messaging import serializer as msg_serializer
from messaging import transport as msg_transport
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['Driver', 'Notifier', 'get_notification_transport']

# oslo.messaging offers it here too; services import it from either place.
get_notification_transport = msg_transport.get_notification_transport

DRIVER_NAMESPACE = 'messaging.notify.drivers'

# Sentinel for prepare(): "keep the parent notifier's value" (None is a value).
_marker = object()


class Driver(abc.ABC):
    """Base class for notification drivers.

    A driver is built as ``Driver(conf, topics, transport)``, like
    oslo.messaging's, and receives every notification through :meth:`notify`.
    """

    def __init__(self, conf, topics: list[str], transport) -> None:
        self.conf = conf
        self.topics = topics
        self.transport = transport

    @abc.abstractmethod
    def notify(self, ctxt: Any, msg: dict, priority: str,
               retry: Optional[int]) -> Optional[bool]:
        """Deliver one notification.

        :param ctxt: the context as the serializer made it (``{}`` when the
            caller gave none or a plain dict).
        :param msg: the message dict (message_id, publisher_id,
            event_type, priority, payload, timestamp).
        :param priority: the uppercase priority, e.g. ``INFO``.
        :param retry: connection retries: -1 forever, 0 none, None default.
        :returns: ``False`` when delivery failed and the failure was already
            logged; anything else (including None) means delivered. Raising
            is also allowed: the notifier logs the error.
        """


def _utcnow_str() -> str:
    # timeutils, so that services' tests can freeze it (set_time_override);
    # str() of its naive UTC datetime is the wire form: space separator, no
    # zone, '.ffffff' only when microseconds are non-zero (WIRE.md 7.2).
    return str(timeutils.utcnow())


def _sanitize_context(ctxt: Any) -> Any:
    """The context to send: a redacted copy of a context object, else ``{}``.

    oslo.messaging 18 sends no context for None or a plain dict (WIRE.md 7.3),
    and redacts context objects so tokens never reach the notification bus.
    """
    if ctxt is None or type(ctxt) is dict:
        return {}
    try:
        return ctxt.redacted_copy()
    except AttributeError:
        LOG.warning('Unable to redact the context for a notification (%s has no '
                    'redacted_copy()); sending it without context',
                    type(ctxt).__name__)
        return {}


def load_drivers(conf, names: list[str], topics: list[str], transport) -> list:
    """The named drivers as stevedore extensions, built with ``topics`` and
    ``transport``; a driver that fails to load or is unknown is logged and
    skipped."""
    if not names:
        return []

    failed = set()

    def on_failure(_manager, entrypoint, ex):
        failed.add(entrypoint.name)
        LOG.error('Failed to load notification driver "%s": %s', entrypoint.name, ex)

    namespaces = _inplace.entry_point_namespaces(DRIVER_NAMESPACE)
    extensions: list = []
    remaining = list(names)
    for namespace in namespaces:
        manager = named.NamedExtensionManager(
            namespace, names=remaining, invoke_on_load=True,
            invoke_args=[conf],
            invoke_kwds={'topics': topics, 'transport': transport},
            on_load_failure_callback=on_failure)
        extensions.extend(manager.extensions)
        found = set(manager.names()) | failed
        remaining = [name for name in remaining if name not in found]
        if not remaining:
            break
    if remaining:
        LOG.error('Unknown notification driver(s) %s; known drivers are in '
                  'the %s entry points', ', '.join(sorted(set(remaining))),
                  ' or '.join(namespaces))
    return extensions


class Notifier:
    """Sends notifications through the configured drivers.

    :param transport: the notification transport
        (``get_notification_transport``).
    :param publisher_id: the sender, e.g. ``compute.host1``.
    :param driver: a driver name or list of names; default
        ``[oslo_messaging_notifications] driver``.
    :param serializer: converts payloads and contexts to primitives.
    :param retry: connection retries per send: -1 forever, 0 none; default
        ``[oslo_messaging_notifications] retry``.
    :param topics: the topics to send to; default
        ``[oslo_messaging_notifications] topics``.
    """

    def __init__(self, transport, publisher_id: Optional[str] = None,
                 driver: Union[str, list[str], None] = None,
                 serializer: Optional[msg_serializer.Serializer] = None,
                 retry: Optional[int] = None,
                 topics: Optional[list[str]] = None) -> None:
        conf = transport.conf
        options.register_notifier_opts(conf)
        group = conf[options.NOTIFICATIONS_GROUP]
        if not isinstance(transport, msg_transport.NotificationTransport):
            LOG.warning('Using an RPC transport for notifications; use '
                        'get_notification_transport to get a notification transport')
        self.transport = transport
        self.publisher_id = publisher_id
        self.retry = group.retry if retry is None else retry
        if driver is None:
            driver_names = list(group.driver)
        else:
            driver_names = [driver] if isinstance(driver, str) else list(driver)
        self._topics = list(group.topics if topics is None else topics)
        self._serializer = serializer or msg_serializer.NoOpSerializer()
        self._drivers = load_drivers(conf, driver_names, self._topics, transport)

    def prepare(self, publisher_id: Any = _marker, retry: Any = _marker) -> 'Notifier':
        """A notifier sharing this one's drivers, with some values overridden."""
        return _SubNotifier(self, self.publisher_id if publisher_id is _marker else publisher_id,
                            self.retry if retry is _marker else retry)

    def is_enabled(self) -> bool:
        """Whether notifications go anywhere: False only when ``noop`` is the
        one driver loaded (as oslo.messaging answers)."""
        return [ext.name for ext in self._drivers] != ['noop']

    def _notify(self, ctxt: Any, event_type: str, payload: Any, priority: str,
                publisher_id: Optional[str] = None, retry: Optional[int] = None) -> bool:
        """Build the message and give it to every driver.

        :returns: whether every driver delivered it (errors are logged);
            False when no driver is loaded.
        """
        payload = self._serializer.serialize_entity(ctxt, payload)
        wire_ctxt = self._serializer.serialize_context(_sanitize_context(ctxt))
        message = {'message_id': wire.unique_uuid(),
                   'publisher_id': publisher_id or self.publisher_id,
                   'event_type': event_type,
                   'priority': priority,
                   'payload': payload,
                   'timestamp': _utcnow_str()}
        delivered = bool(self._drivers)
        for ext in self._drivers:
            try:
                delivered = ext.obj.notify(wire_ctxt, message, priority,
                                           retry or self.retry) is not False and delivered
            except Exception as ex:
                delivered = False
                LOG.exception("Problem '%(e)s' attempting to send to notification system. "
                              "Payload=%(payload)s", {'e': ex, 'payload': payload},
                              extra={'message_id': message['message_id'],
                                     'event_type': event_type, 'driver': ext.name})
        return delivered

    def audit(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an AUDIT notification."""
        self._notify(ctxt, event_type, payload, 'AUDIT')

    def debug(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a DEBUG notification."""
        self._notify(ctxt, event_type, payload, 'DEBUG')

    def info(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an INFO notification."""
        self._notify(ctxt, event_type, payload, 'INFO')

    def warn(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a WARN notification."""
        self._notify(ctxt, event_type, payload, 'WARN')

    warning = warn

    def error(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send an ERROR notification."""
        self._notify(ctxt, event_type, payload, 'ERROR')

    def critical(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a CRITICAL notification."""
        self._notify(ctxt, event_type, payload, 'CRITICAL')

    def sample(self, ctxt: Any, event_type: str, payload: Any) -> None:
        """Send a SAMPLE notification (metering samples, e.g. for ceilometer)."""
        self._notify(ctxt, event_type, payload, 'SAMPLE')



class _SubNotifier(Notifier):
    """What :meth:`Notifier.prepare` returns: its parent's drivers and serializer."""

    def __init__(self, base: Notifier, publisher_id: Optional[str],
                 retry: Optional[int]) -> None:
        # The parent's drivers are shared, not loaded again.
        self._base = base
        self.transport = base.transport
        self.publisher_id = publisher_id
        self.retry = retry
        self._topics = base._topics
        self._serializer = base._serializer
        self._drivers = base._drivers
