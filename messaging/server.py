"""MessageHandlingServer: the poll loop shared by RPC servers and listeners.

A server hands what its driver listener receives to its executor: a
listener that pushes calls the server from its I/O thread, one that cannot
is polled for batches by a thread of the server's own. Subclasses say how
to build the listener and how to handle a batch.
"""
from __future__ import annotations

import abc
import functools
import sys
from typing import Any, Callable, Optional

import debtcollector
from debtcollector import removals
from oslo_service.backend import base as service_base
from stevedore import driver as stevedore_driver

from messaging import _lifecycle
from messaging import exceptions
from messaging import options
from messaging import log_names
from messaging.drivers.polling import PollStyleListenerAdapter

LOG = log_names.get_logger(__name__)

# As oslo's (TaskTimeout is reached as messaging.server.TaskTimeout).
__all__ = ['ExecutorLoadFailure', 'MessageHandlingServer', 'MessagingServerError',
           'ServerListenError']

# Seconds a start, stop or wait waits for another step before logging a
# possible hang.
DEFAULT_LOG_AFTER = 30

EXECUTOR_NAMESPACE = 'messaging.executors'


class MessagingServerError(exceptions.MessagingException):
    """Base class for errors raised by a server."""


class ExecutorLoadFailure(MessagingServerError):
    """Raised when the named executor cannot be loaded."""

    def __init__(self, executor: str, ex: BaseException) -> None:
        super().__init__('Failed to load executor "%s": %s' % (executor, ex))
        self.executor = executor
        self.ex = ex


class ServerListenError(MessagingServerError):
    """Raised when a server could not start listening on its target."""

    def __init__(self, target: Any, ex: BaseException) -> None:
        super().__init__('Failed to listen on target "%s": %s' % (target, ex))
        self.target = target
        self.ex = ex


class TaskTimeout(MessagingServerError):
    """Raised when a server task did not finish in time."""


_EXECUTORS = ('threading', 'eventlet')
EXECUTOR_DEPRECATION = ('the eventlet executor is now deprecated. Threading will be '
                         'the only execution model available.')


def _load_executor(name: str) -> type:
    try:
        return stevedore_driver.DriverManager(EXECUTOR_NAMESPACE, name).driver
    except RuntimeError as ex:
        raise ExecutorLoadFailure(name, ex)


def _executor_for_context() -> str:
    """'eventlet' when the process is monkey-patched, else 'threading' (oslo's choice)."""
    eventlet = sys.modules.get('eventlet')
    if eventlet is not None and eventlet.patcher.is_monkey_patched('thread'):
        return 'eventlet'
    return 'threading'


def _lifecycle_step(method: Callable) -> Callable:
    """Run a server method as its ordered step; it takes ``timeout=`` and ``log_after=``."""
    @functools.wraps(method)
    def step(self, *args: Any, timeout: Optional[float] = None,
             log_after: float = DEFAULT_LOG_AFTER, **kwargs: Any) -> None:
        self._lifecycle.run(method.__name__, lambda: method(self, *args, **kwargs),
                            timeout, log_after)
    return step


