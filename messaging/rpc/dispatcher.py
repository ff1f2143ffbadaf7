"""The RPC dispatcher: finds the endpoint method a request names and runs it.

Endpoints are plain objects. Each may carry a ``target`` attribute (a
:class:`~messaging.Target`) whose namespace and version say which requests
it serves; the first endpoint that matches and has the method wins. An access policy
decides which method names may be invoked remotely.

The exception classes live here because their module name travels on the
wire (as ``oslo_messaging.rpc.dispatcher``) and peers rebuild them by it.
"""
from __future__ import annotations

import abc
import sys
import threading
from typing import Any, Optional

from oslo_config import cfg

from messaging import _utils
from messaging import dispatcher as dispatcher_base
from messaging import options
from messaging import serializer as msg_serializer
from messaging import target as msg_target
from messaging.server import MessagingServerError
from messaging import log_names

LOG = log_names.get_logger(__name__)

__all__ = ['NoSuchMethod', 'RPCAccessPolicyBase', 'LegacyRPCAccessPolicy',
           'DefaultRPCAccessPolicy', 'ExplicitRPCAccessPolicy', 'RPCDispatcher',
           'RPCDispatcherError', 'UnsupportedVersion', 'ExpectedException']

PING_METHOD = 'oslo_rpc_server_ping'


class ExpectedException(Exception):
    """Wraps an exception an endpoint declared with ``expected_exceptions``.

    Built inside the ``except`` block, it keeps ``exc_info`` so that the
    server can reply with the original exception and log it quietly.
    """

    def __init__(self) -> None:
        super().__init__()
        self.exc_info = sys.exc_info()


class RPCDispatcherError(MessagingServerError):
    """Base class for the failures the dispatcher itself reports."""


class NoSuchMethod(RPCDispatcherError, AttributeError):
    """An endpoint matched the namespace and version but lacks the method."""

    def __init__(self, method: Any) -> None:
        super().__init__('Endpoint does not support RPC method %s' % method)
        self.method = method


class UnsupportedVersion(RPCDispatcherError):
    """No endpoint serves the requested namespace and version."""

    def __init__(self, version: Any, method: Any = None) -> None:
        message = 'Endpoint does not support RPC version %s' % version
        if method:
            message += '. Attempted method: %s' % method
        super().__init__(message)
        self.version = version
        self.method = method


class RPCAccessPolicyBase(metaclass=abc.ABCMeta):
    """Decides which endpoint methods a remote caller may invoke."""

    @abc.abstractmethod
    def is_allowed(self, endpoint: Any, method: str) -> bool:
        """Whether ``method`` of ``endpoint`` may be invoked over RPC."""


class LegacyRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows every method, private ones included (the old behaviour)."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return True


class DefaultRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows every method whose name does not start with ``_``."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        return not method.startswith('_')


class ExplicitRPCAccessPolicy(RPCAccessPolicyBase):
    """Allows only methods decorated with :func:`messaging.expose`."""

    def is_allowed(self, endpoint: Any, method: str) -> bool:
        # As oslo: the decorator's mark is looked for, not its value.
        return hasattr(getattr(endpoint, method, None), 'exposed')


class PingEndpoint:
    """Answers ``oslo_rpc_server_ping`` so monitoring can check a server."""

    def oslo_rpc_server_ping(self, ctxt: Any, **kwargs: Any) -> str:
        return 'pong'


