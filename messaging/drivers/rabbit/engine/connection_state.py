"""What both frame engines read and set of a py-amqp connection and channel
through their public attributes: whether a channel is still open, and the
socket's timeout."""
from __future__ import annotations

from typing import Any, Optional

import amqp
from amqp.exceptions import RecoverableConnectionError


def open_channel(channel: amqp.Channel, closed: str) -> tuple[Any, int]:
    """The connection and id of ``channel`` while it is open.

    py-amqp clears both when the channel closes (the id first), which
    another thread's read may do at any moment (an ack is written without
    the read lock): each is read once, the connection first, and either
    missing is a closed channel.

    :raises RecoverableConnectionError: ``closed``, the channel is closed.
    """
    link, channel_id = channel.connection, channel.channel_id
    if link is None or channel_id is None:
        raise RecoverableConnectionError(closed)
    return link, channel_id


def set_socket_timeout(connection: amqp.Connection, timeout: Optional[float]) -> None:
    """Give the socket of ``connection`` this timeout, unless it has it already.

    py-amqp resets the socket timeout around every wait with a timeout; our
    waits leave it set instead, which saves system calls per delivery (see
    benchmarks/README.md and ``AmqpLink.blocking_read``), and read with
    ``blocking_read(None)``, which keeps it. Called by ``link.Link`` only,
    which owns the rule of who sets it when.
    """
    sock = getattr(connection.transport, 'sock', None)
    if sock is not None and sock.gettimeout() != timeout:
        sock.settimeout(timeout)
