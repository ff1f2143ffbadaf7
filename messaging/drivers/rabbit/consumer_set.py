"""The consumers of one link: declared and consumed through its retry path,
kept by consumer tag, declared again on every new channel, their deliveries
settled, cancelled, and looked after between reads (queues checked after a
reconnect, consumers the broker refused tried again, consumers the broker
cancelled consumed again).

A consumer the broker cancels (its queue was deleted, as when an operator
retires it to change its type, or a mirrored queue failed over) is declared
and consumed again on the same channel, ``CANCEL_SETTLE`` seconds later, at
the reader's upkeep. Not on a new connection: the deliveries it received
before the cancel, not yet acked, stay on their channel and are handled and
acked as usual, where a reconnect would drop them for the broker to
redeliver, which a deleted queue cannot. Not at once either: a cancel also
comes when the queue's whole virtual host is deleted, and the broker closes
the connection just after; declared in between, the queue can outlive the
vhost's deletion as a record with no process (RabbitMQ 4.0), which refuses
every later declaration with a 404 once the vhost is back.

A consumer the broker refuses for good when it is declared again after a
reconnect (its queue was declared since with other arguments, a deprecated
feature it needs is denied, a permission was taken away) is *set aside*:
the channel it closed is made again for the other consumers, and it is
tried again with backoff until an operator's fix lets it through. So one
listener's refused queue cannot keep the others of a shared connection
down, and the reply queue's connection keeps reading what it can.

The consumers and those set aside are changed only under the link's read
lock (through ``ensure``, ``exclusive`` or ``channel_opened``).
"""
from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any, Callable, Optional

import amqp

from messaging import exceptions
from messaging.drivers.rabbit import backoff, queues
from messaging.drivers.rabbit.declarations import QueueSpec, consumer_arguments
from messaging.drivers.rabbit.errors import (RECOVERABLE, RETRIED_OR_REFUSED, DeclareAgain,
                                             PrivateQueueUnavailable, QueueNotReady,
                                             not_ready_yet, refusal)
from messaging.drivers.rabbit.link import Link
from messaging import log_names

LOG = log_names.get_logger(__name__)

# Seconds after a reconnect at which the queues declared again are checked
# (see ConsumerSet._check_redeclared_queues).
RECHECKS_AFTER_RECONNECT = (1.0, 3.0, 10.0)

# Seconds between the broker's cancel of a consumer and its declaration
# again (see the module docstring): well past the connection's close that
# follows a vhost's deletion, well within a returned cast's second.
CANCEL_SETTLE = 0.1

# How long a cancel waits for the broker's answer; past it the link is
# taken as broken (it reconnects) rather than hold up a stopping listener.
CANCEL_TIMEOUT = 5.0

@dataclasses.dataclass
class Consumer:
    """One consumer: its queue, the callback of its deliveries, its stream
    cursor (or None) and, for a private queue, what makes the queue that
    replaces it when the broker cannot serve it (or None)."""

    spec: QueueSpec
    callback: Callable[[Any], None]
    cursor: Any = None
    renew: Optional[Callable[[QueueSpec], QueueSpec]] = None


