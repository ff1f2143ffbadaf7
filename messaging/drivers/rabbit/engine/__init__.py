"""The frame engine: how the rabbit driver's AMQP connections are made, and
how the frames of its hot path (publishes, acks and rejects, deliveries,
publisher confirms) are written and read.

The rest of the driver reaches frames through :class:`FrameEngine` only:
``link.Link`` holds the engine its ``rabbit_frame_engine`` option names
(``Link.engine``) and its parts call that. Two engines implement it, each a
module whose functions are the interface:

- ``lean`` (lean.py, the default): our own frame encoding (frames.py) and
  reading (frame_reader.py) in a py-amqp connection of ours (amqp_link.py);
- ``stock`` (stock.py): py-amqp's and kombu's own path, unchanged.

Consumers are started with the channel's ``basic_consume`` on either
engine: the lean engine's channel registers them with its dispatch itself.
Everything else (declarations, cancels, heartbeats, the blocked
notifications, mandatory returns) is py-amqp's on both.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Optional, Protocol

import amqp
import kombu

from messaging.drivers.rabbit.engine import lean, stock

#: The engines by their ``rabbit_frame_engine`` name.
ENGINES: dict[str, ModuleType] = {lean.NAME: lean, stock.NAME: stock}


class FrameEngine(Protocol):
    """What the driver asks of a frame engine (a module of this package)."""

    NAME: str

    def kombu_connection(self, urls: list[str], **kwargs: Any) -> kombu.Connection:
        """A kombu connection to ``urls`` (failover order) whose transport
        is py-amqp's for every URL; ``kwargs`` as ``kombu.Connection``'s."""

    def encode_properties(self, properties: Any) -> Any:
        """A message's properties (py-amqp's names; None = absent) in the
        form ``publish`` takes, made once per message, not per retry."""

    def publish(self, channel: amqp.Channel, exchange: str, routing_key: str, body: bytes,
                properties: Any, mandatory: bool = False) -> None:
        """Write a basic.publish of ``body`` on ``channel``, with the errors
        of py-amqp's ``basic_publish`` (``RecoverableConnectionError`` for a
        closed channel or a write timeout, ``OSError``)."""

    def ack(self, channel: amqp.Channel, delivery_tag: int) -> None:
        """Ack one delivery received on ``channel``."""

    def reject(self, channel: amqp.Channel, delivery_tag: int, requeue: bool) -> None:
        """Reject one delivery received on ``channel``."""

    def register_confirms(self, channel: amqp.Channel, on_ack: Callable[[int, bool], Any],
                          on_nack: Callable[[int, bool], Any]) -> None:
        """Have the broker's publisher confirms on ``channel`` handled by
        ``on_ack``/``on_nack(delivery_tag, multiple)``, before
        ``confirm_select``."""

    def has_buffered_frame(self, connection: amqp.Connection) -> Optional[bool]:
        """Whether a whole frame is read from the socket but not handled
        yet (a wait on the socket would miss it); None: unknown."""

    def set_socket_timeout(self, connection: amqp.Connection,
                           timeout: Optional[float]) -> None:
        """Give the connection's socket this timeout for the reads and
        writes to come (``blocking_read(None)`` keeps it)."""


def engine_named(name: str) -> FrameEngine:
    """The engine of that ``rabbit_frame_engine`` name.

    :raises ValueError: no engine has that name.
    """
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError('no frame engine %r (rabbit_frame_engine is one of %s)'
                         % (name, ', '.join(sorted(ENGINES)))) from None
