"""The stock frame engine (``rabbit_frame_engine = stock``): py-amqp's and
kombu's own path for every frame, through their public methods only.

kombu's py-amqp transport with py-amqp's ``Connection``, ``Channel`` and
transports, unchanged: ``Channel.basic_publish`` of an ``amqp.Message``,
``basic_ack``/``basic_reject``, py-amqp's frame reading and method
dispatch, and publisher confirms heard through the channel's
``events['basic_ack']``/``events['basic_nack']`` callbacks. For ruling out
our frame code, or for a py-amqp release it was not tested with; it costs
about twice the client CPU per message of the lean engine.

What differs from the lean engine:

- ``has_buffered_frame`` answers None (unknown): py-amqp's receive buffer
  is not visible, so the I/O thread reads on briefly after each burst
  (reader.HIDDEN_BUFFER_WAIT), as it does over TLS with either engine;
- frames py-amqp writes itself while reading (the close-ok it answers when
  the broker closes a channel or the connection) are not serialised with
  acks other threads write at that moment; the lean engine's frame writer
  holds one lock for both. Both happen only as that channel or connection
  goes away.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import amqp

from messaging.drivers.rabbit.engine.connection_state import open_channel, set_socket_timeout
from messaging.drivers.rabbit.engine.kombu_connection import PinnedKombuConnection

NAME = 'stock'

__all__ = ['NAME', 'ack', 'encode_properties', 'has_buffered_frame', 'kombu_connection',
           'publish', 'register_confirms', 'reject', 'set_socket_timeout']


def kombu_connection(urls: list[str], **kwargs: Any) -> PinnedKombuConnection:
    """A kombu connection to ``urls`` (in failover order) on kombu's py-amqp
    transport; ``kwargs`` as ``kombu.Connection``'s."""
    return PinnedKombuConnection(urls, **kwargs)


def encode_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The properties of a message as ``amqp.Message`` takes them: those
    that are None left out."""
    return {name: value for name, value in properties.items() if value is not None}


def publish(channel: amqp.Channel, exchange: str, routing_key: str, body: bytes,
            properties: dict[str, Any], mandatory: bool = False) -> None:
    """Publish ``body`` with py-amqp's ``Channel.basic_publish``.

    :param properties: from :func:`encode_properties`.
    :raises RecoverableConnectionError: the channel is closed
        (``basic_publish: connection closed``) or the socket timed out
        (``basic_publish: timed out``).
    :raises OSError: any other socket error.
    """
    channel.basic_publish(amqp.Message(body, **properties), exchange, routing_key,
                          mandatory)


def ack(channel: amqp.Channel, delivery_tag: int) -> None:
    """Ack one delivery received on ``channel`` (``basic_ack``).

    :raises RecoverableConnectionError: the channel is closed.
    :raises OSError: a socket error.
    """
    open_channel(channel, 'connection already closed')
    channel.basic_ack(delivery_tag)


def reject(channel: amqp.Channel, delivery_tag: int, requeue: bool) -> None:
    """Reject one delivery received on ``channel`` (``basic_reject``).

    :raises RecoverableConnectionError: the channel is closed.
    :raises OSError: a socket error.
    """
    open_channel(channel, 'connection already closed')
    channel.basic_reject(delivery_tag, requeue)


def register_confirms(channel: amqp.Channel, on_ack: Callable[[int, bool], Any],
                      on_nack: Callable[[int, bool], Any]) -> None:
    """Have the broker's ``basic.ack``/``basic.nack`` on ``channel`` handled
    by ``on_ack``/``on_nack(delivery_tag, multiple)``, through py-amqp's
    channel events (cleared with the channel)."""
    channel.events['basic_ack'].add(on_ack)
    channel.events['basic_nack'].add(on_nack)


def has_buffered_frame(connection: amqp.Connection) -> Optional[bool]:
    """None: py-amqp's receive buffer is not visible (see the module's
    docstring)."""
    return None