class ConsumerSet:
    """The consumers of ``link``, kept across its reconnects.

    :param link: the link they consume on; told to call
        :meth:`channel_opened` on each new channel.
    :param conf: the driver's options (``enable_cancel_on_failover`` and
        the reconnect backoff).
    :param clock: ``time.monotonic`` (tests inject theirs): when checks,
        retries and the consuming again of cancelled consumers are due.
    """

    def __init__(self, link: Link, conf: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._link = link
        self._conf = conf
        self._clock = clock
        self._engine = link.engine
        # By consumer tag. Tags come from a counter that outlives
        # reconnects: never reused on this link.
        self._consumers: dict[str, Consumer] = {}
        self._tags = itertools.count(1)
        self._rechecks: tuple[float, ...] = ()
        # Consumers the broker refused on a reconnect, by tag: the
        # consumer, refusals in a row, when to try again.
        self._set_aside: dict[str, tuple[Consumer, int, float]] = {}
        # Tags of consumers the broker cancelled, to consume again at
        # _consume_again_at.
        self._cancelled: set[str] = set()
        self._consume_again_at = 0.0
        #: How many times consumers were declared again: on a new channel,
        #: or after the broker cancelled one (its queue lost meanwhile?).
        self.declared_again = 0
        link.add_channel_user(self)

    @property
    def tags(self) -> list[str]:
        """The tags of the consumers consumed now (not those set aside)."""
        return list(self._consumers)

    def declare(self, spec: QueueSpec, callback: Callable[[Any], None],
                deadline: Optional[float] = None, cursor: Any = None,
                renew: Optional[Callable[[QueueSpec], QueueSpec]] = None) -> str:
        """Declare ``spec`` (exchanges, queue, bindings) and consume it.

        Kept and replayed after every reconnect. Returns the consumer tag
        (``"1"``, ``"2"``... in declaration order, never reused on this
        link, even after a consumer is cancelled).

        :param deadline: ``time.monotonic()`` instant to give up at (a
            call's reply queue); None keeps trying while the broker cannot
            be reached. What the broker refuses (credentials, vhost,
            permissions, TLS, the declaration) fails at once: a server that
            never started says so to whoever starts it (as oslo.messaging
            does).
        :param cursor: for a stream, its StreamCursor (stream_fanout.py):
            gives the consumer arguments (the offset) at each consume and
            hears of the broker cancelling the consumer.
        :param renew: for a private queue (``spec.private``), called with
            the queue when the broker holds it but cannot serve it (404 to
            its declaration: its node is down, as RabbitMQ 4 keeps a
            classic queue of a stopped node); returns the queue of a new
            name to consume instead, and its owner sends and deletes by
            that name from then on. Without it the declaration is tried
            again until the node is back.
        """
        tag = str(next(self._tags))
        consumer = Consumer(spec, callback, cursor, renew)

        def _declare(channel: amqp.Channel) -> None:
            self._consume(channel, tag, consumer)
            # Kept under the read lock, with the consume: a reconnect
            # cannot come between them and miss it.
            self._consumers[tag] = consumer

        self._link.ensure(_declare, what='declare consumer of %s' % spec.name,
                          deadline=deadline)
        return tag

    def ack(self, channel: amqp.Channel, delivery_tag: int, requeue: Optional[bool] = None
            ) -> None:
        """Ack (``requeue`` None) or reject a delivery received on ``channel``,
        from any thread.

        A delivery from an older channel is gone with it: the broker
        redelivers it, so there is nothing to do.
        """
        with self._link.writing():
            if channel is not self._link.channel:
                LOG.debug('Not settling delivery %s of a closed channel on %s',
                          delivery_tag, self._link.name)
                return
            try:
                if requeue is None:
                    self._engine.ack(channel, delivery_tag)
                else:
                    self._engine.reject(channel, delivery_tag, requeue)
            except RECOVERABLE as ex:
                LOG.warning('Could not settle delivery %s on %s: %s; the broker '
                            'will redeliver it', delivery_tag, self._link.name, ex)
                self._link.mark_broken()

    def cancel(self, tags: Optional[list[str]] = None) -> None:
        """Stop consuming (the consumers of ``tags``, or all, those set
        aside included); deliveries already received stay unacked."""
        with self._link.exclusive(CANCEL_TIMEOUT) as channel:
            for tag in list(self._set_aside) if tags is None else tags:
                self._set_aside.pop(tag, None)
            tags = list(self._consumers) if tags is None else tags
            for tag in tags:
                self._consumers.pop(tag, None)
            if channel is None:
                return
            try:
                for tag in tags:
                    channel.basic_cancel(tag)
            except RECOVERABLE as ex:
                LOG.debug('Could not cancel consumers of %s: %s', self._link.name, ex)
                self._link.mark_broken()

    # -- on each new channel -------------------------------------------------

    def channel_opened(self, channel: amqp.Channel) -> None:
        """Declare every consumer's queue again, then consume them all,
        setting aside those the broker now refuses; schedule the checks of
        their queues.

        Every declaration comes before the first consume: a declaration
        the broker refuses closes the channel, and what consumers already
        started on it had received would go back to its queues, to be
        delivered again though it may have been handled meanwhile (as a
        server's fanout queue held on a stopped RabbitMQ 4 node is
        answered 404 after its topic queues were consumed).
        """
        self._cancelled.clear()
        if self._consumers:
            self.declared_again += 1
        consumers = list(self._consumers.items())
        for tag, consumer in consumers:
            self._consume_or_set_aside(channel, tag, consumer, start=False)
        for tag, consumer in consumers:
            self._consume_or_set_aside(channel, tag, consumer, declare=False)
        if self._consumers:
            now = self._clock()
            self._rechecks = tuple(now + delay for delay in RECHECKS_AFTER_RECONNECT)

    def _consume(self, channel: amqp.Channel, tag: str, consumer: Consumer,
                 declare: bool = True, start: bool = True) -> None:
        """Declare the consumer's queue (``declare``) and consume it (``start``)."""
        if declare:
            self._declare(channel, consumer)
        if start:
            self._start(channel, tag, consumer)

    def _declare(self, channel: amqp.Channel, consumer: Consumer) -> None:
        spec = consumer.spec
        try:
            self._link.declarer.queue(channel, spec)
        except PrivateQueueUnavailable as ex:
            if consumer.renew is None:
                # Tried again with backoff, as a lost connection.
                raise ex.cause
            consumer.spec = consumer.renew(spec)
            LOG.warning('The broker %s cannot serve queue %s, this process\'s own (%s): its '
                        'node is down, and the broker keeps it until the node is back. '
                        'Consuming a new queue, %s, instead; what was in the old one is lost '
                        'with it (replies to calls sent before time out)',
                        self._link.host, spec.name, ex.cause, consumer.spec.name)
            raise

    def _start(self, channel: amqp.Channel, tag: str, consumer: Consumer) -> None:
        spec, callback, cursor = consumer.spec, consumer.callback, consumer.cursor
        if cursor is not None:
            arguments = cursor.consumer_arguments()
        else:
            # A queue used as the broker has it may be of another type.
            arguments = consumer_arguments(
                spec, self._conf.enable_cancel_on_failover
                and not self._link.declarer.uses_as_found(spec.name))
        try:
            channel.basic_consume(spec.name, consumer_tag=tag, no_ack=False,
                                  callback=callback, arguments=arguments,
                                  on_cancel=self._broker_cancelled)
        except amqp.exceptions.PreconditionFailed as ex:
            # A stream with no replica on this node yet (a node down, a
            # replica starting) is not our declaration's fault: the retry
            # path reconnects, on another node if need be, and tries again.
            if not_ready_yet(ex):
                raise QueueNotReady('queue %s is not ready on %s: %s'
                                    % (spec.name, self._link.host, ex)) from ex
            raise

    def _consume_or_set_aside(self, channel: amqp.Channel, tag: str, consumer: Consumer,
                              declare: bool = True, start: bool = True) -> None:
        """Declare (``declare``) and consume (``start``) one consumer, or
        set it aside when refused.

        :raises DeclareAgain: it was set aside (the broker closed the
            channel, or the connection, on refusing it).
        """
        spec = consumer.spec
        try:
            self._consume(channel, tag, consumer, declare, start)
        except RETRIED_OR_REFUSED as ex:
            error = refusal(ex, 'declare consumer of %s' % spec.name, self._link.host,
                            self._link.vhost)
            if error is None:
                raise
            self._consumers.pop(tag, None)
            attempts = self._set_aside.get(tag, (None, 0, 0.0))[1] + 1
            delay = backoff.reconnect_delay(self._conf, attempts)
            self._set_aside[tag] = (consumer, attempts, self._clock() + delay)
            LOG.error('%s; consumer %s of %s tries again in %.1f s (attempt %d), the other '
                      'consumers of the connection go on', error, tag, self._link.name, delay,
                      attempts)
            raise DeclareAgain('queue', spec.name) from ex
        if not start:
            return
        if tag in self._set_aside:
            _consumer, attempts, _retry_at = self._set_aside.pop(tag)
            LOG.info('Consumer %s of queue %s on %s is declared again, after %d refusal(s)',
                     tag, spec.name, self._link.name, attempts)
        self._consumers[tag] = consumer

    def _broker_cancelled(self, tag: str) -> None:
        """py-amqp's hook for a ``basic.cancel`` from the broker, on the
        thread reading the frame: consume ``tag`` again at the next upkeep
        (see the module docstring)."""
        consumer = self._consumers.get(tag)
        if consumer is None:
            return
        spec, cursor = consumer.spec, consumer.cursor
        LOG.info('The broker cancelled consumer %s of queue %s on %s (the queue was '
                 'deleted, or failed over): declaring and consuming it again in %g s',
                 tag, spec.name, self._link.name, CANCEL_SETTLE)
        if cursor is not None:
            cursor.cancelled()
        self._link.declarer.queue_deleted(spec.name)
        if not self._cancelled:
            self._consume_again_at = self._clock() + CANCEL_SETTLE
        self._cancelled.add(tag)

    # -- between reads -------------------------------------------------------

    def next_upkeep(self) -> float:
        """When :meth:`upkeep` has something to do next (``time.monotonic()``;
        infinity: nothing planned)."""
        due = min((retry_at for _consumer, _attempts, retry_at in self._set_aside.values()),
                  default=float('inf'))
        if self._cancelled:
            due = min(due, self._consume_again_at)
        return min(due, self._rechecks[0]) if self._rechecks else due

    def upkeep(self) -> bool:
        """Run what is due, on the thread that reads the link: the next
        check of the queues consumed again after a reconnect, or a new try
        of the consumers set aside, consuming again those the broker
        cancelled. Whether anything was due."""
        now = self._clock()
        if self._cancelled and now >= self._consume_again_at:
            self._link.ensure(self._consume_cancelled, what='consume again the queues '
                              'the broker cancelled', background=True)
            return True
        rechecks = self._rechecks
        if rechecks and now >= rechecks[0]:
            self._rechecks = rechecks[1:]
            self._check_redeclared_queues()
            return True
        if any(retry_at <= now for _c, _a, retry_at in self._set_aside.values()):
            self._link.ensure(self._retry_set_aside, what='declare consumers set aside',
                              background=True)
            return True
        return False

    def _consume_cancelled(self, channel: amqp.Channel) -> None:
        """Declare and consume again, on ``channel``, the consumers the
        broker cancelled."""
        while self._cancelled:
            tag = self._cancelled.pop()
            consumer = self._consumers.get(tag)
            if consumer is not None:
                self.declared_again += 1
                self._consume_or_set_aside(channel, tag, consumer)

    def _retry_set_aside(self, channel: amqp.Channel) -> None:
        """Try again the consumers set aside whose backoff has passed."""
        now = self._clock()
        for tag, (consumer, _attempts, retry_at) in list(self._set_aside.items()):
            if retry_at <= now:
                self._consume_or_set_aside(channel, tag, consumer)

    def _check_redeclared_queues(self) -> None:
        """Check that the queues consumed again after a reconnect exist.

        While a cluster node stops, a classic queue it owned can still answer
        declare-ok and consume-ok on another node, then vanish with the node
        without the broker cancelling our consumer, which would then wait
        for nothing forever. A few checks in the seconds after a reconnect
        find such a queue (404) and declare it again.
        """
        for consumer in list(self._consumers.values()):
            spec = consumer.spec
            try:
                queues.check_queue(self._link, spec.name)
            except exceptions.MessageDeliveryFailure as ex:
                LOG.warning('Could not check that queue %s exists on %s: %s', spec.name,
                            self._link.host, ex)
                return
