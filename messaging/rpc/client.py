"""The RPC client: invoke methods on remote servers, and the errors it raises.

``call`` waits for the return value (or the remote exception); ``cast``
sends and forgets. ``prepare`` derives a call context with some target or
option fields overridden, without touching the client it came from.
"""
from __future__ import annotations

from typing import Any, Optional

from messaging import _utils
from messaging import exceptions
from messaging import observability
from messaging import options
from messaging import serializer as msg_serializer
from messaging import transport as msg_transport
from messaging.drivers import base as driver_base
from messaging import log_names
from messaging import wire
# Defined with the wire format, which rebuilds it; served here, as oslo's is.
from messaging.wire import RemoteError

LOG = log_names.get_logger(__name__)

__all__ = ['ClientSendError', 'RPCClient', 'RPCVersionCapError', 'RemoteError',
           'get_rpc_client']


class ClientSendError(exceptions.MessagingException):
    """Raised when a client could not send a message."""

    def __init__(self, target, ex) -> None:
        super().__init__('Failed to send to target "%s": %s' % (target, ex))
        self.target = target
        self.ex = ex


class RPCVersionCapError(exceptions.MessagingException):
    """Raised when a call asks for a version above the client's cap."""

    def __init__(self, version, version_cap) -> None:
        self.version = version
        self.version_cap = version_cap
        super().__init__('Requested message version, %(version)s is incompatible.  '
                         'It needs to be equal in major version and less than or '
                         'equal in minor version as the specified version cap '
                         '%(version_cap)s.' % dict(version=version,
                                                   version_cap=version_cap))


_marker = object()


def _is_remote(ex: BaseException) -> bool:
    """Whether ``ex`` was rebuilt from a peer's failure reply.

    A remote exception must reach the caller as it is, even when its class
    happens to be a driver error.
    """
    return isinstance(ex, RemoteError) or type(ex).__name__.endswith(wire.REMOTE_SUFFIX)


def _check_version_format(version: Any) -> None:
    """Refuse, at prepare() time, a version that is not ``X.Y[.Z]``.

    As oslo: ``None`` passes (it clears the version), ``'5'`` does not.
    """
    if version is _marker or version is None:
        return
    parts = version.split('.') if isinstance(version, str) else []
    try:
        if len(parts) < 2:
            raise ValueError(version)
        _utils.version_is_compatible(version, version)
    except ValueError:
        raise exceptions.MessagingException(
            'Version must contain a major and minor integer. Got %s' % version)


class _BaseCallContext:
    """What a client and its prepared copies share: a target and send options."""

    def __init__(self, transport, target, serializer=None, timeout=None,
                 version_cap=None, retry=None, call_monitor_timeout=None,
                 transport_options=None) -> None:
        self.conf = transport.conf
        self.transport = transport
        self.target = target
        self.serializer = serializer or msg_serializer.NoOpSerializer()
        self.timeout = timeout
        self.retry = retry
        self.call_monitor_timeout = call_monitor_timeout
        self.transport_options = transport_options
        self.version_cap = version_cap

    def _make_message(self, ctxt: Any, method: str, args: dict) -> dict:
        msg: dict = {'method': method,
                     'args': {name: self.serializer.serialize_entity(ctxt, value)
                              for name, value in args.items()}}
        if self.target.namespace is not None:
            msg['namespace'] = self.target.namespace
        if self.target.version is not None:
            msg['version'] = self.target.version
        return msg

    def can_send_version(self, version: Any = _marker) -> bool:
        """Whether ``version`` (default: the target's) is within the version cap.

        As oslo: with a cap, no version at all cannot be sent.
        """
        version = self.target.version if version is _marker else version
        return _utils.version_is_compatible(self.version_cap, version)

    def _prepare_send(self, ctxt: Any, method: str, kwargs: dict) -> tuple[dict, dict]:
        """The wire context and message for a request, after every check."""
        if ctxt is None:
            raise TypeError('An RPC request needs a context: got None for method %r '
                            '(pass {} for an empty one)' % method)
        msg = self._make_message(ctxt, method, kwargs)
        if not self.can_send_version(msg.get('version')):
            raise RPCVersionCapError(version=msg.get('version'),
                                     version_cap=self.version_cap)
        return self.serializer.serialize_context(ctxt), msg

    def _send(self, msg_ctxt: dict, msg: dict, **send_kwargs: Any) -> Any:
        call_type = 'call' if send_kwargs.get('wait_for_reply') else 'cast'
        with observability.rpc_send(self.conf, self.target, msg_ctxt, msg, call_type):
            try:
                return self.transport._send(self.target, msg_ctxt, msg, retry=self.retry,
                                            transport_options=self.transport_options,
                                            **send_kwargs)
            except driver_base.TransportDriverError as ex:
                if _is_remote(ex):
                    raise
                raise ClientSendError(self.target, ex) from ex

    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """Invoke ``method`` on a server (every server, for a fanout target)
        without waiting for it to run.

        :param ctxt: the request context, a dict or what the serializer takes.
        :param kwargs: the method's arguments, passed through the serializer.
        :raises RPCVersionCapError: the target version exceeds the version cap.
        :raises ClientSendError: the driver could not send the message.
        """
        msg_ctxt, msg = self._prepare_send(ctxt, method, kwargs)
        self._send(msg_ctxt, msg)

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """Invoke ``method`` on one server and return its (deserialized) result.

        :raises InvalidTarget: the target is fanout (nothing is sent).
        :raises MessagingTimeout: no reply within ``timeout`` (default
            ``rpc_response_timeout``) or no sign of life within
            ``call_monitor_timeout``.
        :raises RPCVersionCapError: the target version exceeds the version cap.
        :raises ClientSendError: the driver could not send the message.
        :raises Exception: the exception the remote method raised, rebuilt
            when its module is allowed, else :class:`RemoteError`.
        """
        if self.target.fanout:
            raise exceptions.InvalidTarget('A call cannot be used with fanout',
                                           self.target)
        msg_ctxt, msg = self._prepare_send(ctxt, method, kwargs)
        timeout = self.timeout if self.timeout is not None else self.conf.rpc_response_timeout
        result = self._send(msg_ctxt, msg, wait_for_reply=True, timeout=timeout,
                            call_monitor_timeout=self.call_monitor_timeout)
        return self.serializer.deserialize_entity(ctxt, result)

    def prepare(self, exchange=_marker, topic=_marker, namespace=_marker,
                version=_marker, server=_marker, fanout=_marker, timeout=_marker,
                version_cap=_marker, retry=_marker, call_monitor_timeout=_marker,
                transport_options=_marker) -> '_CallContext':
        """A call context with the given target fields and options overridden.

        Fields left out keep this context's values; ``None`` clears a field.
        The result can be prepared again.
        """
        _check_version_format(version)
        target_fields = dict(exchange=exchange, topic=topic, namespace=namespace,
                             version=version, server=server, fanout=fanout)
        target = self.target(**{k: v for k, v in target_fields.items() if v is not _marker})

        def pick(value: Any, current: Any) -> Any:
            return current if value is _marker else value

        return _CallContext(
            self.transport, target, self.serializer,
            timeout=pick(timeout, self.timeout),
            version_cap=pick(version_cap, self.version_cap),
            retry=pick(retry, self.retry),
            call_monitor_timeout=pick(call_monitor_timeout, self.call_monitor_timeout),
            transport_options=pick(transport_options, self.transport_options))


