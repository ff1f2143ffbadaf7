"""The consumers of a rabbit ``Connection``: declared once, kept by consumer
tag and declared again after every reconnect, drained by one thread,
cancelled, and checked after a reconnect.

A mixin of ``Connection`` (connection.py), whose retry path (``ensure``),
channel, declarer and locks it uses.
"""
from __future__ import annotations

import socket
import time
from typing import Any, Callable, Optional

import amqp

from messaging import exceptions
from messaging.drivers.rabbit.amqp_link import set_socket_timeout
from messaging.drivers.rabbit.declarations import QueueSpec, consumer_arguments
from messaging.drivers.rabbit.errors import RECOVERABLE, QueueNotReady, not_ready_yet
from messaging import log_names

LOG = log_names.get_logger(__name__)

# How long one wait on the socket lasts: bounds how late a stop is noticed.
DRAIN_SLICE = 0.25


class ConsumingMixin:
    """Consumer bookkeeping of a ``Connection``; see the module docstring."""

    def _replay_consumers(self) -> None:
        """Declare and consume again every consumer, on a new channel."""
        for tag, (spec, callback, cursor) in list(self._consumers.items()):
            self._declare_and_consume(spec, tag, callback, cursor)

    def declare_consumer(self, spec: QueueSpec, callback: Callable[[Any], None],
                         deadline: Optional[float] = None, cursor: Any = None) -> str:
        """Declare ``spec`` (exchanges, queue, bindings) and consume it.

        Kept and replayed after every reconnect. Returns the consumer tag
        (``"1"``, ``"2"``... in declaration order, never reused on this
        connection, even after a consumer is cancelled).

        :param deadline: ``time.monotonic()`` instant to give up at (a
            call's reply queue); None keeps trying while the broker cannot
            be reached. What the broker refuses (credentials, vhost,
            permissions, TLS) fails at once: a server that never started
            says so to whoever starts it (as oslo.messaging does).
        :param cursor: for a stream, its StreamCursor (stream_fanout.py):
            gives the consumer arguments (the offset) at each consume and
            hears of the broker cancelling the consumer.
        """
        tag = str(next(self._tags))

        def _declare(channel: amqp.Channel) -> None:
            self._declare_and_consume(spec, tag, callback, cursor)

        self.ensure(_declare, what='declare consumer of %s' % spec.name, deadline=deadline)
        self._consumers[tag] = (spec, callback, cursor)
        return tag

    def _declare_and_consume(self, spec: QueueSpec, tag: str, callback: Callable,
                             cursor: Any) -> None:
        channel = self._channel
        self._declarer.queue(channel, spec)
        if cursor is not None:
            arguments, on_cancel = cursor.consumer_arguments(), cursor.on_cancel
        else:
            # A queue used as the broker has it may be of another type.
            arguments = consumer_arguments(
                spec, self._conf.enable_cancel_on_failover
                and not self._declarer.uses_as_found(spec.name))
            on_cancel = None
        try:
            channel.basic_consume(spec.name, consumer_tag=tag, no_ack=False,
                                  callback=callback, arguments=arguments, on_cancel=on_cancel)
        except amqp.exceptions.PreconditionFailed as ex:
            # A stream with no replica on this node yet (a node down, a
            # replica starting) is not our declaration's fault: the retry
            # path reconnects, on another node if need be, and tries again.
            if not_ready_yet(ex):
                raise QueueNotReady('queue %s is not ready on %s: %s'
                                    % (spec.name, self.host, ex)) from ex
            raise

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for deliveries; callbacks run here."""
        rechecks = self._rechecks
        if rechecks and time.monotonic() >= rechecks[0]:
            self._rechecks = rechecks[1:]
            self._check_redeclared_queues()

        def _drain(channel: amqp.Channel) -> None:
            link = channel.connection
            # py-amqp sets the socket's timeout before each wait and puts the
            # old one back after: two ioctl syscalls per wait, i.e. per
            # delivery. Left set here, py-amqp finds it in place and skips
            # both; ensure() restores blocking mode before any other method.
            set_socket_timeout(link, timeout)
            try:
                link.drain_events(timeout=timeout)
            except socket.timeout:
                pass

        retry_at = self._retry_at
        if retry_at is not None and retry_at > time.monotonic():
            # The connection is down: this slice waits for the next try.
            self._closing.wait(min(retry_at - time.monotonic(), timeout))
            return
        self.ensure(_drain, what='consume', writes=False, background=True)

    def cancel_consumers(self, tags: Optional[list[str]] = None) -> None:
        """Stop consuming (the consumers of ``tags``, or all); deliveries
        already received stay unacked."""
        with self._read_lock, self._write_lock:
            tags = list(self._consumers) if tags is None else tags
            for tag in tags:
                self._consumers.pop(tag, None)
            if self._channel is None or self._broken:
                return
            try:
                for tag in tags:
                    self._channel.basic_cancel(tag)
            except RECOVERABLE as ex:
                LOG.debug('Could not cancel consumers of %s: %s', self.name, ex)
                self._broken = True

    def queue_state(self, name: str, deadline: Optional[float] = None
                    ) -> Optional[tuple[int, int]]:
        """``(ready messages, consumers)`` of queue ``name``, or None when
        the broker has no such queue (a passive declare, tried once).

        :raises MessageDeliveryFailure: the broker could not be asked.
        """
        try:
            _name, messages, consumers = self.ensure(
                lambda channel: channel.queue_declare(name, passive=True), retry=0,
                what='look at queue %s' % name, deadline=deadline)
        except exceptions.MessageDeliveryFailure as ex:
            if isinstance(ex.__cause__, amqp.exceptions.NotFound):
                return None
            raise
        return messages, consumers

    def check_queue(self, name: str) -> None:
        """Make sure queue ``name`` still exists, re-declaring it if lost.

        A passive declare answers 404 for a queue the broker no longer has;
        the retry path then reconnects and declares this connection's
        consumers again, that queue among them.

        :raises MessageDeliveryFailure: the broker cannot be reached.
        """
        self.ensure(lambda channel: channel.queue_declare(name, passive=True), retry=1,
                    what='check that queue %s exists' % name)

    def _check_redeclared_queues(self) -> None:
        """Check that the queues consumed again after a reconnect exist.

        While a cluster node stops, a classic queue it owned can still answer
        declare-ok and consume-ok on another node, then vanish with the node
        without the broker cancelling our consumer, which would then wait
        for nothing forever. A few checks in the seconds after a reconnect
        find such a queue (404) and declare it again.
        """
        for spec, _callback, _cursor in list(self._consumers.values()):
            try:
                self.check_queue(spec.name)
            except exceptions.MessageDeliveryFailure as ex:
                LOG.warning('Could not check that queue %s exists on %s: %s', spec.name,
                            self.host, ex)
                return

    def delete_queue(self, name: str) -> None:
        """Delete a queue (a server's fanout queue on graceful stop)."""
        self.ensure(lambda channel: channel.queue_delete(name), retry=1,
                    what='delete queue %s' % name)
