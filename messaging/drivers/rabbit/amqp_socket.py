"""Tuning of py-amqp's socket handling, measured to matter on the hot path.

Both tweaks cut system calls per delivery (see benchmarks/README.md): py-amqp
reads byte-exact and resets the socket timeout around every wait.
"""
from __future__ import annotations

from typing import Optional

import amqp
from amqp import transport as amqp_transport

# Bytes asked of the socket at least per read (see read_ahead). Small
# enough that py-amqp's copy of the unread rest after each frame stays cheap.
READ_AHEAD = 4096


def read_ahead(link: amqp.Connection) -> None:
    """Let py-amqp's plain-TCP transport read ahead instead of byte-exact.

    py-amqp reads each frame with three exact-size ``recv`` calls (header,
    payload, end byte), each preceded by a ``poll`` when the socket has a
    timeout: about 20 system calls per small delivery. Its ``_read`` keeps
    whatever a ``recv`` returned beyond the bytes it asked for in its read
    buffer for the next frame, so asking for at least ``READ_AHEAD`` bytes
    reads a whole delivery (or several) in one call. TLS transports read
    through their own buffered ``SSLSocket`` and are left alone.
    """
    transport = link.transport
    sock = getattr(transport, 'sock', None)
    if type(transport) is not amqp_transport.TCPTransport or sock is None:
        return
    recv = sock.recv
    transport._quick_recv = lambda size: recv(max(size, READ_AHEAD))


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
