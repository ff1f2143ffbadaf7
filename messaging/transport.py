"""Transports: a loaded driver plus the checks every send and listen needs."""
from __future__ import annotations

from typing import Any, Optional

from debtcollector import removals
from oslo_config import cfg
from stevedore import driver as stevedore_driver
from stevedore import exception as stevedore_exception

from messaging import _inplace
from messaging import exceptions
from messaging import observability
from messaging import options
from messaging.transport_admin import TransportAdmin
from messaging.transport_url import InvalidTransportURL, TransportHost, TransportURL
from messaging import log_names

LOG = log_names.get_logger(__name__)

# oslo's names, plus the transport classes and factories that oslo exports
# from oslo_messaging.rpc and .notify only (kept here for existing callers).
__all__ = ['DriverLoadFailure', 'InvalidTransportURL', 'Transport', 'RPCTransport',
           'NotificationTransport', 'TransportHost', 'TransportOptions', 'TransportURL',
           'get_transport', 'get_rpc_transport', 'get_notification_transport',
           'set_transport_defaults']

DRIVER_NAMESPACE = 'messaging.drivers'


class DriverLoadFailure(exceptions.MessagingException):
    """Raised when the transport driver named by a URL cannot be loaded."""

    def __init__(self, driver: str, ex: BaseException) -> None:
        super().__init__('Failed to load transport driver "%s": %s' % (driver, ex))
        self.driver = driver
        self.ex = ex


class TransportOptions:
    """Per-send options for drivers that support them.

    :param at_least_once: publish mandatory, so that a request nobody can
        receive raises ``MessageUndeliverable`` instead of timing out.
    """

    def __init__(self, at_least_once: bool = False) -> None:
        self._at_least_once = at_least_once

    @property
    def at_least_once(self) -> bool:
        """Whether a send is published mandatory (read-only, as in oslo)."""
        return self._at_least_once


def set_transport_defaults(control_exchange: str) -> None:
    """Change the default ``control_exchange`` for every config object."""
    cfg.set_defaults(options.transport_opts, control_exchange=control_exchange)


class Transport:
    """A handle on a messaging driver; shared by clients, servers and notifiers.

    Applications get one from ``get_rpc_transport`` or
    ``get_notification_transport`` rather than building it.
    """

    def __init__(self, driver: Any) -> None:
        self.conf = driver.conf
        self._driver = driver
        #: Operations for tools (checking the broker, deleting a private
        #: queue...): see :mod:`messaging.transport_admin`.
        self.admin = TransportAdmin(driver)

    def _require_driver_features(self, requeue: bool = False) -> None:
        self._driver.require_features(requeue=requeue)

    def _send(self, target, ctxt, message, wait_for_reply=None, timeout=None,
              call_monitor_timeout=None, retry=None, transport_options=None):
        if not target.topic:
            raise exceptions.InvalidTarget('A topic is required to send', target)
        return self._driver.send(target, ctxt, message,
                                 wait_for_reply=wait_for_reply, timeout=timeout,
                                 call_monitor_timeout=call_monitor_timeout,
                                 retry=retry, transport_options=transport_options)

    def _send_notification(self, target, ctxt, message, version, retry=None):
        if not target.topic:
            raise exceptions.InvalidTarget('A topic is required to send', target)
        self._driver.send_notification(target, ctxt, message, version, retry=retry)

    def _listen(self, target, batch_size, batch_timeout):
        if not (target.topic and target.server):
            raise exceptions.InvalidTarget('A server\'s target must have topic '
                                           'and server names specified', target)
        return self._driver.listen(target, batch_size, batch_timeout)

    def _listen_for_notification(self, targets_and_priorities, pool,
                                 batch_size, batch_timeout):
        for target, _priority in targets_and_priorities:
            if not target.topic:
                raise exceptions.InvalidTarget('A target must have topic specified',
                                               target)
        return self._driver.listen_for_notification(
            targets_and_priorities, pool, batch_size, batch_timeout)

    def cleanup(self) -> None:
        """Release every connection and thread the driver holds."""
        self._driver.cleanup()


class RPCTransport(Transport):
    """A transport meant for RPC clients and servers."""


class NotificationTransport(Transport):
    """A transport meant for notifiers and notification listeners."""


def _load_driver(conf, url: TransportURL, allowed_remote_exmods) -> Any:
    name = (url.transport or '').split('+')[0]
    kwargs = dict(default_exchange=conf.control_exchange,
                  allowed_remote_exmods=list(allowed_remote_exmods or []))
    namespaces = _inplace.entry_point_namespaces(DRIVER_NAMESPACE)
    for namespace in namespaces:
        try:
            manager = stevedore_driver.DriverManager(
                namespace, name, invoke_on_load=True,
                invoke_args=[conf, url], invoke_kwds=kwargs)
        except stevedore_exception.NoMatches:
            continue
        except RuntimeError as ex:
            raise DriverLoadFailure(name, ex)
        return manager.driver
    available = ', '.join(_available_drivers(namespaces)) or 'none installed'
    raise DriverLoadFailure(name, stevedore_exception.NoMatches(
        'no %r driver in the %s entry points; available drivers: %s'
        % (name, ' or '.join(namespaces), available)))


def _available_drivers(namespaces: list[str]) -> list[str]:
    from stevedore import extension
    return sorted({driver for namespace in namespaces
                   for driver in extension.ExtensionManager(namespace).names()})


def _get_transport(conf, url, allowed_remote_exmods, transport_cls):
    options.register_default_opts(conf)
    observability.register_opts(conf)
    if not isinstance(url, TransportURL):
        url = TransportURL.parse(conf, url)
    if not url.transport:
        raise InvalidTransportURL(url.to_string(), 'No scheme specified')
    return transport_cls(_load_driver(conf, url, allowed_remote_exmods))


@removals.remove(message='use get_rpc_transport or get_notification_transport')
def get_transport(conf: cfg.ConfigOpts, url: Optional[str] = None,
                  allowed_remote_exmods: Optional[list[str]] = None) -> Transport:
    """A transport for ``url`` (or ``[DEFAULT] transport_url``).

    Deprecated, as in oslo (a DeprecationWarning): use
    :func:`get_rpc_transport` or :func:`get_notification_transport`.

    :param allowed_remote_exmods: modules whose exceptions a call may
        re-raise as themselves; others become ``RemoteError``.
    :raises InvalidTransportURL: for a malformed URL.
    :raises DriverLoadFailure: when no driver matches the URL's scheme.
    """
    return _get_transport(conf, url, allowed_remote_exmods, RPCTransport)


def get_rpc_transport(conf: cfg.ConfigOpts, url: Optional[str] = None,
                      allowed_remote_exmods: Optional[list[str]] = None,
                      transport_cls: type = RPCTransport) -> Transport:
    """A transport for RPC clients and servers; see :func:`get_transport`."""
    return _get_transport(conf, url, allowed_remote_exmods, transport_cls)


def get_notification_transport(conf: cfg.ConfigOpts, url: Optional[str] = None,
                               allowed_remote_exmods: Optional[list[str]] = None
                               ) -> Transport:
    """A transport for notifications.

    Uses ``[oslo_messaging_notifications] transport_url`` when ``url`` is
    not given, and falls back to ``[DEFAULT] transport_url``.
    """
    options.register_default_opts(conf)
    options.register_notifier_opts(conf)
    if url is None:
        url = conf[options.NOTIFICATIONS_GROUP].transport_url
    return _get_transport(conf, url, allowed_remote_exmods, NotificationTransport)