class RPCDispatcher(dispatcher_base.DispatcherBase):
    """Runs incoming requests on a list of endpoints.

    :param endpoints: the objects whose methods serve requests.
    :param serializer: deserializes the context and arguments, serializes
        the result; ``None`` passes them through.
    :param access_policy: a :class:`RPCAccessPolicyBase` subclass (the class,
        not an instance); ``None`` means :class:`DefaultRPCAccessPolicy`.
    :raises TypeError: an endpoint's ``target`` is not a Target, or the
        access policy is not an RPCAccessPolicyBase subclass.
    """

    def __init__(self, endpoints: list, serializer,
                 access_policy: Optional[type] = None) -> None:
        # As oslo: the list given is kept (the ping endpoint is appended to
        # it), and [DEFAULT] rpc_ping_enabled is read from the global CONF,
        # so that a dispatcher built directly honours it too.
        cfg.CONF.register_opts(options.dispatcher_opts)
        self.endpoints = endpoints
        has_ping = False
        for endpoint in self.endpoints:
            target = getattr(endpoint, 'target', None)
            if target and not isinstance(target, msg_target.Target):
                raise TypeError("'target' is a reserved endpoint attribute, used for "
                                "namespace and version filtering; it must be a "
                                "Target: endpoint=%r" % endpoint)
            if getattr(endpoint, PING_METHOD, None):
                has_ping = True
                LOG.warning("'%s' is reserved for pinging the server; endpoint %r "
                            "should not define it", PING_METHOD, endpoint)
        if cfg.CONF.rpc_ping_enabled:
            if has_ping:
                LOG.warning('rpc_ping_enabled is set but an endpoint already defines '
                            '%s; not adding the ping endpoint', PING_METHOD)
            else:
                self.endpoints.append(PingEndpoint())
        self.serializer = serializer or msg_serializer.NoOpSerializer()
        if access_policy is None:
            access_policy = DefaultRPCAccessPolicy
        if not (isinstance(access_policy, type)
                and issubclass(access_policy, RPCAccessPolicyBase)):
            raise TypeError('access_policy must be a subclass of RPCAccessPolicyBase')
        self.access_policy = access_policy()
        self._default_target = msg_target.Target()

    def _enable_ping(self) -> None:
        """Serve ``oslo_rpc_server_ping`` (once).

        A server calls this when ``rpc_ping_enabled`` is set in its own
        configuration, which may not be the global CONF the constructor reads.
        """
        if not any(getattr(ep, PING_METHOD, None) for ep in self.endpoints):
            self.endpoints.append(PingEndpoint())

    def _find_method(self, namespace: Optional[str], version: str, method: Any):
        """The bound endpoint method serving a request.

        :raises NoSuchMethod: an endpoint matched namespace and version, but
            none of those has an allowed method of that name.
        :raises UnsupportedVersion: no endpoint matched namespace and version.
        """
        found_compatible = False
        for endpoint in self.endpoints:
            target = getattr(endpoint, 'target', None) or self._default_target
            if namespace not in target.accepted_namespaces:
                continue
            if not _utils.version_is_compatible(target.version or '1.0', version):
                continue
            found_compatible = True
            if (isinstance(method, str) and hasattr(endpoint, method)
                    and self.access_policy.is_allowed(endpoint, method)):
                return getattr(endpoint, method)
        if found_compatible:
            raise NoSuchMethod(method)
        raise UnsupportedVersion(version, method=method)

    def find_method(self, message: dict) -> Any:
        """The bound endpoint method that serves the request ``message``
        (by its namespace, version and method name).

        :raises NoSuchMethod: see :meth:`_find_method`.
        :raises UnsupportedVersion: see :meth:`_find_method`.
        """
        return self._find_method(message.get('namespace'), message.get('version', '1.0'),
                                 message.get('method'))

    def dispatch(self, incoming) -> Any:
        """Run the request ``incoming`` names and return its serialized result.

        A caller that monitors the call (``client_timeout``) gets heartbeats
        while the method runs.

        :raises NoSuchMethod: see :meth:`_find_method`.
        :raises UnsupportedVersion: see :meth:`_find_method`.
        :raises ExpectedException: the method raised an expected exception.
        :raises Exception: whatever the method raised.
        """
        return self.run(incoming, self.find_method(incoming.message))

    def run(self, incoming, method: Any) -> Any:
        """Run ``method`` (from :meth:`find_method`) for the request
        ``incoming``; as :meth:`dispatch` once the method is found."""
        message = incoming.message
        ctxt = self.serializer.deserialize_context(incoming.ctxt)
        args = {name: self.serializer.deserialize_entity(ctxt, value)
                for name, value in (message.get('args') or {}).items()}
        with _CallMonitor(incoming, message.get('method')):
            result = method(ctxt, **args)
        return self.serializer.serialize_entity(ctxt, result)


class _CallMonitor:
    """Sends call-monitor heartbeats while a method runs.

    The caller asked to hear from us every ``client_timeout`` seconds; a
    heartbeat every half of that leaves room for queuing delays both ways.
    Nothing is sent when the caller did not ask (an oslo client that did
    not ask fails on a heartbeat). Under eventlet's monkey-patching the
    thread and event are green.
    """

    def __init__(self, incoming, method: Any) -> None:
        self._incoming = incoming
        self._method = method
        self._thread: Optional[threading.Thread] = None
        self._interval = self._heartbeat_interval(incoming.client_timeout)
        # Only a monitored call needs the event (made per call, on the hot path).
        self._done = threading.Event() if self._interval else None

    @staticmethod
    def _heartbeat_interval(client_timeout: Any) -> float:
        if not client_timeout:
            return 0
        try:
            interval = int(client_timeout) / 2
        except (TypeError, ValueError):
            interval = 0
        if interval < 1:
            LOG.warning('Client provided an invalid call-monitor timeout of %r; '
                        'no heartbeats will be sent', client_timeout)
            return 0
        return interval

    def __enter__(self) -> '_CallMonitor':
        if self._interval:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name='messaging-call-monitor')
            self._thread.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self._thread is not None:
            self._done.set()
            self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self._interval):
            LOG.debug('Sending call-monitor heartbeat for %s (msg_id %s, interval %ss)',
                      self._method, self._incoming.msg_id, self._interval)
            try:
                self._incoming.heartbeat()
            except Exception as ex:
                LOG.debug('Call-monitor heartbeat for %s failed (%s); no more will '
                          'be sent', self._method, ex)
                return
