"""The RPC server: listens on a target and runs requests on its endpoints.

Each request is acknowledged on receipt, before it runs (as oslo servers
do, so a request that crashes its server is not redelivered forever),
dispatched, and, for a call, answered with the result or the exception.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, Optional

from debtcollector import removals

from messaging import exceptions as msg_exceptions
from messaging import observability
from messaging import server as msg_server
from messaging import transport as msg_transport
from messaging.rpc import dispatcher as rpc_dispatcher
from messaging import log_names

LOG = log_names.get_logger(__name__)

# As oslo's: RPCServer is reached as messaging.rpc.server.RPCServer.
__all__ = ['get_rpc_server', 'expected_exceptions', 'expose']

# An interface version as peers write it: "X.Y" or "X.Y.Z".
_VERSION = re.compile(r'\d{1,9}(\.\d{1,9}){0,2}\Z')


class RPCServer(msg_server.MessageHandlingServer):
    """A server for RPC requests sent to ``target``'s topic and server.

    Build it with :func:`get_rpc_server`.
    """

    def __init__(self, transport, target, dispatcher: rpc_dispatcher.RPCDispatcher,
                 executor: Optional[str] = None) -> None:
        super().__init__(transport, dispatcher, executor)
        if not isinstance(transport, msg_transport.RPCTransport):
            LOG.warning('Using notification transport for RPC. Please use '
                        'get_rpc_transport to obtain an RPC transport instance.')
        if self.conf.rpc_ping_enabled:
            dispatcher._enable_ping()
        self._target = target

    @property
    def target(self):
        """The target this server listens on."""
        return self._target

    def _create_listener(self):
        return self.transport._listen(self._target, 1, None)

    def _process_incoming(self, incoming: list) -> None:
        for message in incoming:
            self._handle_request(message)

    def _handle_request(self, message) -> None:
        method = message.message.get('method')
        LOG.debug('Received request %s for method %s', message.msg_id, method)
        try:
            message.acknowledge()
        except Exception:
            LOG.exception('Can not acknowledge message. Skip processing',
                          extra=_context(message, method))
            return
        result = None
        failure = _malformed_request(message.message)
        if failure is not None:
            LOG.error('Refusing %s from queue %s: %s%s',
                      'call %s' % message.msg_id if message.msg_id else 'cast',
                      getattr(message, 'queue', '?'), failure,
                      '; replying with this error' if message.msg_id else '')
        else:
            result, failure = self._dispatch(message, method)
        try:
            if message.msg_id is not None:
                self._reply(message, method, result, failure)
        finally:
            # The failure's traceback holds this frame, which holds the
            # failure: break the cycle now rather than leave it to the GC.
            del failure

    def _dispatch(self, message, method: Any) -> tuple[Any, Optional[BaseException]]:
        """``(result, None)``, or ``(None, exception)`` when the request failed.

        Each branch returns from inside its ``except`` so that no local of
        this frame, which the exception's traceback holds, holds it back.
        """
        try:
            found = self._endpoint_method(message)
            with observability.rpc_dispatch(self.conf, self._target, found, message):
                if found is None:
                    # Raises the lookup's error (NoSuchMethod, UnsupportedVersion).
                    return self.dispatcher.dispatch(message), None
                return self.dispatcher.run(message, found), None
        except rpc_dispatcher.ExpectedException as ex:
            LOG.debug('Expected exception during message handling (%s)', ex.exc_info[1])
            return None, ex.exc_info[1]
        except Exception as ex:
            # oslo's convention: callers probing optional methods name them
            # *_ignore_errors, and a miss is not worth an error log.
            if (isinstance(ex, rpc_dispatcher.NoSuchMethod) and isinstance(ex.method, str)
                    and ex.method.endswith('_ignore_errors')):
                LOG.debug('Method %s not found', ex.method)
            else:
                LOG.exception('Exception during message handling',
                              extra=_context(message, method))
            return None, ex

    def _endpoint_method(self, message) -> Any:
        """The endpoint method that serves ``message``; None when none does."""
        try:
            return self.dispatcher.find_method(message.message)
        except (rpc_dispatcher.NoSuchMethod, rpc_dispatcher.UnsupportedVersion):
            return None

    @staticmethod
    def _reply(message, method: Any, result: Any, failure: Optional[BaseException]) -> None:
        """Answer a call; a reply that cannot be sent is logged, not raised."""
        try:
            if failure is None:
                message.reply(result)
            else:
                message.reply(failure=failure)
        except msg_exceptions.MessageUndeliverable as ex:
            LOG.exception('MessageUndeliverable error, source exception: %s, '
                          'routing_key: %s, exchange: %s: ', ex.exception,
                          ex.routing_key, ex.exchange, extra=_context(message, method))
        except Exception:
            LOG.exception('Can not send reply for message', extra=_context(message, method))


def _context(message, method: Any) -> dict:
    """What our log lines add to oslo.messaging's texts, as record attributes."""
    return {'method': method, 'msg_id': message.msg_id,
            'queue': getattr(message, 'queue', None)}


