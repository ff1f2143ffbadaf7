"""MessageHandlingServer: the poll loop shared by RPC servers and listeners.

A server pulls batches from its driver listener and hands each batch to its
executor; subclasses say how to build the listener and how to handle a batch.
"""
from __future__ import annotations

import abc
import logging
import threading
from typing import Any, Optional

from stevedore import driver as stevedore_driver

from messaging import exceptions
from messaging import options

LOG = logging.getLogger(__name__)

__all__ = ['ExecutorLoadFailure', 'MessageHandlingServer', 'MessagingServerError',
           'ServerListenError', 'TaskTimeout']

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


def _load_executor(name: str) -> type:
    try:
        return stevedore_driver.DriverManager(EXECUTOR_NAMESPACE, name).driver
    except RuntimeError as ex:
        raise ExecutorLoadFailure(name, ex)


class MessageHandlingServer(abc.ABC):
    """Receives messages from a transport and dispatches them.

    ``start()`` begins listening, ``stop()`` stops taking new messages and
    ``wait()`` waits for the messages being handled, then releases the
    listener. Messages being handled when ``stop()`` is called finish (and
    RPC calls get their replies).
    """

    _POLL_RETRY_DELAY = 1.0

    def __init__(self, transport, dispatcher, executor: Optional[str] = 'threading') -> None:
        self.conf = transport.conf
        self.transport = transport
        self.dispatcher = dispatcher
        # oslo.messaging takes executor=None for its default.
        self.executor_type = executor or 'threading'
        self._executor_cls = _load_executor(self.executor_type)
        options.register_default_opts(self.conf)
        self.listener = None
        self._executor = None
        self._poller = None
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    @abc.abstractmethod
    def _create_listener(self):
        """The driver listener this server polls."""

    @abc.abstractmethod
    def _process_incoming(self, incoming: list) -> None:
        """Handle one batch of incoming messages."""

    def start(self, override_pool_size: Optional[int] = None) -> None:
        """Start listening and handling messages (no-op if started).

        :raises ServerListenError: when the driver cannot listen.
        """
        with self._lock:
            if self._poller is not None:
                LOG.debug('%s already started', self)
                return
            try:
                self.listener = self._create_listener()
            except exceptions.MessagingException as ex:
                raise ServerListenError(getattr(self, 'target', None), ex) from ex
            size = override_pool_size or self.conf.executor_thread_pool_size
            self._executor = self._executor_cls(size)
            self._stop_event.clear()
            self._poller = self._executor.spawn(self._poll_loop, name='messaging-poller')

    def _poll_loop(self) -> None:
        listener, executor = self.listener, self._executor
        while not self._stop_event.is_set():
            try:
                incoming = listener.poll()
            except Exception:
                # A failed poll (e.g. a dropped connection) must not end the
                # server: log it, pause so a persistent fault does not spin,
                # and poll again (the driver reconnects).
                LOG.exception('Polling for messages failed on %s; polling again in '
                              '%s s', self, self._POLL_RETRY_DELAY)
                self._stop_event.wait(self._POLL_RETRY_DELAY)
                continue
            if incoming:
                executor.submit(self._handle, incoming)

    def _handle(self, incoming: list) -> None:
        try:
            self._process_incoming(incoming)
        except Exception:
            LOG.exception('Unhandled error while processing %d message(s)', len(incoming))

    def stop(self) -> None:
        """Stop taking new messages; messages being handled carry on."""
        with self._lock:
            self._stop_event.set()
            if self.listener is not None:
                self.listener.stop()

    def wait(self) -> None:
        """Wait for handled messages to finish, then release the listener."""
        with self._lock:
            poller, executor, listener = self._poller, self._executor, self.listener
            if poller is None:
                return
            if not self._stop_event.is_set():
                LOG.warning('wait() called on %s before stop(); waiting for it to '
                            'be stopped', self)
        poller.join()
        executor.shutdown(wait=True)
        listener.cleanup()
        with self._lock:
            self._poller = self._executor = self.listener = None

    def reset(self) -> None:
        """Kept for oslo.messaging compatibility: nothing to reset here."""