class MessageHandlingServer(service_base.ServiceBase):
    """Receives messages from a transport and dispatches them.

    ``start()`` begins listening, ``stop()`` stops taking new messages and
    ``wait()`` waits for the messages being handled, then releases the
    listener. Messages being handled when ``stop()`` is called finish (and
    RPC calls get their replies). As in oslo.messaging, ``stop()`` waits for
    ``start()`` and ``wait()`` for ``stop()``, whichever threads call them;
    each takes ``timeout=`` (raising :class:`TaskTimeout`) and ``log_after=``
    (seconds before a possible hang is logged, 0 for never). The server is
    an oslo.service ``ServiceBase``: ``oslo_service.service.launch`` runs it.
    """

    @removals.removed_kwarg('executor', message=EXECUTOR_DEPRECATION)
    def __init__(self, transport, dispatcher, executor: Optional[str] = None) -> None:
        if executor and executor not in _EXECUTORS:
            raise ExecutorLoadFailure(
                executor, "Executor should be None or 'eventlet' and 'threading'")
        self.conf = transport.conf
        self.transport = transport
        self.dispatcher = dispatcher
        self.executor_type = executor or _executor_for_context()
        if self.executor_type == 'eventlet':
            debtcollector.deprecate(
                'Eventlet usages are deprecated and the removal of Eventlet from '
                'OpenStack is planned, for this reason the Eventlet executor is '
                'deprecated. Start migrating your stack to the threading executor. '
                'Please also start considering removing your internal Eventlet usages.',
                version='2025.1', removal_version='2026.1', category=DeprecationWarning)
        self._executor_cls = _load_executor(self.executor_type)
        options.register_default_opts(self.conf)
        self.listener = None
        self._executor = None
        self._lifecycle = _lifecycle.Lifecycle(TaskTimeout)

    @abc.abstractmethod
    def _create_listener(self):
        """The driver listener this server polls."""

    @abc.abstractmethod
    def _process_incoming(self, incoming: list) -> None:
        """Handle one batch of incoming messages."""

    @_lifecycle_step
    def start(self, override_pool_size: Optional[int] = None) -> None:
        """Start listening and handling messages (once until stopped).

        :raises InvalidTarget: the target lacks a topic or server.
        :raises ServerListenError: when the driver cannot listen.
        """
        size = override_pool_size or self.conf.executor_thread_pool_size
        self._executor = self._executor_cls(size)
        try:
            self.listener = self._create_listener()
        except exceptions.InvalidTarget:
            raise  # as oslo: a bad target is the caller's error, not the driver's
        except exceptions.MessagingException as ex:
            # oslo wraps driver errors; ours also wraps a refused login, which
            # our driver reports at once rather than retrying.
            raise ServerListenError(getattr(self, 'target', None), ex) from ex
        LOG.debug('%s listening with the %s executor (%d workers)', self,
                  self.executor_type, size)
        start_push = getattr(self.listener, 'start_push', None)
        if start_push is not None and start_push(self._on_delivery):
            return
        if not hasattr(self.listener, 'start'):
            # One of our listeners that cannot push (batches): polled.
            self.listener = PollStyleListenerAdapter(
                self.listener, self.listener.batch_size, self.listener.batch_timeout)
        # oslo's listener API: started with the function that takes its batches.
        self.listener.start(self._on_incoming)

    def _on_delivery(self, delivery: Any) -> None:
        # Called on the listener's I/O thread: must not block.
        self._executor.offer(self._handle_delivery, delivery)

    def _handle_delivery(self, delivery: Any) -> None:
        incoming = delivery.decode()
        if incoming is not None:
            self._handle([incoming])

    def _on_incoming(self, incoming: list) -> None:
        # Called on the polling thread with a batch: waits for a free worker.
        self._executor.submit(self._handle, incoming)

    def _handle(self, incoming: list) -> None:
        try:
            self._process_incoming(incoming)
        except Exception:
            LOG.exception('Unhandled error while processing %d message(s)', len(incoming))

    @_lifecycle_step
    def stop(self) -> None:
        """Stop taking new messages; messages being handled carry on."""
        if self.listener is not None:
            self.listener.stop()
        if self._executor is not None:
            # Pushed but not started: the broker gives them to a peer.
            for (delivery,) in self._executor.take_backlog():
                delivery.release()

    @_lifecycle_step
    def wait(self) -> None:
        """Wait for handled messages to finish, then release the listener."""
        executor, listener = self._executor, self.listener
        join = getattr(listener, 'join', None)
        if join is not None:
            join()
        if executor is not None:
            executor.shutdown(wait=True)
        if listener is not None:
            listener.cleanup()
        self._executor = self.listener = None

    def reset(self) -> None:
        """Part of oslo.service's ServiceBase (SIGHUP): nothing to reset here."""