class _CallContext(_BaseCallContext):
    """A prepared client: what ``RPCClient.prepare`` returns."""


class RPCClient(_BaseCallContext):
    """Invokes methods on RPC servers listening on a target.

    :param transport: from ``get_rpc_transport``.
    :param target: the topic (and optionally exchange, server, namespace,
        version, fanout) requests go to.
    :param timeout: seconds a call waits for its reply; ``None`` means
        ``[DEFAULT] rpc_response_timeout``.
    :param version_cap: the highest version this client may request.
    :param serializer: converts arguments, results and the context.
    :param retry: send attempts on connection errors (``None``/-1 forever,
        0 none).
    :param call_monitor_timeout: seconds without any sign of life from the
        server after which a call fails; the server then sends heartbeats.
    :param transport_options: a ``TransportOptions`` for the driver.
    """

    def __init__(self, transport, target, timeout: Optional[float] = None,
                 version_cap: Optional[str] = None, serializer=None,
                 retry: Optional[int] = None,
                 call_monitor_timeout: Optional[float] = None,
                 transport_options=None, _manual_load: bool = True) -> None:
        # ``_manual_load`` is oslo's marker: get_rpc_client passes False.
        if _manual_load:
            LOG.warning('Using RPCClient manually to instantiate client. Please use '
                        'get_rpc_client to obtain an RPC client instance.')
        if not isinstance(transport, msg_transport.RPCTransport):
            LOG.warning('Using notification transport for RPC. Please use '
                        'get_rpc_transport to obtain an RPC transport instance.')
        options.register_default_opts(transport.conf)
        super().__init__(transport, target, serializer, timeout, version_cap, retry,
                         call_monitor_timeout, transport_options)

    # As oslo's: every request goes through self.prepare(), so a subclass
    # that overrides prepare (neutron-lib's BackingOffClient) sees each one.
    def cast(self, ctxt: Any, method: str, **kwargs: Any) -> None:
        """See :meth:`_BaseCallContext.cast`."""
        self.prepare().cast(ctxt, method, **kwargs)

    def call(self, ctxt: Any, method: str, **kwargs: Any) -> Any:
        """See :meth:`_BaseCallContext.call`."""
        return self.prepare().call(ctxt, method, **kwargs)

    def can_send_version(self, version: Any = _marker) -> bool:
        """See :meth:`_BaseCallContext.can_send_version`."""
        return self.prepare(version=version).can_send_version()


def get_rpc_client(transport, target, client_cls: type = RPCClient,
                   **kwargs: Any) -> RPCClient:
    """A ``client_cls`` (default :class:`RPCClient`); ``kwargs`` are its
    keyword arguments."""
    return client_cls(transport, target, _manual_load=False, **kwargs)
