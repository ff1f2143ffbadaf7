"""Retiring a shared queue without losing what it holds: unbound, drained
by its servers, then deleted, so that they declare it again as configured.

RabbitMQ cannot change a queue's type; a fleet that moves to quorum queues
deletes each old topic queue for its servers to declare it anew
(operations.rst, "Changing queue type without an outage"). Deleted outright,
the queue takes with it the requests that were in it and not yet delivered.
Retired, it is first unbound from its exchange: requests published from then
on find no queue, and our clients, which publish calls and casts to a topic
mandatory, have them returned and publish them again (``unroutable.py``)
until the new queue is there. Its servers, still consuming, take what it
holds; once it is empty it is deleted (``if-empty``, so a message that came
by another binding is not lost either) and the broker cancels their
consumers, which declare it again ``ConsumerSet``'s ``CANCEL_SETTLE`` (0.1 s)
later.

Whatever fails before the delete (nobody consumes the queue, it does not
empty in time, the broker is lost) binds it again as it was: nothing is lost
and the queue serves on. The wait for it to empty asks the broker (a passive
declare) every ``POLL`` seconds, growing to ``POLL_MAX``: AMQP tells nobody
of an emptied queue.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable, Iterator, Optional

from messaging import exceptions
from messaging.drivers.rabbit import queues
from messaging.drivers.rabbit.errors import BrokerRefusal
from messaging.drivers.rabbit.link import Link
from messaging import log_names

LOG = log_names.get_logger(__name__)

POLL = 0.01
POLL_MAX = 0.2


class QueueNotRetired(exceptions.MessageDeliveryFailure):
    """The queue was not deleted; it is bound as it was, nothing lost. The
    text says why and what to do."""


@dataclasses.dataclass(frozen=True)
class RetiredQueue:
    """What retiring a queue took, in seconds from its unbinding."""

    name: str
    exchange: str
    routing_key: str
    #: Messages ready in it, and its consumers, when it was unbound.
    backlog: int
    consumers: int
    #: When the broker first said it was empty, and when it was deleted.
    drained_after: float
    deleted_after: float
    #: When it existed again (declared by its servers), None when not
    #: within the time given.
    declared_again_after: Optional[float]


def retire_queue(link: Link, name: str, exchange: str, routing_key: str,
                 timeout: float) -> RetiredQueue:
    """Unbind queue ``name`` from ``exchange`` (``routing_key``), wait until
    its consumers have emptied it, delete it, and wait until it exists
    again; all within ``timeout`` seconds, its deletion within the first
    half so that its servers have the rest to declare it again.

    :raises QueueNotRetired: no such queue, or it has no consumer, or it
        did not empty in time, or something else refilled it; it is then
        bound again as it was.
    :raises MessageDeliveryFailure: the broker could not be reached or
        refused us; the queue is bound again if it could be.
    """
    started = time.monotonic()
    where = '%s (vhost %s)' % (link.host, link.vhost)
    if queues.queue_state(link, name, started + timeout) is None:
        raise QueueNotRetired('There is no queue %s on %s: nothing to retire (see '
                              '"rabbitmqctl list_queues -p %s name")'
                              % (name, where, link.vhost))
    _ensure(link, lambda channel: channel.queue_unbind(name, exchange, routing_key),
            'unbind queue %s from exchange %s (routing key %s)'
            % (name, exchange, routing_key))
    unbound = time.monotonic()
    LOG.info('Queue %s unbound from exchange %s on %s: waiting for its consumers to '
             'empty it', name, exchange, where)
    try:
        backlog, consumers, drained = _wait_empty(link, name, unbound, timeout / 2)
        _delete_empty(link, name)
    except BaseException:
        _ensure(link, lambda channel: channel.queue_bind(name, exchange, routing_key),
                'bind queue %s to exchange %s again' % (name, exchange))
        LOG.info('Queue %s bound to exchange %s again: it was not retired', name, exchange)
        raise
    deleted = time.monotonic()
    LOG.info('Queue %s deleted on %s after its consumers emptied it (%d message(s) '
             'waiting when unbound)', name, where, backlog)
    again = _wait_declared(link, name, started + timeout)
    return RetiredQueue(name, exchange, routing_key, backlog, consumers,
                        drained - unbound, deleted - unbound,
                        None if again is None else again - unbound)


def _ensure(link: Link, method: Callable, what: str) -> None:
    link.ensure(method, retry=2, what=what)


def _polls(deadline: float) -> Iterator[None]:
    """Yield at once, then after waits of ``POLL`` doubling up to
    ``POLL_MAX``, while ``deadline`` (``time.monotonic()``) is ahead."""
    wait = POLL
    while time.monotonic() < deadline:
        yield
        time.sleep(max(min(wait, deadline - time.monotonic()), 0))
        wait = min(wait * 2, POLL_MAX)


def _wait_empty(link: Link, name: str, since: float, bound: float
                ) -> tuple[int, int, float]:
    """``(messages, consumers)`` when first asked, and when it was empty.

    :raises QueueNotRetired: nobody consumes it, it is gone, or it still
        holds messages after ``bound`` seconds.
    """
    first = state = None
    for _ in _polls(since + bound):
        state = queues.queue_state(link, name, since + bound)
        if state is None:
            raise QueueNotRetired('Queue %s was deleted by someone else while it was '
                                  'being retired' % name)
        first = first or state
        messages, consumers = state
        if messages == 0:
            return first[0], first[1], time.monotonic()
        if consumers == 0:
            raise QueueNotRetired(
                'Queue %s holds %d message(s) and nobody consumes it: start a server of '
                'its topic, so that it is emptied before it is deleted' % (name, messages))
    messages, consumers = state
    raise QueueNotRetired(
        'Queue %s still holds %d message(s) after %.1f s, its %d consumer(s) taking '
        'them: retire it when its servers keep up, or give it more time'
        % (name, messages, bound, consumers))


def _delete_empty(link: Link, name: str) -> None:
    """Delete queue ``name`` only if empty.

    :raises QueueNotRetired: a message came in since (another exchange
        binds it, or one publishes to it by name).
    """
    try:
        _ensure(link, lambda channel: channel.queue_delete(name, if_empty=True),
                'delete queue %s if empty' % name)
    except BrokerRefusal as ex:
        raise QueueNotRetired(
            'Queue %s received messages after it was unbound and emptied (another '
            'exchange is bound to it, or someone publishes to it by name), so it was '
            'not deleted: %s' % (name, ex)) from ex


def _wait_declared(link: Link, name: str, deadline: float) -> Optional[float]:
    """When queue ``name`` existed again, or None if not by ``deadline``."""
    for _ in _polls(deadline):
        if queues.queue_state(link, name, deadline) is not None:
            return time.monotonic()
    return None
