"""Looking at, checking and deleting a queue through a link's retry path.

Any connection runs them: a send connection looks at the queues of a call
that timed out (timeout_diagnosis.py) or of unread notifications, a
listening one checks its consumed queues after a reconnect and deletes a
server's fanout queue when it stops.
"""
from __future__ import annotations

import time
from typing import Optional

import amqp

from messaging import exceptions
from messaging.drivers.rabbit import backoff
from messaging.drivers.rabbit.link import Link

# A healthy broker answers a passive declare at once. One it holds (a node
# that cannot reach the queue's leader) must not hold the thread checking,
# a reader or a caller stepping the reply connection: past this the check
# fails, and the retry path reconnects, on the next host of the URL.
CHECK_TIMEOUT = backoff.CONNECT_TIMEOUT


def queue_state(link: Link, name: str, deadline: Optional[float] = None
                ) -> Optional[tuple[int, int]]:
    """``(ready messages, consumers)`` of queue ``name``, or None when the
    broker has no such queue (a passive declare, tried once).

    :raises MessageDeliveryFailure: the broker could not be asked.
    """
    try:
        _name, messages, consumers = link.ensure(
            lambda channel: channel.queue_declare(name, passive=True), retry=0,
            what='look at queue %s' % name, deadline=deadline)
    except exceptions.MessageDeliveryFailure as ex:
        if isinstance(ex.__cause__, amqp.exceptions.NotFound):
            return None
        raise
    return messages, consumers


def check_queue(link: Link, name: str) -> tuple[int, int]:
    """Make sure queue ``name`` still exists, re-declaring it if lost;
    its ``(ready messages, consumers)``.

    A passive declare answers 404 for a queue the broker no longer has;
    the retry path then reconnects, and the new channel's consumers are
    declared again (``ConsumerSet.channel_opened``), that queue among them.

    :raises MessageDeliveryFailure: the broker cannot be reached, or did
        not answer within ``CHECK_TIMEOUT``.
    """
    _name, messages, consumers = link.ensure(
        lambda channel: channel.queue_declare(name, passive=True), retry=1,
        what='check that queue %s exists' % name,
        deadline=time.monotonic() + CHECK_TIMEOUT)
    return messages, consumers


def delete_queue(link: Link, name: str) -> None:
    """Delete queue ``name`` (a server's fanout queue on graceful stop)."""
    link.ensure(lambda channel: channel.queue_delete(name), retry=1,
                what='delete queue %s' % name)