def _malformed_request(request: dict) -> Optional[TypeError]:
    """Why no endpoint could take ``request``, as the error to reply with.

    None when its ``method`` is a name, its ``args`` (if any) a JSON
    object, its ``version`` (if any) "X.Y" and its ``namespace`` a string.
    A plain TypeError, so that every client rebuilds it, oslo's included.
    """
    method = request.get('method')
    if not isinstance(method, str):
        return TypeError('the RPC request\'s "method" is %s, not a method name'
                         % ('missing' if method is None else 'a %s' % type(method).__name__))
    args = request.get('args')
    if args is not None and not isinstance(args, dict):
        return TypeError('the arguments of RPC method %.100r are a %s, not a JSON object '
                         'of named arguments' % (method, type(args).__name__))
    version = request.get('version')
    if version and not (isinstance(version, str) and _VERSION.match(version)):
        return TypeError('the version of RPC method %.100r is %.100r, not "X.Y"'
                         % (method, version))
    namespace = request.get('namespace')
    if namespace is not None and not isinstance(namespace, str):
        return TypeError('the namespace of RPC method %.100r is a %s, not a string'
                         % (method, type(namespace).__name__))
    return None


@removals.removed_kwarg('executor', message=msg_server.EXECUTOR_DEPRECATION)
def get_rpc_server(transport, target, endpoints: list,
                   executor: Optional[str] = None, serializer=None,
                   access_policy: Optional[type] = None,
                   server_cls: type = RPCServer) -> RPCServer:
    """An RPC server for ``target`` (topic and server required) serving ``endpoints``.

    :param executor: deprecated, as in oslo (a DeprecationWarning):
        ``'threading'`` or ``'eventlet'``; ``None`` picks eventlet in a
        monkey-patched process, else threading.
    :param serializer: converts contexts, arguments and results.
    :param access_policy: an :class:`RPCAccessPolicyBase` subclass;
        ``None`` means :class:`DefaultRPCAccessPolicy` (no ``_`` methods).
    :param server_cls: the server class to build.
    :raises ExecutorLoadFailure: for an unknown executor name.
    """
    dispatcher = rpc_dispatcher.RPCDispatcher(endpoints, serializer, access_policy)
    return server_cls(transport, target, dispatcher, executor)


def expected_exceptions(*exceptions: type) -> Callable[[Callable], Callable]:
    """Mark exceptions an endpoint method raises as part of its normal use.

    The server then logs them at DEBUG without a traceback instead of as an
    error; the caller still receives the original exception.
    """
    def outer(func: Callable) -> Callable:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return func(*args, **kwargs)
            except exceptions:
                raise rpc_dispatcher.ExpectedException()
        return inner
    return outer


def expose(func: Callable) -> Callable:
    """Mark an endpoint method as callable under ``ExplicitRPCAccessPolicy``."""
    func.exposed = True
    return func
