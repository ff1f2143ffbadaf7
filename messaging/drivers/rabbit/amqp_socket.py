"""Socket timeouts of py-amqp connections, set only when they change.

py-amqp resets the socket timeout around every wait; our waits leave it set
instead, which saves system calls per delivery (see benchmarks/README.md).
Reading itself is in frame_reader.
"""
from __future__ import annotations

from typing import Optional

import amqp


def set_socket_timeout(link: amqp.Connection, timeout: Optional[float]) -> None:
    """Give the socket of ``link`` this timeout, unless it has it already."""
    sock = getattr(link.transport, 'sock', None)
    if sock is not None and sock.gettimeout() != timeout:
        sock.settimeout(timeout)


def set_publish_timeout(link: amqp.Connection, remaining: float, bound: float) -> None:
    """Bound each read and write of a publish by its ``remaining`` seconds.

    :param bound: the publish's whole timeout. While more than 90 % of it
        remains the socket keeps ``bound`` itself, so steady publishing
        never changes the socket's timeout (no system call).
    """
    set_socket_timeout(link, bound if remaining > 0.9 * bound else max(remaining, 0.001))
